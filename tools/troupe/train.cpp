#include "tools/troupe/train.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "actors/dataset/dataset.hpp"
#include "actors/training/aggregator.hpp"
#include "actors/training/curves_svg.hpp"
#include "actors/training/safetensors.hpp"
#include "actors/training/shard_loader.hpp"
#include "actors/training/train_config.hpp"
#include "actors/training/trainer.hpp"
#include "runtime/cluster.hpp"
#include "tools/troupe/job_reporter.hpp"

namespace troupe::cli {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using train::TrainConfig;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

/// The first SIGINT/SIGTERM while training: the loop stops the job cleanly
/// (reported STOPPED, actors killed). The handler then steps aside, so a
/// second Ctrl-C ends the process at once.
std::atomic<int> g_stop_signal{0};
extern "C" void on_stop_signal(int sig) {
  g_stop_signal.store(sig);
  std::signal(sig, SIG_DFL);
}

/// `base`, or `base-2`, `base-3`, … when the scheduler already has a job of
/// that name (the scheduler merges reports by name: a new run must not extend
/// an old run's curves).
std::string unique_job_name(const Cluster& cluster, const std::string& base) {
  auto st = cluster.state(5s);
  if (!st.ok()) return base;
  auto taken = [&](const std::string& n) {
    return std::any_of(st->jobs.begin(), st->jobs.end(), [&](const JobInfo& j) { return j.name == n; });
  };
  std::string name = base;
  for (int i = 2; taken(name); ++i) name = base + "-" + std::to_string(i);
  return name;
}

/// One JSON number, "null" when not finite.
std::string jnum(double v) {
  if (!std::isfinite(v)) return "null";
  char b[40];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

/// Checks that need the data: labels against the model's outputs. One line on failure.
std::optional<std::string> check_labels(const TrainConfig& c, int64_t& file_samples) {
  auto labels = dataset::read_labels(c.job.train_labels);
  if (!labels.ok()) return c.source + ": [data] train_labels: " + labels.error().message;
  file_samples = static_cast<int64_t>(labels->size());
  int32_t max_label = 0, min_label = 0;
  for (int32_t l : *labels) {
    int32_t m = l;
    if (!c.job.positive_classes.empty())
      m = std::find(c.job.positive_classes.begin(), c.job.positive_classes.end(), l) != c.job.positive_classes.end();
    max_label = std::max(max_label, m);
    min_label = std::min(min_label, m);
  }
  const int64_t outputs = c.job.sizes.back();
  if (min_label < 0) return c.source + ": [data] train_labels: negative labels are not allowed";
  if (c.job.loss == "softmax_ce" && max_label >= outputs)
    return c.source + ": [model] layers: the last size is " + std::to_string(outputs) + " but labels go up to " +
           std::to_string(max_label) + " (need at least " + std::to_string(max_label + 1) + " outputs)";
  if (c.job.loss == "sigmoid_bce" && outputs == 1 && max_label > 1)
    return c.source + ": [model] loss = \"bce\" with 1 output needs 0/1 labels, but they go up to " +
           std::to_string(max_label) + " (set [data] positive_classes)";
  if (c.job.loss == "sigmoid_bce" && outputs > 1 && max_label >= outputs)
    return c.source + ": [model] layers: " + std::to_string(outputs) + " outputs but labels go up to " +
           std::to_string(max_label);
  return std::nullopt;
}

class ProgressLine {
 public:
  ProgressLine(const std::string& mode) {
    tty_ = mode == "bar" || (mode == "auto" && ::isatty(STDOUT_FILENO));
    off_ = mode == "none";
  }
  void show(int epoch, int epochs, int64_t step, int64_t steps, double steps_s, double samples_s, double loss) {
    if (off_) return;
    const double frac = steps > 0 ? std::clamp(static_cast<double>(step) / static_cast<double>(steps), 0.0, 1.0) : 0;
    if (tty_) {
      const int width = 30, full = static_cast<int>(frac * width);
      std::string bar(static_cast<std::size_t>(full), '#');
      bar.resize(width, '.');
      std::printf("\repoch %d/%d [%s] %lld/%lld  %.0f steps/s  %.0f samples/s  loss %.4f\x1b[K", epoch, epochs,
                  bar.c_str(), static_cast<long long>(step), static_cast<long long>(steps), steps_s, samples_s, loss);
      std::fflush(stdout);
      dirty_ = true;
    } else if (seconds_since(last_) >= 5.0) {
      last_ = Clock::now();
      std::printf("epoch %d/%d: %lld/%lld steps (%.0f%%), %.0f steps/s, %.0f samples/s, loss %.4f\n", epoch, epochs,
                  static_cast<long long>(step), static_cast<long long>(steps), 100 * frac, steps_s, samples_s, loss);
      std::fflush(stdout);
    }
  }
  /// Ends the bar's line before a normal line is printed.
  void clear() {
    if (dirty_) std::printf("\r\x1b[K");
    dirty_ = false;
  }

 private:
  bool tty_ = false, off_ = false, dirty_ = false;
  Clock::time_point last_ = Clock::now();
};

struct EpochRow {
  int epoch = 0;
  double train_loss = NAN, train_acc = NAN, val_loss = NAN, val_acc = NAN, test_loss = NAN, test_acc = NAN;
  double seconds = 0, samples_s = 0;
  train::EpochLedger ledger;  // what the epoch trained (shard 0's batch ledger)
};

double metric_of(const EpochRow& r, const std::string& m) {
  if (m == "val_loss") return r.val_loss;
  if (m == "val_accuracy") return r.val_acc;
  if (m == "test_loss") return r.test_loss;
  if (m == "test_accuracy") return r.test_acc;
  return r.train_loss;
}

int train_job(TrainConfig cfg, const TrainOptions& o) {
  const train::JobSpec& job = cfg.job;
  const kernels::MlpSpec spec = train::mlp_spec(job);
  const int64_t num_params = kernels::ParamLayout(spec).num_params();
  namespace fs = std::filesystem;
  const fs::path out(cfg.output_dir);

  // The metric that picks the best model (and stops early when asked).
  std::string best_metric = cfg.stop_metric;
  if (best_metric.empty())
    best_metric = job.val_fraction > 0 ? "val_loss" : !job.test_images.empty() ? "test_accuracy" : "train_loss";
  const bool lower_better = train::metric_lower_is_better(best_metric);

  std::printf("troupe train: %s, %lld params; %d trainer(s) x batch %lld, %d loader(s), %d shard(s), %s; %lld train "
              "samples, %lld steps/epoch, %d epoch(s); output %s\n",
              spec.to_string().c_str(), static_cast<long long>(num_params), job.trainers,
              static_cast<long long>(job.batch), job.loaders, job.shards, train::consistency_name(job.mode),
              static_cast<long long>(job.train_samples), static_cast<long long>(job.steps_per_epoch), job.epochs,
              out.c_str());
  std::fflush(stdout);

  const double side_cpus = 0.25;
  std::optional<Cluster> cluster_holder;
  if (o.cluster.empty()) {
    Cluster::LocalOptions lo;
    lo.workers = 1;
    lo.cpus_per_worker = job.trainers * job.trainer_threads + side_cpus * (job.loaders + job.shards);
    lo.http_port = -1;
    lo.log_dir = (out / "logs").string();
    cluster_holder = Cluster::local(lo);
  } else {
    cluster_holder = Cluster::connect(o.cluster);
  }
  Cluster& cluster = *cluster_holder;
  const std::string prefix = "train-" + std::to_string(::getpid()) + "-";
  std::vector<std::string> names;
  // The job's progress for the scheduler (shell `train`, list jobs, /metrics, dashboard).
  std::optional<JobReporter> reporter;
  auto report = [&](const std::string& state) {
    if (!reporter) return;
    if (state != "RUNNING")
      if (auto st = cluster.state(5s); st.ok()) reporter->set_actor_states(*st);
    cluster.report_job(reporter->take_report(state));
    // The last report must arrive before the actors go: a round trip on the
    // same connection is answered after it.
    if (state != "RUNNING" && !o.cluster.empty()) (void)cluster.state(5s);
  };
  auto cleanup = [&] {
    if (o.cluster.empty()) {
      cluster.shutdown();
    } else {
      for (const auto& n : names) (void)cluster.kill(n);
    }
  };

  try {
    std::vector<ActorHandle<train::ShardLoader>> loaders;
    for (int l = 0; l < job.loaders; ++l) {
      names.push_back(prefix + "loader-" + std::to_string(l));
      loaders.push_back(cluster.spawn<train::ShardLoader>(
          {.name = names.back(), .cpus = side_cpus, .max_restarts = 3, .retryable = {"batch", "split", "info"}}, job, l));
    }
    for (auto& l : loaders) {
      auto info = l.call(&train::ShardLoader::info).result(300s);
      if (!info.ok()) {
        std::fprintf(stderr, "troupe train: loader failed: %s\n", info.error().to_string().c_str());
        cleanup();
        return 2;
      }
      if (info->dim != job.sizes.front()) {
        std::fprintf(stderr, "troupe train: %s: [model] layers starts with %lld inputs but the images have %lld values\n",
                     cfg.source.c_str(), static_cast<long long>(job.sizes.front()), static_cast<long long>(info->dim));
        cleanup();
        return 2;
      }
    }
    std::vector<ActorHandle<train::Aggregator>> shards;
    for (int s = 0; s < job.shards; ++s) {
      names.push_back(prefix + "shard-" + std::to_string(s));
      shards.push_back(cluster.spawn<train::Aggregator>(
          {.name = names.back(), .cpus = side_cpus, .max_restarts = 3,
           .retryable = {"join", "epoch", "progress", "metrics"}},  // never pull: a restored shard is behind
          job, s));
    }
    std::vector<ActorHandle<train::Trainer>> trainers;
    std::vector<JobReporter::TrainerRef> trainer_refs;
    for (int t = 0; t < job.trainers; ++t) {
      names.push_back(prefix + "trainer-" + std::to_string(t));
      trainers.push_back(cluster.spawn<train::Trainer>(
          {.name = names.back(), .cpus = static_cast<double>(job.trainer_threads),
           .gpus = job.backend == "cuda" && !o.cluster.empty() ? 1.0 : 0.0, .max_restarts = 10,
           .retryable = {"status", "evaluate"}},
          job, t, loaders, shards));
      trainer_refs.push_back({trainers.back().id(), names.back()});
    }
    // A history point per ~1% of an epoch (sync/backup: a version is a step of
    // every trainer; ssp/async: of one).
    const bool lockstep_mode = job.mode == train::Consistency::sync || job.mode == train::Consistency::backup;
    const int64_t versions_per_epoch = job.steps_per_epoch * (lockstep_mode ? 1 : job.trainers);
    reporter.emplace(unique_job_name(cluster, cfg.name), std::move(trainer_refs), versions_per_epoch / 100);
    if (auto st = cluster.state(5s); st.ok()) reporter->set_actor_states(*st);
    reporter->set_epoch(1);
    report("RUNNING");
    if (!o.cluster.empty()) {
      std::printf("job %s on %s (troupe shell %s, then: train)\n", reporter->name().c_str(), o.cluster.c_str(),
                  o.cluster.c_str());
      std::fflush(stdout);
    }
    auto last_report = Clock::now();

    std::ofstream steps_out(out / "steps.jsonl"), epochs_out(out / "epochs.jsonl");
    ProgressLine bar(cfg.progress);
    const auto t_start = Clock::now();
    auto t_epoch = t_start;
    int64_t last_version = 0, epoch_start_version = 0, epoch_start_samples = 0, total_samples = 0;
    double loss_ema = NAN;
    std::vector<std::pair<double, double>> step_loss;  // (epoch, smoothed loss)
    std::vector<EpochRow> rows;
    std::vector<float> best_params, last_params(static_cast<std::size_t>(num_params));
    double best = NAN;
    int best_epoch = -1, since_best = 0, e = 0;
    bool stopped_early = false;
    double apply_us_mean = 0;
    const int epochs_total = static_cast<int>((job.total_steps + job.steps_per_epoch - 1) / job.steps_per_epoch);
    Future<train::EpochSummary> pending = shards[0].call(&train::Aggregator::epoch, e);
    auto last_health = Clock::now();
    bool interrupted = false;
    // Applied steps since the last call: steps.jsonl, the smoothed loss, the job's report.
    auto take_metrics = [&] {
      auto ms = shards[0].call(&train::Aggregator::metrics, last_version).result(10s);
      if (ms.ok()) {
        for (const auto& m : *ms) {
          const double loss = m.samples ? m.loss_sum / static_cast<double>(m.samples) : NAN;
          if (std::isfinite(loss)) loss_ema = std::isfinite(loss_ema) ? 0.98 * loss_ema + 0.02 * loss : loss;
          total_samples += m.samples;
          const double ep = static_cast<double>(m.version) / static_cast<double>(job.steps_per_epoch);
          steps_out << "{\"version\":" << m.version << ",\"epoch\":" << jnum(ep) << ",\"time_s\":"
                    << jnum(static_cast<double>(m.time_us) * 1e-6) << ",\"samples\":" << m.samples
                    << ",\"loss\":" << jnum(loss) << ",\"accuracy\":"
                    << jnum(m.samples ? static_cast<double>(m.correct) / static_cast<double>(m.samples) : NAN)
                    << ",\"apply_us\":" << m.apply_us << ",\"contributors\":" << m.contributors.size() / 3 << "}\n";
          if (m.version % std::max<int64_t>(1, job.steps_per_epoch / 50) == 0) step_loss.emplace_back(ep, loss_ema);
          last_version = m.version;
        }
        reporter->add_steps(*ms);
      }
    };

    while (true) {
      if (g_stop_signal.load() != 0) {
        interrupted = true;
        break;
      }
      // Step metrics and the progress line.
      take_metrics();
      const double es = std::max(1e-9, seconds_since(t_epoch));
      // An epoch lasts until its ledger is complete: steps_per_epoch without faults, more with them.
      const int64_t in_epoch_steps = last_version - epoch_start_version;
      const int64_t lockstep_steps = job.mode == train::Consistency::sync || job.mode == train::Consistency::backup
                                         ? in_epoch_steps
                                         : in_epoch_steps / job.trainers;
      bar.show(e + 1, epochs_total, std::max<int64_t>(0, lockstep_steps), job.steps_per_epoch,
               static_cast<double>(std::max<int64_t>(0, in_epoch_steps)) / es,
               static_cast<double>(total_samples - epoch_start_samples) / es, loss_ema);

      if (pending.wait(200ms)) {
        auto sum = pending.result();
        if (!sum.ok()) throw Exception(sum.error());
        EpochRow row;
        row.epoch = e + 1;
        row.seconds = seconds_since(t_epoch);
        row.train_loss = sum->samples ? sum->loss_sum / static_cast<double>(sum->samples) : NAN;
        row.train_acc = sum->samples ? static_cast<double>(sum->correct) / static_cast<double>(sum->samples) : NAN;
        row.samples_s = static_cast<double>(sum->samples) / row.seconds;
        row.ledger = sum->ledger;
        // The epoch's weights, all slices.
        for (std::size_t s = 0; s < shards.size(); ++s) {
          train::EpochSummary part = s == 0 ? *sum : shards[s].call(&train::Aggregator::epoch, e).get(600s);
          const auto [b, en] = train::shard_range(num_params, job.shards, static_cast<int>(s));
          std::memcpy(last_params.data() + b, part.w.data(), static_cast<std::size_t>(en - b) * sizeof(float));
        }
        if (job.val_fraction > 0) {
          auto r = trainers[0].call(&train::Trainer::evaluate, train::EvalRequest{"validation", e}).get(600s);
          row.val_loss = r.loss, row.val_acc = r.accuracy;
        }
        if (!job.test_images.empty()) {
          auto r = trainers[0].call(&train::Trainer::evaluate, train::EvalRequest{"test", e}).get(600s);
          row.test_loss = r.loss, row.test_acc = r.accuracy;
        }
        const double v = metric_of(row, best_metric);
        const bool better = std::isfinite(v) && (!std::isfinite(best) || (lower_better ? v < best - cfg.min_delta
                                                                                        : v > best + cfg.min_delta));
        if (better) {
          best = v, best_epoch = row.epoch, since_best = 0;
          best_params = last_params;
        } else {
          ++since_best;
        }
        rows.push_back(row);
        bar.clear();
        std::printf("epoch %d/%d: train loss %.4f acc %.4f", row.epoch, epochs_total, row.train_loss, row.train_acc);
        if (std::isfinite(row.val_loss)) std::printf(" | val loss %.4f acc %.4f", row.val_loss, row.val_acc);
        if (std::isfinite(row.test_loss)) std::printf(" | test loss %.4f acc %.4f", row.test_loss, row.test_acc);
        // The job's accuracy: the test set's, else the validation split's, else the epoch's training accuracy.
        reporter->add_accuracy(sum->version, std::isfinite(row.test_acc) ? row.test_acc
                                             : std::isfinite(row.val_acc) ? row.val_acc
                                                                          : row.train_acc);
        std::printf(" | %.1f s, %.0f samples/s | best %s %.4f (epoch %d)\n", row.seconds, row.samples_s,
                    best_metric.c_str(), best, best_epoch);
        std::fflush(stdout);
        epochs_out << "{\"epoch\":" << row.epoch << ",\"train_loss\":" << jnum(row.train_loss) << ",\"train_accuracy\":"
                   << jnum(row.train_acc) << ",\"val_loss\":" << jnum(row.val_loss) << ",\"val_accuracy\":"
                   << jnum(row.val_acc) << ",\"test_loss\":" << jnum(row.test_loss) << ",\"test_accuracy\":"
                   << jnum(row.test_acc) << ",\"seconds\":" << jnum(row.seconds) << ",\"samples_per_s\":"
                   << jnum(row.samples_s) << ",\"best\":" << (better ? "true" : "false")
                   << ",\"samples_expected\":" << row.ledger.samples_expected << ",\"samples_trained\":"
                   << row.ledger.samples_trained << ",\"samples_duplicated\":" << row.ledger.samples_duplicated
                   << ",\"samples_skipped\":" << row.ledger.samples_skipped() << ",\"batches_redone\":"
                   << row.ledger.batches_redone << ",\"batches_stolen\":" << row.ledger.batches_stolen
                   << ",\"version\":" << sum->version << "}\n";
        epochs_out.flush();
        steps_out.flush();
        if (!cfg.stop_metric.empty() && since_best >= cfg.patience) {
          std::printf("early stop: %s did not improve for %d epoch(s); best %.4f at epoch %d\n", best_metric.c_str(),
                      cfg.patience, best, best_epoch);
          stopped_early = true;
          break;
        }
        if (sum->final_epoch) break;
        ++e;
        epoch_start_version = sum->version;
        t_epoch = Clock::now();
        epoch_start_samples = total_samples;
        pending = shards[0].call(&train::Aggregator::epoch, e);
        take_metrics();
        reporter->set_epoch(e + 1);
        report("RUNNING");  // every epoch's end
        last_report = Clock::now();
      }
      if (seconds_since(last_health) > 1.0) {
        last_health = Clock::now();
        auto st = cluster.state(5s);
        if (st.ok()) reporter->set_actor_states(*st);
        if (st.ok())
          for (const auto& a : st->actors)
            if (a.spec.name.rfind(prefix, 0) == 0 && a.state == ActorState::dead) {
              bar.clear();
              std::fprintf(stderr, "troupe train: %s is dead: %s (logs in %s)\n", a.spec.name.c_str(),
                           a.deaths.empty() ? "?" : a.deaths.back().reason.c_str(), (out / "logs").c_str());
              report("FAILED");
              cleanup();
              return 1;
            }
      }
      if (seconds_since(last_report) >= 0.5) {
        report("RUNNING");
        last_report = Clock::now();
      }
    }
    if (interrupted) {
      bar.clear();
      std::fprintf(stderr, "troupe train: stopped by %s after step %lld; no model written\n",
                   g_stop_signal.load() == SIGINT ? "Ctrl-C" : "SIGTERM", static_cast<long long>(last_version));
      report("STOPPED");
      cleanup();
      return 128 + g_stop_signal.load();
    }
    for (auto& t : trainers) (void)t.call(&train::Trainer::stop).result(5s);
    take_metrics();  // the steps applied since the loop last looked
    if (auto p = shards[0].call(&train::Aggregator::progress).result(10s); p.ok()) apply_us_mean = p->apply_us_mean;
    const double total_s = seconds_since(t_start);

    // Outputs.
    const std::map<std::string, std::string> meta{{"model", spec.to_string()}, {"producer", "troupe train"}};
    if (best_params.empty()) best_params = last_params;
    if (auto r = train::write_safetensors((out / "best.safetensors").string(), spec, best_params, meta); !r.ok())
      throw Exception(r.error());
    if (auto r = train::write_safetensors((out / "final.safetensors").string(), spec, last_params, meta); !r.ok())
      throw Exception(r.error());
    std::vector<train::Curve> loss{{"train loss (steps, smoothed)", "#9ab", step_loss}, {"train loss", "#1f77b4", {}},
                                   {"validation loss", "#ff7f0e", {}}, {"test loss", "#2ca02c", {}}};
    std::vector<train::Curve> acc{{"train accuracy", "#1f77b4", {}}, {"validation accuracy", "#ff7f0e", {}},
                                  {"test accuracy", "#2ca02c", {}}};
    for (const auto& r : rows) {
      const double x = r.epoch;
      if (std::isfinite(r.train_loss)) loss[1].points.emplace_back(x, r.train_loss);
      if (std::isfinite(r.val_loss)) loss[2].points.emplace_back(x, r.val_loss);
      if (std::isfinite(r.test_loss)) loss[3].points.emplace_back(x, r.test_loss);
      if (std::isfinite(r.train_acc)) acc[0].points.emplace_back(x, r.train_acc);
      if (std::isfinite(r.val_acc)) acc[1].points.emplace_back(x, r.val_acc);
      if (std::isfinite(r.test_acc)) acc[2].points.emplace_back(x, r.test_acc);
    }
    std::ofstream(out / "curves.svg") << train::curves_svg(cfg.source + ": " + spec.to_string(), loss, acc);
    const EpochRow& last = rows.back();
    std::printf("done: %d epoch(s)%s in %.1f s, %.0f samples/s; best %s %.4f at epoch %d; aggregator %.0f us/step\n",
                static_cast<int>(rows.size()), stopped_early ? " (early stop)" : "", total_s,
                static_cast<double>(total_samples) / total_s, best_metric.c_str(), best, best_epoch, apply_us_mean);
    train::EpochLedger all;
    for (const auto& r : rows) {
      all.samples_expected += r.ledger.samples_expected;
      all.samples_trained += r.ledger.samples_trained;
      all.samples_duplicated += r.ledger.samples_duplicated;
      all.batches_redone += r.ledger.batches_redone;
      all.batches_stolen += r.ledger.batches_stolen;
    }
    std::printf("samples: %lld of %lld trained once per epoch (%lld duplicated, %lld skipped); %lld batch(es) redone "
                "after a fault, %lld trained by another trainer than their own\n",
                static_cast<long long>(all.samples_trained), static_cast<long long>(all.samples_expected),
                static_cast<long long>(all.samples_duplicated), static_cast<long long>(all.samples_skipped()),
                static_cast<long long>(all.batches_redone), static_cast<long long>(all.batches_stolen));
    if (std::isfinite(last.test_acc)) std::printf("final test accuracy %.4f\n", last.test_acc);
    std::printf("wrote %s/{best.safetensors, final.safetensors, steps.jsonl, epochs.jsonl, curves.svg}\n", out.c_str());
    std::fflush(stdout);
    report("DONE");
    cleanup();
    return 0;
  } catch (const Exception& e) {
    std::fprintf(stderr, "\ntroupe train: %s\n", e.error().to_string().c_str());
    report("FAILED");
    cleanup();
    return 1;
  }
}

}  // namespace

CLI::App* add_train_command(CLI::App& app, TrainOptions& o) {
  auto* cmd = app.add_subcommand("train", "train a model with loaders, trainers and aggregator shards (CONFIG.toml)");
  cmd->add_option("config", o.config, "the job's TOML file (see examples/fashion_mnist.toml)")->required();
  cmd->add_option("--cluster", o.cluster, "scheduler address (tcp://host:port); default: an embedded local cluster");
  cmd->add_option("--output", o.output_dir, "output directory (overrides [output] dir)");
  cmd->add_option("--progress", o.progress, "auto, bar, lines or none (overrides [output] progress)");
  return cmd;
}

int run_train(const TrainOptions& o) {
  auto cfg = train::load_train_config(o.config);
  if (!cfg.ok()) {
    std::fprintf(stderr, "troupe train: %s\n", cfg.error().message.c_str());
    return 2;
  }
  if (!o.output_dir.empty()) cfg->output_dir = o.output_dir;
  if (!o.progress.empty()) {
    if (o.progress != "auto" && o.progress != "bar" && o.progress != "lines" && o.progress != "none") {
      std::fprintf(stderr, "troupe train: --progress %s: must be one of auto, bar, lines, none\n", o.progress.c_str());
      return 2;
    }
    cfg->progress = o.progress;
  }
  int64_t file_samples = 0;
  if (auto bad = check_labels(*cfg, file_samples)) {
    std::fprintf(stderr, "troupe train: %s\n", bad->c_str());
    return 2;
  }
  train::finalize(cfg->job, file_samples);
  if (cfg->job.train_samples < cfg->job.trainers) {
    std::fprintf(stderr, "troupe train: %s: only %lld training samples for %d trainers\n", cfg->source.c_str(),
                 static_cast<long long>(cfg->job.train_samples), cfg->job.trainers);
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(cfg->output_dir, ec);
  if (ec || ::access(cfg->output_dir.c_str(), W_OK) != 0) {
    std::fprintf(stderr, "troupe train: %s: [output] dir = \"%s\": cannot create or write it (%s)\n",
                 cfg->source.c_str(), cfg->output_dir.c_str(), ec ? ec.message().c_str() : std::strerror(errno));
    return 2;
  }
  if (cfg->name.empty()) cfg->name = std::filesystem::path(o.config).stem().string();
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  try {
    return train_job(std::move(*cfg), o);
  } catch (const Exception& e) {
    std::fprintf(stderr, "troupe train: %s\n", e.error().to_string().c_str());
    return 1;
  }
}

}  // namespace troupe::cli
