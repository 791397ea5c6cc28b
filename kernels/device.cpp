#include "kernels/device.hpp"

#include <atomic>
#include <cstdio>

namespace troupe::kernels {

#ifndef TROUPE_HAVE_CUDA
bool cuda_compiled() { return false; }
bool cuda_usable() { return false; }
std::string cuda_unusable_reason() { return "CUDA backend not compiled in (nvcc was not found at configure time)"; }
#else
bool cuda_compiled() { return true; }
// cuda_usable() and cuda_unusable_reason() live in cuda/device_query.cpp,
// which needs the CUDA runtime.
#endif

Backend resolve_backend(Backend requested) {
  if (requested == Backend::cpu) return Backend::cpu;
  if (cuda_usable()) return Backend::cuda;
  static std::atomic<bool> logged{false};
  if (!logged.exchange(true)) {
    std::fprintf(stderr, "troupe kernels: CUDA requested but not usable (%s); falling back to the CPU backend\n",
                 cuda_unusable_reason().c_str());
  }
  return Backend::cpu;
}

}  // namespace troupe::kernels
