#include "kernels/cpu/gemm.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/cpu/threads.hpp"
#include "kernels/testing.hpp"

using namespace troupe::kernels;

namespace {

// C = alpha op(A) op(B) + beta C in double; returns also sum_k |a||b| per
// element, the scale of the rounding error of a float dot product.
void gemm_ref(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, double alpha, const std::vector<float>& A,
              int64_t lda, const std::vector<float>& B, int64_t ldb, double beta, const std::vector<float>& C0,
              int64_t ldc, std::vector<double>& C, std::vector<double>& scale) {
  C.assign(C0.size(), 0.0);
  scale.assign(C0.size(), 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0.0, a = 0.0;
      for (int64_t k = 0; k < K; ++k) {
        const double x = ta == Trans::yes ? A[k * lda + i] : A[i * lda + k];
        const double y = tb == Trans::yes ? B[j * ldb + k] : B[k * ldb + j];
        s += x * y;
        a += std::fabs(x * y);
      }
      C[i * ldc + j] = alpha * s + beta * C0[i * ldc + j];
      scale[i * ldc + j] = std::fabs(alpha) * a + std::fabs(beta * C0[i * ldc + j]);
    }
}

void check_gemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, float beta, int pad,
                uint64_t seed) {
  // Stored shapes: A is [M, K] or [K, M]; B is [K, N] or [N, K]; rows padded by `pad`.
  const int64_t a_rows = ta == Trans::yes ? K : M, a_cols = ta == Trans::yes ? M : K;
  const int64_t b_rows = tb == Trans::yes ? N : K, b_cols = tb == Trans::yes ? K : N;
  const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = N + pad;
  auto A = testing::random_floats(static_cast<std::size_t>(a_rows * lda), seed);
  auto B = testing::random_floats(static_cast<std::size_t>(b_rows * ldb), seed + 1);
  auto C = testing::random_floats(static_cast<std::size_t>(M * ldc), seed + 2);
  std::vector<double> ref, scale;
  gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ref, scale);
  cpu::gemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
  // Tolerance: |C - ref| <= 1e-5 * sum_k |alpha a_ik b_kj| + |beta c| (a float
  // dot product of length K errs by at most ~K * 6e-8 of that sum; 1e-5 is
  // loose enough for blocked summation orders and K up to ~150 worst case,
  // and a wrong transpose or stride errs by O(1)).
  double worst = 0.0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const double err = std::fabs(C[i * ldc + j] - ref[i * ldc + j]) / (scale[i * ldc + j] + 1e-30);
      worst = std::fmax(worst, err);
    }
  CAPTURE(M);
  CAPTURE(N);
  CAPTURE(K);
  CAPTURE(static_cast<int>(ta));
  CAPTURE(static_cast<int>(tb));
  CHECK(worst <= 1e-5);
}

}  // namespace

TEST_CASE("gemm matches a double-precision reference for every transpose, shape and stride") {
  cpu::set_num_threads(1);
  uint64_t seed = 100;
  const int64_t shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {64, 256, 784}, {33, 10, 128}, {128, 784, 64}, {256, 128, 17}};
  for (const auto& s : shapes)
    for (Trans ta : {Trans::no, Trans::yes})
      for (Trans tb : {Trans::no, Trans::yes}) {
        check_gemm(ta, tb, s[0], s[1], s[2], 1.0f, 0.0f, 0, seed++);
        check_gemm(ta, tb, s[0], s[1], s[2], -0.75f, 0.5f, 3, seed++);
      }
}

TEST_CASE("gemm gives the same result with two threads") {
  cpu::set_num_threads(2);
  check_gemm(Trans::no, Trans::yes, 512, 256, 784, 1.0f, 0.0f, 0, 7);
  check_gemm(Trans::yes, Trans::no, 256, 784, 512, 1.0f, 0.0f, 0, 8);
  cpu::set_num_threads(1);
}
