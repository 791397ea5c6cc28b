#include "actors/training/train_job.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>

#include <unistd.h>

#include "actors/training/aggregator.hpp"
#include "actors/training/job_reporter.hpp"
#include "actors/training/shard_loader.hpp"
#include "actors/training/train_outputs.hpp"
#include "actors/training/trainer.hpp"

namespace troupe::train {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string fmt(const char* format, auto... args) {
  char b[1024];
  std::snprintf(b, sizeof b, format, args...);
  return b;
}

double metric_of(const JobEpoch& r, const std::string& m) {
  if (m == "val_loss") return r.val_loss;
  if (m == "val_accuracy") return r.val_accuracy;
  if (m == "test_loss") return r.test_loss;
  if (m == "test_accuracy") return r.test_accuracy;
  return r.train_loss;
}

/// Thrown inside the loop to end the job FAILED with `error` (caught below).
struct JobFailure {
  Error error;
};

/// The driver's state of one job: its actors, its lease, its reporter and
/// what it has seen. run() is the loop of run_train_job.
class JobRun {
 public:
  JobRun(const Cluster& cluster, const TrainConfig& cfg, TrainObserver& out, const TrainJobOptions& o,
         JobLease lease)
      : cluster_(cluster),
        cfg_(cfg),
        job_(cfg.job),
        spec_(mlp_spec(cfg.job)),
        num_params_(kernels::ParamLayout(spec_).num_params()),
        out_(out),
        o_(o),
        lease_(std::move(lease)),
        reporter_(lease_.name(), lease_.id()) {}

  TrainOutcome run();

 private:
  void spawn_actors();
  void report(const std::string& state);
  void cleanup();
  void take_metrics();
  /// The epoch just ended: weights, evaluation, best model, its line. True when the job is over.
  bool end_epoch(const EpochSummary& sum);
  /// A job actor that is DEAD (no restarts left) fails the job.
  void check_health();
  TrainOutcome finish();
  TrainOutcome ended(const std::string& state, Error error, int signal = 0);

  const Cluster& cluster_;
  const TrainConfig& cfg_;
  const JobSpec& job_;
  const kernels::MlpSpec spec_;
  const int64_t num_params_;
  TrainObserver& out_;
  const TrainJobOptions& o_;
  JobLease lease_;
  JobReporter reporter_;
  std::optional<TrainOutputs> outputs_;  // once the output directory is known to be writable

  std::vector<std::string> names_;
  std::vector<ActorHandle<ShardLoader>> loaders_;
  std::vector<ActorHandle<Aggregator>> shards_;
  std::vector<ActorHandle<Trainer>> trainers_;

