// Liveness of outbound peers (io_peers.cpp): a caller and a server Runtime in
// one process over tcp; the server goes away, or the address never answers.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <mutex>
#include <optional>

#include "runtime/runtime.hpp"

using namespace std::chrono_literals;
using troupe::Errc;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kHeartbeat = 200ms;
// Scheduling noise on a loaded 2-core machine (see tests/fail_fast.test.cpp).
constexpr auto kMargin = 500ms;

troupe::Frames frames_for(const std::string& method) {
  troupe::Header h;
  h.method = method;
  return troupe::encode(h, std::make_tuple(21));
}

std::unique_ptr<troupe::Runtime> caller() {
  troupe::Runtime::Options o;
  o.heartbeat = kHeartbeat;
  auto rt = std::make_unique<troupe::Runtime>(o);
  rt->start();
  return rt;
}

/// A server answering "twice" and holding "hold" calls unanswered.
struct Holder {
  explicit Holder(const std::string& bind) : rt(troupe::Runtime::Options{.bind = bind}) {
    rt.server().add("twice", [](const troupe::Message& m, const troupe::Responder& r) {
      r.reply(std::get<0>(m.body_as<std::tuple<int>>().value()) * 2);
    }, false);
    rt.server().add("hold", [this](const troupe::Message&, const troupe::Responder& r) {
      std::lock_guard lock(mutex);
      held.push_back(r);
      if (held.size() == 1) got.set_value();
    }, false);
    rt.start();
  }
  troupe::Runtime rt;
  std::mutex mutex;
  std::vector<troupe::Responder> held;
  std::promise<void> got;
};

/// Waits at most 10 s for the call to end; milliseconds since `since`.
int64_t finish(const std::shared_ptr<troupe::CallState>& st, Clock::time_point since) {
  REQUIRE(st->wait(10s));
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

}  // namespace

TEST_CASE("a call in flight to a server that goes away fails with connection_lost, and one after it is back succeeds") {
  auto server = std::make_unique<Holder>("tcp://127.0.0.1:*");
  const std::string endpoint = server->rt.io().endpoint();
  auto client = caller();
  auto held = client->client().call(endpoint, "hold", frames_for("hold"), {30s, false});
  REQUIRE(server->got.get_future().wait_for(10s) == std::future_status::ready);

  auto t = Clock::now();
  server.reset();  // its sockets close: the kernel ends the connection
  const auto ms = finish(held, t);
  const auto& r = held->result();
  MESSAGE("in flight to a closed server: " << ms << " ms");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::connection_lost);
  CHECK(r.error().message.find("hold") != std::string::npos);
  CHECK(ms <= (2 * kHeartbeat + kMargin).count());

  // Nobody listens now: refused connections until the deadline of 2 heartbeats.
  t = Clock::now();
  auto refused = client->client().call(endpoint, "twice", frames_for("twice"), {30s, false});
  const auto ms2 = finish(refused, t);
  const auto& r2 = refused->result();
  MESSAGE("with nobody listening: " << ms2 << " ms");
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().code == Errc::connection_lost);
  CHECK(ms2 >= (2 * kHeartbeat).count() - 50);
  CHECK(ms2 <= (2 * kHeartbeat + kMargin).count());
  CHECK(client->client().stats().calls_lost.load() == 2);

  // Back on the same port: the same client's next call is served.
  Holder again(endpoint);
  auto served = client->client().call(endpoint, "twice", frames_for("twice"), {10s, false});
  finish(served, Clock::now());
  const auto& r3 = served->result();
  REQUIRE(r3.ok());
  CHECK(r3.value().body_as<int>().value() == 42);
}

TEST_CASE("an address that accepts tcp but never completes a handshake is lost after two heartbeats") {
  // A listening socket nobody accepts from: the kernel completes tcp
  // connections, as it does for a frozen (SIGSTOPped) process.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(fd, 16) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

  auto client = caller();
  const auto t = Clock::now();
  auto st = client->client().call(endpoint, "twice", frames_for("twice"), {30s, false});
  const auto ms = finish(st, t);
  const auto& r = st->result();
  MESSAGE("silent listener: " << ms << " ms");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::connection_lost);
  CHECK(r.error().message.find("did not accept a connection") != std::string::npos);
  CHECK(ms <= (2 * kHeartbeat + kMargin).count());
  close(fd);
}

TEST_CASE("a call's own shorter timeout still wins over the liveness bound") {
  auto client = caller();
  Holder server("tcp://127.0.0.1:*");
  const auto t = Clock::now();
  auto st = client->client().call(server.rt.io().endpoint(), "hold", frames_for("hold"), {100ms, false});
  const auto ms = finish(st, t);
  const auto& r = st->result();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::timeout);  // the server is alive: its heartbeats are answered
  CHECK(ms < (2 * kHeartbeat).count());
}
