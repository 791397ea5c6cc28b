#include "tools/troupe/train.hpp"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "actors/training/job_driver.hpp"
#include "actors/training/job_follower.hpp"
#include "actors/training/train_config.hpp"
#include "actors/training/train_console.hpp"
#include "actors/training/train_job.hpp"
#include "actors/training/train_prepare.hpp"
#include "embedded/local_cluster.hpp"
#include "runtime/cluster.hpp"

namespace troupe::cli {

namespace {

using namespace std::chrono_literals;
using train::TrainConfig;

/// The first SIGINT/SIGTERM: the foreground job is stopped cleanly
/// (reported STOPPED, actors killed), or following ends. The handler then
/// steps aside, so a second Ctrl-C ends the process at once.
std::atomic<int> g_stop_signal{0};
extern "C" void on_stop_signal(int sig) {
  g_stop_signal.store(sig);
  std::signal(sig, SIG_DFL);
}

/// Paths as this process sees them, for a driver and actors whose working
/// directory is another (a detached job's driver runs in its worker's).
void make_paths_absolute(TrainConfig& c) {
  auto abs = [](std::string& p) {
    if (p.empty()) return;
    std::error_code ec;
    auto a = std::filesystem::absolute(p, ec);
    if (!ec) p = a.lexically_normal().string();
  };
  abs(c.job.train_images);
  abs(c.job.train_labels);
  abs(c.job.test_images);
  abs(c.job.test_labels);
  abs(c.job.checkpoint_dir);
  abs(c.output_dir);
}

std::string attach_address(const TrainOptions& o) {
  if (!o.cluster.empty()) return o.cluster;
  const char* env = std::getenv("TROUPE_ADDRESS");
  return env != nullptr && *env != '\0' ? env : "tcp://127.0.0.1:7400";
}

int attach(const TrainOptions& o) {
  const std::string address = attach_address(o);
  std::optional<Cluster> cluster;
  try {
    cluster = Cluster::connect(address);
  } catch (const Exception& e) {
    std::fprintf(stderr, "troupe: %s\n", e.error().to_string().c_str());
    return 1;
  }
  train::TrainConsole console(o.progress.empty() ? "auto" : o.progress);
  auto job = train::follow_train_job(*cluster, o.attach, console, [] { return g_stop_signal.load() != 0; });
  if (!job.ok()) {
    std::fprintf(stderr, "troupe: %s\n", job.error().to_string().c_str());
    return 1;
  }
  if (job->state == "RUNNING") {
    console.on_line("stopped following job " + job->name + "; it runs on (troupe train --attach " + job->name +
                    " --cluster " + address + ")");
    return 0;
  }
  return job->state == "DONE" ? 0 : 1;
}

int submit(const TrainConfig& cfg, const TrainOptions& o) {
  std::optional<Cluster> cluster;
  try {
    cluster = Cluster::connect(o.cluster);
  } catch (const Exception& e) {
    std::fprintf(stderr, "troupe train: %s\n", e.error().to_string().c_str());
    return 1;
  }
  auto job = train::submit_train_job(*cluster, cfg);
  if (!job.ok()) {
    std::fprintf(stderr, "troupe train: the job could not start detached: %s\n", job.error().to_string().c_str());
    return 1;
  }
  std::printf("job %s submitted to %s, detached: its driver runs on the cluster as actor %llu (%s); outputs in %s\n"
              "follow it: troupe train --attach %s --cluster %s\n",
              job->name.c_str(), o.cluster.c_str(), static_cast<unsigned long long>(job->driver),
              job->driver_name.c_str(), cfg.output_dir.c_str(), job->name.c_str(), o.cluster.c_str());
  std::fflush(stdout);
  return 0;
}

int run_foreground(const TrainConfig& cfg, const TrainOptions& o) {
  const train::JobSpec& job = cfg.job;
  const kernels::MlpSpec spec = train::mlp_spec(job);
  std::printf("troupe train: %s, %lld params; %d trainer(s) x batch %lld, %d loader(s), %d shard(s), %s; %lld train "
              "samples, %lld steps/epoch, %d epoch(s); output %s\n",
              spec.to_string().c_str(), static_cast<long long>(kernels::ParamLayout(spec).num_params()), job.trainers,
              static_cast<long long>(job.batch), job.loaders, job.shards, train::consistency_name(job.mode),
              static_cast<long long>(job.train_samples), static_cast<long long>(job.steps_per_epoch), job.epochs,
              cfg.output_dir.c_str());
  std::fflush(stdout);
  std::optional<Cluster> cluster;
  if (o.cluster.empty()) {
    cluster = local_cluster(train::local_cluster_for(cfg));
  } else {
    cluster = Cluster::connect(o.cluster);
  }
  train::TrainConsole console(cfg.progress);
  train::TrainJobOptions jo;
  jo.actor_prefix = "train-" + std::to_string(::getpid()) + "-";
  jo.embedded = o.cluster.empty();
  jo.address = o.cluster;
  jo.stop = [] { return g_stop_signal.load(); };
  const train::TrainOutcome r = train::run_train_job(*cluster, cfg, console, jo);
  if (o.cluster.empty()) cluster->shutdown();
  if (r.state == "DONE") return 0;
  if (r.state == "STOPPED") return 128 + r.stop_signal;
  return r.error.code == Errc::invalid_argument ? 2 : 1;
}

}  // namespace

CLI::App* add_train_command(CLI::App& app, TrainOptions& o) {
  auto* cmd = app.add_subcommand("train", "train a model with loaders, trainers and aggregator shards (CONFIG.toml)");
  cmd->footer("Examples:\n  troupe train examples/fashion_mnist.toml\n  troupe train job.toml --cluster tcp://10.0.0.1:7400 --detach");
  cmd->add_option("config", o.config, "the job's TOML file (see examples/fashion_mnist.toml)");
  cmd->add_option("--cluster", o.cluster, "scheduler address (tcp://host:port); default: an embedded local cluster");
  cmd->add_option("--output", o.output_dir, "output directory (overrides [output] dir)");
  cmd->add_option("--progress", o.progress, "auto, bar, lines or none (overrides [output] progress)");
  cmd->add_flag("--detach", o.detach,
                "run the job's driver on the cluster (--cluster) and return; the job outlives this command");
  cmd->add_option("--attach", o.attach,
                  "follow the running job NAME (--cluster, else $TROUPE_ADDRESS) until it ends; Ctrl-C leaves it running");
  return cmd;
}

int run_train(const TrainOptions& o) {
  if (!o.progress.empty() && o.progress != "auto" && o.progress != "bar" && o.progress != "lines" &&
      o.progress != "none") {
    std::fprintf(stderr, "troupe train: --progress %s: must be one of auto, bar, lines, none\n", o.progress.c_str());
    return 2;
  }
  if (!o.attach.empty()) {
    if (!o.config.empty() || o.detach) {
      std::fprintf(stderr, "troupe train: --attach NAME follows a running job: give no CONFIG and no --detach\n");
      return 2;
    }
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    return attach(o);
  }
  if (o.config.empty()) {
    std::fprintf(stderr, "troupe train: give a CONFIG.toml to run, or --attach NAME to follow a running job\n");
    return 2;
  }
  if (o.detach && o.cluster.empty()) {
    std::fprintf(stderr, "troupe train: --detach needs --cluster ADDR (an embedded cluster ends with this process)\n");
    return 2;
  }
  auto cfg = train::load_train_config(o.config);
  if (!cfg.ok()) {
    std::fprintf(stderr, "troupe train: %s\n", cfg.error().message.c_str());
    return 2;
  }
  if (!o.output_dir.empty()) cfg->output_dir = o.output_dir;
  if (!o.progress.empty()) cfg->progress = o.progress;
  if (auto ready = train::prepare_train_config(*cfg); !ready.ok()) {
    std::fprintf(stderr, "troupe train: %s\n", ready.error().message.c_str());
    return 2;
  }
  if (cfg->name.empty()) cfg->name = std::filesystem::path(o.config).stem().string();
  if (o.detach) {
    make_paths_absolute(*cfg);
    return submit(*cfg, o);
  }
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  try {
    return run_foreground(std::move(*cfg), o);
  } catch (const Exception& e) {
    std::fprintf(stderr, "troupe train: %s\n", e.error().to_string().c_str());
    return 1;
  }
}

}  // namespace troupe::cli
