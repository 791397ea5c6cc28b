#pragma once
// fp32 <-> bf16 / fp16 conversion, round-to-nearest-even, IEEE special values
// kept (NaN stays NaN, quietened; infinities and signed zeros exact; fp16
// subnormals handled). 16-bit values travel as their bit patterns (uint16_t).
#include <cstdint>

namespace troupe::kernels::cpu {

/// dst[k] = bf16(src[k]). Thread-safe for distinct dst.
void f32_to_bf16(const float* src, uint16_t* dst, int64_t n);
/// dst[k] = float(bf16 src[k]) (exact). Thread-safe for distinct dst.
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n);
/// dst[k] = fp16(src[k]); magnitudes above 65504 round to infinity as IEEE says.
/// Thread-safe for distinct dst.
void f32_to_f16(const float* src, uint16_t* dst, int64_t n);
/// dst[k] = float(fp16 src[k]) (exact). Thread-safe for distinct dst.
void f16_to_f32(const uint16_t* src, float* dst, int64_t n);

}  // namespace troupe::kernels::cpu
