#pragma once
// `troupe train CONFIG.toml [--cluster ADDR]`: validates the whole config,
// starts an embedded local cluster (or connects to ADDR), spawns loaders,
// aggregator shards and trainers, shows progress, evaluates every epoch,
// stops early when told, and writes the best model (.safetensors), metrics
// (JSON lines) and an SVG of the curves into the output directory. Reports the
// job to the cluster's scheduler as it goes (tools/troupe/job_reporter.hpp);
// SIGINT/SIGTERM stop it cleanly (STOPPED, actors killed, exit 128 + signal).
#include <CLI/CLI.hpp>
#include <string>

namespace troupe::cli {

struct TrainOptions {
  std::string config;
  std::string cluster;     ///< empty: embedded local cluster
  std::string output_dir;  ///< overrides [output] dir when set
  std::string progress;    ///< overrides [output] progress when set
};

/// Adds the subcommand; returns it so main() can tell whether it was chosen.
CLI::App* add_train_command(CLI::App& app, TrainOptions& options);
/// Runs the job. Exit code: 0 done, 2 bad config or data (one line on stderr), 1 failure while training,
/// 128 + signal when stopped by SIGINT/SIGTERM.
int run_train(const TrainOptions& options);

}  // namespace troupe::cli
