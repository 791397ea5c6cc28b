#pragma once
// ActorHandle<T>: a copyable value naming an actor; call its methods with
// handle.call(&T::method, args…) → Future<R>. Handles can be passed as
// arguments to other actors (they travel as [id, name, retryable methods]).
#include <chrono>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "runtime/deferred.hpp"
#include "runtime/future.hpp"
#include "runtime/registry.hpp"
#include "runtime/runtime.hpp"

namespace troupe {

namespace detail {

/// Converts the reply of a call into Future<R>; conversion runs on the I/O thread.
template <class R>
Future<R> typed_future(const std::shared_ptr<CallState>& call) {
  auto out = std::make_shared<SharedState<R>>();
  out->on_abandon = call->on_abandon;
  out->driver = call->driver;
  call->add_callback([out](const Result<Message>& r) {
    if (!r.ok()) {
      out->set(r.error());
    } else if constexpr (std::is_void_v<R>) {
      out->set(Result<void>());
    } else {
      out->set(r.value().template body_as<R>());
    }
  });
  return Future<R>(out);
}

/// Sends `method(args…)` to actor `id` through this process's runtime.
template <class R, class... P, class... A>
Future<R> call_actor(ActorId id, const std::string& method, const CallOptions& options, A&&... args) {
  Runtime* rt = Runtime::current();
  if (rt == nullptr) return Future<R>::ready_with(Error(Errc::connection_lost, "no cluster in this process"));
  Frames frames;
  try {
    Header h;
    h.method = method;
    frames = encode(std::move(h), std::tuple<std::decay_t<P>...>(std::forward<A>(args)...));
  } catch (const std::exception& e) {
    return Future<R>::ready_with(Error(Errc::bad_arguments, method + ": cannot encode arguments: " + e.what()));
  }
  return typed_future<R>(rt->client().call_actor(id, method, std::move(frames), options));
}

}  // namespace detail

/// Thread-safety: a handle is an immutable value; call() is thread-safe.
template <class T>
class ActorHandle {
 public:
  ActorHandle() = default;
  ActorHandle(ActorId id, std::string name, std::vector<std::string> retryable = {})
      : id_(id), name_(std::move(name)), retryable_(std::move(retryable)) {}

  [[nodiscard]] ActorId id() const { return id_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] bool valid() const { return id_ != 0; }
  /// A copy whose calls fail with Errc::timeout when no reply comes in `t`.
  [[nodiscard]] ActorHandle with_timeout(std::chrono::milliseconds t) const {
    ActorHandle h = *this;
    h.timeout_ = t;
    return h;
  }

  /// Calls a method registered with TROUPE_ACTOR.
  template <class R, class... P, class... A>
  Future<detail::reply_t<R>> call(R (T::*m)(P...), A&&... args) const { return call_ptr<R, P...>(m, std::forward<A>(args)...); }
  template <class R, class... P, class... A>
  Future<detail::reply_t<R>> call(R (T::*m)(P...) const, A&&... args) const { return call_ptr<R, P...>(m, std::forward<A>(args)...); }
  template <class R, class... P, class... A>
  Future<detail::reply_t<R>> call(R (T::*m)(P...) noexcept, A&&... args) const { return call_ptr<R, P...>(m, std::forward<A>(args)...); }
  template <class R, class... P, class... A>
  Future<detail::reply_t<R>> call(R (T::*m)(P...) const noexcept, A&&... args) const { return call_ptr<R, P...>(m, std::forward<A>(args)...); }

  /// Calls a method by name with arguments packed as given (no compile-time check).
  template <class R, class... A>
  Future<R> call_named(const std::string& method, A&&... args) const {
    return detail::call_actor<R, std::decay_t<A>...>(id_, method, options_for(method), std::forward<A>(args)...);
  }

  MSGPACK_DEFINE(id_, name_, retryable_);

 private:
  template <class R, class... P, class M, class... A>
  Future<detail::reply_t<R>> call_ptr(M m, A&&... args) const {
    static_assert(sizeof...(P) == sizeof...(A), "wrong number of arguments for this method");
    const std::string* name = method_name(m);
    if (name == nullptr)
      return Future<detail::reply_t<R>>::ready_with(
          Error(Errc::unknown_method, "method not registered with TROUPE_ACTOR for this class"));
    return detail::call_actor<detail::reply_t<R>, P...>(id_, *name, options_for(*name), std::forward<A>(args)...);
  }
  template <class M>
  static const std::string* method_name(M m) {
    const ClassInfo* info = Registry::instance().find(typeid(T));
    if (info == nullptr) return nullptr;
    const std::string key = detail::member_key(m);
    for (const auto& method : info->methods)
      if (method.key == key) return &method.name;
    return nullptr;
  }
  [[nodiscard]] CallOptions options_for(const std::string& method) const {
    CallOptions o;
    o.timeout = timeout_;
    for (const auto& r : retryable_)
      if (r == method) o.retryable = true;
    return o;
  }

  ActorId id_ = 0;
  std::string name_;
  std::vector<std::string> retryable_;
  std::chrono::milliseconds timeout_{-1};
};

}  // namespace troupe
