#pragma once
// Row-major GEMM on the GPU through cuBLAS (the CUDA twin of cpu/gemm.hpp).
#include <cublas_v2.h>

#include <cstdint>

#include "kernels/types.hpp"

namespace troupe::kernels::cuda {

/// Arithmetic of an fp32 GEMM.
enum class GemmMath {
  fp32,  ///< full fp32 (the reference)
  tf32,  ///< TF32 tensor cores, fp32 accumulation (Ampere and newer)
};

/// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major device pointers, on
/// the handle's stream; same contract as cpu::gemm. Not thread-safe per handle.
/// Throws CudaError on a cuBLAS error.
void gemm(cublasHandle_t handle, Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
          GemmMath math = GemmMath::fp32);

/// As gemm, with A and B in bf16 (bit patterns) and C in fp32, fp32 accumulation.
void gemm_bf16(cublasHandle_t handle, Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha,
               const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace troupe::kernels::cuda
