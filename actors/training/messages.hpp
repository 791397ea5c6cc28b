#pragma once
// The values the training actors exchange (DESIGN §5). msgpack maps; tensors
// travel as zero-copy frames (runtime/codec.hpp).
#include <cstdint>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "runtime/ids.hpp"
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
  MSGPACK_DEFINE_MAP(slot, actor, incarnation);
};

/// Shard → trainer: where to resume.
struct JoinReply {
  int64_t version = 0;
  int64_t next_step = 0;  ///< the slot's data cursor (ssp/async); sync/backup use the version
  int64_t begin = 0, end = 0;
  MSGPACK_DEFINE_MAP(version, next_step, begin, end);
};

/// Trainer → shard: the weights, once they are recent enough.
struct PullRequest {
  int slot = 0;
  Incarnation incarnation = 0;
  int64_t min_version = 0;  ///< sync/backup: wait until this version exists
  int64_t step = 0;         ///< ssp: the step the trainer is about to compute
  MSGPACK_DEFINE_MAP(slot, incarnation, min_version, step);
};

/// Shard → trainer: the shard's slice of the weights at `version`.
struct Weights {
  int64_t version = 0;
  Tensor w;
  MSGPACK_DEFINE_MAP(version, w);
};

/// Trainer → shard: the gradient slice of one step.
struct PushRequest {
  int slot = 0;
  ActorId actor = 0;
  Incarnation incarnation = 0;
  int64_t version = 0;  ///< the weights it was computed on
  int64_t step = 0;     ///< the trainer's step (data cursor)
  int64_t samples = 0;
  double loss_sum = 0;
  int64_t correct = 0;
  Tensor grad;  ///< mean gradient over the batch, this shard's slice
  MSGPACK_DEFINE_MAP(slot, actor, incarnation, version, step, samples, loss_sum, correct, grad);
};

/// What became of a push.
struct PushReply {
  enum Status : int { accepted = 0, duplicate = 1, stale = 2, dropped = 3 };
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
  MSGPACK_DEFINE_MAP(epoch, version, loss_sum, samples, correct, final_epoch, w);
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
  int64_t stale = 0;
  int64_t checkpoints = 0;
  int64_t restored_version = -1;  ///< the checkpoint it resumed from, -1 if none
  double apply_us_mean = 0;
  int64_t begin = 0, end = 0;
  bool finished = false;
  MSGPACK_DEFINE_MAP(version, samples, pushes, duplicates, stale, checkpoints, restored_version, apply_us_mean,
                     begin, end, finished);
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
  double compute_us_mean = 0;
  double wait_us_mean = 0;  ///< pulling weights and batches
  MSGPACK_DEFINE_MAP(slot, incarnation, step, steps_done, samples, finished, error, compute_us_mean, wait_us_mean);
};

}  // namespace troupe::train
