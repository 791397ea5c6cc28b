#pragma once
// The fused Adam update kernel (torch.optim.Adam semantics). The optimizer
// object that owns the moments is kernels/adam.hpp.
#include <cstdint>

#include "kernels/adam_hyper.hpp"

namespace troupe::kernels::cpu {

/// One Adam step t >= 1 over n elements, exactly as torch.optim.Adam (1.13,
/// single-tensor path): g' = g + wd p; m = b1 m + (1 - b1) g'; v = b2 v + (1 - b2) g'^2;
/// p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
/// Note eps is added AFTER dividing sqrt(v) by sqrt(1 - b2^t), as torch does.
/// Thread-safe for distinct param/m/v ranges.
void adam_update(float* param, const float* grad, float* m, float* v, int64_t n, const AdamHyper& h, int64_t t);

}  // namespace troupe::kernels::cpu
