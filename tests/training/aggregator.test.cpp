// Aggregator shard, gradient buckets (aggregator.hpp): a trainer's push is
// complete only once its buckets cover the slice; buckets may arrive in any
// order and repeated; a malformed one is an invalid_argument error and
// changes nothing; fencing applies to every bucket; a dead or replaced
// incarnation's partial push is discarded; the sync result does not depend on
// bucketing or arrival order. The shard runs in this process (no cluster, no
// data: an Aggregator never reads the training files).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "actors/training/aggregator.hpp"

using namespace troupe;
using namespace troupe::train;

namespace {

// 6-5-3: W0,b0 = [0, 35), W1,b1 = [35, 53).
constexpr int64_t kParams = 53;

JobSpec tiny_job(Consistency mode = Consistency::sync, int trainers = 2) {
  JobSpec j;
  j.train_images = j.train_labels = "unused";
  j.sizes = {6, 5, 3};
  j.activations = {"relu", "identity"};
  j.batch = 4;
  j.trainers = trainers;
  j.loaders = 1;
  j.mode = mode;
  finalize(j, 1000);
  return j;
}

ActorId actor_of(int slot) { return 900001 + static_cast<ActorId>(slot); }

/// A deterministic gradient of slot/version (distinct values everywhere).
std::vector<float> grad_of(int slot, int64_t version) {
  std::vector<float> g(kParams);
  for (int64_t i = 0; i < kParams; ++i)
    g[static_cast<std::size_t>(i)] = 0.01f * std::sin(static_cast<float>(1 + i * 7 + slot * 131 + version * 17));
  return g;
}

struct Bucket {
  int64_t begin, end;
  bool last;
};
const std::vector<Bucket> kBuckets = {{35, 53, false}, {20, 35, false}, {0, 20, true}};  // push order
const std::vector<Bucket> kWhole = {{0, kParams, true}};

PushRequest bucket(int slot, Incarnation inc, int64_t version, const Bucket& b, int64_t samples = 4) {
  const auto g = grad_of(slot, version);
  PushRequest p;
  p.slot = slot;
  p.actor = actor_of(slot);
  p.incarnation = inc;
  p.version = p.step = version;
  p.samples = samples;
  p.loss_sum = b.last ? 1.5 + slot : 0.0;
  p.correct = b.last ? 2 : 0;
  p.grad = Tensor::from_floats(std::span<const float>(g.data() + b.begin, static_cast<std::size_t>(b.end - b.begin)));
  p.offset = b.begin;
  p.last = b.last;
  return p;
}

std::vector<float> weights(Aggregator& a) {
  std::vector<float> w;
  a.pull(PullRequest{-1, 0, 0, 0}).on_done([&](const Result<Weights>& r) {
    REQUIRE(r.ok());
    const auto s = r.value().w.span<float>();
    w.assign(s.begin(), s.end());
  });
  REQUIRE(w.size() == kParams);
  return w;
}

/// The error code of a push that must be refused (Errc::ok when it was not).
Errc refused(Aggregator& a, PushRequest p, std::string* message = nullptr) {
  try {
    (void)a.push(std::move(p));
  } catch (const Exception& e) {
    if (message) *message = e.error().message;
    return e.error().code;
  }
  return Errc::ok;
}

/// Versions 0..steps-1 with both slots pushing whole slices in slot order.
std::vector<float> reference(const JobSpec& job, int steps, const std::vector<Incarnation>& inc = {0, 0}) {
  Aggregator a(job, 0);
  for (int v = 0; v < steps; ++v)
    for (int s = 0; s < 2; ++s) REQUIRE(a.push(bucket(s, inc[static_cast<std::size_t>(s)], v, kWhole[0])).status ==
                                        PushReply::accepted);
  REQUIRE(a.progress().version == steps);
  return weights(a);
}

}  // namespace

