#include "kernels/cpu/activation.hpp"

#include <cmath>

#include "kernels/cpu/simd.hpp"

namespace troupe::kernels::cpu {

namespace {

TROUPE_SIMD_CLONES void relu_forward(const float* x, float* y, int64_t count) {
  for (int64_t k = 0; k < count; ++k) y[k] = x[k] > 0.0f ? x[k] : 0.0f;
}

TROUPE_SIMD_CLONES void relu_backward(const float* y, const float* dy, float* dx, int64_t count) {
  for (int64_t k = 0; k < count; ++k) dx[k] = y[k] > 0.0f ? dy[k] : 0.0f;
}

TROUPE_SIMD_CLONES void sigmoid_backward(const float* y, const float* dy, float* dx, int64_t count) {
  for (int64_t k = 0; k < count; ++k) dx[k] = dy[k] * y[k] * (1.0f - y[k]);
}

TROUPE_SIMD_CLONES void tanh_backward(const float* y, const float* dy, float* dx, int64_t count) {
  for (int64_t k = 0; k < count; ++k) dx[k] = dy[k] * (1.0f - y[k] * y[k]);
}

TROUPE_SIMD_CLONES void copy(const float* x, float* y, int64_t count) {
  for (int64_t k = 0; k < count; ++k) y[k] = x[k];
}

}  // namespace

void activation_forward(Activation act, const float* x, float* y, int64_t count) {
  switch (act) {
    case Activation::identity:
      if (x != y) copy(x, y, count);
      return;
    case Activation::relu: relu_forward(x, y, count); return;
    case Activation::sigmoid:
      for (int64_t k = 0; k < count; ++k) y[k] = 1.0f / (1.0f + std::exp(-x[k]));
      return;
    case Activation::tanh:
      for (int64_t k = 0; k < count; ++k) y[k] = std::tanh(x[k]);
      return;
  }
}

void activation_backward(Activation act, const float* y, const float* dy, float* dx, int64_t count) {
  switch (act) {
    case Activation::identity:
      if (dy != dx) copy(dy, dx, count);
      return;
    case Activation::relu: relu_backward(y, dy, dx, count); return;
    case Activation::sigmoid: sigmoid_backward(y, dy, dx, count); return;
    case Activation::tanh: tanh_backward(y, dy, dx, count); return;
  }
}

}  // namespace troupe::kernels::cpu
