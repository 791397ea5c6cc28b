// The waiting pulls (pull_queue.hpp): one per slot, a newer one superseding
// the older with timeout; answered in order once ready; all failed at once
// on a rollback.
#include <doctest/doctest.h>

#include <optional>

#include "actors/training/pull_queue.hpp"
#include "runtime/deferred_result.test.hpp"

using namespace troupe;
using namespace troupe::train;

using troupe::testing::done_result;

namespace {

PullRequest pull(int slot, int64_t min_version) {
  PullRequest r;
  r.slot = slot;
  r.min_version = min_version;
  return r;
}


}  // namespace

TEST_CASE("a pull waits until it is ready, then gets the weights made for it") {
  PullQueue q;
  Deferred<Weights> a, b;
  q.park(pull(0, 3), a);
  q.park(pull(1, 5), b);
  CHECK(q.size() == 2);
  int64_t version = 4;
  std::vector<int> order;
  auto ready = [&](const PullRequest& r) { return version >= r.min_version; };
  auto weights = [&](const PullRequest& r) {
    order.push_back(r.slot);
    return Weights{version, Tensor(), {}, 0, false, -1, {}};
  };
  q.answer(ready, weights);
  CHECK(done_result(a)->version == 4);
  CHECK_FALSE(b.done());
  CHECK(q.size() == 1);
  version = 5;
  q.answer(ready, weights);
  CHECK(done_result(b)->version == 5);
  CHECK(order == std::vector<int>{0, 1});
  CHECK(q.size() == 0);
}

TEST_CASE("a newer pull of the same slot supersedes the waiting one") {
  PullQueue q;
  Deferred<Weights> old, fresh, other;
  q.park(pull(0, 3), old);
  q.park(pull(1, 3), other);
  q.park(pull(0, 4), fresh);
  CHECK(done_result(old).error().code == Errc::timeout);
  CHECK_FALSE(fresh.done());
  CHECK_FALSE(other.done());
  CHECK(q.size() == 2);
}

TEST_CASE("a rollback fails every waiting pull") {
  PullQueue q;
  Deferred<Weights> a, b;
  q.park(pull(0, 3), a);
  q.park(pull(1, 3), b);
  q.fail_all(Error(Errc::unavailable, "rolled back"));
  CHECK(done_result(a).error().code == Errc::unavailable);
  CHECK(done_result(b).error().code == Errc::unavailable);
  CHECK(q.size() == 0);
}
