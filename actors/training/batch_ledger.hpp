#pragma once
// The epoch's ledger of batches (DESIGN §9 "Nothing lost"): the unit of work
// is a batch, named by the (slot, step) under which the sampler lays it out
// (sampler.hpp); an epoch is every slot's batches of its steps. Whoever trains
// a batch (its own slot's trainer, a survivor, a replacement) the ledger
// marks it once, and an epoch closes only when every batch of it is marked.
//
// Handing out (assign): a trainer keeps the batch it was handed until it is
// settled (trained and applied) or released (its trainer died, or its push
// was dropped with a step); otherwise it takes the next batch of its own
// slot's order, and once that is used up, steals from the end of the slot with
// the most batches left. Without faults every trainer takes its own batch of
// each step, exactly as the sampler lays them out. Only the open epoch's
// batches are handed out: when it has nothing left to hand, assign() returns
// no batch (the trainer idles a step) rather than mixing two epochs' batches.
//
// Kept by aggregator shard 0 (aggregator.hpp) and saved in its checkpoints.
// Not thread-safe (the shard's executor owns it).
#include <cstdint>
#include <optional>
#include <vector>

#include "actors/training/job.hpp"
#include "actors/training/messages.hpp"

namespace troupe::train {

class BatchLedger {
 public:
  /// What a checkpoint keeps: the open epoch, which of its batches are
  /// settled, its counters, and the closed epochs' records.
  struct State {
    int epoch = 0;
    std::vector<uint8_t> settled;  ///< by slot * steps_per_epoch + step in epoch
    EpochLedger open;
    std::vector<EpochLedger> closed;
    MSGPACK_DEFINE_MAP(epoch, settled, open, closed);
  };

  /// Throws std::invalid_argument for a job that finalize() did not fill in.
  explicit BatchLedger(const JobSpec& job);

  /// The batch trainer slot `trainer` is to train now (see the header); no
  /// batch (!valid()) when the open epoch has none left to hand out or the run is finished.
  BatchId assign(int trainer);
  /// The batch handed to `trainer` and not yet settled or released (!valid() if none).
  [[nodiscard]] BatchId assigned(int trainer) const;
  /// True when assign(trainer) would hand it a batch.
  [[nodiscard]] bool can_assign(int trainer) const;
  /// `trainer`'s batch `b` (`samples` of them) was applied: marks it. False,
  /// and nothing changes, when `b` is not the batch handed to `trainer`.
  bool settle(int trainer, BatchId b, int64_t samples);
  /// `trainer`'s batch goes back to be handed out again (counted as redone).
  void release(int trainer);
  /// Releases every batch still handed out (lockstep modes, after each step).
  void release_all();
  /// Closes the open epoch when every batch of it is settled and returns its
  /// record; the next epoch opens. nullopt while batches are left.
  std::optional<EpochLedger> close_if_done();

  /// The open epoch (== the number of epochs once finished).
  [[nodiscard]] int epoch() const { return epoch_; }
  [[nodiscard]] int epochs() const { return epochs_; }
  [[nodiscard]] bool finished() const { return epoch_ >= epochs_; }
  /// The open epoch's counters so far.
  [[nodiscard]] EpochLedger open() const;
  /// The share of the run's batches settled so far, in [0, 1] (the learning rate's clock).
  [[nodiscard]] double progress() const;
  /// The closed epochs' records, oldest first.
  [[nodiscard]] const std::vector<EpochLedger>& closed() const { return closed_; }

  [[nodiscard]] State save() const;
  /// Restores a saved state; false (and nothing changes) when it does not fit this job.
  bool load(const State& s);

 private:
  enum : uint8_t { todo = 0, handed = 1, settled = 2 };
  void open_epoch(int e);
  [[nodiscard]] int64_t steps_in_epoch() const;
  [[nodiscard]] std::size_t index(BatchId b) const;
  [[nodiscard]] std::optional<BatchId> next_of(int slot, bool from_end) const;

  JobSpec job_;
  int epochs_ = 0;
  int epoch_ = 0;
  std::vector<uint8_t> state_;      // the open epoch's batches: todo, handed, settled
  std::vector<int64_t> todo_left_;  // per slot: batches of the open epoch still todo
  std::vector<BatchId> handed_;     // per trainer: its batch, or !valid()
  EpochLedger open_;
  std::vector<EpochLedger> closed_;
};

}  // namespace troupe::train
