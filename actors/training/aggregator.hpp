#pragma once
// Aggregator shard: owns params[begin, end) of the flat parameter vector
// (shard s of S, actors/training/job.hpp), averages the trainers' gradient
// slices weighted by their sample counts (g = Σ nᵢgᵢ / Σ nᵢ, summed in slot
// order so the result does not depend on arrival order), applies Adam and
// publishes the next version. Pulls are long polls (Deferred replies) answered
// once the wanted version exists.
//
// Buckets: a trainer's push for a version arrives as buckets (PushRequest
// offset/last; job.hpp grad_buckets()), in any order. The shard keeps each
// bucket as the frame it arrived in (zero-copy) and counts the slot's push
// only once its buckets cover the slice exactly, with one flagged `last`. The
// weighted mean reads the buckets in place; every element is computed as with
// one whole-slice push, so the result depends neither on the bucketing nor on
// arrival order. A bucket out of the slice, overlapping another, a second
// `last`, a bucket completing the slice without a `last`, or a sample count
// that disagrees with the step's earlier buckets is refused with an
// invalid_argument error reply; the buckets already received stay. An exact
// repeat of a received bucket is a duplicate (partial_push.hpp).
//
// Loss statistics: every shard averages its slice, but only shard 0's pushes
// carry the loss sum and correct count (the trainer knows them only after
// backward, and sends them once); the other shards receive zeros, so their
// EpochSummary and StepMetric loss figures are zero. Read shard 0's.
//
// Work (batch_ledger.hpp): shard 0 keeps the batch ledger. Its pull replies
// hand each trainer the batch to train next; a step's applied pushes settle
// their batches; a dead trainer's batch, or one whose push a step dropped, is
// handed out again; an epoch closes when every batch of it is settled, so its
// length in steps grows by what faults cost and nothing is skipped. The other
// shards learn where epochs end from the pushes (each names shard 0's open
// epoch) and learn the end of the run from finish(). Pushes name their batch;
// shard 0 refuses one that names a batch it did not hand that trainer (the
// trainer joins again) or a sample count the batch does not have.
//
// Several shards: shard 0 decides, the others follow. Shard 0 applies a
// version from the pushes it has (as with one shard) and logs which pushes
// those were (Commit). The other shards never decide on their own: they apply
// a version only when a trainer relays shard 0's commit of it (in its pull,
// right after pulling shard 0), with exactly the pushes it names, and drop
// the rest. A trainer sends shard 0 the last bucket of a step only once every
// other shard has acknowledged its buckets of that step, so whatever shard 0
// applied, the others hold. So every slice is stepped with the same batches,
// in the same order, whoever dies between its pushes: no batch is applied on
// one slice and handed out again on shard 0, nor applied on shard 0 and
// missing from another slice. Until the commit is relayed, a dead trainer's
// complete push stays at the other shards (shard 0 may have applied it).
//
// Faults (docs/FAULTS.md; membership.hpp, shard_checkpoints.hpp):
// - Pushes are de-duplicated per (slot, incarnation, version/step) and bucket
//   (offset, size); fencing applies to every bucket. A push or
//   join from an incarnation older than the newest known for its trainer, or
//   from one the scheduler reported dead, is fenced off and counted
//   (Progress::stale_incarnation); a dead or replaced incarnation's pending
//   gradient (complete, or the buckets received so far) is discarded, so no
//   gradient of a dead incarnation is ever applied.
// - Membership follows the scheduler's events: a dead trainer is no longer
//   waited for; a restarted one is waited for again from the next version.
// - Checkpoints (atomic) every checkpoint_every versions and on demand; the
//   previous one is kept. A restarted shard resumes from its checkpoint and
//   reports itself `restored`: the trainers then reconcile all shards to one
//   version every shard can reach (rollback()), under a new timeline, so the
//   S slices of the model always come from the same step. Pulls and pushes
//   carry the timeline they joined on; others are refused (the caller rejoins).
//
// Parts: this class is the actor; it ties together plain classes beside it,
// each with its own unit test: partial_push (bucket
// assembly), gradient_mean (the averaging), membership (slots, incarnations,
// fencing), shard_checkpoints (what is kept, which version a rollback can
// reach), commit_log (several shards), epoch_book (epochs), pull_queue (the
// waiting long polls), batch_ledger (work).
//
// Errors (docs/ARCHITECTURE.md, "Errors"): a method fails with a troupe::Errc,
// thrown as troupe::Exception (or, for the long polls, Deferred::fail), never
// another exception type: invalid_argument for a malformed request,
// stale_incarnation for a fenced-off trainer's join, not_found for a version or
// epoch the shard cannot give, unavailable for a pull the caller must rejoin
// for, timeout for a pull a newer one of its slot superseded, io_error for a
// checkpoint that cannot be written or read. What a
// well-formed push came to (accepted, duplicate, stale, dropped, rejoin) is not
// an error: it is PushReply::status, which the trainer's step acts on.
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "actors/training/batch_ledger.hpp"
#include "actors/training/commit_log.hpp"
#include "actors/training/epoch_book.hpp"
#include "actors/training/job.hpp"
#include "actors/training/membership.hpp"
#include "actors/training/messages.hpp"
#include "actors/training/partial_push.hpp"
#include "actors/training/pull_queue.hpp"
#include "actors/training/shard_checkpoints.hpp"
#include "actors/training/tensor_pool.hpp"
#include "kernels/adam.hpp"
#include "runtime/deferred.hpp"

