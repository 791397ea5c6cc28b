// Executor on its own: the order of tasks, wake-ups of the sleeping thread,
// the bounded queue, and what stop() and the destructor do with queued tasks.
// Waits end on the event they wait for (io_fixture.test.hpp's kGuard bounds them).
#include "runtime/executor.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <latch>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "runtime/io_fixture.test.hpp"

using troupe::Executor;
using troupe::testing::ready;

TEST_CASE("tasks run one at a time on the executor thread, each producer's in the order it posted them") {
  Executor ex(100000);
  constexpr int kProducers = 4;
  constexpr int kEach = 1000;
  std::vector<std::vector<int>> seen(kProducers);  // executor thread only
  std::atomic<int> running{0};
  std::atomic<int> overlapped{0};
  std::atomic<int> off_thread{0};
  std::atomic<int> left{kProducers * kEach};
  std::promise<void> done;
  {
    std::vector<std::jthread> producers;
    for (int p = 0; p < kProducers; ++p)
      producers.emplace_back([&, p] {
        for (int i = 0; i < kEach; ++i)
          CHECK(ex.try_post([&, p, i] {
            if (running++ != 0) ++overlapped;
            if (!ex.in_executor()) ++off_thread;
            seen[p].push_back(i);
            --running;
            if (--left == 0) done.set_value();
          }));
      });
  }
  REQUIRE(ready(done.get_future()));
  CHECK(overlapped.load() == 0);
  CHECK(off_thread.load() == 0);
  for (int p = 0; p < kProducers; ++p) {
    REQUIRE(seen[p].size() == kEach);
    for (int i = 0; i < kEach; ++i) REQUIRE(seen[p][i] == i);
  }
  CHECK(ex.queue_depth() == 0);
}

TEST_CASE("a post from another thread wakes the executor sleeping on an empty queue") {
  Executor ex(16);
  for (int round = 0; round < 50; ++round) {
    // Each round finds the thread idle (asleep, or about to be): only the
    // post's notify can make it run the task.
    std::promise<void> ran;
    std::jthread([&] { CHECK(ex.try_post([&] { ran.set_value(); })); });
    REQUIRE(ready(ran.get_future()));
  }
}

TEST_CASE("a full queue refuses tasks until the running one lets the queue drain") {
  constexpr std::size_t kMax = 3;
  Executor ex(kMax);
  std::latch running(1), release(1);
  REQUIRE(ex.try_post([&] {
    running.count_down();
    release.wait();
  }));
  running.wait();  // taken off the queue: it no longer counts
  std::atomic<int> ran{0};
  for (std::size_t i = 0; i < kMax; ++i) REQUIRE(ex.try_post([&] { ++ran; }));
  CHECK(ex.queue_depth() == kMax);
  CHECK_FALSE(ex.try_post([&] { ran += 100; }));  // refused: the caller answers `overloaded`
  release.count_down();
  std::promise<void> after;
  // Posting succeeds again once the queue has room (the first waiter was taken).
  while (!ex.try_post([&] { after.set_value(); })) std::this_thread::yield();
  REQUIRE(ready(after.get_future()));
  CHECK(ran.load() == static_cast<int>(kMax));
}

TEST_CASE("stop with tasks queued runs them, then refuses new ones") {
  Executor ex(16);
  std::latch queued(1);
  std::vector<char> order;  // executor thread only, read after the join
  REQUIRE(ex.try_post([&] {
    queued.wait();
    order.push_back('a');
    // From the executor thread stop() marks it stopping without joining
    // itself: 'b' and 'c', queued before, still run.
    ex.stop();
  }));
  REQUIRE(ex.try_post([&] { order.push_back('b'); }));
  REQUIRE(ex.try_post([&] { order.push_back('c'); }));
  queued.count_down();
  ex.stop();  // joins
  CHECK(std::string(order.begin(), order.end()) == "abc");
  CHECK_FALSE(ex.try_post([&] { order.push_back('d'); }));
  CHECK(ex.queue_depth() == 0);
}

TEST_CASE("the destructor runs what was queued; a task that throws does not stop the executor") {
  std::atomic<int> ran{0};
  {
    Executor ex(16);
    std::latch release(1);
    REQUIRE(ex.try_post([&] { release.wait(); }));
    REQUIRE(ex.try_post([] { throw std::runtime_error("a task's own error (expected in this test's output)"); }));
    REQUIRE(ex.try_post([&] { ++ran; }));
    release.count_down();
  }  // ~Executor: stop() and join
  CHECK(ran.load() == 1);
}
