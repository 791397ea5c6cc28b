#pragma once
// The scheduler (DESIGN §1): keeps the tables of nodes, actors and jobs,
// places actors by resources, restarts them with bounded exponential backoff,
// answers name → endpoint, stops the actors of a job whose driver is lost
// (scheduler/job_table.hpp), and publishes every state change as an event. All of its
// state lives on its runtime's I/O thread: handlers, timers and replies from
// workers run there one at a time, so the tables need no locks.
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/control.hpp"
#include "runtime/runtime.hpp"
#include "scheduler/job_table.hpp"
#include "scheduler/journal.hpp"

namespace troupe {

class HttpServer;

class Scheduler {
 public:
  struct Options {
    std::string bind = "tcp://127.0.0.1:7400";  ///< control ROUTER
    std::string events_bind;                     ///< PUB; default: same host, ephemeral port
    int http_port = 8265;                        ///< 0: ephemeral; -1: none
    std::string http_host = "127.0.0.1";          ///< not loopback: the token is required (scheduler/http_guard.hpp)
    std::vector<std::string> http_allowed_hosts;  ///< Host header names accepted beside IP literals, localhost, hostname
    std::string journal_dir;                     ///< empty: no journal
    /// A worker silent this long is declared dead; a job's driver silent this
    /// long is declared lost (its lease; drivers renew every quarter of it).
    std::chrono::milliseconds heartbeat_timeout{3000};
    std::chrono::milliseconds restart_backoff{100};      ///< first restart delay
    std::chrono::milliseconds restart_backoff_max{5000}; ///< cap of the doubling
    std::chrono::milliseconds restart_backoff_reset{10000}; ///< an incarnation alive this long resets the doubling
    std::size_t event_history = 2000;
    /// Actors kept in the table, alive or dead (docs/LIMITS.md, "Caps"):
    /// past it a spawn forgets the actor that died longest ago, or is refused
    /// (`unavailable`) when none has died.
    std::size_t max_actors = 10000;
    /// The largest message the scheduler accepts; 0: Limits' default (docs/LIMITS.md).
    std::size_t max_message_bytes = 0;
    /// The cluster's keys (runtime/keys.hpp); null: found by find_keys() unless `insecure`.
    KeysPtr keys;
    bool insecure = false;  ///< no keys: loopback binds only (a benchmark's unsecured run)
  };

