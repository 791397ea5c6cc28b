// Outsiders against a real cluster (issue 10, items 1 and 2): a `troupe
// scheduler` and a `troupe worker` run as processes with the test run's keys
// ($TROUPE_KEYS); a driver holding those keys checks, through the
// scheduler's own state, that nothing an outsider tried happened. Outsiders:
// a raw ZeroMQ socket with no credentials, a runtime without keys, and a
// runtime holding another cluster's keys. Each runs against a cluster bound
// on loopback (PLAIN, authenticated) and, when this host has a non-loopback
// address, on that address (CURVE, authenticated and encrypted).
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>
#include <thread>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "embedded/local_cluster.hpp"
#include "runtime/cluster.hpp"
#include "runtime/codec.hpp"
#include "runtime/keys.hpp"
#include "runtime/runtime.hpp"
#include "runtime/security.hpp"
#include "scheduler/scheduler.hpp"
#include "tests/actors/test_actors.hpp"
#include "tests/process_support.hpp"

using namespace std::chrono_literals;
using namespace troupe;
using namespace troupe::testing;

namespace {

/// The hosts to run each case on: loopback, and the outside address when there is one.
std::vector<std::string> hosts() {
  std::vector<std::string> h{"127.0.0.1"};
  if (auto o = troupe::non_loopback_ipv4(); !o.empty()) h.push_back(o);
  return h;
}

/// A scheduler and one worker, as processes, bound on `host`; and a driver with the keys.
struct RealCluster {
  std::string dir = temp_dir();
  Child scheduler;
  std::string endpoint;
  Child worker;
  std::string worker_endpoint;
  std::optional<Cluster> driver;

  explicit RealCluster(const std::string& host) {
    auto [s, ep] = start_troupe({"scheduler", "--bind", "tcp://" + host + ":*", "--http-port", "-1"},
                                dir + "/scheduler.log", R"(control (tcp://[0-9.]+:[0-9]+))");
    scheduler = std::move(s);
    endpoint = ep;
    auto [w, at] = start_troupe({"worker", "--scheduler", endpoint, "--host", host, "--cpus", "2", "--log-dir",
                                 dir + "/w1"},
                                dir + "/w1.log", R"(node [0-9]+ at (tcp://[0-9.]+:[0-9]+))");
    worker = std::move(w);
    worker_endpoint = at;
    driver = Cluster::connect(endpoint);
  }
  ~RealCluster() {
    driver->shutdown();
    (void)worker.terminate(3s);
    (void)scheduler.terminate(3s);
    std::filesystem::remove_all(dir);
  }
  ClusterState state() { return driver->state().value(); }
  /// Log files the worker wrote (one per actor process it started).
  std::size_t worker_logs() {
    std::size_t n = 0;
    for (auto& e : std::filesystem::directory_iterator(dir + "/w1")) n += e.path().extension() == ".log";
    return n;
  }
};

/// An outsider that speaks the protocol through troupe's own runtime, with
/// other keys (`keys`) or none (null).
struct Outsider {
  Runtime rt;
  Outsider(const std::string& scheduler, KeysPtr keys)
      : rt(Runtime::Options{.scheduler = scheduler, .heartbeat = 200ms, .keys = keys, .insecure = !keys}) {
    rt.start();
  }
  ~Outsider() { rt.stop(); }
  /// The method's outcome; an outsider must always get an error, never a reply.
  template <class T = void>
  Result<T> ask(const std::string& endpoint, const std::string& method, const auto& body) {
    return rt.client().ask<T>(endpoint, method, body, 2000ms);
  }
};

/// Outsiders of both kinds: no keys, and another cluster's keys.
struct Outsiders {
  ClusterKeys other = ephemeral_keys().value();
  Outsider none;
  Outsider wrong;
  explicit Outsiders(const std::string& scheduler)
      : none(scheduler, nullptr), wrong(scheduler, std::make_shared<const ClusterKeys>(other)) {}
  ~Outsiders() { remove_keys_dir(other.dir); }
  /// Runs `attempt` as each outsider; each must fail as a lost connection.
  void each(const std::function<Result<void>(Outsider&)>& attempt) {
    for (Outsider* o : {&none, &wrong}) {
      CAPTURE((o == &none ? "no keys" : "another cluster's keys"));
      auto r = attempt(*o);
      REQUIRE(!r.ok());
      CHECK(r.error().code == Errc::connection_lost);
    }
  }
};

template <class T>
Result<void> as_void(Result<T> r) {
  if (r.ok()) return {};
  return r.error();
}

/// A raw DEALER with no credentials at all: sends a well-formed call and
/// returns whatever comes back within `wait` (nothing, if security holds).
Frames raw_call(const std::string& endpoint, const std::string& method, const auto& body,
                std::chrono::milliseconds wait = 1500ms,
                const std::function<void(zmq::socket_t&)>& credentials = [](zmq::socket_t&) {}) {
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  credentials(s);
  s.connect(endpoint);
  Header h;
  h.call_id = 1;
  h.method = method;
  auto frames = encode(h, body);
  // Queued until a connection is up, which never happens: the send itself succeeds.
  (void)zmq::send_multipart(s, frames, zmq::send_flags::dontwait);
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  Frames reply;
  if (zmq::poll(&item, 1, wait) > 0) (void)zmq::recv_multipart(s, std::back_inserter(reply));
  return reply;
}

}  // namespace

