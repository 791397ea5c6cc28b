// Benchmark: how long a driver waiting on the scheduler waits after the
// scheduler is SIGKILLed (issue 12, "fail fast"). Each round starts
// `troupe scheduler` (no worker), connects a driver, spawns an actor that can
// never be placed, so `wait_alive(id, 40 s)` long-polls the scheduler, and
// SIGKILLs the scheduler while that call is in flight. Prints, per round, the
// time from the kill to the call's `connection_lost`, then p50/max against
// the documented bound (2 heartbeats of the driver, docs/FAULTS.md) and the
// reference the call had before (its whole 40 s timeout). The last line is
// one JSON object.
//   driver_wait TROUPE_BINARY [ROUNDS]
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/cluster.hpp"
#include "runtime/process.hpp"
#include "runtime/registry.hpp"

/// Never placed (no worker offers its CPUs): its wait_alive long-polls the scheduler.
struct Never {
  int ping() { return 1; }
};
TROUPE_ACTOR(Never, ping);

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

/// The scheduler's control endpoint, read from its log once it is listening.
std::string control_endpoint(const std::string& log) {
  const std::regex re(R"(control (tcp://[0-9.]+:[0-9]+))");
  const auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline) {
    std::smatch m;
    const std::string text = slurp(log);
    if (std::regex_search(text, m, re)) return m[1].str();
    std::this_thread::sleep_for(20ms);  // polling a file: nothing to wait on
  }
  throw std::runtime_error("the scheduler did not start: see " + log);
}

double round_ms(const std::string& troupe, const std::string& dir, int r) {
  troupe::SpawnSpec spec;
  spec.exe = troupe;
  spec.args = {"scheduler", "--bind", "tcp://127.0.0.1:*", "--http-port", "-1"};
  spec.log_path = dir + "/scheduler-" + std::to_string(r) + ".log";
  auto sched = troupe::Child::spawn(spec);
  if (!sched.ok()) throw std::runtime_error("cannot start " + troupe + ": " + sched.error().message);
  auto cluster = troupe::Cluster::connect(control_endpoint(spec.log_path));
  // No node at all: it stays PENDING.
  auto never = cluster.try_spawn<Never>({.name = "never", .cpus = 4});
  if (!never.ok()) throw std::runtime_error("spawn: " + never.error().message);
  const auto& stats = cluster.runtime().client().stats();
  const uint64_t before = stats.calls_sent.load();
  auto waiting = std::async(std::launch::async, [&] {
    auto res = cluster.wait_alive(never->id(), 40s);
    return std::make_pair(std::move(res), Clock::now());
  });
  // Kill once the call is on its way: on loopback it reaches the scheduler's
  // long poll within microseconds, and if not, the outcome is the same.
  const auto give_up = Clock::now() + 10s;
  while (stats.calls_sent.load() == before) {
    if (Clock::now() > give_up) throw std::runtime_error("wait_alive was never sent");
    std::this_thread::sleep_for(1ms);
  }
  if (!sched->signal(SIGKILL)) throw std::runtime_error("cannot kill the scheduler");
  const auto killed = Clock::now();
  auto [res, at] = waiting.get();
  if (res.ok() || res.error().code != troupe::Errc::connection_lost)
    throw std::runtime_error("wait_alive ended with " + (res.ok() ? std::string("ok") : res.error().message));
  return std::chrono::duration<double, std::milli>(at - killed).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: driver_wait TROUPE_BINARY [ROUNDS]\n";
    return 2;
  }
  const std::string troupe = argv[1];
  const int rounds = argc > 2 ? std::stoi(argv[2]) : 10;
  char tmpl[] = "/tmp/troupe-driver-wait-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const double bound_ms = 2.0 * std::chrono::duration<double, std::milli>(troupe::Cluster::ConnectOptions{}.heartbeat).count();
  std::vector<double> ms;
  try {
    for (int r = 0; r < rounds; ++r) {
      ms.push_back(round_ms(troupe, dir, r));
      std::printf("round %d: SIGKILL of the scheduler -> connection_lost at the waiting driver: %.1f ms\n", r + 1,
                  ms.back());
    }
  } catch (const std::exception& e) {
    std::cerr << "driver_wait: " << e.what() << "\n";
    return 1;
  }
  std::sort(ms.begin(), ms.end());
  const double p50 = ms[ms.size() / 2], max = ms.back();
  std::printf("p50 %.1f ms, max %.1f ms; bound 2 heartbeats = %.0f ms (p50 = %.2fx the bound); before: the call's "
              "whole timeout, 40000 ms (%.0fx faster)\n",
              p50, max, bound_ms, p50 / bound_ms, 40000.0 / p50);
  std::printf("{\"rounds\": %d, \"scheduler_kill_to_connection_lost_p50_ms\": %.1f, "
              "\"scheduler_kill_to_connection_lost_max_ms\": %.1f, \"bound_ms\": %.0f, \"timeout_before_ms\": 40000}\n",
              rounds, p50, max, bound_ms);
  std::filesystem::remove_all(dir);
  return 0;
}
