// Client and Server in one process over inproc and tcp: no scheduler needed.
#include "runtime/server.hpp"

#include <doctest/doctest.h>

#include <future>

#include "runtime/runtime.hpp"

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
