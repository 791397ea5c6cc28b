// Client and Server in one process over inproc and tcp: no scheduler needed.
#include "runtime/server.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <zmq_addon.hpp>

#include "runtime/runtime.hpp"
#include "runtime/security.hpp"

using namespace std::chrono_literals;
using troupe::Errc;

namespace {

struct Pair {
  explicit Pair(std::string bind, std::size_t max_queue = 16)
      : server({.bind = std::move(bind), .self = {5, 2}, .max_queue = max_queue}), client({}) {}
  troupe::Runtime server;
  troupe::Runtime client;
};

troupe::Frames call_frames(const std::string& method, int x, uint64_t target = 5, uint32_t inc = 2) {
  troupe::Header h;
  h.method = method;
  h.target_id = target;
  h.target_incarnation = inc;
  return troupe::encode(h, std::make_tuple(x));
}

}  // namespace

TEST_CASE("a registered handler answers calls over tcp and unknown methods get an error") {
  Pair p("tcp://127.0.0.1:*");
  p.server.server().add("twice", [](const troupe::Message& m, const troupe::Responder& r) {
    auto args = m.body_as<std::tuple<int>>();
    r.reply(std::get<0>(args.value()) * 2);
  });
  p.server.start();
  p.client.start();
  auto st = p.client.client().call(p.server.io().endpoint(), "twice", call_frames("twice", 21), {2s, false});
  REQUIRE(st->wait(3s));
  REQUIRE(st->result().ok());
  CHECK(st->result().value().body_as<int>().value() == 42);

  auto unknown = p.client.client().call(p.server.io().endpoint(), "nope", call_frames("nope", 1), {2s, false});
  REQUIRE(unknown->wait(3s));
  CHECK(unknown->result().error().code == Errc::unknown_method);
  CHECK(p.server.server().stats().unknown_method.load() == 1);
}

TEST_CASE("a full queue answers overloaded instead of growing") {
  Pair p("inproc://overload-test", /*max_queue=*/2);
  std::promise<void> started, release;
  auto gate = release.get_future().share();
  std::atomic<int> runs{0};
  p.server.server().add("block", [&, gate](const troupe::Message&, const troupe::Responder& r) {
    if (runs++ == 0) started.set_value();
    gate.wait();
    r.reply(1);
  });
  p.server.start();
  // inproc needs one context: these calls go out of the server runtime's own DEALER.
  troupe::Runtime& c = p.server;
  auto call = [&](int i) { return c.client().call("inproc://overload-test", "block", call_frames("block", i), {5s, false}); };
  auto first = call(0);
  started.get_future().wait();  // the first call is running: the queue is empty
  std::vector<std::shared_ptr<troupe::CallState>> calls;
  for (int i = 1; i <= 5; ++i) calls.push_back(call(i));
  // Two wait in the queue; the other three are refused at once.
  for (int i = 2; i < 5; ++i) {
    REQUIRE(calls[i]->wait(3s));
    CHECK(calls[i]->result().error().code == Errc::overloaded);
  }
  CHECK(p.server.server().stats().overloaded.load() == 3);
  release.set_value();
  REQUIRE(first->wait(3s));
  CHECK(first->result().ok());
  for (int i = 0; i < 2; ++i) {
    REQUIRE(calls[i]->wait(3s));
    CHECK(calls[i]->result().ok());
  }
  CHECK(runs.load() == 3);
}

TEST_CASE("a call whose deadline passes fails with Timeout and a late reply is ignored") {
  Pair p("tcp://127.0.0.1:*");
  std::promise<void> release;
  auto gate = release.get_future().share();
  p.server.server().add("slow", [gate](const troupe::Message&, const troupe::Responder& r) {
    gate.wait();
    r.reply(1);
  });
  p.server.start();
  p.client.start();
  auto st = p.client.client().call(p.server.io().endpoint(), "slow", call_frames("slow", 0), {50ms, false});
  REQUIRE(st->wait(3s));
  CHECK(st->result().error().code == Errc::timeout);
  release.set_value();
  auto again = p.client.client().call(p.server.io().endpoint(), "slow", call_frames("slow", 0), {3s, false});
  REQUIRE(again->wait(4s));
  CHECK(again->result().ok());
}

