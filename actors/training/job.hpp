#pragma once
// What a training job is, as every training actor sees it: data, model,
// optimizer, batch, consistency mode, checkpoints (DESIGN §5). Built and
// validated by the driver (actors/training/train_config.hpp), then passed to
// each actor's constructor. Plain value; msgpack map on the wire.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <msgpack.hpp>

#include "kernels/adam_hyper.hpp"
#include "kernels/mlp_spec.hpp"

namespace troupe::train {

/// When an aggregator shard completes a step.
enum class Consistency : uint8_t {
  sync = 0,    ///< every live trainer pushed for version v
  backup = 1,  ///< N - b trainers pushed for version v; the rest are dropped
  ssp = 2,     ///< every push applied at once; a trainer may run at most s steps ahead of the slowest
  async = 3,   ///< every push applied at once; no bound
};

/// "sync", "backup", "ssp", "async".
const char* consistency_name(Consistency c);

struct JobSpec {
  // data
  std::string train_images, train_labels, test_images, test_labels;  ///< test_* may be empty
  double val_fraction = 0.0;              ///< held out of the training file
  std::vector<int32_t> positive_classes;  ///< non-empty: label 1 for these classes, 0 for the rest
  int64_t limit_train = 0;                ///< use only the first N samples of the training file (0: all)
  // model
  std::vector<int64_t> sizes;
  std::vector<std::string> activations;  ///< kernel names, one per layer, last "identity"
  std::string loss = "softmax_ce";
  std::string backend = "cpu";
  int trainer_threads = 1;
  // optimizer
  kernels::AdamHyper adam;
  float lr_final = 1.0f;  ///< learning rate decays linearly to lr * lr_final over the run
  // schedule
  int64_t batch = 64;  ///< per trainer
  int epochs = 1;
  int64_t max_steps = 0;  ///< stop after this many steps per trainer (0: epochs * steps_per_epoch)
  int trainers = 1, loaders = 1, shards = 1;
  Consistency mode = Consistency::sync;
  int backup = 0;     ///< backup mode: complete after trainers - backup pushes
  int staleness = 0;  ///< ssp mode: the bound s
  uint64_t seed = 42;
  std::string checkpoint_dir;    ///< empty: no checkpoints
  int64_t checkpoint_every = 0;  ///< versions between checkpoints (0: only on demand)
  double shard_timeout_s = 120;  ///< a trainer waits this long for an unreachable shard, then reports an error and stops
  /// Gradient buckets (grad_buckets()): whole layers merged, last layer first,
  /// until a bucket holds at least this many bytes (0: one bucket per layer;
  /// larger than the model: one push per shard per step).
  int64_t bucket_bytes = int64_t{64} << 10;
  /// Testing (fault injection): [slot, incarnation] pairs whose trainer constructor throws.
  std::vector<int64_t> fault_ctor_throw;
  // derived by the driver (finalize())
  int64_t train_samples = 0;    ///< after the validation split and the limit
  int64_t steps_per_epoch = 0;  ///< per trainer
  int64_t total_steps = 0;      ///< per trainer

  MSGPACK_DEFINE_MAP(train_images, train_labels, test_images, test_labels, val_fraction, positive_classes,
                     limit_train, sizes, activations, loss, backend, trainer_threads, adam.lr, adam.beta1,
                     adam.beta2, adam.eps, adam.weight_decay, lr_final, batch, epochs, max_steps, trainers, loaders,
                     shards, mode, backup, staleness, seed, checkpoint_dir, checkpoint_every, train_samples,
                     steps_per_epoch, total_steps, shard_timeout_s, fault_ctor_throw, bucket_bytes);
};

/// The kernels' spec of the job's model. Throws troupe::Exception(invalid_argument)
/// on bad names or sizes (the training actors' error rule, docs/ARCHITECTURE.md). Thread-safe.
kernels::MlpSpec mlp_spec(const JobSpec& job);

/// Fills train_samples, steps_per_epoch and total_steps from the number of
/// samples in the training file. Thread-safe.
void finalize(JobSpec& job, int64_t file_samples);

/// [begin, end) of the flat parameter vector owned by shard s of S (even split).
std::pair<int64_t, int64_t> shard_range(int64_t num_params, int shards, int s);

/// One bucket of a trainer's gradient push: [begin, end) of the flat parameter
/// vector, inside shard `shard`'s range; `last` marks the shard's final bucket
/// of a step (the lowest offsets), which carries the loss statistics.
struct GradBucket {
  int shard = 0;
  int64_t begin = 0, end = 0;
  bool last = false;
};

/// The buckets a trainer pushes each step, in push order: highest offsets
/// first, as backward produces them (shard S-1's buckets, then S-2's, ...,
/// shard 0's final bucket last). Within a shard, the parts of the layers that
/// fall in its range, from the last layer back, merged until a bucket holds at
/// least job.bucket_bytes; the remainder (the first layers) is the final
/// bucket. Buckets never split a layer except at a shard boundary; together
/// they cover every parameter once. Throws troupe::Exception(invalid_argument) on a bad model. Thread-safe.
std::vector<GradBucket> grad_buckets(const JobSpec& job);

/// Whether the mode steps in lockstep (sync, backup: one version per step,
/// every trainer on the same version) rather than applying each push alone
/// (ssp, async). Decided here only. Thread-safe.
[[nodiscard]] constexpr bool lockstep(Consistency mode) {
  return mode == Consistency::sync || mode == Consistency::backup;
}
[[nodiscard]] constexpr bool lockstep(const JobSpec& job) { return lockstep(job.mode); }

/// The learning rate at `progress` in [0, 1] of the run's data (linear decay
/// to lr * lr_final; kernels::linear_decay_lr). Shards take progress from the
/// batch ledger (the batches settled so far over all of the run's), so that
/// faults, which add steps, do not move the schedule; without a ledger's
/// progress, step_progress(). Thread-safe.
float scheduled_lr(const JobSpec& job, double progress);

/// The progress of Adam step t (1-based) of the run's total_adam_steps(): (t - 1) / total,
/// 0 when the job has no steps. Without faults it equals the ledger's progress
/// when step t is handed out. Thread-safe.
double step_progress(const JobSpec& job, int64_t t);

/// Adam steps a shard takes over the whole run (sync/backup: one per version;
/// ssp/async: one per push). Thread-safe.
int64_t total_adam_steps(const JobSpec& job);

}  // namespace troupe::train

MSGPACK_ADD_ENUM(troupe::train::Consistency);
