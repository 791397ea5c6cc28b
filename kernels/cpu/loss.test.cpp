#include "kernels/cpu/loss.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/testing.hpp"

using namespace troupe::kernels;

TEST_CASE("softmax cross-entropy forward and backward match double references, also for huge logits") {
  // Tolerance: 1e-5 relative (floor 1): log-sum-exp over c terms in float.
  const int64_t n = 19, c = 10;
  for (float range : {3.0f, 80.0f, 1e4f}) {  // 1e4: exp would overflow without the max shift
    CAPTURE(range);
    const auto z = testing::random_floats(n * c, 21 + static_cast<uint64_t>(range), -range, range);
    const auto labels = testing::random_labels(n, static_cast<int32_t>(c), 22);
    std::vector<float> loss(n), dz(n * c);
    cpu::softmax_ce_forward(z.data(), labels.data(), n, c, loss.data());
    const float scale = 0.37f;
    cpu::softmax_ce_backward(z.data(), labels.data(), n, c, scale, dz.data());
    std::vector<double> loss_ref(n), dz_ref(n * c);
    for (int64_t i = 0; i < n; ++i) {
      double mx = -INFINITY;
      for (int64_t j = 0; j < c; ++j) mx = std::fmax(mx, z[i * c + j]);
      double s = 0;
      for (int64_t j = 0; j < c; ++j) s += std::exp(z[i * c + j] - mx);
      const double lse = mx + std::log(s);
      loss_ref[i] = lse - z[i * c + labels[i]];
      for (int64_t j = 0; j < c; ++j)
        dz_ref[i * c + j] = scale * (std::exp(z[i * c + j] - lse) - (j == labels[i] ? 1.0 : 0.0));
    }
    CHECK(testing::max_rel_error(loss, loss_ref) <= 1e-5);
    CHECK(testing::max_rel_error(dz, dz_ref) <= 1e-5);
    for (float v : loss) CHECK(std::isfinite(v));
  }
}

TEST_CASE("sigmoid binary cross-entropy forward and backward match double references") {
  // Tolerance: 1e-5 relative (floor 1). Logits up to +-100: the naive
  // -t log(s) - (1-t) log(1-s) would give inf there.
  const int64_t count = 1001;
  const auto x = testing::random_floats(count, 31, -100.0f, 100.0f);
  auto t = testing::random_floats(count, 32, 0.0f, 1.0f);
  for (int64_t k = 0; k < count; k += 3) t[k] = (k % 2) ? 1.0f : 0.0f;  // hard labels too
  std::vector<float> loss(count), dx(count);
  cpu::bce_logits_forward(x.data(), t.data(), count, loss.data());
  cpu::bce_logits_backward(x.data(), t.data(), count, 0.5f, dx.data());
  std::vector<double> loss_ref(count), dx_ref(count);
  for (int64_t k = 0; k < count; ++k) {
    const double xd = x[k], td = t[k];
    loss_ref[k] = std::fmax(xd, 0.0) - xd * td + std::log1p(std::exp(-std::fabs(xd)));
    dx_ref[k] = 0.5 * (1.0 / (1.0 + std::exp(-xd)) - td);
  }
  CHECK(testing::max_rel_error(loss, loss_ref) <= 1e-5);
  CHECK(testing::max_rel_error(dx, dx_ref) <= 1e-5);
}

TEST_CASE("count_correct counts argmax hits and binary sign hits") {
  const std::vector<float> z = {0.1f, 2.0f, -1.0f, /**/ 3.0f, 2.0f, 1.0f, /**/ 0.0f, 0.0f, 5.0f};
  const std::vector<int32_t> labels = {1, 1, 2};
  CHECK(cpu::count_correct(z.data(), labels.data(), 3, 3) == 2);
  const std::vector<float> b = {0.5f, -0.5f, 2.0f};
  const std::vector<int32_t> bl = {1, 1, 0};
  CHECK(cpu::count_correct(b.data(), bl.data(), 3, 1) == 1);
}
