#pragma once
// What a training job's driver tells the scheduler about its job (docs/CLI.md,
// "Job"). Fed with the applied steps that aggregator shard 0 records (each
// carries its contributors), the evaluations, the epochs' results and the
// actors' states; builds JobInfo reports whose `history` and `epoch_results`
// hold only what was not sent before. Derives the
// per-trainer rows from the contributors, so it needs no calls to the trainers.
// Not thread-safe: the driver's loop owns it.
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "actors/training/messages.hpp"
#include "runtime/codec.hpp"  // msgpack for the Tensors inside messages.hpp
#include "runtime/control.hpp"

namespace troupe::train {

class JobReporter {
 public:
  /// A trainer slot: its actor and name (the slot is the index).
  struct TrainerRef {
    ActorId actor = 0;
    std::string name;
  };
  /// Job `id` (0: not registered) under `name`.
  JobReporter(std::string name, JobId id);
  /// The trainer slots, once spawned; `points_every`: one history point per
  /// that many versions (its loss is their mean).
  void set_trainers(std::vector<TrainerRef> trainers, int64_t points_every);

  [[nodiscard]] const std::string& name() const { return name_; }
  /// Epochs planned and steps per epoch (per trainer), for a progress bar.
  void set_plan(int64_t epochs_total, int64_t steps_per_epoch) {
    epochs_total_ = epochs_total;
    steps_per_epoch_ = steps_per_epoch;
  }
  /// Steps done in the current epoch (per trainer).
  void set_epoch_step(int64_t step) { epoch_step_ = step; }
  /// A finished epoch's results (sent once, with the next report).
  void add_epoch(const JobEpoch& e) { pending_epochs_.push_back(e); }
  /// The closing lines, why the job failed or stopped, where its outputs go.
  void set_summary(std::string s) { summary_ = std::move(s); }
  void set_reason(std::string s) { reason_ = std::move(s); }
  void set_output_dir(std::string s) { output_dir_ = std::move(s); }
  /// Applied steps, version order (Aggregator::metrics of shard 0).
  void add_steps(const std::vector<train::StepMetric>& steps);
  /// An accuracy (0..1) measured on the weights of version `step`.
  void add_accuracy(int64_t step, double accuracy);
  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  /// The trainers' actor states, from the scheduler's state.
  void set_actor_states(const ClusterState& state);
  /// The report to send now with `state` (RUNNING, DONE, FAILED, STOPPED); the
  /// new history points move into it. A final state also flushes the steps not
  /// yet summed into a point.
  [[nodiscard]] JobInfo take_report(const std::string& state);

 private:
  using Clock = std::chrono::steady_clock;
  struct Window {  // one applied step, for the recent-window rates
    int64_t time_us = 0;
    int64_t samples = 0;
    std::vector<int64_t> slot_samples;
  };
  struct Row {
    std::string state;
    int64_t steps = 0, last_step = 0;
  };
  void flush_point(int64_t version, int64_t time_ms);
  /// Samples per second of the recent window: the job's (slot -1) or one slot's.
  [[nodiscard]] double rate(int slot) const;

  std::string name_;
  JobId id_;
  std::vector<TrainerRef> trainers_;
  std::vector<Row> rows_;
  int64_t points_every_ = 1;
  int64_t epochs_total_ = 0, steps_per_epoch_ = 0, epoch_step_ = 0;
  std::vector<JobEpoch> pending_epochs_;  // not yet sent
  std::string summary_, reason_, output_dir_;
  int64_t epoch_ = 0, step_ = 0;
  double loss_ = -1, accuracy_ = -1;
  bool any_step_ = false;
  std::deque<Window> window_;
  Clock::time_point last_arrival_ = Clock::now();
  std::deque<JobContributors> contributors_;
  std::vector<JobPoint> pending_;  // history not yet sent
  double point_loss_sum_ = 0;      // steps since the last point
  int64_t point_samples_ = 0, point_version_ = 0, point_time_ms_ = 0;
};

}  // namespace troupe::train
