#pragma once
// CUDA twin of cpu/bias.hpp: bias add and its gradient. Same names and math as the CPU
// reference, device pointers, queued on `stream` (asynchronous: a bad launch
// throws CudaError at once, an execution error surfaces at the next
// synchronisation). Not thread-safe per stream. Checked against the CPU twin
// in cuda_kernels.test.cpp.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/types.hpp"

namespace troupe::kernels::cuda {

/// CUDA twin of cpu::bias_add (device pointers; queued on stream).
void bias_add(float* y, const float* b, int64_t n, int64_t d, cudaStream_t stream);
/// CUDA twin of cpu::bias_act_forward (device pointers; queued on stream).
void bias_act_forward(float* y, const float* b, int64_t n, int64_t d, Activation act, cudaStream_t stream);
/// CUDA twin of cpu::bias_backward (device pointers; queued on stream).
void bias_backward(float* db, const float* dy, int64_t n, int64_t d, cudaStream_t stream);

}  // namespace troupe::kernels::cuda