  /// Binds every port; throws troupe::Exception when one is taken.
  explicit Scheduler(Options options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void start();
  void stop();
  [[nodiscard]] const std::string& endpoint() const;
  [[nodiscard]] const std::string& events_endpoint() const;
  [[nodiscard]] int http_port() const;
  /// The token its HTTP API requires; empty when bound on loopback. Thread-safe.
  [[nodiscard]] const std::string& http_token() const { return http_token_; }
  /// The keys its sockets use (null: unsecured). Thread-safe.
  [[nodiscard]] const KeysPtr& keys() const;
  /// Connections its ZAP handler refused. Thread-safe.
  [[nodiscard]] uint64_t refused_connections() const;
  /// Messages refused with permission_denied: a key holder without the node's,
  /// actor start's or job's token (runtime/capability.hpp). Thread-safe.
  [[nodiscard]] uint64_t refused_tokens() const { return refused_tokens_.load(); }
  /// A copy of the tables. Thread-safe (asks the I/O thread and waits).
  [[nodiscard]] ClusterState snapshot();

 private:
  struct ActorEntry {
    ActorInfo info;
    bool kill_requested = false;  // by a user, or its job ended: no restart
    std::string kill_reason;      // "" by a user, else why the scheduler stopped it ("job x: driver lost")
    bool restart_requested = false;
    std::string failure_reason;   // from the actor process, before its exit report
    bool failure_permanent = false;  // ActorFailed::permanent: not restarted
    int64_t restart_due_ms = 0;
    int backoff_restarts = 0;     // restarts since it last ran healthy (not journaled)
    // The current placement's capability (StartActor::start_token); "" while
    // it has no process. Journaled while STARTING or ALIVE, so that its
    // process can still say ready to a restarted scheduler.
    std::string start_token;
  };
  struct Waiter {
    uint64_t id;
    Responder responder;
  };

  void register_methods();
  std::string http_token_;
  void on_register(const Message& m, const Responder& r);
  void on_heartbeat(const Message& m, const Responder& r);
  void on_leave(const Message& m, const Responder& r);
  void on_spawn(const Message& m, const Responder& r);
  void on_resolve(const Message& m, const Responder& r);
  void on_actor_spec(const Message& m, const Responder& r);
  void on_actor_ready(const Message& m, const Responder& r);
  void on_actor_failed(const Message& m, const Responder& r);
  void on_actor_exited(const Message& m, const Responder& r);
  void on_kill(const Message& m, const Responder& r);
  void on_state(const Message& m, const Responder& r);
  void on_job_report(const Message& m, const Responder& r);
  void on_job_register(const Message& m, const Responder& r);
  void on_job_renew(const Message& m, const Responder& r);
  void on_job(const Message& m, const Responder& r);

  ActorEntry* find_actor(ActorId id, const std::string& name);
  void place(ActorEntry& a);
  void place_pending();
  void launch(ActorEntry& a, NodeInfo& node);
  void release(ActorEntry& a);
  void handle_death(ActorEntry& a, const ActorExit& exit);
  void check_heartbeats();
  /// Node `id` is gone (`reason`): DEAD, and its actors die with it. A node
  /// that left on purpose restarts them even with no restarts left.
  void node_gone(NodeId id, const std::string& reason, bool left);
  /// Fails the running jobs whose driver's lease ran out.
  void check_jobs();
  /// A job has ended (reported, or its driver lost): journal it, publish it,
  /// and stop the actors it still has.
  void end_job(const JobInfo& job);
  /// `actor` died or is restarting: the job it drove, if any, has lost its driver.
  void driver_gone(ActorId actor, const std::string& why);
  /// Stops `a` for good: DEAD at once when it has no process, else its worker
  /// SIGKILLs it (DEAD when the exit is reported). `reason` "": by a user.
  /// `done` gets the worker's answer (or ok at once).
  void kill_actor(ActorEntry& a, const std::string& reason, std::function<void(Result<void>)> done);
  /// Asks the actor's worker to send `signal` to its current incarnation.
  void send_stop(ActorEntry& a, int signal, std::function<void(Result<void>)> done);
  void persist(const JobInfo& job);
  void publish_job(const JobInfo& job, const std::string& message);
  void set_state(ActorEntry& a, ActorState s, const std::string& message = {}, int exit_code = 0, int signal = 0);
  void publish(Event e);
  void answer_waiters(ActorEntry& a);
  ClusterState build_state() const;
  void recover();
  void persist(const ActorEntry& a);
  void persist(const NodeInfo& n);
  void append(const std::string& record);
  ActorInfo public_info(const ActorInfo& a) const;
  /// Counts a refusal and says what was refused (never the token itself).
  Error refuse(const std::string& what);
  /// Whether `token` is node `id`'s.
  bool node_token_ok(NodeId id, const std::string& token) const;
  /// Whether `token` is job `id`'s.
  bool job_token_ok(JobId id, const std::string& token) const;

  Options options_;
  std::optional<Journal> journal_;
  std::unique_ptr<Runtime> runtime_;
  std::unique_ptr<HttpServer> http_;
  std::map<NodeId, NodeInfo> nodes_;
  // Capabilities beside the public tables (never in a state reply): the
  // token of each node (Registered::node_token) and job (JobRegistered::token).
  std::map<NodeId, std::string> node_tokens_;
  std::map<JobId, std::string> job_tokens_;
  std::atomic<uint64_t> refused_tokens_{0};
  std::map<NodeId, std::vector<int>> free_gpus_;
  std::map<ActorId, ActorEntry> actors_;
  std::map<ActorId, std::vector<Waiter>> waiters_;
  std::deque<Event> events_;
  JobTable jobs_;
  NodeId next_node_ = 1;
  ActorId next_actor_ = 1;
  uint64_t next_waiter_ = 1;
  uint64_t event_seq_ = 0;
  bool stopped_ = false;
  std::shared_ptr<std::function<void()>> heartbeat_tick_;
};

}  // namespace troupe
