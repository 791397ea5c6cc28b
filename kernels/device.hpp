#pragma once
// Run-time choice of backend. CUDA code is compiled in when nvcc was found
// (TROUPE_HAVE_CUDA); whether a device is usable is only known at run time.
#include <string>

#include "kernels/types.hpp"

namespace troupe::kernels {

/// True when this build contains the CUDA backend. Thread-safe.
bool cuda_compiled();

/// True when the CUDA backend is compiled in and at least one device answers
/// (cudaGetDeviceCount succeeds with a count > 0). Probed once, then cached.
/// Thread-safe; never throws, never aborts without a GPU.
bool cuda_usable();

/// Why CUDA is not usable ("not compiled in", "cudaGetDeviceCount: ..."), or
/// "" when it is. Thread-safe.
std::string cuda_unusable_reason();

/// The backend to use for a request: cuda when asked for and usable; otherwise
/// cpu, printing one line to stderr that says why (once per process).
/// Thread-safe.
Backend resolve_backend(Backend requested);

}  // namespace troupe::kernels
