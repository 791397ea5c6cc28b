// tools/bench/actor_calls: troupe calls next to raw ZeroMQ, side by side in one
// run on this machine (both over tcp loopback, both with the peer in another
// process), then the same calls on a secured cluster: on loopback (PLAIN) and
// on a non-loopback address (CURVE). Prints tables, then one JSON line with
// every figure.
//   actor_calls [--calls N] [--async-calls N] [--tensor-mb M] [--tensor-iters K]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "embedded/local_cluster.hpp"
#include "runtime/cluster.hpp"
#include "runtime/security.hpp"
#include "tools/bench/actor_calls/bench_actors.hpp"

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

double us_since(Clock::time_point t) { return std::chrono::duration<double, std::micro>(Clock::now() - t).count(); }

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * (v.size() - 1))];
}

/// A ROUTER that echoes every message, in a child process (like an actor).
pid_t start_raw_echo(const std::string& endpoint) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::router);
  s.bind(endpoint);
  for (;;) {
    std::vector<zmq::message_t> frames;
    if (!zmq::recv_multipart(s, std::back_inserter(frames))) continue;
    if (frames.size() == 2 && frames[1].size() == 4 && std::memcmp(frames[1].data(), "quit", 4) == 0) _exit(0);
    if (frames[1].size() > 1024) frames[1] = zmq::message_t(8);  // big payloads: ack only
    zmq::send_multipart(s, frames);
  }
}

/// Raw cppzmq: a DEALER here, the echoing ROUTER in a child process.
class Raw {
 public:
  Raw() : endpoint_("tcp://127.0.0.1:" + std::to_string(20000 + getpid() % 20000)), s_(ctx_, zmq::socket_type::dealer) {
    child_ = start_raw_echo(endpoint_);
    s_.connect(endpoint_);
  }
  ~Raw() {
    s_.send(zmq::str_buffer("quit"));
    waitpid(child_, nullptr, 0);
  }
  /// Round trips of a 64-byte payload, in microseconds.
  void round_trips(int n, std::vector<double>& out) {
    const std::string payload(64, 'x');
    for (int i = 0; i < n; ++i) {
      auto t = Clock::now();
      s_.send(zmq::buffer(payload));
      zmq::message_t reply;
      (void)s_.recv(reply);
      out.push_back(us_since(t));
    }
  }
  /// Zero-copy sends of one buffer, a small ack back each time: the transfer
  /// pattern of a tensor argument. Returns seconds.
  double transfers(const std::vector<char>& big, int n) {
    auto t = Clock::now();
    for (int i = 0; i < n; ++i) {
      zmq::message_t m(const_cast<char*>(big.data()), big.size(), [](void*, void*) {}, nullptr);
      s_.send(m, zmq::send_flags::none);
      zmq::message_t ack;
      (void)s_.recv(ack);
    }
    return us_since(t) / 1e6;
  }

 private:
  std::string endpoint_;
  zmq::context_t ctx_;
  zmq::socket_t s_;
  pid_t child_;
};

/// What one cluster configuration measures.
struct Figures {
  double p50 = 0, p99 = 0, raw50 = 0, raw99 = 0, async_per_s = 0, tensor_gbps = 0, raw_tensor_gbps = 0;
};

