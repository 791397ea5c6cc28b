// CUDA twin of cpu/adam.cpp: the same operation order per element.
#include "kernels/cuda/check.hpp"
#include "kernels/cuda/adam.hpp"
#include "kernels/cuda/launch.cuh"

namespace troupe::kernels::cuda {

namespace {

__global__ void adam_update_kernel(float* param, const float* grad, float* m, float* v, int64_t n, float b1,
                                   float b2, float eps, float wd, float step_size, float bc2_sqrt) {
  TROUPE_GRID_STRIDE(k, n) {
    // __fmul_rn/__fadd_rn keep nvcc from contracting into FMAs, so the result
    // rounds like the CPU reference (and torch's CPU path).
    const float g = __fadd_rn(grad[k], __fmul_rn(wd, param[k]));
    const float mk = __fadd_rn(__fmul_rn(m[k], b1), __fmul_rn(1.0f - b1, g));
    const float vk = __fadd_rn(__fmul_rn(v[k], b2), __fmul_rn(__fmul_rn(1.0f - b2, g), g));
    m[k] = mk;
    v[k] = vk;
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vk), bc2_sqrt), eps);
    param[k] = __fsub_rn(param[k], __fmul_rn(step_size, __fdiv_rn(mk, denom)));
  }
}

}  // namespace

void adam_update(float* param, const float* grad, float* m, float* v, int64_t n, const AdamHyper& h, int64_t t,
                 cudaStream_t stream) {
  if (n == 0) return;
  const AdamStepScalars s = adam_step_scalars(h, t);
  adam_update_kernel<<<grid_for(n), kBlock, 0, stream>>>(param, grad, m, v, n, h.beta1, h.beta2, h.eps,
                                                          h.weight_decay, s.step_size, s.bias_correction2_sqrt);
  TROUPE_CUDA_CHECK_LAUNCH("adam_update_kernel");
}

}  // namespace troupe::kernels::cuda
