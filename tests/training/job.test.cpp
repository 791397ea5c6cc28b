// The trainer's gradient buckets (grad_buckets): whole layers, last layer
// first, merged up to bucket_bytes, never across a shard boundary; together
// they cover every parameter once, and each shard's final bucket is flagged.
#include <doctest/doctest.h>

#include "actors/training/job.hpp"

using namespace troupe::train;

namespace {

JobSpec model_job(std::vector<int64_t> sizes, int shards, int64_t bucket_bytes) {
  JobSpec j;
  j.sizes = std::move(sizes);
  j.activations.assign(j.sizes.size() - 1, "relu");
  j.activations.back() = "identity";
  j.shards = shards;
  j.bucket_bytes = bucket_bytes;
  return j;
}

/// Push order, exact cover, shard containment, one `last` per shard at its lowest offsets.
void check_plan(const JobSpec& j, const std::vector<GradBucket>& plan) {
  const auto layout = troupe::kernels::ParamLayout(mlp_spec(j));
  const int64_t n = layout.num_params();
  REQUIRE_FALSE(plan.empty());
  int64_t expect_end = n;  // highest offsets first, no gap, no overlap
  std::vector<int> lasts(static_cast<std::size_t>(j.shards), 0);
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const GradBucket& k = plan[i];
    CAPTURE(i);
    CHECK(k.end == expect_end);
    CHECK(k.begin < k.end);
    expect_end = k.begin;
    const auto [b, e] = shard_range(n, j.shards, k.shard);
    CHECK(k.begin >= b);
    CHECK(k.end <= e);
    if (k.last) {
      ++lasts[static_cast<std::size_t>(k.shard)];
      CHECK(k.begin == b);
    }
    // Boundaries are layer boundaries or shard boundaries.
    for (int64_t edge : {k.begin, k.end}) {
      bool at_layer = false;
      for (const auto& l : layout.layers()) at_layer = at_layer || edge == l.begin() || edge == l.end();
      bool at_shard = false;
      for (int s = 0; s < j.shards; ++s) at_shard = at_shard || edge == shard_range(n, j.shards, s).first;
      CHECK((at_layer || at_shard));
    }
  }
  CHECK(expect_end == 0);
  for (int c : lasts) CHECK(c == 1);
  CHECK(plan.back().shard == 0);
  CHECK(plan.back().last);
}

}  // namespace

TEST_CASE("the fashion_mnist model's buckets: the two small layers together, then the first layer") {
  // 784-256-128-10: W0,b0 = [0, 200960), W1,b1 = [200960, 233856), W2,b2 = [233856, 235146).
  const auto def = model_job({784, 256, 128, 10}, 1, JobSpec{}.bucket_bytes);
  CHECK(def.bucket_bytes == 65536);
  auto plan = grad_buckets(def);
  check_plan(def, plan);
  REQUIRE(plan.size() == 2);
  CHECK(plan[0].begin == 200960);
  CHECK(plan[0].end == 235146);
  CHECK_FALSE(plan[0].last);
  CHECK(plan[1].begin == 0);
  CHECK(plan[1].end == 200960);

  const auto per_layer = model_job({784, 256, 128, 10}, 1, 0);
  plan = grad_buckets(per_layer);
  check_plan(per_layer, plan);
  REQUIRE(plan.size() == 3);
  CHECK(plan[0].begin == 233856);
  CHECK(plan[1].begin == 200960);
  CHECK(plan[2].begin == 0);

  const auto whole = model_job({784, 256, 128, 10}, 1, int64_t{1} << 30);
  plan = grad_buckets(whole);
  check_plan(whole, plan);
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].begin == 0);
  CHECK(plan[0].end == 235146);
  CHECK(plan[0].last);
}

TEST_CASE("buckets never cross a shard boundary and cover every parameter once") {
  for (int shards : {1, 2, 3, 7, 64}) {
    for (int64_t bytes : {int64_t{0}, int64_t{4}, int64_t{4096}, int64_t{65536}, int64_t{1} << 30}) {
      for (const auto& sizes : {std::vector<int64_t>{784, 256, 128, 10}, std::vector<int64_t>{784, 32, 10},
                                std::vector<int64_t>{10, 2}, std::vector<int64_t>{50, 40, 30, 20, 10, 5}}) {
        CAPTURE(shards);
        CAPTURE(bytes);
        CAPTURE(sizes.size());
        const auto j = model_job(sizes, shards, bytes);
        if (troupe::kernels::ParamLayout(mlp_spec(j)).num_params() < shards) continue;  // the config forbids it
        check_plan(j, grad_buckets(j));
      }
    }
  }
}
