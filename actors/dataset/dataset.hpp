#pragma once
// A labelled data set loaded from an images file and a labels file, IDX or
// NPY (told apart by their magic bytes).
#include <cstdint>
#include <string>
#include <vector>

#include "actors/dataset/images.hpp"
#include "runtime/error.hpp"

namespace troupe::dataset {

/// Images and one label per image.
struct Dataset {
  Images images;
  Labels labels;
  [[nodiscard]] int64_t size() const { return images.count; }
};

/// Images from an IDX or NPY file (gzip allowed for IDX). Thread-safe.
Result<Images> read_images(const std::string& path);
/// Labels from an IDX or NPY file. Thread-safe.
Result<Labels> read_labels(const std::string& path);
/// The stored shape of an images file, from its header alone (no data is
/// read), with every check the reader makes before it allocates: the same
/// io_error a load would give for a bad header, a lying size or too little
/// memory. Thread-safe.
Result<std::vector<int64_t>> probe_images(const std::string& path);
/// Both, checking that the counts agree. Thread-safe.
Result<Dataset> load_dataset(const std::string& images_path, const std::string& labels_path);

/// Fashion-MNIST as Debian's dataset-fashion-mnist installs it: dir/
/// {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz; split is "train" or "t10k".
Result<Dataset> load_fashion_mnist(const std::string& dir, const std::string& split);

/// Where Debian installs Fashion-MNIST.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

}  // namespace troupe::dataset
