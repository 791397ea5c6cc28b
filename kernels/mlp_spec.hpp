#pragma once
// What an MLP is: layer sizes, activation per layer, loss; and where each
// layer's parameters live in the ONE flat parameter vector. The distributed
// trainer and the aggregator shards agree on this layout and slice the flat
// vector by contiguous ranges.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kernels/types.hpp"

namespace troupe::kernels {

/// An MLP description. Plain value; safe to copy and share once built.
struct MlpSpec {
  std::vector<int64_t> sizes;            ///< {in, hidden..., out}, e.g. {784, 256, 128, 10}
  std::vector<Activation> activations;   ///< one per layer (sizes.size() - 1); the last must be identity
  LossKind loss = LossKind::softmax_ce;  ///< applied to the last layer's logits

  /// The usual shape: `activation` on every hidden layer, identity on the last.
  static MlpSpec make(std::vector<int64_t> sizes, Activation hidden = Activation::relu,
                      LossKind loss = LossKind::softmax_ce);
  /// Parses "784-256-128-10" (sizes joined by '-' or ','); nothing when malformed.
  static std::optional<MlpSpec> parse(const std::string& sizes, Activation hidden = Activation::relu,
                                      LossKind loss = LossKind::softmax_ce);

  /// Empty when the spec is usable, else what is wrong with it.
  [[nodiscard]] std::string check() const;
  [[nodiscard]] int64_t layers() const { return static_cast<int64_t>(sizes.size()) - 1; }
  [[nodiscard]] int64_t inputs() const { return sizes.front(); }
  [[nodiscard]] int64_t outputs() const { return sizes.back(); }
  /// "784-256-128-10 relu softmax_ce".
  [[nodiscard]] std::string to_string() const;
};

/// Where one layer's parameters sit in the flat vector. W is [out, in]
/// (torch.nn.Linear's layout) at [w_offset, w_offset + out*in), immediately
/// followed by b [out]: a layer is one contiguous range [begin(), end()).
struct LayerView {
  int64_t in = 0;
  int64_t out = 0;
  Activation act = Activation::identity;
  int64_t w_offset = 0;
  int64_t b_offset = 0;
  [[nodiscard]] int64_t w_size() const { return in * out; }
  [[nodiscard]] int64_t b_size() const { return out; }
  [[nodiscard]] int64_t begin() const { return w_offset; }
  [[nodiscard]] int64_t end() const { return b_offset + out; }
};

/// The flat layout of a spec: [W0, b0, W1, b1, ...]. Immutable; thread-safe.
class ParamLayout {
 public:
  /// Throws std::invalid_argument when spec.check() is not empty.
  explicit ParamLayout(const MlpSpec& spec);
  [[nodiscard]] const std::vector<LayerView>& layers() const { return layers_; }
  [[nodiscard]] const LayerView& layer(std::size_t i) const { return layers_.at(i); }
  [[nodiscard]] int64_t num_params() const { return num_params_; }
  /// Widest layer (inputs included): sizes scratch buffers.
  [[nodiscard]] int64_t max_width() const { return max_width_; }

 private:
  std::vector<LayerView> layers_;
  int64_t num_params_ = 0;
  int64_t max_width_ = 0;
};

/// Deterministic initialisation given a seed (same bits on every machine):
/// weights uniform in +-sqrt(6 / fan_in) (He) before ReLU, +-sqrt(6 / (fan_in +
/// fan_out)) (Glorot) before sigmoid, tanh and identity; biases zero.
/// params.size() must equal the layout's num_params(). Thread-safe for distinct params.
void init_params(const MlpSpec& spec, std::span<float> params, uint64_t seed);

}  // namespace troupe::kernels
