#pragma once
// Deferred<T>: an actor method's reply that comes later. A method declared
//   troupe::Deferred<Weights> pull(int64_t min_version);
// returns at once (the executor moves on to the next call) and the caller's
// Future<Weights> completes when some thread resolves the Deferred — the way a
// parameter server answers a long-poll pull once the version exists.
#include <memory>
#include <utility>

#include "runtime/future.hpp"

namespace troupe {

/// A reply promised by an actor method. Copyable (copies share one state);
/// resolve()/fail() are thread-safe and only the first of them counts. A
/// Deferred dropped without being resolved leaves the caller to its timeout.
template <class T>
class Deferred {
 public:
  Deferred() : state_(std::make_shared<detail::SharedState<T>>()) {}
  /// A Deferred that is already resolved (a method that can answer at once).
  static Deferred ready(T value) {
    Deferred d;
    d.resolve(std::move(value));
    return d;
  }
  /// Sends `value` as the reply; false when already resolved or failed.
  bool resolve(T value) const { return state_->set(Result<T>(std::move(value))); }
  /// Sends `e` as an error reply; false when already resolved or failed.
  bool fail(Error e) const { return state_->set(Result<T>::failed(std::move(e))); }
  /// True once resolved or failed.
  [[nodiscard]] bool done() const { return state_->ready(); }
  /// Runs cb(result) once resolved (the registry sends the reply from it).
  void on_done(std::function<void(const Result<T>&)> cb) const { state_->add_callback(std::move(cb)); }

 private:
  std::shared_ptr<detail::SharedState<T>> state_;
};

namespace detail {
/// What a caller receives for a method returning R: R itself, or T for Deferred<T>.
template <class R>
struct reply_type {
  using type = std::decay_t<R>;
};
template <class T>
struct reply_type<Deferred<T>> {
  using type = T;
};
template <class R>
using reply_t = typename reply_type<std::decay_t<R>>::type;

template <class R>
inline constexpr bool is_deferred_v = false;
template <class T>
inline constexpr bool is_deferred_v<Deferred<T>> = true;
}  // namespace detail

}  // namespace troupe
