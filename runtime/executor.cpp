#include "runtime/executor.hpp"

#include <cstdio>
#include <exception>

namespace troupe {

Executor::Executor(std::size_t max_queue) : max_queue_(max_queue), thread_([this] { run(); }) {}

Executor::~Executor() { stop(); }

bool Executor::try_post(std::function<void()> fn) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= max_queue_) return false;
    queue_.push_back(std::move(fn));
  }
  cv_.notify_one();
  return true;
}

void Executor::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && !in_executor()) thread_.join();
}

std::size_t Executor::queue_depth() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void Executor::run() {
  for (;;) {
    std::function<void()> fn;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      fn = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      fn();
    } catch (const std::exception& e) {
      // Tasks report their own errors; this is the last line of defence.
      std::fprintf(stderr, "troupe: uncaught exception in executor task: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "troupe: uncaught non-standard exception in executor task\n");
    }
  }
}

}  // namespace troupe
