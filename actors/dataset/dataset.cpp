#include "actors/dataset/dataset.hpp"

#include <cstdio>
#include <cstring>

#include "actors/dataset/idx_reader.hpp"
#include "actors/dataset/npy_reader.hpp"

namespace troupe::dataset {

namespace {

// NPY files start with "\x93NUMPY"; anything else is treated as IDX (plain
// or gzip), whose reader reports a bad magic clearly.
bool is_npy(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;  // the IDX reader reports the open error with the path
  char magic[6] = {};
  const bool npy = std::fread(magic, 1, 6, f) == 6 && std::memcmp(magic, "\x93NUMPY", 6) == 0;
  std::fclose(f);
  return npy;
}

}  // namespace

Result<Images> read_images(const std::string& path) {
  return is_npy(path) ? read_npy_images(path) : read_idx_images(path);
}

Result<Labels> read_labels(const std::string& path) {
  return is_npy(path) ? read_npy_labels(path) : read_idx_labels(path);
}

Result<Dataset> load_dataset(const std::string& images_path, const std::string& labels_path) {
  auto images = read_images(images_path);
  if (!images) return images.error();
  auto labels = read_labels(labels_path);
  if (!labels) return labels.error();
  if (static_cast<int64_t>(labels->size()) != images->count)
    return Error{Errc::io_error, images_path + " has " + std::to_string(images->count) + " images but " + labels_path +
                                     " has " + std::to_string(labels->size()) + " labels"};
  return Dataset{std::move(*images), std::move(*labels)};
}

Result<Dataset> load_fashion_mnist(const std::string& dir, const std::string& split) {
  if (split != "train" && split != "t10k")
    return Error{Errc::invalid_argument, "Fashion-MNIST split must be 'train' or 't10k', got '" + split + "'"};
  return load_dataset(dir + "/" + split + "-images-idx3-ubyte.gz", dir + "/" + split + "-labels-idx1-ubyte.gz");
}

}  // namespace troupe::dataset
