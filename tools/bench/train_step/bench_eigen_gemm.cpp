// Eigen's GEMM for the benchmark, compiled with -mavx2 -mfma (meson.build) so
// Eigen uses its AVX2 kernels; called only when the CPU has them.
#include "tools/bench/train_step/bench_gemm_alternatives.hpp"

#if defined(TROUPE_BENCH_HAVE_EIGEN)
#include <Eigen/Core>

namespace troupe::bench {

namespace {
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void eigen_call(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C) {
  Eigen::Map<const RowMat> a(A, M, K), b(B, K, N);
  Eigen::Map<RowMat> c(C, M, N);
  c.noalias() = a * b;
}
}  // namespace

GemmFn eigen_gemm() {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return nullptr;
  Eigen::setNbThreads(1);
  return &eigen_call;
}

}  // namespace troupe::bench
#else
namespace troupe::bench {
GemmFn eigen_gemm() { return nullptr; }
}  // namespace troupe::bench
#endif
