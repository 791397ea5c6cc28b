// IoThread on its own, in one process over inproc:// (io_fixture.test.hpp):
// the order of posted work, wake-ups of the sleeping loop, timers, try_run,
// drive, and what stop() does with work still pending. Each assertion holds
// however the threads are scheduled; waits end on the event they wait for.
#include "runtime/io_thread.hpp"

#include <doctest/doctest.h>
#include <sys/eventfd.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "runtime/future.hpp"
#include "runtime/io_fixture.test.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using troupe::Frames;
using troupe::IoThread;
using namespace troupe::testing;

namespace {

std::shared_ptr<zmq::context_t> context() { return std::make_shared<zmq::context_t>(1); }

/// Two IoThreads on one context: `server` binds inproc://io-test and answers
/// each request with its own frames; `client` counts and keeps the replies.
struct Echo {
  Echo() : ctx(context()), server(make_io(ctx, "inproc://io-test")), client(make_io(ctx)) {
    server->on_request([this](std::string routing, Frames&& frames) { server->reply_to(routing, frames); });
  }
  std::shared_ptr<zmq::context_t> ctx;
  std::shared_ptr<IoThread> server;
  std::shared_ptr<IoThread> client;
};

}  // namespace

TEST_CASE("posted functions run on the I/O thread, each producer's in the order it posted them") {
  auto io = make_io(context());
  io->start();
  constexpr int kProducers = 4;
  constexpr int kEach = 500;
  std::vector<std::vector<int>> seen(kProducers);  // touched on the I/O thread only
  std::atomic<int> off_thread{0};
  std::atomic<int> left{kProducers * kEach};
  std::promise<void> done;
  {
    std::vector<std::jthread> producers;
    for (int p = 0; p < kProducers; ++p)
      producers.emplace_back([&, p] {
        for (int i = 0; i < kEach; ++i)
          io->post([&, p, i] {
            if (!io->in_io_thread()) ++off_thread;
            seen[p].push_back(i);
            if (--left == 0) done.set_value();
          });
      });
  }
  REQUIRE(ready(done.get_future()));
  CHECK(off_thread.load() == 0);
  for (int p = 0; p < kProducers; ++p) {
    REQUIRE(seen[p].size() == kEach);
    for (int i = 0; i < kEach; ++i) REQUIRE(seen[p][i] == i);
  }
}

TEST_CASE("a post from another thread wakes the loop that sleeps in poll without a timeout") {
  // No sockets, no timers: the loop sleeps in poll(2) with no timeout, so
  // only the eventfd that post() writes can make it run the function.
  auto io = make_io(context());
  io->start();
  on_io(*io, [] {});  // the loop has run once and goes back to sleep
  for (int round = 0; round < 20; ++round) {
    std::promise<Clock::time_point> ran;
    const auto posted = Clock::now();
    std::jthread([&] { io->post([&] { ran.set_value(Clock::now()); }); });
    auto f = ran.get_future();
    REQUIRE(ready(f));
    if (round == 19) MESSAGE("post to run: " << std::chrono::duration_cast<std::chrono::microseconds>(f.get() - posted).count() << " µs");
  }
}

TEST_CASE("timers: equal delays fire in the order added, a shorter one before a longer earlier one") {
  auto io = make_io(context());
  io->start();
  std::vector<char> order;  // I/O thread only
  std::promise<void> done;
  on_io(*io, [&] {
    io->post_after(1h, [&] { order.push_back('x'); });  // not due while the test runs
    for (char c : {'a', 'b', 'c'}) io->post_after(5ms, [&, c] { order.push_back(c); });
    io->post_after(5ms, [&] { done.set_value(); });
  });
  REQUIRE(ready(done.get_future()));
  CHECK(on_io(*io, [&] { return std::string(order.begin(), order.end()); }) == "abc");
}

