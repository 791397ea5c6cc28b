#pragma once
// What the readers return: images as float rows in [0, 1], labels as int32.
#include <cstdint>
#include <string>
#include <vector>

namespace troupe::dataset {

/// count images of dim values each, row-major [count, dim], in [0, 1] when
/// read from uint8 data (divided by 255), as stored when read from float32.
/// Plain value; safe to share read-only between threads.
struct Images {
  std::vector<float> pixels;
  int64_t count = 0;
  int64_t dim = 0;
  std::vector<int64_t> shape;  ///< the stored shape, e.g. {60000, 28, 28}
  [[nodiscard]] const float* row(int64_t i) const { return pixels.data() + i * dim; }
};

/// Labels, one int32 per sample.
using Labels = std::vector<int32_t>;

}  // namespace troupe::dataset
