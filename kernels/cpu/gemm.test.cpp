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

/// The output of one checked gemm: C as stored (row stride ldc) and the
/// rounding scale sum_k |alpha a_ik b_kj| + |beta c| of each element.
struct GemmRun {
  std::vector<float> c;
  std::vector<double> scale;
  int64_t ldc = 0;
};

/// Runs cpu::gemm on seeded random inputs with the calling thread's thread
/// count, checks it against the double-precision reference and returns it.
GemmRun check_gemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, float beta, int pad,
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
  return {std::move(C), std::move(scale), ldc};
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

TEST_CASE("gemm with two threads gives the result of one thread") {
  // Shapes of the trainer's layers at batch 512, in both transposes of the backward pass: large enough that
  // oneDNN splits the work between the threads.
  const int64_t shapes[][3] = {{512, 256, 784}, {256, 784, 512}};
  const Trans trans[][2] = {{Trans::no, Trans::yes}, {Trans::yes, Trans::no}};
  for (int k = 0; k < 2; ++k) {
    const auto [M, N, K] = shapes[k];
    const auto [ta, tb] = trans[k];
    cpu::set_num_threads(1);
    const GemmRun one = check_gemm(ta, tb, M, N, K, 1.0f, 0.0f, 0, 7 + k);
    cpu::set_num_threads(2);
    REQUIRE(cpu::num_threads() == 2);
    const GemmRun two = check_gemm(ta, tb, M, N, K, 1.0f, 0.0f, 0, 7 + k);  // same seed: same inputs
    cpu::set_num_threads(1);
    double worst = 0.0;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        const std::size_t e = static_cast<std::size_t>(i * one.ldc + j);
        worst = std::fmax(worst, std::fabs(static_cast<double>(two.c[e]) - one.c[e]) / (one.scale[e] + 1e-30));
      }
    CAPTURE(M);
    CAPTURE(N);
    CAPTURE(K);
    // Both runs are also within 1e-5 of the double-precision reference (check_gemm). Against each other:
    // measured bitwise equal (worst 0) on an AMD EPYC host (family 25 model 17), where each run is within
    // 1.1e-7 and 1.6e-7 of the reference. oneDNN does not promise the same summation order for another
    // thread count, so a split of K between the threads is allowed: two orders differ by at most their two
    // reference errors, ~3e-7 here; 1e-6 leaves 3x margin and is 10x tighter than the reference check,
    // while a race or a lost block between the threads errs by O(1).
    CHECK(worst <= 1e-6);
  }
}
