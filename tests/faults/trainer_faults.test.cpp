// A trainer dies (issue 5, item 1): only it restarts, the others keep
// stepping, the shards stop waiting for it when the scheduler reports the
// death, the new incarnation pulls the current weights and contributes from
// the next step, and no gradient of a dead incarnation is ever applied.
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <algorithm>
#include <cmath>

#include "tests/faults/faults_support.hpp"

using namespace std::chrono_literals;
using namespace troupe;
using namespace troupe::testing;

namespace {

/// Kills (or faults) trainer `slot` and waits until its next incarnation has contributed to an applied step.
/// Returns that incarnation.
Incarnation wait_rejoined(const FaultJob& j, int slot, Incarnation dead) {
  Incarnation next = dead + 1;
  int64_t first = -1;
  const bool back = eventually([&] { return contributed(j.stats().recent, slot, next, &first); }, 30s);
  if (!back) FAIL("slot " << slot << " incarnation " << next << " never contributed");
  MESSAGE("slot " << slot << " incarnation " << next << " contributed first to version " << first);
  return next;
}

/// What incarnation `inc` of actor `id` wrote to its log: the worker brackets each incarnation's output with
/// "incarnation N starting" and "incarnation N ended" lines. "" when the log or that incarnation is not there.
std::string incarnation_log(const std::string& log_dir, ActorId id, Incarnation inc) {
  const std::string suffix = "-" + std::to_string(id) + ".log";
  for (const auto& e : std::filesystem::recursive_directory_iterator(log_dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() < suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    std::ifstream in(e.path());
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    const auto b = text.find("incarnation " + std::to_string(inc) + " starting");
    if (b == std::string::npos) return "";
    return text.substr(b, text.find("incarnation " + std::to_string(inc) + " ended", b) - b);
  }
  return "";
}

}  // namespace

TEST_CASE("a trainer killed with SIGKILL restarts alone and rejoins while the others keep stepping") {
  (void)exit_77_without_fmnist();  // the data is missing: the whole entry is skipped, not passed
  auto job = small_job(3, 1, 1, 9000, 8);
  job.epochs = 50;  // long enough to outlast the test; the cluster is shut down at the end
  train::finalize(job, 10000);
  auto cluster = small_cluster();
  FaultJob j(cluster, job, {.prefix = "kill"});
  j.wait_version(30);
  const Incarnation dead = j.kill9(j.trainer_names[1]);
  const Incarnation next = wait_rejoined(j, 1, dead);

  const auto st = j.stats();
  // Steps were applied without slot 1 between its death and its return: nobody waited for the replacement.
  int64_t last_old = -1, first_new = -1;
  for (const auto& s : st.recent)
    for (std::size_t i = 0; i + 2 < s.contributors.size(); i += 3)
      if (s.contributors[i] == 1) {
        if (s.contributors[i + 1] == static_cast<int64_t>(dead)) last_old = s.version;
        if (s.contributors[i + 1] == static_cast<int64_t>(next) && first_new < 0) first_new = s.version;
      }
  int without = 0;
  for (const auto& s : st.recent)
    if (s.version > last_old && s.version < first_new && !has_slot(s, 1)) ++without;
  INFO("last step of the dead incarnation " << last_old << ", first of the new one " << first_new);
  CHECK(first_new > 0);
  CHECK(without >= 1);
  CHECK(st.progress.deaths_seen >= 1);
  // Only that trainer restarted: the other trainers, the loader and the shard are the same processes.
  for (const auto& name : {j.trainer_names[0], j.trainer_names[2], j.shard_names[0], std::string("kill-loader-0")}) {
    const auto a = j.info(name);
    CAPTURE(name);
    CHECK(a.incarnation == 0);
    CHECK(a.restarts == 0);
  }
  const auto t1 = j.info(j.trainer_names[1]);
  CHECK(t1.incarnation == next);
  REQUIRE_FALSE(t1.deaths.empty());
  CHECK(t1.deaths.back().signal == SIGKILL);
  // Its data cursor carried on (sync: the cursor is the version it resumed at, not 0).
  const auto status = j.trainers[1].call(&train::Trainer::status).get(10s);
  CHECK(status.incarnation == next);
  CHECK(status.step > last_old);
}

TEST_CASE("a trainer that dies for good is no longer waited for, and the others train its batches too") {
  (void)exit_77_without_fmnist();  // the data is missing: the whole entry is skipped, not passed
  auto job = small_job(3, 1, 1, 4800, 8);  // 200 steps
  auto cluster = small_cluster();
  FaultJob j(cluster, job, {.prefix = "gone", .no_restart_slots = {2}});
  j.wait_version(20);
  j.kill9(j.trainer_names[2]);
  const auto w = j.final_weights(60s);
  REQUIRE(static_cast<int64_t>(w.size()) == kernels::ParamLayout(train::mlp_spec(job)).num_params());
  CHECK(std::all_of(w.begin(), w.end(), [](float x) { return std::isfinite(x); }));
  const auto st = j.stats();
  REQUIRE_FALSE(st.recent.empty());
  CHECK_FALSE(has_slot(st.recent.back(), 2));
  CHECK_FALSE(st.slots[2].alive);
  CHECK(j.info(j.trainer_names[2]).state == ActorState::dead);
  // Nothing of slot 2's data was skipped: the survivors trained the batches it
  // left, so the epoch took more steps than the fault-free 200.
  const auto ledger = j.shards[0].call(&train::Aggregator::ledger).get(10s);
  REQUIRE(ledger.size() == 1);
  CHECK(ledger[0].samples_expected == 4800);
  CHECK(ledger[0].samples_trained == 4800);
  CHECK(ledger[0].samples_skipped() == 0);
  CHECK(ledger[0].batches_settled == ledger[0].batches);
  CHECK(ledger[0].batches_stolen > 0);
  CHECK(st.progress.version > job.total_steps);
}

TEST_CASE("abort, an exception in the step loop, a CUDA error and a throwing constructor each restart only that trainer") {
  (void)exit_77_without_fmnist();  // the data is missing: the whole entry is skipped, not passed
  auto job = small_job(3, 1, 1, 9000, 8);
  job.epochs = 50;
  job.fault_ctor_throw = {2, 0};  // slot 2's first incarnation throws in its constructor
  train::finalize(job, 10000);
  // Our own log directory: the exception and the CUDA error end the process alike (exit code 4), and only
  // the dying incarnation's log says which of the two it was.
  std::string log_dir = std::filesystem::temp_directory_path() / "troupe-inject-XXXXXX";
  REQUIRE(::mkdtemp(log_dir.data()) != nullptr);
  auto cluster = local_cluster({.workers = 1, .cpus_per_worker = 4, .log_dir = log_dir, .http_port = -1});
  FaultJob j(cluster, job, {.prefix = "inject"});
  // The constructor failure: slot 2 comes back as incarnation 1 and trains.
  wait_rejoined(j, 2, 0);
  const auto t2 = j.info(j.trainer_names[2]);
  REQUIRE_FALSE(t2.deaths.empty());
  CHECK(t2.deaths.front().reason.find("constructor threw") != std::string::npos);
  CHECK(t2.deaths.front().reason.find("injected") != std::string::npos);

  Incarnation inc = 0;
  for (const std::string kind : {"abort", "exception", "cuda"}) {
    CAPTURE(kind);
    (void)j.trainers[1].call(&train::Trainer::inject, kind).result(5s);  // abort: no reply
    inc = wait_rejoined(j, 1, inc);
    const auto a = j.info(j.trainer_names[1]);
    REQUIRE_FALSE(a.deaths.empty());
    const std::string log = incarnation_log(log_dir, a.id, inc - 1);
    INFO("log of the incarnation that died:\n" << log);
    if (kind == "abort") {
      CHECK(a.deaths.back().signal == SIGABRT);
    } else {
      CHECK(a.deaths.back().exit_code == 4);  // an exception escaped the step loop and ended the process
      // A device fault is not retried in place (trainer.cpp DeviceFault): the kernel's error is what ended it.
      // A plain exception in the step loop ends it too, but is no kernel failure.
      const bool device = log.find("background task failed: kernel failed: CUDA error") != std::string::npos;
      const bool plain = log.find("background task failed: injected exception in the step loop") != std::string::npos;
      CHECK(device == (kind == "cuda"));
      CHECK(plain == (kind == "exception"));
    }
  }
  CHECK(j.info(j.trainer_names[0]).incarnation == 0);
  CHECK(j.info(j.trainer_names[2]).incarnation == 1);
  CHECK(j.info(j.shard_names[0]).incarnation == 0);
  std::filesystem::remove_all(log_dir);
}

TEST_CASE("pushes from a stale or dead incarnation are rejected and counted, and a dead one's pending gradient is dropped") {
  (void)exit_77_without_fmnist();  // the data is missing: the whole entry is skipped, not passed
  auto job = small_job(2, 1, 1, 640, 32);
  auto cluster = small_cluster();
  auto shard = cluster.spawn<train::Aggregator>({.name = "stale-shard", .cpus = 0.1}, job, 0);
  const int64_t n = kernels::ParamLayout(train::mlp_spec(job)).num_params();
  const ActorId a = 900001, b = 900002;  // stand-ins for two trainer actors
  auto push = [&](int slot, ActorId actor, Incarnation inc, int64_t version) {
    Tensor g = Tensor::empty(DType::f32, {n});
    std::fill_n(g.data_as<float>(), n, 0.01f);
    train::PushRequest p{slot, actor, inc, version, version, 32, 1.0, 3, g, -1};
    return shard.call(&train::Aggregator::push, p).get(10s);
  };
  auto progress = [&] { return shard.call(&train::Aggregator::progress).get(10s); };
  REQUIRE(shard.call(&train::Aggregator::join, train::JoinRequest{0, a, 1, -1}).result(10s).ok());
  REQUIRE(shard.call(&train::Aggregator::join, train::JoinRequest{1, b, 0, -1}).result(10s).ok());

  // An older incarnation than the newest known: fenced.
  CHECK(push(0, a, 0, 0).status == train::PushReply::stale);
  CHECK(progress().stale_incarnation == 1);
  // The newest one pushes, then the scheduler reports it dead before the step completes.
  CHECK(push(0, a, 1, 0).status == train::PushReply::accepted);
  REQUIRE(shard.call(&train::Aggregator::member_died, a, Incarnation{1}).result(10s).ok());
  CHECK(progress().discarded == 1);
  // The step completes with slot 1 alone: the dead incarnation's gradient is not in it.
  CHECK(push(1, b, 0, 0).version == 1);
  auto st = shard.call(&train::Aggregator::stats, int64_t{1}).get(10s);
  REQUIRE(st.recent.size() == 1);
  CHECK(st.recent[0].contributors == std::vector<int64_t>{1, 0, 32});
  // A zombie of the dead incarnation can neither push nor join.
  CHECK(push(0, a, 1, 1).status == train::PushReply::stale);
  CHECK(progress().stale_incarnation == 2);
  auto rejoin = shard.call(&train::Aggregator::join, train::JoinRequest{0, a, 1, -1}).result(10s);
  REQUIRE_FALSE(rejoin.ok());
  CHECK(rejoin.error().code == Errc::stale_incarnation);
  // Its replacement joins and contributes at the next step.
  REQUIRE(shard.call(&train::Aggregator::join, train::JoinRequest{0, a, 2, -1}).result(10s).ok());
  CHECK(push(0, a, 2, 1).status == train::PushReply::accepted);
  CHECK(push(1, b, 0, 1).version == 2);
  st = shard.call(&train::Aggregator::stats, int64_t{1}).get(10s);
  REQUIRE(st.recent.size() == 1);
  CHECK(st.recent[0].contributors == std::vector<int64_t>{0, 2, 32, 1, 0, 32});
  CHECK(st.slots[0].incarnation == 2);
  CHECK(st.slots[0].alive);
}
