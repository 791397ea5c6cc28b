#pragma once
// CUDA twin of cpu/convert.hpp: fp32 <-> bf16/fp16 conversion. Same names and math as the CPU
// reference, device pointers, queued on `stream` (asynchronous: a bad launch
// throws CudaError at once, an execution error surfaces at the next
// synchronisation). Not thread-safe per stream. Checked against the CPU twin
// in cuda_kernels.test.cpp.
#include <cuda_runtime_api.h>

#include <cstdint>

namespace troupe::kernels::cuda {

/// CUDA twin of cpu::f32_to_bf16 (device pointers; queued on stream).
void f32_to_bf16(const float* src, uint16_t* dst, int64_t n, cudaStream_t stream);
/// CUDA twin of cpu::bf16_to_f32 (device pointers; queued on stream).
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n, cudaStream_t stream);
/// CUDA twin of cpu::f32_to_f16 (device pointers; queued on stream).
void f32_to_f16(const float* src, uint16_t* dst, int64_t n, cudaStream_t stream);
/// CUDA twin of cpu::f16_to_f32 (device pointers; queued on stream).
void f16_to_f32(const uint16_t* src, float* dst, int64_t n, cudaStream_t stream);

}  // namespace troupe::kernels::cuda
