// tools/bench/actor_calls: troupe calls next to raw ZeroMQ, side by side in one
// run on this machine (both over tcp loopback, both with the peer in another
// process). Prints a table, then one JSON line with every figure.
//   actor_calls [--calls N] [--async-calls N] [--tensor-mb M] [--tensor-iters K]
#include <unistd.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "runtime/cluster.hpp"
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

  Raw raw;
  auto cluster = troupe::Cluster::local({.workers = 2, .cpus_per_worker = 1, .http_port = -1});
  auto sink = cluster.spawn<Sink>({.name = "sink", .cpus = 1});
  auto source = cluster.spawn<Source>({.name = "source", .cpus = 1});
  const std::string payload(64, 'x');

  // The machine is noisy: alternate short rounds of troupe and raw ZeroMQ so
  // that both see the same conditions, then compare the pooled samples.
  constexpr int kRounds = 10;
  std::vector<double> rtt, raw_rtt;
  raw.round_trips(100, raw_rtt);  // warm-up
  for (int i = 0; i < 100; ++i) sink.call(&Sink::echo, payload).get(10s);
  raw_rtt.clear();
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < calls / kRounds; ++i) {
      auto t = Clock::now();
      sink.call(&Sink::echo, payload).get(10s);
      rtt.push_back(us_since(t));
    }
    raw.round_trips(calls / kRounds, raw_rtt);
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
  if (!troupe::wait_all(futures, 120s)) { std::fprintf(stderr, "async calls did not finish\n"); return 1; }
  const double async_per_s = async_calls / (us_since(t0) / 1e6);
  for (auto& f : futures)
    if (!f.result().ok()) { std::fprintf(stderr, "async call failed: %s\n", f.result().error().to_string().c_str()); return 1; }

  std::vector<char> big(tensor_bytes, 1);
  double secs = 0, raw_secs = 0;
  raw.transfers(big, 1);
  for (int round = 0; round < 5; ++round) {
    secs += source.call(&Source::push, sink, static_cast<int64_t>(tensor_bytes), tensor_iters / 5).get(300s);
    raw_secs += raw.transfers(big, tensor_iters / 5);
  }
  const double moved = static_cast<double>(tensor_bytes) * (tensor_iters / 5 * 5);
  const double tensor_gbps = moved / secs / 1e9;
  const double raw_tensor_gbps = moved / raw_secs / 1e9;

  const double p50 = percentile(rtt, 0.5), p99 = percentile(rtt, 0.99);
  const double raw50 = percentile(raw_rtt, 0.5), raw99 = percentile(raw_rtt, 0.99);
  std::printf("actor_calls: tcp loopback, %d sync calls, %d async calls, %d MiB tensor x %d (machine: %ld cores)\n",
              calls, async_calls, tensor_mb, tensor_iters, sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("%-34s %12s %12s %8s\n", "", "troupe", "raw zmq", "ratio");
  std::printf("%-34s %12.1f %12.1f %8.2f  (target <= 1.5)\n", "sync round trip p50 (us)", p50, raw50, p50 / raw50);
  std::printf("%-34s %12.1f %12.1f %8.2f\n", "sync round trip p99 (us)", p99, raw99, p99 / raw99);
  std::printf("%-34s %12.0f %12s %8s  (target >= 100000)\n", "async pipelined calls/s", async_per_s, "-", "-");
  std::printf("%-34s %12.2f %12.2f %8.2f  (target >= 0.7)\n", "16 MiB tensor actor->actor (GB/s)", tensor_gbps,
              raw_tensor_gbps, tensor_gbps / raw_tensor_gbps);
  std::printf(
      "{\"sync_p50_us\": %.2f, \"sync_p99_us\": %.2f, \"raw_p50_us\": %.2f, \"raw_p99_us\": %.2f, "
      "\"sync_p50_ratio\": %.3f, \"async_calls_per_s\": %.0f, \"tensor_gb_per_s\": %.3f, "
      "\"raw_tensor_gb_per_s\": %.3f, \"tensor_ratio\": %.3f, \"tensor_mib\": %d}\n",
      p50, p99, raw50, raw99, p50 / raw50, async_per_s, tensor_gbps, raw_tensor_gbps, tensor_gbps / raw_tensor_gbps,
      tensor_mb);
  cluster.shutdown();
  return 0;
}
