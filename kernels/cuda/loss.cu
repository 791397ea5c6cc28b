// CUDA twins of cpu/loss.cpp. One thread per row for the softmax losses:
// the class count is small (10), and a row's work is a few dozen flops.
#include "kernels/cuda/check.hpp"
#include "kernels/cuda/loss.hpp"
#include "kernels/cuda/launch.cuh"

namespace troupe::kernels::cuda {

namespace {

__device__ __forceinline__ float row_lse(const float* z, int64_t c) {
  float mx = z[0];
  for (int64_t j = 1; j < c; ++j) mx = fmaxf(mx, z[j]);
  float s = 0.0f;
  for (int64_t j = 0; j < c; ++j) s += expf(z[j] - mx);
  return mx + logf(s);
}

__global__ void softmax_ce_forward_kernel(const float* logits, const int32_t* labels, int64_t n, int64_t c,
                                          float* losses) {
  TROUPE_GRID_STRIDE(i, n) {
    const float* z = logits + i * c;
    losses[i] = row_lse(z, c) - z[labels[i]];
  }
}

__global__ void softmax_ce_backward_kernel(const float* logits, const int32_t* labels, int64_t n, int64_t c,
                                           float scale, float* dlogits) {
  TROUPE_GRID_STRIDE(i, n) {
    const float* z = logits + i * c;
    float* dz = dlogits + i * c;
    const float lse = row_lse(z, c);
    const int32_t y = labels[i];
    for (int64_t j = 0; j < c; ++j) dz[j] = scale * (expf(z[j] - lse) - (j == y ? 1.0f : 0.0f));
  }
}

__global__ void bce_logits_forward_kernel(const float* x, const float* t, int64_t count, float* losses) {
  TROUPE_GRID_STRIDE(k, count) { losses[k] = fmaxf(x[k], 0.0f) - x[k] * t[k] + log1pf(expf(-fabsf(x[k]))); }
}

__global__ void bce_logits_backward_kernel(const float* x, const float* t, int64_t count, float scale,
                                           float* dx) {
  TROUPE_GRID_STRIDE(k, count) {
    const float e = expf(-fabsf(x[k]));
    const float s = x[k] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    dx[k] = scale * (s - t[k]);
  }
}

__global__ void count_correct_kernel(const float* logits, const int32_t* labels, int64_t n, int64_t c,
                                     int32_t* correct) {
  TROUPE_GRID_STRIDE(i, n) {
    const float* z = logits + i * c;
    if (c == 1) {
      correct[i] = (z[0] > 0.0f) == (labels[i] != 0) ? 1 : 0;
    } else {
      int64_t best = 0;
      for (int64_t j = 1; j < c; ++j)
        if (z[j] > z[best]) best = j;
      correct[i] = best == labels[i] ? 1 : 0;
    }
  }
}

__global__ void labels_to_targets_kernel(const int32_t* labels, int64_t n, int64_t c, float* targets) {
  TROUPE_GRID_STRIDE(k, n * c) {
    const int64_t i = k / c, j = k % c;
    targets[k] = c == 1 ? (labels[i] != 0 ? 1.0f : 0.0f) : (labels[i] == j ? 1.0f : 0.0f);
  }
}

}  // namespace

void softmax_ce_forward(const float* logits, const int32_t* labels, int64_t n, int64_t c, float* losses,
                        cudaStream_t stream) {
  if (n == 0) return;
  softmax_ce_forward_kernel<<<grid_for(n), kBlock, 0, stream>>>(logits, labels, n, c, losses);
  TROUPE_CUDA_CHECK_LAUNCH("softmax_ce_forward_kernel");
}

void softmax_ce_backward(const float* logits, const int32_t* labels, int64_t n, int64_t c, float scale,
                         float* dlogits, cudaStream_t stream) {
  if (n == 0) return;
  softmax_ce_backward_kernel<<<grid_for(n), kBlock, 0, stream>>>(logits, labels, n, c, scale, dlogits);
  TROUPE_CUDA_CHECK_LAUNCH("softmax_ce_backward_kernel");
}

void bce_logits_forward(const float* logits, const float* targets, int64_t count, float* losses,
                        cudaStream_t stream) {
  if (count == 0) return;
  bce_logits_forward_kernel<<<grid_for(count), kBlock, 0, stream>>>(logits, targets, count, losses);
  TROUPE_CUDA_CHECK_LAUNCH("bce_logits_forward_kernel");
}

void bce_logits_backward(const float* logits, const float* targets, int64_t count, float scale, float* dlogits,
                         cudaStream_t stream) {
  if (count == 0) return;
  bce_logits_backward_kernel<<<grid_for(count), kBlock, 0, stream>>>(logits, targets, count, scale, dlogits);
  TROUPE_CUDA_CHECK_LAUNCH("bce_logits_backward_kernel");
}

void count_correct(const float* logits, const int32_t* labels, int64_t n, int64_t c, int32_t* correct,
                   cudaStream_t stream) {
  if (n == 0) return;
  count_correct_kernel<<<grid_for(n), kBlock, 0, stream>>>(logits, labels, n, c, correct);
  TROUPE_CUDA_CHECK_LAUNCH("count_correct_kernel");
}

void labels_to_targets(const int32_t* labels, int64_t n, int64_t c, float* targets, cudaStream_t stream) {
  if (n * c == 0) return;
  labels_to_targets_kernel<<<grid_for(n * c), kBlock, 0, stream>>>(labels, n, c, targets);
  TROUPE_CUDA_CHECK_LAUNCH("labels_to_targets_kernel");
}

}  // namespace troupe::kernels::cuda
