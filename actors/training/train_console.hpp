#pragma once
// Where a training job tells people what happens: the driver (in the
// foreground, or as a detached job's driver actor writing to its log) and a
// client following a job from the scheduler's reports (`troupe train
// --attach`) speak through TrainObserver; TrainConsole prints it the way
// `troupe train` always has (a progress bar on a terminal, else a line every
// 5 s; one line per epoch; the closing summary).
#include <chrono>
#include <cstdint>
#include <string>

#include "runtime/control.hpp"

namespace troupe::train {

/// The current epoch's progress.
struct TrainProgress {
  int64_t epoch = 0, epochs_total = 0;  ///< epoch counts from 1
  int64_t step = 0, steps = 0;          ///< steps done in the epoch / per epoch (per trainer)
  double steps_per_s = 0, samples_per_s = 0;
  double loss = 0;  ///< smoothed; NaN before the first step
};

/// Receives a job's story. Called from one thread at a time (the driver's
/// loop, or the follower's); implementations need no locks for that.
class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  /// A few times a second while an epoch runs.
  virtual void on_progress(const TrainProgress& p) = 0;
  /// An epoch ended (its evaluation included).
  virtual void on_epoch(const JobEpoch& e, int64_t epochs_total) = 0;
  /// A line for people: the job's name and cluster, early stopping, the summary.
  virtual void on_line(const std::string& line) = 0;
  /// An error or a warning (stderr).
  virtual void on_error(const std::string& line) = 0;
};

/// The epoch's line as `troupe train` prints it ("epoch 2/10: train loss …").
std::string format_epoch(const JobEpoch& e, int64_t epochs_total);

/// Prints to stdout/stderr. `progress`: "bar" (redrawn in place), "lines"
/// (one line every 5 s), "none", or "auto" (bar on a terminal, else lines).
/// Not thread-safe (one caller, as TrainObserver says).
class TrainConsole : public TrainObserver {
 public:
  explicit TrainConsole(const std::string& progress);
  void on_progress(const TrainProgress& p) override;
  void on_epoch(const JobEpoch& e, int64_t epochs_total) override;
  void on_line(const std::string& line) override;
  void on_error(const std::string& line) override;

 private:
  /// Ends the bar's line before a normal line is printed.
  void clear();
  bool tty_ = false, off_ = false, dirty_ = false;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace troupe::train
