// The batch ledger (batch_ledger.hpp): without faults every trainer is handed
// the sampler's own batch of each step; a released batch is handed out again;
// a trainer whose own batches are done takes the end of the slot with most
// left; an epoch closes only when every batch is settled, with every sample
// counted once; a checkpointed state restores what was settled. Also
// batch_samples() against the Sampler it summarises.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "actors/training/batch_ledger.hpp"
#include "actors/training/sampler.hpp"

using namespace troupe::train;

namespace {

JobSpec job_of(int64_t samples, int trainers, int loaders, int64_t batch, int epochs) {
  JobSpec j;
  j.sizes = {4, 2};
  j.activations = {"identity"};
  j.trainers = trainers;
  j.loaders = loaders;
  j.batch = batch;
  j.epochs = epochs;
  finalize(j, samples);
  return j;
}

/// Runs a lockstep step: each trainer in `alive` is handed a batch and settles it.
void step(BatchLedger& l, const JobSpec& j, const std::vector<int>& alive) {
  std::map<int, BatchId> handed;
  for (int t : alive) handed[t] = l.assign(t);
  for (auto [t, b] : handed)
    if (b.valid()) REQUIRE(l.settle(t, b, batch_samples(j, b.slot, b.step)));
  l.release_all();
}

}  // namespace

TEST_CASE("batch_samples gives the size of every batch the sampler lays out") {
  for (auto [samples, trainers, loaders, batch] :
       std::vector<std::tuple<int64_t, int, int, int64_t>>{{1000, 2, 2, 32}, {997, 3, 2, 10}, {50, 4, 3, 7}, {5, 4, 1, 2}}) {
    auto j = job_of(samples, trainers, loaders, batch, 2);
    const Split split = split_samples(j, samples);
    int64_t total = 0;
    for (int l = 0; l < loaders; ++l) {
      Sampler s(j, split, l);
      for (int slot = l; slot < trainers; slot += loaders)
        for (int64_t step = 0; step < j.total_steps; ++step) {
          CAPTURE(slot);
          CAPTURE(step);
          const auto n = static_cast<int64_t>(s.batch(slot, step).size());
          CHECK(batch_samples(j, slot, step) == n);
          if (step < j.steps_per_epoch) total += n;
        }
    }
    CHECK(total == samples);  // one epoch covers the training set
  }
}

TEST_CASE("without faults every trainer is handed its own batch of each step, and epochs close on time") {
  const auto j = job_of(1000, 2, 2, 32, 3);
  BatchLedger l(j);
  for (int64_t v = 0; v < j.total_steps; ++v) {
    CAPTURE(v);
    for (int t = 0; t < 2; ++t) CHECK(l.assign(t) == BatchId{t, v});
    for (int t = 0; t < 2; ++t) REQUIRE(l.settle(t, BatchId{t, v}, batch_samples(j, t, v)));
    const auto closed = l.close_if_done();
    CHECK(closed.has_value() == ((v + 1) % j.steps_per_epoch == 0));
    if (closed) {
      CHECK(closed->samples_expected == 1000);
      CHECK(closed->samples_trained == 1000);
      CHECK(closed->samples_skipped() == 0);
      CHECK(closed->batches_redone == 0);
      CHECK(closed->batches_stolen == 0);
    }
  }
  CHECK(l.finished());
  CHECK(l.closed().size() == 3);
  CHECK_FALSE(l.assign(0).valid());
}