TEST_CASE("buckets in any order and repeated complete a push once, and give the weights of whole-slice pushes") {
  const auto job = tiny_job();
  const auto expected = reference(job, 3);
  Aggregator a(job, 0);
  for (int v = 0; v < 3; ++v) {
    // Slot 1's buckets first on odd versions, in reverse order; repeats on the way.
    const int first = v % 2 == 1 ? 1 : 0;
    std::vector<std::pair<int, Bucket>> order;
    for (int s : {first, 1 - first})
      for (std::size_t k = 0; k < kBuckets.size(); ++k)
        order.emplace_back(s, kBuckets[v % 2 == 1 ? kBuckets.size() - 1 - k : k]);
    for (std::size_t i = 0; i < order.size(); ++i) {
      const auto [slot, b] = order[i];
      CAPTURE(v);
      CAPTURE(i);
      const auto r = a.push(bucket(slot, 0, v, b));
      CHECK(r.status == PushReply::accepted);
      // The version moves only with the very last bucket of the step.
      CHECK(r.version == (i + 1 == order.size() ? v + 1 : v));
      if (i == 1) CHECK(a.push(bucket(slot, 0, v, b)).status == PushReply::duplicate);
    }
  }
  const auto p = a.progress();
  CHECK(p.version == 3);
  CHECK(p.duplicates == 3);
  CHECK(weights(a) == expected);  // bit for bit
  // The statistics come from the bucket flagged last, once per push.
  const auto m = a.metrics(0);
  REQUIRE(m.size() == 3);
  for (const auto& s : m) {
    CHECK(s.samples == 8);
    CHECK(s.loss_sum == doctest::Approx(1.5 + 2.5));
    CHECK(s.correct == 4);
  }
  // A bucket of an applied version is dropped, not applied twice.
  CHECK(a.push(bucket(0, 0, 2, kBuckets[0])).status == PushReply::dropped);
  CHECK(a.progress().version == 3);
}

TEST_CASE("a malformed bucket is refused with invalid_argument and the buckets received stay") {
  const auto job = tiny_job();
  const auto expected = reference(job, 1);
  Aggregator a(job, 0);
  REQUIRE(a.push(bucket(0, 0, 0, {20, 35, false})).status == PushReply::accepted);
  std::string why;
  // Out of the slice.
  CHECK(refused(a, bucket(0, 0, 0, {0, 10, false}), &why) == Errc::ok);  // (a fine bucket: [0, 10))
  auto out = bucket(0, 0, 0, {40, 53, false});
  out.offset = 45;  // [45, 58)
  CHECK(refused(a, out, &why) == Errc::invalid_argument);
  CHECK(why.find("out of range") != std::string::npos);
  auto negative = bucket(0, 0, 0, {40, 53, false});
  negative.offset = -1;
  CHECK(refused(a, negative) == Errc::invalid_argument);
  auto empty = bucket(0, 0, 0, {40, 53, false});
  empty.grad = Tensor::from_floats({});
  CHECK(refused(a, empty) == Errc::invalid_argument);
  auto ints = bucket(0, 0, 0, {40, 53, false});
  ints.grad = Tensor::zeros(DType::i32, {13});
  CHECK(refused(a, ints) == Errc::invalid_argument);
  // Overlapping a received bucket, from below, from above, around it.
  CHECK(refused(a, bucket(0, 0, 0, {30, 40, false}), &why) == Errc::invalid_argument);
  CHECK(why.find("overlaps the bucket [20, 35)") != std::string::npos);
  CHECK(refused(a, bucket(0, 0, 0, {5, 21, false})) == Errc::invalid_argument);
  CHECK(refused(a, bucket(0, 0, 0, {15, 53, false})) == Errc::invalid_argument);
  CHECK(refused(a, bucket(0, 0, 0, {0, kParams, true})) == Errc::invalid_argument);
  // A sample count other than the step's earlier buckets'.
  CHECK(refused(a, bucket(0, 0, 0, {35, 53, false}, 5), &why) == Errc::invalid_argument);
  CHECK(why.find("samples") != std::string::npos);
  // Two buckets flagged last; and a bucket that would complete the slice with none.
  REQUIRE(a.push(bucket(0, 0, 0, {10, 20, true})).status == PushReply::accepted);
  CHECK(refused(a, bucket(0, 0, 0, {35, 53, true})) == Errc::invalid_argument);
  Aggregator b(job, 0);
  REQUIRE(b.push(bucket(0, 0, 0, {20, 53, false})).status == PushReply::accepted);
  CHECK(refused(b, bucket(0, 0, 0, {0, 20, false}), &why) == Errc::invalid_argument);
  CHECK(why.find("flagged last") != std::string::npos);
  // None of that changed anything: the right buckets complete the step as if nothing happened.
  REQUIRE(a.push(bucket(0, 0, 0, {35, 53, false})).status == PushReply::accepted);
  CHECK(a.progress().version == 0);
  CHECK(a.push(bucket(1, 0, 0, kWhole[0])).version == 1);
  CHECK(weights(a) == expected);
  CHECK(a.metrics(0).at(0).loss_sum == doctest::Approx(1.5 + 2.5));
}