  std::string best_metric_;
  bool lower_better_ = false;
  int epochs_total_ = 0;
  Clock::time_point t_start_ = Clock::now(), t_epoch_ = Clock::now();
  int64_t last_version_ = 0, epoch_start_version_ = 0, epoch_start_samples_ = 0, total_samples_ = 0;
  double loss_ema_ = NAN;
  // The progress line's rates, over the last few seconds (not since the
  // epoch began: its first steps alone would give thousands of steps/s).
  struct RatePoint {
    Clock::time_point t;
    int64_t version, samples;
  };
  std::deque<RatePoint> rate_window_;
  double steps_per_s_ = 0, samples_per_s_ = 0;
  void update_rates();
  std::vector<JobEpoch> rows_;
  std::vector<EpochLedger> ledgers_;
  std::vector<float> best_params_, last_params_;
  double best_ = NAN;
  int best_epoch_ = -1, since_best_ = 0, e_ = 0;
  bool stopped_early_ = false;
};

void JobRun::report(const std::string& state) {
  if (state != "RUNNING")
    if (auto st = cluster_.state(5s); st.ok()) reporter_.set_actor_states(*st);
  JobInfo r = reporter_.take_report(state);
  r.token = lease_.token();  // the scheduler takes this job's reports only with it
  cluster_.report_job(r);
  // The last report must arrive before the actors go: a round trip on the
  // same connection is answered after it.
  if (state != "RUNNING") (void)cluster_.state(5s);
}

void JobRun::cleanup() {
  // The scheduler stops the actors of an ended job too; an embedded cluster is shut down by its owner.
  if (o_.embedded) return;
  for (const auto& n : names_) (void)cluster_.kill(n);
}

void JobRun::spawn_actors() {
  const double side_cpus = 0.25;
  const JobId job = lease_.id();
  for (int l = 0; l < job_.loaders; ++l) {
    names_.push_back(o_.actor_prefix + "loader-" + std::to_string(l));
    loaders_.push_back(cluster_.spawn<ShardLoader>({.name = names_.back(), .cpus = side_cpus, .max_restarts = 3,
                                                    .retryable = {"batch", "split", "info"}, .job = job},
                                                   job_, l));
  }
  for (auto& l : loaders_) {
    auto info = l.call(&ShardLoader::info).result(300s);
    if (!info.ok()) throw JobFailure{Error(Errc::invalid_argument, "loader failed: " + info.error().to_string())};
    if (info->dim != job_.sizes.front())
      throw JobFailure{Error(Errc::invalid_argument,
                             cfg_.source + ": [model] layers starts with " + std::to_string(job_.sizes.front()) +
                                 " inputs but the images have " + std::to_string(info->dim) + " values")};
  }
  for (int s = 0; s < job_.shards; ++s) {
    names_.push_back(o_.actor_prefix + "shard-" + std::to_string(s));
    shards_.push_back(cluster_.spawn<Aggregator>(
        {.name = names_.back(), .cpus = side_cpus, .max_restarts = 3,
         .retryable = {"join", "epoch", "progress", "metrics"},  // never pull: a restored shard is behind
         .job = job},
        job_, s));
  }
  std::vector<JobReporter::TrainerRef> refs;
  for (int t = 0; t < job_.trainers; ++t) {
    names_.push_back(o_.actor_prefix + "trainer-" + std::to_string(t));
    trainers_.push_back(cluster_.spawn<Trainer>(
        {.name = names_.back(), .cpus = static_cast<double>(job_.trainer_threads),
         .gpus = job_.backend == "cuda" && !o_.embedded ? 1.0 : 0.0, .max_restarts = 10,
         .retryable = {"status", "evaluate"}, .job = job},
        job_, t, loaders_, shards_));
    refs.push_back({trainers_.back().id(), names_.back()});
  }
  // A history point per ~1% of an epoch (sync/backup: a version is a step of
  // every trainer; ssp/async: of one).
  const int64_t versions_per_epoch = job_.steps_per_epoch * (lockstep(job_) ? 1 : job_.trainers);
  reporter_.set_trainers(std::move(refs), versions_per_epoch / 100);
  if (auto st = cluster_.state(5s); st.ok()) reporter_.set_actor_states(*st);
}

void JobRun::take_metrics() {
  // Applied steps since the last call: steps.jsonl, the smoothed loss, the job's report.
  auto ms = shards_[0].call(&Aggregator::metrics, last_version_).result(10s);
  if (!ms.ok()) return;
  for (const auto& m : *ms) {
    const double loss = m.samples ? m.loss_sum / static_cast<double>(m.samples) : NAN;
    if (std::isfinite(loss)) loss_ema_ = std::isfinite(loss_ema_) ? 0.98 * loss_ema_ + 0.02 * loss : loss;
    total_samples_ += m.samples;
    const double ep = static_cast<double>(m.version) / static_cast<double>(job_.steps_per_epoch);
    outputs_->step(m, ep, loss, loss_ema_, job_.steps_per_epoch / 50);
    last_version_ = m.version;
  }
  reporter_.add_steps(*ms);
}

bool JobRun::end_epoch(const EpochSummary& sum) {
  JobEpoch row;
  row.epoch = e_ + 1;
  row.seconds = seconds_since(t_epoch_);
  row.train_loss = sum.samples ? sum.loss_sum / static_cast<double>(sum.samples) : NAN;
  row.train_accuracy = sum.samples ? static_cast<double>(sum.correct) / static_cast<double>(sum.samples) : NAN;
  row.val_loss = row.val_accuracy = row.test_loss = row.test_accuracy = NAN;
  row.samples_per_s = static_cast<double>(sum.samples) / row.seconds;
  row.version = sum.version;
  // The epoch's weights, all slices.
  for (std::size_t s = 0; s < shards_.size(); ++s) {
    EpochSummary part = s == 0 ? sum : shards_[s].call(&Aggregator::epoch, e_).get(600s);
    const auto [b, en] = shard_range(num_params_, job_.shards, static_cast<int>(s));
    std::memcpy(last_params_.data() + b, part.w.data(), static_cast<std::size_t>(en - b) * sizeof(float));
  }
  if (job_.val_fraction > 0) {
    auto r = trainers_[0].call(&Trainer::evaluate, EvalRequest{"validation", e_}).get(600s);
    row.val_loss = r.loss, row.val_accuracy = r.accuracy;
  }
  if (!job_.test_images.empty()) {
    auto r = trainers_[0].call(&Trainer::evaluate, EvalRequest{"test", e_}).get(600s);
    row.test_loss = r.loss, row.test_accuracy = r.accuracy;
  }
  const double v = metric_of(row, best_metric_);
  const bool better = std::isfinite(v) && (!std::isfinite(best_) || (lower_better_ ? v < best_ - cfg_.min_delta
                                                                                   : v > best_ + cfg_.min_delta));
  if (better) {
    best_ = v, best_epoch_ = static_cast<int>(row.epoch), since_best_ = 0;
    best_params_ = last_params_;
  } else {
    ++since_best_;
  }
  row.best = better;
  row.best_metric = best_metric_;
  row.best_value = best_;
  row.best_epoch = best_epoch_;
  rows_.push_back(row);
  ledgers_.push_back(sum.ledger);
  out_.on_epoch(row, epochs_total_);
  // The job's accuracy: the test set's, else the validation split's, else the epoch's training accuracy.
  reporter_.add_accuracy(sum.version, std::isfinite(row.test_accuracy) ? row.test_accuracy
                                      : std::isfinite(row.val_accuracy) ? row.val_accuracy
                                                                        : row.train_accuracy);
  reporter_.add_epoch(row);
  outputs_->epoch(row, sum.ledger);
  if (!cfg_.stop_metric.empty() && since_best_ >= cfg_.patience) {
    out_.on_line(fmt("early stop: %s did not improve for %d epoch(s); best %.4f at epoch %d", best_metric_.c_str(),
                     cfg_.patience, best_, best_epoch_));
    stopped_early_ = true;
    return true;
  }
  return sum.final_epoch;
}

void JobRun::update_rates() {
  const auto now = Clock::now();
  rate_window_.push_back({now, last_version_, total_samples_});
  // Keep one point at least 2 s old as the window's start, none older.
  while (rate_window_.size() > 2 && now - rate_window_[1].t >= std::chrono::seconds(2)) rate_window_.pop_front();
  const RatePoint& from = rate_window_.front();
  const double dt = std::chrono::duration<double>(now - from.t).count();
  if (dt < 0.5) return;  // too short to say: keep the last rates (0 at the start)
  const double steps = static_cast<double>(last_version_ - from.version) / (lockstep(job_) ? 1.0 : job_.trainers);
  steps_per_s_ = steps / dt;
  samples_per_s_ = static_cast<double>(total_samples_ - from.samples) / dt;
}

void JobRun::check_health() {
  auto st = cluster_.state(5s);
  if (!st.ok()) return;  // the scheduler away (restarting): the actors train on
  reporter_.set_actor_states(*st);
  for (const auto& a : st->actors)
    if (a.spec.job == lease_.id() && a.state == ActorState::dead && !a.spec.name.empty() &&
        a.spec.name.rfind(o_.actor_prefix, 0) == 0) {
      Error e(Errc::actor_died, a.spec.name + " is dead: " + (a.deaths.empty() ? "?" : a.deaths.back().reason) +
                                    " (troupe logs " + a.spec.name + ")");
      throw JobFailure{e};
    }
}

TrainOutcome JobRun::ended(const std::string& state, Error error, int signal) {
  TrainOutcome r;
  r.job = lease_.name();
  r.state = state;
  r.error = std::move(error);
  r.stop_signal = signal;
  if (!rows_.empty()) r.test_accuracy = rows_.back().test_accuracy;
  return r;
}

TrainOutcome JobRun::run() {
  best_metric_ = cfg_.stop_metric;
  if (best_metric_.empty())
    best_metric_ = job_.val_fraction > 0 ? "val_loss" : !job_.test_images.empty() ? "test_accuracy" : "train_loss";
  lower_better_ = metric_lower_is_better(best_metric_);
  epochs_total_ = static_cast<int>((job_.total_steps + job_.steps_per_epoch - 1) / job_.steps_per_epoch);
  last_params_.assign(static_cast<std::size_t>(num_params_), 0.0f);
  reporter_.set_plan(epochs_total_, job_.steps_per_epoch);
  reporter_.set_output_dir(cfg_.output_dir);
  reporter_.set_epoch(1);
  {
    // Made here, not by the caller: a detached job's driver writes on its own host.
    std::error_code ec;
    std::filesystem::create_directories(cfg_.output_dir, ec);
    if (ec || ::access(cfg_.output_dir.c_str(), W_OK) != 0) {
      const Error e(Errc::io_error, cfg_.source + ": [output] dir = \"" + cfg_.output_dir +
                                        "\": cannot create or write it (" +
                                        (ec ? ec.message() : std::string(std::strerror(errno))) + ")");
      out_.on_error("troupe train: " + e.message);
      reporter_.set_reason(e.message);
      report("FAILED");
      return ended("FAILED", e);
    }
    outputs_.emplace(cfg_.output_dir);
  }
  if (!o_.address.empty())
    out_.on_line("job " + lease_.name() + " on " + o_.address + " (troupe shell " + o_.address + ", then: train)");
  report("RUNNING");
  try {
    spawn_actors();
    report("RUNNING");
    auto last_report = Clock::now(), last_health = Clock::now();
    t_start_ = t_epoch_ = Clock::now();
    Future<EpochSummary> pending = shards_[0].call(&Aggregator::epoch, e_);
    while (true) {
      if (const int sig = o_.stop ? o_.stop() : 0; sig != 0) {
        const std::string why = fmt("stopped by %s after step %lld; no model written",
                                    sig == SIGINT ? "Ctrl-C" : sig == SIGTERM ? "SIGTERM" : "request",
                                    static_cast<long long>(last_version_));
        out_.on_error("troupe train: " + why);
        reporter_.set_reason(why);
        report("STOPPED");
        cleanup();
        return ended("STOPPED", Error(), sig);
      }
      if (lease_.lost()) {
        // The scheduler has given up on this driver (it was cut off or too
        // slow) and stops the job's actors; a report would be refused.
        const Error e(Errc::connection_lost, "the scheduler declared this job's driver lost: " + lease_.lost_reason());
        out_.on_error("troupe train: " + e.message);
        cleanup();
        return ended("FAILED", e);
      }
      take_metrics();
      update_rates();
      // An epoch lasts until its ledger is complete: steps_per_epoch without faults, more with them.
      const int64_t in_epoch = std::max<int64_t>(0, last_version_ - epoch_start_version_);
      const int64_t lockstep_steps = lockstep(job_) ? in_epoch : in_epoch / job_.trainers;
      reporter_.set_epoch_step(lockstep_steps);
      out_.on_progress(TrainProgress{e_ + 1, epochs_total_, lockstep_steps, job_.steps_per_epoch, steps_per_s_,
                                     samples_per_s_, loss_ema_});
      if (pending.wait(200ms)) {
        auto sum = pending.result();
        if (!sum.ok()) throw Exception(sum.error());
        if (end_epoch(*sum)) break;
        ++e_;
        epoch_start_version_ = sum->version;
        t_epoch_ = Clock::now();
        epoch_start_samples_ = total_samples_;
        pending = shards_[0].call(&Aggregator::epoch, e_);
        take_metrics();
        reporter_.set_epoch(e_ + 1);
        reporter_.set_epoch_step(0);
        report("RUNNING");  // every epoch's end
        last_report = Clock::now();
      }
      if (seconds_since(last_health) > 1.0) {
        last_health = Clock::now();
        check_health();
      }
      if (seconds_since(last_report) >= 0.5) {
        report("RUNNING");
        last_report = Clock::now();
      }
    }
    return finish();
  } catch (const JobFailure& f) {
    out_.on_error("troupe train: " + f.error.message);
    reporter_.set_reason(f.error.message);
    report("FAILED");
    cleanup();
    return ended("FAILED", f.error);
  } catch (const Exception& e) {
    out_.on_error("troupe train: " + e.error().to_string());
    reporter_.set_reason(e.error().to_string());
    report("FAILED");
    cleanup();
    return ended("FAILED", e.error());
  } catch (const std::exception& e) {
    const Error err(Errc::remote_error, e.what());
    out_.on_error(std::string("troupe train: ") + e.what());
    reporter_.set_reason(err.message);
    report("FAILED");
    cleanup();
    return ended("FAILED", err);
  }
}

TrainOutcome JobRun::finish() {
  for (auto& t : trainers_) (void)t.call(&Trainer::stop).result(5s);
  take_metrics();  // the steps applied since the loop last looked
  double apply_us_mean = 0;
  if (auto p = shards_[0].call(&Aggregator::progress).result(10s); p.ok()) apply_us_mean = p->apply_us_mean;
  const double total_s = seconds_since(t_start_);
  if (best_params_.empty()) best_params_ = last_params_;
  if (auto r = outputs_->finish(cfg_.source + ": " + spec_.to_string(), spec_, best_params_, last_params_); !r.ok())
    throw Exception(r.error());
  EpochLedger all;
  for (const auto& l : ledgers_) {
    all.samples_expected += l.samples_expected;
    all.samples_trained += l.samples_trained;
    all.samples_duplicated += l.samples_duplicated;
    all.batches_redone += l.batches_redone;
    all.batches_stolen += l.batches_stolen;
  }
  std::vector<std::string> lines;
  lines.push_back(fmt("done: %d epoch(s)%s in %.1f s, %.0f samples/s; best %s %.4f at epoch %d; aggregator %.0f us/step",
                      static_cast<int>(rows_.size()), stopped_early_ ? " (early stop)" : "", total_s,
                      static_cast<double>(total_samples_) / total_s, best_metric_.c_str(), best_, best_epoch_,
                      apply_us_mean));
  lines.push_back(fmt("samples: %lld of %lld trained once per epoch (%lld duplicated, %lld skipped); %lld batch(es) "
                      "redone after a fault, %lld trained by another trainer than their own",
                      static_cast<long long>(all.samples_trained), static_cast<long long>(all.samples_expected),
                      static_cast<long long>(all.samples_duplicated), static_cast<long long>(all.samples_skipped()),
                      static_cast<long long>(all.batches_redone), static_cast<long long>(all.batches_stolen)));
  if (!rows_.empty() && std::isfinite(rows_.back().test_accuracy))
    lines.push_back(fmt("final test accuracy %.4f", rows_.back().test_accuracy));
  lines.push_back("wrote " + outputs_->dir().string() +
                  "/{best.safetensors, final.safetensors, steps.jsonl, epochs.jsonl, curves.svg}");
  std::string summary;
  for (const auto& l : lines) {
    out_.on_line(l);
    summary += l + "\n";
  }
  reporter_.set_summary(summary);
  report("DONE");
  cleanup();
  return ended("DONE", Error());
}

}  // namespace

TrainOutcome run_train_job(const Cluster& cluster, const TrainConfig& config, TrainObserver& out,
                           const TrainJobOptions& options, std::optional<JobLease> lease) {
  if (!lease) {
    auto started = cluster.start_job(JobRegistration{config.name, false, "", config.output_dir});
    if (!started.ok()) {
      out.on_error("troupe train: cannot register the job: " + started.error().to_string());
      TrainOutcome r;
      r.state = "FAILED";
      r.error = started.error();
      return r;
    }
    lease.emplace(std::move(started.value()));
  }
  try {
    JobRun run(cluster, config, out, options, std::move(*lease));
    return run.run();
  } catch (const std::exception& e) {
    // mlp_spec of a config that was not validated, or a failure building the run.
    out.on_error(std::string("troupe train: ") + e.what());
    TrainOutcome r;
    r.state = "FAILED";
    r.error = Error(Errc::invalid_argument, e.what());
    return r;
  }
}

}  // namespace troupe::train
