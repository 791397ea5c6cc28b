#include "kernels/cuda/mlp_cuda.hpp"

#include <algorithm>

#include <cstring>

#include "kernels/cuda/activation.hpp"
#include "kernels/cuda/bias.hpp"
#include "kernels/cuda/loss.hpp"

namespace troupe::kernels::cuda {

namespace {
constexpr int64_t kEvalChunk = 4096;

int select_device(int device) {
  TROUPE_CUDA_CHECK(cudaSetDevice(device));
  return device;
}
}  // namespace

CudaMlp::CudaMlp(const MlpSpec& spec, const MlpOptions& options)
    : Mlp(spec),
      device_(select_device(options.cuda_device)),
      math_(options.cuda_tf32 ? GemmMath::tf32 : GemmMath::fp32),
      stream_(),
      cublas_(stream_.get()) {
  params_.resize(static_cast<std::size_t>(num_params()));
  grad_.resize(static_cast<std::size_t>(num_params()));
  host_grad_.resize(static_cast<std::size_t>(num_params()));
  acts_.resize(layout().layers().size());
  layer_done_.resize(layout().layers().size());
}

void CudaMlp::reserve(int64_t n) {
  if (n <= capacity_) return;
  const auto& layers = layout().layers();
  for (std::size_t l = 0; l < layers.size(); ++l) acts_[l].resize(static_cast<std::size_t>(n * layers[l].out));
  x_.resize(static_cast<std::size_t>(n * spec().inputs()));
  delta_a_.resize(static_cast<std::size_t>(n * layout().max_width()));
  delta_b_.resize(static_cast<std::size_t>(n * layout().max_width()));
  losses_.resize(static_cast<std::size_t>(n * spec().outputs()));
  targets_.resize(static_cast<std::size_t>(n * spec().outputs()));
  labels_.resize(static_cast<std::size_t>(n));
  correct_.resize(static_cast<std::size_t>(n));
  host_losses_.resize(static_cast<std::size_t>(n * spec().outputs()));
  host_correct_.resize(static_cast<std::size_t>(n));
  capacity_ = n;
}

void CudaMlp::upload(std::span<const float> params, const float* x, const int32_t* labels, int64_t n) {
  TROUPE_CUDA_CHECK(cudaSetDevice(device_));
  reserve(std::max<int64_t>(n, 1));
  cudaStream_t s = stream_.get();
  if (!params.empty())
    TROUPE_CUDA_CHECK(cudaMemcpyAsync(params_.get(), params.data(), params.size_bytes(), cudaMemcpyHostToDevice, s));
  TROUPE_CUDA_CHECK(cudaMemcpyAsync(x_.get(), x, static_cast<std::size_t>(n * spec().inputs()) * sizeof(float),
                                    cudaMemcpyHostToDevice, s));
  if (labels)
    TROUPE_CUDA_CHECK(cudaMemcpyAsync(labels_.get(), labels, static_cast<std::size_t>(n) * sizeof(int32_t),
                                      cudaMemcpyHostToDevice, s));
}

void CudaMlp::forward_layers(int64_t n) {
  const float* in = x_.get();
  const float* p = params_.get();
  for (std::size_t l = 0; l < layout().layers().size(); ++l) {
    const LayerView& v = layout().layers()[l];
    float* out = acts_[l].get();
    gemm(cublas_.get(), Trans::no, Trans::yes, n, v.out, v.in, 1.0f, in, v.in, p + v.w_offset, v.in, 0.0f, out, v.out,
         math_);
    bias_act_forward(out, p + v.b_offset, n, v.out, v.act, stream_.get());
    in = out;
  }
}

void CudaMlp::queue_loss(int64_t n) {
  const int64_t c = spec().outputs();
  cudaStream_t s = stream_.get();
  const float* logits = acts_.back().get();
  int64_t loss_count = n;
  if (spec().loss == LossKind::softmax_ce) {
    softmax_ce_forward(logits, labels_.get(), n, c, losses_.get(), s);
  } else {
    labels_to_targets(labels_.get(), n, c, targets_.get(), s);
    bce_logits_forward(logits, targets_.get(), n * c, losses_.get(), s);
    loss_count = n * c;
  }
  count_correct(logits, labels_.get(), n, c, correct_.get(), s);
  TROUPE_CUDA_CHECK(cudaMemcpyAsync(host_losses_.get(), losses_.get(),
                                    static_cast<std::size_t>(loss_count) * sizeof(float), cudaMemcpyDeviceToHost, s));
  TROUPE_CUDA_CHECK(cudaMemcpyAsync(host_correct_.get(), correct_.get(), static_cast<std::size_t>(n) * sizeof(int32_t),
                                    cudaMemcpyDeviceToHost, s));
}

BatchStats CudaMlp::host_stats(int64_t n) const {
  // Summed on the host in double, like the CPU backend, after the stream synced.
  BatchStats st;
  st.samples = n;
  const int64_t c = spec().outputs();
  double sum = 0.0;
  const int64_t count = spec().loss == LossKind::softmax_ce ? n : n * c;
  for (int64_t k = 0; k < count; ++k) sum += host_losses_[k];
  if (spec().loss == LossKind::sigmoid_bce) sum /= static_cast<double>(c);
  st.loss_sum = sum;
  for (int64_t i = 0; i < n; ++i) st.correct += host_correct_[i];
  return st;
}

void CudaMlp::forward(std::span<const float> params, const float* x, int64_t n, float* logits) {
  check_sizes(params, nullptr, nullptr, n);
  const int64_t c = spec().outputs();
  for (int64_t at = 0; at < n; at += kEvalChunk) {
    const int64_t m = std::min(kEvalChunk, n - at);
    upload(at == 0 ? params : std::span<const float>{}, x + at * spec().inputs(), nullptr, m);
    forward_layers(m);
    TROUPE_CUDA_CHECK(cudaMemcpyAsync(logits + at * c, acts_.back().get(), static_cast<std::size_t>(m * c) * sizeof(float),
                                      cudaMemcpyDeviceToHost, stream_.get()));
    stream_.synchronize();
  }
}

BatchStats CudaMlp::forward_backward(std::span<const float> params, const float* x, const int32_t* labels, int64_t n,
                                     std::span<float> grad, const GradReadyFn& on_ready) {
  check_sizes(params, &grad, labels, n);
  const auto& layers = layout().layers();
  if (n == 0) {
    std::fill(grad.begin(), grad.end(), 0.0f);
    for (auto l = layers.rbegin(); l != layers.rend(); ++l)
      if (on_ready) on_ready(l->begin(), l->end() - l->begin());
    return {};
  }
  upload(params, x, labels, n);
  cudaStream_t s = stream_.get();
  forward_layers(n);
  queue_loss(n);

  const int64_t c = spec().outputs();
  float* delta = delta_a_.get();
  float* spare = delta_b_.get();
  if (spec().loss == LossKind::softmax_ce) {
    softmax_ce_backward(acts_.back().get(), labels_.get(), n, c, 1.0f / static_cast<float>(n), delta, s);
  } else {
    bce_logits_backward(acts_.back().get(), targets_.get(), n * c, 1.0f / static_cast<float>(n * c), delta, s);
  }

  const float* p = params_.get();
  float* g = grad_.get();
  // Each layer's gradient is copied to the host and announced while the GPU
  // already computes the next layer down: the callback waits only on that
  // layer's event.
  for (std::size_t li = layers.size(); li-- > 0;) {
    const LayerView& v = layers[li];
    const float* in = li == 0 ? x_.get() : acts_[li - 1].get();
    gemm(cublas_.get(), Trans::yes, Trans::no, v.out, v.in, n, 1.0f, delta, v.out, in, v.in, 0.0f, g + v.w_offset,
         v.in, math_);
    bias_backward(g + v.b_offset, delta, n, v.out, s);
    TROUPE_CUDA_CHECK(cudaMemcpyAsync(host_grad_.get() + v.begin(), g + v.begin(),
                                      static_cast<std::size_t>(v.end() - v.begin()) * sizeof(float),
                                      cudaMemcpyDeviceToHost, s));
    layer_done_[li].record(s);
    if (li > 0) {
      gemm(cublas_.get(), Trans::no, Trans::no, n, v.in, v.out, 1.0f, delta, v.out, p + v.w_offset, v.in, 0.0f, spare,
           v.in, math_);
      activation_backward(layers[li - 1].act, acts_[li - 1].get(), spare, spare, n * v.in, s);
      std::swap(delta, spare);
    }
    if (on_ready) {
      layer_done_[li].synchronize();
      std::memcpy(grad.data() + v.begin(), host_grad_.get() + v.begin(),
                  static_cast<std::size_t>(v.end() - v.begin()) * sizeof(float));
      on_ready(v.begin(), v.end() - v.begin());
    }
  }
  stream_.synchronize();
  if (!on_ready) std::memcpy(grad.data(), host_grad_.get(), grad.size_bytes());
  return host_stats(n);
}

BatchStats CudaMlp::evaluate(std::span<const float> params, const float* x, const int32_t* labels, int64_t n) {
  check_sizes(params, nullptr, labels, n);
  BatchStats total;
  for (int64_t at = 0; at < n; at += kEvalChunk) {
    const int64_t m = std::min(kEvalChunk, n - at);
    upload(at == 0 ? params : std::span<const float>{}, x + at * spec().inputs(), labels + at, m);
    forward_layers(m);
    queue_loss(m);
    stream_.synchronize();
    total += host_stats(m);
  }
  return total;
}

}  // namespace troupe::kernels::cuda
