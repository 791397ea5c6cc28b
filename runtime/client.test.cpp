// Client on its own, against a Server in the same process over inproc://
// (io_fixture.test.hpp): no scheduler, no keys, no other process. The order
// of one caller's calls, replies received by a thread waiting on a future,
// deadline timers, lost peers, and scheduler events fed in by hand.
#include "runtime/client.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <thread>
#include <vector>

#include "runtime/io_fixture.test.hpp"

using namespace std::chrono_literals;
using troupe::ActorState;
using troupe::Errc;
using troupe::Frames;
using troupe::Identity;
using namespace troupe::testing;

namespace {

constexpr const char* kServer = "inproc://client-test-server";

/// A ServedPair whose server is actor 7 incarnation 1, with the methods
/// "twice" (on the executor), "note" (inline: keeps the argument, in arrival
/// order) and "hold" (inline: keeps the Responder unanswered).
struct Rig : ServedPair {
  Rig() : ServedPair(kServer, Identity{7, 1}) {
    server.add("twice", [](const troupe::Message& m, const troupe::Responder& r) {
      r.reply(std::get<0>(m.body_as<std::tuple<int>>().value()) * 2);
    });
    server.add("note", [this](const troupe::Message& m, const troupe::Responder& r) {
      noted.push_back(std::get<0>(m.body_as<std::tuple<int>>().value()));
      r.reply(noted.back());
    }, false);
    server.add("hold", [this](const troupe::Message&, const troupe::Responder& r) { held.push_back(r); }, false);
    start();
  }
  ~Rig() {
    // Before the members below go: no handler may run on them afterwards.
    executor.stop();
    io->stop();
    server_io->stop();
  }
  /// Feeds the client an "actor" event as if the scheduler had published it.
  void event(ActorState state, const std::string& endpoint = kServer) {
    troupe::Header h;
    h.kind = troupe::Kind::event;
    h.method = "actor";
    troupe::Event e;
    e.topic = "actor";
    e.actor = 7;
    e.state = state;
    e.incarnation = 1;
    e.endpoint = endpoint;
    Frames f = troupe::encode(h, e);
    on_io(*io, [&] { client.handle_event(std::move(f)); });
  }
  /// How many calls the server holds unanswered (read on its I/O thread).
  std::size_t holding() { return on_io(*server_io, [this] { return held.size(); }); }

  std::vector<int> noted;               // server I/O thread only
  std::vector<troupe::Responder> held;  // server I/O thread only
};

}  // namespace

TEST_CASE("one thread's calls reach the server in the order they were made") {
  Rig rig;
  constexpr int kCalls = 200;
  std::vector<std::shared_ptr<troupe::CallState>> calls;
  // Some go out inside try_run from this thread, the others are posted while
  // the I/O thread holds the sockets: the order must not depend on which.
  for (int i = 0; i < kCalls; ++i) calls.push_back(rig.client.call(kServer, "note", call_frames("note", i), {kGuard, false}));
  for (int i = 0; i < kCalls; ++i) {
    REQUIRE(calls[i]->wait(kGuard));
    REQUIRE(calls[i]->result().ok());
    CHECK(calls[i]->result().value().body_as<int>().value() == i);
  }
  const auto noted = on_io(*rig.server_io, [&] { return rig.noted; });
  REQUIRE(noted.size() == kCalls);
  for (int i = 0; i < kCalls; ++i) REQUIRE(noted[i] == i);
  CHECK(rig.client.stats().calls_sent.load() == kCalls);
}

TEST_CASE("a thread waiting on a call's future gets the reply; its callback runs on the I/O thread or on that waiter") {
  Rig rig;
  const auto io_id = io_thread_id(*rig.io);
  for (int i = 0; i < 50; ++i) {
    auto st = rig.client.call(kServer, "twice", call_frames("twice", i), {kGuard, false});
    CHECK(static_cast<bool>(st->driver));  // call states are driven (IoThread::drive)
    std::promise<std::thread::id> ran_on;
    st->add_callback([&](const troupe::Result<troupe::Message>&) { ran_on.set_value(std::this_thread::get_id()); });
    REQUIRE(st->wait(kGuard));  // what Future::get does: drives the I/O thread's sockets meanwhile
    const auto& r = st->result();
    REQUIRE(r.ok());
    CHECK(r.value().body_as<int>().value() == 2 * i);
    auto on = ran_on.get_future();
    REQUIRE(ready(on));
    const auto id = on.get();
    CHECK((id == io_id || id == std::this_thread::get_id()));
  }
}

