#pragma once
// The actor registry: classes and their methods by name, filled by
// TROUPE_ACTOR at static-initialisation time — in the driver and, from the
// same source built into a shared library, in the actor process that loads it
// with --code-path (as Ray's C++ API does).
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeindex>
#include <utility>
#include <vector>

#include "runtime/codec.hpp"
#include "runtime/deferred.hpp"
#include "runtime/server.hpp"

namespace troupe {

/// One registered actor class.
struct ClassInfo {
  std::string name;
  std::type_index type = typeid(void);
  /// Builds an instance from a msgpack array of constructor arguments.
  std::function<Result<std::shared_ptr<void>>(const msgpack::object& args)> construct;
  struct Method {
    std::string name;
    std::string key;  ///< the member pointer's bytes, to find the name from &T::m
    std::function<void(void* self, const Message& call, const Responder& responder)> invoke;
  };
  std::vector<Method> methods;
  std::string library;  ///< the shared object that registered it ("" if the executable)

  [[nodiscard]] const Method* method(std::string_view n) const;
  [[nodiscard]] std::string method_list() const;  ///< "add, value"
};

/// Process-wide table of actor classes. Thread-safe.
class Registry {
 public:
  static Registry& instance();
  void add(ClassInfo info);
  /// nullptr when no class of that name (or type) was registered.
  [[nodiscard]] const ClassInfo* find(std::string_view name) const;
  [[nodiscard]] const ClassInfo* find(std::type_index type) const;
  [[nodiscard]] std::vector<std::string> names() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<ClassInfo>> classes_;  // stable addresses
};

namespace detail {

/// The bytes of a member pointer: equal pointers have equal bytes for the
/// non-virtual member functions TROUPE_ACTOR registers (Itanium C++ ABI).
template <class M>
std::string member_key(M m) {
  std::string k(sizeof(M), '\0');
  std::memcpy(k.data(), &m, sizeof(M));
  return k;
}

/// Converts to any constructor parameter type but T itself (so copy and move
/// constructors never match): lets the registry find T's constructor arity.
template <class T>
struct CtorArg {
  const msgpack::object* o;
  template <class U, class = std::enable_if_t<!std::is_same_v<std::decay_t<U>, T>>>
  operator U() const {  // NOLINT: implicit by design
    return o->as<U>();
  }
};

template <class T, std::size_t... I>
constexpr bool constructible_with(std::index_sequence<I...>) {
  return std::is_constructible_v<T, decltype((void)I, CtorArg<T>{})...>;
}

template <class T, std::size_t... I>
std::shared_ptr<void> construct_with(const msgpack::object* args, std::index_sequence<I...>) {
  return std::make_shared<T>(CtorArg<T>{&args[I]}...);
}

constexpr std::size_t kMaxCtorArgs = 8;

template <class T, std::size_t N = 0>
Result<std::shared_ptr<void>> construct_n(const msgpack::object* args, std::size_t n, std::string& arities) {
  if constexpr (N > kMaxCtorArgs) {
    return Error(Errc::bad_arguments, "no constructor taking " + std::to_string(n) + " argument(s)" +
                                          (arities.empty() ? std::string() : "; it takes " + arities));
  } else {
    if constexpr (constructible_with<T>(std::make_index_sequence<N>{})) {
      if (n == N) return construct_with<T>(args, std::make_index_sequence<N>{});
      arities += (arities.empty() ? "" : " or ") + std::to_string(N);
    }
    return construct_n<T, N + 1>(args, n, arities);
  }
}

template <class T>
Result<std::shared_ptr<void>> construct(const msgpack::object& args) {
  if (args.type != msgpack::type::ARRAY) return Error(Errc::bad_arguments, "constructor arguments must be an array");
  std::string arities;
  try {
    return construct_n<T>(args.via.array.ptr, args.via.array.size, arities);
  } catch (const msgpack::type_error&) {
    return Error(Errc::bad_arguments, "a constructor argument has the wrong type");
  }
}

template <class Tuple, std::size_t... I>
Result<void> convert_args(const msgpack::object& body, Tuple& args, std::index_sequence<I...>) {
  Result<void> r;
  auto one = [&](auto& slot, std::size_t i) {
    if (!r.ok()) return;
    try {
      body.via.array.ptr[i].convert(slot);
    } catch (const std::exception& e) {
      r = Error(Errc::bad_arguments, "argument " + std::to_string(i + 1) + " has the wrong type (" + e.what() + ")");
    }
  };
  (one(std::get<I>(args), I), ...);
  (void)one;  // a method without arguments: the fold above is empty
  return r;
}

/// Decodes the call's arguments, runs the method, replies with its value.
template <class T, class R, class... P, class M>
void invoke_method(M method, const char* name, void* self, const Message& call, const Responder& responder) {
  const msgpack::object& body = call.body();
  if (body.type != msgpack::type::ARRAY) {
    responder.fail(Error(Errc::bad_arguments, std::string(name) + ": arguments must be a msgpack array"));
    return;
  }
  if (body.via.array.size != sizeof...(P)) {
    responder.fail(Error(Errc::bad_arguments, std::string(name) + " takes " + std::to_string(sizeof...(P)) +
                                                  " argument(s), got " + std::to_string(body.via.array.size)));
    return;
  }
  std::tuple<std::decay_t<P>...> args;
  {
    MessageScope scope(&call);  // tensors in the arguments view the call's frames
    auto ok = convert_args(body, args, std::index_sequence_for<P...>{});
    if (!ok.ok()) {
      Error e = ok.error();
      e.message = std::string(name) + ": " + e.message;
      responder.fail(e);
      return;
    }
  }
  T* obj = static_cast<T*>(self);
  std::apply(
      [&](auto&... a) {
        if constexpr (std::is_void_v<R>) {
          (obj->*method)(std::forward<P>(a)...);
          responder.reply(msgpack::type::nil_t());
        } else if constexpr (is_deferred_v<std::decay_t<R>>) {
          // The reply goes out whenever (and on whichever thread) it is resolved.
          (obj->*method)(std::forward<P>(a)...).on_done([responder](const auto& r) {
            if (r.ok())
              responder.reply(r.value());
            else
              responder.fail(r.error());
          });
        } else {
          responder.reply((obj->*method)(std::forward<P>(a)...));
        }
      },
      args);
}

/// Fluent registration used by TROUPE_ACTOR.
template <class T>
class ActorRegistrar {
 public:
  explicit ActorRegistrar(const char* name) {
    info_.name = name;
    info_.type = typeid(T);
    info_.construct = &construct<T>;
  }
  template <class R, class... P>
  ActorRegistrar& method(const char* name, R (T::*m)(P...)) { return add<R, P...>(name, m); }
  template <class R, class... P>
  ActorRegistrar& method(const char* name, R (T::*m)(P...) const) { return add<R, P...>(name, m); }
  template <class R, class... P>
  ActorRegistrar& method(const char* name, R (T::*m)(P...) noexcept) { return add<R, P...>(name, m); }
  template <class R, class... P>
  ActorRegistrar& method(const char* name, R (T::*m)(P...) const noexcept) { return add<R, P...>(name, m); }
  bool done(const void* anchor);

