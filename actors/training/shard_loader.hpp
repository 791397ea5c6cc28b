#pragma once
// ShardLoader: serves one part of the training set to its trainer slots
// (actors/training/sampler.hpp says which samples), plus the validation and
// test splits for evaluation. Reads IDX (.gz too) or NPY. Batches are
// random-access by (slot, step), so a restarted trainer or loader carries on
// where it was; after answering step k of a slot it prepares step k + 1 in the
// background so that the trainer, which asks one step ahead, never waits.
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "actors/dataset/dataset.hpp"
#include "actors/training/job.hpp"
#include "actors/training/messages.hpp"
#include "actors/training/sampler.hpp"
#include "actors/training/tensor_pool.hpp"

namespace troupe::train {

/// An actor. Methods run on the executor thread; the prefetcher on its own thread (guarded by mutex_).
class ShardLoader {
 public:
  /// Loads the training file (and the test file, lazily). Fails with the
  /// dataset reader's error on unreadable data; invalid_argument for a loader index out of range or a
  /// file whose size the driver did not plan for.
  ShardLoader(JobSpec job, int loader);

  /// The batch of `slot` at global `step`. invalid_argument: a slot this loader does not serve.
  Batch batch(int slot, int64_t step);
  /// The whole "validation", "test" or "train" split as one batch (step = -1).
  /// invalid_argument: an unknown name; not_found: "test" for a job without a test set;
  /// the dataset reader's error when the test file cannot be read.
  Batch split(std::string name);
  /// Sizes and label range. Never fails.
  LoaderInfo info();

 private:
  Batch make_batch(int slot, int64_t step);
  void prefetch_loop(std::stop_token st);

  JobSpec job_;
  int loader_;
  dataset::Dataset train_;
  std::optional<dataset::Dataset> test_;
  Split split_;
  int32_t max_label_ = 0;

  std::mutex mutex_;  // guards everything below (and sampler_ / pool_)
  std::condition_variable cv_;
  Sampler sampler_;
  TensorPool pool_x_, pool_y_;
  std::map<std::pair<int, int64_t>, Batch> ready_;  // prefetched
  std::vector<std::pair<int, int64_t>> wanted_;
};

}  // namespace troupe::train