TEST_CASE("without the cluster's key a peer cannot read the scheduler's state") {
  for (const auto& host : hosts()) {
    CAPTURE(host);
    RealCluster c(host);
    CHECK(raw_call(c.endpoint, "state", msgpack::type::nil_t()).empty());
    CHECK(raw_call(c.endpoint, "hello", msgpack::type::nil_t()).empty());
    Outsiders out(c.endpoint);
    out.each([&](Outsider& o) { return as_void(o.ask<ClusterState>(c.endpoint, "state", msgpack::type::nil_t())); });
    // Knowing the cluster's public key is not enough: a CURVE client with a
    // key pair of its own completes the key exchange and is then refused by
    // the ZAP handler (on loopback, PLAIN with a guessed password is).
    const std::string pub = find_keys().value()->public_key;
    CHECK(raw_call(c.endpoint, "state", msgpack::type::nil_t(), 1500ms, [&](zmq::socket_t& s) {
            if (is_loopback_endpoint(c.endpoint)) {
              s.set(zmq::sockopt::plain_username, "troupe");
              s.set(zmq::sockopt::plain_password, std::string(64, 'a'));
              return;
            }
            std::array<char, 41> mine_pub{}, mine_sec{};
            REQUIRE(zmq_curve_keypair(mine_pub.data(), mine_sec.data()) == 0);
            s.set(zmq::sockopt::curve_serverkey, pub);
            s.set(zmq::sockopt::curve_publickey, std::string(mine_pub.data(), 40));
            s.set(zmq::sockopt::curve_secretkey, std::string(mine_sec.data(), 40));
          }).empty());
    // The scheduler said why (once per address), and the right key still works.
    CHECK(eventually([&] { return slurp(c.dir + "/scheduler.log").find("refused a connection from") != std::string::npos; }, 5s));
    CHECK(c.state().nodes.size() == 1);
  }
}

TEST_CASE("without the cluster's key a peer cannot spawn an actor, nor load a library") {
  for (const auto& host : hosts()) {
    CAPTURE(host);
    RealCluster c(host);
    ActorSpec spec;
    spec.class_name = "Echo";
    spec.code_paths = {"/nonexistent/evil.so"};
    CHECK(raw_call(c.endpoint, "spawn", spec).empty());
    Outsiders out(c.endpoint);
    out.each([&](Outsider& o) { return as_void(o.ask<ActorInfo>(c.endpoint, "spawn", spec)); });
    CHECK(c.state().actors.empty());
    CHECK(c.worker_logs() == 0);  // no actor process was started
  }
}

