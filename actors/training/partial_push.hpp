#pragma once
// Bucket assembly (aggregator.hpp, "Buckets"): one trainer's push for one
// version (lockstep) or step, assembled from the buckets it arrives in, in any
// order. Each bucket is kept as the frame it arrived in (zero-copy); the push
// is complete once its buckets cover the slice exactly, with one flagged
// `last`. A bucket out of the slice, overlapping another, a second `last`, one
// completing the slice without a `last`, or one whose sample count or batch
// disagrees with the step's earlier buckets is refused; an exact repeat of a
// received bucket is a duplicate. Fencing, versions and timelines are the
// aggregator's business, not this class's.
#include <cstdint>
#include <map>
#include <optional>

#include "actors/training/messages.hpp"
#include "runtime/ids.hpp"
#include "runtime/tensor.hpp"

namespace troupe::train {

/// A complete push, as the averaging step reads it (one slot's, for one step).
struct Contribution {
  int slot = 0;
  Incarnation incarnation = 0;
  int64_t step = 0, samples = 0;
  double loss_sum = 0;
  int64_t correct = 0;
  BatchId batch;
  int epoch = 0;
  double progress = -1;
  const std::map<int64_t, Tensor>* buckets = nullptr;  ///< by offset, covering the slice exactly; owned by the PartialPush
};

/// Checks what a bucket says about itself against a slice of `slice_size`
/// elements of shard `shard` of a job with `trainers` slots, `total_steps`
/// steps per slot and `epochs` epochs: f32, samples >= 0, non-empty and inside
/// the slice, naming a batch and epoch the job has. Throws
/// troupe::Exception(Errc::invalid_argument) naming what is wrong. Thread-safe.
void check_bucket_shape(const PushRequest& r, int64_t slice_size, int shard, int trainers, int64_t total_steps,
                        int epochs);

/// One slot's push being assembled. A plain value: not thread-safe (its owner,
/// the aggregator, uses it on the executor thread only).
class PartialPush {
 public:
  /// An empty push for a slice of `slice_size` elements.
  explicit PartialPush(int64_t slice_size = 0) : size_(slice_size) {}

  /// Checks bucket r (already shape-checked) against the buckets received,
  /// changing nothing: PushReply::duplicate for an exact repeat of a received
  /// bucket, nullopt for a new bucket that fits. Throws
  /// troupe::Exception(Errc::invalid_argument) for an overlap, a sample count
  /// other than the earlier buckets', a second `last`, or a bucket that would
  /// complete the slice without a `last`.
  [[nodiscard]] std::optional<PushReply::Status> check(const PushRequest& r) const;
  /// Adds bucket r, which check() accepted, computed on batch `batch` of epoch
  /// `epoch`: keeps r.grad's frame (moved out of r, zero-copy). Throws
  /// troupe::Exception(Errc::invalid_argument), leaving the push as it was,
  /// when `batch` differs from the earlier buckets'.
  void add(PushRequest& r, BatchId batch, int epoch);
  /// Drops every bucket received: the push is empty again.
  void reset();

  /// Some bucket was received.
  [[nodiscard]] bool active() const { return active_; }
  /// The buckets cover the slice exactly (one of them flagged last).
  [[nodiscard]] bool complete() const { return active_ && covered_ == size_; }
  /// The sender of the first bucket (meaningful while active).
  [[nodiscard]] ActorId actor() const { return actor_; }
  [[nodiscard]] Incarnation incarnation() const { return incarnation_; }
  /// The version and step the first bucket named (meaningful while active).
  [[nodiscard]] int64_t version() const { return version_; }
  [[nodiscard]] int64_t step() const { return step_; }
  /// What the averaging step reads, for slot `slot`; points into this push (valid until it changes).
  [[nodiscard]] Contribution contribution(int slot) const;

 private:
  int64_t size_;
  bool active_ = false;
  ActorId actor_ = 0;
  Incarnation incarnation_ = 0;
  int64_t version_ = 0, step_ = 0;
  int64_t samples_ = 0;
  double loss_sum_ = 0;  // from the bucket flagged last
  int64_t correct_ = 0;
  bool has_last_ = false;
  BatchId batch_;          // the batch it was computed on
  int epoch_ = -1;         // its epoch
  double progress_ = -1;   // shard 0's data progress for its version (the learning rate's clock)
  int64_t covered_ = 0;    // elements received
  std::map<int64_t, Tensor> buckets_;  // by offset in the slice: the frames they arrived in (zero-copy)
};

}  // namespace troupe::train
