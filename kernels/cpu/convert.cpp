#include "kernels/cpu/convert.hpp"

#include "kernels/cpu/parallel.hpp"
#include "kernels/cpu/simd.hpp"
#include "kernels/float16_bits.hpp"

namespace troupe::kernels::cpu {

namespace {

TROUPE_SIMD_CLONES void f32_to_bf16_range(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t k = 0; k < n; ++k) dst[k] = bits::f32_to_bf16(src[k]);
}

TROUPE_SIMD_CLONES void bf16_to_f32_range(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t k = 0; k < n; ++k) dst[k] = bits::bf16_to_f32(src[k]);
}

TROUPE_SIMD_CLONES void f32_to_f16_range(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t k = 0; k < n; ++k) dst[k] = bits::f32_to_f16(src[k]);
}

TROUPE_SIMD_CLONES void f16_to_f32_range(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t k = 0; k < n; ++k) dst[k] = bits::f16_to_f32(src[k]);
}

}  // namespace

void f32_to_bf16(const float* src, uint16_t* dst, int64_t n) {
  parallel_chunks(n, [&](int64_t b, int64_t e) { f32_to_bf16_range(src + b, dst + b, e - b); });
}
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  parallel_chunks(n, [&](int64_t b, int64_t e) { bf16_to_f32_range(src + b, dst + b, e - b); });
}
void f32_to_f16(const float* src, uint16_t* dst, int64_t n) {
  parallel_chunks(n, [&](int64_t b, int64_t e) { f32_to_f16_range(src + b, dst + b, e - b); });
}
void f16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  parallel_chunks(n, [&](int64_t b, int64_t e) { f16_to_f32_range(src + b, dst + b, e - b); });
}

}  // namespace troupe::kernels::cpu
