#pragma once
// Aggregator shard: owns params[begin, end) of the flat parameter vector
// (shard s of S, actors/training/job.hpp), averages the trainers' gradient
// slices weighted by their sample counts (g = Σ nᵢgᵢ / Σ nᵢ, summed in slot
// order so the result does not depend on arrival order), applies Adam and
// publishes the next version. Pulls are long polls (Deferred replies) answered
// once the wanted version exists. Pushes are de-duplicated per (slot,
// incarnation, version/step); a push from an older incarnation is fenced off.
// Membership follows the scheduler's events: a dead trainer is no longer
// waited for, a restarted one is waited for again from the next version.
// Checkpoints atomically every checkpoint_every versions and on demand, and
// resumes from its checkpoint when (re)started.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "actors/training/checkpoint.hpp"
#include "actors/training/job.hpp"
#include "actors/training/messages.hpp"
#include "actors/training/tensor_pool.hpp"
#include "kernels/adam.hpp"
#include "runtime/deferred.hpp"

namespace troupe::train {

/// An actor; every method runs on the executor thread (no locks needed).
class Aggregator {
 public:
  Aggregator(JobSpec job, int shard);

  /// A trainer (re)joins: returns where to resume.
  JoinReply join(JoinRequest r);
  /// The weights once they are recent enough for the mode (long poll); slot -1: the current ones at once.
  Deferred<Weights> pull(PullRequest r);
  /// A gradient slice.
  PushReply push(PushRequest r);
  /// The weights and train statistics at the end of epoch e (long poll).
  Deferred<EpochSummary> epoch(int e);
  Progress progress();
  /// Applied steps with version > since (kept by every shard; the driver reads shard 0).
  std::vector<StepMetric> metrics(int64_t since);
  /// Writes a checkpoint now.
  CheckpointInfo checkpoint();
  /// The scheduler reported that `actor` incarnation `inc` died (a call from this shard's event listener).
  void member_died(ActorId actor, Incarnation inc);

 private:
  struct Slot {
    ActorId actor = 0;
    Incarnation incarnation = 0;
    bool alive = true;
    int64_t joined_at = 0;  // sync/backup: waited for from this version on
    int64_t next_step = 0;  // data cursor: steps of this slot handled so far
  };
  struct PendingPull {
    PullRequest req;
    Deferred<Weights> reply;
  };
  struct EpochAcc {
    double loss_sum = 0;
    int64_t samples = 0;
    int64_t correct = 0;
  };

  [[nodiscard]] bool lockstep() const { return job_.mode == Consistency::sync || job_.mode == Consistency::backup; }
  [[nodiscard]] bool finished() const;
  void try_complete();
  void apply(const std::vector<const PushRequest*>& pushes);
  void publish();
  void after_version();
  void check_epochs();
  void answer_pulls();
  [[nodiscard]] bool pull_ready(const PullRequest& r) const;
  [[nodiscard]] int64_t epoch_end(int e) const;
  Result<void> write_checkpoint_now();
  void restore();
  void listen_for_deaths();

  JobSpec job_;
  int shard_;
  int64_t begin_, end_;
  std::vector<float> params_, grad_;
  kernels::AdamState adam_;
  int64_t version_ = 0;
  Tensor published_;
  TensorPool pool_;
  std::vector<Slot> slots_;
  std::vector<std::optional<PushRequest>> pending_;  // lockstep: pushes for version_, by slot
  std::vector<PendingPull> pulls_;
  int epochs_total_ = 0;
  int next_epoch_ = 0;
  std::map<int, EpochAcc> epoch_acc_;
  std::map<int, EpochSummary> snapshots_;
  std::map<int, std::vector<Deferred<EpochSummary>>> epoch_waiters_;
  std::vector<StepMetric> metrics_;
  Progress stats_;
  double apply_us_total_ = 0;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

}  // namespace troupe::train
