#include "kernels/cpu/bias.hpp"

#include <cmath>

#include "kernels/cpu/simd.hpp"

namespace troupe::kernels::cpu {

TROUPE_SIMD_CLONES void bias_add(float* y, const float* b, int64_t n, int64_t d) {
  for (int64_t i = 0; i < n; ++i) {
    float* row = y + i * d;
    for (int64_t j = 0; j < d; ++j) row[j] += b[j];
  }
}

namespace {

TROUPE_SIMD_CLONES void bias_relu(float* y, const float* b, int64_t n, int64_t d) {
  for (int64_t i = 0; i < n; ++i) {
    float* row = y + i * d;
    for (int64_t j = 0; j < d; ++j) {
      const float z = row[j] + b[j];
      row[j] = z > 0.0f ? z : 0.0f;
    }
  }
}

// sigmoid and tanh call libm per element: GCC vectorises them only with
// -ffast-math (glibc's SIMD variants), which this library does not use.
void bias_sigmoid(float* y, const float* b, int64_t n, int64_t d) {
  for (int64_t i = 0; i < n; ++i) {
    float* row = y + i * d;
    for (int64_t j = 0; j < d; ++j) row[j] = 1.0f / (1.0f + std::exp(-(row[j] + b[j])));
  }
}

void bias_tanh(float* y, const float* b, int64_t n, int64_t d) {
  for (int64_t i = 0; i < n; ++i) {
    float* row = y + i * d;
    for (int64_t j = 0; j < d; ++j) row[j] = std::tanh(row[j] + b[j]);
  }
}

}  // namespace

void bias_act_forward(float* y, const float* b, int64_t n, int64_t d, Activation act) {
  switch (act) {
    case Activation::identity: bias_add(y, b, n, d); return;
    case Activation::relu: bias_relu(y, b, n, d); return;
    case Activation::sigmoid: bias_sigmoid(y, b, n, d); return;
    case Activation::tanh: bias_tanh(y, b, n, d); return;
  }
}

TROUPE_SIMD_CLONES void bias_backward(float* db, const float* dy, int64_t n, int64_t d) {
  // Row by row so the inner loop runs along contiguous memory (vectorised
  // over j), accumulating whole rows instead of striding down columns.
  for (int64_t j = 0; j < d; ++j) db[j] = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = dy + i * d;
    for (int64_t j = 0; j < d; ++j) db[j] += row[j];
  }
}

}  // namespace troupe::kernels::cpu
