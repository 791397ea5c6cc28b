#pragma once
// Scalar fp32 <-> bf16/fp16 conversions on bit patterns, written once for
// both backends (host and device). Round-to-nearest-even; NaN stays NaN.
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define TROUPE_HD __host__ __device__ __forceinline__
#else
#define TROUPE_HD inline
#endif

namespace troupe::kernels::bits {

TROUPE_HD uint32_t f2u(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}

TROUPE_HD float u2f(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

/// bf16 bits of f, round-to-nearest-even; NaN becomes a quiet NaN.
TROUPE_HD uint16_t f32_to_bf16(float f) {
  const uint32_t u = f2u(f);
  const bool is_nan = (u & 0x7fffffffu) > 0x7f800000u;
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  return static_cast<uint16_t>(is_nan ? ((u >> 16) | 0x40u) : rounded);
}

/// The float of bf16 bits h (exact).
TROUPE_HD float bf16_to_f32(uint16_t h) { return u2f(static_cast<uint32_t>(h) << 16); }

/// fp16 bits of f, round-to-nearest-even (after F. Giesen's branch-light
/// method: subnormals are rounded by the FPU through a magic addend).
TROUPE_HD uint16_t f32_to_f16(float f) {
  uint32_t u = f2u(f);
  const uint32_t sign = u & 0x80000000u;
  u ^= sign;
  const uint32_t f32_inf = 255u << 23;
  const uint32_t f16_max = (127u + 16u) << 23;  // 2^16: first value that rounds to inf region
  const uint32_t denorm_magic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
  uint32_t o;
  if (u >= f16_max) {
    o = u > f32_inf ? 0x7e00u : 0x7c00u;
  } else if (u < (113u << 23)) {
    // Result is an fp16 subnormal or zero: adding 0.5 aligns the mantissa so
    // the FPU's own round-to-nearest-even does the rounding.
    o = f2u(u2f(u) + u2f(denorm_magic)) - denorm_magic;
  } else {
    const uint32_t mant_odd = (u >> 13) & 1u;
    u += (static_cast<uint32_t>(15 - 127) << 23) + 0xfffu;
    u += mant_odd;
    o = u >> 13;
  }
  return static_cast<uint16_t>(o | (sign >> 16));
}

/// The float of fp16 bits h (exact, subnormals included).
TROUPE_HD float f16_to_f32(uint16_t h) {
  const uint32_t shifted_exp = 0x7c00u << 13;
  uint32_t o = (static_cast<uint32_t>(h) & 0x7fffu) << 13;
  const uint32_t exp = shifted_exp & o;
  o += (127u - 15u) << 23;
  float r;
  if (exp == shifted_exp) {
    o += (128u - 16u) << 23;  // Inf/NaN
    r = u2f(o);
  } else if (exp == 0) {
    o += 1u << 23;  // zero/subnormal: renormalise through the FPU
    r = u2f(o) - u2f(113u << 23);
  } else {
    r = u2f(o);
  }
  return u2f(f2u(r) | ((static_cast<uint32_t>(h) & 0x8000u) << 16));
}

}  // namespace troupe::kernels::bits
