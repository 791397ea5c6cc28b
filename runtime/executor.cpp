#include "runtime/executor.hpp"

#include <cstdio>
#include <exception>

namespace troupe {

Executor::Executor(std::size_t max_queue) : max_queue_(max_queue), thread_([this] { run(); }) {}

Executor::~Executor() { stop(); }

bool Executor::try_post(std::function<void()> fn) {
  if (stopping_.load()) return false;
  if (waiting_.fetch_add(1) >= max_queue_) {
    waiting_.fetch_sub(1);
    return false;
  }
  queue_.push(std::move(fn));
  // Wake the thread only if it went to sleep: no syscall while it is busy.
  if (sleeping_.exchange(0)) sleeping_.notify_one();
  return true;
}

void Executor::stop() {
  stopping_.store(true);
  if (sleeping_.exchange(0)) sleeping_.notify_one();
  if (thread_.joinable() && !in_executor()) thread_.join();
}

std::size_t Executor::run_queued() {
  return queue_.drain([this](std::function<void()>& fn) {
    waiting_.fetch_sub(1);
    try {
      fn();
    } catch (const std::exception& e) {
      // Tasks report their own errors; this is the last line of defence.
      std::fprintf(stderr, "troupe: uncaught exception in executor task: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "troupe: uncaught non-standard exception in executor task\n");
    }
  });
}

void Executor::run() {
  for (;;) {
    if (run_queued() != 0) continue;
    if (stopping_.load()) {
      run_queued();  // what was queued before stop() still runs
      return;
    }
    // Announce sleep, then look once more: a producer that pushed before the
    // announcement is seen here; one that pushes after it flips the flag and
    // wakes us (wait returns at once if the flag is no longer true).
    sleeping_.store(1);
    if (!queue_.empty() || stopping_.load()) {
      sleeping_.store(0);
      continue;
    }
    sleeping_.wait(1);
  }
}

}  // namespace troupe
