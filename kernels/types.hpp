#pragma once
// Small vocabulary shared by both kernel backends and the model: transposes,
// activations, losses, backends. Header-only, no state: safe from any thread.
#include <optional>
#include <string_view>

namespace troupe::kernels {

/// Whether a GEMM operand is used as stored or transposed (row-major storage).
enum class Trans : bool { no = false, yes = true };

/// Elementwise activation applied after a layer's affine map.
enum class Activation { identity, relu, sigmoid, tanh };

/// Loss on the last layer's logits.
enum class LossKind {
  softmax_ce,   ///< softmax cross-entropy over classes; labels are class indices
  sigmoid_bce,  ///< binary cross-entropy on sigmoid(logits), mean over outputs
};

/// Where the math runs.
enum class Backend { cpu, cuda };

/// "identity", "relu", "sigmoid", "tanh".
constexpr std::string_view activation_name(Activation a) {
  switch (a) {
    case Activation::identity: return "identity";
    case Activation::relu: return "relu";
    case Activation::sigmoid: return "sigmoid";
    case Activation::tanh: return "tanh";
  }
  return "?";
}

/// The activation of a name, or nothing when unknown.
constexpr std::optional<Activation> activation_from_name(std::string_view s) {
  if (s == "identity" || s == "linear" || s == "none") return Activation::identity;
  if (s == "relu") return Activation::relu;
  if (s == "sigmoid") return Activation::sigmoid;
  if (s == "tanh") return Activation::tanh;
  return std::nullopt;
}

/// "softmax_ce" or "sigmoid_bce".
constexpr std::string_view loss_name(LossKind l) {
  return l == LossKind::softmax_ce ? "softmax_ce" : "sigmoid_bce";
}

/// The loss of a name ("softmax_ce", "sigmoid_bce"), or nothing.
constexpr std::optional<LossKind> loss_from_name(std::string_view s) {
  if (s == "softmax_ce" || s == "cross_entropy") return LossKind::softmax_ce;
  if (s == "sigmoid_bce" || s == "bce") return LossKind::sigmoid_bce;
  return std::nullopt;
}

/// "cpu" or "cuda".
constexpr std::string_view backend_name(Backend b) { return b == Backend::cpu ? "cpu" : "cuda"; }

}  // namespace troupe::kernels
