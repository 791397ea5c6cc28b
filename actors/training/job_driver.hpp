#pragma once
// Detached training jobs (docs/FAULTS.md, "the driver dies"; Ray's
// `ray job submit`): the program that starts the job registers it and spawns
// a JobDriver actor on the cluster, which takes the job's lease over and runs
// run_train_job there; the program may then exit and the job runs on,
// writing its outputs on the driver actor's host and its console lines into
// the actor's log. A later client follows it from the scheduler's job
// reports (actors/training/job_follower.hpp). If the driver actor dies the
// job is FAILED (driver lost) at once and its actors are stopped.
#include <chrono>
#include <memory>
#include <string>

#include "actors/training/train_config.hpp"
#include "runtime/cluster.hpp"

namespace troupe::train {

/// The actor. Its constructor adopts the job's lease and starts the job in a
/// background task; thread-safety: started() may be called at any time.
class JobDriver {
 public:
  /// `job`: registered by the submitter, `token` its JobLease::token() (the
  /// scheduler lets only its holder adopt the job); `config`: validated and
  /// finalized, its paths valid on the driver's host (absolute).
  JobDriver(JobId job, std::string token, TrainConfig config);
  /// The job's name: answered once the lease is this actor's.
  std::string started();

 private:
  std::string name_;
  std::shared_ptr<const TrainConfig> config_;
};

/// A job started detached.
struct SubmittedJob {
  JobId id = 0;
  std::string name;         ///< the job's name in the cluster
  ActorId driver = 0;       ///< the driver actor
  std::string driver_name;  ///< NAME-driver
};

/// Starts `config` (validated, finalized, absolute paths) as a detached job:
/// registers it, spawns its driver actor (0 CPUs, no restarts, one of the
/// job's actors), and returns once the driver holds the lease (within
/// `timeout`); the job no longer depends on this process. On failure the job
/// is reported FAILED with the error, which is returned. Thread-safe.
Result<SubmittedJob> submit_train_job(const Cluster& cluster, const TrainConfig& config,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace troupe::train
