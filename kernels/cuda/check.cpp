#include "kernels/cuda/check.hpp"

namespace troupe::kernels::cuda {

void check_cuda(cudaError_t st, const char* expr, const char* file, int line) {
  if (st == cudaSuccess) return;
  throw CudaError(std::string(file) + ":" + std::to_string(line) + ": " + expr + " failed: " +
                  cudaGetErrorName(st) + " (" + cudaGetErrorString(st) + ")");
}

void check_cublas(cublasStatus_t st, const char* expr, const char* file, int line) {
  if (st == CUBLAS_STATUS_SUCCESS) return;
  throw CudaError(std::string(file) + ":" + std::to_string(line) + ": " + expr + " failed: " +
                  cublasGetStatusName(st) + " (" + cublasGetStatusString(st) + ")");
}

void check_launch(const char* kernel, const char* file, int line) {
  const cudaError_t st = cudaGetLastError();
  if (st == cudaSuccess) return;
  throw CudaError(std::string(file) + ":" + std::to_string(line) + ": launch of " + kernel + " failed: " +
                  cudaGetErrorName(st) + " (" + cudaGetErrorString(st) + ")");
}

}  // namespace troupe::kernels::cuda
