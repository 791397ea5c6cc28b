// Issue 12, item 4: the program that started a job dies. Real processes:
// `troupe scheduler`, `troupe worker`, and `troupe train` as a user runs
// them. A driver SIGKILLed in the foreground: its job is FAILED (driver
// lost) within the lease bound, its actors are DEAD and their CPUs free,
// another job's actors are untouched, and a restarted scheduler still knows
// it. A job started with --detach runs on after the command has returned,
// writes its outputs and is followed to its end by --attach; Ctrl-C of a
// follower leaves it running; the death of its driver actor fails it.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "runtime/cluster.hpp"
#include "tests/process_support.hpp"
#include "tests/training/training_support.hpp"

using namespace std::chrono_literals;
using namespace troupe;
using troupe::testing::eventually;
using troupe::testing::slurp;
using troupe::testing::spawn_troupe;
using troupe::testing::start_scheduler;
using troupe::testing::start_worker;
using troupe::testing::temp_dir;
using troupe::testing::write_fashion_config;

namespace {

using Clock = std::chrono::steady_clock;

// The scheduler's heartbeat timeout in these tests: a job's lease. The bound
// on declaring a driver lost is the lease plus one check (a quarter of it).
constexpr int64_t kLeaseMs = 2000;
constexpr int64_t kBoundMs = kLeaseMs + kLeaseMs / 4;
// What a loaded 2-core machine adds: the test's own polling of the state,
// and a scheduler that is not scheduled at once.
constexpr int64_t kMarginMs = 1500;

std::optional<JobInfo> find_job(const ClusterState& st, const std::string& name) {
  for (const auto& j : st.jobs)
    if (j.name == name) return j;
  return std::nullopt;
}

std::optional<JobInfo> job_of(const Cluster& c, const std::string& name) {
  auto st = c.state(5s);
  if (!st.ok()) return std::nullopt;
  return find_job(*st, name);
}

std::vector<ActorInfo> actors_of(const ClusterState& st, JobId job) {
  std::vector<ActorInfo> out;
  for (const auto& a : st.actors)
    if (a.spec.job == job) out.push_back(a);
  return out;
}

double used_cpus(const ClusterState& st) {
  double used = 0;
  for (const auto& n : st.nodes) used += n.used.cpus;
  return used;
}

/// Waits until job `name` is RUNNING with at least `steps` steps and every actor of it ALIVE; returns the state.
ClusterState wait_training(const Cluster& c, const std::string& name, int64_t steps, std::size_t actors,
                           const std::string& log) {
  ClusterState seen;
  const bool ok = eventually(
      [&] {
        auto st = c.state(5s);
        if (!st.ok()) return false;
        seen = *st;
        auto j = find_job(seen, name);
        if (!j || j->state != "RUNNING" || j->step < steps) return false;
        auto as = actors_of(seen, j->id);
        return as.size() == actors &&
               std::all_of(as.begin(), as.end(), [](const ActorInfo& a) { return a.state == ActorState::alive; });
      },
      120s);
  INFO("log:\n" << slurp(log));
  REQUIRE_MESSAGE(ok, "job " << name << " never trained " << steps << " steps with its " << actors << " actors ALIVE");
  return seen;
}

/// The exit status of `c` once it has exited (within `timeout`).
ExitStatus wait_exit(Child& c, std::chrono::milliseconds timeout, const std::string& log) {
  std::optional<ExitStatus> rc;
  const bool ok = eventually([&] { return (rc = c.try_reap()).has_value(); }, timeout);
  INFO("log:\n" << slurp(log));
  REQUIRE(ok);
  return *rc;
}

}  // namespace

