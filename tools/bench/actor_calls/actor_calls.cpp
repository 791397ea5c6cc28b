// tools/bench/actor_calls: troupe calls next to raw ZeroMQ, side by side in one
// run on this machine (both over tcp loopback, both with the peer in another
// process), then the same calls on a secured cluster: on loopback (PLAIN) and
// on a non-loopback address (CURVE set-up, sealed AES-256-GCM data plane),
// beside raw ZeroMQ on that address, plain and CURVE, and the AEAD alone.
// Prints tables, then one JSON line with every figure.
//   actor_calls [--calls N] [--async-calls N] [--tensor-mb M] [--tensor-iters K]
// Between two hosts (two_hosts.sh runs these in two network namespaces):
//   actor_calls --echo-server ENDPOINT [--curve 1]   raw ZeroMQ echo (until "quit")
//   actor_calls --remote SCHEDULER --raw-host IP [--calls N] [--tensor-mb M] [--tensor-iters K]
//     the driver here, the actors on the scheduler's host; raw ZeroMQ to the
//     echo servers on IP ports 7501 (plain) and 7502 (CURVE)
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "embedded/local_cluster.hpp"
#include "runtime/cluster.hpp"
#include "runtime/keys.hpp"
#include "runtime/sealed_channel.hpp"
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

/// A ROUTER that echoes every message until "quit"; CURVE with `curve`'s
/// pair when given (no ZAP handler: the reference is the cipher, not the checks).
[[noreturn]] void serve_raw_echo(const std::string& endpoint, const troupe::KeysPtr& curve) {
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::router);
  if (curve) {
    s.set(zmq::sockopt::curve_server, 1);
    s.set(zmq::sockopt::curve_secretkey, curve->secret_key);
  }
  s.bind(endpoint);
  for (;;) {
    std::vector<zmq::message_t> frames;
    if (!zmq::recv_multipart(s, std::back_inserter(frames))) continue;
    if (frames.size() == 2 && frames[1].size() == 4 && std::memcmp(frames[1].data(), "quit", 4) == 0) _exit(0);
    if (frames[1].size() > 1024) frames[1] = zmq::message_t(8);  // big payloads: ack only
    zmq::send_multipart(s, frames);
  }
}

/// serve_raw_echo in a child process (like an actor).
pid_t start_raw_echo(const std::string& endpoint, const troupe::KeysPtr& curve) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  serve_raw_echo(endpoint, curve);
}

