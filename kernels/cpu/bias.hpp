#pragma once
// Bias add (and its gradient) on row-major [n, d] activations.
#include <cstdint>

#include "kernels/types.hpp"

namespace troupe::kernels::cpu {

/// y[i, j] += b[j] for y [n, d]. Thread-safe for distinct y.
void bias_add(float* y, const float* b, int64_t n, int64_t d);

/// Fused layer epilogue: y[i, j] = act(y[i, j] + b[j]) (one pass over y).
/// Thread-safe for distinct y.
void bias_act_forward(float* y, const float* b, int64_t n, int64_t d, Activation act);

/// db[j] = sum_i dy[i, j] (overwrites db). Thread-safe for distinct db.
void bias_backward(float* db, const float* dy, int64_t n, int64_t d);

}  // namespace troupe::kernels::cpu
