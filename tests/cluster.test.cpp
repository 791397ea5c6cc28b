// Multi-process tests: an embedded scheduler and two workers (real sockets on
// 127.0.0.1), actors in real processes started by fork/exec of `troupe actor`.
#include <doctest/doctest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <set>

#include <zmq_addon.hpp>

#include "embedded/local_cluster.hpp"
#include "runtime/cluster.hpp"
#include "runtime/runtime.hpp"
#include "tests/actors/test_actors.hpp"
#include "tests/test_support.hpp"
#include "runtime/security.hpp"

using namespace std::chrono_literals;
using troupe::Errc;

namespace {

troupe::Cluster two_workers() {
  return troupe::local_cluster({.workers = 2, .cpus_per_worker = 2, .http_port = -1});
}

troupe::ActorInfo info_of(const troupe::Cluster& c, troupe::ActorId id) {
  auto s = c.state();
  REQUIRE(s.ok());
  for (const auto& a : s->actors)
    if (a.id == id) return a;
  FAIL("actor not in the state");
  return {};
}

/// Sends raw frames to an endpoint and returns the reply frames (empty on timeout).
troupe::Frames raw_call(const std::string& endpoint, troupe::Frames frames, int timeout_ms = 3000) {
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::rcvtimeo, timeout_ms);
  // A member of the cluster (it holds the keys) that speaks the protocol by hand.
  troupe::secure_client(s, troupe::find_keys().value(), endpoint);
  s.connect(endpoint);
  zmq::send_multipart(s, frames);
  troupe::Frames reply;
  (void)zmq::recv_multipart(s, std::back_inserter(reply));
  return reply;
}

}  // namespace

TEST_CASE("actors on two workers answer calls over tcp") {
  auto cluster = two_workers();
  // Each worker offers 2 CPUs: two 2-CPU actors must land on different nodes.
  auto a = cluster.spawn<Echo>({.name = "a", .cpus = 2});
  auto b = cluster.spawn<Echo>({.name = "b", .cpus = 2});
  CHECK(a.call(&Echo::add, 2, 3).get(10s) == 5);
  CHECK(b.call(&Echo::echo, std::string("hello")).get(10s) == "hello");
  auto ia = info_of(cluster, a.id());
  auto ib = info_of(cluster, b.id());
  CHECK(ia.state == troupe::ActorState::alive);
  CHECK(ia.node != ib.node);
  CHECK(ia.endpoint.rfind("tcp://127.0.0.1:", 0) == 0);
  CHECK(a.call(&Echo::pid).get(10s) != b.call(&Echo::pid).get(10s));
}

TEST_CASE("actor processes flush denormals on every thread, so Adam's decaying moments stay fast") {
  auto cluster = two_workers();
  auto a = cluster.spawn<Echo>({.name = "ftz", .cpus = 1});
  // The executor thread that runs methods, and a thread the method starts (as OpenMP's are).
  CHECK(a.call(&Echo::flushes_denormals).get(10s) == std::vector<bool>{true, true});
}

TEST_CASE("a tensor argument and result travel between processes intact") {
  auto cluster = two_workers();
  auto e = cluster.spawn<Echo>({});
  std::vector<float> v(1 << 20);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 1000) * 0.5f;
  auto t = troupe::Tensor::from_floats(v, {1024, 1024});
  auto r = e.call(&Echo::scale, t, 2.0f).get(20s);
  REQUIRE(r.shape() == troupe::Tensor::Shape{1024, 1024});
  auto out = r.span<float>();
  CHECK(out[0] == 0.0f);
  CHECK(out[999] == 999.0f);
  CHECK(out[v.size() - 1] == v.back() * 2.0f);
}

TEST_CASE("an actor handle passed to another actor lets it call the first") {
  auto cluster = two_workers();
  auto tally = cluster.spawn<Tally>({.name = "tally"}, 100);
  auto relay = cluster.spawn<Relay>({.name = "relay"});
  CHECK(relay.call(&Relay::add_via, tally, 5).get(20s) == 105);
  CHECK(tally.call(&Tally::value).get(10s) == 105);
  // Handles are also found by name.
  auto again = cluster.actor<Tally>("tally");
  CHECK(again.id() == tally.id());
  CHECK(again.call(&Tally::add, 1).get(10s) == 106);
}

