#pragma once
// What `troupe train` tells the scheduler about its job (docs/CLI.md, "Job").
// Fed with the applied steps that aggregator shard 0 records (each carries its
// contributors), the evaluations and the actors' states; builds JobInfo
// reports whose `history` holds only the points not sent before. Derives the
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

namespace troupe::cli {

class JobReporter {
 public:
  /// A trainer slot: its actor and name (the slot is the index).
  struct TrainerRef {
    ActorId actor = 0;
    std::string name;
  };
  /// `points_every`: one history point per that many versions (its loss is their mean).
  JobReporter(std::string name, std::vector<TrainerRef> trainers, int64_t points_every);

  [[nodiscard]] const std::string& name() const { return name_; }
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
  std::vector<TrainerRef> trainers_;
  std::vector<Row> rows_;
  int64_t points_every_;
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

}  // namespace troupe::cli
