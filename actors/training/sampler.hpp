#pragma once
// Which samples a trainer slot sees at which step. A pure function of the job
// (seed, sizes, counts), so a loader can answer any (slot, step) after a
// restart and a test can rebuild every batch. The scheme:
//   * a seeded permutation of the training file; the first val_fraction of it
//     is the validation split, the rest (after limit_train) the training set;
//   * loader l owns training positions p with (p % trainers) % loaders == l
//     (as many samples per slot for every loader, whatever the counts);
//   * each epoch the loader shuffles its part (seed, epoch, l), and its K
//     trainer slots take every K-th sample of that order (slot t is the
//     (t / loaders)-th slot of loader t % loaders);
//   * batch b of an epoch is [b * batch, (b + 1) * batch) of the slot's order,
//     short or empty at the end (every slot runs steps_per_epoch steps).
// Every training sample is served exactly once per epoch across all slots.
#include <cstdint>
#include <span>
#include <vector>

#include "actors/training/job.hpp"

namespace troupe::train {

/// Sample indices (into the training file) of the training and validation sets.
struct Split {
  std::vector<int64_t> train;
  std::vector<int64_t> validation;
};

/// The split of a file of `file_samples` samples. Thread-safe.
Split split_samples(const JobSpec& job, int64_t file_samples);

/// How many samples the batch of `slot` at global `step` holds (what
/// Sampler::batch returns, from the job's counts alone: no data needed).
/// Needs a finalized job. Thread-safe.
int64_t batch_samples(const JobSpec& job, int slot, int64_t step);

/// The loader that serves trainer slot `slot`.
inline int loader_of(const JobSpec& job, int slot) { return slot % job.loaders; }

/// Per-loader sampler. Not thread-safe (caches the current epoch's order per slot).
class Sampler {
 public:
  Sampler(const JobSpec& job, const Split& split, int loader);
  /// The sample indices of `slot`'s batch at global step `step` (possibly empty).
  std::span<const int64_t> batch(int slot, int64_t step);
  /// Training samples this loader owns.
  [[nodiscard]] int64_t owned() const { return static_cast<int64_t>(owned_.size()); }

 private:
  struct SlotOrder {
    int64_t epoch = -1;
    std::vector<int64_t> order;
  };
  const JobSpec& job_;
  int loader_;
  std::vector<int64_t> owned_;
  std::vector<int64_t> shuffled_;
  std::vector<SlotOrder> slots_;  // by slot index within this loader
};

/// Deterministic Fisher-Yates shuffle (splitmix64). Thread-safe.
void shuffle_indices(std::vector<int64_t>& v, uint64_t seed);

}  // namespace troupe::train
