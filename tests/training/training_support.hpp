#pragma once
// Helpers of the training tests: a small job on Fashion-MNIST's t10k file
// (quick to load), and running it on an embedded cluster to its final weights.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "actors/dataset/dataset.hpp"
#include "actors/training/aggregator.hpp"
#include "actors/training/shard_loader.hpp"
#include "actors/training/trainer.hpp"
#include "embedded/local_cluster.hpp"
#include "runtime/cluster.hpp"

namespace troupe::testing {

inline std::string fmnist(const std::string& file) { return std::string(dataset::kFashionMnistDir) + "/" + file; }
inline bool have_fmnist() { return ::access(fmnist("t10k-images-idx3-ubyte.gz").c_str(), R_OK) == 0; }

/// For a test binary whose every test needs the data: without the t10k files,
/// one line and exit code 77 (meson: skipped) instead of tests that pass
/// without testing anything. doctest has no skip: call it from a namespace-scope
/// initializer, which runs before main and so before any test.
inline bool exit_77_without_fmnist() {
  for (const char* f : {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
    if (::access(fmnist(f).c_str(), R_OK) == 0) continue;
    std::printf("skipped: the Fashion-MNIST file %s is missing (Debian package dataset-fashion-mnist)\n",
                fmnist(f).c_str());
    std::fflush(stdout);
    std::exit(77);
  }
  return true;
}

/// 784-32-10 on the first `samples` of t10k; `steps` steps of `batch` per trainer.
inline train::JobSpec small_job(int trainers, int loaders, int shards, int64_t samples, int64_t batch) {
  train::JobSpec j;
  j.train_images = fmnist("t10k-images-idx3-ubyte.gz");
  j.train_labels = fmnist("t10k-labels-idx1-ubyte.gz");
  j.limit_train = samples;
  j.sizes = {784, 32, 10};
  j.activations = {"relu", "identity"};
  j.batch = batch;
  j.epochs = 1;
  j.trainers = trainers;
  j.loaders = loaders;
  j.shards = shards;
  j.seed = 7;
  train::finalize(j, 10000);
  return j;
}

inline double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

/// The actors of one job.
struct Job {
  train::JobSpec spec;
  std::vector<ActorHandle<train::ShardLoader>> loaders;
  std::vector<ActorHandle<train::Aggregator>> shards;
  std::vector<ActorHandle<train::Trainer>> trainers;
  std::vector<std::string> shard_names;

  Job(const Cluster& c, const train::JobSpec& j, const std::string& prefix = "t") : spec(j) {
    for (int l = 0; l < j.loaders; ++l)
      loaders.push_back(c.spawn<train::ShardLoader>({.name = prefix + "-loader-" + std::to_string(l), .cpus = 0.1}, j, l));
    for (int s = 0; s < j.shards; ++s) {
      shard_names.push_back(prefix + "-shard-" + std::to_string(s));
      shards.push_back(c.spawn<train::Aggregator>(
          {.name = shard_names.back(), .cpus = 0.1, .max_restarts = 3, .retryable = {"join", "epoch", "progress"}}, j, s));
    }
    for (int t = 0; t < j.trainers; ++t)
      trainers.push_back(c.spawn<train::Trainer>({.name = prefix + "-trainer-" + std::to_string(t), .cpus = 0.1}, j, t,
                                                 loaders, shards));
  }

  /// The weights at the end of the last epoch (all slices), and shard 0's summary.
  std::vector<float> final_weights(train::EpochSummary* summary = nullptr) {
    const int last = static_cast<int>((spec.total_steps + spec.steps_per_epoch - 1) / spec.steps_per_epoch) - 1;
    const int64_t n = kernels::ParamLayout(train::mlp_spec(spec)).num_params();
    std::vector<float> w(static_cast<std::size_t>(n));
    for (int s = 0; s < spec.shards; ++s) {
      auto sum = shards[static_cast<std::size_t>(s)].call(&train::Aggregator::epoch, last).get(std::chrono::seconds(90));
      const auto [b, e] = train::shard_range(n, spec.shards, s);
      REQUIRE(sum.w.numel() == e - b);
      std::memcpy(w.data() + b, sum.w.data(), static_cast<std::size_t>(e - b) * sizeof(float));
      if (s == 0 && summary) *summary = sum;
    }
    return w;
  }
};

inline Cluster small_cluster() { return local_cluster({.workers = 1, .cpus_per_worker = 4, .http_port = -1}); }

}  // namespace troupe::testing
