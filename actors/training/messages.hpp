#pragma once
// The values the training actors exchange (DESIGN §5). msgpack maps; tensors
// travel as zero-copy frames (runtime/codec.hpp).
#include <cstdint>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "runtime/ids.hpp"
#include "runtime/codec.hpp"  // the msgpack adaptor of Tensor (self-contained header)
#include "runtime/tensor.hpp"

namespace troupe::train {

/// Loader → trainer: one batch. x is f32 [n, dim], y is i32 [n]; n may be 0 at the end of an epoch.
struct Batch {
  int64_t step = 0;
  int64_t samples = 0;
  Tensor x;
  Tensor y;
  std::vector<int64_t> index;  ///< sample indices in the training file (for checking coverage)
  MSGPACK_DEFINE_MAP(step, samples, x, y, index);
};

/// A batch of the epoch's ledger (batch_ledger.hpp): the `step`-th batch of
/// trainer slot `slot`'s data order (sampler.hpp), which the loader of that
/// slot serves (ShardLoader::batch(slot, step)). slot -1: no batch.
struct BatchId {
  int slot = -1;
  int64_t step = -1;
  [[nodiscard]] bool valid() const { return slot >= 0 && step >= 0; }
  bool operator==(const BatchId&) const = default;
  MSGPACK_DEFINE_MAP(slot, step);
};

/// What an epoch trained, from the ledger: every sample once, whoever trained it.
struct EpochLedger {
  int epoch = 0;
  int64_t batches = 0;            ///< in the epoch (every slot's steps, short and empty ones too)
  int64_t batches_settled = 0;    ///< trained and applied
  int64_t samples_expected = 0;   ///< the epoch's training samples
  int64_t samples_trained = 0;    ///< applied, counted once per batch
  int64_t samples_duplicated = 0; ///< applied a second time (a defect if ever non-zero)
  int64_t batches_stolen = 0;     ///< trained by another slot than their own
  int64_t batches_redone = 0;     ///< handed out again after their trainer died or their push was dropped
  [[nodiscard]] int64_t samples_skipped() const { return samples_expected - samples_trained; }
  MSGPACK_DEFINE_MAP(epoch, batches, batches_settled, samples_expected, samples_trained, samples_duplicated,
                     batches_stolen, batches_redone);
};

/// What a loader holds.
struct LoaderInfo {
  int64_t file_samples = 0;
  int64_t dim = 0;
  int64_t train_samples = 0;
  int64_t validation_samples = 0;
  int64_t test_samples = 0;
  int32_t max_label = 0;  ///< after the positive_classes mapping
  int64_t owned = 0;      ///< training samples this loader serves
  MSGPACK_DEFINE_MAP(file_samples, dim, train_samples, validation_samples, test_samples, max_label, owned);
};

/// Trainer → shard: I am slot `slot`, this actor and incarnation.
struct JoinRequest {
  int slot = 0;
  ActorId actor = 0;
  Incarnation incarnation = 0;
  int64_t from_version = -1;  ///< lockstep: not waited for before this version (-1: the shard decides)
  MSGPACK_DEFINE_MAP(slot, actor, incarnation, from_version);
};

/// Shard → trainer: where to resume.
struct JoinReply {
  int64_t version = 0;
  int64_t next_step = 0;  ///< the slot's data cursor (ssp/async); sync/backup use the version
  int64_t begin = 0, end = 0;
  int64_t timeline = 0;   ///< changes on every rollback; pulls and pushes carry it
  bool restored = false;  ///< resumed from a checkpoint (or restarted) and not yet reconciled with the other shards
  std::vector<int64_t> rollback_points;  ///< versions it can roll back to (its checkpoints, and 0)
  MSGPACK_DEFINE_MAP(version, next_step, begin, end, timeline, restored, rollback_points);
};

/// Trainer → every shard after a shard restarted: go to `version` and call the
/// result timeline `timeline` (a no-op when already on it).
struct RollbackRequest {
  int64_t version = 0;
  int64_t timeline = 0;
  MSGPACK_DEFINE_MAP(version, timeline);
};

/// Trainer → shard: the weights, once they are recent enough.
/// Shard 0's decision of what one version applied, relayed by the trainers
/// to the other shards, which apply exactly those pushes (aggregator.hpp,
/// "Several shards"): so every slice of the model is stepped with the same
/// batches, whoever dies between its pushes.
struct Commit {
  int64_t version = 0;          ///< the version the step produced
  int64_t timeline = 0;         ///< shard 0's timeline when it applied it
  std::vector<int64_t> pushes;  ///< [slot, incarnation, step] of each applied push, in slot order
  MSGPACK_DEFINE_MAP(version, timeline, pushes);
};

struct PullRequest {
  int slot = 0;
  Incarnation incarnation = 0;
  int64_t min_version = 0;  ///< sync/backup: wait until this version exists
  int64_t step = 0;         ///< ssp: the step the trainer is about to compute
  int64_t timeline = -1;    ///< the shard's timeline at join (-1: do not check)
  int64_t since = -1;       ///< to shard 0: send the commits of the versions after this one
  std::vector<Commit> commits;  ///< to the other shards: shard 0's commits, relayed
  MSGPACK_DEFINE_MAP(slot, incarnation, min_version, step, timeline, since, commits);
};

/// Shard → trainer: the shard's slice of the weights at `version`. Shard 0
/// also hands out the work (batch_ledger.hpp): the batch to train on them
/// (none: idle this step), the open epoch, and whether the run is finished.
struct Weights {
  int64_t version = 0;
  Tensor w;
  BatchId batch;
  int epoch = 0;
  bool finished = false;
  double progress = -1;  ///< shard 0: the share of the run's batches settled (the learning rate's clock)
  std::vector<Commit> commits;  ///< shard 0 of several: its commits after the pull's `since`, oldest first
  MSGPACK_DEFINE_MAP(version, w, batch, epoch, finished, progress, commits);
};

/// Trainer → shard: one bucket of the gradient slice of one step (DDP-style:
/// a trainer pushes each bucket of whole layers as soon as backward has
/// produced it, last layer first; actors/training/job.hpp grad_buckets()).
/// The shard assembles a trainer's push for a version from its buckets and
/// counts it only once they cover the slice exactly. The defaults of `offset`
/// and `last` make a push without them (an older sender) one bucket holding
/// the whole slice.
struct PushRequest {
  int slot = 0;
  ActorId actor = 0;
  Incarnation incarnation = 0;
  int64_t version = 0;  ///< the weights it was computed on
  int64_t step = 0;     ///< the trainer's step (data cursor)
  int64_t samples = 0;  ///< the batch's sample count: the same in every bucket of the step
  double loss_sum = 0;  ///< read from the bucket flagged `last` only
  int64_t correct = 0;  ///< read from the bucket flagged `last` only
  Tensor grad;  ///< mean gradient over the batch: elements [offset, offset + numel) of this shard's slice
  int64_t timeline = -1;  ///< the shard's timeline at join (-1: do not check)
  int64_t offset = 0;     ///< where `grad` starts within the shard's slice
  bool last = true;       ///< the step's final bucket for this shard: carries loss_sum and correct
  BatchId batch;          ///< the batch it was computed on, as shard 0 handed it (none: an older sender)
  int epoch = -1;         ///< shard 0's open epoch when it handed the batch out (-1: unknown)
  double progress = -1;   ///< shard 0's Weights::progress for the version it was computed on (-1: unknown)
  MSGPACK_DEFINE_MAP(slot, actor, incarnation, version, step, samples, loss_sum, correct, grad, timeline, offset,
                     last, batch, epoch, progress);
};

/// What became of a well-formed push: an outcome the trainer acts on, not an
/// error (a malformed push fails with invalid_argument; docs/ARCHITECTURE.md "Errors").
struct PushReply {
  /// stale: fenced (an incarnation older than the newest known, or one reported dead);
  /// rejoin: the shard rolled back or is recovering: join again.
  enum Status : int { accepted = 0, duplicate = 1, stale = 2, dropped = 3, rejoin = 4 };
  int status = accepted;
  int64_t version = 0;  ///< the shard's version after handling it
  MSGPACK_DEFINE_MAP(status, version);
};

/// The weights and training statistics at the end of an epoch.
struct EpochSummary {
  int epoch = 0;
  int64_t version = 0;
  double loss_sum = 0;
  int64_t samples = 0;
  int64_t correct = 0;
  bool final_epoch = false;
  Tensor w;
  EpochLedger ledger;  ///< shard 0's: what the epoch trained (other shards: zeros)
  MSGPACK_DEFINE_MAP(epoch, version, loss_sum, samples, correct, final_epoch, w, ledger);
};

/// One applied step, as shard 0 saw it.
struct StepMetric {
  int64_t version = 0;
  int64_t time_us = 0;  ///< since the shard started
  int64_t samples = 0;
  double loss_sum = 0;
  int64_t correct = 0;
  int64_t apply_us = 0;  ///< weighted mean + Adam + publish
  std::vector<int64_t> contributors;  ///< [slot, incarnation, samples] triples
  MSGPACK_DEFINE_MAP(version, time_us, samples, loss_sum, correct, apply_us, contributors);
};

/// A shard's counters.
struct Progress {
  int64_t version = 0;
  int64_t samples = 0;  ///< applied since the start (or restore)
  int64_t pushes = 0;
  int64_t duplicates = 0;
  int64_t stale = 0;  ///< pushes not applied: fenced incarnations, wrong versions, other timelines
  int64_t checkpoints = 0;
  int64_t restored_version = -1;  ///< the checkpoint it resumed from, -1 if none
  double apply_us_mean = 0;
  int64_t begin = 0, end = 0;
  bool finished = false;
  int64_t stale_incarnation = 0;  ///< "stale pushes rejected": from an incarnation older than the newest known, or dead
  int64_t discarded = 0;          ///< pending gradients dropped because their incarnation died
  int64_t deaths_seen = 0;        ///< trainer deaths reported by the scheduler
  int64_t rollbacks = 0;          ///< reconciliations that moved this shard back to another version
  int64_t timeline = 0;
  bool restored = false;          ///< waiting to be reconciled with the other shards
  MSGPACK_DEFINE_MAP(version, samples, pushes, duplicates, stale, checkpoints, restored_version, apply_us_mean,
                     begin, end, finished, stale_incarnation, discarded, deaths_seen, rollbacks, timeline, restored);
};

/// A trainer slot as a shard sees it.
struct SlotInfo {
  int slot = 0;
  ActorId actor = 0;
  Incarnation incarnation = 0;
  bool alive = true;
  int64_t joined_at = 0;
  int64_t last_version = -1;  ///< the last version it contributed to (-1: none)
  MSGPACK_DEFINE_MAP(slot, actor, incarnation, alive, joined_at, last_version);
};

/// Who contributed to one applied step: [slot, incarnation, samples] triples.
struct StepContributors {
  int64_t version = 0;  ///< the version the step produced
  int64_t time_us = 0;  ///< since the shard started
  std::vector<int64_t> contributors;
  int64_t unix_us = 0;  ///< when it was applied (system clock, for matching with kill times)
  std::vector<int64_t> batches;  ///< [slot, step] of each contributor's batch, in the same order (-1, -1: none)
  MSGPACK_DEFINE_MAP(version, time_us, contributors, unix_us, batches);
};

/// A shard's fault-tolerance view: counters, membership, and the contributors of the last steps.
struct ShardStats {
  Progress progress;
  std::vector<SlotInfo> slots;
  std::vector<StepContributors> recent;  ///< oldest first
  MSGPACK_DEFINE_MAP(progress, slots, recent);
};

/// Where a checkpoint went.
struct CheckpointInfo {
  std::string path;
  int64_t version = 0;
  MSGPACK_DEFINE_MAP(path, version);
};

/// Driver → trainer: evaluate the weights of epoch `epoch` (-1: the current ones) on a split.
struct EvalRequest {
  std::string split;  ///< "validation" or "test"
  int epoch = -1;
  MSGPACK_DEFINE_MAP(split, epoch);
};

struct EvalResult {
  std::string split;
  int64_t samples = 0;
  double loss = 0;      ///< mean
  double accuracy = 0;
  int64_t version = 0;
  MSGPACK_DEFINE_MAP(split, samples, loss, accuracy, version);
};

struct TrainerStatus {
  int slot = 0;
  Incarnation incarnation = 0;
  int64_t step = 0;
  int64_t steps_done = 0;
  int64_t samples = 0;
  bool finished = false;
  std::string error;
  double compute_us_mean = 0;  ///< forward/backward, the buckets' pushes sent on the way
  double wait_us_mean = 0;     ///< pulling weights and batches
  int64_t rejoins = 0;         ///< joins after the first (a shard restarted or rolled back)
  int64_t shard_waits = 0;     ///< times a shard could not be reached and the trainer waited for it
  double shard_wait_s = 0;     ///< total time spent waiting for shards
  double shard_wait_max_s = 0; ///< the longest wait
  std::string waiting;         ///< non-empty while waiting for a shard: what for
  int64_t version = 0;         ///< of the weights last pulled
  MSGPACK_DEFINE_MAP(slot, incarnation, step, steps_done, samples, finished, error, compute_us_mean, wait_us_mean,
                     rejoins, shard_waits, shard_wait_s, shard_wait_max_s, waiting, version);
};

}  // namespace troupe::train
