#include "kernels/cpu/mlp_cpu.hpp"

#include <algorithm>

#include "kernels/cpu/activation.hpp"
#include "kernels/cpu/bias.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/loss.hpp"
#include "kernels/cpu/threads.hpp"

namespace troupe::kernels::cpu {

namespace {
constexpr int64_t kEvalChunk = 1024;
}

CpuMlp::CpuMlp(const MlpSpec& spec, int threads) : Mlp(spec), threads_(threads < 1 ? 1 : threads) {
  acts_.resize(layout().layers().size());
}

void CpuMlp::reserve(int64_t n) {
  if (n <= capacity_) return;
  const auto& layers = layout().layers();
  for (std::size_t l = 0; l < layers.size(); ++l) acts_[l].resize(static_cast<std::size_t>(n * layers[l].out));
  delta_a_.resize(static_cast<std::size_t>(n * layout().max_width()));
  delta_b_.resize(static_cast<std::size_t>(n * layout().max_width()));
  losses_.resize(static_cast<std::size_t>(n * spec().outputs()));
  targets_.resize(static_cast<std::size_t>(n * spec().outputs()));
  capacity_ = n;
}

void CpuMlp::forward_layers(const float* params, const float* x, int64_t n) {
  const float* in = x;
  for (std::size_t l = 0; l < layout().layers().size(); ++l) {
    const LayerView& v = layout().layers()[l];
    float* out = acts_[l].data();
    // out[n, out] = in[n, in] * W[out, in]^T, then act(out + b) in one pass
    gemm(Trans::no, Trans::yes, n, v.out, v.in, 1.0f, in, v.in, params + v.w_offset, v.in, 0.0f, out, v.out);
    bias_act_forward(out, params + v.b_offset, n, v.out, v.act);
    in = out;
  }
}

void CpuMlp::fill_targets(const int32_t* labels, int64_t n) {
  const int64_t c = spec().outputs();
  if (c == 1) {
    for (int64_t i = 0; i < n; ++i) targets_[i] = labels[i] != 0 ? 1.0f : 0.0f;
    return;
  }
  std::fill_n(targets_.begin(), n * c, 0.0f);
  for (int64_t i = 0; i < n; ++i) targets_[i * c + labels[i]] = 1.0f;
}

BatchStats CpuMlp::loss_stats(const int32_t* labels, int64_t n) {
  const int64_t c = spec().outputs();
  const float* logits = acts_.back().data();
  BatchStats s;
  s.samples = n;
  s.correct = count_correct(logits, labels, n, c);
  double sum = 0.0;
  if (spec().loss == LossKind::softmax_ce) {
    softmax_ce_forward(logits, labels, n, c, losses_.data());
    for (int64_t i = 0; i < n; ++i) sum += losses_[i];
  } else {
    fill_targets(labels, n);
    bce_logits_forward(logits, targets_.data(), n * c, losses_.data());
    for (int64_t k = 0; k < n * c; ++k) sum += losses_[k];
    sum /= static_cast<double>(c);  // per-sample loss = mean over outputs
  }
  s.loss_sum = sum;
  return s;
}

void CpuMlp::forward(std::span<const float> params, const float* x, int64_t n, float* logits) {
  check_sizes(params, nullptr, nullptr, n);
  set_num_threads(threads_);
  const int64_t c = spec().outputs();
  for (int64_t at = 0; at < n; at += kEvalChunk) {
    const int64_t m = std::min(kEvalChunk, n - at);
    reserve(m);
    forward_layers(params.data(), x + at * spec().inputs(), m);
    std::copy_n(acts_.back().data(), m * c, logits + at * c);
  }
}

BatchStats CpuMlp::forward_backward(std::span<const float> params, const float* x, const int32_t* labels, int64_t n,
                                    std::span<float> grad, const GradReadyFn& on_ready) {
  check_sizes(params, &grad, labels, n);
  const auto& layers = layout().layers();
  if (n == 0) {
    std::fill(grad.begin(), grad.end(), 0.0f);
    for (auto l = layers.rbegin(); l != layers.rend(); ++l)
      if (on_ready) on_ready(l->begin(), l->end() - l->begin());
    return {};
  }
  set_num_threads(threads_);
  reserve(n);
  const float* p = params.data();
  forward_layers(p, x, n);
  const BatchStats stats = loss_stats(labels, n);

  // d(mean loss)/d(logits) into delta_a_
  const int64_t c = spec().outputs();
  float* delta = delta_a_.data();
  float* spare = delta_b_.data();
  if (spec().loss == LossKind::softmax_ce) {
    softmax_ce_backward(acts_.back().data(), labels, n, c, 1.0f / static_cast<float>(n), delta);
  } else {
    bce_logits_backward(acts_.back().data(), targets_.data(), n * c, 1.0f / static_cast<float>(n * c), delta);
  }

  float* g = grad.data();
  for (std::size_t li = layers.size(); li-- > 0;) {
    const LayerView& v = layers[li];
    const float* in = li == 0 ? x : acts_[li - 1].data();
    // dW[out, in] = delta[n, out]^T * in[n, in];  db = column sums of delta
    gemm(Trans::yes, Trans::no, v.out, v.in, n, 1.0f, delta, v.out, in, v.in, 0.0f, g + v.w_offset, v.in);
    bias_backward(g + v.b_offset, delta, n, v.out);
    if (on_ready) on_ready(v.begin(), v.end() - v.begin());
    if (li == 0) break;
    // d(in)[n, in] = delta[n, out] * W[out, in], then through the previous activation
    gemm(Trans::no, Trans::no, n, v.in, v.out, 1.0f, delta, v.out, p + v.w_offset, v.in, 0.0f, spare, v.in);
    activation_backward(layers[li - 1].act, acts_[li - 1].data(), spare, spare, n * v.in);
    std::swap(delta, spare);
  }
  return stats;
}

BatchStats CpuMlp::evaluate(std::span<const float> params, const float* x, const int32_t* labels, int64_t n) {
  check_sizes(params, nullptr, labels, n);
  set_num_threads(threads_);
  BatchStats total;
  for (int64_t at = 0; at < n; at += kEvalChunk) {
    const int64_t m = std::min(kEvalChunk, n - at);
    reserve(m);
    forward_layers(params.data(), x + at * spec().inputs(), m);
    total += loss_stats(labels + at, m);
  }
  return total;
}

}  // namespace troupe::kernels::cpu
