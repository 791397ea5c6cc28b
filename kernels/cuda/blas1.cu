// CUDA twins of cpu/blas1.cpp.
#include "kernels/cuda/check.hpp"
#include "kernels/cuda/blas1.hpp"
#include "kernels/cuda/launch.cuh"

namespace troupe::kernels::cuda {

namespace {

__global__ void scale_kernel(float* x, int64_t n, float alpha) {
  TROUPE_GRID_STRIDE(k, n) { x[k] *= alpha; }
}

__global__ void axpy_kernel(int64_t n, float alpha, const float* x, float* y) {
  TROUPE_GRID_STRIDE(k, n) { y[k] = __fadd_rn(y[k], __fmul_rn(alpha, x[k])); }
}

}  // namespace

void scale(float* x, int64_t n, float alpha, cudaStream_t stream) {
  if (n == 0) return;
  scale_kernel<<<grid_for(n), kBlock, 0, stream>>>(x, n, alpha);
  TROUPE_CUDA_CHECK_LAUNCH("scale_kernel");
}

void axpy(int64_t n, float alpha, const float* x, float* y, cudaStream_t stream) {
  if (n == 0) return;
  axpy_kernel<<<grid_for(n), kBlock, 0, stream>>>(n, alpha, x, y);
  TROUPE_CUDA_CHECK_LAUNCH("axpy_kernel");
}

}  // namespace troupe::kernels::cuda
