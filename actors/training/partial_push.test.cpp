// Bucket assembly (partial_push.hpp): a push is complete only once its
// buckets cover the slice exactly with one flagged last; buckets arrive in any
// order; an exact repeat is a duplicate; an overlap, a second last, a bucket
// completing the slice without a last, or one disagreeing on samples or batch
// is refused with invalid_argument and changes nothing; buckets are kept as
// the frames they arrived in (zero-copy).
#include <doctest/doctest.h>

#include <string>

#include "actors/training/partial_push.hpp"
#include "runtime/error.hpp"

using namespace troupe;
using namespace troupe::train;

namespace {

constexpr int64_t kSlice = 10;

PushRequest bucket(int64_t begin, int64_t end, bool last, int64_t samples = 4) {
  PushRequest r;
  r.slot = 1;
  r.actor = 7;
  r.incarnation = 2;
  r.version = r.step = 3;
  r.samples = samples;
  r.grad = Tensor::empty(DType::f32, {end - begin});
  for (int64_t i = 0; i < end - begin; ++i) r.grad.data_as<float>()[i] = static_cast<float>(begin + i);
  r.offset = begin;
  r.last = last;
  r.loss_sum = last ? 1.5 : 0.0;
  r.correct = last ? 3 : 0;
  r.progress = 0.25;
  return r;
}

/// Checks then adds, as the aggregator does; returns the refusal's code (ok when accepted or a duplicate).
Errc add(PartialPush& p, PushRequest r, BatchId batch = {1, 3}, bool* duplicate = nullptr) {
  try {
    if (auto repeat = p.check(r)) {
      if (duplicate) *duplicate = *repeat == PushReply::duplicate;
      return Errc::ok;
    }
    p.add(r, batch, 0);
    return Errc::ok;
  } catch (const Exception& e) {
    return e.code();
  }
}

}  // namespace

TEST_CASE("a push is complete once its buckets cover the slice, in any order, one flagged last") {
  PartialPush p(kSlice);
  CHECK_FALSE(p.active());
  CHECK(add(p, bucket(6, 10, false)) == Errc::ok);
  CHECK(p.active());
  CHECK_FALSE(p.complete());
  CHECK(add(p, bucket(0, 3, true)) == Errc::ok);
  CHECK_FALSE(p.complete());
  CHECK(add(p, bucket(3, 6, false)) == Errc::ok);
  REQUIRE(p.complete());
  CHECK(p.actor() == 7);
  CHECK(p.incarnation() == 2);
  CHECK(p.version() == 3);
  CHECK(p.step() == 3);
  const Contribution c = p.contribution(1);
  CHECK(c.slot == 1);
  CHECK(c.samples == 4);
  CHECK(c.loss_sum == 1.5);  // from the bucket flagged last
  CHECK(c.correct == 3);
  CHECK(c.batch == BatchId{1, 3});
  CHECK(c.progress == 0.25);
  REQUIRE(c.buckets->size() == 3);
  int64_t expect = 0;
  for (const auto& [offset, t] : *c.buckets) {
    CHECK(offset == expect);
    for (int64_t i = 0; i < t.numel(); ++i) CHECK(t.data_as<float>()[i] == static_cast<float>(offset + i));
    expect += t.numel();
  }
  CHECK(expect == kSlice);
  p.reset();
  CHECK_FALSE(p.active());
  CHECK_FALSE(p.complete());
}

TEST_CASE("a bucket is kept as the frame it arrived in") {
  PartialPush p(kSlice);
  PushRequest r = bucket(0, kSlice, true);
  const void* frame = r.grad.data();
  p.add(r, {1, 3}, 0);
  REQUIRE(p.complete());
  CHECK(p.contribution(1).buckets->at(0).data() == frame);
}

TEST_CASE("an exact repeat is a duplicate and changes nothing") {
  PartialPush p(kSlice);
  REQUIRE(add(p, bucket(5, 10, false)) == Errc::ok);
  bool duplicate = false;
  CHECK(add(p, bucket(5, 10, false), {1, 3}, &duplicate) == Errc::ok);
  CHECK(duplicate);
  CHECK(p.contribution(1).buckets->size() == 1);
  CHECK_FALSE(p.complete());
}

TEST_CASE("malformed buckets are refused with invalid_argument and the buckets received stay") {
  PartialPush p(kSlice);
  REQUIRE(add(p, bucket(3, 6, false)) == Errc::ok);
  CHECK(add(p, bucket(5, 8, false)) == Errc::invalid_argument);   // overlaps from the right
  CHECK(add(p, bucket(0, 4, true)) == Errc::invalid_argument);    // overlaps from the left
  CHECK(add(p, bucket(3, 5, false)) == Errc::invalid_argument);   // same offset, another size
  CHECK(add(p, bucket(6, 10, false, 5)) == Errc::invalid_argument);  // another sample count
  CHECK(add(p, bucket(6, 10, false), {0, 3}) == Errc::invalid_argument);  // another batch
  REQUIRE(add(p, bucket(6, 10, true)) == Errc::ok);
  CHECK(add(p, bucket(0, 3, true)) == Errc::invalid_argument);    // a second last
  CHECK(p.contribution(1).buckets->size() == 2);
  CHECK(add(p, bucket(0, 3, false)) == Errc::ok);
  CHECK(p.complete());
}

TEST_CASE("a bucket completing the slice without a last is refused") {
  PartialPush whole(kSlice);
  CHECK(add(whole, bucket(0, kSlice, false)) == Errc::invalid_argument);
  CHECK_FALSE(whole.active());
  PartialPush p(kSlice);
  REQUIRE(add(p, bucket(0, 5, false)) == Errc::ok);
  CHECK(add(p, bucket(5, 10, false)) == Errc::invalid_argument);
  CHECK_FALSE(p.complete());
}

TEST_CASE("the shape check: f32, samples >= 0, inside the slice, a batch and epoch the job has") {
  auto code = [](const PushRequest& r) {
    try {
      check_bucket_shape(r, kSlice, 0, 2, 100, 3);
      return Errc::ok;
    } catch (const Exception& e) {
      return e.code();
    }
  };
  CHECK(code(bucket(0, 10, true)) == Errc::ok);
  PushRequest outside = bucket(5, 11, false);
  CHECK(code(outside) == Errc::invalid_argument);
  PushRequest negative = bucket(0, 3, false);
  negative.offset = -1;
  CHECK(code(negative) == Errc::invalid_argument);
  CHECK(code(bucket(0, 3, false, -1)) == Errc::invalid_argument);
  PushRequest ints = bucket(0, 3, false);
  ints.grad = Tensor::empty(DType::i32, {3});
  CHECK(code(ints) == Errc::invalid_argument);
  PushRequest empty = bucket(0, 3, false);
  empty.grad = Tensor::empty(DType::f32, {0});
  CHECK(code(empty) == Errc::invalid_argument);
  PushRequest far = bucket(0, 3, false);
  far.batch = BatchId{2, 0};  // the job has slots 0 and 1
  CHECK(code(far) == Errc::invalid_argument);
  far.batch = BatchId{1, 100};  // and 100 steps per slot
  CHECK(code(far) == Errc::invalid_argument);
  PushRequest late = bucket(0, 3, false);
  late.epoch = 4;
  CHECK(code(late) == Errc::invalid_argument);
}
