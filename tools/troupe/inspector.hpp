#pragma once
// A tool's connection to one scheduler (troupe status/list/get/kill/logs and
// troupe shell): every query blocks up to the configured timeout and returns
// its error as a value whose message is one line.
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "runtime/control.hpp"
#include "runtime/runtime.hpp"
#include "scheduler/actor_stats.hpp"

namespace troupe::cli {

/// Thread-safety: one thread at a time, except that the follow_events callback
/// runs on the I/O thread. The I/O thread never takes SIGINT/SIGTERM (they
/// are blocked in it), so the tool's main thread sees Ctrl-C.
class Inspector {
 public:
  /// Checks the address ("tcp://host:port", "ipc://path") and starts a
  /// calls-only runtime; connecting is lazy, so an absent scheduler shows up
  /// as connection_lost on the first query, not here.
  static Result<std::unique_ptr<Inspector>> open(std::string address, std::chrono::milliseconds timeout);
  ~Inspector();
  Inspector(const Inspector&) = delete;
  Inspector& operator=(const Inspector&) = delete;

  /// Everything the scheduler knows.
  [[nodiscard]] Result<ClusterState> state();
  /// One actor by name, or by id when `name_or_id` is all digits.
  [[nodiscard]] Result<ActorInfo> resolve(const std::string& name_or_id);
  /// Kills an actor; restart=true lets it restart (a new incarnation).
  [[nodiscard]] Result<void> kill(const std::string& name_or_id, bool restart);
  /// The last `lines` lines (0: all) of the actor's log, from its node's worker.
  [[nodiscard]] Result<std::string> logs(const ActorInfo& actor, int64_t lines);
  /// At most `max_bytes` of the actor's log from `offset` on (see LogChunk).
  [[nodiscard]] Result<LogChunk> log_chunk(const ActorInfo& actor, int64_t offset, int64_t max_bytes = 1 << 20);
  /// Prints the last `lines` lines of the actor's log through `out`, then what
  /// is added to it, checking twice a second until `stop()` is true; when the
  /// actor is restarted on another node (another file) a header line says so
  /// and that file is followed from its start. Errors while following (a node
  /// restarting) are retried; only a failure to read the log at all returns one.
  [[nodiscard]] Result<void> follow_logs(const std::string& name_or_id, int64_t lines,
                                         const std::function<void(const std::string&)>& out,
                                         const std::function<bool()>& stop);
  /// The actor process's own counters ("__stats"); the actor must be ALIVE.
  [[nodiscard]] Result<ActorCallStats> stats(const ActorInfo& actor);
  /// The counters of every ALIVE actor that answers within the timeout.
  [[nodiscard]] ActorStatsMap stats(const ClusterState& state);
  /// Subscribes to the scheduler's events (once; later calls only check the
  /// subscription). `fn` runs on the I/O thread for every event and must not block.
  [[nodiscard]] Result<void> follow_events(std::function<void(const Event&)> fn);

  [[nodiscard]] const std::string& address() const { return address_; }
  [[nodiscard]] std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  Inspector(std::string address, std::chrono::milliseconds timeout);
  /// The control endpoint of the worker holding the actor's log.
  Result<std::string> node_endpoint(const ActorInfo& actor);
  template <class T>
  Result<T> ask(const std::string& endpoint, const std::string& what, const std::string& method, const auto& body,
                std::chrono::milliseconds timeout);

  std::string address_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Runtime> runtime_;
  bool following_ = false;
};

/// "tcp://host:port" (port a number or "*" is not accepted: a tool connects),
/// "ipc://path" or "inproc://name"; invalid_argument otherwise.
Result<void> check_address(const std::string& address);

/// The scheduler address a tool uses when none is given: $TROUPE_ADDRESS, or
/// tcp://127.0.0.1:7400.
std::string default_address();

}  // namespace troupe::cli
