#pragma once
// Aggregator shard: owns params[begin, end) of the flat parameter vector
// (shard s of S, actors/training/job.hpp), averages the trainers' gradient
// slices weighted by their sample counts (g = Σ nᵢgᵢ / Σ nᵢ, summed in slot
// order so the result does not depend on arrival order), applies Adam and
// publishes the next version. Pulls are long polls (Deferred replies) answered
// once the wanted version exists.
//
// Faults (docs/FAULTS.md):
// - Pushes are de-duplicated per (slot, incarnation, version/step). A push or
//   join from an incarnation older than the newest known for its trainer, or
//   from one the scheduler reported dead, is fenced off and counted
//   (Progress::stale_incarnation); a dead incarnation's pending gradient is
//   discarded, so no gradient of a dead incarnation is ever applied.
// - Membership follows the scheduler's events: a dead trainer is no longer
//   waited for; a restarted one is waited for again from the next version.
// - Checkpoints (atomic) every checkpoint_every versions and on demand; the
//   previous one is kept. A restarted shard resumes from its checkpoint and
//   reports itself `restored`: the trainers then reconcile all shards to one
//   version every shard can reach (rollback()), under a new timeline, so the
//   S slices of the model always come from the same step. Pulls and pushes
//   carry the timeline they joined on; others are refused (the caller rejoins).
#include <chrono>
#include <cstdint>
#include <deque>
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

  /// A trainer (re)joins: returns where to resume. Throws stale_incarnation for a fenced incarnation.
  JoinReply join(JoinRequest r);
  /// Moves to `r.version` (current version, a kept checkpoint, or 0) on timeline `r.timeline`;
  /// a no-op when already on that timeline. Throws not_found when the version cannot be reached.
  JoinReply rollback(RollbackRequest r);
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
  /// Counters, membership and the contributors of the last `last` applied steps (at most 512 kept).
  ShardStats stats(int64_t last);
  /// The scheduler reported that `actor` incarnation `inc` died (also run directly by the event listener).
  void member_died(ActorId actor, Incarnation inc);

 private:
  struct Slot {
    ActorId actor = 0;
    Incarnation incarnation = 0;
    bool alive = true;
    int64_t joined_at = 0;  // sync/backup: waited for from this version on
    int64_t next_step = 0;  // data cursor: steps of this slot handled so far
    int64_t last_version = -1;
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
  void load(ShardCheckpoint c);
  void reset_to_initial();
  void learn_membership();
  void listen_for_deaths();
  [[nodiscard]] bool fenced(ActorId actor, Incarnation inc, const Slot& s) const;
  void adopt(Slot& s, std::size_t slot, ActorId actor, Incarnation inc);
  [[nodiscard]] JoinReply join_reply(const Slot& s) const;

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
  // faults
  int64_t timeline_ = 0;
  bool restored_ = false;
  int64_t ckpt_version_ = -1, prev_ckpt_version_ = -1;  // versions of the kept checkpoints
  std::map<ActorId, int64_t> dead_;  // the newest incarnation of each trainer reported dead
  std::deque<StepContributors> recent_;
};

}  // namespace troupe::train
