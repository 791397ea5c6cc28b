#include "actors/dataset/dataset.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "actors/dataset/idx_reader.hpp"
#include "actors/dataset/npy_reader.hpp"

namespace troupe::dataset {

namespace {

// NPY files start with "\x93NUMPY"; anything else is treated as IDX (plain
// or gzip), whose reader reports a bad magic clearly. Only a regular file is
// peeked at (opening a FIFO must not block); the reader refuses the others.
bool is_npy(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return false;  // the IDX reader reports the open error with the path
  struct stat st {};
  char magic[6] = {};
  const bool npy = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ::read(fd, magic, 6) == 6 &&
                   std::memcmp(magic, "\x93NUMPY", 6) == 0;
  ::close(fd);
  return npy;
}

}  // namespace

Result<Images> read_images(const std::string& path) {
  return is_npy(path) ? read_npy_images(path) : read_idx_images(path);
}

Result<Labels> read_labels(const std::string& path) {
  return is_npy(path) ? read_npy_labels(path) : read_idx_labels(path);
}

Result<std::vector<int64_t>> probe_images(const std::string& path) {
  return is_npy(path) ? probe_npy_images(path) : probe_idx_images(path);
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
