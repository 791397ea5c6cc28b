#pragma once
// Row-major single-precision GEMM on the CPU (oneDNN dnnl_sgemm, chosen by
// measurement: docs/PERFORMANCE.md, ../shared/TOOLCHAIN.md).
#include <cstdint>

#include "kernels/types.hpp"

namespace troupe::kernels::cpu {

/// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, every matrix row-major;
/// lda, ldb, ldc are the row strides of A, B, C as stored (op(A) = A^T when
/// ta == Trans::yes, so A is stored [K, M]). Runs on the calling thread's
/// OpenMP team (set_num_threads). Thread-safe for distinct C.
/// Throws std::runtime_error when oneDNN rejects the arguments.
void gemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace troupe::kernels::cpu
