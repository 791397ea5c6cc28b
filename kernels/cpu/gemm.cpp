#include "kernels/cpu/gemm.hpp"

#include <dnnl.h>

#include <stdexcept>
#include <string>

namespace troupe::kernels::cpu {

void gemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  // dnnl_sgemm is row-major (unlike BLAS sgemm), so no operand swapping here.
  const dnnl_status_t st = dnnl_sgemm(ta == Trans::yes ? 'T' : 'N', tb == Trans::yes ? 'T' : 'N', M, N, K, alpha,
                                      A, lda, B, ldb, beta, C, ldc);
  if (st != dnnl_success) {
    throw std::runtime_error("dnnl_sgemm failed with status " + std::to_string(static_cast<int>(st)) +
                             " (M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K) +
                             ")");
  }
}

}  // namespace troupe::kernels::cpu
