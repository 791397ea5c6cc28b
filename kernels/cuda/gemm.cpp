#include "kernels/cuda/gemm.hpp"

#include <limits>
#include <stdexcept>

#include "kernels/cuda/check.hpp"

namespace troupe::kernels::cuda {

namespace {

int to_int(int64_t v) {
  if (v < 0 || v > std::numeric_limits<int>::max()) throw std::invalid_argument("cuda::gemm: dimension out of int range");
  return static_cast<int>(v);
}

cublasOperation_t op(Trans t) { return t == Trans::yes ? CUBLAS_OP_T : CUBLAS_OP_N; }

// cuBLAS is column-major. A row-major X with row stride ld is the
// column-major X^T with the same ld, so row-major C = op(A) op(B) is computed
// as column-major C^T = op(B)^T op(A)^T: swap the operands and M with N.
void gemm_ex(cublasHandle_t handle, Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha,
             const void* A, int64_t lda, const void* B, int64_t ldb, cudaDataType_t in_type, float beta, float* C,
             int64_t ldc, cublasComputeType_t compute) {
  if (M == 0 || N == 0) return;
  TROUPE_CUBLAS_CHECK(cublasGemmEx(handle, op(tb), op(ta), to_int(N), to_int(M), to_int(K), &alpha, B, in_type,
                                   to_int(ldb), A, in_type, to_int(lda), &beta, C, CUDA_R_32F, to_int(ldc), compute,
                                   CUBLAS_GEMM_DEFAULT));
}

}  // namespace

void gemm(cublasHandle_t handle, Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, GemmMath math) {
  gemm_ex(handle, ta, tb, M, N, K, alpha, A, lda, B, ldb, CUDA_R_32F, beta, C, ldc,
          math == GemmMath::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F);
}

void gemm_bf16(cublasHandle_t handle, Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha,
               const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_ex(handle, ta, tb, M, N, K, alpha, A, lda, B, ldb, CUDA_R_16BF, beta, C, ldc, CUBLAS_COMPUTE_32F);
}

}  // namespace troupe::kernels::cuda
