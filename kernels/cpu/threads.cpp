#include "kernels/cpu/threads.hpp"

#include <omp.h>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace troupe::kernels::cpu {

void set_num_threads(int n) { omp_set_num_threads(n < 1 ? 1 : n); }

int num_threads() { return omp_get_max_threads(); }

#if defined(__SSE__)
namespace {
constexpr unsigned kFtzDaz = 0x8040;  // MXCSR: flush-to-zero (bit 15) | denormals-are-zero (bit 6)
}
void flush_denormals() { _mm_setcsr(_mm_getcsr() | kFtzDaz); }
bool flushes_denormals() { return (_mm_getcsr() & kFtzDaz) == kFtzDaz; }
#else
void flush_denormals() {}
bool flushes_denormals() { return false; }
#endif

}  // namespace troupe::kernels::cpu
