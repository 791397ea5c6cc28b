#pragma once
// Future<T>: the result of an asynchronous call. get() waits (with or without a
// timeout) and throws troupe::Exception carrying the typed Error; result()
// returns Result<T> instead of throwing; then() chains work on completion.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include <sys/eventfd.h>

#include "runtime/error.hpp"

namespace troupe {

namespace detail {

/// The state shared by a Future and whoever completes it. Thread-safe.
template <class T>
class SharedState {
 public:
  using Callback = std::function<void(const Result<T>&)>;

  /// Completes the state; false (and nothing happens) when already complete.
  bool set(Result<T> r) {
    std::vector<Callback> callbacks;
    int fd = -1;
    {
      std::lock_guard lock(mutex_);
      if (result_) return false;
      result_.emplace(std::move(r));
      callbacks.swap(callbacks_);
      if (notify_thread_ != std::this_thread::get_id()) fd = notify_fd_;
    }
    cv_.notify_all();
    if (fd >= 0) eventfd_write(fd, 1);
    for (auto& cb : callbacks) cb(*result_);
    return true;
  }
  /// Runs cb on completion, on the completing thread (now, if already complete).
  void add_callback(Callback cb) {
    {
      std::lock_guard lock(mutex_);
      if (!result_) {
        callbacks_.push_back(std::move(cb));
        return;
      }
    }
    cb(*result_);
  }
  /// Waits; false on timeout. A negative timeout waits forever.
  bool wait(std::chrono::milliseconds timeout) {
    if (driver) {
      const auto deadline = timeout.count() < 0 ? std::chrono::steady_clock::time_point::max()
                                                : std::chrono::steady_clock::now() + timeout;
      auto arm = [this](int fd) {
        std::lock_guard lock(mutex_);
        if (result_) return true;
        notify_fd_ = fd;
        notify_thread_ = std::this_thread::get_id();
        return false;
      };
      const bool done = driver(deadline, arm);
      {
        std::lock_guard lock(mutex_);
        notify_fd_ = -1;
        notify_thread_ = {};
      }
      if (done) return true;
      if (timeout.count() >= 0) {
        timeout = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (timeout.count() < 0) timeout = std::chrono::milliseconds(0);
      }
    }
    std::unique_lock lock(mutex_);
    if (timeout.count() < 0) {
      cv_.wait(lock, [this] { return result_.has_value(); });
      return true;
    }
    return cv_.wait_for(lock, timeout, [this] { return result_.has_value(); });
  }
  [[nodiscard]] bool ready() const {
    std::lock_guard lock(mutex_);
    return result_.has_value();
  }
  /// Only after wait() returned true (the result never changes once set).
  [[nodiscard]] const Result<T>& result() const { return *result_; }

  /// Called when a waiter gives up (timeout), so the owner can forget the call.
  std::function<void()> on_abandon;
  /// Set by the runtime on the states of calls (IoThread::drive): wait() hands
  /// it the deadline and arm; arm(fd) returns true once complete, else has
  /// set() write the eventfd fd on completion. It returns true when complete,
  /// false to fall back to the condition variable (timeout, or not now).
  using Driver = std::function<bool(std::chrono::steady_clock::time_point, const std::function<bool(int)>&)>;
  Driver driver;

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<Result<T>> result_;
  std::vector<Callback> callbacks_;
  int notify_fd_ = -1;                // armed by a driving waiter
  std::thread::id notify_thread_;     // that waiter (which needs no eventfd write from itself)
};

}  // namespace detail

/// A value of type T that arrives later. Copyable (copies share the state);
/// all member functions are thread-safe.
template <class T>
class Future {
 public:
  using value_type = T;
  Future() = default;
  explicit Future(std::shared_ptr<detail::SharedState<T>> s) : state_(std::move(s)) {}

  /// A future that is already complete.
  static Future ready_with(Result<T> r) {
    auto s = std::make_shared<detail::SharedState<T>>();
    s->set(std::move(r));
    return Future(std::move(s));
  }

  /// Waits without limit; throws troupe::Exception on error.
  T get() const { return result(std::chrono::milliseconds(-1)).value(); }
  /// Waits up to `timeout`; throws troupe::Exception (Errc::timeout when it passes).
  T get(std::chrono::milliseconds timeout) const { return result(timeout).value(); }
  /// Waits up to `timeout` (negative: forever); the value or the Error.
  Result<T> result(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1)) const {
    if (!state_) return Error(Errc::invalid_argument, "empty future");
    if (!state_->wait(timeout)) {
      if (state_->on_abandon) state_->on_abandon();
      return Error(Errc::timeout, "no reply within " + std::to_string(timeout.count()) + " ms");
    }
    return state_->result();
  }
  /// True once the value or an error is there.
  [[nodiscard]] bool ready() const { return state_ && state_->ready(); }
  /// Waits up to `timeout`; true when ready.
  bool wait(std::chrono::milliseconds timeout) const { return state_ && state_->wait(timeout); }

  /// Future of f(value). f runs on the thread that completes this future (the
  /// I/O thread, or a thread waiting on a call's future, which receives
  /// replies while the I/O thread sleeps): keep it short and never block in it. Errors skip f and
  /// pass through; an exception thrown by f becomes Errc::remote_error.
  template <class F>
  auto then(F f) const {
    using U = std::conditional_t<std::is_void_v<T>, std::invoke_result<F>, std::invoke_result<F, const T&>>::type;
    auto next = std::make_shared<detail::SharedState<U>>();
    state_->add_callback([next, f = std::move(f)](const Result<T>& r) mutable {
      if (!r.ok()) {
        next->set(r.error());
        return;
      }
      try {
        if constexpr (std::is_void_v<T> && std::is_void_v<U>) {
          f();
          next->set(Result<void>());
        } else if constexpr (std::is_void_v<T>) {
          next->set(f());
        } else if constexpr (std::is_void_v<U>) {
          f(r.value());
          next->set(Result<void>());
        } else {
          next->set(f(r.value()));
        }
      } catch (const Exception& e) {
        next->set(e.error());
      } catch (const std::exception& e) {
        next->set(Error(Errc::remote_error, e.what()));
      }
    });
    return Future<U>(next);
  }

  /// The shared state (for the runtime's own plumbing).
  [[nodiscard]] const std::shared_ptr<detail::SharedState<T>>& state() const { return state_; }

 private:
  std::shared_ptr<detail::SharedState<T>> state_;
};

/// Waits until every future is ready or `timeout` passes (shared across all);
/// true when all are ready. Thread-safe.
template <class... Fs>
bool wait_all(std::chrono::milliseconds timeout, const Fs&... futures) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto one = [&](const auto& f) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return f.wait(std::max(left, std::chrono::milliseconds(0)));
  };
  return (one(futures) && ...);
}

/// wait_all over a vector of futures of one type.
template <class T>
bool wait_all(const std::vector<Future<T>>& futures, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const auto& f : futures) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!f.wait(std::max(left, std::chrono::milliseconds(0)))) return false;
  }
  return true;
}

}  // namespace troupe