TEST_CASE("without the cluster's key a peer cannot start an actor straight on a worker") {
  for (const auto& host : hosts()) {
    CAPTURE(host);
    RealCluster c(host);
    StartActor start;
    start.actor = 4242;
    start.incarnation = 1;
    start.class_name = "Echo";
    start.code_paths = {"/nonexistent/evil.so"};
    CHECK(raw_call(c.worker_endpoint, "start_actor", start).empty());
    Outsiders out(c.endpoint);
    out.each([&](Outsider& o) { return o.ask<void>(c.worker_endpoint, "start_actor", start); });
    CHECK(c.worker_logs() == 0);  // the worker writes a log file before it starts any process
    CHECK(c.state().actors.empty());
  }
}

TEST_CASE("without the cluster's key a peer cannot kill an actor") {
  for (const auto& host : hosts()) {
    CAPTURE(host);
    RealCluster c(host);
    auto victim = c.driver->spawn<Echo>({.name = "victim"});
    const int pid = victim.call(&Echo::pid).get(10s);
    ActorRef ref{victim.id(), "victim", 0, false};
    CHECK(raw_call(c.endpoint, "kill", ref).empty());
    Outsiders out(c.endpoint);
    out.each([&](Outsider& o) { return o.ask<void>(c.endpoint, "kill", ref); });
    // Same process, never restarted.
    CHECK(victim.call(&Echo::pid).get(10s) == pid);
    auto info = c.driver->lookup("victim");
    REQUIRE(info.ok());
    CHECK(info->state == ActorState::alive);
    CHECK(info->restarts == 0);
  }
}

TEST_CASE("without the cluster's key a peer cannot read an actor's log") {
  for (const auto& host : hosts()) {
    CAPTURE(host);
    RealCluster c(host);
    auto a = c.driver->spawn<Echo>({.name = "talker"});
    REQUIRE(a.call(&Echo::pid).get(10s) > 0);
    LogRequest req{a.id(), 0};
    CHECK(raw_call(c.worker_endpoint, "logs", req).empty());
    Outsiders out(c.endpoint);
    out.each([&](Outsider& o) { return as_void(o.ask<std::string>(c.worker_endpoint, "logs", req)); });
    // The scheduler's copy of the constructor arguments is no more reachable.
    out.each([&](Outsider& o) {
      return as_void(o.ask<ActorSpec>(c.endpoint, "actor_spec", ActorRef{a.id(), "", 0, false}));
    });
  }
}

TEST_CASE("without the cluster's key a peer cannot register a node") {
  for (const auto& host : hosts()) {
    CAPTURE(host);
    RealCluster c(host);
    NodeRegistration reg;
    reg.host = "evil";
    reg.endpoint = "tcp://" + host + ":1";
    reg.total = Resources{64, 8, 0};
    CHECK(raw_call(c.endpoint, "register_node", reg).empty());
    Outsiders out(c.endpoint);
    out.each([&](Outsider& o) { return as_void(o.ask<Registered>(c.endpoint, "register_node", reg)); });
    auto st = c.state();
    REQUIRE(st.nodes.size() == 1);
    CHECK(st.nodes[0].host != "evil");
  }
}

TEST_CASE("without the cluster's key a peer cannot report a job") {
  for (const auto& host : hosts()) {
    CAPTURE(host);
    RealCluster c(host);
    JobInfo job;
    job.name = "evil-job";
    job.state = "RUNNING";
    CHECK(raw_call(c.endpoint, "job_report", job).empty());
    Outsiders out(c.endpoint);
    out.each([&](Outsider& o) { return o.ask<void>(c.endpoint, "job_report", job); });
    CHECK(c.state().jobs.empty());
    auto j = c.driver->job("evil-job");
    REQUIRE(!j.ok());
    CHECK(j.error().code == Errc::not_found);
  }
}

