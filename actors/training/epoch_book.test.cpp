// An aggregator shard's epochs (epoch_book.hpp): statistics add up per epoch;
// closing answers the polls waiting for the epoch; the last kKept summaries
// are kept; a poll for an epoch outside the run or no longer kept fails with
// its code; a restart and a rollback keep the books consistent.
#include <doctest/doctest.h>

#include "actors/training/epoch_book.hpp"
#include "runtime/deferred_result.test.hpp"

using namespace troupe;
using namespace troupe::train;

using troupe::testing::done_result;

TEST_CASE("an epoch's statistics add up and its summary answers the polls waiting for it") {
  EpochBook b(3);
  CHECK(b.total() == 3);
  CHECK(b.open() == 0);
  auto waiting = b.wait(0);
  CHECK_FALSE(waiting.done());
  b.add(0, 2.0, 32, 20);
  b.add(0, 1.0, 16, 10);
  b.add(1, 9.0, 8, 1);  // a push computed in the next epoch
  CHECK(b.open_account().samples == 48);
  b.close(7, Tensor::empty(DType::f32, {2}), EpochLedger{0});
  CHECK(b.open() == 1);
  auto s = done_result(waiting);
  REQUIRE(s.ok());
  CHECK(s->epoch == 0);
  CHECK(s->version == 7);
  CHECK(s->loss_sum == 3.0);
  CHECK(s->samples == 48);
  CHECK(s->correct == 30);
  CHECK_FALSE(s->final_epoch);
  CHECK(b.open_account().samples == 8);
  CHECK(done_result(b.wait(0))->version == 7);  // kept: answered at once
}

TEST_CASE("polls outside the run, or for an epoch no longer kept, fail with their codes") {
  EpochBook b(10);
  CHECK(done_result(b.wait(-1)).error().code == Errc::invalid_argument);
  CHECK(done_result(b.wait(10)).error().code == Errc::invalid_argument);
  for (int e = 0; e < 6; ++e) b.close(e + 1, Tensor(), EpochLedger{e});
  CHECK(done_result(b.wait(1)).error().code == Errc::not_found);  // only the last kKept are kept
  CHECK(done_result(b.wait(2)).ok());
  CHECK(done_result(b.wait(5)).ok());
}

TEST_CASE("the last epoch's summary is final; a rollback forgets summaries after it; a restart sets the open account") {
  EpochBook b(2);
  b.close(4, Tensor(), EpochLedger{0});
  b.close(9, Tensor(), EpochLedger{1});
  CHECK(done_result(b.wait(1))->final_epoch);
  b.rollback(5);
  b.restart(1, {1.5, 12, 3});
  CHECK(b.open() == 1);
  CHECK(b.open_account().samples == 12);
  CHECK_FALSE(b.wait(1).done());  // closed after version 5: forgotten, waited for again
  CHECK(done_result(b.wait(0)).ok());
}
