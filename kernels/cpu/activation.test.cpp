#include "kernels/cpu/activation.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/testing.hpp"

using namespace troupe::kernels;

namespace {

double act_ref(Activation a, double x) {
  switch (a) {
    case Activation::identity: return x;
    case Activation::relu: return x > 0 ? x : 0;
    case Activation::sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case Activation::tanh: return std::tanh(x);
  }
  return 0;
}

// derivative in terms of the input x
double act_grad_ref(Activation a, double x) {
  switch (a) {
    case Activation::identity: return 1;
    case Activation::relu: return x > 0 ? 1 : 0;
    case Activation::sigmoid: { const double s = 1.0 / (1.0 + std::exp(-x)); return s * (1 - s); }
    case Activation::tanh: { const double t = std::tanh(x); return 1 - t * t; }
  }
  return 0;
}

}  // namespace

TEST_CASE("activations forward and backward match double-precision references") {
  // Tolerance: 2e-6 relative (floor 1): a few float ulps; the backward uses
  // the float output y, so its error is that of y times a factor <= 2.
  const std::size_t n = 4099;  // not a multiple of any vector width
  uint64_t seed = 1;
  for (Activation a : {Activation::identity, Activation::relu, Activation::sigmoid, Activation::tanh}) {
    CAPTURE(activation_name(a));
    const auto x = testing::random_floats(n, seed++, -6.0f, 6.0f);
    const auto dy = testing::random_floats(n, seed++);
    std::vector<float> y(n), dx(n);
    std::vector<double> y_ref(n), dx_ref(n);
    for (std::size_t k = 0; k < n; ++k) {
      y_ref[k] = act_ref(a, x[k]);
      dx_ref[k] = dy[k] * act_grad_ref(a, x[k]);
    }
    cpu::activation_forward(a, x.data(), y.data(), static_cast<int64_t>(n));
    CHECK(testing::max_rel_error(y, y_ref) <= 2e-6);
    cpu::activation_backward(a, y.data(), dy.data(), dx.data(), static_cast<int64_t>(n));
    CHECK(testing::max_rel_error(dx, dx_ref) <= 2e-6);
    // in place gives the same bits
    std::vector<float> inplace = x;
    cpu::activation_forward(a, inplace.data(), inplace.data(), static_cast<int64_t>(n));
    CHECK(inplace == y);
  }
}