namespace troupe::train {

/// An actor; every method runs on the executor thread (no locks needed), and
/// so does member_died when the event listener posts it (ActorContext::post).
class Aggregator {
 public:
  /// invalid_argument: a shard index out of range, a job finalize() did not
  /// fill in, a bad model, or a checkpoint directory holding another job's checkpoint;
  /// io_error: a damaged checkpoint.
  Aggregator(JobSpec job, int shard);

  /// A trainer (re)joins: returns where to resume. stale_incarnation: the
  /// incarnation is fenced off (older than the newest known, or reported
  /// dead): it must not train. invalid_argument: a slot out of range.
  JoinReply join(JoinRequest r);
  /// Moves to `r.version` (current version, a kept checkpoint, or 0) on timeline `r.timeline`;
  /// a no-op when already on that timeline. not_found: the version cannot be reached;
  /// io_error: its checkpoint cannot be read.
  JoinReply rollback(RollbackRequest r);
  /// The weights once they are recent enough for the mode (long poll); slot -1: the current ones at once.
  /// invalid_argument: a slot out of range; unavailable: the shard restarted or rolled back since the
  /// caller joined (join again); timeout: a newer pull of the same slot superseded this one.
  Deferred<Weights> pull(PullRequest r);
  /// A bucket of a gradient slice. invalid_argument for a malformed bucket (partial_push.hpp) or one
  /// naming its batch with a wrong sample count; otherwise PushReply::status says what became of it.
  PushReply push(PushRequest r);
  /// The weights and train statistics at the end of epoch e (long poll).
  /// invalid_argument: no such epoch in the job; not_found: no longer kept.
  Deferred<EpochSummary> epoch(int e);
  /// Counters. Never fails.
  Progress progress();
  /// Applied steps with version > since (kept by every shard; the driver reads shard 0). Never fails.
  std::vector<StepMetric> metrics(int64_t since);
  /// Writes a checkpoint now. invalid_argument: the job has no checkpoint directory; io_error: writing failed.
  CheckpointInfo checkpoint();
  /// Counters, membership and the contributors of the last `last` applied steps (at most 4096 kept). Never fails.
  ShardStats stats(int64_t last);
  /// The scheduler reported that `actor` incarnation `inc` died (also posted by the event listener). Never fails.
  void member_died(ActorId actor, Incarnation inc);
  /// A trainer learned from shard 0 that the run finished at `version`: shards
  /// other than 0 close their last epochs there (shard 0 knows it already). Never fails.
  bool finish(int64_t version);
  /// Shard 0: what each epoch trained so far (closed epochs, then the open one); other shards: empty. Never fails.
  std::vector<EpochLedger> ledger();

 private:
  [[nodiscard]] bool lockstep() const { return train::lockstep(job_); }
  [[nodiscard]] bool finished() const;
  /// Several shards: shard 0 decides what a version applies; the others follow its commits.
  [[nodiscard]] bool follower() const { return shard_ > 0 && job_.shards > 1; }
  [[nodiscard]] bool leader() const { return shard_ == 0 && job_.shards > 1; }
  void check_slot(int slot) const;
  void try_complete();
  /// A follower: keeps the relayed commits it has not applied and applies the next ones whose pushes it holds.
  void follow(const std::vector<Commit>& commits);
  void apply_commits();
  void apply(const std::vector<Contribution>& pushes);
  /// Adds bucket r to the slot's partial push; returns accepted or duplicate.
  /// Throws Exception(invalid_argument) for a malformed bucket, leaving the partial push as it was.
  PushReply::Status add_bucket(std::size_t slot, PushRequest& r);
  /// Discards the slot's pending push (counted), unless a follower must keep it
  /// complete until shard 0's commit says whether it was applied.
  void discard_pending(std::size_t slot);
  void publish();
  void after_version();
  void check_epochs();
  void close_epoch(const EpochLedger& ledger);
  /// The weights for a pull of `slot` (-1: an observer); shard 0 of several adds its commits after `since`.
  [[nodiscard]] Weights weights_for(int slot, int64_t since);
  /// The batch a push names, or the one handed to its slot (an older sender names none).
  [[nodiscard]] BatchId batch_of(const PushRequest& r);
  /// False when a push names a batch that shard 0 did not hand its trainer; throws
  /// Exception(invalid_argument) when it names the right batch with a wrong sample count.
  bool handed_out(const PushRequest& r);
  [[nodiscard]] int epoch_of(const PushRequest& r, BatchId b) const;
  void answer_pulls();
  [[nodiscard]] bool pull_ready(const PullRequest& r) const;
  Result<void> write_checkpoint_now();
  void restore();
  void load(ShardCheckpoint c);
  void reset_to_initial();
  void learn_membership();
  void listen_for_deaths();
  void adopt(std::size_t slot, ActorId actor, Incarnation inc);
  [[nodiscard]] JoinReply join_reply(const SlotState& s) const;

  JobSpec job_;
  int shard_;
  int64_t begin_, end_;
  std::vector<float> params_, grad_;
  kernels::AdamState adam_;
  int64_t version_ = 0;
  Tensor published_;
  TensorPool pool_;
  Membership slots_;
  std::vector<PartialPush> pending_;  // by slot: lockstep: the push for version_; ssp/async: the step being assembled
  PullQueue pulls_;
  EpochBook epochs_{0};
  std::vector<StepMetric> metrics_;
  Progress stats_;
  double apply_us_total_ = 0;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  // faults
  int64_t timeline_ = 0;
  bool restored_ = false;
  ShardCheckpoints checkpoints_;
  std::deque<StepContributors> recent_;
  CommitLog commits_;  // several shards: shard 0's log, or a follower's relayed commits
  // work
  std::optional<BatchLedger> ledger_;  // shard 0 only
  int64_t finish_at_ = -1;             // other shards: the version the run finished at, once told
};

}  // namespace troupe::train
