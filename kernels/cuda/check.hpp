#pragma once
// Every CUDA runtime and cuBLAS call goes through one of these checks, which
// throw CudaError naming the call, the error and file:line.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace troupe::kernels::cuda {

/// A failed CUDA or cuBLAS call. Thrown by the checks below.
class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Throws CudaError when st is not cudaSuccess. Thread-safe.
void check_cuda(cudaError_t st, const char* expr, const char* file, int line);
/// Throws CudaError when st is not CUBLAS_STATUS_SUCCESS. Thread-safe.
void check_cublas(cublasStatus_t st, const char* expr, const char* file, int line);
/// Checks the last kernel launch (cudaGetLastError). Thread-safe.
void check_launch(const char* kernel, const char* file, int line);

}  // namespace troupe::kernels::cuda

#define TROUPE_CUDA_CHECK(expr) ::troupe::kernels::cuda::check_cuda((expr), #expr, __FILE__, __LINE__)
#define TROUPE_CUBLAS_CHECK(expr) ::troupe::kernels::cuda::check_cublas((expr), #expr, __FILE__, __LINE__)
#define TROUPE_CUDA_CHECK_LAUNCH(name) ::troupe::kernels::cuda::check_launch((name), __FILE__, __LINE__)
