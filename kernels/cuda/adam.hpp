#pragma once
// CUDA twin of cpu/adam.hpp: the fused Adam update. Same names and math as the CPU
// reference, device pointers, queued on `stream` (asynchronous: a bad launch
// throws CudaError at once, an execution error surfaces at the next
// synchronisation). Not thread-safe per stream. Checked against the CPU twin
// in cuda_kernels.test.cpp.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/adam_hyper.hpp"

namespace troupe::kernels::cuda {

/// CUDA twin of cpu::adam_update (device pointers; queued on stream).
void adam_update(float* param, const float* grad, float* m, float* v, int64_t n, const AdamHyper& h, int64_t t,
                 cudaStream_t stream);

}  // namespace troupe::kernels::cuda