TEST_CASE("a call without a reply fails with timeout when its deadline timer fires; the late reply is unmatched") {
  Rig rig;
  auto st = rig.client.call(kServer, "hold", call_frames("hold", 1), {50ms, false});
  REQUIRE(st->wait(kGuard));
  REQUIRE_FALSE(st->result().ok());
  CHECK(st->result().error().code == Errc::timeout);
  CHECK(st->result().error().message.find("before its deadline") != std::string::npos);

  // Answered now, on the server's I/O thread; a call made after it is
  // answered after it on the same connection, so once that call is done the
  // late reply has been received and counted.
  REQUIRE(rig.holding() == 1);
  on_io(*rig.server_io, [&] { rig.held.front().reply(1); });
  auto next = rig.client.call(kServer, "twice", call_frames("twice", 4), {kGuard, false});
  REQUIRE(next->wait(kGuard));
  CHECK(next->result().value().body_as<int>().value() == 8);
  CHECK(rig.client.stats().replies_unmatched.load() == 1);
}

TEST_CASE("calls in flight to a fixed endpoint whose peer is lost fail at once with connection_lost") {
  Rig rig;
  auto st = rig.client.call(kServer, "hold", call_frames("hold", 1), {kGuard, false});
  // Held by the server: the call is in flight (a call made after it is served).
  auto probe = rig.client.call(kServer, "twice", call_frames("twice", 1), {kGuard, false});
  REQUIRE(probe->wait(kGuard));
  REQUIRE(rig.holding() == 1);
  on_io(*rig.io, [&] { rig.client.handle_peer_lost(kServer, "closed its connection"); });
  REQUIRE(st->ready());  // completed on the I/O thread, inside handle_peer_lost
  REQUIRE_FALSE(st->result().ok());
  CHECK(st->result().error().code == Errc::connection_lost);
  CHECK(st->result().error().message == std::string("hold: ") + kServer + " closed its connection");
  CHECK(rig.client.stats().calls_lost.load() == 1);
}

TEST_CASE("events reach listeners on the I/O thread; an ALIVE event routes actor calls, a RESTARTING one fails them") {
  Rig rig;
  std::vector<troupe::Event> seen;  // I/O thread only
  std::thread::id listener_on;
  rig.client.add_event_listener([&](const troupe::Event& e) {
    listener_on = std::this_thread::get_id();
    seen.push_back(e);
  });
  // add_event_listener posts: the event below is handled after it, on the same thread.
  rig.event(ActorState::alive);
  CHECK(on_io(*rig.io, [&] { return seen.size(); }) == 1);
  CHECK(listener_on == io_thread_id(*rig.io));
  CHECK(rig.client.stats().events.load() == 1);
  CHECK(on_io(*rig.io, [&] { return rig.client.is_replaced(7, 0); }));
  CHECK_FALSE(on_io(*rig.io, [&] { return rig.client.is_replaced(7, 1); }));

  // The event said where actor 7 lives: no scheduler needed to reach it.
  auto twice = rig.client.call_actor(7, "twice", call_frames("twice", 21), {kGuard, false});
  REQUIRE(twice->wait(kGuard));
  REQUIRE(twice->result().ok());
  CHECK(twice->result().value().body_as<int>().value() == 42);

  auto held = rig.client.call_actor(7, "hold", call_frames("hold", 1), {kGuard, false});
  auto probe = rig.client.call_actor(7, "twice", call_frames("twice", 1), {kGuard, false});
  REQUIRE(probe->wait(kGuard));
  REQUIRE(rig.holding() == 1);
  rig.event(ActorState::restarting, "");
  REQUIRE(held->ready());  // a call that is not retryable fails with the death
  CHECK(held->result().error().code == Errc::actor_died);
  CHECK(on_io(*rig.io, [&] { return rig.client.is_replaced(7, 1); }));
  CHECK(on_io(*rig.io, [&] { return seen.size(); }) == 2);
}
