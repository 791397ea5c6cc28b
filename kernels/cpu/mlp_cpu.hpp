#pragma once
// The MLP on the CPU backend: oneDNN GEMMs plus the vectorised loops of this
// folder. The reference the CUDA model is checked against.
#include <vector>

#include "kernels/mlp.hpp"

namespace troupe::kernels::cpu {

/// CPU MLP. Not thread-safe (owns scratch buffers); one per thread.
class CpuMlp final : public Mlp {
 public:
  /// threads: OpenMP threads used by every call (set on the calling thread).
  CpuMlp(const MlpSpec& spec, int threads);

  [[nodiscard]] Backend backend() const override { return Backend::cpu; }
  void forward(std::span<const float> params, const float* x, int64_t n, float* logits) override;
  BatchStats forward_backward(std::span<const float> params, const float* x, const int32_t* labels, int64_t n,
                              std::span<float> grad, const GradReadyFn& on_ready = {}) override;
  BatchStats evaluate(std::span<const float> params, const float* x, const int32_t* labels, int64_t n) override;

 private:
  void reserve(int64_t n);
  void forward_layers(const float* params, const float* x, int64_t n);
  // loss and correct count of the logits in acts_.back(); fills targets_ for BCE
  BatchStats loss_stats(const int32_t* labels, int64_t n);
  void fill_targets(const int32_t* labels, int64_t n);

  int threads_;
  int64_t capacity_ = 0;                 // rows the buffers hold
  std::vector<std::vector<float>> acts_;  // per layer: post-activation output [capacity, out]
  std::vector<float> delta_a_, delta_b_;  // backward ping-pong [capacity, max_width]
  std::vector<float> losses_;             // [capacity * outputs]
  std::vector<float> targets_;            // BCE targets [capacity, outputs]
};

}  // namespace troupe::kernels::cpu
