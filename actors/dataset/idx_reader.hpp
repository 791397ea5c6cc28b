#pragma once
// IDX files (the MNIST format, http://yann.lecun.com/exdb/mnist/): a big-endian
// header {0, 0, type, ndims, dims[ndims] as uint32} and then the data. Plain
// or gzip-compressed. The header is checked against the file's size and the
// memory the data needs before anything is allocated; gzip is inflated only as
// far as the header says (actors/dataset/data_file.hpp).
#include <cstdint>
#include <string>
#include <vector>

#include "actors/dataset/images.hpp"
#include "runtime/error.hpp"

namespace troupe::dataset {

/// Images from an IDX file of uint8 (0x08) or float32 (0x0D) with >= 2 dims:
/// [N, d1, d2...] becomes [N, d1*d2*...]; uint8 is scaled to [0, 1]. Errors
/// (io_error) name the path and say what is wrong: missing file, bad magic,
/// unsupported type, truncated or oversized data. Thread-safe.
Result<Images> read_idx_images(const std::string& path);

/// Labels from a 1-d IDX file of uint8 or int32 (0x0C). Thread-safe.
Result<Labels> read_idx_labels(const std::string& path);
/// The stored shape of an IDX images file, from its header alone, checked as
/// read_idx_images() checks it before it allocates (type, dims, size against
/// the file and memory). Thread-safe.
Result<std::vector<int64_t>> probe_idx_images(const std::string& path);

}  // namespace troupe::dataset
