#pragma once
// Trainer: the step of DESIGN §5 in a background loop, while the actor keeps
// answering status/evaluate/stop calls:
//   pull weights (version v) from every shard, and from shard 0 the batch to
//   train (batch_ledger.hpp: usually its own slot's next one; a dead or slow
//   trainer's when its own are done) → take that batch from the loader that
//   serves it (the next one is asked for one step ahead) → forward/backward → push (v, gradient, samples, loss sum)
//   to every shard in buckets, DDP-style: whole layers merged up to
//   job.bucket_bytes (job.hpp grad_buckets()), each bucket pushed as its own
//   call as soon as backward has finished the layers it covers, last layer
//   first. Shard 0's final bucket goes out after backward: it carries the
//   batch's loss statistics.
// Runs on cuda:N when the scheduler gave it a GPU and the job asks for cuda,
// else on the CPU with job.trainer_threads OpenMP threads.
// When a shard call fails (a shard restarted from its checkpoint), it joins
// again: if a shard restarted, it first reconciles every shard to one version
// they can all reach (Aggregator::rollback), then resumes from there. It waits
// for an unreachable shard at most job.shard_timeout_s, reporting the wait in
// status(); past that it sets status().error and stops stepping (no crash).
// A kernel (device) error is not retried in place: it ends the process, and
// the scheduler starts a fresh incarnation, as for any crash.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "actors/training/aggregator.hpp"
#include "actors/training/job.hpp"
#include "actors/training/messages.hpp"
#include "actors/training/shard_loader.hpp"
#include "actors/training/tensor_pool.hpp"
#include "kernels/mlp.hpp"
#include "runtime/actor_handle.hpp"

namespace troupe::train {

/// An actor: methods run on the executor thread, the step loop on a background
/// thread; they share only status_ (under status_mutex_) and atomics.
/// Errors (docs/ARCHITECTURE.md, "Errors"): methods fail with a troupe::Errc.
class Trainer {
 public:
  /// `loaders`: every loader of the job, by index (a trainer may be handed a batch of another slot's loader).
  /// invalid_argument: a slot out of range, a handle count that does not match the job, or a bad model.
  Trainer(JobSpec job, int slot, std::vector<ActorHandle<ShardLoader>> loaders,
          std::vector<ActorHandle<Aggregator>> shards);
  ~Trainer();

  /// Never fails. A fenced-off incarnation (a shard's join failed with
  /// stale_incarnation) or a shard unreachable past shard_timeout_s shows in status().error.
  TrainerStatus status();
  /// Loss and accuracy of epoch `epoch`'s weights (or the latest) on a split.
  /// Fails with the error of the loader's split() or the shard's epoch()/pull()
  /// it needed (e.g. not_found, timeout); malformed_message for a slice of the wrong size.
  EvalResult evaluate(EvalRequest r);
  /// Stops the step loop after the current step. Never fails.
  bool stop();
  /// Testing (fault injection): "abort" (SIGABRT now), "exception" (the step
  /// loop throws: exit code 4), "cuda" (the next step fails as on a CUDA error).
  /// invalid_argument: another kind.
  std::string inject(std::string kind);

 private:
  void loop(std::stop_token st);
  bool join_all(std::stop_token st);
  bool reconcile(const std::vector<JoinReply>& replies, std::string& why);
  bool step_once(std::stop_token st);
  /// The weights of every shard: shard 0's first, then the others', relaying shard 0's commits to them.
  bool pull_all(std::vector<Weights>& w);
  Future<Batch> fetch(BatchId b);

  JobSpec job_;
  int slot_;
  std::vector<ActorHandle<ShardLoader>> loaders_;
  std::vector<ActorHandle<Aggregator>> shards_;
  std::vector<std::pair<int64_t, int64_t>> ranges_;
  std::vector<GradBucket> buckets_;  // in push order; the last is shard 0's final bucket
  ActorId self_ = 0;
  Incarnation incarnation_ = 0;
  int64_t num_params_ = 0;

  // step loop state (background thread only)
  std::unique_ptr<kernels::Mlp> model_;
  std::vector<float> params_;
  TensorPool grad_pool_;
  int64_t version_ = 0;  // of the weights last pulled
  int64_t step_ = 0;     // data cursor
  int64_t timeline_ = -1;  // the shards' timeline at the last join
  int64_t relayed_ = -1;   // the other shards' lowest version seen: shard 0's commits after it are relayed
  int64_t joins_ = 0;
  bool finished_ = false;  // shard 0 said the run is finished
  std::optional<Future<Batch>> next_batch_;
  BatchId next_batch_id_;
  std::vector<Future<PushReply>> pushes_;

  // evaluation (executor thread only)
  std::unique_ptr<kernels::Mlp> eval_model_;
  std::map<std::string, Batch> eval_data_;

  std::atomic<bool> stop_{false};
  std::atomic<int> fault_{0};  // injected: 1 exception, 2 device error
  std::mutex status_mutex_;
  TrainerStatus status_;
  double compute_us_ = 0, wait_us_ = 0;
};

}  // namespace troupe::train
