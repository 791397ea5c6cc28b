#pragma once
// Helpers of the fault tests (suite 'faults'): a training job whose trainers
// and shards may restart, and the facts a test reads about it (pids,
// incarnations, shard stats, contributors).
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "tests/test_support.hpp"
#include "tests/training/training_support.hpp"

namespace troupe::testing {

struct FaultJobOptions {
  std::string prefix = "f";
  int trainer_restarts = 10;
  int shard_restarts = 3;
  std::vector<int> no_restart_slots;  ///< these trainers get max_restarts 0
};

/// Loaders, shards and trainers of one job, spawned the way `troupe train` does.
struct FaultJob {
  const Cluster& cluster;
  train::JobSpec spec;
  FaultJobOptions opt;
  std::vector<ActorHandle<train::ShardLoader>> loaders;
  std::vector<ActorHandle<train::Aggregator>> shards;
  std::vector<ActorHandle<train::Trainer>> trainers;
  std::vector<std::string> shard_names, trainer_names;

  FaultJob(const Cluster& c, const train::JobSpec& j, FaultJobOptions o = {}) : cluster(c), spec(j), opt(std::move(o)) {
    for (int l = 0; l < j.loaders; ++l)
      loaders.push_back(c.spawn<train::ShardLoader>({.name = opt.prefix + "-loader-" + std::to_string(l), .cpus = 0.1,
                                                     .max_restarts = 3, .retryable = {"batch", "split", "info"}},
                                                    j, l));
    for (int s = 0; s < j.shards; ++s) {
      shard_names.push_back(opt.prefix + "-shard-" + std::to_string(s));
      shards.push_back(c.spawn<train::Aggregator>({.name = shard_names.back(), .cpus = 0.1,
                                                   .max_restarts = opt.shard_restarts,
                                                   .retryable = {"join", "epoch", "progress", "metrics", "stats"}},
                                                  j, s));
    }
    for (int t = 0; t < j.trainers; ++t) {
      trainer_names.push_back(opt.prefix + "-trainer-" + std::to_string(t));
      const bool once = std::find(opt.no_restart_slots.begin(), opt.no_restart_slots.end(), t) != opt.no_restart_slots.end();
      trainers.push_back(c.spawn<train::Trainer>(
          {.name = trainer_names.back(), .cpus = 0.1, .max_restarts = once ? 0 : opt.trainer_restarts,
           .retryable = {"status", "evaluate"}},
          j, t, loaders, shards));
    }
  }

  /// The actor named `name`, live or dead, as the scheduler sees it.
  [[nodiscard]] ActorInfo info(const std::string& name) const {
    auto st = cluster.state();
    REQUIRE(st.ok());
    for (const auto& a : st->actors)
      if (a.spec.name == name) return a;
    FAIL("no actor named " << name);
    return {};
  }
  [[nodiscard]] train::ShardStats stats(int shard = 0, int64_t last = 512) const {
    return shards[static_cast<std::size_t>(shard)].call(&train::Aggregator::stats, last).get(std::chrono::seconds(20));
  }
  /// Waits until shard 0 has applied `version` steps.
  void wait_version(int64_t version, std::chrono::milliseconds timeout = std::chrono::seconds(60)) const {
    REQUIRE(eventually(
        [&] {
          auto p = shards[0].call(&train::Aggregator::progress).result(std::chrono::seconds(5));
          return p.ok() && p->version >= version;
        },
        timeout));
  }
  /// SIGKILLs the live process of actor `name`; returns the incarnation killed.
  Incarnation kill9(const std::string& name) const {
    const ActorInfo a = info(name);
    REQUIRE(a.pid > 0);
    REQUIRE(::kill(a.pid, SIGKILL) == 0);
    return a.incarnation;
  }
  /// The final weights (all slices) once the last epoch is done.
  std::vector<float> final_weights(std::chrono::seconds timeout = std::chrono::seconds(90)) const {
    const int last = static_cast<int>((spec.total_steps + spec.steps_per_epoch - 1) / spec.steps_per_epoch) - 1;
    const int64_t n = kernels::ParamLayout(train::mlp_spec(spec)).num_params();
    std::vector<float> w(static_cast<std::size_t>(n));
    for (int s = 0; s < spec.shards; ++s) {
      auto sum = shards[static_cast<std::size_t>(s)].call(&train::Aggregator::epoch, last).get(timeout);
      const auto [b, e] = train::shard_range(n, spec.shards, s);
      REQUIRE(sum.w.numel() == e - b);
      std::memcpy(w.data() + b, sum.w.data(), static_cast<std::size_t>(e - b) * sizeof(float));
    }
    return w;
  }
};

/// True when one of `steps` has (slot, incarnation) among its contributors.
inline bool contributed(const std::vector<train::StepContributors>& steps, int slot, Incarnation inc,
                        int64_t* first_version = nullptr) {
  for (const auto& s : steps)
    for (std::size_t i = 0; i + 2 < s.contributors.size(); i += 3)
      if (s.contributors[i] == slot && s.contributors[i + 1] == static_cast<int64_t>(inc)) {
        if (first_version) *first_version = s.version;
        return true;
      }
  return false;
}

inline bool has_slot(const train::StepContributors& s, int slot) {
  for (std::size_t i = 0; i + 2 < s.contributors.size(); i += 3)
    if (s.contributors[i] == slot) return true;
  return false;
}

}  // namespace troupe::testing
