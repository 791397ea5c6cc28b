#include "kernels/cpu/convert.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

using namespace troupe::kernels;

namespace {

float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// value of a 16-bit float with `mant` mantissa bits and exponent bias `bias`
double decode16(uint16_t h, int mant, int exp_bits) {
  const int bias = (1 << (exp_bits - 1)) - 1;
  const int e = (h >> mant) & ((1 << exp_bits) - 1);
  const int m = h & ((1 << mant) - 1);
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (e == (1 << exp_bits) - 1) return m ? NAN : sign * INFINITY;
  if (e == 0) return sign * std::ldexp(m, 1 - bias - mant);
  return sign * std::ldexp(m + (1 << mant), e - bias - mant);
}

// x rounded to a 16-bit format (nearest, ties to even), computed in double
double round16(float x, int mant, int exp_bits) {
  if (!std::isfinite(x) || x == 0.0f) return x;
  const int bias = (1 << (exp_bits - 1)) - 1;
  int e;
  std::frexp(static_cast<double>(x), &e);  // |x| in [2^(e-1), 2^e)
  const int exponent = std::max(e - 1, 1 - bias);
  const double q = std::ldexp(1.0, exponent - mant);
  const double r = std::nearbyint(static_cast<double>(x) / q) * q;  // default mode: ties to even
  const double max_finite = std::ldexp((1 << (mant + 1)) - 1, bias - mant);
  if (std::fabs(r) > max_finite) return std::copysign(INFINITY, x);
  return r;
}

std::vector<float> awkward_floats() {
  std::mt19937 gen(5);
  std::vector<float> v;
  for (int k = 0; k < 200000; ++k) v.push_back(bits_to_float(static_cast<uint32_t>(gen())));  // every exponent, NaN, inf
  std::uniform_real_distribution<float> mid(-70000.0f, 70000.0f);
  for (int k = 0; k < 100000; ++k) v.push_back(mid(gen));
  std::uniform_real_distribution<float> tiny(-1e-4f, 1e-4f);  // fp16 subnormal range
  for (int k = 0; k < 100000; ++k) v.push_back(tiny(gen));
  // exact halfway cases for both formats
  for (uint32_t h = 0x3c00; h < 0x3c40; ++h) v.push_back(static_cast<float>(decode16(h, 10, 5)) * (1.0f + 0x1p-11f));
  for (uint32_t u = 0x3f800000; u < 0x3f800000 + (64u << 16); u += 1u << 16) v.push_back(bits_to_float(u | 0x8000u));
  for (float f : {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, -65520.0f, 5.96046448e-08f, 2.98023224e-08f,
                  2.98023230e-08f, 1e-45f, INFINITY, -INFINITY, NAN, 3.3895313e38f, 3.4028235e38f})
    v.push_back(f);
  return v;
}

}  // namespace

TEST_CASE("fp16 and bf16 decode exactly for all 65536 bit patterns") {
  std::vector<uint16_t> all(65536);
  for (uint32_t h = 0; h < 65536; ++h) all[h] = static_cast<uint16_t>(h);
  std::vector<float> f16(65536), bf16(65536);
  cpu::f16_to_f32(all.data(), f16.data(), 65536);
  cpu::bf16_to_f32(all.data(), bf16.data(), 65536);
  int bad16 = 0, badbf = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const double w16 = decode16(static_cast<uint16_t>(h), 10, 5), wbf = decode16(static_cast<uint16_t>(h), 7, 8);
    if (std::isnan(w16) ? !std::isnan(f16[h]) : (f16[h] != w16 || std::signbit(f16[h]) != std::signbit(w16))) ++bad16;
    if (std::isnan(wbf) ? !std::isnan(bf16[h]) : (bf16[h] != wbf || std::signbit(bf16[h]) != std::signbit(wbf))) ++badbf;
  }
  CHECK(bad16 == 0);
  CHECK(badbf == 0);
}

TEST_CASE("fp32 to fp16 and bf16 round to nearest even, exactly, over awkward inputs") {
  const auto x = awkward_floats();
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint16_t> h(x.size()), b(x.size());
  cpu::f32_to_f16(x.data(), h.data(), n);
  cpu::f32_to_bf16(x.data(), b.data(), n);
  std::vector<float> hf(x.size()), bf(x.size());
  cpu::f16_to_f32(h.data(), hf.data(), n);
  cpu::bf16_to_f32(b.data(), bf.data(), n);
  int bad16 = 0, badbf = 0;
  for (std::size_t k = 0; k < x.size(); ++k) {
    if (std::isnan(x[k])) {
      bad16 += !std::isnan(hf[k]);
      badbf += !std::isnan(bf[k]);
      continue;
    }
    const double w16 = round16(x[k], 10, 5), wbf = round16(x[k], 7, 8);
    if (hf[k] != w16 || std::signbit(hf[k]) != std::signbit(x[k])) {
      if (bad16 < 5) MESSAGE("fp16 of " << x[k] << " gave " << hf[k] << " want " << w16);
      ++bad16;
    }
    if (bf[k] != wbf || std::signbit(bf[k]) != std::signbit(x[k])) {
      if (badbf < 5) MESSAGE("bf16 of " << x[k] << " gave " << bf[k] << " want " << wbf);
      ++badbf;
    }
  }
  CHECK(bad16 == 0);
  CHECK(badbf == 0);
}
