#pragma once
// Losses in logits form, numerically stable (log-sum-exp; softplus).
#include <cstdint>

namespace troupe::kernels::cpu {

/// Softmax cross-entropy per row of logits [n, c]:
/// losses[i] = logsumexp(logits[i, :]) - logits[i, labels[i]].
/// labels[i] must lie in [0, c). Thread-safe for distinct losses.
void softmax_ce_forward(const float* logits, const int32_t* labels, int64_t n, int64_t c, float* losses);

/// dlogits[i, j] = scale * (softmax(logits[i, :])[j] - [j == labels[i]]).
/// dlogits may equal logits. Thread-safe for distinct dlogits.
void softmax_ce_backward(const float* logits, const int32_t* labels, int64_t n, int64_t c, float scale,
                         float* dlogits);

/// Binary cross-entropy of sigmoid(x) against targets t in [0, 1], elementwise:
/// losses[k] = max(x, 0) - x t + log1p(exp(-|x|)). Thread-safe for distinct losses.
void bce_logits_forward(const float* logits, const float* targets, int64_t count, float* losses);

/// dlogits[k] = scale * (sigmoid(x[k]) - t[k]); dlogits may equal logits.
/// Thread-safe for distinct dlogits.
void bce_logits_backward(const float* logits, const float* targets, int64_t count, float scale, float* dlogits);

/// Rows of logits [n, c] whose first maximal entry is at labels[i]; for c == 1
/// (binary) a row counts when (logit > 0) == (label != 0). Thread-safe.
int64_t count_correct(const float* logits, const int32_t* labels, int64_t n, int64_t c);

}  // namespace troupe::kernels::cpu