TEST_CASE("driver loss: a SIGKILLed driver's job is FAILED within the lease bound, its actors stopped, others untouched") {
  (void)troupe::testing::exit_77_without_fmnist();
  const auto dir = temp_dir();
  const std::vector<std::string> flags{"--journal", dir + "/journal", "--heartbeat-timeout-ms",
                                       std::to_string(kLeaseMs)};
  auto [sched, endpoint] = start_scheduler(dir, flags);
  auto [worker, node] = start_worker(dir, "w", endpoint, "6");
  auto cluster = Cluster::connect(endpoint);

  // Two jobs on one cluster; each has 2 loaders, 1 shard and 2 trainers (2.75 CPUs).
  Child other = spawn_troupe({"train", write_fashion_config(dir, "other", 10, 0), "--cluster", endpoint, "--progress", "lines"},
                      dir + "/other.log");
  Child victim = spawn_troupe({"train", write_fashion_config(dir, "victim", 10, 0), "--cluster", endpoint, "--progress", "lines"},
                       dir + "/victim.log");
  wait_training(cluster, "other", 20, 5, dir + "/other.log");
  const ClusterState before = wait_training(cluster, "victim", 20, 5, dir + "/victim.log");
  const JobInfo victim_job = *find_job(before, "victim");
  const JobInfo other_job = *find_job(before, "other");
  CHECK_FALSE(victim_job.detached);
  CHECK(victim_job.driver.find("pid " + std::to_string(victim.pid())) == 0);
  const auto victim_actors = actors_of(before, victim_job.id);
  const auto other_actors = actors_of(before, other_job.id);
  CHECK(used_cpus(before) == doctest::Approx(5.5));

  // The driver dies without a word.
  const auto killed = Clock::now();
  REQUIRE(victim.signal(SIGKILL));
  std::optional<JobInfo> failed;
  REQUIRE(eventually(
      [&] {
        failed = job_of(cluster, "victim");
        return failed && failed->state == "FAILED";
      },
      std::chrono::milliseconds(kBoundMs + kMarginMs + 10000)));
  const int64_t failed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed).count();
  // Its actors are DEAD and their CPUs free.
  ClusterState after;
  REQUIRE(eventually(
      [&] {
        auto st = cluster.state(5s);
        if (!st.ok()) return false;
        after = *st;
        auto as = actors_of(after, victim_job.id);
        return std::all_of(as.begin(), as.end(), [](const ActorInfo& a) { return a.state == ActorState::dead; });
      },
      30s));
  const int64_t dead_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed).count();
  MESSAGE("SIGKILL of the driver -> job FAILED seen after " << failed_ms << " ms, all its actors DEAD after "
                                                            << dead_ms << " ms (bound " << kBoundMs << " ms)");
  CHECK(failed_ms <= kBoundMs + kMarginMs);
  CHECK(dead_ms <= kBoundMs + kMarginMs + 1000);
  CHECK(failed->reason.rfind("driver lost: no word from pid " + std::to_string(victim.pid()), 0) == 0);
  for (const auto& a : actors_of(after, victim_job.id)) {
    CAPTURE(a.spec.name);
    REQUIRE_FALSE(a.deaths.empty());
    CHECK(a.deaths.back().reason == "job victim: driver lost");
    CHECK(a.restarts == 0);  // stopped, not restarted
  }
  CHECK(used_cpus(after) == doctest::Approx(2.75));
  // The other job: the same processes, still training.
  for (const auto& a : other_actors) {
    CAPTURE(a.spec.name);
    auto now = std::find_if(after.actors.begin(), after.actors.end(), [&](const ActorInfo& x) { return x.id == a.id; });
    REQUIRE(now != after.actors.end());
    CHECK(now->state == ActorState::alive);
    CHECK(now->pid == a.pid);
    CHECK(now->incarnation == a.incarnation);
  }
  const int64_t other_step = find_job(after, "other")->step;
  CHECK(eventually([&] { auto j = job_of(cluster, "other"); return j && j->step >= other_step + 20; }, 60s));

  // `troupe list jobs` says so.
  {
    Child list = spawn_troupe({"list", "jobs", "--address", endpoint}, dir + "/list.log");
    CHECK(wait_exit(list, 30s, dir + "/list.log").exit_code == 0);
    const std::string shown = slurp(dir + "/list.log");
    INFO(shown);
    CHECK(std::regex_search(shown, std::regex("victim +FAILED .*driver lost")));
    CHECK(std::regex_search(shown, std::regex("other +RUNNING")));
  }

  // A restarted scheduler keeps it: the failed job and its reason come back
  // from the journal, and the running one stays RUNNING (its driver renews).
  REQUIRE(sched.signal(SIGKILL));
  REQUIRE(eventually([&] { return sched.try_reap().has_value(); }, 5s));
  auto [again, endpoint2] = start_scheduler(dir, flags, endpoint, "scheduler2.log");
  CHECK(endpoint2 == endpoint);
  std::optional<JobInfo> back;
  REQUIRE(eventually([&] { return (back = job_of(cluster, "victim")).has_value(); }, 10s));
  CHECK(back->state == "FAILED");
  CHECK(back->reason == failed->reason);
  CHECK(back->id == victim_job.id);
  // For longer than the lease bound after the restart, the live driver keeps its job.
  const auto restarted = Clock::now();
  REQUIRE(eventually(
      [&] {
        auto j = job_of(cluster, "other");
        REQUIRE(j.has_value());
        REQUIRE(j->state == "RUNNING");
        return Clock::now() - restarted > std::chrono::milliseconds(kBoundMs + 500);
      },
      std::chrono::milliseconds(kBoundMs + 10000)));

  // The other job ends as its user asks.
  REQUIRE(other.signal(SIGINT));
  CHECK(wait_exit(other, 60s, dir + "/other.log").exit_code == 130);
  CHECK(job_of(cluster, "other")->state == "STOPPED");
  cluster.shutdown();
  worker.signal(SIGTERM);
  again.signal(SIGTERM);
  std::filesystem::remove_all(dir);
}

