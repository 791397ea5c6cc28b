#pragma once
// Launch geometry shared by the elementwise kernels: grid-stride loops with a
// bounded grid, so any element count works with one launch.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>

namespace troupe::kernels::cuda {

constexpr int kBlock = 256;

/// Blocks for n elements at kBlock threads each (at least 1, at most 65535 * 8).
inline unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  return static_cast<unsigned>(std::clamp<int64_t>(blocks, 1, 65535 * 8));
}

}  // namespace troupe::kernels::cuda

/// for (k = global thread id; k < n; k += grid size)
#define TROUPE_GRID_STRIDE(k, n)                                                    \
  for (int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < (n); \
       k += static_cast<int64_t>(gridDim.x) * blockDim.x)
