#pragma once
// Errors are values at every API and actor boundary (DESIGN §8): an Errc code,
// a message, and for ActorDied the cause of death.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include <msgpack.hpp>

namespace troupe {

/// Error codes; every value is documented because callers branch on them.
enum class Errc : uint8_t {
  ok = 0,
  actor_died = 1,         ///< the actor's incarnation exited; Error::exit_code/signal say how
  timeout = 2,            ///< a deadline passed before the reply came
  bad_arguments = 3,      ///< argument count or types do not match the method
  remote_error = 4,       ///< the method threw; message holds the exception text
  connection_lost = 5,    ///< the peer or the scheduler cannot be reached
  unknown_method = 6,     ///< the actor class has no method of that name
  malformed_message = 7,  ///< a frame failed validation (DESIGN §2)
  message_too_large = 8,  ///< over the configured maximum size
  overloaded = 9,         ///< the receiver's bounded queue is full; try later
  not_found = 10,         ///< no actor, node or class of that name/id; or no such thing to give (a version, an epoch, a split)
  stale_incarnation = 11, ///< the message was addressed to an older incarnation, or came from one that is fenced off
  unavailable = 12,       ///< no resources fit, or the cluster is shutting down
  invalid_argument = 13,  ///< a caller-side misuse (bad option, bad config value)
  io_error = 14,          ///< a file or system call failed
  permission_denied = 15, ///< the sender holds the cluster's key but not the capability token the message needs (a node's, an actor start's or a job's)
};

/// Short stable name of a code, e.g. "actor_died".
std::string_view errc_name(Errc code);

/// An error value. Copyable; safe to share between threads once built.
struct Error {
  Errc code = Errc::ok;
  std::string message;
  int exit_code = 0;  ///< actor_died: the process exit code (when it exited)
  int signal = 0;     ///< actor_died: the signal that killed it (0 if none)

  Error() = default;
  Error(Errc c, std::string msg) : code(c), message(std::move(msg)) {}

  /// "actor_died: Counter#3 killed by signal 9 (SIGKILL)".
  [[nodiscard]] std::string to_string() const;

  MSGPACK_DEFINE(code, message, exit_code, signal);
};

/// Thrown by Future::get(); carries the Error value.
class Exception : public std::runtime_error {
 public:
  explicit Exception(Error e) : std::runtime_error(e.to_string()), error_(std::move(e)) {}
  [[nodiscard]] const Error& error() const { return error_; }
  [[nodiscard]] Errc code() const { return error_.code; }

 private:
  Error error_;
};

/// A value or an Error (std::expected is C++23; this is the small subset we need).
template <class T>
class Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) requires(!std::is_same_v<T, Error>)  // NOLINT
      : v_(std::in_place_index<1>, std::move(error)) {}
  /// A failed Result; the only way to build one when T is Error itself
  /// (Result<Error> holds an Error *value*, e.g. a decoded error reply).
  static Result failed(Error error) { return Result(FailTag{}, std::move(error)); }
  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  [[nodiscard]] T& value() & { check(); return std::get<0>(v_); }
  [[nodiscard]] const T& value() const& { check(); return std::get<0>(v_); }
  [[nodiscard]] T&& value() && { check(); return std::get<0>(std::move(v_)); }
  [[nodiscard]] const Error& error() const { return std::get<1>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  struct FailTag {};
  Result(FailTag, Error error) : v_(std::in_place_index<1>, std::move(error)) {}
  void check() const {
    if (v_.index() != 0) throw Exception(std::get<1>(v_));
  }
  std::variant<T, Error> v_;
};

/// Result for operations with no value.
template <>
class Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT
  [[nodiscard]] bool ok() const { return error_.code == Errc::ok; }
  explicit operator bool() const { return ok(); }
  void value() const {
    if (!ok()) throw Exception(error_);
  }
  [[nodiscard]] const Error& error() const { return error_; }

 private:
  Error error_;
};

}  // namespace troupe

MSGPACK_ADD_ENUM(troupe::Errc);
