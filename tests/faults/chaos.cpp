// troupe_chaos: trains a job (examples/fashion_mnist.toml, or a shorter
// variant) twice with the same seed — once fault-free, once while trainers are
// SIGKILLed (--trainer-kills K: K kills at even steps of the progress, from 5 %
// to 85 %; else one every --kill-every seconds) and one aggregator shard is
// SIGKILLed once — and
// compares the test accuracy. Writes a report (kills, restarts, recovery
// times, steps, contributors per step, stale pushes rejected) as JSON and a
// readable summary. The test 'faults_chaos' runs the short variant; the
// recovery benchmark (tools/bench/recovery) runs it with many kills.
//   troupe_chaos --config FILE [--epochs N] [--trainer-kills K | --kill-every S [--kills N]] [--shard-kill]
//                [--loader-kills N] [--min-kills N] [--trainers N] [--shards N] [--round-robin]
//                [--no-baseline] [--tolerance POINTS] [--checkpoint-every K] [--lr-final F] --out DIR
// Exit code: 0 when the chaos run finished within the tolerance of the
// baseline, the kills it planned happened (all K trainer kills, or at least
// --min-kills; the shard kill; the loader kills), and every batch of every epoch
// was trained exactly once — checked twice: by shard 0's ledger, and
// independently from the batches named in every applied step it observed.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "actors/dataset/dataset.hpp"
#include "actors/training/aggregator.hpp"
#include "actors/training/shard_loader.hpp"
#include "actors/training/train_config.hpp"
#include "actors/training/trainer.hpp"
#include "embedded/local_cluster.hpp"
#include "runtime/cluster.hpp"

using namespace std::chrono_literals;
using namespace troupe;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string config, out;
  int epochs = 0, trainers = 0, shards = 0, kills = 0, loader_kills = 0, min_kills = 1;
  int trainer_kills = 0;  // > 0: exactly this many, at even steps of the run's progress (else: every kill_every_s)
  double kill_every_s = 3.0, tolerance_points = 0.5;
  bool shard_kill = false, round_robin = false, baseline = true;
  int64_t checkpoint_every = 50;
  double lr_final = -1;  // < 0: the config's
};

int64_t unix_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Kill {
  int64_t at_us = 0;
  std::string what;  // "trainer", "shard" or "loader"
  int index = 0;
  Incarnation incarnation = 0;
  int64_t version = 0;  // shard 0's version when it was killed
  double recovery_ms = NAN;       // trainer: to its replacement's first applied gradient; shard: back to `version`
  double alive_ms = NAN;          // to the replacement being ALIVE (the scheduler's event)
  double rate_recovery_ms = NAN;  // until the step rate is back to 90 % of the rate before the kill
  double rate_dip = NAN;          // the lowest 0.5 s step rate after the kill / the rate before
  double backoff_ms = NAN;        // the restart delay the scheduler chose (a setting, not the mechanism)
};

struct Run {
  bool finished = false;
  std::string error;
  double seconds = 0, accuracy = NAN;
  int64_t steps = 0;
  std::vector<Kill> kills;
  std::map<int64_t, train::StepContributors> steps_seen;  // by version (a rollback's redo replaces)
  std::vector<std::pair<std::string, int>> restarts;
  int64_t stale_rejected = 0, discarded = 0, deaths_seen = 0, rollbacks = 0, shard_waits = 0;
  double shard_wait_max_s = 0;
  std::vector<train::EpochLedger> ledger;  // shard 0's, per epoch
  // From the observed steps, independently of the ledger: versions never seen,
  // and the batches of the epochs trained other than exactly once.
  int64_t versions_unseen = 0, batches_missing = 0, batches_repeated = 0;
  // Several shards: versions whose batches every shard reported, and those
  // where a shard's differ from shard 0's (a slice stepped with other batches).
  int64_t versions_compared = 0, slices_disagree = 0;
};