TEST_CASE("calls from one caller are served in submission order") {
  auto cluster = two_workers();
  auto t = cluster.spawn<Tally>({}, 0);
  std::vector<troupe::Future<int>> results;
  for (int i = 1; i <= 2000; ++i) results.push_back(t.call(&Tally::add, 1));
  REQUIRE(troupe::wait_all(results, 30s));
  for (int i = 0; i < 2000; ++i) CHECK(results[i].get() == i + 1);
}

TEST_CASE("bad calls get typed errors and the actor keeps serving") {
  auto cluster = two_workers();
  auto e = cluster.spawn<Echo>({});
  auto unknown = e.call_named<int>("no_such_method", 1).result(10s);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == Errc::unknown_method);
  CHECK(unknown.error().message.find("no_such_method") != std::string::npos);

  auto wrong_type = e.call_named<int>("add", std::string("x"), 2).result(10s);
  REQUIRE_FALSE(wrong_type.ok());
  CHECK(wrong_type.error().code == Errc::bad_arguments);

  auto wrong_count = e.call_named<int>("add", 1).result(10s);
  REQUIRE_FALSE(wrong_count.ok());
  CHECK(wrong_count.error().code == Errc::bad_arguments);
  CHECK(wrong_count.error().message.find("takes 2") != std::string::npos);

  auto thrown = e.call(&Echo::fail, std::string("the reason")).result(10s);
  REQUIRE_FALSE(thrown.ok());
  CHECK(thrown.error().code == Errc::remote_error);
  CHECK(thrown.error().message == "the reason");

  // A method's own error reaches the caller with its code, even the code the
  // runtime uses for fencing (it must not be taken for a stale directory and resent).
  auto typed = e.call(&Echo::fail_with, static_cast<int>(Errc::stale_incarnation), std::string("mine")).result(10s);
  REQUIRE_FALSE(typed.ok());
  CHECK(typed.error().code == Errc::stale_incarnation);
  CHECK(typed.error().message == "mine");

  auto wrong_result = e.call_named<std::string>("add", 1, 2).result(10s);
  REQUIRE_FALSE(wrong_result.ok());
  CHECK(wrong_result.error().code == Errc::bad_arguments);

  CHECK(e.call(&Echo::add, 20, 22).get(10s) == 42);
  CHECK(info_of(cluster, e.id()).incarnation == 0);
}

TEST_CASE("malformed frames sent straight to an actor are rejected and counted") {
  auto cluster = two_workers();
  auto e = cluster.spawn<Echo>({});
  REQUIRE(e.call(&Echo::add, 1, 1).get(10s) == 2);
  const auto endpoint = info_of(cluster, e.id()).endpoint;

  // Garbage with no readable header: nobody to answer, dropped.
  troupe::Frames garbage;
  garbage.emplace_back(std::string("\xc1\xff garbage"));
  garbage.emplace_back(std::string("more"));
  CHECK(raw_call(endpoint, std::move(garbage), 300).empty());

  // A good header with a truncated body: an error reply.
  troupe::Header h;
  h.call_id = 7;
  h.method = "add";
  auto frames = troupe::encode(h, std::make_tuple(1, 2));
  std::string body = frames[1].to_string();
  frames[1] = zmq::message_t(body.data(), body.size() - 1);
  auto reply = raw_call(endpoint, std::move(frames));
  REQUIRE(reply.size() >= 2);
  auto msg = troupe::decode(std::move(reply));
  REQUIRE(msg.ok());
  CHECK(msg->header().kind == troupe::Kind::error);
  CHECK(msg->header().call_id == 7);
  CHECK(msg->body_as<troupe::Error>()->code == Errc::malformed_message);

  // The process lives on.
  CHECK(e.call(&Echo::add, 2, 2).get(10s) == 4);
  CHECK(info_of(cluster, e.id()).incarnation == 0);
}

