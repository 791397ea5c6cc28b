#pragma once
// The thread that runs an actor's methods, one at a time, in arrival order.
// Its queue is bounded: when full, try_post() refuses, and the caller gets an
// `overloaded` error instead of the process growing without limit.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <thread>

#include "runtime/mpsc_queue.hpp"

namespace troupe {

class Executor {
 public:
  /// Starts the thread. `max_queue` bounds the tasks waiting (not running).
  explicit Executor(std::size_t max_queue);
  /// Runs what is queued, then joins.
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  /// Queues fn; false when the queue is full or the executor stopped. Thread-safe.
  bool try_post(std::function<void()> fn);
  /// Stops taking tasks; runs those queued; joins. Idempotent; not from the executor thread.
  void stop();
  /// Tasks waiting now. Thread-safe.
  [[nodiscard]] std::size_t queue_depth() const { return waiting_.load(std::memory_order_relaxed); }
  [[nodiscard]] bool in_executor() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  void run();
  std::size_t run_queued();
  std::size_t max_queue_;
  MpscQueue queue_;
  std::atomic<std::size_t> waiting_{0};
  // 32 bits: libstdc++ waits on it with a futex directly (a bool goes through a shared proxy).
  std::atomic<uint32_t> sleeping_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace troupe
