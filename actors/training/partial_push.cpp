#include "actors/training/partial_push.hpp"

#include <iterator>
#include <string>

#include "runtime/error.hpp"

namespace troupe::train {

namespace {
Exception invalid(std::string why) { return Exception(Error(Errc::invalid_argument, std::move(why))); }
}  // namespace

void check_bucket_shape(const PushRequest& r, int64_t slice_size, int shard, int trainers, int64_t total_steps,
                        int epochs) {
  if (r.grad.dtype() != DType::f32 || r.samples < 0)
    throw invalid("gradient bucket must be f32 with samples >= 0, got " + r.grad.to_string() + " with samples " +
                  std::to_string(r.samples));
  if (r.grad.numel() <= 0 || r.offset < 0 || r.offset > slice_size - r.grad.numel())
    throw invalid("slot " + std::to_string(r.slot) + ": gradient bucket [" + std::to_string(r.offset) + ", " +
                  std::to_string(r.offset + r.grad.numel()) + ") is out of range: shard " + std::to_string(shard) +
                  "'s slice has " + std::to_string(slice_size) + " elements");
  // What shard 0 handed out is in range; anything else would key the epoch accounts with garbage.
  if ((r.batch.valid() && (r.batch.slot >= trainers || r.batch.step >= total_steps)) || r.epoch < -1 ||
      r.epoch > epochs || r.progress > 1.0)
    throw invalid("slot " + std::to_string(r.slot) + ": push names batch (" + std::to_string(r.batch.slot) + ", " +
                  std::to_string(r.batch.step) + ") of epoch " + std::to_string(r.epoch) + ": the job has " +
                  std::to_string(trainers) + " slots, " + std::to_string(total_steps) + " steps per slot and " +
                  std::to_string(epochs) + " epochs");
}

std::optional<PushReply::Status> PartialPush::check(const PushRequest& r) const {
  const int64_t count = r.grad.numel();
  auto bad = [&](const std::string& why) {
    return invalid("slot " + std::to_string(r.slot) + " version " + std::to_string(r.version) + ": gradient bucket [" +
                   std::to_string(r.offset) + ", " + std::to_string(r.offset + count) + ") " + why);
  };
  if (active_) {
    if (auto it = buckets_.find(r.offset); it != buckets_.end() && it->second.numel() == count)
      return PushReply::duplicate;  // the same bucket again (a retry)
    auto next = buckets_.lower_bound(r.offset);
    auto overlap = [&](const auto& it) {
      return bad("overlaps the bucket [" + std::to_string(it->first) + ", " +
                 std::to_string(it->first + it->second.numel()) + ") received before");
    };
    if (next != buckets_.end() && next->first < r.offset + count) throw overlap(next);
    if (next != buckets_.begin()) {
      if (auto prev = std::prev(next); prev->first + prev->second.numel() > r.offset) throw overlap(prev);
    }
    if (r.samples != samples_)
      throw bad("says " + std::to_string(r.samples) + " samples, the step's earlier buckets " +
                std::to_string(samples_));
    if (r.last && has_last_) throw bad("is flagged last, and so was an earlier bucket of the step");
  }
  const bool has_last = r.last || (active_ && has_last_);
  if (!has_last && (active_ ? covered_ : 0) + count == size_)
    throw bad("completes the slice but no bucket of the step is flagged last");
  return std::nullopt;
}

void PartialPush::add(PushRequest& r, BatchId batch, int epoch) {
  if (active_ && !(batch == batch_))
    throw invalid("slot " + std::to_string(r.slot) + " version " + std::to_string(r.version) + ": gradient bucket [" +
                  std::to_string(r.offset) + ", " + std::to_string(r.offset + r.grad.numel()) + ") names batch (" +
                  std::to_string(batch.slot) + ", " + std::to_string(batch.step) + "), the step's earlier buckets (" +
                  std::to_string(batch_.slot) + ", " + std::to_string(batch_.step) + ")");
  if (!active_) {
    active_ = true;
    actor_ = r.actor;
    incarnation_ = r.incarnation;
    version_ = r.version;
    step_ = r.step;
    samples_ = r.samples;
    batch_ = batch;
    epoch_ = epoch;
    progress_ = r.progress;
  }
  const int64_t count = r.grad.numel();
  buckets_.emplace(r.offset, std::move(r.grad));  // zero-copy: the frame it arrived in
  covered_ += count;
  if (r.last) {
    has_last_ = true;
    loss_sum_ = r.loss_sum;
    correct_ = r.correct;
  }
}

void PartialPush::reset() {
  active_ = false;
  samples_ = 0;
  loss_sum_ = 0;
  correct_ = 0;
  has_last_ = false;
  covered_ = 0;
  buckets_.clear();
}

Contribution PartialPush::contribution(int slot) const {
  return {slot, incarnation_, step_, samples_, loss_sum_, correct_, batch_, epoch_, progress_, &buckets_};
}

}  // namespace troupe::train
