#pragma once
// The worker (DESIGN §1): one per host. Registers its resources with the
// scheduler, heartbeats, starts actor processes on request (fork/exec of
// `troupe actor`, a GPU actor sees only its devices through
// CUDA_VISIBLE_DEVICES, mapped through the worker's own list when it has
// one), captures each actor's output into a log file, reaps them through
// pidfds and reports every exit with its cause. It holds the host's serving lease (runtime/lease.hpp) and passes it to every actor
// process it starts. All state lives on the runtime's I/O thread.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/control.hpp"
#include "runtime/lease.hpp"
#include "runtime/process.hpp"
#include "runtime/runtime.hpp"

namespace troupe {

class Worker {
 public:
  struct Options {
    std::string scheduler;               ///< scheduler control endpoint
    std::string host = "127.0.0.1";      ///< address this worker and its actors bind
    double cpus = 0;                     ///< 0: the machine's core count
    int gpus = 0;
    double memory_mb = 0;
    std::string log_dir;                 ///< per-actor log files; default /tmp/troupe-logs-<pid>
    std::string troupe_binary;           ///< `troupe` to exec for actors; default: found at run time
    std::chrono::milliseconds heartbeat_interval{500};
    /// stop() tells the scheduler this node leaves (its actors restart elsewhere at once).
    /// False where the whole cluster stops together (`troupe up`, local_cluster()).
    bool leave_on_stop = true;
    std::string leave_reason = "worker stopped";  ///< told to the scheduler by stop()
    /// Folders actor code (start_actor's code_paths) may be loaded from,
    /// checked on the real path; empty: default_code_path_allow() (the
    /// build's and install's library folders). runtime/least_privilege.hpp.
    std::vector<std::string> code_path_allow;
    /// The largest message this worker and its actors accept; 0: Limits' default (docs/LIMITS.md).
    std::size_t max_message_bytes = 0;
    /// The cluster's keys (runtime/keys.hpp); null: found by find_keys()
    /// unless `insecure`. Its actor processes get the same (TROUPE_KEYS).
    KeysPtr keys;
    bool insecure = false;
  };

  /// Binds its ROUTER; throws troupe::Exception when it cannot.
  explicit Worker(Options options);
  /// Terminates every actor process it started, then stops.
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Starts the I/O thread and registers (retrying until the scheduler answers).
  void start();
  /// Stops heartbeating, revokes its serving lease, terminates its actors
  /// (SIGTERM, then SIGKILL after `grace`), tells the scheduler it leaves
  /// (`leave_node`, with Options::leave_on_stop: the node is DEAD at once and
  /// its actors restart elsewhere; waits at most 1.5 s for the answer), and stops. Idempotent. Not
  /// thread-safe: call it from one thread.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));
  /// Waits until registered; false on timeout. Thread-safe.
  bool wait_registered(std::chrono::milliseconds timeout);
  [[nodiscard]] const std::string& endpoint() const;
  [[nodiscard]] NodeId node_id() const { return node_id_.load(); }
  [[nodiscard]] const std::string& log_dir() const { return options_.log_dir; }
  /// Connections its ZAP handler refused. Thread-safe.
  [[nodiscard]] uint64_t refused_connections() const { return runtime_->io().refused_connections(); }

 private:
  struct Running {
    Incarnation incarnation;
    std::string name;
    std::string log_path;
    Child child;
  };
  void register_now();
  /// Tells the scheduler this node leaves; waits at most 1.5 s for its answer.
  void leave();
  void heartbeat();
  void on_start_actor(const Message& m, const Responder& r);
  void on_stop_actor(const Message& m, const Responder& r);
  void on_logs(const Message& m, const Responder& r);
  void on_log_chunk(const Message& m, const Responder& r);
  /// The log file of `actor` in log_dir (any incarnation that ran here).
  [[nodiscard]] std::optional<std::string> log_path(ActorId actor) const;
  void on_child_exit(ActorId id);
  void report_exit(const ActorExit& exit);
  /// The lease held from `sent` (when the answered message left) for the scheduler's lease_ms.
  void renew_lease(Lease::Clock::time_point sent);
  /// A heartbeat is unanswered: if the scheduler's port refuses connections (it is down, not cut off), hold on.
  void probe_scheduler();

  Options options_;
  std::vector<std::string> own_devices_;  // this process's CUDA_VISIBLE_DEVICES, split: actor GPU i is own_devices_[i]
  std::unique_ptr<Runtime> runtime_;
  std::map<ActorId, Running> running_;
  std::atomic<NodeId> node_id_{0};
  std::mutex registered_mutex_;  // with registered_cv_: wait_registered() sleeps until node_id_ is set
  std::condition_variable registered_cv_;
  // The node's capability (Registered::node_token), sent with every message
  // that names this node. I/O thread only; never logged.
  std::string node_token_;
  bool stopping_ = false;
  bool registering_ = false;
  Lease lease_;                 // written here, read by the actor processes
  int64_t lease_ms_ = 0;        // from the scheduler at registration (0: no lease)
  int heartbeats_out_ = 0;      // sent and not answered yet
  std::atomic<bool> probing_{false};
  std::jthread probe_;          // one probe at a time; joined before the worker goes
};

/// Path of the `troupe` binary for actor processes: $TROUPE_BIN, else the one
/// beside the running executable, else the build tree's, else "troupe" on PATH.
std::string find_troupe_binary();

}  // namespace troupe