TEST_CASE("a scheduler asked to bind a non-loopback address without keys exits 2 with one line") {
  const auto dir = temp_dir();
  SpawnSpec spec;
  spec.exe = find_troupe_binary();
  spec.args = {"scheduler", "--bind", "tcp://0.0.0.0:0", "--http-port", "-1"};
  spec.env = {{"TROUPE_KEYS", "none"}};
  spec.log_path = dir + "/scheduler.log";
  auto child = Child::spawn(spec);
  REQUIRE(child.ok());
  auto status = child->wait();
  CHECK(status.exit_code == 2);
  const std::string text = slurp(spec.log_path);
  CHECK(text.find("no cluster keys: run `troupe keygen`") != std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);
  // Loopback without keys is allowed (nobody else on the network can reach it).
  spec.args = {"scheduler", "--bind", "tcp://127.0.0.1:0", "--http-port", "-1"};
  spec.log_path = dir + "/loopback.log";
  auto ok = Child::spawn(spec);
  REQUIRE(ok.ok());
  CHECK(eventually([&] { return slurp(spec.log_path).find("control tcp://") != std::string::npos; }, 10s));
  (void)ok->terminate(3s);
  std::filesystem::remove_all(dir);
}

TEST_CASE("an embedded cluster needs no set-up and its processes admit only its own key") {
  // The test run's keys are the user's here; TROUPE_KEYS=none is tested by the benchmark.
  auto cluster = local_cluster({.workers = 1, .http_port = -1});
  REQUIRE(cluster.keys() != nullptr);
  auto e = cluster.spawn<Echo>({});
  CHECK(e.call(&Echo::add, 2, 3).get(10s) == 5);
  Outsiders out(cluster.address());
  out.each([&](Outsider& o) { return as_void(o.ask<ClusterState>(cluster.address(), "state", msgpack::type::nil_t())); });
  auto info = cluster.wait_alive(e.id(), 10s);
  REQUIRE(info.ok());
  // The actor process's own server, too.
  CHECK(raw_call(info->endpoint, "add", std::make_tuple(1, 2)).empty());
  out.each([&](Outsider& o) { return as_void(o.ask<int>(info->endpoint, "add", std::make_tuple(1, 2))); });
  cluster.shutdown();
}

TEST_CASE("without the cluster's key a peer hears none of the scheduler's events") {
  for (const auto& host : hosts()) {
    CAPTURE(host);
    RealCluster c(host);
    auto hello = c.driver->runtime().client().ask<HelloReply>(c.endpoint, "hello", msgpack::type::nil_t(), 5s);
    REQUIRE(hello.ok());
    zmq::context_t ctx;
    zmq::socket_t sub(ctx, zmq::socket_type::sub);
    sub.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::subscribe, "");
    sub.connect(hello->events_endpoint);
    // A member's SUB beside it, to know when events went out.
    std::atomic<int> heard{0};
    c.driver->runtime().client().add_event_listener([&](const Event&) { ++heard; });
    // Events until the member has heard several (an actor that fits nowhere: no process).
    REQUIRE(eventually([&] {
      auto probe = c.driver->spawn<Echo>({.cpus = 64});
      (void)c.driver->kill(probe.id());
      return heard.load() >= 4;
    }, 10s));
    zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
    CHECK(zmq::poll(&item, 1, 500ms) == 0);
  }
}