/// Raw cppzmq: a DEALER here, the echoing ROUTER in a child process (or,
/// with `spawn` false, one already serving `endpoint`). CURVE with `curve`.
class Raw {
 public:
  explicit Raw(std::string endpoint = "tcp://127.0.0.1:" + std::to_string(20000 + getpid() % 20000),
               troupe::KeysPtr curve = nullptr, bool spawn = true)
      : endpoint_(std::move(endpoint)), s_(ctx_, zmq::socket_type::dealer) {
    if (spawn) child_ = start_raw_echo(endpoint_, curve);
    if (curve) {
      s_.set(zmq::sockopt::curve_serverkey, curve->public_key);
      s_.set(zmq::sockopt::curve_publickey, curve->public_key);
      s_.set(zmq::sockopt::curve_secretkey, curve->secret_key);
    }
    s_.connect(endpoint_);
  }
  ~Raw() {
    s_.send(zmq::str_buffer("quit"));
    if (child_ > 0) waitpid(child_, nullptr, 0);
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
  pid_t child_ = -1;
};

/// Raw ZeroMQ alone: sync round trip p50 and one-way tensor GB/s.
struct RawFigures {
  double p50 = 0, tensor_gbps = 0;
};
RawFigures measure_raw(Raw& raw, int calls, std::size_t tensor_bytes, int tensor_iters) {
  RawFigures f;
  std::vector<double> rtt;
  raw.round_trips(100, rtt);
  rtt.clear();
  raw.round_trips(calls, rtt);
  f.p50 = percentile(rtt, 0.5);
  std::vector<char> big(tensor_bytes, 1);
  raw.transfers(big, 1);
  f.tensor_gbps = static_cast<double>(tensor_bytes) * tensor_iters / raw.transfers(big, tensor_iters) / 1e9;
  return f;
}

/// The AEAD of the sealed data plane alone, in this process (large frames
/// use two threads): seal and open of one tensor-sized frame, GB/s each.
struct AeadFigures {
  std::string name;
  double seal_gbps = 0, open_gbps = 0;
};
AeadFigures measure_aead(std::size_t bytes, int iters) {
  const troupe::Aead aead = troupe::choose_aead(troupe::aes256gcm_available());
  const troupe::SealKey key = troupe::random_seal_key();
  troupe::SealedChannel client(1, aead, key, troupe::SealedChannel::Side::client);
  troupe::SealedChannel server(1, aead, key, troupe::SealedChannel::Side::server);
  std::vector<char> plain(bytes, 1);
  double seal_s = 0, open_s = 0;
  for (int i = 0; i <= iters; ++i) {
    troupe::Frames f;
    f.emplace_back(plain.data(), plain.size(), [](void*, void*) {}, nullptr);
    auto t = Clock::now();
    auto sealed = client.seal(f);
    const double s1 = us_since(t);
    t = Clock::now();
    auto opened = server.open(std::move(sealed.value()));
    const double s2 = us_since(t);
    if (!opened.ok()) throw std::runtime_error("AEAD round trip failed");
    if (i > 0) seal_s += s1 / 1e6, open_s += s2 / 1e6;  // the first pays page faults
  }
  return {troupe::aead_name(aead), static_cast<double>(bytes) * iters / seal_s / 1e9,
          static_cast<double>(bytes) * iters / open_s / 1e9};
}

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

/// A driver here, a Sink on the cluster of `scheduler` (another host): sync
/// round trips and tensors the driver sends, one call after another.
RawFigures measure_remote(const std::string& scheduler, int calls, std::size_t tensor_bytes, int tensor_iters) {
  RawFigures f;
  auto cluster = troupe::Cluster::connect(scheduler);
  auto sink = cluster.spawn<Sink>({.name = "remote-sink-" + std::to_string(getpid()), .cpus = 1});
  const std::string payload(64, 'x');
  for (int i = 0; i < 100; ++i) sink.call(&Sink::echo, payload).get(10s);
  std::vector<double> rtt;
  for (int i = 0; i < calls; ++i) {
    auto t = Clock::now();
    sink.call(&Sink::echo, payload).get(10s);
    rtt.push_back(us_since(t));
  }
  f.p50 = percentile(rtt, 0.5);
  auto tensor = troupe::Tensor::zeros(troupe::DType::u8, {static_cast<int64_t>(tensor_bytes)});
  sink.call(&Sink::take, tensor).get(30s);
  auto t0 = Clock::now();
  for (int i = 0; i < tensor_iters; ++i) sink.call(&Sink::take, tensor).get(30s);
  f.tensor_gbps = static_cast<double>(tensor_bytes) * tensor_iters / (us_since(t0) / 1e6) / 1e9;
  (void)cluster.kill(sink.id());
  cluster.shutdown();
  return f;
}

/// --remote: the two-hosts run (two_hosts.sh). Prints a table and the JSON line.
int run_remote(const std::string& scheduler, const std::string& raw_host, int calls, std::size_t tensor_bytes,
               int tensor_iters, int tensor_mb) {
  auto keys = troupe::find_keys();
  if (!keys.ok() || !keys.value()) {
    std::fprintf(stderr, "actor_calls --remote: needs the cluster's keys ($TROUPE_KEYS)\n");
    return 2;
  }
  RawFigures plain, curve, secured;
  try {
    {
      Raw raw("tcp://" + raw_host + ":7501", nullptr, false);
      plain = measure_raw(raw, calls, tensor_bytes, tensor_iters);
    }
    {
      Raw raw("tcp://" + raw_host + ":7502", keys.value(), false);
      curve = measure_raw(raw, calls, tensor_bytes, tensor_iters);
    }
    secured = measure_remote(scheduler, calls, tensor_bytes, tensor_iters);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "actor_calls --remote: %s\n", e.what());
    return 1;
  }
  const AeadFigures aead = measure_aead(tensor_bytes, 10);
  std::printf("actor_calls, two hosts (driver here, actors at %s): %d sync calls, %d MiB tensor x %d\n",
              scheduler.c_str(), calls, tensor_mb, tensor_iters);
  std::printf("%-34s %14s %14s %14s\n", "", "troupe secured", "raw zmq plain", "raw zmq CURVE");
  std::printf("%-34s %14.1f %14.1f %14.1f\n", "sync round trip p50 (us)", secured.p50, plain.p50, curve.p50);
  std::printf("%-34s %14.2f %14.2f %14.2f  (target >= 1)\n", "16 MiB tensor driver->actor (GB/s)",
              secured.tensor_gbps, plain.tensor_gbps, curve.tensor_gbps);
  std::printf("troupe unsecured between hosts: refused by design (no keys: non-loopback binds are refused); "
              "raw zmq plain is the unsecured reference\n");
  std::printf("troupe secured = CURVE set-up + %s data plane (alone, up to two threads: seal %.2f GB/s, open %.2f GB/s)\n",
              aead.name.c_str(), aead.seal_gbps, aead.open_gbps);
  std::printf(
      "{\"two_hosts_secured_sync_p50_us\": %.2f, \"two_hosts_secured_tensor_gb_per_s\": %.3f, "
      "\"two_hosts_raw_plain_sync_p50_us\": %.2f, \"two_hosts_raw_plain_tensor_gb_per_s\": %.3f, "
      "\"two_hosts_raw_curve_sync_p50_us\": %.2f, \"two_hosts_raw_curve_tensor_gb_per_s\": %.3f, "
      "\"aead\": \"%s\", \"aead_seal_gb_per_s\": %.3f, \"aead_open_gb_per_s\": %.3f, \"tensor_mib\": %d}\n",
      secured.p50, secured.tensor_gbps, plain.p50, plain.tensor_gbps, curve.p50, curve.tensor_gbps, aead.name.c_str(),
      aead.seal_gbps, aead.open_gbps, tensor_mb);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Secured figures between hosts are the sealed data plane's (opt-in for
  // now, runtime/io_thread.hpp); before any thread, so every process of the
  // cluster this benchmark starts inherits it.
  ::setenv("TROUPE_SEALED", "1", 0);
  int calls = 5000, async_calls = 200000, tensor_mb = 16, tensor_iters = 50;
  std::string echo_server, remote, raw_host;
  bool curve = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (k == "--calls") calls = v;
    else if (k == "--async-calls") async_calls = v;
    else if (k == "--tensor-mb") tensor_mb = v;
    else if (k == "--tensor-iters") tensor_iters = v;
    else if (k == "--echo-server") echo_server = argv[i + 1];
    else if (k == "--curve") curve = v != 0;
    else if (k == "--remote") remote = argv[i + 1];
    else if (k == "--raw-host") raw_host = argv[i + 1];
    else { std::fprintf(stderr, "unknown option %s\n", k.c_str()); return 2; }
  }
  const std::size_t tensor_bytes = static_cast<std::size_t>(tensor_mb) << 20;
  if (!echo_server.empty()) {
    auto keys = troupe::find_keys();
    if (curve && (!keys.ok() || !keys.value())) {
      std::fprintf(stderr, "actor_calls --echo-server --curve 1: needs keys ($TROUPE_KEYS)\n");
      return 2;
    }
    serve_raw_echo(echo_server, curve ? keys.value() : nullptr);
  }
  if (!remote.empty()) return run_remote(remote, raw_host, calls, tensor_bytes, tensor_iters, tensor_mb);

  // Three clusters, one after the other in this run (docs/SECURITY.md):
  // unsecured (no keys, NULL mechanism) beside raw ZeroMQ; secured on
  // loopback (PLAIN, authenticated, not encrypted: the default of an embedded
  // cluster); secured on a non-loopback address (CURVE, encrypted: what
  // traffic between hosts gets).
  Figures plain_f, secured_f, curve_f;
  RawFigures raw_out_plain, raw_out_curve;
  const std::string outside = troupe::non_loopback_ipv4();
  try {
    if (!outside.empty()) {
      // Raw ZeroMQ on the same non-loopback address, plain and CURVE: what
      // the sealed data plane replaces, and what it is measured against.
      auto curve_keys = troupe::ephemeral_keys();
      if (!curve_keys.ok()) throw std::runtime_error(curve_keys.error().to_string());
      auto ck = std::make_shared<const troupe::ClusterKeys>(curve_keys.value());
      {
        Raw raw("tcp://" + outside + ":" + std::to_string(20000 + (getpid() + 1) % 20000));
        raw_out_plain = measure_raw(raw, calls, tensor_bytes, tensor_iters);
      }
      {
        Raw raw("tcp://" + outside + ":" + std::to_string(20000 + (getpid() + 2) % 20000), ck);
        raw_out_curve = measure_raw(raw, calls, tensor_bytes, tensor_iters);
      }
      troupe::remove_keys_dir(ck->dir);
    }
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
  const AeadFigures aead = measure_aead(tensor_bytes, 10);
  std::printf("\n%-34s %12s %12s %12s\n", "on the non-loopback address", "troupe", "raw plain", "raw CURVE");
  std::printf("%-34s %12.1f %12.1f %12.1f\n", "sync round trip p50 (us)", curve_f.p50, raw_out_plain.p50,
              raw_out_curve.p50);
  std::printf("%-34s %12.2f %12.2f %12.2f  (target >= 1)\n", "16 MiB tensor (GB/s)", curve_f.tensor_gbps,
              raw_out_plain.tensor_gbps, raw_out_curve.tensor_gbps);
  std::printf("troupe between hosts = CURVE set-up + %s data plane (alone, up to two threads: seal %.2f GB/s, open %.2f GB/s)\n",
              aead.name.c_str(), aead.seal_gbps, aead.open_gbps);
  std::printf(
      "{\"sync_p50_us\": %.2f, \"sync_p99_us\": %.2f, \"raw_p50_us\": %.2f, \"raw_p99_us\": %.2f, "
      "\"sync_p50_ratio\": %.3f, \"async_calls_per_s\": %.0f, \"tensor_gb_per_s\": %.3f, "
      "\"raw_tensor_gb_per_s\": %.3f, \"tensor_ratio\": %.3f, \"tensor_mib\": %d, "
      "\"secured_sync_p50_us\": %.2f, \"secured_sync_p99_us\": %.2f, \"secured_async_calls_per_s\": %.0f, "
      "\"secured_tensor_gb_per_s\": %.3f, \"curve_sync_p50_us\": %.2f, \"curve_sync_p99_us\": %.2f, "
      "\"curve_async_calls_per_s\": %.0f, \"curve_tensor_gb_per_s\": %.3f, \"curve_host\": \"%s\", "
      "\"raw_outside_plain_sync_p50_us\": %.2f, \"raw_outside_plain_tensor_gb_per_s\": %.3f, "
      "\"raw_outside_curve_sync_p50_us\": %.2f, \"raw_outside_curve_tensor_gb_per_s\": %.3f, "
      "\"aead\": \"%s\", \"aead_seal_gb_per_s\": %.3f, \"aead_open_gb_per_s\": %.3f}\n",
      u.p50, u.p99, u.raw50, u.raw99, u.p50 / u.raw50, u.async_per_s, u.tensor_gbps, u.raw_tensor_gbps,
      u.tensor_gbps / u.raw_tensor_gbps, tensor_mb, secured_f.p50, secured_f.p99, secured_f.async_per_s,
      secured_f.tensor_gbps, curve_f.p50, curve_f.p99, curve_f.async_per_s, curve_f.tensor_gbps, outside.c_str(),
      raw_out_plain.p50, raw_out_plain.tensor_gbps, raw_out_curve.p50, raw_out_curve.tensor_gbps, aead.name.c_str(),
      aead.seal_gbps, aead.open_gbps);
  return 0;
}
