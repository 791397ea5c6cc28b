#pragma once
// Test-only fixture for the in-process tests of io_thread, executor, client
// and registry: IoThreads that share one ZeroMQ context and talk over inproc:// (no
// keys, no ports, no other process), and waits that end when the awaited
// thing happens. kGuard bounds every wait only so that a broken build fails
// instead of hanging; no test sleeps to let something happen.
#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>

#include <zmq.hpp>

#include "runtime/client.hpp"
#include "runtime/codec.hpp"
#include "runtime/executor.hpp"
#include "runtime/io_thread.hpp"
#include "runtime/server.hpp"

namespace troupe::testing {

/// Failure guard for waits that should end promptly; generous for a loaded
/// 2-core machine, never reached when the code works.
inline constexpr std::chrono::seconds kGuard{10};

/// An IoThread on `context`, bound to `bind` (an inproc:// name, or empty for
/// none). No heartbeats: inproc has no connection to lose, and a test must
/// not depend on liveness timers. Not started.
inline std::shared_ptr<IoThread> make_io(const std::shared_ptr<zmq::context_t>& context, std::string bind = {}) {
  IoThread::Options o;
  o.bind = std::move(bind);
  o.heartbeat = std::chrono::milliseconds(0);
  return std::make_shared<IoThread>(context, std::move(o));
}

/// True when `f` became ready within kGuard.
template <class T>
bool ready(const std::future<T>& f) {
  return f.wait_for(kGuard) == std::future_status::ready;
}

/// Runs fn on io's thread (which must be running), waits for it, returns its result.
template <class F>
auto on_io(IoThread& io, F fn) {
  using R = std::invoke_result_t<F&>;
  auto done = std::make_shared<std::promise<R>>();
  auto result = done->get_future();
  io.post([done, fn = std::move(fn)]() mutable {
    if constexpr (std::is_void_v<R>) {
      fn();
      done->set_value();
    } else {
      done->set_value(fn());
    }
  });
  REQUIRE(ready(result));
  return result.get();
}

/// The id of io's thread.
inline std::thread::id io_thread_id(IoThread& io) {
  return on_io(io, [] { return std::this_thread::get_id(); });
}

/// A call's frames: a header naming `method`, and the body (x).
inline Frames call_frames(const std::string& method, int x) {
  Header h;
  h.method = method;
  return encode(std::move(h), std::make_tuple(x));
}

/// The int that call_frames() put in `frames` (the header frame first); -1
/// when unreadable. CHECK, not REQUIRE: it runs on the I/O thread, where a
/// throwing assertion would end the process instead of the test case.
inline int int_of(Frames&& frames) {
  auto m = decode(std::move(frames));
  CHECK(m.ok());
  if (!m.ok()) return -1;
  auto body = m->body_as<std::tuple<int>>();
  CHECK(body.ok());
  return body.ok() ? std::get<0>(body.value()) : -1;
}

/// A Server (its IoThread bound to `endpoint`, its Executor) and a Client on
/// an IoThread of its own, on one context, wired as Runtime wires them but
/// without keys or a scheduler. Register methods on `server`, then start()
/// (Server::add is not thread-safe once the I/O thread runs).
struct ServedPair {
  explicit ServedPair(std::string endpoint_, Identity self = {})
      : endpoint(std::move(endpoint_)),
        ctx(std::make_shared<zmq::context_t>(1)),
        server_io(make_io(ctx, endpoint)),
        executor(64),
        server(*server_io, executor, self),
        io(make_io(ctx)),
        client(*io, "inproc://no-scheduler", Identity{}) {
    server_io->on_request([this](std::string routing, Frames&& f) { server.handle_request(std::move(routing), std::move(f)); });
    io->on_reply([this](const std::string& ep, Frames&& f) { client.handle_reply(ep, std::move(f)); });
    io->on_event([this](Frames&& f) { client.handle_event(std::move(f)); });
    io->on_peer_lost([this](const std::string& ep, const std::string& why) { client.handle_peer_lost(ep, why); });
  }
  ~ServedPair() {
    // As Runtime::stop: the executor first, its tasks may still send replies.
    executor.stop();
    io->stop();
    server_io->stop();
  }
  void start() {
    server_io->start();
    io->start();
  }
  /// A call to the server, its completion waited for (at most kGuard).
  std::shared_ptr<CallState> call(const std::string& method, Frames frames) {
    auto st = client.call(endpoint, method, std::move(frames), {kGuard, false});
    REQUIRE(st->wait(kGuard));
    return st;
  }

  std::string endpoint;
  std::shared_ptr<zmq::context_t> ctx;
  std::shared_ptr<IoThread> server_io;
  Executor executor;
  Server server;
  std::shared_ptr<IoThread> io;
  Client client;
};

}  // namespace troupe::testing
