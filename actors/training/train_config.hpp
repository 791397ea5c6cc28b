#pragma once
// `troupe train CONFIG.toml`: the TOML file (toml++), every key checked before
// anything starts. A bad value gives ONE line naming the key, the value and
// what is allowed, e.g.
//   fashion.toml: [training] batch = -3: must be an integer in [1, 65536]
// Keys (see examples/fashion_mnist.toml):
//   [data]        train_images, train_labels, test_images, test_labels,
//                 validation_split, positive_classes, limit_train
//   [model]       layers, activations, loss, backend
//   [optimizer]   name ("adam"), lr, betas, eps, weight_decay, lr_final
//   [training]    batch (per trainer), epochs, max_steps, seed, consistency
//                 (sync|backup|ssp|async), backup, staleness, bucket_bytes
//                 (gradient buckets pushed as backward produces them; 0: one
//                 per layer; default 65536), shard_timeout_s (how long a
//                 trainer waits for an unreachable aggregator shard before it
//                 reports the error and stops; default 120)
//   [cluster]     trainers, loaders, shards, trainer_threads
//   [early_stopping] metric (val_loss|val_accuracy|test_loss|test_accuracy|train_loss), patience, min_delta
//   [checkpoint]  dir, interval (versions; 0: none)
//   [output]      dir, progress (auto|bar|lines|none), name (the job's name in
//                 the cluster; default: the config file's stem)
#include <string>
#include <string_view>

#include "actors/training/job.hpp"
#include "runtime/error.hpp"

namespace troupe::train {

struct TrainConfig {
  JobSpec job;
  std::string output_dir = "troupe-train-out";
  std::string progress = "auto";
  std::string name;  ///< [output] name; empty: the caller picks (troupe train: the file's stem)
  std::string stop_metric;  ///< empty: no early stopping
  int patience = 0;
  double min_delta = 0.0;
  std::string source;  ///< the file name, for messages
  MSGPACK_DEFINE_MAP(job, output_dir, progress, name, stop_metric, patience, min_delta, source);
};

/// Parses and validates TOML text (data files must exist and be readable).
/// Errc::invalid_argument with a one-line message on the first bad value. Thread-safe.
Result<TrainConfig> parse_train_config(std::string_view text, const std::string& source);
/// Reads the file and parses it.
Result<TrainConfig> load_train_config(const std::string& path);

/// True when a lower value of the metric is better.
bool metric_lower_is_better(const std::string& metric);

}  // namespace troupe::train
