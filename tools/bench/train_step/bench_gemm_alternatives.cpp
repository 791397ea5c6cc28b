#include "tools/bench/train_step/bench_gemm_alternatives.hpp"

#include <dlfcn.h>

namespace troupe::bench {

namespace {

enum { kRowMajor = 101, kNoTrans = 111 };
using CblasSgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*,
                            int);
using OpenblasGetConfig = char* (*)();
using OpenblasGetCorename = char* (*)();

CblasSgemm g_sgemm = nullptr;
void* g_lib = nullptr;

void openblas_call(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C) {
  g_sgemm(kRowMajor, kNoTrans, kNoTrans, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), 1.0f, A,
          static_cast<int>(K), B, static_cast<int>(N), 0.0f, C, static_cast<int>(N));
}

}  // namespace

GemmFn openblas_gemm(std::string* why) {
  if (!g_lib) g_lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  if (!g_lib) {
    if (why) *why = dlerror();
    return nullptr;
  }
  g_sgemm = reinterpret_cast<CblasSgemm>(dlsym(g_lib, "cblas_sgemm"));
  if (!g_sgemm) {
    if (why) *why = "libopenblas.so.0 has no cblas_sgemm";
    return nullptr;
  }
  return &openblas_call;
}

std::string openblas_config() {
  if (!g_lib) return "";
  auto core = reinterpret_cast<OpenblasGetCorename>(dlsym(g_lib, "openblas_get_corename"));
  return core ? core() : "";
}

void naive_gemm(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C) {
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * N;
    for (int64_t j = 0; j < N; ++j) c[j] = 0.0f;
    for (int64_t k = 0; k < K; ++k) {
      const float a = A[i * K + k];
      const float* b = B + k * N;
      for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
    }
  }
}

}  // namespace troupe::bench
