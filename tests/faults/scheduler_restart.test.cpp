// Issue 5, item 5: the scheduler dies in the middle of a training job.
// Real processes: `troupe scheduler --journal`, one `troupe worker`, and
// `troupe train CONFIG --cluster ADDR` as a user runs them. The scheduler is
// SIGKILLed mid-training and started again on the same journal; training goes
// on while it is away, finishes, and the cluster's history (a trainer death
// before the crash, one after) is what `troupe get actor` shows.
#include <doctest/doctest.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "actors/training/aggregator.hpp"
#include "runtime/cluster.hpp"
#include "tests/faults/faults_support.hpp"
#include "tests/process_support.hpp"

using namespace std::chrono_literals;
using namespace troupe;
using troupe::testing::eventually;
using troupe::testing::slurp;
using troupe::testing::start_scheduler;
using troupe::testing::start_worker;
using troupe::testing::temp_dir;
using troupe::testing::write_fashion_config;

namespace {

std::optional<ActorInfo> find_actor(const Cluster& cluster, const std::string& name) {
  auto st = cluster.state(5s);
  if (!st.ok()) return std::nullopt;
  for (const auto& a : st->actors)
    if (a.spec.name == name) return a;
  return std::nullopt;
}

/// Waits until `name` is ALIVE on an incarnation >= `inc`; returns it.
ActorInfo wait_incarnation(const Cluster& cluster, const std::string& name, Incarnation inc) {
  std::optional<ActorInfo> a;
  const bool ok = eventually(
      [&] {
        a = find_actor(cluster, name);
        return a && a->state == ActorState::alive && a->incarnation >= inc;
      },
      30s);
  INFO(name << " never came back on incarnation " << inc);
  REQUIRE(ok);
  return *a;
}

}  // namespace