TEST_CASE("a call from an incarnation known to be replaced is fenced off") {
  Pair p("tcp://127.0.0.1:*");
  int runs = 0;
  p.server.server().add("count", [&](const troupe::Message&, const troupe::Responder& r) { r.reply(++runs); });
  p.server.start();
  p.client.start();
  // The server's process hears that actor 9 incarnation 0 died and is restarting.
  troupe::Event died;
  died.topic = "actor";
  died.actor = 9;
  died.state = troupe::ActorState::restarting;
  died.incarnation = 0;
  troupe::Header eh;
  eh.kind = troupe::Kind::event;
  eh.method = "actor";
  std::promise<void> heard;
  p.server.io().post([&] {
    p.server.client().handle_event(troupe::encode(eh, died));
    heard.set_value();
  });
  heard.get_future().wait();

  auto send_as = [&](uint32_t incarnation) {
    zmq::context_t ctx;
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::rcvtimeo, 3000);
    // A member of the cluster (the test run's keys), sending by hand.
    troupe::secure_client(s, p.server.keys(), p.server.io().endpoint());
    s.connect(p.server.io().endpoint());
    troupe::Header h;
    h.call_id = 1;
    h.method = "count";
    h.sender_id = 9;
    h.sender_incarnation = incarnation;
    auto frames = troupe::encode(h, std::make_tuple(0));
    zmq::send_multipart(s, frames);
    troupe::Frames reply;
    REQUIRE(zmq::recv_multipart(s, std::back_inserter(reply)));
    auto msg = troupe::decode(std::move(reply));
    REQUIRE(msg.ok());
    return msg->header().kind == troupe::Kind::error ? msg->body_as<troupe::Error>()->code : Errc::ok;
  };
  CHECK(send_as(0) == Errc::stale_incarnation);  // the dead incarnation: fenced
  CHECK(runs == 0);
  CHECK(p.server.server().stats().stale_rejected.load() == 1);
  CHECK(send_as(1) == Errc::ok);  // its successor is served
  CHECK(runs == 1);
}

// Callers send from their own thread when the I/O thread sleeps (try_run) and
// receive their replies themselves while they wait (drive): many threads at
// once must still each get their own answers, in their order.
TEST_CASE("callers on several threads, sending and receiving themselves, get their own replies in order") {
  Pair p("tcp://127.0.0.1:*", /*max_queue=*/1000);
  std::mutex mutex;
  std::map<int, std::vector<int>> seen;  // caller -> sequence numbers in arrival order
  p.server.server().add("echo", [&](const troupe::Message& m, const troupe::Responder& r) {
    auto args = m.body_as<std::tuple<int>>();
    const int x = std::get<0>(args.value());
    {
      std::lock_guard lock(mutex);
      seen[x / 100000].push_back(x % 100000);
    }
    r.reply(x);
  });
  p.server.start();
  p.client.start();
  constexpr int kThreads = 4, kCalls = 300;
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        const int x = t * 100000 + i;
        // Every third call pipelines two, the others wait for each reply.
        auto st = p.client.client().call(p.server.io().endpoint(), "echo", call_frames("echo", x), {5s, false});
        std::shared_ptr<troupe::CallState> second;
        if (i % 3 == 0 && i + 1 < kCalls) {
          ++i;
          second = p.client.client().call(p.server.io().endpoint(), "echo", call_frames("echo", x + 1), {5s, false});
        }
        auto check = [&](const std::shared_ptr<troupe::CallState>& s, int expected) {
          if (!s->wait(6s) || !s->result().ok())
            ++failed;
          else if (s->result().value().body_as<int>().value() != expected)
            ++wrong;
        };
        check(st, x);
        if (second) check(second, x + 1);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failed.load() == 0);
  CHECK(wrong.load() == 0);
  std::lock_guard lock(mutex);
  REQUIRE(seen.size() == kThreads);
  for (auto& [caller, order] : seen) {
    CHECK(order.size() == kCalls);
    CHECK(std::is_sorted(order.begin(), order.end()));
  }
}

TEST_CASE("a waiter that receives for itself still honours its timeout and then callbacks still run") {
  Pair p("tcp://127.0.0.1:*");
  std::promise<void> release;
  auto gate = release.get_future().share();
  p.server.server().add("slow", [gate](const troupe::Message&, const troupe::Responder& r) {
    gate.wait();
    r.reply(7);
  });
  p.server.start();
  p.client.start();
  auto st = p.client.client().call(p.server.io().endpoint(), "slow", call_frames("slow", 0), {5s, false});
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(st->wait(100ms));
  const auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(waited >= 100ms);
  CHECK(waited < 2s);
  std::promise<int> called;
  st->add_callback([&](const troupe::Result<troupe::Message>& r) { called.set_value(r.value().body_as<int>().value()); });
  release.set_value();
  REQUIRE(st->wait(4s));
  auto value = called.get_future();
  REQUIRE(value.wait_for(3s) == std::future_status::ready);
  CHECK(value.get() == 7);
}

