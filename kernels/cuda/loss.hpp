#pragma once
// CUDA twin of cpu/loss.hpp: losses in logits form. Same names and math as the CPU
// reference, device pointers, queued on `stream` (asynchronous: a bad launch
// throws CudaError at once, an execution error surfaces at the next
// synchronisation). Not thread-safe per stream. Checked against the CPU twin
// in cuda_kernels.test.cpp.
#include <cuda_runtime_api.h>

#include <cstdint>

namespace troupe::kernels::cuda {

/// CUDA twin of cpu::softmax_ce_forward (device pointers; queued on stream).
void softmax_ce_forward(const float* logits, const int32_t* labels, int64_t n, int64_t c, float* losses,
                        cudaStream_t stream);
/// CUDA twin of cpu::softmax_ce_backward (device pointers; queued on stream).
void softmax_ce_backward(const float* logits, const int32_t* labels, int64_t n, int64_t c, float scale,
                         float* dlogits, cudaStream_t stream);
/// CUDA twin of cpu::bce_logits_forward (device pointers; queued on stream).
void bce_logits_forward(const float* logits, const float* targets, int64_t count, float* losses, cudaStream_t stream);
/// CUDA twin of cpu::bce_logits_backward (device pointers; queued on stream).
void bce_logits_backward(const float* logits, const float* targets, int64_t count, float scale, float* dlogits,
                         cudaStream_t stream);
/// correct[i] = 1 when row i is predicted right, else 0 (the CPU twin returns the sum).
void count_correct(const float* logits, const int32_t* labels, int64_t n, int64_t c, int32_t* correct,
                   cudaStream_t stream);
/// targets [n, c]: one-hot of labels (c > 1) or the label itself (c == 1), for sigmoid_bce.
void labels_to_targets(const int32_t* labels, int64_t n, int64_t c, float* targets, cudaStream_t stream);

}  // namespace troupe::kernels::cuda