 private:
  template <class R, class... P, class M>
  ActorRegistrar& add(const char* name, M m) {
    info_.methods.push_back({name, member_key(m), [m, name](void* self, const Message& call, const Responder& r) {
                               invoke_method<T, R, P...>(m, name, self, call, r);
                             }});
    return *this;
  }
  ClassInfo info_;
};

/// Path of the shared object holding `anchor`, "" for the main executable.
std::string library_of(const void* anchor);

template <class T>
bool ActorRegistrar<T>::done(const void* anchor) {
  info_.library = library_of(anchor);
  Registry::instance().add(std::move(info_));
  return true;
}

}  // namespace detail
}  // namespace troupe

#define TROUPE_DETAIL_CAT2(a, b) a##b
#define TROUPE_DETAIL_CAT(a, b) TROUPE_DETAIL_CAT2(a, b)
#define TROUPE_DETAIL_PARENS ()
#define TROUPE_DETAIL_EXPAND(...) TROUPE_DETAIL_EXPAND3(TROUPE_DETAIL_EXPAND3(TROUPE_DETAIL_EXPAND3(__VA_ARGS__)))
#define TROUPE_DETAIL_EXPAND3(...) TROUPE_DETAIL_EXPAND2(TROUPE_DETAIL_EXPAND2(TROUPE_DETAIL_EXPAND2(__VA_ARGS__)))
#define TROUPE_DETAIL_EXPAND2(...) TROUPE_DETAIL_EXPAND1(TROUPE_DETAIL_EXPAND1(TROUPE_DETAIL_EXPAND1(__VA_ARGS__)))
#define TROUPE_DETAIL_EXPAND1(...) __VA_ARGS__
#define TROUPE_DETAIL_FOR_EACH(cls, ...) __VA_OPT__(TROUPE_DETAIL_EXPAND(TROUPE_DETAIL_FOR_EACH_HELPER(cls, __VA_ARGS__)))
#define TROUPE_DETAIL_FOR_EACH_HELPER(cls, m, ...) \
  .method(#m, &cls::m) __VA_OPT__(TROUPE_DETAIL_FOR_EACH_AGAIN TROUPE_DETAIL_PARENS(cls, __VA_ARGS__))
#define TROUPE_DETAIL_FOR_EACH_AGAIN() TROUPE_DETAIL_FOR_EACH_HELPER

/// Registers an actor class and the methods callable on it by name:
///   TROUPE_ACTOR(Counter, add, value);
/// At namespace scope, once per class, in a source file of the driver or of the
/// actor library. Methods must not be overloaded.
#define TROUPE_ACTOR(cls, ...)                                                             \
  namespace {                                                                              \
  [[maybe_unused]] const bool TROUPE_DETAIL_CAT(troupe_actor_registered_, __COUNTER__) =   \
      ::troupe::detail::ActorRegistrar<cls>(#cls) TROUPE_DETAIL_FOR_EACH(cls, __VA_ARGS__) \
          .done(reinterpret_cast<const void*>(+[] {}));                                      \
  }
