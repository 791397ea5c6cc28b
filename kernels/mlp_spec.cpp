#include "kernels/mlp_spec.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace troupe::kernels {

MlpSpec MlpSpec::make(std::vector<int64_t> sizes, Activation hidden, LossKind loss) {
  MlpSpec s;
  s.sizes = std::move(sizes);
  const std::size_t layers = s.sizes.empty() ? 0 : s.sizes.size() - 1;
  s.activations.assign(layers, hidden);
  if (layers > 0) s.activations.back() = Activation::identity;
  s.loss = loss;
  return s;
}

std::optional<MlpSpec> MlpSpec::parse(const std::string& text, Activation hidden, LossKind loss) {
  std::vector<int64_t> sizes;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t next = text.find_first_of("-,x", pos);
    if (next == std::string::npos) next = text.size();
    const std::string part = text.substr(pos, next - pos);
    if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos || part.size() > 9)
      return std::nullopt;
    sizes.push_back(std::stoll(part));
    pos = next + 1;
  }
  MlpSpec s = make(std::move(sizes), hidden, loss);
  if (!s.check().empty()) return std::nullopt;
  return s;
}

std::string MlpSpec::check() const {
  if (sizes.size() < 2) return "an MLP needs at least two sizes (inputs and outputs)";
  for (int64_t v : sizes)
    if (v <= 0) return "layer sizes must be positive";
  if (activations.size() != sizes.size() - 1)
    return "need one activation per layer (" + std::to_string(sizes.size() - 1) + "), got " +
           std::to_string(activations.size());
  if (activations.back() != Activation::identity)
    return "the last layer must be identity: the loss takes logits";
  if (loss == LossKind::softmax_ce && sizes.back() < 2) return "softmax cross-entropy needs at least 2 outputs";
  return {};
}

std::string MlpSpec::to_string() const {
  std::ostringstream o;
  for (std::size_t i = 0; i < sizes.size(); ++i) o << (i ? "-" : "") << sizes[i];
  if (!activations.empty()) o << ' ' << activation_name(activations.front());
  o << ' ' << loss_name(loss);
  return o.str();
}

ParamLayout::ParamLayout(const MlpSpec& spec) {
  if (const std::string why = spec.check(); !why.empty()) throw std::invalid_argument("MlpSpec: " + why);
  int64_t off = 0;
  max_width_ = spec.sizes.front();
  for (std::size_t l = 0; l + 1 < spec.sizes.size(); ++l) {
    LayerView v;
    v.in = spec.sizes[l];
    v.out = spec.sizes[l + 1];
    v.act = spec.activations[l];
    v.w_offset = off;
    v.b_offset = off + v.w_size();
    off = v.end();
    max_width_ = std::max(max_width_, v.out);
    layers_.push_back(v);
  }
  num_params_ = off;
}

namespace {

// splitmix64: tiny, well mixed, and fully specified (std distributions are
// not bit-identical across standard libraries).
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // uniform in [-1, 1) with 24 random bits
  float symmetric() { return static_cast<float>(static_cast<int64_t>(next() >> 40) - (1 << 23)) * 0x1p-23f; }
};

}  // namespace

void init_params(const MlpSpec& spec, std::span<float> params, uint64_t seed) {
  const ParamLayout layout(spec);
  if (static_cast<int64_t>(params.size()) != layout.num_params())
    throw std::invalid_argument("init_params: params has " + std::to_string(params.size()) + " elements, layout needs " +
                                std::to_string(layout.num_params()));
  SplitMix64 rng{seed};
  for (const LayerView& l : layout.layers()) {
    const double fan = l.act == Activation::relu ? static_cast<double>(l.in) : static_cast<double>(l.in + l.out);
    const float bound = static_cast<float>(std::sqrt(6.0 / fan));
    for (int64_t k = 0; k < l.w_size(); ++k) params[l.w_offset + k] = bound * rng.symmetric();
    for (int64_t k = 0; k < l.b_size(); ++k) params[l.b_offset + k] = 0.0f;
  }
}

}  // namespace troupe::kernels