TEST_CASE("between hosts a 16 MiB tensor goes to an actor and back sealed, byte for byte") {
  // The sealed data plane (docs/SECURITY.md): CURVE sets the session up,
  // AES-256-GCM (or ChaCha20-Poly1305) carries the frames.
  const std::string host = non_loopback_ipv4();
  if (host.empty()) {
    MESSAGE("skipped: this host has no non-loopback IPv4 address (no CURVE, so no sealed data plane, to test)");
    return;
  }
  RealCluster c(host);
  auto e = c.driver->spawn<Echo>({.name = "big"});
  std::vector<float> v(std::size_t{4} << 20);  // 16 MiB
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 65521) + 0.25f;
  auto t = Tensor::from_floats(v, {static_cast<int64_t>(v.size())});
  const auto& stats = c.driver->runtime().io().stats();
  const uint64_t sealed_before = stats.sealed_in.load();
  auto r = e.call(&Echo::scale, t, 1.0f).get(60s);
  REQUIRE(r.nbytes() == v.size() * sizeof(float));
  CHECK(std::memcmp(r.span<float>().data(), v.data(), r.nbytes()) == 0);
  // The reply came over a sealed bulk socket, and nothing was refused on the way.
  CHECK(stats.sealed_in.load() > sealed_before);
  CHECK(stats.sessions_opened.load() >= 1);
  CHECK(stats.sealed_rejected.load() == 0);
}

// Key holders (issue 10, item 3): a client with the cluster's keys but none of
// the tokens the scheduler hands out (runtime/capability.hpp) cannot speak for
// a node, an actor's process or a job it does not own. Loopback only: the
// checks are the scheduler's, the same on either transport (the cases above
// cover CURVE).
namespace {

/// A second client of the cluster, with its keys: a driver or CLI user.
struct KeyHolder {
  Outsider peer;
  explicit KeyHolder(const std::string& scheduler) : peer(scheduler, find_keys().value()) {}
  template <class T = void>
  Result<T> ask(const std::string& endpoint, const std::string& method, const auto& body) {
    return peer.ask<T>(endpoint, method, body);
  }
};

template <class T>
void check_denied(const Result<T>& r) {
  REQUIRE(!r.ok());
  CHECK(r.error().code == Errc::permission_denied);
}

const NodeInfo* find_node(const ClusterState& s, NodeId id) {
  for (const auto& n : s.nodes)
    if (n.id == id) return &n;
  return nullptr;
}

}  // namespace

TEST_CASE("a key holder without a node's token cannot speak for the node nor take its id") {
  RealCluster c("127.0.0.1");
  auto victim = c.driver->spawn<Echo>({.name = "victim"});
  const int pid = victim.call(&Echo::pid).get(10s);
  const auto before = c.state();
  REQUIRE(before.nodes.size() == 1);
  const NodeInfo node = before.nodes[0];
  auto alive = c.driver->lookup("victim");
  REQUIRE(alive.ok());
  KeyHolder k(c.endpoint);
  for (const std::string& guess : {std::string(), std::string(32, '0')}) {
    CAPTURE(guess);
    check_denied(k.ask(c.endpoint, "heartbeat", Heartbeat{node.id, guess}));
    check_denied(k.ask(c.endpoint, "leave_node", LeaveNode{node.id, "forged", guess}));
    ActorExit exit{alive->id, alive->incarnation, 0, SIGKILL, "forged", guess};
    check_denied(k.ask(c.endpoint, "actor_exited", exit));
  }
  // Taking the live node's id over: a new node instead, told to stop the actors it claims.
  NodeRegistration reg;
  reg.host = "evil";
  reg.endpoint = "tcp://127.0.0.1:1";
  reg.total = Resources{1, 0, 0};
  reg.previous_id = node.id;
  reg.running = {RunningActor{alive->id, alive->incarnation}};
  auto taken = k.ask<Registered>(c.endpoint, "register_node", reg);
  REQUIRE(taken.ok());
  CHECK(taken->node != node.id);
  CHECK(!taken->node_token.empty());
  REQUIRE(taken->stop.size() == 1);
  CHECK(taken->stop[0].actor == alive->id);
  // A heartbeat with another node's token is no better.
  check_denied(k.ask(c.endpoint, "heartbeat", Heartbeat{node.id, taken->node_token}));
  // The real worker's heartbeats still count after the forgeries (two heard
  // since them), and its node and actor are as they were.
  const int64_t forged_at = c.state().time_ms;
  int64_t heard = 0;
  REQUIRE(eventually([&] {
    const auto s = c.state();
    const NodeInfo* n = find_node(s, node.id);
    if (n != nullptr && n->last_heartbeat_ms > forged_at && n->last_heartbeat_ms != heard) {
      if (heard != 0) return true;
      heard = n->last_heartbeat_ms;
    }
    return false;
  }, 10s));
  const auto after = c.state();
  const NodeInfo* same = find_node(after, node.id);
  REQUIRE(same != nullptr);
  CHECK(same->alive);
  CHECK(same->host == node.host);
  CHECK(same->endpoint == node.endpoint);
  CHECK(same->pid == node.pid);
  CHECK(victim.call(&Echo::pid).get(10s) == pid);
  auto info = c.driver->lookup("victim");
  REQUIRE(info.ok());
  CHECK(info->state == ActorState::alive);
  CHECK(info->node == node.id);
  CHECK(info->restarts == 0);
  CHECK(slurp(c.dir + "/scheduler.log").find("refused heartbeat of node") != std::string::npos);
}

