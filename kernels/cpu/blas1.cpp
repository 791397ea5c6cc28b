#include "kernels/cpu/blas1.hpp"

#include "kernels/cpu/parallel.hpp"
#include "kernels/cpu/simd.hpp"

namespace troupe::kernels::cpu {

namespace {

TROUPE_SIMD_CLONES void scale_range(float* x, int64_t n, float alpha) {
  for (int64_t k = 0; k < n; ++k) x[k] *= alpha;
}

TROUPE_SIMD_CLONES void axpy_range(int64_t n, float alpha, const float* x, float* y) {
  for (int64_t k = 0; k < n; ++k) y[k] += alpha * x[k];
}

}  // namespace

void scale(float* x, int64_t n, float alpha) {
  parallel_chunks(n, [&](int64_t b, int64_t e) { scale_range(x + b, e - b, alpha); });
}

void axpy(int64_t n, float alpha, const float* x, float* y) {
  parallel_chunks(n, [&](int64_t b, int64_t e) { axpy_range(e - b, alpha, x + b, y + b); });
}

}  // namespace troupe::kernels::cpu
