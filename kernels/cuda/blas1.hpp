#pragma once
// CUDA twin of cpu/blas1.hpp: scale and axpy. Same names and math as the CPU
// reference, device pointers, queued on `stream` (asynchronous: a bad launch
// throws CudaError at once, an execution error surfaces at the next
// synchronisation). Not thread-safe per stream. Checked against the CPU twin
// in cuda_kernels.test.cpp.
#include <cuda_runtime_api.h>

#include <cstdint>

namespace troupe::kernels::cuda {

/// CUDA twin of cpu::scale (device pointers; queued on stream).
void scale(float* x, int64_t n, float alpha, cudaStream_t stream);
/// CUDA twin of cpu::axpy (device pointers; queued on stream).
void axpy(int64_t n, float alpha, const float* x, float* y, cudaStream_t stream);

}  // namespace troupe::kernels::cuda
