#pragma once
// A test actor whose reply comes later (troupe::Deferred): get(n) answers once
// put() has raised the value to n — from the executor (put) or from a
// background thread (put_later).
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/actor_context.hpp"
#include "runtime/deferred.hpp"

struct Mailbox {
  troupe::Deferred<int> get(int at_least) {
    std::lock_guard lock(mutex_);
    troupe::Deferred<int> d;
    if (value_ >= at_least)
      d.resolve(value_);
    else
      waiting_.push_back({at_least, d});
    return d;
  }
  troupe::Deferred<int> refuse() {
    troupe::Deferred<int> d;
    d.fail(troupe::Error(troupe::Errc::invalid_argument, "no, thanks"));
    return d;
  }
  int put(int v) {
    set(v);
    return v;
  }
  /// Sets the value from a background thread after `ms`.
  int put_later(int v, int ms) {
    troupe::this_actor().run_background([this, v, ms](std::stop_token) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      set(v);
    });
    return v;
  }

 private:
  void set(int v) {
    std::lock_guard lock(mutex_);
    value_ = v;
    std::erase_if(waiting_, [&](auto& w) {
      if (value_ < w.first) return false;
      w.second.resolve(value_);
      return true;
    });
  }
  std::mutex mutex_;
  int value_ = 0;
  std::vector<std::pair<int, troupe::Deferred<int>>> waiting_;
};
