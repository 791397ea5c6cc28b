#pragma once
// GEMM implementations the benchmark measures next to oneDNN: OpenBLAS (loaded
// at run time so its OPENBLAS_CORETYPE choice is whatever this process's
// environment says), Eigen (when its headers were found) and a plain loop.
#include <cstdint>
#include <string>

namespace troupe::bench {

/// Row-major C[M,N] = A[M,K] * B[K,N] (no transposes, alpha 1, beta 0).
using GemmFn = void (*)(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C);

/// cblas_sgemm from libopenblas.so.0, or nullptr (why in *why). Thread count
/// comes from OPENBLAS_NUM_THREADS. Not thread-safe (first call loads).
GemmFn openblas_gemm(std::string* why);
/// OpenBLAS's own description of the kernel it picked ("Prescott", "SkylakeX"...), or "".
std::string openblas_config();

/// Eigen 3 product compiled for x86-64-v3 (AVX2+FMA), single-threaded, or
/// nullptr when Eigen was not found at build time or the CPU lacks AVX2/FMA.
GemmFn eigen_gemm();

/// i-k-j triple loop (GCC vectorises the inner loop); single-threaded.
void naive_gemm(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C);

}  // namespace troupe::bench
