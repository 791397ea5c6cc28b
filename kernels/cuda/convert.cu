// CUDA twins of cpu/convert.cpp, sharing the scalar bit conversions.
#include "kernels/cuda/check.hpp"
#include "kernels/cuda/convert.hpp"
#include "kernels/cuda/launch.cuh"
#include "kernels/float16_bits.hpp"

namespace troupe::kernels::cuda {

namespace {

__global__ void f32_to_bf16_kernel(const float* src, uint16_t* dst, int64_t n) {
  TROUPE_GRID_STRIDE(k, n) { dst[k] = bits::f32_to_bf16(src[k]); }
}
__global__ void bf16_to_f32_kernel(const uint16_t* src, float* dst, int64_t n) {
  TROUPE_GRID_STRIDE(k, n) { dst[k] = bits::bf16_to_f32(src[k]); }
}
__global__ void f32_to_f16_kernel(const float* src, uint16_t* dst, int64_t n) {
  TROUPE_GRID_STRIDE(k, n) { dst[k] = bits::f32_to_f16(src[k]); }
}
__global__ void f16_to_f32_kernel(const uint16_t* src, float* dst, int64_t n) {
  TROUPE_GRID_STRIDE(k, n) { dst[k] = bits::f16_to_f32(src[k]); }
}

}  // namespace

void f32_to_bf16(const float* src, uint16_t* dst, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  f32_to_bf16_kernel<<<grid_for(n), kBlock, 0, stream>>>(src, dst, n);
  TROUPE_CUDA_CHECK_LAUNCH("f32_to_bf16_kernel");
}
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  bf16_to_f32_kernel<<<grid_for(n), kBlock, 0, stream>>>(src, dst, n);
  TROUPE_CUDA_CHECK_LAUNCH("bf16_to_f32_kernel");
}
void f32_to_f16(const float* src, uint16_t* dst, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  f32_to_f16_kernel<<<grid_for(n), kBlock, 0, stream>>>(src, dst, n);
  TROUPE_CUDA_CHECK_LAUNCH("f32_to_f16_kernel");
}
void f16_to_f32(const uint16_t* src, float* dst, int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  f16_to_f32_kernel<<<grid_for(n), kBlock, 0, stream>>>(src, dst, n);
  TROUPE_CUDA_CHECK_LAUNCH("f16_to_f32_kernel");
}

}  // namespace troupe::kernels::cuda