TEST_CASE("fencing applies to every bucket; a replaced or dead incarnation's partial push is discarded") {
  const auto job = tiny_job();
  const auto expected = reference(job, 1, {1, 0});
  Aggregator a(job, 0);
  // Slot 0, incarnation 0, sends part of its push; then incarnation 1 (a restart) takes over.
  REQUIRE(a.push(bucket(0, 0, 0, kBuckets[0])).status == PushReply::accepted);
  REQUIRE(a.push(bucket(0, 0, 0, kBuckets[1])).status == PushReply::accepted);
  REQUIRE(a.push(bucket(0, 1, 0, kBuckets[0])).status == PushReply::accepted);
  CHECK(a.progress().discarded == 1);
  // The zombie's last bucket is fenced: it neither completes nor spoils incarnation 1's push.
  CHECK(a.push(bucket(0, 0, 0, kBuckets[2])).status == PushReply::stale);
  CHECK(a.progress().stale_incarnation == 1);
  REQUIRE(a.push(bucket(0, 1, 0, kBuckets[1])).status == PushReply::accepted);
  REQUIRE(a.push(bucket(0, 1, 0, kBuckets[2])).status == PushReply::accepted);
  CHECK(a.progress().version == 0);  // slot 1 still to come
  CHECK(a.push(bucket(1, 0, 0, kWhole[0])).version == 1);
  CHECK(weights(a) == expected);
  auto st = a.stats(1);
  REQUIRE(st.recent.size() == 1);
  CHECK(st.recent[0].contributors == std::vector<int64_t>{0, 1, 4, 1, 0, 4});

  // Version 1: slot 1 sends part of its push and dies; the step completes without it.
  REQUIRE(a.push(bucket(1, 0, 1, kBuckets[0])).status == PushReply::accepted);
  a.member_died(actor_of(1), 0);
  CHECK(a.progress().discarded == 2);
  for (const auto& b : kBuckets) a.push(bucket(0, 1, 1, b));
  CHECK(a.progress().version == 2);
  st = a.stats(1);
  REQUIRE(st.recent.size() == 1);
  CHECK(st.recent[0].contributors == std::vector<int64_t>{0, 1, 4});
  // Its remaining buckets are a zombie's.
  CHECK(a.push(bucket(1, 0, 1, kBuckets[1])).status == PushReply::stale);
  CHECK(a.push(bucket(1, 0, 2, kBuckets[1])).status == PushReply::stale);
  CHECK(a.progress().stale_incarnation == 3);
}

TEST_CASE("the sync result does not depend on which slot completes first") {
  const auto job = tiny_job();
  std::vector<std::vector<float>> results;
  for (int first : {0, 1}) {
    Aggregator a(job, 0);
    for (int v = 0; v < 4; ++v) {
      // Interleave the slots' buckets; `first` sends its final bucket first.
      a.push(bucket(0, 0, v, kBuckets[0]));
      a.push(bucket(1, 0, v, kBuckets[0]));
      a.push(bucket(1, 0, v, kBuckets[1]));
      a.push(bucket(0, 0, v, kBuckets[1]));
      a.push(bucket(first, 0, v, kBuckets[2]));
      CHECK(a.progress().version == v);
      a.push(bucket(1 - first, 0, v, kBuckets[2]));
      CHECK(a.progress().version == v + 1);
    }
    results.push_back(weights(a));
  }
  CHECK(results[0] == results[1]);
  CHECK(results[0] == reference(job, 4));
}

