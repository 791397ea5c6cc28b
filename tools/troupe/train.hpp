#pragma once
// `troupe train CONFIG.toml [--cluster ADDR] [--detach]` and
// `troupe train --attach NAME [--cluster ADDR]`: validates the whole config
// and runs the job (actors/training/train_job.hpp) on an embedded local
// cluster or on ADDR, in the foreground: progress, a line per epoch, the
// outputs in the output directory, the job reported to the scheduler. The
// job's actors die with this process (docs/FAULTS.md, "the driver dies");
// SIGINT/SIGTERM stop it cleanly (STOPPED, actors killed, exit 128 + signal).
// --detach submits it instead (actors/training/job_driver.hpp) and returns;
// --attach follows a running job from the scheduler's reports.
#include <CLI/CLI.hpp>
#include <string>

namespace troupe::cli {

struct TrainOptions {
  std::string config;
  std::string cluster;     ///< empty: embedded local cluster (--attach: $TROUPE_ADDRESS, else tcp://127.0.0.1:7400)
  std::string output_dir;  ///< overrides [output] dir when set
  std::string progress;    ///< overrides [output] progress when set
  bool detach = false;     ///< run the job's driver on the cluster and return
  std::string attach;      ///< follow this job instead of starting one
};

/// Adds the subcommand; returns it so main() can tell whether it was chosen.
CLI::App* add_train_command(CLI::App& app, TrainOptions& options);
/// Runs the job, submits it or follows it. Exit code: 0 done (submitted; the
/// followed job DONE, or following stopped by Ctrl-C), 2 bad config or data
/// (one line on stderr), 1 failure (the followed job FAILED or STOPPED), 128 +
/// signal when a foreground job is stopped by SIGINT/SIGTERM.
int run_train(const TrainOptions& options);

}  // namespace troupe::cli
