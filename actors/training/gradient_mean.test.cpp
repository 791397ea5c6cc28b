// The averaging step (gradient_mean.hpp): g = Σ nᵢgᵢ / Σ nᵢ; the same to the
// bit whatever the bucketing; a push without samples weighs nothing; with no
// samples at all the gradient is left as it was.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <vector>

#include "actors/training/gradient_mean.hpp"

using namespace troupe;
using namespace troupe::train;

namespace {

constexpr int64_t kSlice = 12;

float value(int who, int64_t i) { return 0.01f * std::sin(static_cast<float>(1 + i * 7 + who * 131)); }

/// The gradient of `who`, cut at `cuts` (offsets where a bucket starts, 0 first).
std::map<int64_t, Tensor> buckets_of(int who, const std::vector<int64_t>& cuts) {
  std::map<int64_t, Tensor> out;
  for (std::size_t k = 0; k < cuts.size(); ++k) {
    const int64_t b = cuts[k], e = k + 1 < cuts.size() ? cuts[k + 1] : kSlice;
    Tensor t = Tensor::empty(DType::f32, {e - b});
    for (int64_t i = b; i < e; ++i) t.data_as<float>()[i - b] = value(who, i);
    out.emplace(b, std::move(t));
  }
  return out;
}

Contribution push(int slot, int64_t samples, const std::map<int64_t, Tensor>& buckets) {
  Contribution c;
  c.slot = slot;
  c.samples = samples;
  c.buckets = &buckets;
  return c;
}

}  // namespace

TEST_CASE("the weighted mean of the pushes, by sample count") {
  const auto a = buckets_of(0, {0}), b = buckets_of(1, {0});
  std::vector<float> g(kSlice);
  CHECK(weighted_mean({push(0, 3, a), push(1, 1, b)}, g) == 4);
  for (int64_t i = 0; i < kSlice; ++i)
    CHECK(g[static_cast<std::size_t>(i)] == doctest::Approx(0.75 * value(0, i) + 0.25 * value(1, i)));
}

TEST_CASE("the bucketing does not change a bit of the result") {
  const auto a = buckets_of(0, {0}), b = buckets_of(1, {0});
  const auto a3 = buckets_of(0, {0, 5, 9}), b2 = buckets_of(1, {0, 1});
  std::vector<float> whole(kSlice), cut(kSlice);
  (void)weighted_mean({push(0, 4, a), push(1, 2, b)}, whole);
  (void)weighted_mean({push(0, 4, a3), push(1, 2, b2)}, cut);
  CHECK(whole == cut);
}

TEST_CASE("a push without samples weighs nothing; none at all leaves the gradient as it was") {
  const auto a = buckets_of(0, {0}), b = buckets_of(1, {0});
  std::vector<float> g(kSlice), alone(kSlice);
  CHECK(weighted_mean({push(0, 0, a), push(1, 5, b)}, g) == 5);
  CHECK(weighted_mean({push(1, 5, b)}, alone) == 5);
  CHECK(g == alone);
  for (int64_t i = 0; i < kSlice; ++i) CHECK(g[static_cast<std::size_t>(i)] == value(1, i));
  std::vector<float> untouched(kSlice, 7.0f);
  CHECK(weighted_mean({push(0, 0, a)}, untouched) == 0);
  CHECK(untouched == std::vector<float>(kSlice, 7.0f));
}
