// cuda_usable() for builds with the CUDA backend (declared in kernels/device.hpp).
#include <cuda_runtime_api.h>

#include <mutex>
#include <string>

#include "kernels/device.hpp"

namespace troupe::kernels {

namespace {

struct Probe {
  bool usable = false;
  std::string reason;
};

const Probe& probe() {
  static const Probe p = [] {
    Probe r;
    int count = 0;
    // Without a GPU or driver this returns an error (e.g. "CUDA driver version
    // is insufficient", or "no CUDA-capable device"); never abort on it.
    const cudaError_t st = cudaGetDeviceCount(&count);
    if (st != cudaSuccess) {
      r.reason = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(st);
      (void)cudaGetLastError();  // clear the sticky error for later callers
    } else if (count == 0) {
      r.reason = "no CUDA device found";
    } else {
      r.usable = true;
    }
    return r;
  }();
  return p;
}

}  // namespace

bool cuda_usable() { return probe().usable; }

std::string cuda_unusable_reason() { return probe().reason; }

}  // namespace troupe::kernels
