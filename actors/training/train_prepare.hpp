#pragma once
// What a training job needs checked against its data before it starts:
// `troupe train` and C++ programs (examples/train_from_cpp) prepare a config
// the same way, then hand it to run_train_job (train_job.hpp).
#include <string>

#include "actors/training/train_config.hpp"
#include "embedded/local_cluster.hpp"
#include "runtime/cluster.hpp"
#include "runtime/error.hpp"

namespace troupe::train {

/// Loads CONFIG.toml and prepares it (prepare_train_config). `output_dir`
/// non-empty overrides [output] dir; the job's name defaults to the file's
/// stem. Errc::invalid_argument with one line naming the file and key. Thread-safe.
Result<TrainConfig> load_train_job(const std::string& path, const std::string& output_dir = "");

/// Reads the training labels (their count and range, against the model's
/// outputs), finalizes the job (steps per epoch, total steps) and creates
/// the output folder. Errc::invalid_argument with one line on failure. Thread-safe.
Result<void> prepare_train_config(TrainConfig& config);

/// An embedded cluster fit for the job: one worker with the CPUs its
/// trainers, loaders and shards ask for, no HTTP server, actor logs in the
/// job's output folder. Thread-safe.
LocalOptions local_cluster_for(const TrainConfig& config);

}  // namespace troupe::train
