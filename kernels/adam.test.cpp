#include "kernels/adam.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <vector>

#include "kernels/testing.hpp"

using namespace troupe::kernels;

TEST_CASE("AdamState on two slices gives the same parameters as one state over the whole vector") {
  const std::size_t n = 1000;
  std::vector<float> whole = testing::random_floats(n, 61);
  std::vector<float> split = whole;
  AdamState all(0, n);
  AdamState lo(0, 400), hi(400, n);
  for (int t = 1; t <= 5; ++t) {
    const auto g = testing::random_floats(n, 70 + t);
    all.step(whole, g);
    lo.step(std::span(split).subspan(0, 400), std::span(g).subspan(0, 400));
    hi.step(std::span(split).subspan(400), std::span(g).subspan(400));
  }
  CHECK(whole == split);
  CHECK(all.step_count() == 5);
  CHECK(hi.begin() == 400);
  CHECK(hi.size() == 600);
}

TEST_CASE("AdamState rejects a slice of the wrong size and restores a checkpoint exactly") {
  AdamState s(10, 20);
  std::vector<float> p(9), g(10);
  CHECK_THROWS_AS(s.step(p, g), std::invalid_argument);
  std::vector<float> params = testing::random_floats(10, 81), copy = params;
  for (int t = 0; t < 3; ++t) s.step(params, testing::random_floats(10, 90 + t));
  AdamState r(10, 20);
  r.restore(s.step_count(), s.m(), s.v());
  const auto g4 = testing::random_floats(10, 99);
  std::vector<float> a = params, b = params;
  s.step(a, g4);
  r.step(b, g4);
  CHECK(a == b);
}