/// Sync round trips, pipelined calls and tensor transfers on an embedded
/// cluster made with `lo`; `raw` (when given) measured interleaved with it.
Figures measure(troupe::LocalOptions lo, Raw* raw, int calls, int async_calls, std::size_t tensor_bytes,
                int tensor_iters) {
  Figures f;
  auto cluster = troupe::local_cluster(lo);
  auto sink = cluster.spawn<Sink>({.name = "sink", .cpus = 1});
  auto source = cluster.spawn<Source>({.name = "source", .cpus = 1});
  const std::string payload(64, 'x');

  // The machine is noisy: alternate short rounds of troupe and raw ZeroMQ so
  // that both see the same conditions, then compare the pooled samples.
  constexpr int kRounds = 10;
  std::vector<double> rtt, raw_rtt;
  if (raw != nullptr) raw->round_trips(100, raw_rtt);  // warm-up
  for (int i = 0; i < 100; ++i) sink.call(&Sink::echo, payload).get(10s);
  raw_rtt.clear();
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < calls / kRounds; ++i) {
      auto t = Clock::now();
      sink.call(&Sink::echo, payload).get(10s);
      rtt.push_back(us_since(t));
    }
    if (raw != nullptr) raw->round_trips(calls / kRounds, raw_rtt);
  }

  std::vector<troupe::Future<int>> futures;
  futures.reserve(async_calls);
  auto t0 = Clock::now();
  // Pipelined with a window below the actor's queue bound (10,000 by default):
  // beyond it the actor answers `overloaded`, by design.
  constexpr int kWindow = 8000;
  for (int i = 0; i < async_calls; ++i) {
    if (i >= kWindow) futures[i - kWindow].wait(60s);
    futures.push_back(sink.call(&Sink::noop, i));
  }
  if (!troupe::wait_all(futures, 120s)) throw std::runtime_error("async calls did not finish");
  f.async_per_s = async_calls / (us_since(t0) / 1e6);
  for (auto& fu : futures)
    if (!fu.result().ok()) throw std::runtime_error("async call failed: " + fu.result().error().to_string());

  std::vector<char> big(tensor_bytes, 1);
  double secs = 0, raw_secs = 0;
  if (raw != nullptr) raw->transfers(big, 1);
  for (int round = 0; round < 5; ++round) {
    secs += source.call(&Source::push, sink, static_cast<int64_t>(tensor_bytes), tensor_iters / 5).get(300s);
    if (raw != nullptr) raw_secs += raw->transfers(big, tensor_iters / 5);
  }
  const double moved = static_cast<double>(tensor_bytes) * (tensor_iters / 5 * 5);
  f.tensor_gbps = moved / secs / 1e9;
  f.p50 = percentile(rtt, 0.5);
  f.p99 = percentile(rtt, 0.99);
  if (raw != nullptr) {
    f.raw_tensor_gbps = moved / raw_secs / 1e9;
    f.raw50 = percentile(raw_rtt, 0.5);
    f.raw99 = percentile(raw_rtt, 0.99);
  }
  cluster.shutdown();
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int calls = 5000, async_calls = 200000, tensor_mb = 16, tensor_iters = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (k == "--calls") calls = v;
    else if (k == "--async-calls") async_calls = v;
    else if (k == "--tensor-mb") tensor_mb = v;
    else if (k == "--tensor-iters") tensor_iters = v;
    else { std::fprintf(stderr, "unknown option %s\n", k.c_str()); return 2; }
  }
  const std::size_t tensor_bytes = static_cast<std::size_t>(tensor_mb) << 20;

  // Three clusters, one after the other in this run (docs/SECURITY.md):
  // unsecured (no keys, NULL mechanism) beside raw ZeroMQ; secured on
  // loopback (PLAIN, authenticated, not encrypted: the default of an embedded
  // cluster); secured on a non-loopback address (CURVE, encrypted: what
  // traffic between hosts gets).
  Figures plain_f, secured_f, curve_f;
  const std::string outside = troupe::non_loopback_ipv4();
  try {
    Raw raw;
    plain_f = measure({.workers = 2, .cpus_per_worker = 1, .http_port = -1, .secure = false}, &raw, calls, async_calls,
                      tensor_bytes, tensor_iters);
    secured_f = measure({.workers = 2, .cpus_per_worker = 1, .http_port = -1, .secure = true}, nullptr, calls,
                        async_calls, tensor_bytes, tensor_iters);
    if (!outside.empty())
      curve_f = measure({.workers = 2, .cpus_per_worker = 1, .host = outside, .http_port = -1, .secure = true},
                        nullptr, calls, async_calls, tensor_bytes, tensor_iters);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "actor_calls: %s\n", e.what());
    return 1;
  }

  const Figures& u = plain_f;
  std::printf("actor_calls: tcp, %d sync calls, %d async calls, %d MiB tensor x %d (machine: %ld cores)\n", calls,
              async_calls, tensor_mb, tensor_iters, sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("%-34s %12s %12s %8s\n", "unsecured (no keys)", "troupe", "raw zmq", "ratio");
  std::printf("%-34s %12.1f %12.1f %8.2f  (target <= 1.5)\n", "sync round trip p50 (us)", u.p50, u.raw50, u.p50 / u.raw50);
  std::printf("%-34s %12.1f %12.1f %8.2f\n", "sync round trip p99 (us)", u.p99, u.raw99, u.p99 / u.raw99);
  std::printf("%-34s %12.0f %12s %8s  (target >= 100000)\n", "async pipelined calls/s", u.async_per_s, "-", "-");
  std::printf("%-34s %12.2f %12.2f %8.2f  (target >= 0.7)\n", "16 MiB tensor actor->actor (GB/s)", u.tensor_gbps,
              u.raw_tensor_gbps, u.tensor_gbps / u.raw_tensor_gbps);
  std::printf("\n%-34s %12s %12s %12s\n", "secured vs unsecured", "unsecured", "PLAIN lo", "CURVE");
  std::printf("%-34s %12.1f %12.1f %12.1f\n", "sync round trip p50 (us)", u.p50, secured_f.p50, curve_f.p50);
  std::printf("%-34s %12.1f %12.1f %12.1f\n", "sync round trip p99 (us)", u.p99, secured_f.p99, curve_f.p99);
  std::printf("%-34s %12.0f %12.0f %12.0f\n", "async pipelined calls/s", u.async_per_s, secured_f.async_per_s,
              curve_f.async_per_s);
  std::printf("%-34s %12.2f %12.2f %12.2f  (CURVE on %s; 0: no such address)\n", "16 MiB tensor actor->actor (GB/s)",
              u.tensor_gbps, secured_f.tensor_gbps, curve_f.tensor_gbps, outside.empty() ? "-" : outside.c_str());
  std::printf(
      "{\"sync_p50_us\": %.2f, \"sync_p99_us\": %.2f, \"raw_p50_us\": %.2f, \"raw_p99_us\": %.2f, "
      "\"sync_p50_ratio\": %.3f, \"async_calls_per_s\": %.0f, \"tensor_gb_per_s\": %.3f, "
      "\"raw_tensor_gb_per_s\": %.3f, \"tensor_ratio\": %.3f, \"tensor_mib\": %d, "
      "\"secured_sync_p50_us\": %.2f, \"secured_sync_p99_us\": %.2f, \"secured_async_calls_per_s\": %.0f, "
      "\"secured_tensor_gb_per_s\": %.3f, \"curve_sync_p50_us\": %.2f, \"curve_sync_p99_us\": %.2f, "
      "\"curve_async_calls_per_s\": %.0f, \"curve_tensor_gb_per_s\": %.3f, \"curve_host\": \"%s\"}\n",
      u.p50, u.p99, u.raw50, u.raw99, u.p50 / u.raw50, u.async_per_s, u.tensor_gbps, u.raw_tensor_gbps,
      u.tensor_gbps / u.raw_tensor_gbps, tensor_mb, secured_f.p50, secured_f.p99, secured_f.async_per_s,
      secured_f.tensor_gbps, curve_f.p50, curve_f.p99, curve_f.async_per_s, curve_f.tensor_gbps, outside.c_str());
  return 0;
}
