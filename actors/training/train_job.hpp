#pragma once
// A training job's driver, as a library (DESIGN §9, "Training is a
// library"): `troupe train` runs it in the foreground, a detached job's
// driver actor (actors/training/job_driver.hpp) runs it on the cluster, and
// C++ programs call it over their own Cluster. It registers the job with the
// scheduler (or drives a job registered elsewhere), spawns the loaders,
// aggregator shards and trainers as the job's actors, trains, evaluates
// every epoch, stops early when told, writes the outputs
// (actors/training/train_outputs.hpp) and reports the job as it goes
// (actors/training/job_reporter.hpp). The job's actors die with the process
// that holds its lease (docs/FAULTS.md, "the driver dies").
#include <cmath>
#include <functional>
#include <optional>
#include <string>

#include "actors/training/train_config.hpp"
#include "actors/training/train_console.hpp"
#include "runtime/cluster.hpp"

namespace troupe::train {

struct TrainJobOptions {
  std::string actor_prefix;   ///< its actors are named PREFIX + "loader-0", "shard-0", "trainer-0", …
  bool embedded = false;      ///< `cluster` lives in this process: CPU only, the caller shuts it down
  std::string address;        ///< for the "job NAME on ADDR" line; empty: no such line
  std::function<int()> stop;  ///< polled a few times a second; non-zero (e.g. a signal number) stops the job
};

/// How a job ended.
struct TrainOutcome {
  std::string job;      ///< its name in the cluster ("" when it never registered)
  std::string state;    ///< DONE, FAILED or STOPPED
  Error error;          ///< FAILED: why (invalid_argument: the config or the data); else ok
  int stop_signal = 0;  ///< STOPPED: what `stop` returned
  double test_accuracy = NAN;  ///< the last epoch's, when the job has a test set
};

/// Runs `config` (its job finalized: train::finalize) on `cluster` to its end
/// and returns how it ended; never throws. Registers the job under
/// config.name (made unique by the scheduler) unless `lease` holds a job
/// registered elsewhere (a detached job, adopted by its driver actor).
/// Blocks the calling thread; `out` is called from it only. One call per job.
TrainOutcome run_train_job(const Cluster& cluster, const TrainConfig& config, TrainObserver& out,
                           const TrainJobOptions& options, std::optional<JobLease> lease = std::nullopt);

}  // namespace troupe::train