TEST_CASE("a timer added from inside a request handler fires though the loop had no timer before") {
  // The loop computes its poll timeout after the handlers ran: a timeout
  // taken before them (none: sleep forever) would never wake for this timer.
  Echo e;
  std::promise<std::thread::id> fired;
  e.server->on_request([&](std::string, Frames&&) {
    e.server->post_after(1ms, [&] { fired.set_value(std::this_thread::get_id()); });
  });
  e.server->start();
  e.client->start();
  on_io(*e.client, [&] {
    Frames f = call_frames("tick", 1);
    CHECK(e.client->send_to("inproc://io-test", f));
  });
  auto f = fired.get_future();
  REQUIRE(ready(f));
  CHECK(f.get() == io_thread_id(*e.server));
}

TEST_CASE("a timer added inside try_run from another thread wakes the sleeping loop") {
  // try_run succeeds only while the I/O thread sleeps; leave() then sees a
  // timer earlier than the one the loop sleeps for (none) and wakes it.
  auto io = make_io(context());
  io->start();
  std::promise<std::thread::id> fired;
  bool added = false;
  const auto give_up = Clock::now() + kGuard;
  // Until the loop is in poll(2) (it has nothing to do, so it gets there):
  // a retry on a condition, not a wait for time to pass.
  while (!added && Clock::now() < give_up) {
    added = io->try_run([&] {
      CHECK(io->in_io_thread());
      io->post_after(1ms, [&] { fired.set_value(std::this_thread::get_id()); });
    });
    if (!added) std::this_thread::yield();
  }
  REQUIRE(added);
  CHECK_FALSE(io->in_io_thread());
  auto f = fired.get_future();
  REQUIRE(ready(f));
  const auto on = f.get();
  CHECK(on != std::this_thread::get_id());  // timers run on the I/O thread only
  CHECK(on == io_thread_id(*io));
}

TEST_CASE("try_run refuses before start, while the I/O thread is busy (posting keeps the order) and after stop") {
  auto io = make_io(context());
  bool called = false;
  CHECK_FALSE(io->try_run([&] { called = true; }));  // not started: nothing owns the sockets yet
  CHECK_FALSE(called);
  io->start();

  // On the I/O thread itself it runs inline.
  CHECK(on_io(*io, [&] { return io->try_run([&] { called = true; }); }));
  CHECK(called);

  std::vector<char> order;  // I/O thread only
  std::latch running(1), release(1);
  io->post([&] {
    order.push_back('a');
    running.count_down();
    release.wait();
  });
  running.wait();
  // The I/O thread runs 'a' and so holds the sockets: the caller must post.
  called = false;
  CHECK_FALSE(io->try_run([&] { called = true; }));
  CHECK_FALSE(called);
  io->post([&] { order.push_back('b'); });
  release.count_down();
  CHECK(on_io(*io, [&] { return std::string(order.begin(), order.end()); }) == "ab");

  io->stop();
  CHECK_FALSE(io->try_run([&] { called = true; }));
  CHECK_FALSE(called);
}

TEST_CASE("replies come back to the DEALER in the order its requests were sent") {
  Echo e;
  constexpr int kCalls = 300;
  std::vector<int> got;  // client I/O thread only
  std::promise<void> all;
  e.client->on_reply([&](const std::string& endpoint, Frames&& frames) {
    CHECK(endpoint == "inproc://io-test");
    got.push_back(int_of(std::move(frames)));
    if (got.size() == kCalls) all.set_value();
  });
  e.server->start();
  e.client->start();
  for (int i = 0; i < kCalls; ++i)
    e.client->post([&, i] {
      Frames f = call_frames("echo", i);
      CHECK(e.client->send_to("inproc://io-test", f));
    });
  REQUIRE(ready(all.get_future()));
  for (int i = 0; i < kCalls; ++i) REQUIRE(got[i] == i);
  CHECK(e.server->stats().messages_in.load() == kCalls);
  CHECK(e.client->stats().messages_in.load() == kCalls);
}

