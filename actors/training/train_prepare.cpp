#include "actors/training/train_prepare.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "actors/dataset/dataset.hpp"

namespace troupe::train {

namespace {

Error bad(const std::string& line) { return Error(Errc::invalid_argument, line); }

/// Labels against the model's outputs; their count is the job's sample count.
Result<int64_t> check_labels(const TrainConfig& c) {
  // The images' headers only (no data): a bad or lying file is one line here,
  // not a loader that fails on it at every restart.
  if (auto shape = dataset::probe_images(c.job.train_images); !shape.ok())
    return bad(c.source + ": [data] train_images: " + shape.error().message);
  if (!c.job.test_images.empty()) {
    if (auto shape = dataset::probe_images(c.job.test_images); !shape.ok())
      return bad(c.source + ": [data] test_images: " + shape.error().message);
    if (auto test = dataset::read_labels(c.job.test_labels); !test.ok())
      return bad(c.source + ": [data] test_labels: " + test.error().message);
  }
  auto labels = dataset::read_labels(c.job.train_labels);
  if (!labels.ok()) return bad(c.source + ": [data] train_labels: " + labels.error().message);
  int32_t max_label = 0, min_label = 0;
  for (int32_t l : *labels) {
    int32_t m = l;
    if (!c.job.positive_classes.empty())
      m = std::find(c.job.positive_classes.begin(), c.job.positive_classes.end(), l) != c.job.positive_classes.end();
    max_label = std::max(max_label, m);
    min_label = std::min(min_label, m);
  }
  const int64_t outputs = c.job.sizes.back();
  if (min_label < 0) return bad(c.source + ": [data] train_labels: negative labels are not allowed");
  if (c.job.loss == "softmax_ce" && max_label >= outputs)
    return bad(c.source + ": [model] layers: the last size is " + std::to_string(outputs) + " but labels go up to " +
               std::to_string(max_label) + " (need at least " + std::to_string(max_label + 1) + " outputs)");
  if (c.job.loss == "sigmoid_bce" && outputs == 1 && max_label > 1)
    return bad(c.source + ": [model] loss = \"bce\" with 1 output needs 0/1 labels, but they go up to " +
               std::to_string(max_label) + " (set [data] positive_classes)");
  if (c.job.loss == "sigmoid_bce" && outputs > 1 && max_label >= outputs)
    return bad(c.source + ": [model] layers: " + std::to_string(outputs) + " outputs but labels go up to " +
               std::to_string(max_label));
  return static_cast<int64_t>(labels->size());
}

}  // namespace

Result<void> prepare_train_config(TrainConfig& c) {
  auto samples = check_labels(c);
  if (!samples.ok()) return samples.error();
  finalize(c.job, *samples);
  if (c.job.train_samples < c.job.trainers)
    return bad(c.source + ": only " + std::to_string(c.job.train_samples) + " training samples for " +
               std::to_string(c.job.trainers) + " trainers");
  std::error_code ec;
  std::filesystem::create_directories(c.output_dir, ec);
  if (ec || ::access(c.output_dir.c_str(), W_OK) != 0)
    return bad(c.source + ": [output] dir = \"" + c.output_dir + "\": cannot create or write it (" +
               (ec ? ec.message() : std::string(std::strerror(errno))) + ")");
  return {};
}

LocalOptions local_cluster_for(const TrainConfig& c) {
  LocalOptions lo;
  lo.workers = 1;
  lo.cpus_per_worker = c.job.trainers * c.job.trainer_threads + 0.25 * (c.job.loaders + c.job.shards);
  lo.http_port = -1;
  lo.log_dir = (std::filesystem::path(c.output_dir) / "logs").string();
  return lo;
}

Result<TrainConfig> load_train_job(const std::string& path, const std::string& output_dir) {
  auto cfg = load_train_config(path);
  if (!cfg.ok()) return cfg.error();
  if (!output_dir.empty()) cfg->output_dir = output_dir;
  if (cfg->name.empty()) cfg->name = std::filesystem::path(path).stem().string();
  if (auto r = prepare_train_config(*cfg); !r.ok()) return r.error();
  return cfg;
}

}  // namespace troupe::train