TEST_CASE("kill -9 mid-call fails the call with ActorDied(SIGKILL) and the actor comes back") {
  auto cluster = two_workers();
  auto t = cluster.spawn<Tally>({.name = "victim", .max_restarts = 1}, 10);
  const int pid = t.call(&Tally::pid).get(10s);
  auto in_flight = t.call(&Tally::slow_add, 1, 10000);
  REQUIRE(kill(pid, SIGKILL) == 0);
  auto r = in_flight.result(10s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::actor_died);
  CHECK(r.error().signal == SIGKILL);

  auto back = cluster.wait_alive(t.id(), 10s);
  REQUIRE(back.ok());
  CHECK(back->incarnation == 1);
  CHECK(back->restarts == 1);
  REQUIRE(back->deaths.size() == 1);
  CHECK(back->deaths[0].signal == SIGKILL);
  // A fresh incarnation: constructed again from the spawn arguments.
  CHECK(t.call(&Tally::add, 5).get(10s) == 15);

  // max_restarts = 1 is spent: the next death is final.
  const int pid1 = t.call(&Tally::pid).get(10s);
  auto last_call = t.call(&Tally::slow_add, 1, 10000);
  REQUIRE(kill(pid1, SIGKILL) == 0);
  REQUIRE_FALSE(last_call.result(10s).ok());  // fails once the scheduler has seen the death
  auto dead = cluster.wait_alive(t.id(), 10s);
  REQUIRE_FALSE(dead.ok());
  CHECK(dead.error().code == Errc::actor_died);
  CHECK(dead.error().signal == SIGKILL);
  auto final_info = info_of(cluster, t.id());
  CHECK(final_info.state == troupe::ActorState::dead);
  CHECK(final_info.deaths.size() == 2);
  auto after = t.call(&Tally::value).result(10s);
  REQUIRE_FALSE(after.ok());
  CHECK(after.error().code == Errc::actor_died);
}

TEST_CASE("a retryable call in flight when its actor dies is resent to the next incarnation") {
  auto cluster = two_workers();
  auto t = cluster.spawn<Tally>({.max_restarts = 2, .retryable = {"slow_add"}}, 100);
  const int pid = t.call(&Tally::pid).get(10s);
  auto in_flight = t.call(&Tally::slow_add, 7, 3000);
  REQUIRE(kill(pid, SIGKILL) == 0);
  // The new incarnation starts from 100 again and runs the resent call.
  CHECK(in_flight.get(20s) == 107);
  CHECK(info_of(cluster, t.id()).incarnation == 1);
}

TEST_CASE("a call addressed to a stale incarnation is fenced off") {
  auto cluster = two_workers();
  auto t = cluster.spawn<Tally>({.max_restarts = 1}, 0);
  const int pid = t.call(&Tally::pid).get(10s);
  auto in_flight = t.call(&Tally::slow_add, 1, 10000);
  REQUIRE(kill(pid, SIGKILL) == 0);
  REQUIRE_FALSE(in_flight.result(10s).ok());  // fails once the scheduler has seen the death
  auto now = cluster.wait_alive(t.id(), 10s);
  REQUIRE(now.ok());
  REQUIRE(now->incarnation == 1);

  troupe::Header h;
  h.call_id = 99;
  h.method = "add";
  h.target_id = t.id();
  h.target_incarnation = 0;  // the dead one
  auto reply = raw_call(now->endpoint, troupe::encode(h, std::make_tuple(1000)));
  auto msg = troupe::decode(std::move(reply));
  REQUIRE(msg.ok());
  CHECK(msg->header().kind == troupe::Kind::error);
  CHECK(msg->body_as<troupe::Error>()->code == Errc::stale_incarnation);
  // Nothing was applied.
  CHECK(t.call(&Tally::value).get(10s) == 0);
}

TEST_CASE("an actor whose constructor throws dies with the exception text as its cause") {
  auto cluster = two_workers();
  auto f = cluster.spawn<Fragile>({.name = "fragile"}, true);
  auto r = cluster.wait_alive(f.id(), 15s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::actor_died);
  CHECK(r.error().message.find("boom in the constructor") != std::string::npos);
  auto ok = cluster.spawn<Fragile>({.name = "sturdy"}, false);
  CHECK(ok.call(&Fragile::ok).get(10s) == 1);
}