TEST_CASE("asynchronous mode applies a push once all its buckets are in, once per step") {
  const auto job = tiny_job(Consistency::async, 1);
  Aggregator whole(job, 0), bucketed(job, 0);
  for (int step = 0; step < 3; ++step) {
    REQUIRE(whole.push(bucket(0, 0, step, kWhole[0])).status == PushReply::accepted);
    for (std::size_t k = 0; k < kBuckets.size(); ++k) {
      CHECK(bucketed.progress().version == step);
      REQUIRE(bucketed.push(bucket(0, 0, step, kBuckets[kBuckets.size() - 1 - k])).status == PushReply::accepted);
    }
    CHECK(bucketed.progress().version == step + 1);
  }
  CHECK(weights(bucketed) == weights(whole));
  // A bucket of an applied step is a duplicate.
  CHECK(bucketed.push(bucket(0, 0, 1, kBuckets[0])).status == PushReply::duplicate);
  // A step left unfinished is dropped when a later one starts; its late buckets are not applied.
  REQUIRE(bucketed.push(bucket(0, 0, 3, kBuckets[0])).status == PushReply::accepted);
  for (const auto& b : kBuckets) REQUIRE(bucketed.push(bucket(0, 0, 4, b)).status == PushReply::accepted);
  CHECK(bucketed.progress().version == 4);
  CHECK(bucketed.push(bucket(0, 0, 3, kBuckets[1])).status == PushReply::duplicate);
  CHECK(bucketed.progress().version == 4);
}

TEST_CASE("shard 0 hands out batches with the weights and refuses a push for a batch it did not hand that trainer") {
  const auto job = tiny_job();  // 2 slots, batch 4, 125 steps per epoch
  Aggregator a(job, 0);
  auto pull = [&](int slot) {
    Weights w;
    a.pull(PullRequest{slot, 0, 0, 0}).on_done([&](const Result<Weights>& r) {
      REQUIRE(r.ok());
      w = r.value();
    });
    return w;
  };
  for (int slot : {0, 1}) (void)a.join(JoinRequest{slot, actor_of(slot), 0, -1});
  const Weights w0 = pull(0), w1 = pull(1);
  CHECK(w0.batch == BatchId{0, 0});
  CHECK(w1.batch == BatchId{1, 0});
  CHECK(w0.epoch == 0);
  CHECK_FALSE(w0.finished);
  CHECK(w0.progress == 0.0);
  CHECK(pull(0).batch == BatchId{0, 0});  // asked again before its push: the same batch
  auto named = [&](int slot, BatchId b, int64_t samples = 4) {
    auto p = bucket(slot, 0, 0, kWhole[0], samples);
    p.batch = b;
    p.epoch = 0;
    return p;
  };
  // Another slot's batch, or a later one of its own: pull again (rejoin); nothing is applied.
  CHECK(a.push(named(0, BatchId{1, 0})).status == PushReply::rejoin);
  CHECK(a.push(named(0, BatchId{0, 1})).status == PushReply::rejoin);
  // The right batch with a sample count it does not have; a batch or an epoch out of the job.
  std::string why;
  CHECK(refused(a, named(0, BatchId{0, 0}, 3), &why) == Errc::invalid_argument);
  CHECK(why.find("has 4 samples") != std::string::npos);
  CHECK(refused(a, named(0, BatchId{7, 0})) == Errc::invalid_argument);
  auto far = named(0, BatchId{0, 0});
  far.epoch = 99;
  CHECK(refused(a, far) == Errc::invalid_argument);
  CHECK(a.progress().version == 0);
  // Slot 1 dies before pushing: its batch goes back; slot 0's push completes the step without it.
  a.member_died(actor_of(1), 0);
  REQUIRE(a.push(named(0, BatchId{0, 0})).status == PushReply::accepted);
  CHECK(a.progress().version == 1);
  CHECK(pull(0).batch == BatchId{0, 1});
  const auto l = a.ledger();
  REQUIRE(l.size() == 1);
  CHECK(l[0].batches_settled == 1);
  CHECK(l[0].batches_redone == 1);
  CHECK(l[0].samples_trained == 4);
}