TEST_CASE("detached: the job outlives the command, writes its outputs, and dies with its driver actor") {
  (void)troupe::testing::exit_77_without_fmnist();
  const auto dir = temp_dir();
  auto [sched, endpoint] = start_scheduler(dir, {"--heartbeat-timeout-ms", std::to_string(kLeaseMs)});
  auto [worker, node] = start_worker(dir, "w", endpoint, "4");
  auto cluster = Cluster::connect(endpoint);

  // --detach returns once the job's driver runs on the cluster.
  Child submit = spawn_troupe({"train", write_fashion_config(dir, "short", 2, 6000), "--cluster", endpoint, "--detach"},
                       dir + "/submit.log");
  const int submit_pid = submit.pid();
  CHECK(wait_exit(submit, 60s, dir + "/submit.log").exit_code == 0);
  CHECK(troupe::testing::process_gone(submit_pid));
  const std::string said = slurp(dir + "/submit.log");
  INFO(said);
  CHECK(said.find("job short submitted to " + endpoint + ", detached") != std::string::npos);
  CHECK(said.find("troupe train --attach short --cluster " + endpoint) != std::string::npos);

  // It trains to its end without the command.
  std::optional<JobInfo> j;
  const bool done = eventually(
      [&] {
        j = job_of(cluster, "short");
        return j && j->state != "RUNNING";
      },
      240s);
  REQUIRE(done);
  INFO("reason: " << j->reason);
  REQUIRE(j->state == "DONE");
  CHECK(j->detached);
  CHECK(j->driver.find("(short-driver)") != std::string::npos);
  CHECK(j->driver_actor != 0);
  CHECK(j->epoch_results.size() == 2);
  CHECK(j->summary.find("final test accuracy") != std::string::npos);
  const std::string out = dir + "/short-out";
  for (const char* f : {"best.safetensors", "final.safetensors", "epochs.jsonl", "steps.jsonl", "curves.svg"}) {
    CAPTURE(f);
    CHECK(std::filesystem::file_size(out + "/" + f) > 0);
  }
  const std::string epochs = slurp(out + "/epochs.jsonl");
  CHECK(std::count(epochs.begin(), epochs.end(), '\n') == 2);
  // The job has ended: its actors, the driver among them, are DEAD and hold nothing.
  ClusterState st;
  REQUIRE(eventually(
      [&] {
        auto s = cluster.state(5s);
        if (!s.ok()) return false;
        st = *s;
        auto as = actors_of(st, j->id);
        return as.size() == 6 &&
               std::all_of(as.begin(), as.end(), [](const ActorInfo& a) { return a.state == ActorState::dead; });
      },
      30s));
  CHECK(used_cpus(st) == doctest::Approx(0));

  // A detached job whose driver actor is SIGKILLed: FAILED at once, its actors stopped.
  Child submit2 = spawn_troupe({"train", write_fashion_config(dir, "orphan", 10, 0), "--cluster", endpoint, "--detach"},
                        dir + "/submit2.log");
  CHECK(wait_exit(submit2, 60s, dir + "/submit2.log").exit_code == 0);
  const ClusterState running = wait_training(cluster, "orphan", 10, 6, dir + "/submit2.log");
  const JobInfo orphan = *find_job(running, "orphan");
  int driver_pid = 0;
  for (const auto& a : actors_of(running, orphan.id))
    if (a.id == orphan.driver_actor) driver_pid = a.pid;
  REQUIRE(driver_pid > 0);
  const auto killed = Clock::now();
  REQUIRE(::kill(driver_pid, SIGKILL) == 0);
  std::optional<JobInfo> failed;
  REQUIRE(eventually(
      [&] {
        failed = job_of(cluster, "orphan");
        return failed && failed->state == "FAILED";
      },
      std::chrono::milliseconds(kBoundMs + kMarginMs + 10000)));
  const int64_t failed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed).count();
  MESSAGE("SIGKILL of a detached job's driver actor -> job FAILED seen after " << failed_ms << " ms");
  CHECK(failed_ms <= kBoundMs + kMarginMs);
  CHECK(failed->reason.rfind("driver lost: orphan-driver died", 0) == 0);
  REQUIRE(eventually(
      [&] {
        auto s = cluster.state(5s);
        if (!s.ok()) return false;
        auto as = actors_of(*s, orphan.id);
        return std::all_of(as.begin(), as.end(), [](const ActorInfo& a) { return a.state == ActorState::dead; }) &&
               used_cpus(*s) < 1e-9;
      },
      30s));
  cluster.shutdown();
  worker.signal(SIGTERM);
  sched.signal(SIGTERM);
  std::filesystem::remove_all(dir);
}

