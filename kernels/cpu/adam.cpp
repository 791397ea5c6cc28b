#include "kernels/cpu/adam.hpp"

#include <cmath>

#include "kernels/cpu/parallel.hpp"
#include "kernels/cpu/simd.hpp"

namespace troupe::kernels::cpu {

namespace {

TROUPE_SIMD_CLONES void adam_range(float* param, const float* grad, float* m, float* v, int64_t n, float b1,
                                   float b2, float eps, float wd, float step_size, float bc2_sqrt) {
  const float one_minus_b1 = 1.0f - b1;
  const float one_minus_b2 = 1.0f - b2;
  for (int64_t k = 0; k < n; ++k) {
    // Same operation order as torch's single-tensor Adam so results agree to
    // the last bit or two.
    const float g = grad[k] + wd * param[k];
    const float mk = m[k] * b1 + one_minus_b1 * g;
    const float vk = v[k] * b2 + one_minus_b2 * g * g;
    m[k] = mk;
    v[k] = vk;
    const float denom = std::sqrt(vk) / bc2_sqrt + eps;
    param[k] = param[k] - step_size * (mk / denom);
  }
}

}  // namespace

void adam_update(float* param, const float* grad, float* m, float* v, int64_t n, const AdamHyper& h, int64_t t) {
  const AdamStepScalars s = adam_step_scalars(h, t);
  parallel_chunks(n, [&](int64_t b, int64_t e) {
    adam_range(param + b, grad + b, m + b, v + b, e - b, h.beta1, h.beta2, h.eps, h.weight_decay, s.step_size,
               s.bias_correction2_sqrt);
  });
}

}  // namespace troupe::kernels::cpu
