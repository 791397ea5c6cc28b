#pragma once
// The serving side of a process: validates inbound calls on the I/O thread
// (codec, fencing, deadline, method lookup), queues them to the executor, and
// sends replies. A bad message never takes the process down: it gets an error
// reply when it can be answered, and is counted either way.
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/client.hpp"
#include "runtime/codec.hpp"
#include "runtime/executor.hpp"
#include "runtime/io_thread.hpp"

namespace troupe {

/// Answers one call. Copyable; reply()/fail() may be called from any thread,
/// once (later calls are ignored by the caller, which matched the first).
class Responder {
 public:
  Responder(IoThread* io, std::string routing, uint64_t call_id, Identity self)
      : io_(io), routing_(std::move(routing)), call_id_(call_id), self_(self) {}
  /// Encodes `value` as the reply body (on this thread) and sends it.
  template <class T>
  void reply(const T& value) const {
    send(encode(reply_header(Kind::reply), value));
  }
  /// Sends an error reply.
  void fail(const Error& e) const { send(encode(reply_header(Kind::error), e)); }
  /// Sends pre-encoded frames (header frame is replaced).
  void send(Frames frames) const;
  [[nodiscard]] uint64_t call_id() const { return call_id_; }

 private:
  [[nodiscard]] Header reply_header(Kind k) const;
  IoThread* io_;
  std::string routing_;
  uint64_t call_id_;
  Identity self_;
};

/// A method: takes the decoded call, answers through the Responder (now or later).
using Handler = std::function<void(const Message& call, const Responder& responder)>;

/// Counters of the serving side; relaxed reads from any thread.
struct ServerStats {
  std::atomic<uint64_t> calls_served{0};
  std::atomic<uint64_t> malformed{0};          ///< failed decoding (answered or dropped)
  std::atomic<uint64_t> stale_rejected{0};     ///< addressed to another incarnation (fenced)
  std::atomic<uint64_t> unknown_method{0};
  std::atomic<uint64_t> overloaded{0};         ///< refused because the queue was full
  std::atomic<uint64_t> expired{0};            ///< deadline passed before it could run
  std::atomic<uint64_t> dropped{0};            ///< not a call, no way to answer
  std::atomic<uint64_t> refused{0};            ///< refused by the gate (lease expired)
};

class Server {
 public:
  /// `executor` runs the handlers registered with on_executor = true.
  Server(IoThread& io, Executor& executor, Identity self, Limits limits = {});

  /// Registers a method. on_executor: run on the executor thread (actor methods,
  /// scheduler control); else inline on the I/O thread (must not block).
  /// Not thread-safe: register before the I/O thread starts.
  void add(const std::string& method, Handler handler, bool on_executor = true);
  /// The identity calls must carry to pass fencing; changes only before start.
  void set_identity(Identity self) { self_ = self; }
  /// Decides whether a call's sender (actor id, incarnation) has been replaced
  /// by a newer incarnation; such calls are fenced off like stale targets.
  /// Runs on the I/O thread. Not thread-safe: set before start.
  void set_sender_check(std::function<bool(ActorId, Incarnation)> is_stale) { sender_stale_ = std::move(is_stale); }
  /// Decides, just before each call runs, whether this process may serve it
  /// (the serving lease, runtime/lease.hpp); an error refuses the call with it.
  /// Not thread-safe: set before start.
  void set_gate(std::function<std::optional<Error>()> gate) { gate_ = std::move(gate); }
  /// A sentence listing the methods, for unknown-method errors.
  void set_description(std::string what) { what_ = std::move(what); }
  [[nodiscard]] const ServerStats& stats() const { return stats_; }

  /// I/O thread entry point for the ROUTER.
  void handle_request(std::string routing, Frames&& frames);

 private:
  struct Entry {
    Handler handler;
    bool on_executor;
  };
  IoThread& io_;
  Executor& executor_;
  Identity self_;
  Limits limits_;
  std::string what_ = "this process";
  std::unordered_map<std::string, Entry> methods_;
  std::function<bool(ActorId, Incarnation)> sender_stale_;
  std::function<std::optional<Error>()> gate_;
  ServerStats stats_;
};

}  // namespace troupe