/// Checks the steps observed against the epochs' batches: every (slot, step)
/// of every epoch in exactly one applied step.
void check_coverage(Run& run, const train::JobSpec& job) {
  std::map<std::pair<int64_t, int64_t>, int> seen;
  for (int64_t v = 1; v <= run.steps; ++v) {
    auto it = run.steps_seen.find(v);
    if (it == run.steps_seen.end()) {
      ++run.versions_unseen;
      continue;
    }
    const auto& b = it->second.batches;
    for (std::size_t i = 0; i + 1 < b.size(); i += 2)
      if (b[i] >= 0) ++seen[{b[i], b[i + 1]}];
  }
  for (int slot = 0; slot < job.trainers; ++slot)
    for (int64_t step = 0; step < job.total_steps; ++step) {
      const auto it = seen.find({slot, step});
      const int n = it == seen.end() ? 0 : it->second;
      run.batches_missing += n == 0;
      run.batches_repeated += n > 1 ? n - 1 : 0;
    }
}

double percentile(std::vector<double> v, double p) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const double idx = p * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(idx));
  const auto hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (v[hi] - v[lo]) * (idx - static_cast<double>(lo));
}

std::string jnum(double v) {
  if (!std::isfinite(v)) return "null";
  char b[40];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

/// Steps applied in [from, to) (unix µs), from the versions seen.
int64_t steps_between(const std::map<int64_t, train::StepContributors>& steps, int64_t from, int64_t to) {
  int64_t n = 0;
  for (const auto& [v, s] : steps) n += s.unix_us >= from && s.unix_us < to;
  return n;
}

void step_rate_recovery(Run& run, double window_s) {
  const auto w = static_cast<int64_t>(window_s * 1e6);
  for (auto& k : run.kills) {
    const double before = static_cast<double>(steps_between(run.steps_seen, k.at_us - 4 * w, k.at_us)) / (4 * window_s);
    if (before <= 0) continue;
    double dip = INFINITY;
    for (int64_t t = k.at_us; t < k.at_us + 20'000'000; t += w / 5) {
      const double rate = static_cast<double>(steps_between(run.steps_seen, t, t + w)) / window_s;
      dip = std::min(dip, rate / before);
      if (rate >= 0.9 * before) {
        k.rate_recovery_ms = static_cast<double>(t - k.at_us) / 1e3;
        break;
      }
      if (run.steps_seen.empty() || t + w > run.steps_seen.rbegin()->second.unix_us) break;
    }
    k.rate_dip = std::isfinite(dip) ? dip : NAN;
  }
}

Run train_once(const Cluster& cluster, const train::JobSpec& job, const Options& o, bool chaos, const std::string& tag) {
  Run run;
  const std::string prefix = tag + "-";
  std::vector<ActorHandle<train::ShardLoader>> loaders;
  std::vector<ActorHandle<train::Aggregator>> shards;
  std::vector<ActorHandle<train::Trainer>> trainers;
  std::vector<std::string> trainer_names, shard_names, all_names;
  for (int l = 0; l < job.loaders; ++l) {
    all_names.push_back(prefix + "loader-" + std::to_string(l));
    loaders.push_back(cluster.spawn<train::ShardLoader>(
        {.name = all_names.back(), .cpus = 0.25, .max_restarts = 3, .retryable = {"batch", "split", "info"}}, job, l));
  }
  for (auto& l : loaders) (void)l.call(&train::ShardLoader::info).get(300s);
  for (int s = 0; s < job.shards; ++s) {
    shard_names.push_back(prefix + "shard-" + std::to_string(s));
    all_names.push_back(shard_names.back());
    shards.push_back(cluster.spawn<train::Aggregator>(
        {.name = shard_names.back(), .cpus = 0.25, .max_restarts = 10,
         .retryable = {"join", "epoch", "progress", "metrics", "stats"}},
        job, s));
  }
  const auto t_start = Clock::now();
  for (int t = 0; t < job.trainers; ++t) {
    trainer_names.push_back(prefix + "trainer-" + std::to_string(t));
    all_names.push_back(trainer_names.back());
    trainers.push_back(cluster.spawn<train::Trainer>(
        {.name = trainer_names.back(), .cpus = 1, .max_restarts = -1, .retryable = {"status", "evaluate"}}, job, t,
        loaders, shards));
  }
  const int last_epoch = static_cast<int>((job.total_steps + job.steps_per_epoch - 1) / job.steps_per_epoch) - 1;
  Future<train::EpochSummary> done = shards[0].call(&train::Aggregator::epoch, last_epoch);

  std::mt19937 rng(static_cast<uint32_t>(job.seed));
  auto next_kill = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.kill_every_s));
  bool shard_killed = !o.shard_kill;
  int kills = 0, rr = 0, loader_kills = 0;
  int64_t version = 0;
  auto pid_of = [&](const std::string& name, Incarnation& inc) {
    auto a = cluster.lookup(name);
    if (!a.ok() || a->state != ActorState::alive || a->pid <= 0) return 0;
    inc = a->incarnation;
    return a->pid;
  };
  while (!done.wait(50ms)) {
    if (std::chrono::duration<double>(Clock::now() - t_start).count() > 1800) {
      run.error = "did not finish in 30 min";
      break;
    }
    auto st = shards[0].call(&train::Aggregator::stats, int64_t{512}).result(10s);
    // More steps than that since the last look (a stalled poll): ask for all the shard keeps.
    if (st.ok() && !st->recent.empty() && st->recent.front().version > version + 1 && version > 0)
      st = shards[0].call(&train::Aggregator::stats, int64_t{4096}).result(10s);
    if (st.ok()) {
      for (const auto& s : st->recent) run.steps_seen[s.version] = s;
      version = st->progress.version;
    }
    if (!chaos) continue;
    // Pending recoveries: a killed trainer's next incarnation's first applied gradient; a shard back to its version.
    for (auto& k : run.kills) {
      if (std::isfinite(k.recovery_ms) || k.what == "loader") continue;
      if (k.what == "shard") {
        if (version > k.version)
          for (const auto& [v, s] : run.steps_seen)
            if (v > k.version && s.unix_us > k.at_us) {
              k.recovery_ms = static_cast<double>(s.unix_us - k.at_us) / 1e3;
              break;
            }
        continue;
      }
      for (const auto& [v, s] : run.steps_seen) {
        if (s.unix_us <= k.at_us) continue;
        for (std::size_t i = 0; i + 2 < s.contributors.size(); i += 3)
          if (s.contributors[i] == k.index && s.contributors[i + 1] > static_cast<int64_t>(k.incarnation)) {
            k.recovery_ms = static_cast<double>(s.unix_us - k.at_us) / 1e3;
            break;
          }
        if (std::isfinite(k.recovery_ms)) break;
      }
    }
    // Of the fault-free steps (an epoch grows by the batches redone after faults).
    const double progress = static_cast<double>(version) / static_cast<double>(job.total_steps);
    // Loaders are killed at even fractions of the run (their batches are asked for again: retryable).
    if (loader_kills < o.loader_kills && progress >= 0.2 + 0.6 * loader_kills / std::max(1, o.loader_kills)) {
      const int l = loader_kills % job.loaders;
      Incarnation inc = 0;
      if (int pid = pid_of(prefix + "loader-" + std::to_string(l), inc); pid > 0) {
        ::kill(pid, SIGKILL);
        run.kills.push_back(Kill{unix_us(), "loader", l, inc, version});
        ++loader_kills;
        std::printf("  %.1f s: killed loader %d (version %lld)\n",
                    std::chrono::duration<double>(Clock::now() - t_start).count(), l, static_cast<long long>(version));
        std::fflush(stdout);
      }
    }
    if (!shard_killed && progress >= 0.4) {
      const int s = job.shards > 1 ? 1 : 0;
      Incarnation inc = 0;
      if (int pid = pid_of(shard_names[static_cast<std::size_t>(s)], inc); pid > 0) {
        Kill k{unix_us(), "shard", s, inc, version};
        ::kill(pid, SIGKILL);
        run.kills.push_back(k);
        shard_killed = true;
        std::printf("  %.1f s: killed shard %d (version %lld)\n",
                    std::chrono::duration<double>(Clock::now() - t_start).count(), s, static_cast<long long>(version));
        std::fflush(stdout);
      }
    }
    // Trainers are killed until 90 % of the steps (the end and the evaluation run fault-free).
    // Planned by progress (the test: the same kills on a fast or a slow machine, so the chaos a run
    // suffers does not grow with the machine's slowness), or by the clock (the recovery benchmark).
    const bool due = o.trainer_kills > 0
                         ? kills < o.trainer_kills &&
                               progress >= 0.05 + 0.8 * kills / std::max(1, o.trainer_kills - 1)
                         : Clock::now() >= next_kill && progress < 0.9 && (o.kills == 0 || kills < o.kills);
    if (due && version > 0) {
      const int t = o.round_robin ? rr % job.trainers : static_cast<int>(rng() % static_cast<uint32_t>(job.trainers));
      Incarnation inc = 0;
      // A planned kill is never skipped: when its target is still restarting, it is tried again at the next look.
      if (int pid = pid_of(trainer_names[static_cast<std::size_t>(t)], inc); pid > 0) {
        Kill k{unix_us(), "trainer", t, inc, version};
        ::kill(pid, SIGKILL);
        run.kills.push_back(k);
        ++kills;
        ++rr;
        next_kill += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.kill_every_s));
      }
    }
  }
  if (run.error.empty()) {
    auto sum = done.result();
    if (!sum.ok()) {
      run.error = sum.error().to_string();
    } else {
      run.finished = true;
      run.seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
      auto ev = trainers[0].call(&train::Trainer::evaluate, train::EvalRequest{"test", last_epoch}).result(600s);
      if (ev.ok()) run.accuracy = ev->accuracy;
      else run.error = "evaluate: " + ev.error().to_string();
    }
  }
  // Final steps, counters, restarts.
  std::map<int64_t, std::vector<int64_t>> batches0;  // shard 0's last steps: version -> batches
  for (int s = 0; s < job.shards; ++s) {
    auto st = shards[static_cast<std::size_t>(s)].call(&train::Aggregator::stats, int64_t{4096}).result(10s);
    if (!st.ok()) continue;
    if (s == 0) {
      for (const auto& r : st->recent) {
        run.steps_seen[r.version] = r;
        batches0[r.version] = r.batches;
      }
      run.steps = st->progress.version;
    }
    for (const auto& r : st->recent) {
      auto it = batches0.find(r.version);
      if (s == 0 || it == batches0.end()) continue;
      ++run.versions_compared;
      if (it->second != r.batches) ++run.slices_disagree;
    }
    run.stale_rejected += st->progress.stale_incarnation;
    run.discarded += st->progress.discarded;
    run.rollbacks += st->progress.rollbacks;
    if (s == 0) run.deaths_seen = st->progress.deaths_seen;
  }
  for (auto& t : trainers) {
    auto s = t.call(&train::Trainer::status).result(10s);
    if (!s.ok()) continue;
    run.shard_waits += s->shard_waits;
    run.shard_wait_max_s = std::max(run.shard_wait_max_s, s->shard_wait_max_s);
  }
  if (auto st = cluster.state(); st.ok()) {
    for (const auto& a : st->actors)
      if (a.spec.name.rfind(prefix, 0) == 0) run.restarts.emplace_back(a.spec.name, a.restarts);
    // Kill to ALIVE, from the scheduler's events: the rest of a recovery is the new process's own start.
    for (auto& k : run.kills) {
      const std::string name = prefix + k.what + "-" + std::to_string(k.index);
      for (const auto& a : st->actors)
        if (a.spec.name == name)
          for (const auto& d : a.deaths)
            if (d.incarnation == k.incarnation) k.backoff_ms = static_cast<double>(d.restart_delay_ms);
      for (const auto& e : st->events)
        if (e.name == name && e.state == ActorState::alive && e.incarnation > k.incarnation) {
          k.alive_ms = static_cast<double>(e.time_ms * 1000 - k.at_us) / 1e3;
          break;
        }
    }
  }
  if (auto l = shards[0].call(&train::Aggregator::ledger).result(10s); l.ok()) run.ledger = *l;
  check_coverage(run, job);
  step_rate_recovery(run, 0.5);
  for (auto& t : trainers) (void)t.call(&train::Trainer::stop).result(5s);
  for (const auto& n : all_names) (void)cluster.kill(n);
  return run;
}

