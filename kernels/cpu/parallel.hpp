#pragma once
// Split an elementwise loop into contiguous chunks over the calling thread's
// OpenMP team, or run it inline when it is too small to be worth a fork/join.
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/simd.hpp"

namespace troupe::kernels::cpu {

/// Calls fn(begin, end) over [0, n) in per-thread contiguous chunks (multiples
/// of 16 elements, so each chunk starts 64-byte aligned when the base is).
/// Thread-safe as long as fn is for disjoint ranges.
template <class Fn>
void parallel_chunks(int64_t n, Fn&& fn) {
  if (n < TROUPE_OMP_MIN_ELEMENTS || omp_get_max_threads() == 1) {
    fn(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const int64_t t = omp_get_thread_num();
    const int64_t threads = omp_get_num_threads();
    const int64_t chunk = ((n + threads - 1) / threads + 15) / 16 * 16;
    const int64_t begin = std::min(n, t * chunk);
    const int64_t end = std::min(n, begin + chunk);
    if (begin < end) fn(begin, end);
  }
}

}  // namespace troupe::kernels::cpu