TEST_CASE("a key holder without an actor's start token cannot read its constructor arguments nor say it is ready") {
  RealCluster c("127.0.0.1");
  auto tally = c.driver->spawn<Tally>({.name = "tally"}, 41);
  CHECK(tally.call(&Tally::add, 1).get(10s) == 42);
  auto info = c.driver->lookup("tally");
  REQUIRE(info.ok());
  KeyHolder k(c.endpoint);
  for (const std::string& guess : {std::string(), std::string(32, 'f')}) {
    CAPTURE(guess);
    check_denied(k.ask<ActorSpec>(c.endpoint, "actor_spec", ActorRef{info->id, "", 0, false, guess}));
    check_denied(k.ask(c.endpoint, "actor_ready",
                       ActorReady{info->id, info->incarnation, "tcp://127.0.0.1:1", 4242, guess}));
    check_denied(k.ask(c.endpoint, "actor_failed", ActorFailed{info->id, info->incarnation, "forged", false, guess}));
  }
  // The start token is nowhere on the actor process's command line (which `ps` shows every user).
  const std::string cmdline = slurp("/proc/" + std::to_string(info->pid) + "/cmdline");
  REQUIRE(!cmdline.empty());
  CHECK(cmdline.find("TOKEN") == std::string::npos);
  std::size_t start = 0;
  for (std::size_t end; (end = cmdline.find('\0', start)) != std::string::npos; start = end + 1) {
    const std::string arg = cmdline.substr(start, end - start);
    CHECK_FALSE((arg.size() == 32 && arg.find_first_not_of("0123456789abcdef") == std::string::npos));
  }
  // Still served where it was, by the same process; the state never shows ctor_args.
  auto now = c.driver->lookup("tally");
  REQUIRE(now.ok());
  CHECK(now->state == ActorState::alive);
  CHECK(now->endpoint == info->endpoint);
  CHECK(now->pid == info->pid);
  CHECK(now->spec.ctor_args.empty());
  CHECK(tally.call(&Tally::add, 0).get(10s) == 42);
  // Killed by its driver, its death's reason is the real one, not the forged failure.
  REQUIRE(c.driver->kill(info->id).ok());
  CHECK(eventually([&] {
    for (const auto& a : c.state().actors)
      if (a.id == info->id && a.state == ActorState::dead && !a.deaths.empty())
        return a.deaths.back().reason == "killed by user";
    return false;
  }, 10s));
}