TEST_CASE("a training job survives its scheduler being SIGKILLed and restarted on the journal") {
  (void)troupe::testing::exit_77_without_fmnist();
  const auto dir = temp_dir();
  const std::string journal = dir + "/journal";
  const std::vector<std::string> flags{"--journal", journal, "--heartbeat-timeout-ms", "3000"};
  auto [sched, endpoint] = start_scheduler(dir, flags);
  auto [worker, node] = start_worker(dir, "w", endpoint, "6");
  // Long enough that the kills below land mid-training on a loaded machine.
  const std::string config = write_fashion_config(dir, "job", 10);
  SpawnSpec ts;
  ts.exe = find_troupe_binary();
  ts.args = {"train", config, "--cluster", endpoint, "--progress", "lines"};
  ts.log_path = dir + "/train.log";
  auto spawned = Child::spawn(ts);
  REQUIRE(spawned.ok());
  Child train = std::move(spawned.value());
  const std::string prefix = "train-" + std::to_string(train.pid()) + "-";
  INFO("troupe train log:\n" << slurp(dir + "/train.log"));

  auto cluster = Cluster::connect(endpoint);
  auto shard = [&] { return cluster.actor<train::Aggregator>(prefix + "shard-0"); };
  auto version = [&](const ActorHandle<train::Aggregator>& s) {
    auto p = s.call(&train::Aggregator::progress).result(5s);
    return p.ok() ? p->version : int64_t{-1};
  };
  // Training is under way: the shard has applied steps.
  REQUIRE(eventually([&] { return find_actor(cluster, prefix + "trainer-1").has_value(); }, 60s));
  auto agg = shard();
  REQUIRE(eventually([&] { return version(agg) >= 50; }, 60s));

  // A death before the crash: its history must survive the scheduler.
  const ActorInfo t1 = wait_incarnation(cluster, prefix + "trainer-1", 0);
  REQUIRE(::kill(t1.pid, SIGKILL) == 0);
  const ActorInfo t1_back = wait_incarnation(cluster, prefix + "trainer-1", t1.incarnation + 1);
  REQUIRE(t1_back.deaths.size() == 1);
  // The new incarnation has found its shard and loader (through the
  // scheduler's directory) and trains: a step carries its gradient.
  REQUIRE(eventually(
      [&] {
        auto st = agg.call(&train::Aggregator::stats, int64_t{64}).result(5s);
        return st.ok() && troupe::testing::contributed(st->recent, 1, t1_back.incarnation);
      },
      60s));
  const auto before = cluster.state(5s);
  REQUIRE(before.ok());

  // The scheduler dies; the actors train on without it (a process started
  // while it is away could not look its peers up until it is back).
  REQUIRE(sched.signal(SIGKILL));
  REQUIRE(eventually([&] { return sched.try_reap().has_value(); }, 5s));
  const int64_t v_down = version(agg);
  CHECK(eventually([&] { return version(agg) >= v_down + 50; }, 30s));
  CHECK_FALSE(train.try_reap().has_value());  // the driver waits for its scheduler, it does not fail

  // Back on the same control port and journal.
  auto [again, endpoint2] = start_scheduler(dir, flags, endpoint, "scheduler2.log");
  CHECK(endpoint2 == endpoint);
  CHECK(slurp(dir + "/scheduler2.log").find("recovered 1 node(s)") != std::string::npos);
  // The same actors: same ids, processes, incarnations and death history.
  for (const auto& a : before->actors) {
    if (a.spec.name.rfind(prefix, 0) != 0) continue;
    CAPTURE(a.spec.name);
    auto now = find_actor(cluster, a.spec.name);
    REQUIRE(now.has_value());
    CHECK(now->id == a.id);
    CHECK(now->pid == a.pid);
    CHECK(now->incarnation == a.incarnation);
    CHECK(now->deaths.size() == a.deaths.size());
    CHECK(now->state == ActorState::alive);
  }

  // A death after the restart: the new scheduler restarts the trainer and
  // the shard stops waiting for the dead incarnation.
  const ActorInfo t0 = wait_incarnation(cluster, prefix + "trainer-0", 0);
  REQUIRE(::kill(t0.pid, SIGKILL) == 0);
  const ActorInfo t0_back = wait_incarnation(cluster, prefix + "trainer-0", t0.incarnation + 1);
  REQUIRE(t0_back.deaths.size() == 1);
  CHECK(t0_back.deaths[0].signal == SIGKILL);
  const auto s = agg.call(&train::Aggregator::stats, int64_t{512}).get(10s);
  CHECK(s.progress.deaths_seen >= 1);

  // What a person sees: `troupe get actor` shows the death from before the crash.
  {
    SpawnSpec gs;
    gs.exe = find_troupe_binary();
    gs.args = {"get", "actor", prefix + "trainer-1", "--address", endpoint};
    gs.log_path = dir + "/get.log";
    auto g = Child::spawn(gs);
    REQUIRE(g.ok());
    CHECK(g->wait().exit_code == 0);
    const std::string shown = slurp(dir + "/get.log");
    INFO(shown);
    CHECK(shown.find("deaths\n") != std::string::npos);
    CHECK(shown.find("SIGKILL") != std::string::npos);
  }

  // Training finishes, with a model worth having.
  std::optional<ExitStatus> rc;
  REQUIRE(eventually([&] { return (rc = train.try_reap()).has_value(); }, 240s));
  CHECK(rc->exit_code == 0);
  const std::string out = slurp(dir + "/train.log");
  std::smatch m;
  REQUIRE(std::regex_search(out, m, std::regex(R"(final test accuracy ([0-9.]+))")));
  CHECK(std::stod(m[1].str()) >= 0.85);
  // The job is known to the restarted scheduler (`troupe list jobs`), finished.
  auto st = cluster.state(5s);
  REQUIRE(st.ok());
  REQUIRE(st->jobs.size() == 1);
  CHECK(st->jobs[0].state == "DONE");
  cluster.shutdown();
  worker.signal(SIGTERM);
  again.signal(SIGTERM);
  std::filesystem::remove_all(dir);
}
