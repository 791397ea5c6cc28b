// CUDA twins of cpu/activation.cpp (backward from the forward output y).
#include "kernels/cuda/check.hpp"
#include "kernels/cuda/activation.hpp"
#include "kernels/cuda/launch.cuh"

namespace troupe::kernels::cuda {

namespace {

__global__ void activation_forward_kernel(Activation act, const float* x, float* y, int64_t count) {
  TROUPE_GRID_STRIDE(k, count) {
    const float z = x[k];
    y[k] = act == Activation::relu      ? (z > 0.0f ? z : 0.0f)
           : act == Activation::sigmoid ? 1.0f / (1.0f + expf(-z))
           : act == Activation::tanh    ? tanhf(z)
                                        : z;
  }
}

__global__ void activation_backward_kernel(Activation act, const float* y, const float* dy, float* dx,
                                           int64_t count) {
  TROUPE_GRID_STRIDE(k, count) {
    const float o = y[k];
    dx[k] = act == Activation::relu      ? (o > 0.0f ? dy[k] : 0.0f)
            : act == Activation::sigmoid ? dy[k] * o * (1.0f - o)
            : act == Activation::tanh    ? dy[k] * (1.0f - o * o)
                                         : dy[k];
  }
}

}  // namespace

void activation_forward(Activation act, const float* x, float* y, int64_t count, cudaStream_t stream) {
  if (count == 0) return;
  activation_forward_kernel<<<grid_for(count), kBlock, 0, stream>>>(act, x, y, count);
  TROUPE_CUDA_CHECK_LAUNCH("activation_forward_kernel");
}

void activation_backward(Activation act, const float* y, const float* dy, float* dx, int64_t count,
                         cudaStream_t stream) {
  if (count == 0) return;
  activation_backward_kernel<<<grid_for(count), kBlock, 0, stream>>>(act, y, dy, dx, count);
  TROUPE_CUDA_CHECK_LAUNCH("activation_backward_kernel");
}

}  // namespace troupe::kernels::cuda