namespace {

/// Slot `slot`'s whole push for `version` to shard `a` (its slice of grad_of).
PushRequest slice_push(Aggregator& a, int slot, int64_t version) {
  const Progress p = a.progress();
  const auto g = grad_of(slot, version);
  PushRequest r = bucket(slot, 0, version, kWhole[0]);
  r.grad = Tensor::from_floats(std::span<const float>(g.data() + p.begin, static_cast<std::size_t>(p.end - p.begin)));
  return r;
}

Weights pulled(Aggregator& a, PullRequest r) {
  Weights w;
  bool done = false;
  a.pull(std::move(r)).on_done([&](const Result<Weights>& res) {
    REQUIRE(res.ok());
    w = res.value();
    done = true;
  });
  REQUIRE(done);
  return w;
}

std::vector<int64_t> contributors_of_last(Aggregator& a) {
  const auto s = a.stats(1);
  REQUIRE(s.recent.size() == 1);
  return s.recent[0].contributors;  // [slot, incarnation, samples] each
}

}  // namespace

TEST_CASE("several shards: the others apply exactly what shard 0 applied, whoever died between its pushes") {
  JobSpec job = tiny_job();
  job.shards = 2;
  Aggregator s0(job, 0), s1(job, 1);
  REQUIRE(s1.progress().begin > 0);
  for (int slot = 0; slot < 2; ++slot) {
    (void)s0.join(JoinRequest{slot, actor_of(slot), 0, -1});
    (void)s1.join(JoinRequest{slot, actor_of(slot), 0, -1});
  }

  SUBCASE("a trainer that pushed to shard 1, then died before shard 0 had its push, counts on neither") {
    for (int slot = 0; slot < 2; ++slot) REQUIRE(s1.push(slice_push(s1, slot, 0)).status == PushReply::accepted);
    REQUIRE(s0.push(slice_push(s0, 0, 0)).status == PushReply::accepted);
    s0.member_died(actor_of(1), 0);
    s1.member_died(actor_of(1), 0);
    CHECK(s0.progress().version == 1);  // without slot 1: its batch goes back to the ledger
    CHECK(s1.progress().version == 0);  // a follower never steps on its own
    const Weights w0 = pulled(s0, PullRequest{0, 0, 1, 1, 0, -1, {}});
    REQUIRE(w0.commits.size() == 1);
    CHECK(w0.commits[0].version == 1);
    CHECK(w0.commits[0].pushes == std::vector<int64_t>{0, 0, 0});
    const Weights w1 = pulled(s1, PullRequest{0, 0, 1, 1, 0, -1, w0.commits});
    CHECK(w1.version == 1);
    CHECK(contributors_of_last(s1) == std::vector<int64_t>{0, 0, 4});
    CHECK(contributors_of_last(s0) == contributors_of_last(s1));
  }
  SUBCASE("a trainer that completed both pushes and then died counts on both") {
    for (int slot = 0; slot < 2; ++slot) {
      REQUIRE(s1.push(slice_push(s1, slot, 0)).status == PushReply::accepted);
      REQUIRE(s0.push(slice_push(s0, slot, 0)).status == PushReply::accepted);
    }
    s1.member_died(actor_of(1), 0);  // before the commit reaches shard 1: its push is kept
    const Weights w0 = pulled(s0, PullRequest{0, 0, 1, 1, 0, -1, {}});
    const Weights w1 = pulled(s1, PullRequest{0, 0, 1, 1, 0, -1, w0.commits});
    CHECK(w1.version == 1);
    CHECK(contributors_of_last(s1) == std::vector<int64_t>{0, 0, 4, 1, 0, 4});
  }
  SUBCASE("commits of another timeline, or far ahead, are ignored") {
    for (int slot = 0; slot < 2; ++slot) REQUIRE(s1.push(slice_push(s1, slot, 0)).status == PushReply::accepted);
    const Commit other{1, 7, {0, 0, 0}}, far{900, 0, {0, 0, 0}};
    CHECK(pulled(s1, PullRequest{-1, 0, 0, 0, -1, -1, {other, far}}).version == 0);
    CHECK(pulled(s1, PullRequest{0, 0, 0, 0, 0, -1, {other, far}}).version == 0);
  }
}