TEST_CASE("a dead trainer's batch is handed out again and its slot's rest is shared once the survivor's own are done") {
  const auto j = job_of(640, 2, 1, 32, 1);  // 10 steps per slot
  REQUIRE(j.steps_per_epoch == 10);
  BatchLedger l(j);
  step(l, j, {0, 1});                 // step 0: both
  CHECK(l.assign(1) == BatchId{1, 1});
  l.release(1);                       // trainer 1 dies with its batch (1, 1)
  for (int k = 0; k < 3; ++k) step(l, j, {0});  // three steps without it
  // Its replacement takes up its own order where it stopped: the released batch first.
  CHECK(l.assign(1) == BatchId{1, 1});
  l.release(1);
  std::multiset<std::pair<int, int64_t>> trained;
  int steps = 0;
  while (!l.finished()) {
    std::map<int, BatchId> handed;
    for (int t : {0, 1}) handed[t] = l.assign(t);
    for (auto [t, b] : handed)
      if (b.valid()) {
        trained.insert({b.slot, b.step});
        REQUIRE(l.settle(t, b, batch_samples(j, b.slot, b.step)));
      }
    l.release_all();
    (void)l.close_if_done();
    REQUIRE(++steps < 100);
  }
  // 20 batches in all: 5 settled before, 15 here, each once; the survivor stole from the end of slot 1's order.
  CHECK(trained.size() == 15);
  for (const auto& b : trained) CHECK(trained.count(b) == 1);
  CHECK(trained.count({1, 9}) == 1);
  const EpochLedger e = l.closed().at(0);
  CHECK(e.samples_trained == 640);
  CHECK(e.samples_expected == 640);
  CHECK(e.samples_duplicated == 0);
  CHECK(e.batches_redone == 2);
  CHECK(e.batches_stolen == 2);
  CHECK(steps == 8);  // 1 + 3 steps before, 8 here: the epoch is 12 steps instead of 10
}

TEST_CASE("a push for a batch not handed to the trainer settles nothing; an idle trainer waits for the next epoch") {
  const auto j = job_of(128, 2, 1, 32, 2);  // 2 steps per slot per epoch
  BatchLedger l(j);
  CHECK_FALSE(l.settle(0, BatchId{0, 0}, 32));  // never handed
  CHECK(l.assign(0) == BatchId{0, 0});
  CHECK_FALSE(l.settle(0, BatchId{0, 1}, 32));  // not the one handed
  CHECK_FALSE(l.settle(1, BatchId{0, 0}, 32));  // handed to another trainer
  REQUIRE(l.settle(0, BatchId{0, 0}, 32));
  // Trainer 1 is gone: trainer 0 does the rest of the epoch alone, then nothing is left while (1, 1) is out.
  CHECK(l.assign(0) == BatchId{0, 1});
  REQUIRE(l.settle(0, BatchId{0, 1}, 32));
  CHECK(l.assign(0) == BatchId{1, 1});  // from the end of slot 1
  CHECK(l.assign(1) == BatchId{1, 0});
  REQUIRE(l.settle(0, BatchId{1, 1}, 32));
  CHECK_FALSE(l.can_assign(0));  // (1, 0) is still out: nothing of epoch 0 left, epoch 1 not open
  CHECK_FALSE(l.assign(0).valid());
  CHECK_FALSE(l.close_if_done());
  REQUIRE(l.settle(1, BatchId{1, 0}, 32));
  REQUIRE(l.close_if_done());
  CHECK(l.epoch() == 1);
  CHECK(l.assign(0) == BatchId{0, 2});
}

TEST_CASE("a saved ledger restores what was settled and hands out again what was out") {
  const auto j = job_of(640, 2, 1, 32, 2);
  BatchLedger l(j);
  for (int k = 0; k < 12; ++k) {
    step(l, j, {0, 1});
    (void)l.close_if_done();
  }
  REQUIRE(l.epoch() == 1);
  CHECK(l.assign(0) == BatchId{0, 12});
  const auto saved = l.save();
  BatchLedger r(j);
  REQUIRE(r.load(saved));
  CHECK(r.epoch() == 1);
  CHECK(r.closed().size() == 1);
  CHECK(r.open().samples_trained == 2 * 2 * 32);
  CHECK(r.assign(0) == BatchId{0, 12});  // was out when saved: to do again
  CHECK(r.assign(1) == BatchId{1, 12});
  // A state of another job does not load.
  BatchLedger other(job_of(320, 2, 1, 32, 2));
  CHECK_FALSE(other.load(saved));
}

TEST_CASE("progress is the share of the run's batches settled: without faults, the step-count schedule's") {
  auto j = job_of(640, 2, 1, 32, 2);  // 10 steps per epoch, 20 in all, 40 batches
  j.lr_final = 0.1f;
  BatchLedger l(j);
  for (int k = 0; k < 20; ++k) {
    CHECK(l.progress() == doctest::Approx(k / 20.0));
    CHECK(scheduled_lr(j, l.progress()) == scheduled_lr(j, step_progress(j, k + 1)));
    step(l, j, {0, 1});
    (void)l.close_if_done();
  }
  CHECK(l.progress() == doctest::Approx(1.0));
}
