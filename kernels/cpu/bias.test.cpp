#include "kernels/cpu/bias.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/testing.hpp"

using namespace troupe::kernels;

TEST_CASE("bias add, fused bias+activation and bias gradient match double references") {
  // Tolerance: 2e-6 relative (floor 1) elementwise; 1e-6 * n for the column
  // sums (float summation of n terms of magnitude <= 1).
  const int64_t n = 37, d = 259;
  const auto y0 = testing::random_floats(n * d, 11, -3.0f, 3.0f);
  const auto b = testing::random_floats(d, 12);
  for (Activation a : {Activation::identity, Activation::relu, Activation::sigmoid, Activation::tanh}) {
    CAPTURE(activation_name(a));
    std::vector<float> y = y0;
    cpu::bias_act_forward(y.data(), b.data(), n, d, a);
    std::vector<double> ref(n * d);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < d; ++j) {
        const double z = static_cast<double>(y0[i * d + j]) + b[j];
        ref[i * d + j] = a == Activation::relu      ? (z > 0 ? z : 0)
                         : a == Activation::sigmoid ? 1 / (1 + std::exp(-z))
                         : a == Activation::tanh    ? std::tanh(z)
                                                    : z;
      }
    CHECK(testing::max_rel_error(y, ref) <= 2e-6);
  }
  std::vector<float> y = y0;
  cpu::bias_add(y.data(), b.data(), n, d);
  std::vector<double> ref(n * d);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) ref[i * d + j] = static_cast<double>(y0[i * d + j]) + b[j];
  CHECK(testing::max_rel_error(y, ref) <= 2e-6);

  std::vector<float> db(d, 123.0f);  // overwritten, not accumulated
  cpu::bias_backward(db.data(), y0.data(), n, d);
  std::vector<double> db_ref(d, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) db_ref[j] += y0[i * d + j];
  CHECK(testing::max_rel_error(db, db_ref) <= 1e-6 * n);
}
