#include "kernels/cpu/adam.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/cpu/threads.hpp"
#include "kernels/testing.hpp"

using namespace troupe::kernels;

TEST_CASE("adam_update follows the textbook formula step by step, with and without weight decay") {
  // Reference: Kingma & Ba with torch's eps placement, in double:
  //   g += wd p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
  //   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
  // Tolerance: 1e-5 relative after 25 steps, floor 1e-3 on p and 1e-2 on m, v
  // (moments pass near zero where relative error means nothing): float
  // rounding in each step compounds slightly through m and v.
  for (float wd : {0.0f, 0.01f})
    for (int threads : {1, 2})
      for (std::size_t n : {std::size_t{257}, std::size_t{200003}}) {
        CAPTURE(wd);
        CAPTURE(n);
        cpu::set_num_threads(threads);
        AdamHyper h;
        h.lr = 3e-3f;
        h.weight_decay = wd;
        std::vector<float> p = testing::random_floats(n, 51), m(n, 0.0f), v(n, 0.0f);
        std::vector<double> pd(p.begin(), p.end()), md(n, 0.0), vd(n, 0.0);
        for (int t = 1; t <= 25; ++t) {
          const auto g = testing::random_floats(n, 1000 + t, -2.0f, 2.0f);
          cpu::adam_update(p.data(), g.data(), m.data(), v.data(), static_cast<int64_t>(n), h, t);
          const double b1 = h.beta1, b2 = h.beta2;
          const double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
          for (std::size_t k = 0; k < n; ++k) {
            const double gk = g[k] + static_cast<double>(wd) * pd[k];
            md[k] = b1 * md[k] + (1 - b1) * gk;
            vd[k] = b2 * vd[k] + (1 - b2) * gk * gk;
            pd[k] -= static_cast<double>(h.lr) / bc1 * md[k] / (std::sqrt(vd[k]) / std::sqrt(bc2) + h.eps);
          }
          if (t == 1 || t == 25) {
            CAPTURE(t);
            CHECK(testing::max_rel_error(p, pd, 1e-3) <= 1e-5);
            CHECK(testing::max_rel_error(m, md, 1e-2) <= 1e-5);
            CHECK(testing::max_rel_error(v, vd, 1e-2) <= 1e-5);
          }
        }
      }
  cpu::set_num_threads(1);
}