TEST_CASE("a key holder without a job's token cannot report into it nor adopt it") {
  RealCluster c("127.0.0.1");
  auto lease = c.driver->start_job(JobRegistration{"owned", false, "", ""});
  REQUIRE(lease.ok());
  CHECK(lease->token().size() == 32);
  KeyHolder k(c.endpoint);
  JobInfo forged;
  forged.id = lease->id();
  forged.name = lease->name();
  forged.state = "FAILED";
  forged.step = 999;
  forged.reason = "forged";
  check_denied(k.ask(c.endpoint, "job_report", forged));
  forged.token = std::string(32, '0');
  check_denied(k.ask(c.endpoint, "job_report", forged));
  // By name without an id (an unregistered report merges by name): the same.
  forged.id = 0;
  forged.token.clear();
  check_denied(k.ask(c.endpoint, "job_report", forged));
  check_denied(k.ask<JobRegistered>(c.endpoint, "job_renew", JobRenewal{lease->id(), true, "evil", ""}));
  check_denied(k.ask<JobRegistered>(c.endpoint, "job_renew", JobRenewal{lease->id(), false, "", "00"}));
  auto job = c.driver->job(lease->name());
  REQUIRE(job.ok());
  CHECK(job->state == "RUNNING");
  CHECK(job->step == 0);
  CHECK(job->reason.empty());
  CHECK(job->driver.find("evil") == std::string::npos);
  CHECK(job->driver_actor == 0);
  // The driver's own reports still go in, and no reply shows the token.
  JobInfo mine;
  mine.id = lease->id();
  mine.name = lease->name();
  mine.state = "RUNNING";
  mine.step = 7;
  mine.token = lease->token();
  REQUIRE(c.driver->runtime().client().ask<void>(c.endpoint, "job_report", mine, 5s).ok());
  job = c.driver->job(lease->name());
  REQUIRE(job.ok());
  CHECK(job->step == 7);
  CHECK(job->token.empty());
  for (const auto& j : c.state().jobs) CHECK(j.token.empty());
  CHECK(!lease->lost());
  // An unregistered report (no id, a name no registered job has) needs no token, as before.
  JobInfo loose;
  loose.name = "loose";
  loose.state = "RUNNING";
  CHECK(k.ask(c.endpoint, "job_report", loose).ok());
}

TEST_CASE("the scheduler counts refusals; a worker holding its node's token keeps its id and token") {
  Scheduler::Options o;
  o.bind = "tcp://127.0.0.1:*";
  o.http_port = -1;
  o.keys = find_keys().value();
  Scheduler scheduler(o);
  scheduler.start();
  const std::string ep = scheduler.endpoint();
  Runtime rt(Runtime::Options{.scheduler = ep, .keys = o.keys});
  rt.start();
  Client& c = rt.client();
  NodeRegistration reg;
  reg.host = "h";
  reg.endpoint = "tcp://127.0.0.1:1";
  reg.total = Resources{1, 0, 0};
  auto first = c.ask<Registered>(ep, "register_node", reg, 5s);
  REQUIRE(first.ok());
  CHECK(first->node_token.size() == 32);
  CHECK(c.ask<void>(ep, "heartbeat", Heartbeat{first->node, first->node_token}, 5s).ok());
  CHECK(scheduler.refused_tokens() == 0);
  check_denied(c.ask<void>(ep, "heartbeat", Heartbeat{first->node, ""}, 5s));
  CHECK(scheduler.refused_tokens() == 1);
  // Re-registering with the token (a partition healed, a scheduler restarted): the same id and token.
  reg.previous_id = first->node;
  reg.token = first->node_token;
  auto again = c.ask<Registered>(ep, "register_node", reg, 5s);
  REQUIRE(again.ok());
  CHECK(again->node == first->node);
  CHECK(again->node_token == first->node_token);
  // Without it: a new node with its own token, and one more refusal.
  reg.token = std::string(32, '0');
  auto other = c.ask<Registered>(ep, "register_node", reg, 5s);
  REQUIRE(other.ok());
  CHECK(other->node != first->node);
  CHECK(other->node_token != first->node_token);
  CHECK(scheduler.refused_tokens() == 2);
  rt.stop();
  scheduler.stop();
}