std::string run_json(const Run& r, bool with_steps) {
  std::ostringstream j;
  j << "{\"finished\":" << (r.finished ? "true" : "false") << ",\"error\":\"" << r.error << "\",\"seconds\":"
    << jnum(r.seconds) << ",\"test_accuracy\":" << jnum(r.accuracy) << ",\"steps\":" << r.steps
    << ",\"stale_pushes_rejected\":" << r.stale_rejected << ",\"dead_gradients_discarded\":" << r.discarded
    << ",\"deaths_seen_by_shard0\":" << r.deaths_seen << ",\"shard_rollbacks\":" << r.rollbacks
    << ",\"trainer_shard_waits\":" << r.shard_waits << ",\"trainer_shard_wait_max_s\":" << jnum(r.shard_wait_max_s)
    << ",\"versions_unseen\":" << r.versions_unseen << ",\"batches_missing\":" << r.batches_missing
    << ",\"batches_repeated\":" << r.batches_repeated << ",\"versions_compared_across_shards\":" << r.versions_compared
    << ",\"slices_disagree\":" << r.slices_disagree << ",\"ledger\":[";
  for (std::size_t i = 0; i < r.ledger.size(); ++i) {
    const auto& e = r.ledger[i];
    j << (i ? "," : "") << "{\"epoch\":" << e.epoch << ",\"batches\":" << e.batches << ",\"samples_expected\":"
      << e.samples_expected << ",\"samples_trained\":" << e.samples_trained << ",\"samples_duplicated\":"
      << e.samples_duplicated << ",\"samples_skipped\":" << e.samples_skipped() << ",\"batches_redone\":"
      << e.batches_redone << ",\"batches_stolen\":" << e.batches_stolen << "}";
  }
  j << "],\"restarts\":{";
  for (std::size_t i = 0; i < r.restarts.size(); ++i)
    j << (i ? "," : "") << "\"" << r.restarts[i].first << "\":" << r.restarts[i].second;
  j << "},\"kills\":[";
  for (std::size_t i = 0; i < r.kills.size(); ++i) {
    const auto& k = r.kills[i];
    j << (i ? "," : "") << "{\"what\":\"" << k.what << "\",\"index\":" << k.index << ",\"incarnation\":"
      << k.incarnation << ",\"at_unix_us\":" << k.at_us << ",\"version\":" << k.version
      << ",\"recovery_ms\":" << jnum(k.recovery_ms) << ",\"alive_ms\":" << jnum(k.alive_ms)
      << ",\"rate_recovery_ms\":" << jnum(k.rate_recovery_ms) << ",\"backoff_ms\":" << jnum(k.backoff_ms)
      << ",\"rate_dip\":" << jnum(k.rate_dip) << "}";
  }
  j << "]";
  if (with_steps) {
    // Contributors per step: [version, unix_us, [slot, incarnation, samples]...].
    j << ",\"steps_observed\":" << r.steps_seen.size() << ",\"contributors_per_step\":[";
    bool first = true;
    for (const auto& [v, s] : r.steps_seen) {
      j << (first ? "" : ",") << "[" << v << "," << s.unix_us;
      for (int64_t c : s.contributors) j << "," << c;
      j << "]";
      first = false;
    }
    j << "]";
  }
  j << "}";
  return j.str();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "troupe_chaos: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--config") o.config = next();
    else if (a == "--out") o.out = next();
    else if (a == "--epochs") o.epochs = std::stoi(next());
    else if (a == "--trainers") o.trainers = std::stoi(next());
    else if (a == "--shards") o.shards = std::stoi(next());
    else if (a == "--kills") o.kills = std::stoi(next());
    else if (a == "--loader-kills") o.loader_kills = std::stoi(next());
    else if (a == "--min-kills") o.min_kills = std::stoi(next());
    else if (a == "--trainer-kills") o.trainer_kills = std::stoi(next());
    else if (a == "--kill-every") o.kill_every_s = std::stod(next());
    else if (a == "--tolerance") o.tolerance_points = std::stod(next());
    else if (a == "--checkpoint-every") o.checkpoint_every = std::stoll(next());
    else if (a == "--lr-final") o.lr_final = std::stod(next());
    else if (a == "--shard-kill") o.shard_kill = true;
    else if (a == "--round-robin") o.round_robin = true;
    else if (a == "--no-baseline") o.baseline = false;
    else {
      std::fprintf(stderr, "troupe_chaos: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (o.config.empty() || o.out.empty()) {
    std::fprintf(stderr, "usage: troupe_chaos --config FILE --out DIR [options] (see the source's header)\n");
    return 2;
  }
  auto cfg = train::load_train_config(o.config);
  if (!cfg.ok()) {
    std::fprintf(stderr, "troupe_chaos: %s\n", cfg.error().message.c_str());
    return 2;
  }
  train::JobSpec job = cfg->job;
  if (::access(job.train_labels.c_str(), R_OK) != 0) {
    std::printf("troupe_chaos: no data at %s: skipped\n", job.train_labels.c_str());
    return 77;
  }
  if (o.epochs > 0) job.epochs = o.epochs;
  if (o.trainers > 0) job.trainers = o.trainers;
  if (o.shards > 0) job.shards = o.shards;
  job.loaders = std::min(job.loaders, job.trainers);
  auto labels = dataset::read_labels(job.train_labels);
  if (!labels.ok()) {
    std::fprintf(stderr, "troupe_chaos: %s\n", labels.error().message.c_str());
    return 2;
  }
  namespace fs = std::filesystem;
  fs::create_directories(o.out);
  job.checkpoint_every = o.checkpoint_every;
  if (o.lr_final >= 0) job.lr_final = static_cast<float>(o.lr_final);
  train::finalize(job, static_cast<int64_t>(labels->size()));

  LocalOptions lo;
  lo.workers = 1;
  lo.cpus_per_worker = job.trainers + 0.25 * (job.loaders + job.shards) + 1;
  lo.http_port = -1;
  lo.log_dir = (fs::path(o.out) / "logs").string();
  auto cluster = local_cluster(lo);
  std::printf("troupe_chaos: %s, %d epoch(s), %d trainer(s), %d shard(s), %lld steps; checkpoint every %lld\n",
              o.config.c_str(), job.epochs, job.trainers, job.shards, static_cast<long long>(job.total_steps),
              static_cast<long long>(job.checkpoint_every));
  std::fflush(stdout);

  Run base;
  if (o.baseline) {
    auto j = job;
    j.checkpoint_dir = (fs::path(o.out) / "ckpt-baseline").string();
    fs::remove_all(j.checkpoint_dir);
    base = train_once(cluster, j, o, false, "baseline");
    std::printf("baseline: %s, test accuracy %.4f in %.1f s\n", base.finished ? "finished" : base.error.c_str(),
                base.accuracy, base.seconds);
    std::fflush(stdout);
  }
  auto j = job;
  j.checkpoint_dir = (fs::path(o.out) / "ckpt-chaos").string();
  fs::remove_all(j.checkpoint_dir);
  if (o.trainer_kills > 0)
    std::printf("chaos: %d trainer SIGKILLs from 5 %% to 85 %% of the steps%s\n", o.trainer_kills,
                o.shard_kill ? ", one shard SIGKILLed once at 40 % of the steps" : "");
  else std::printf("chaos: a trainer SIGKILLed every %.1f s%s\n", o.kill_every_s,
              o.shard_kill ? ", one shard SIGKILLed once at 40 % of the steps" : "");
  std::fflush(stdout);
  Run chaos = train_once(cluster, j, o, true, "chaos");
  cluster.shutdown();

  // Figures.
  std::vector<double> rec, alive, rate, shard_rec, backoff, own;
  int trainer_kills = 0, loaders_killed = 0;
  for (const auto& k : chaos.kills) {
    if (k.what == "loader") {
      ++loaders_killed;
    } else if (k.what == "trainer") {
      ++trainer_kills;
      rec.push_back(k.recovery_ms);
      alive.push_back(k.alive_ms);
      rate.push_back(k.rate_recovery_ms);
      backoff.push_back(k.backoff_ms);
      own.push_back(k.recovery_ms - k.backoff_ms);
    } else {
      shard_rec.push_back(k.recovery_ms);
    }
  }
  int recovered = 0;
  for (double r : rec) recovered += std::isfinite(r);
  const double diff_points = o.baseline ? 100.0 * (chaos.accuracy - base.accuracy) : NAN;
  // Every sample once: the ledger's account of every epoch, and the batches of the observed steps.
  train::EpochLedger total;
  for (const auto& e : chaos.ledger) {
    total.samples_expected += e.samples_expected;
    total.samples_trained += e.samples_trained;
    total.samples_duplicated += e.samples_duplicated;
    total.batches_redone += e.batches_redone;
    total.batches_stolen += e.batches_stolen;
  }
  const bool ledger_ok = static_cast<int>(chaos.ledger.size()) == (job.total_steps + job.steps_per_epoch - 1) /
                                                                         job.steps_per_epoch &&
                         total.samples_skipped() == 0 && total.samples_duplicated == 0 &&
                         chaos.versions_unseen == 0 && chaos.batches_missing == 0 && chaos.batches_repeated == 0 &&
                         chaos.slices_disagree == 0;
  const int planned = o.trainer_kills > 0 ? o.trainer_kills : o.min_kills;
  const bool kills_ok = (o.trainer_kills > 0 ? trainer_kills == planned : trainer_kills >= planned) &&
                        (!o.shard_kill || !shard_rec.empty()) &&
                        loaders_killed == o.loader_kills;
  const bool pass = chaos.finished && ledger_ok && kills_ok &&
                    (!o.baseline || (base.finished && std::fabs(diff_points) <= o.tolerance_points));

  std::ofstream(fs::path(o.out) / "chaos_report.json")
      << "{\"config\":\"" << o.config << "\",\"epochs\":" << job.epochs << ",\"trainers\":" << job.trainers
      << ",\"shards\":" << job.shards << ",\"total_steps\":" << job.total_steps << ",\"kill_every_s\":"
      << jnum(o.kill_every_s) << ",\"tolerance_points\":" << jnum(o.tolerance_points)
      << ",\"accuracy_diff_points\":" << jnum(diff_points) << ",\"pass\":" << (pass ? "true" : "false")
      << ",\"baseline\":" << (o.baseline ? run_json(base, false) : "null") << ",\"chaos\":" << run_json(chaos, true)
      << "}\n";
  std::ostringstream sum;
  sum << "chaos run of " << o.config << ": " << job.epochs << " epoch(s), " << job.trainers << " trainers, "
      << job.shards << " shard(s), " << job.total_steps << " steps\n";
  if (o.baseline) sum << "  fault-free: test accuracy " << jnum(base.accuracy) << " in " << jnum(base.seconds) << " s\n";
  sum << "  chaos:      test accuracy " << jnum(chaos.accuracy) << " in " << jnum(chaos.seconds) << " s"
      << (chaos.finished ? "" : " (NOT FINISHED: " + chaos.error + ")") << "\n";
  if (o.baseline) sum << "  difference: " << jnum(diff_points) << " points (tolerance " << o.tolerance_points << ")\n";
  sum << "  samples: " << total.samples_trained << " of " << total.samples_expected << " trained once per epoch ("
      << total.samples_duplicated << " duplicated, " << total.samples_skipped() << " skipped; " << total.batches_redone
      << " batch(es) redone after a fault, " << total.batches_stolen << " trained by another trainer)\n"
      << "  observed steps: " << chaos.steps_seen.size() << " of " << chaos.steps << " versions (" << chaos.versions_unseen
      << " unseen); batches missing " << chaos.batches_missing << ", trained more than once " << chaos.batches_repeated
      << (job.shards > 1 ? "; versions where another shard applied other batches: " +
                               std::to_string(chaos.slices_disagree) + " of " + std::to_string(chaos.versions_compared)
                         : std::string())
      << (ledger_ok ? "" : "  <- LEDGER CHECK FAILED") << "\n";
  sum << "  kills: " << trainer_kills << " trainer(s) (" << (o.trainer_kills > 0 ? "" : "at least ") << planned
      << " planned), " << shard_rec.size()
      << " shard(s), " << loaders_killed << " loader(s) (" << o.loader_kills << " planned)"
      << (kills_ok ? "" : "  <- PLANNED KILLS DID NOT HAPPEN") << "; trainer recovery (kill -9 to "
      << "the replacement's first applied gradient) p50 " << jnum(percentile(rec, 0.5)) << " ms, p95 "
      << jnum(percentile(rec, 0.95)) << " ms (" << recovered << "/" << trainer_kills << " observed); of which kill -9 "
      << "to the replacement ALIVE p50 " << jnum(percentile(alive, 0.5)) << " ms, p95 " << jnum(percentile(alive, 0.95))
      << " ms\n";
  sum << "  of the recovery, restart backoff (a setting: troupe scheduler --restart-backoff-ms) p50 "
      << jnum(percentile(backoff, 0.5)) << " ms, p95 " << jnum(percentile(backoff, 0.95))
      << " ms; the mechanism's own (recovery - backoff) p50 " << jnum(percentile(own, 0.5)) << " ms, p95 "
      << jnum(percentile(own, 0.95)) << " ms\n";
  sum << "  step rate back to 90 % after a trainer kill: p50 " << jnum(percentile(rate, 0.5)) << " ms, p95 "
      << jnum(percentile(rate, 0.95)) << " ms\n";
  if (!shard_rec.empty())
    sum << "  shard kill: back to its pre-kill version after " << jnum(shard_rec[0]) << " ms; shard rollbacks "
        << chaos.rollbacks << "; trainers waited for shards " << chaos.shard_waits << " time(s), longest "
        << jnum(chaos.shard_wait_max_s) << " s\n";
  sum << "  stale pushes rejected " << chaos.stale_rejected << ", dead incarnations' gradients discarded "
      << chaos.discarded << ", deaths seen by shard 0 " << chaos.deaths_seen << "\n  restarts:";
  for (const auto& [n, c] : chaos.restarts) sum << " " << n << "=" << c;
  sum << "\n  contributors of the last steps (version: slot/incarnation/samples):\n";
  int shown = 0;
  for (auto it = chaos.steps_seen.rbegin(); it != chaos.steps_seen.rend() && shown < 5; ++it, ++shown) {
    sum << "    " << it->first << ":";
    for (std::size_t i = 0; i + 2 < it->second.contributors.size(); i += 3)
      sum << " " << it->second.contributors[i] << "/" << it->second.contributors[i + 1] << "/"
          << it->second.contributors[i + 2];
    sum << "\n";
  }
  sum << "  " << (pass ? "PASS" : "FAIL") << "; report in " << (fs::path(o.out) / "chaos_report.json").string() << "\n";
  std::ofstream(fs::path(o.out) / "chaos_summary.txt") << sum.str();
  std::printf("%s", sum.str().c_str());
  std::printf("{\"trainer_kills\":%d,\"trainer_recovered\":%d,\"recovery_p50_ms\":%s,\"recovery_p95_ms\":%s,"
              "\"alive_p50_ms\":%s,\"alive_p95_ms\":%s,\"backoff_p50_ms\":%s,\"backoff_p95_ms\":%s,"
              "\"recovery_less_backoff_p50_ms\":%s,\"recovery_less_backoff_p95_ms\":%s,"
              "\"step_rate_recovery_p50_ms\":%s,\"step_rate_recovery_p95_ms\":%s,\"shard_recovery_ms\":%s,"
              "\"baseline_test_accuracy\":%s,\"chaos_test_accuracy\":%s,\"accuracy_diff_points\":%s,"
              "\"baseline_s\":%s,\"chaos_s\":%s,\"stale_pushes_rejected\":%lld,\"steps\":%lld,"
              "\"samples_expected\":%lld,\"samples_trained\":%lld,\"samples_duplicated\":%lld,\"samples_skipped\":%lld,"
              "\"batches_redone\":%lld,\"batches_missing\":%lld,\"batches_repeated\":%lld,\"loader_kills\":%d,\"pass\":%s}\n",
              trainer_kills, recovered, jnum(percentile(rec, 0.5)).c_str(), jnum(percentile(rec, 0.95)).c_str(),
              jnum(percentile(alive, 0.5)).c_str(), jnum(percentile(alive, 0.95)).c_str(),
              jnum(percentile(backoff, 0.5)).c_str(), jnum(percentile(backoff, 0.95)).c_str(),
              jnum(percentile(own, 0.5)).c_str(), jnum(percentile(own, 0.95)).c_str(),
              jnum(percentile(rate, 0.5)).c_str(), jnum(percentile(rate, 0.95)).c_str(),
              jnum(shard_rec.empty() ? NAN : shard_rec[0]).c_str(), jnum(base.accuracy).c_str(),
              jnum(chaos.accuracy).c_str(), jnum(diff_points).c_str(), jnum(base.seconds).c_str(),
              jnum(chaos.seconds).c_str(), static_cast<long long>(chaos.stale_rejected),
              static_cast<long long>(chaos.steps), static_cast<long long>(total.samples_expected),
              static_cast<long long>(total.samples_trained), static_cast<long long>(total.samples_duplicated),
              static_cast<long long>(total.samples_skipped()), static_cast<long long>(total.batches_redone),
              static_cast<long long>(chaos.batches_missing), static_cast<long long>(chaos.batches_repeated),
              loaders_killed, pass ? "true" : "false");
  return pass ? 0 : 1;
}
