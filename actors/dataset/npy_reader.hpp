#pragma once
// NPY files (numpy.save, format versions 1-3): magic "\x93NUMPY", a header
// dict {'descr', 'fortran_order', 'shape'}, then the raw data. C order only.
#include <cstdint>
#include <string>
#include <vector>

#include "actors/dataset/images.hpp"
#include "runtime/error.hpp"

namespace troupe::dataset {

/// Images from an NPY array of float32 ('<f4', kept as is) or uint8 ('|u1',
/// scaled to [0, 1]) with >= 2 dims, flattened to [N, rest]. Errors (io_error)
/// name the path: missing file, bad magic, Fortran order, unsupported dtype,
/// truncated data. Thread-safe.
Result<Images> read_npy_images(const std::string& path);

/// Labels from a 1-d NPY array of uint8, int32 or int64. Thread-safe.
Result<Labels> read_npy_labels(const std::string& path);
/// The shape of an NPY images array from its header alone, checked as
/// read_npy_images() checks it before it allocates. Thread-safe.
Result<std::vector<int64_t>> probe_npy_images(const std::string& path);

}  // namespace troupe::dataset
