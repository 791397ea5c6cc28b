#pragma once
// An aggregator shard's epochs (aggregator.hpp): the running train
// statistics of each epoch, the summary (weights and statistics) of the last
// closed ones, and the long polls waiting for an epoch to close. When an
// epoch closes is the aggregator's business (shard 0's batch ledger, or what
// the pushes and finish() tell the other shards); this class only keeps books.
#include <cstdint>
#include <map>
#include <vector>

#include "actors/training/messages.hpp"
#include "runtime/deferred.hpp"
#include "runtime/tensor.hpp"

namespace troupe::train {

/// An epoch's running train statistics.
struct EpochAccount {
  double loss_sum = 0;
  int64_t samples = 0;
  int64_t correct = 0;
};

/// A plain value: not thread-safe (the aggregator uses it on the executor
/// thread only); the Deferreds it resolves are thread-safe themselves.
class EpochBook {
 public:
  /// How many closed epochs' summaries are kept (evaluation may lag an epoch behind).
  static constexpr std::size_t kKept = 4;

  /// A run of `total` epochs, epoch 0 open.
  explicit EpochBook(int total) : total_(total) {}

  [[nodiscard]] int total() const { return total_; }
  /// The open epoch (total() once the last one closed).
  [[nodiscard]] int open() const { return open_; }
  /// The open epoch's running statistics (what a checkpoint saves).
  [[nodiscard]] EpochAccount open_account() const;

  /// Adds an applied push's statistics to epoch e's account (a push may belong to an epoch not yet open here).
  void add(int e, double loss_sum, int64_t samples, int64_t correct);
  /// Starts over with epoch `open` open and its running statistics `account`
  /// (a fresh start: 0 and none; a restore: the checkpoint's). The summaries kept stay.
  void restart(int open, EpochAccount account);
  /// Closes the open epoch at `version` with weights `w` and shard 0's ledger
  /// account of it; answers the polls waiting for it.
  void close(int64_t version, const Tensor& w, const EpochLedger& ledger);
  /// epoch(e) as a long poll: the summary at once when kept; an error at once
  /// (invalid_argument: not an epoch of the run; not_found: closed and no
  /// longer kept); else answered when it closes.
  [[nodiscard]] Deferred<EpochSummary> wait(int e);
  /// A rollback to `version`: forgets the summaries of epochs closed after it.
  void rollback(int64_t version);

 private:
  int total_;
  int open_ = 0;
  std::map<int, EpochAccount> accounts_;
  std::map<int, EpochSummary> closed_;  // the last kKept summaries, by epoch
  std::map<int, std::vector<Deferred<EpochSummary>>> waiters_;
};

}  // namespace troupe::train
