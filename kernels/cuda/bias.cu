// CUDA twins of cpu/bias.cpp.
#include "kernels/cuda/check.hpp"
#include "kernels/cuda/bias.hpp"
#include "kernels/cuda/launch.cuh"

namespace troupe::kernels::cuda {

namespace {

__device__ __forceinline__ float apply(Activation act, float z) {
  switch (act) {
    case Activation::relu: return z > 0.0f ? z : 0.0f;
    case Activation::sigmoid: return 1.0f / (1.0f + expf(-z));
    case Activation::tanh: return tanhf(z);
    case Activation::identity: break;
  }
  return z;
}

// y [n, d] (row-major): y = act(y + b)
__global__ void bias_act_forward_kernel(float* y, const float* b, int64_t n, int64_t d, Activation act) {
  TROUPE_GRID_STRIDE(k, n * d) { y[k] = apply(act, y[k] + b[k % d]); }
}

// db[j] = sum_i dy[i, j]: one thread per column; consecutive threads read
// consecutive columns, so each row's loads are coalesced.
__global__ void bias_backward_kernel(float* db, const float* dy, int64_t n, int64_t d) {
  TROUPE_GRID_STRIDE(j, d) {
    float s = 0.0f;
    for (int64_t i = 0; i < n; ++i) s += dy[i * d + j];
    db[j] = s;
  }
}

}  // namespace

void bias_add(float* y, const float* b, int64_t n, int64_t d, cudaStream_t stream) {
  bias_act_forward(y, b, n, d, Activation::identity, stream);
}

void bias_act_forward(float* y, const float* b, int64_t n, int64_t d, Activation act, cudaStream_t stream) {
  if (n * d == 0) return;
  bias_act_forward_kernel<<<grid_for(n * d), kBlock, 0, stream>>>(y, b, n, d, act);
  TROUPE_CUDA_CHECK_LAUNCH("bias_act_forward_kernel");
}

void bias_backward(float* db, const float* dy, int64_t n, int64_t d, cudaStream_t stream) {
  if (d == 0) return;
  bias_backward_kernel<<<grid_for(d), kBlock, 0, stream>>>(db, dy, n, d);
  TROUPE_CUDA_CHECK_LAUNCH("bias_backward_kernel");
}

}  // namespace troupe::kernels::cuda
