#include "kernels/mlp_spec.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

using namespace troupe::kernels;

TEST_CASE("the flat layout puts each layer's W then b contiguously, in layer order") {
  const auto spec = MlpSpec::make({784, 256, 128, 10});
  const ParamLayout lay(spec);
  REQUIRE(lay.layers().size() == 3);
  CHECK(lay.num_params() == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
  CHECK(lay.layer(0).w_offset == 0);
  CHECK(lay.layer(0).b_offset == 784 * 256);
  CHECK(lay.layer(1).begin() == lay.layer(0).end());
  CHECK(lay.layer(2).end() == lay.num_params());
  CHECK(lay.layer(2).act == Activation::identity);
  CHECK(lay.layer(0).act == Activation::relu);
  CHECK(lay.max_width() == 784);
}

TEST_CASE("specs parse from text and bad specs are refused with a reason") {
  auto s = MlpSpec::parse("784-256-128-10");
  REQUIRE(s.has_value());
  CHECK(s->sizes == std::vector<int64_t>{784, 256, 128, 10});
  CHECK(s->to_string() == "784-256-128-10 relu softmax_ce");
  CHECK_FALSE(MlpSpec::parse("784").has_value());
  CHECK_FALSE(MlpSpec::parse("784--10").has_value());
  CHECK_FALSE(MlpSpec::parse("a-10").has_value());
  CHECK_FALSE(MlpSpec::parse("784-0-10").has_value());
  MlpSpec bad = MlpSpec::make({4, 3});
  bad.activations.back() = Activation::relu;
  CHECK_FALSE(bad.check().empty());
  CHECK_THROWS_AS(ParamLayout{bad}, std::invalid_argument);
}

TEST_CASE("init is deterministic given the seed and uses He / Glorot bounds") {
  const auto spec = MlpSpec::make({50, 40, 3}, Activation::relu);
  const ParamLayout lay(spec);
  std::vector<float> a(lay.num_params()), b(lay.num_params()), c(lay.num_params());
  init_params(spec, a, 7);
  init_params(spec, b, 7);
  init_params(spec, c, 8);
  CHECK(a == b);
  CHECK(a != c);
  const float he = std::sqrt(6.0f / 50.0f), glorot = std::sqrt(6.0f / 43.0f);
  float max0 = 0, max1 = 0;
  for (int64_t k = 0; k < lay.layer(0).w_size(); ++k) max0 = std::fmax(max0, std::fabs(a[k]));
  for (int64_t k = 0; k < lay.layer(1).w_size(); ++k) max1 = std::fmax(max1, std::fabs(a[lay.layer(1).w_offset + k]));
  CHECK(max0 <= he);
  CHECK(max0 > 0.9f * he);
  CHECK(max1 <= glorot);
  CHECK(max1 > 0.8f * glorot);
  for (int64_t k = 0; k < 40; ++k) CHECK(a[lay.layer(0).b_offset + k] == 0.0f);
}
