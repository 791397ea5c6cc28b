#pragma once
// CUDA twin of cpu/activation.hpp: activations (backward from the forward output y). Same names and math as the CPU
// reference, device pointers, queued on `stream` (asynchronous: a bad launch
// throws CudaError at once, an execution error surfaces at the next
// synchronisation). Not thread-safe per stream. Checked against the CPU twin
// in cuda_kernels.test.cpp.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/types.hpp"

namespace troupe::kernels::cuda {

/// CUDA twin of cpu::activation_forward (device pointers; queued on stream).
void activation_forward(Activation act, const float* x, float* y, int64_t count, cudaStream_t stream);
/// CUDA twin of cpu::activation_backward (device pointers; queued on stream).
void activation_backward(Activation act, const float* y, const float* dy, float* dx, int64_t count,
                         cudaStream_t stream);

}  // namespace troupe::kernels::cuda
