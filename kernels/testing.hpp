#pragma once
// Helpers for kernel tests only: fresh random inputs (never zero) and error
// measures against double-precision references.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace troupe::kernels::testing {

/// n floats uniform in [lo, hi] with |x| >= 1e-3 (a zero input can hide a
/// missing term), from a seeded generator. Thread-safe.
inline std::vector<float> random_floats(std::size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) {
    do x = dist(gen);
    while (std::fabs(x) < 1e-3f);
  }
  return v;
}

/// n labels uniform in [0, classes). Thread-safe.
inline std::vector<int32_t> random_labels(std::size_t n, int32_t classes, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<int32_t> dist(0, classes - 1);
  std::vector<int32_t> v(n);
  for (int32_t& x : v) x = dist(gen);
  return v;
}

/// max_k |got[k] - want[k]| / max(|want[k]|, floor). Thread-safe.
template <class Got, class Want>
double max_rel_error(const Got& got, const Want& want, double floor = 1.0) {
  double worst = 0.0;
  for (std::size_t k = 0; k < want.size(); ++k) {
    const double err = std::fabs(static_cast<double>(got[k]) - static_cast<double>(want[k])) /
                       std::fmax(std::fabs(static_cast<double>(want[k])), floor);
    worst = std::fmax(worst, std::isnan(err) ? INFINITY : err);
  }
  return worst;
}

}  // namespace troupe::kernels::testing
