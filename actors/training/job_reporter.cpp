#include "actors/training/job_reporter.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace troupe::train {

namespace {

constexpr int64_t kWindowUs = 3'000'000;     // recent-window rates
constexpr std::size_t kContributorSteps = 5;  // the last steps shown with their contributors
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

JobReporter::JobReporter(std::string name, JobId id) : name_(std::move(name)), id_(id) {}

void JobReporter::set_trainers(std::vector<TrainerRef> trainers, int64_t points_every) {
  trainers_ = std::move(trainers);
  rows_.assign(trainers_.size(), Row{});
  points_every_ = std::max<int64_t>(1, points_every);
}

void JobReporter::add_steps(const std::vector<train::StepMetric>& steps) {
  if (steps.empty()) return;
  last_arrival_ = Clock::now();
  // The shard's clock (time_us) places the steps relative to each other; the
  // newest one is taken to have happened now.
  const int64_t now = wall_ms(), newest_us = steps.back().time_us;
  for (const auto& m : steps) {
    const int64_t time_ms = now - (newest_us - m.time_us) / 1000;
    Window w{m.time_us, m.samples, std::vector<int64_t>(trainers_.size(), 0)};
    JobContributors c{m.version, {}};
    for (std::size_t i = 0; i + 2 < m.contributors.size(); i += 3) {
      const int64_t slot = m.contributors[i];
      if (slot < 0 || slot >= static_cast<int64_t>(trainers_.size())) continue;
      const auto s = static_cast<std::size_t>(slot);
      w.slot_samples[s] += m.contributors[i + 2];
      ++rows_[s].steps;
      rows_[s].last_step = m.version;
      c.trainers.push_back(trainers_[s].name);
    }
    window_.push_back(std::move(w));
    contributors_.push_back(std::move(c));
    if (contributors_.size() > kContributorSteps) contributors_.pop_front();
    step_ = m.version;
    any_step_ = true;
    loss_ = m.samples ? m.loss_sum / static_cast<double>(m.samples) : kNaN;
    point_loss_sum_ += m.loss_sum;
    point_samples_ += m.samples;
    point_version_ = m.version;
    point_time_ms_ = time_ms;
    if (m.version % points_every_ == 0) flush_point(m.version, time_ms);
  }
  while (window_.size() > 1 && window_.front().time_us < window_.back().time_us - kWindowUs) window_.pop_front();
}

void JobReporter::flush_point(int64_t version, int64_t time_ms) {
  if (point_samples_ == 0) return;
  pending_.push_back(
      JobPoint{version, time_ms, point_loss_sum_ / static_cast<double>(point_samples_), -1, rate(-1)});
  point_loss_sum_ = 0;
  point_samples_ = 0;
}

void JobReporter::add_accuracy(int64_t step, double accuracy) {
  if (!std::isfinite(accuracy)) return;
  accuracy_ = accuracy;
  // Loss null: this point belongs to the accuracy curve only.
  pending_.push_back(JobPoint{step, wall_ms(), kNaN, accuracy, rate(-1)});
}

void JobReporter::set_actor_states(const ClusterState& state) {
  for (std::size_t s = 0; s < trainers_.size(); ++s)
    for (const auto& a : state.actors)
      if (a.id == trainers_[s].actor) rows_[s].state = std::string(state_name(a.state));
}

double JobReporter::rate(int slot) const {
  if (window_.size() < 2) return 0;
  int64_t samples = 0;
  for (std::size_t i = 1; i < window_.size(); ++i)
    samples += slot < 0 ? window_[i].samples : window_[i].slot_samples[static_cast<std::size_t>(slot)];
  double span_s = static_cast<double>(window_.back().time_us - window_.front().time_us) * 1e-6;
  // No step for a while (a sync job waiting for a dead trainer): the rate falls.
  const double idle_s = std::chrono::duration<double>(Clock::now() - last_arrival_).count();
  if (idle_s > 1.0) span_s += idle_s;
  return span_s > 0 ? static_cast<double>(samples) / span_s : 0;
}

JobInfo JobReporter::take_report(const std::string& state) {
  if (state != "RUNNING" && point_samples_ > 0) flush_point(point_version_, point_time_ms_);
  JobInfo j;
  j.name = name_;
  j.id = id_;
  j.state = state;
  j.epochs_total = epochs_total_;
  j.steps_per_epoch = steps_per_epoch_;
  j.epoch_step = epoch_step_;
  j.epoch_results = std::move(pending_epochs_);
  pending_epochs_.clear();
  j.summary = summary_;
  j.reason = reason_;
  j.output_dir = output_dir_;
  j.epoch = epoch_;
  j.step = step_;
  j.loss = any_step_ ? loss_ : kNaN;
  j.accuracy = accuracy_;
  j.samples_per_s = rate(-1);
  for (std::size_t s = 0; s < trainers_.size(); ++s)
    j.trainers.push_back(JobTrainer{trainers_[s].actor, trainers_[s].name, rows_[s].state, rows_[s].steps,
                                    rate(static_cast<int>(s)), rows_[s].last_step});
  j.contributors.assign(contributors_.begin(), contributors_.end());
  j.history = std::move(pending_);
  pending_.clear();
  return j;
}

}  // namespace troupe::train
