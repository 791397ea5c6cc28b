#pragma once
// The model: an MLP's forward, backward and evaluation on one backend. The
// parameters are not owned here: every call takes the flat parameter vector
// (layout: kernels/mlp_spec.hpp), so a trainer can run on whatever weights the
// aggregator last sent. Buffers for activations are kept per object and grow
// to the largest batch seen; no allocation per step after that.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "kernels/mlp_spec.hpp"
#include "kernels/types.hpp"

namespace troupe::kernels {

/// What one batch contributed: the aggregator weights by `samples`.
struct BatchStats {
  double loss_sum = 0.0;  ///< sum over samples of the per-sample loss
  int64_t samples = 0;
  int64_t correct = 0;    ///< samples whose prediction equals the label
  [[nodiscard]] double mean_loss() const { return samples ? loss_sum / static_cast<double>(samples) : 0.0; }
  [[nodiscard]] double accuracy() const {
    return samples ? static_cast<double>(correct) / static_cast<double>(samples) : 0.0;
  }
  BatchStats& operator+=(const BatchStats& o) {
    loss_sum += o.loss_sum;
    samples += o.samples;
    correct += o.correct;
    return *this;
  }
};

/// Called by backward as soon as grad[offset, offset + count) is final (one
/// layer's W and b), last layer first, on the thread that runs backward. For
/// overlapping gradient communication with the rest of backward (DDP buckets).
using GradReadyFn = std::function<void(int64_t offset, int64_t count)>;

/// Choices for make_mlp.
struct MlpOptions {
  Backend backend = Backend::cpu;  ///< cuda falls back to cpu with one log line when no GPU is usable
  int cpu_threads = 1;             ///< OpenMP threads for the CPU backend
  int cuda_device = 0;             ///< device index for the CUDA backend
  bool cuda_tf32 = false;          ///< allow TF32 tensor-core GEMMs (fp32 accumulation) on CUDA
};

/// An MLP bound to a backend. Not thread-safe: one object per thread (it owns
/// scratch buffers). Inputs and outputs are host (CPU) memory on every backend.
class Mlp {
 public:
  virtual ~Mlp() = default;
  Mlp(const Mlp&) = delete;
  Mlp& operator=(const Mlp&) = delete;

  [[nodiscard]] const MlpSpec& spec() const { return spec_; }
  [[nodiscard]] const ParamLayout& layout() const { return layout_; }
  [[nodiscard]] int64_t num_params() const { return layout_.num_params(); }
  [[nodiscard]] virtual Backend backend() const = 0;

  /// logits [n, outputs] of inputs x [n, inputs] (row-major).
  virtual void forward(std::span<const float> params, const float* x, int64_t n, float* logits) = 0;

  /// Forward and backward on one batch: grad (num_params, same layout) is
  /// overwritten with d(mean loss over the n samples)/d(params); on_ready (may
  /// be empty) hears of each layer's range as soon as it is final. labels are
  /// class indices in [0, outputs) (softmax_ce; for sigmoid_bce a one-hot
  /// target of the label, or the label itself when outputs == 1).
  /// Throws std::invalid_argument on a label out of range or wrong span sizes.
  virtual BatchStats forward_backward(std::span<const float> params, const float* x, const int32_t* labels, int64_t n,
                                      std::span<float> grad, const GradReadyFn& on_ready = {}) = 0;

  /// Loss and accuracy over n samples (any n: processed in chunks).
  virtual BatchStats evaluate(std::span<const float> params, const float* x, const int32_t* labels, int64_t n) = 0;

 protected:
  explicit Mlp(const MlpSpec& spec) : spec_(spec), layout_(spec) {}
  void check_sizes(std::span<const float> params, const std::span<float>* grad, const int32_t* labels,
                   int64_t n) const;

 private:
  MlpSpec spec_;
  ParamLayout layout_;
};

/// An MLP on options.backend, or on the CPU when CUDA was asked for and is not
/// usable or the CUDA model cannot be set up (one line on stderr says why).
/// Throws std::invalid_argument on a bad spec. Thread-safe.
std::unique_ptr<Mlp> make_mlp(const MlpSpec& spec, const MlpOptions& options = {});

}  // namespace troupe::kernels
