#pragma once
// Trainer: the step of DESIGN §5 in a background loop, while the actor keeps
// answering status/evaluate/stop calls:
//   pull weights (version v) from every shard → take the next batch (asked for
//   one step ahead) → forward/backward → push (v, gradient slice, samples,
//   loss sum) to every shard, each slice as soon as backward has finished the
//   layers it covers (last layer first).
// Runs on cuda:N when the scheduler gave it a GPU and the job asks for cuda,
// else on the CPU with job.trainer_threads OpenMP threads.
// When a shard call fails (a shard restarted from its checkpoint), it joins
// again and resumes from the step the shard reports.
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

class Trainer {
 public:
  Trainer(JobSpec job, int slot, ActorHandle<ShardLoader> loader, std::vector<ActorHandle<Aggregator>> shards);
  ~Trainer();

  TrainerStatus status();
  /// Loss and accuracy of epoch `epoch`'s weights (or the latest) on a split.
  EvalResult evaluate(EvalRequest r);
  /// Stops the step loop after the current step.
  bool stop();

 private:
  void loop(std::stop_token st);
  void join_all(std::stop_token st);
  bool step_once(std::stop_token st);
  Weights pull_all();

  JobSpec job_;
  int slot_;
  ActorHandle<ShardLoader> loader_;
  std::vector<ActorHandle<Aggregator>> shards_;
  std::vector<std::pair<int64_t, int64_t>> ranges_;
  ActorId self_ = 0;
  Incarnation incarnation_ = 0;
  int64_t num_params_ = 0;

  // step loop state (background thread only)
  std::unique_ptr<kernels::Mlp> model_;
  std::vector<float> params_;
  TensorPool grad_pool_;
  int64_t version_ = 0;  // of the weights last pulled
  int64_t step_ = 0;     // data cursor
  std::optional<Future<Batch>> next_batch_;
  int64_t next_batch_step_ = -1;
  std::vector<Future<PushReply>> pushes_;

  // evaluation (executor thread only)
  std::unique_ptr<kernels::Mlp> eval_model_;
  std::map<std::string, Batch> eval_data_;

  std::atomic<bool> stop_{false};
  std::mutex status_mutex_;
  TrainerStatus status_;
  double compute_us_ = 0, wait_us_ = 0;
};

}  // namespace troupe::train
