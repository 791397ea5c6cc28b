#include "actors/training/gradient_mean.hpp"

#include <cstring>

#include "kernels/cpu/blas1.hpp"

namespace troupe::train {

int64_t weighted_mean(const std::vector<Contribution>& pushes, std::span<float> grad) {
  int64_t n = 0;
  for (const auto& p : pushes) n += p.samples;
  if (n <= 0) return n;
  bool first = true;
  for (const auto& p : pushes) {
    if (p.samples == 0) continue;
    const float w = static_cast<float>(static_cast<double>(p.samples) / static_cast<double>(n));
    for (const auto& [offset, t] : *p.buckets) {
      const float* g = t.data_as<float>();
      float* out = grad.data() + offset;
      if (first) {
        std::memcpy(out, g, static_cast<std::size_t>(t.numel()) * sizeof(float));
        if (w != 1.0f) kernels::cpu::scale(out, t.numel(), w);
      } else {
        kernels::cpu::axpy(t.numel(), w, g, out);
      }
    }
    first = false;
  }
  return n;
}

}  // namespace troupe::train
