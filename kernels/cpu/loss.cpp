#include "kernels/cpu/loss.hpp"

#include <cmath>

namespace troupe::kernels::cpu {

namespace {

// Max and log-sum-exp of one row, shifted by the max so exp never overflows.
struct RowLse {
  float max;
  float lse;
};

RowLse row_lse(const float* z, int64_t c) {
  float mx = z[0];
  for (int64_t j = 1; j < c; ++j) mx = z[j] > mx ? z[j] : mx;
  float s = 0.0f;
  for (int64_t j = 0; j < c; ++j) s += std::exp(z[j] - mx);
  return {mx, mx + std::log(s)};
}

}  // namespace

void softmax_ce_forward(const float* logits, const int32_t* labels, int64_t n, int64_t c, float* losses) {
  for (int64_t i = 0; i < n; ++i) {
    const float* z = logits + i * c;
    losses[i] = row_lse(z, c).lse - z[labels[i]];
  }
}

void softmax_ce_backward(const float* logits, const int32_t* labels, int64_t n, int64_t c, float scale,
                         float* dlogits) {
  for (int64_t i = 0; i < n; ++i) {
    const float* z = logits + i * c;
    float* dz = dlogits + i * c;
    const float lse = row_lse(z, c).lse;
    for (int64_t j = 0; j < c; ++j) dz[j] = scale * std::exp(z[j] - lse);
    dz[labels[i]] -= scale;
  }
}

void bce_logits_forward(const float* logits, const float* targets, int64_t count, float* losses) {
  for (int64_t k = 0; k < count; ++k) {
    const float x = logits[k];
    losses[k] = std::fmax(x, 0.0f) - x * targets[k] + std::log1p(std::exp(-std::fabs(x)));
  }
}

void bce_logits_backward(const float* logits, const float* targets, int64_t count, float scale, float* dlogits) {
  for (int64_t k = 0; k < count; ++k) {
    const float x = logits[k];
    // sigmoid without overflow for either sign of x
    const float e = std::exp(-std::fabs(x));
    const float s = x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    dlogits[k] = scale * (s - targets[k]);
  }
}

int64_t count_correct(const float* logits, const int32_t* labels, int64_t n, int64_t c) {
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* z = logits + i * c;
    if (c == 1) {
      correct += ((z[0] > 0.0f) == (labels[i] != 0)) ? 1 : 0;
      continue;
    }
    int64_t best = 0;
    for (int64_t j = 1; j < c; ++j)
      if (z[j] > z[best]) best = j;
    correct += best == labels[i] ? 1 : 0;
  }
  return correct;
}

}  // namespace troupe::kernels::cpu