TEST_CASE("a timer that a handler adds fires without other traffic to wake the I/O thread") {
  Pair p("tcp://127.0.0.1:*");
  // Runs on the I/O thread and answers from a timer (as the scheduler's
  // restart backoff starts an actor later): the thread must not go back to
  // sleep on a timeout it took before the handler ran.
  p.server.server().add(
      "later",
      [&](const troupe::Message&, const troupe::Responder& r) {
        p.server.io().post_after(20ms, [r] { r.reply(7); });
      },
      false);
  p.server.start();
  p.client.start();
  auto st = p.client.client().call(p.server.io().endpoint(), "later", call_frames("later", 1), {10s, false});
  // Nothing else reaches the server meanwhile: only the timer can answer.
  REQUIRE(st->wait(5s));
  REQUIRE(st->result().ok());
  CHECK(st->result().value().body_as<int>().value() == 7);
}

namespace {

/// A header map packed by hand, so that it can be as wrong as a foreign peer makes it.
std::string raw_header(const std::vector<std::pair<std::string, msgpack::object>>& keys) {
  msgpack::sbuffer b;
  msgpack::packer<msgpack::sbuffer> pk(b);
  pk.pack_map(static_cast<uint32_t>(keys.size()));
  for (const auto& [k, v] : keys) {
    pk.pack(k);
    pk.pack(v);
  }
  return {b.data(), b.size()};
}

}  // namespace

TEST_CASE("a header with a bad version, kind, id or a key twice is answered with an error naming it") {
  Pair p("tcp://127.0.0.1:*");
  p.server.server().add("twice", [](const troupe::Message& m, const troupe::Responder& r) {
    r.reply(std::get<0>(m.body_as<std::tuple<int>>().value()) * 2);
  });
  p.server.start();
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  troupe::secure_client(s, p.server.keys(), p.server.io().endpoint());  // a member of the cluster, by hand
  s.connect(p.server.io().endpoint());
  const std::string body = "\x91\x05";  // [5]
  auto send = [&](const std::string& header) {
    s.send(zmq::buffer(header), zmq::send_flags::sndmore);
    s.send(zmq::buffer(body), zmq::send_flags::none);
  };
  auto next = [&]() -> troupe::Message {
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    REQUIRE(zmq::poll(&item, 1, 5s) == 1);
    troupe::Frames frames;
    (void)zmq::recv_multipart(s, std::back_inserter(frames));
    auto m = troupe::decode(std::move(frames));
    REQUIRE(m.ok());
    return std::move(m.value());
  };
  using O = msgpack::object;
  const char* twice = "twice";  // a const char* packs as a str without a zone
  struct Case {
    std::string header;
    uint64_t id;
    std::string says;
  };
  const std::vector<Case> cases = {
      {raw_header({{"v", O(2)}, {"k", O(0)}, {"id", O(11)}, {"m", O(twice)}}), 11, "unsupported protocol version 2"},
      {raw_header({{"v", O(1)}, {"k", O(9)}, {"id", O(12)}, {"m", O(twice)}}), 12, "unknown kind 9"},
      {raw_header({{"v", O(1)}, {"k", O(0)}, {"id", O(-3)}, {"m", O(twice)}}), 0, "\"id\" must be an unsigned integer"},
      {raw_header({{"v", O(1)}, {"k", O(0)}, {"id", O(14)}, {"id", O(15)}, {"m", O(twice)}}), 14,
       "\"id\" appears twice"},
      {raw_header({{"v", O(1)}, {"id", O(16)}, {"m", O(twice)}}), 16, "no \"k\""},
      {raw_header({{"k", O(0)}, {"id", O(17)}, {"m", O(twice)}}), 17, "no \"v\""},
      {raw_header({{"v", O(1)}, {"k", O(4)}, {"id", O(18)}, {"m", O(twice)}}), 18, "kind control (k = 4) is reserved"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.says);
    send(c.header);
    auto m = next();
    CHECK(m.header().kind == troupe::Kind::error);
    CHECK(m.header().call_id == c.id);
    auto e = m.body_as<troupe::Error>();
    REQUIRE(e.ok());
    CHECK(e->code == troupe::Errc::malformed_message);
    CHECK(e->message.find(c.says) != std::string::npos);
  }
  // Garbage, and a bad header that says it is a reply (k = 1), get no answer: the
  // next answer is the one to a good call sent after them.
  send("\xc1\xc1");
  send(raw_header({{"v", O(2)}, {"k", O(1)}, {"id", O(19)}}));
  send(raw_header({{"v", O(1)}, {"k", O(0)}, {"id", O(20)}, {"m", O(twice)}}));
  auto good = next();
  CHECK(good.header().kind == troupe::Kind::reply);
  CHECK(good.header().call_id == 20);
  CHECK(good.body_as<int>().value() == 10);
  CHECK(p.server.server().stats().malformed.load() == cases.size() + 2);
}