TEST_CASE("drive: a thread waiting for a reply is completed by the reply, received by itself or by the I/O thread") {
  // Whichever of the two takes the sockets first receives the reply (see
  // io_thread.hpp); either way the handler runs on one of them, once, and
  // the waiter returns when its state completes.
  Echo e;
  using State = troupe::detail::SharedState<int>;
  std::shared_ptr<State> state;  // the call in flight; set and read under the sockets' ownership
  std::thread::id handled_on;
  e.client->on_reply([&](const std::string&, Frames&& frames) {
    handled_on = std::this_thread::get_id();
    state->set(int_of(std::move(frames)));
  });
  e.server->start();
  e.client->start();
  const auto io_id = io_thread_id(*e.client);
  const std::weak_ptr<IoThread> weak = e.client;
  int by_waiter = 0;
  int by_io = 0;
  for (int i = 0; i < 100; ++i) {
    auto st = std::make_shared<State>();
    st->driver = [weak](Clock::time_point deadline, const std::function<bool(int)>& arm) {
      return IoThread::drive(weak, deadline, arm);
    };
    auto send = [&, st, i] {
      state = st;
      Frames f = call_frames("echo", i);
      CHECK(e.client->send_to("inproc://io-test", f));
    };
    if (!e.client->try_run(send)) e.client->post(send);
    REQUIRE(st->wait(kGuard));
    REQUIRE(st->result().value() == i);
    // The handler ran before set() returned on its thread: read it there.
    const auto on = on_io(*e.client, [&] { return handled_on; });
    if (on == std::this_thread::get_id())
      ++by_waiter;
    else
      REQUIRE(on == io_id);
    by_io += on == io_id;
  }
  CHECK(by_waiter + by_io == 100);
  MESSAGE("replies received by the waiter: " << by_waiter << ", by the I/O thread: " << by_io);
}

TEST_CASE("drive does not wait on the I/O thread, and a waiter whose IoThread is gone is still woken by its state") {
  auto io = make_io(context());
  io->start();
  const std::weak_ptr<IoThread> weak = io;
  bool armed = false;
  CHECK_FALSE(on_io(*io, [&] {
    return IoThread::drive(weak, Clock::now() + 1h, [&](int) { return armed = true; });
  }));
  CHECK_FALSE(armed);  // it returned before looking: the I/O thread must never block

  // The IoThread goes; the waiter polls only its own eventfd, which the
  // completing side writes (SharedState::set does so for a driven wait).
  io.reset();
  std::atomic<int> fd{-1};
  std::atomic<bool> complete{false};
  std::latch armed_once(1);
  std::jthread completer([&] {
    armed_once.wait();
    complete = true;
    eventfd_write(fd.load(), 1);
  });
  const bool done = IoThread::drive(weak, Clock::now() + kGuard, [&](int waiter_fd) {
    if (complete.load()) return true;
    if (fd.exchange(waiter_fd) == -1) armed_once.count_down();
    return false;
  });
  CHECK(done);
}

TEST_CASE("stop with work pending: posted work and timers not yet due are dropped unrun and freed with the IoThread") {
  auto io = make_io(context());
  io->start();
  auto token = std::make_shared<int>(0);
  const std::weak_ptr<int> watch = token;
  std::atomic<bool> ran{false};
  std::promise<void> stopped;
  io->post([&, token]() mutable {
    io->post([&, t = token] { ran = true; });
    io->post_after(1h, [&, t = token] { ran = true; });
    token.reset();
    io->stop();  // on the I/O thread: marks it stopping and returns; the loop ends after this pass
    stopped.set_value();
  });
  token.reset();
  REQUIRE(ready(stopped.get_future()));
  io->stop();  // joins
  io->post([&] { ran = true; });  // after stop: queued, never run
  CHECK_FALSE(ran.load());
  CHECK_FALSE(watch.expired());  // the dropped functions still hold it ...
  io.reset();
  CHECK(watch.expired());  // ... until the IoThread is destroyed
  CHECK_FALSE(ran.load());
}
