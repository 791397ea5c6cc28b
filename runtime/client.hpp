#pragma once
// The calling side of a process: sends calls to endpoints and to actors,
// matches replies to futures, follows the scheduler's events to learn where
// actors live and when an incarnation died (DESIGN §4). All bookkeeping lives
// on the I/O thread; the public entry points post to it.
//
// Failing fast (docs/FAULTS.md): when the I/O thread loses a peer (its
// connection closed, it missed heartbeats, or it did not accept a connection
// in time), calls in flight to a fixed endpoint (scheduler, worker) fail at
// once with connection_lost. Calls in flight to an actor wait a bounded time
// for the scheduler's verdict (its RESTARTING or DEAD event: actor_died, or a
// resend for retryable methods), then fail with connection_lost and forget
// where the actor was, so that the next call looks it up again.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/codec.hpp"
#include "runtime/control.hpp"
#include "runtime/future.hpp"
#include "runtime/io_thread.hpp"

namespace troupe {

/// Who is sending: an actor's id and incarnation, or {0, 0} for drivers and tools.
struct Identity {
  ActorId actor = 0;
  Incarnation incarnation = 0;
};

/// Per-call options.
struct CallOptions {
  std::chrono::milliseconds timeout{-1};  ///< deadline for the reply; negative: none
  bool retryable = false;  ///< resend to the next incarnation if this one dies
};

using CallState = detail::SharedState<Message>;

/// Counters of the calling side; relaxed reads from any thread.
struct ClientStats {
  std::atomic<uint64_t> calls_sent{0};
  std::atomic<uint64_t> calls_resent{0};
  std::atomic<uint64_t> replies_unmatched{0};  ///< late replies of forgotten calls
  std::atomic<uint64_t> events{0};
  std::atomic<uint64_t> calls_lost{0};  ///< failed because their peer was lost (connection_lost)
};

class Client {
 public:
  Client(IoThread& io, std::string scheduler_endpoint, Identity self);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Sends a call to a fixed endpoint (scheduler, worker). `frames` come from an
  /// Encoder; their header frame is rewritten with the call id. Thread-safe.
  std::shared_ptr<CallState> call(const std::string& endpoint, const std::string& method, Frames frames,
                                  CallOptions options = {});
  /// Sends a call to an actor wherever it lives now; waits for it to be ALIVE
  /// if it is pending or restarting. Thread-safe.
  std::shared_ptr<CallState> call_actor(ActorId actor, const std::string& method, Frames frames,
                                        CallOptions options = {});
  /// Typed call to the scheduler. Thread-safe.
  template <class T>
  std::shared_ptr<CallState> call_scheduler(const std::string& method, const T& body,
                                            std::chrono::milliseconds timeout) {
    Header h;
    h.method = method;
    return call(scheduler_, method, encode(std::move(h), body), CallOptions{timeout, false});
  }
  /// Blocking typed call: the reply converted to T, or the error. No reply by
  /// `timeout` is Errc::connection_lost ("METHOD: ENDPOINT did not answer
  /// within N ms"). Thread-safe; never from the I/O thread (it would wait on itself).
  template <class T>
  Result<T> ask(const std::string& endpoint, const std::string& method, const auto& body,
                std::chrono::milliseconds timeout) {
    Header h;
    h.method = method;
    auto st = call(endpoint, method, encode(std::move(h), body), CallOptions{timeout, false});
    const bool answered = st->wait(timeout + std::chrono::milliseconds(200));
    if (!answered || (!st->result().ok() && st->result().error().code == Errc::timeout))
      return Error(Errc::connection_lost, method + ": " + endpoint + " did not answer within " +
                                              std::to_string(timeout.count()) + " ms");
    const auto& r = st->result();
    if (!r.ok()) return r.error();
    if constexpr (std::is_void_v<T>)
      return Result<void>();
    else
      return r.value().template body_as<T>();
  }
  /// Runs fn on the I/O thread for every scheduler event. Must not block. Thread-safe.
  void add_event_listener(std::function<void(const Event&)> fn);
  /// Decides whether this process may call other actors now (the serving
  /// lease, runtime/lease.hpp): an error fails the call at once with it.
  /// Calls to the scheduler and workers are not gated. Not thread-safe: set before start.
  void set_gate(std::function<std::optional<Error>()> gate) { gate_ = std::move(gate); }
  /// How long calls in flight to an actor whose connection was lost wait for
  /// the scheduler to report the death before failing with connection_lost.
  /// Thread-safe (takes effect for later losses).
  void set_death_wait(std::chrono::milliseconds wait) { death_wait_ms_.store(wait.count()); }
  [[nodiscard]] std::chrono::milliseconds death_wait() const {
    return std::chrono::milliseconds(death_wait_ms_.load());
  }

  [[nodiscard]] const std::string& scheduler() const { return scheduler_; }
  [[nodiscard]] const Identity& self() const { return self_; }
  [[nodiscard]] const ClientStats& stats() const { return stats_; }

  // ---- I/O thread only ----
  /// True when a newer incarnation of `actor` than `incarnation` is known, or
  /// `incarnation` is known to have died.
  [[nodiscard]] bool is_replaced(ActorId actor, Incarnation incarnation) const;
  void handle_reply(const std::string& endpoint, Frames&& frames);
  void handle_event(Frames&& frames);
  /// The I/O thread lost its DEALER to `endpoint` (IoThread::on_peer_lost).
  void handle_peer_lost(const std::string& endpoint, const std::string& why);

 private:
  struct Pending {
    std::shared_ptr<CallState> state;
    std::string method;
    std::string endpoint;  // where it went; empty while waiting for the actor
    ActorId actor = 0;
    Incarnation incarnation = 0;
    bool retryable = false;
    bool peer_lost = false;  // its connection was lost; waiting for the scheduler's verdict
    int64_t deadline_ms = 0;
    Frames frames;  // kept for resending (copies share the buffers)
  };
  struct Location {
    ActorState state = ActorState::pending;
    Incarnation incarnation = 0;
    std::string endpoint;
    Error death;
    bool resolving = false;
    std::vector<uint64_t> waiting;  // call ids waiting for the actor to be ALIVE
  };

  std::shared_ptr<CallState> submit(Pending p, const std::string& method, Frames frames, const CallOptions& options);
  void register_call(uint64_t id, Pending p);
  void send_pending(uint64_t id);
  void dispatch_actor_call(uint64_t id);
  void resolve(ActorId actor);
  void on_actor_info(ActorId actor, const Result<Message>& r);
  void apply_state(ActorId actor, ActorState state, Incarnation inc, const std::string& endpoint, const Error& death);
  void complete(uint64_t id, Result<Message> r);
  void arm_deadline(uint64_t id, int64_t deadline_ms);
  void end_death_wait(const std::string& endpoint, const std::string& why, const std::vector<uint64_t>& calls,
                      const std::vector<ActorId>& actors);

  IoThread& io_;
  std::string scheduler_;
  Identity self_;
  std::atomic<uint64_t> next_id_{1};
  std::unordered_map<uint64_t, Pending> pending_;
  std::unordered_map<ActorId, Location> locations_;
  std::vector<std::function<void(const Event&)>> listeners_;
  std::function<std::optional<Error>()> gate_;
  ClientStats stats_;
  std::atomic<int64_t> death_wait_ms_{4250};  // 5/4 of the default node timeout + the default heartbeat
};

/// The header frame alone for `h` (used when a header changes after encoding).
zmq::message_t header_frame(const Header& h);

}  // namespace troupe
