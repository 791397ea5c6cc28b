#include "kernels/cpu/blas1.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "kernels/cpu/threads.hpp"
#include "kernels/testing.hpp"

using namespace troupe::kernels;

TEST_CASE("scale and axpy match double references, small and large (threaded) sizes") {
  // Tolerance: 1e-6 relative (floor 1): one or two roundings per element.
  for (int threads : {1, 2}) {
    cpu::set_num_threads(threads);
    for (std::size_t n : {std::size_t{1}, std::size_t{1023}, std::size_t{300001}}) {
      CAPTURE(n);
      const auto x = testing::random_floats(n, 41);
      const auto y0 = testing::random_floats(n, 42);
      std::vector<float> y = y0;
      cpu::axpy(static_cast<int64_t>(n), -0.3f, x.data(), y.data());
      std::vector<double> ref(n);
      for (std::size_t k = 0; k < n; ++k) ref[k] = y0[k] + -0.3 * static_cast<double>(x[k]);
      CHECK(testing::max_rel_error(y, ref) <= 1e-6);
      std::vector<float> s = x;
      cpu::scale(s.data(), static_cast<int64_t>(n), 1.7f);
      for (std::size_t k = 0; k < n; ++k) ref[k] = 1.7 * static_cast<double>(x[k]);
      CHECK(testing::max_rel_error(s, ref) <= 1e-6);
    }
  }
  cpu::set_num_threads(1);
}