TEST_CASE("bad constructor arguments make the actor DEAD with a clear cause") {
  auto cluster = two_workers();
  auto t = cluster.spawn<Tally>({}, std::string("not a number"));
  auto r = cluster.wait_alive(t.id(), 15s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("constructor") != std::string::npos);
}

TEST_CASE("an actor that fits nowhere stays PENDING with the reason") {
  auto cluster = two_workers();
  auto big = cluster.spawn<Echo>({.name = "big", .cpus = 64});
  auto info = info_of(cluster, big.id());
  CHECK(info.state == troupe::ActorState::pending);
  CHECK(info.pending_reason.find("64 CPU") != std::string::npos);
  auto call = big.with_timeout(300ms).call(&Echo::add, 1, 2).result(5s);
  REQUIRE_FALSE(call.ok());
  CHECK(call.error().code == Errc::timeout);
  REQUIRE(cluster.kill("big").ok());
  CHECK(info_of(cluster, big.id()).state == troupe::ActorState::dead);
}

TEST_CASE("spawn refuses a duplicate name and an unknown retryable method") {
  auto cluster = two_workers();
  auto a = cluster.spawn<Echo>({.name = "only"});
  auto dup = cluster.try_spawn<Echo>({.name = "only"});
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code == Errc::invalid_argument);
  auto bad = cluster.try_spawn<Echo>({.retryable = {"nope"}});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("nope") != std::string::npos);
  auto missing = cluster.lookup("nobody");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::not_found);
}

// A scheduler that dies or freezes under a connected driver: tests/fail_fast.test.cpp.
TEST_CASE("connecting where no scheduler listens gives connection_lost at the connect timeout, not a hang") {
  for (auto timeout : {300ms, 1500ms}) {
    CAPTURE(timeout.count());
    const auto t = std::chrono::steady_clock::now();
    try {
      troupe::Cluster::connect("tcp://127.0.0.1:1", {.timeout = timeout});
      FAIL("connected to nothing");
    } catch (const troupe::Exception& e) {
      CHECK(e.code() == Errc::connection_lost);
    }
    // Refused connections are retried until the timeout (a scheduler may be starting), not longer.
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t);
    CHECK(ms >= timeout - 50ms);
    CHECK(ms <= timeout + 1500ms);
  }
}

TEST_CASE("a training job's reports reach the scheduler's state, history appended") {
  auto cluster = two_workers();
  troupe::JobInfo job;
  job.name = "mnist";
  job.state = "RUNNING";
  job.step = 1;
  job.history = {{1, 1000, 2.3, -1, 500}};
  cluster.report_job(job);
  job.step = 2;
  job.loss = 1.9;
  job.history = {{2, 2000, 1.9, 0.5, 600}};
  cluster.report_job(job);
  // Reports and this query travel in order over one connection.
  auto s = cluster.state();
  REQUIRE(s.ok());
  REQUIRE(s->jobs.size() == 1);
  CHECK(s->jobs[0].step == 2);
  CHECK(s->jobs[0].loss == doctest::Approx(1.9));
  REQUIRE(s->jobs[0].history.size() == 2);
  CHECK(s->jobs[0].history[0].step == 1);
  CHECK(s->jobs[0].history[1].accuracy == doctest::Approx(0.5));
}

