#pragma once
// Vector scale and axpy, for weighted gradient sums g = sum n_i g_i / sum n_i.
#include <cstdint>

namespace troupe::kernels::cpu {

/// x[k] *= alpha. Thread-safe for distinct x.
void scale(float* x, int64_t n, float alpha);

/// y[k] += alpha * x[k]. Thread-safe for distinct y.
void axpy(int64_t n, float alpha, const float* x, float* y);

}  // namespace troupe::kernels::cpu
