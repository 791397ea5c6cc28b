#pragma once
// The MLP on the CUDA backend: cuBLAS GEMMs and the kernels of this folder,
// the same steps as cpu/mlp_cpu.cpp. Parameters, inputs and gradients are
// host memory at the interface (what the trainer exchanges with the
// aggregator); everything in between stays on the device.
#include <vector>

#include "kernels/cuda/gemm.hpp"
#include "kernels/cuda/handles.hpp"
#include "kernels/mlp.hpp"

namespace troupe::kernels::cuda {

/// CUDA MLP. Not thread-safe (owns a stream, a cuBLAS handle and buffers).
/// Throws CudaError when the device cannot be used.
class CudaMlp final : public Mlp {
 public:
  CudaMlp(const MlpSpec& spec, const MlpOptions& options);

  [[nodiscard]] Backend backend() const override { return Backend::cuda; }
  void forward(std::span<const float> params, const float* x, int64_t n, float* logits) override;
  BatchStats forward_backward(std::span<const float> params, const float* x, const int32_t* labels, int64_t n,
                              std::span<float> grad, const GradReadyFn& on_ready = {}) override;
  BatchStats evaluate(std::span<const float> params, const float* x, const int32_t* labels, int64_t n) override;

 private:
  void reserve(int64_t n);
  void upload(std::span<const float> params, const float* x, const int32_t* labels, int64_t n);
  void forward_layers(int64_t n);
  // queues loss and correct-flag kernels plus their copies to the host
  void queue_loss(int64_t n);
  BatchStats host_stats(int64_t n) const;

  int device_;
  GemmMath math_;
  Stream stream_;
  CublasHandle cublas_;
  int64_t capacity_ = 0;
  DeviceBuffer<float> params_, grad_, x_, delta_a_, delta_b_, losses_, targets_;
  DeviceBuffer<int32_t> labels_, correct_;
  std::vector<DeviceBuffer<float>> acts_;
  std::vector<Event> layer_done_;
  PinnedBuffer<float> host_grad_;  // staging for the gradient's device-to-host copies
  PinnedBuffer<float> host_losses_;
  PinnedBuffer<int32_t> host_correct_;
};

}  // namespace troupe::kernels::cuda
