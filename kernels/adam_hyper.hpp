#pragma once
// Adam hyper-parameters and the per-step scalars, shared by the CPU and CUDA
// kernels and by the optimizer object (kernels/adam.hpp).
#include <cmath>
#include <cstdint>

namespace troupe::kernels {

/// Adam hyper-parameters, defaults as torch.optim.Adam.
struct AdamHyper {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;  ///< L2 term added to the gradient (torch Adam, not AdamW)
};

/// Scalars of step t shared by every element.
struct AdamStepScalars {
  float step_size;              ///< lr / (1 - beta1^t)
  float bias_correction2_sqrt;  ///< sqrt(1 - beta2^t)
};

/// The per-step scalars for step t >= 1, computed in double as torch computes
/// them in Python floats, then rounded once. Thread-safe.
inline AdamStepScalars adam_step_scalars(const AdamHyper& h, int64_t t) {
  const double bc1 = 1.0 - std::pow(static_cast<double>(h.beta1), static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(static_cast<double>(h.beta2), static_cast<double>(t));
  return {static_cast<float>(static_cast<double>(h.lr) / bc1), static_cast<float>(std::sqrt(bc2))};
}

/// The learning-rate schedule, written once: linear decay from lr at progress
/// 0 to lr * lr_final at progress 1 (progress clamped to [0, 1]); lr_final 1:
/// constant. Used by the aggregator shards (actors/training/job.hpp
/// scheduled_lr) and the single-process example. Thread-safe.
inline float linear_decay_lr(float lr, float lr_final, double progress) {
  if (lr_final == 1.0f) return lr;
  progress = progress < 0.0 ? 0.0 : progress > 1.0 ? 1.0 : progress;
  return static_cast<float>(lr * (1.0 - (1.0 - lr_final) * progress));
}

}  // namespace troupe::kernels