TEST_CASE("detached: --attach follows a running job to its end; Ctrl-C of a follower leaves the job running") {
  (void)troupe::testing::exit_77_without_fmnist();
  const auto dir = temp_dir();
  auto [sched, endpoint] = start_scheduler(dir, {"--heartbeat-timeout-ms", std::to_string(kLeaseMs)});
  auto [worker, node] = start_worker(dir, "w", endpoint, "4");
  auto cluster = Cluster::connect(endpoint);
  Child submit = spawn_troupe({"train", write_fashion_config(dir, "followed", 4, 20000), "--cluster", endpoint, "--detach"},
                       dir + "/submit.log");
  CHECK(wait_exit(submit, 60s, dir + "/submit.log").exit_code == 0);

  // A follower that is stopped: the job runs on.
  Child first = spawn_troupe({"train", "--attach", "followed", "--cluster", endpoint, "--progress", "lines"},
                      dir + "/attach1.log");
  REQUIRE(eventually([&] { return slurp(dir + "/attach1.log").find("driven by actor") != std::string::npos; }, 30s));
  REQUIRE(first.signal(SIGINT));
  CHECK(wait_exit(first, 30s, dir + "/attach1.log").exit_code == 0);
  CHECK(slurp(dir + "/attach1.log").find("stopped following job followed; it runs on") != std::string::npos);
  const int64_t step = job_of(cluster, "followed")->step;
  REQUIRE(eventually(
      [&] {
        auto j = job_of(cluster, "followed");
        return j && (j->step > step || j->state != "RUNNING");
      },
      60s));
  CHECK(job_of(cluster, "followed")->state != "FAILED");

  // A follower that stays to the end: every epoch's line and the final accuracy.
  Child second = spawn_troupe({"train", "--attach", "followed", "--cluster", endpoint, "--progress", "lines"},
                       dir + "/attach2.log");
  CHECK(wait_exit(second, 240s, dir + "/attach2.log").exit_code == 0);
  const std::string shown = slurp(dir + "/attach2.log");
  INFO(shown);
  for (int e = 1; e <= 4; ++e)
    CHECK(shown.find("epoch " + std::to_string(e) + "/4: train loss") != std::string::npos);
  std::smatch m;
  REQUIRE(std::regex_search(shown, m, std::regex(R"(final test accuracy ([0-9.]+))")));
  CHECK(std::stod(m[1].str()) >= 0.75);
  CHECK(shown.find("wrote " + dir + "/followed-out/") != std::string::npos);
  CHECK(job_of(cluster, "followed")->state == "DONE");
  // Following a job that has ended prints its story and returns at once.
  Child late = spawn_troupe({"train", "--attach", "followed", "--cluster", endpoint, "--progress", "none"},
                     dir + "/attach3.log");
  CHECK(wait_exit(late, 30s, dir + "/attach3.log").exit_code == 0);
  CHECK(slurp(dir + "/attach3.log").find("final test accuracy") != std::string::npos);
  Child unknown = spawn_troupe({"train", "--attach", "nosuchjob", "--cluster", endpoint}, dir + "/attach4.log");
  CHECK(wait_exit(unknown, 30s, dir + "/attach4.log").exit_code == 1);
  CHECK(slurp(dir + "/attach4.log").find("not_found") != std::string::npos);
  cluster.shutdown();
  worker.signal(SIGTERM);
  sched.signal(SIGTERM);
  std::filesystem::remove_all(dir);
}
