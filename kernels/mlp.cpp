#include "kernels/mlp.hpp"

#include <cstdio>
#include <stdexcept>
#include <string>

#include "kernels/cpu/mlp_cpu.hpp"
#include "kernels/device.hpp"
#ifdef TROUPE_HAVE_CUDA
#include "kernels/cuda/mlp_cuda.hpp"
#endif

namespace troupe::kernels {

void Mlp::check_sizes(std::span<const float> params, const std::span<float>* grad, const int32_t* labels,
                      int64_t n) const {
  if (static_cast<int64_t>(params.size()) != num_params())
    throw std::invalid_argument("Mlp: params has " + std::to_string(params.size()) + " elements, model has " +
                                std::to_string(num_params()));
  if (grad && static_cast<int64_t>(grad->size()) != num_params())
    throw std::invalid_argument("Mlp: grad has " + std::to_string(grad->size()) + " elements, model has " +
                                std::to_string(num_params()));
  if (n < 0) throw std::invalid_argument("Mlp: negative batch size");
  if (!labels) return;
  const int64_t classes = spec_.outputs() == 1 ? 2 : spec_.outputs();
  for (int64_t i = 0; i < n; ++i)
    if (labels[i] < 0 || labels[i] >= classes)
      throw std::invalid_argument("Mlp: label " + std::to_string(labels[i]) + " of sample " + std::to_string(i) +
                                  " is outside [0, " + std::to_string(classes) + ")");
}

std::unique_ptr<Mlp> make_mlp(const MlpSpec& spec, const MlpOptions& options) {
  const Backend b = resolve_backend(options.backend);
#ifdef TROUPE_HAVE_CUDA
  if (b == Backend::cuda) {
    try {
      return std::make_unique<cuda::CudaMlp>(spec, options);
    } catch (const cuda::CudaError& e) {
      // A device that answers the probe can still fail here (bad index, out
      // of memory): the model still runs, on the CPU, and says so.
      std::fprintf(stderr, "troupe kernels: CUDA model on device %d failed (%s); falling back to the CPU backend\n",
                   options.cuda_device, e.what());
    }
  }
#endif
  (void)b;
  return std::make_unique<cpu::CpuMlp>(spec, options.cpu_threads);
}

}  // namespace troupe::kernels