TEST_CASE("a worker serves an actor's log in chunks from an offset and refuses bad requests") {
  auto cluster = two_workers();
  auto t = cluster.spawn<Tally>({.name = "chatty"}, 0);
  REQUIRE(t.call(&Tally::add, 1).get(10s) == 1);
  const auto a = info_of(cluster, t.id());
  auto s = cluster.state();
  REQUIRE(s.ok());
  std::string worker;
  for (const auto& n : s->nodes)
    if (n.id == a.node) worker = n.endpoint;
  REQUIRE(!worker.empty());
  troupe::Runtime rt({});
  rt.start();
  auto ask = [&](int64_t offset, int64_t max_bytes) {
    return rt.client().ask<troupe::LogChunk>(worker, "log_chunk", troupe::LogChunkRequest{t.id(), offset, max_bytes},
                                             5s);
  };
  auto all = ask(0, 1 << 20);
  REQUIRE(all.ok());
  CHECK(all->text.find("serving at") != std::string::npos);
  CHECK(all->end == all->size);
  // From an offset, at most max_bytes: the pieces put together are the whole.
  std::string pieces;
  for (int64_t off = 0; off < all->size;) {
    auto c = ask(off, 7);
    REQUIRE(c.ok());
    CHECK(c->offset == off);
    CHECK(c->text.size() <= 7u);
    pieces += c->text;
    off = c->end;
  }
  CHECK(pieces.substr(0, all->text.size()) == all->text);
  // Past the end (a new, shorter file): from its start, and it says so.
  auto past = ask(all->size + 1000, 1 << 20);
  REQUIRE(past.ok());
  CHECK(past->offset == 0);
  CHECK(past->text.rfind(all->text.substr(0, 10), 0) == 0);
  // Bad requests are errors, and the worker keeps serving.
  auto neg = ask(-1, 10);
  REQUIRE_FALSE(neg.ok());
  CHECK(neg.error().code == Errc::invalid_argument);
  auto zero = ask(0, 0);
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.error().code == Errc::invalid_argument);
  auto unknown = rt.client().ask<troupe::LogChunk>(worker, "log_chunk", troupe::LogChunkRequest{999999, 0, 10}, 5s);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == Errc::not_found);
  CHECK(ask(0, 1 << 20).ok());
  rt.stop();
}

TEST_CASE("a worker refuses a code path outside its allowed folders and a name that is a path, loading nothing") {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "troupe-lp-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  const fs::path root(tmpl);
  auto cluster = troupe::local_cluster({.workers = 1, .cpus_per_worker = 2, .log_dir = (root / "logs").string(),
                                         .http_port = -1});
  // A real actor library, copied outside the build's and install's folders.
  const troupe::ClassInfo* info = troupe::Registry::instance().find(typeid(Tally));
  REQUIRE(info != nullptr);
  REQUIRE(!info->library.empty());
  fs::copy_file(info->library, root / "evil.so");
  auto s = cluster.state();
  REQUIRE(s.ok());
  REQUIRE(s->nodes.size() == 1u);
  const std::string worker = s->nodes[0].endpoint;
  const fs::path log_dir = s->nodes[0].log_dir;
  auto files = [&] {
    std::set<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root)) out.insert(e.path().string());
    return out;
  };
  const auto before = files();
  troupe::Runtime rt({});
  rt.start();
  auto start = [&](std::string name, std::vector<std::string> code_paths) {
    troupe::StartActor a;
    a.actor = 900001;
    a.class_name = "Tally";
    a.name = std::move(name);
    a.code_paths = std::move(code_paths);
    return rt.client().ask<msgpack::type::nil_t>(worker, "start_actor", a, 5s);
  };
  struct Case {
    std::string name;
    std::vector<std::string> code_paths;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"ok-name", {(root / "evil.so").string()}, "is outside the folders this worker loads code from"},
      {"ok-name", {fs::path(info->library).parent_path().string() + "/../../../../../../.." + (root / "evil.so").string()},
       "is outside the folders"},
      {"../../escape", {info->library}, "actor name '../../escape' has a character that is not allowed"},
      {"a/b", {info->library}, "has a character that is not allowed"},
      {"..", {info->library}, "starts with '.'"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto r = start(c.name, c.code_paths);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_argument);
    CHECK_MESSAGE(r.error().message.find(c.says) != std::string::npos, r.error().message);
  }
  // Nothing started, nothing written: not in the log folder, not beside it.
  CHECK(files() == before);
  CHECK_FALSE(fs::exists(log_dir.parent_path().parent_path() / "escape-900001.log"));
  auto st = cluster.state();
  REQUIRE(st.ok());
  CHECK(st->actors.empty());
  // The scheduler refuses such a name before it reaches a worker.
  auto bad = cluster.try_spawn<Tally>({.name = "../x"}, 0);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == Errc::invalid_argument);
  // And the worker still starts what it may.
  auto t = cluster.spawn<Tally>({.name = "allowed"}, 0);
  CHECK(t.call(&Tally::add, 2).get(10s) == 2);
  rt.stop();
  cluster.shutdown();
  fs::remove_all(root);
}
