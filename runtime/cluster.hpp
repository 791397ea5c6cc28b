#pragma once
// The entry point of a driver: connect to a running cluster (or to an
// embedded one, embedded/local_cluster.hpp, as ray.init() starts), then spawn
// and look up actors.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/actor_handle.hpp"
#include "runtime/control.hpp"
#include "runtime/job_lease.hpp"
#include "runtime/keys.hpp"

namespace troupe {

/// What spawn<T>() asks of the scheduler.
struct SpawnOptions {
  std::string name;                     ///< unique among live actors; empty: anonymous
  double cpus = 1;
  double gpus = 0;
  double memory_mb = 0;
  int max_restarts = 0;                 ///< -1: restart forever
  std::vector<std::string> retryable;   ///< methods resent to the next incarnation
  std::vector<std::string> code_paths;  ///< default: the shared library that registered T
  /// The job that owns the actor (JobLease::id()): it is stopped when the job
  /// ends or its driver is lost. 0: no job; it lives until killed (as Ray's
  /// detached actors).
  JobId job = 0;
};

/// Thread-safety: every member function is thread-safe. Copies share one
/// connection; the last copy to go shuts it down (and an embedded cluster with it).
class Cluster {
 public:
  struct ConnectOptions {
    std::chrono::milliseconds timeout{10000};  ///< how long connect() waits for the scheduler to answer
    /// Liveness of the driver's connections: calls in flight to a scheduler
    /// that died or went silent fail with connection_lost within 2 x this
    /// (docs/FAULTS.md, "Fail fast"). Zero: only closed connections are noticed.
    std::chrono::milliseconds heartbeat{500};
    /// The cluster's keys; null: found by find_keys() (--keys, $TROUPE_KEYS,
    /// ~/.config/troupe/keys).
    KeysPtr keys;
    /// No keys at all (TROUPE_KEYS=none): loopback only.
    bool insecure = false;
    /// Run once by shutdown(), after this process's runtime stopped: an
    /// embedded cluster stops its scheduler and workers here
    /// (embedded/local_cluster.hpp).
    std::function<void()> on_shutdown;
  };

  /// Connects to a scheduler ("tcp://host:port"). Throws on connection_lost.
  /// The Cluster outlives the scheduler's restarts on the same address: calls
  /// while it is away fail with connection_lost, later ones reach the new one.
  static Cluster connect(const std::string& address, ConnectOptions options);
  static Cluster connect(const std::string& address) { return connect(address, ConnectOptions{}); }
  /// A Cluster over a runtime that already exists (inside an actor process).
  static Cluster attach(Runtime& runtime);

  /// Starts actor T with ctor_args; returns at once (the actor may still be
  /// PENDING; calls wait for it). Throws troupe::Exception if the scheduler refuses.
  template <class T, class... A>
  ActorHandle<T> spawn(const SpawnOptions& options, A&&... ctor_args) const {
    auto r = try_spawn<T>(options, std::forward<A>(ctor_args)...);
    return std::move(r).value();
  }
  /// spawn() returning the error as a value.
  template <class T, class... A>
  Result<ActorHandle<T>> try_spawn(const SpawnOptions& options, A&&... ctor_args) const {
    const ClassInfo* info = Registry::instance().find(typeid(T));
    if (info == nullptr) return Error(Errc::not_found, "actor class not registered: add TROUPE_ACTOR for it");
    msgpack::sbuffer args;
    try {
      msgpack::pack(args, std::make_tuple(std::decay_t<A>(std::forward<A>(ctor_args))...));
    } catch (const std::exception& e) {
      return Error(Errc::bad_arguments, std::string("cannot encode constructor arguments: ") + e.what());
    }
    auto r = spawn_spec(make_spec(*info, options, args));
    if (!r.ok()) return r.error();
    return ActorHandle<T>(r->id, r->spec.name, r->spec.retryable);
  }
  /// The live actor named `name`. Throws troupe::Exception(not_found).
  template <class T>
  ActorHandle<T> actor(const std::string& name) const {
    auto r = lookup(name);
    return ActorHandle<T>(r.value().id, r.value().spec.name, r.value().spec.retryable);
  }

  /// Runs fn for every event the scheduler publishes (an actor's or a node's
  /// state change), on this process's I/O thread: fn must not block. Inside an
  /// actor, ActorContext::post() hands the news to the thread that runs the
  /// methods. Listeners stay for the process's life. Thread-safe.
  void on_event(std::function<void(const Event&)> fn) const;
  /// Everything the scheduler knows (nodes, actors, recent events).
  [[nodiscard]] Result<ClusterState> state(std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  /// Waits until actor `id` is ALIVE (or DEAD, an error) or `timeout` passes.
  [[nodiscard]] Result<ActorInfo> wait_alive(ActorId id, std::chrono::milliseconds timeout) const;
  /// Kills an actor by name: restart=false makes it DEAD; restart=true lets it restart.
  Result<void> kill(const std::string& name, bool restart = false) const;
  Result<void> kill(ActorId id, bool restart = false) const;
  /// Publishes a training job's progress to the scheduler (shell `train`,
  /// dashboard curves, /metrics). Fire and forget: returns at once. With
  /// job.id set (a registered job) it also renews the lease; a final state
  /// (DONE, FAILED, STOPPED) ends the job and stops its remaining actors.
  /// A registered job's report carries its token (job.token =
  /// JobLease::token()), else the scheduler refuses it (permission_denied).
  void report_job(const JobInfo& job) const;
  /// Registers a job with the scheduler, which gives it a unique name (the
  /// wanted one, else NAME-2, …) and an id for SpawnOptions::job. This process
  /// holds its lease from now on (runtime/job_lease.hpp). `registration.driver`
  /// empty: "pid N on HOST".
  [[nodiscard]] Result<JobLease> start_job(JobRegistration registration) const;
  /// Takes over the lease of running job `id` (the driver actor of a detached
  /// job, from the program that registered it): this process renews it from
  /// now on and, when it runs an actor, is the job's driver actor (its death
  /// fails the job at once). `token`: the job's (JobLease::token() of the
  /// program that registered it). not_found when the job is unknown or has
  /// ended; permission_denied with a wrong token.
  [[nodiscard]] Result<JobLease> adopt_job(JobId id, std::string token, std::string driver) const;
  /// One job by name; `history` false leaves its curve points out.
  [[nodiscard]] Result<JobInfo> job(const std::string& name, bool history = false,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  /// The live actor named `name`, as the scheduler sees it.
  [[nodiscard]] Result<ActorInfo> lookup(const std::string& name) const;
  /// The scheduler's control endpoint.
  [[nodiscard]] const std::string& address() const;
  /// The keys this process's sockets use (null: unsecured).
  [[nodiscard]] const KeysPtr& keys() const;
  /// The scheduler's HTTP port (0 when it has none).
  [[nodiscard]] int http_port() const;
  /// The runtime of this process.
  [[nodiscard]] Runtime& runtime() const;
  /// Disconnects, then runs ConnectOptions::on_shutdown (an embedded cluster stops: its actors are terminated). Idempotent.
  void shutdown() const;

  struct Impl;

 private:
  explicit Cluster(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  static ActorSpec make_spec(const ClassInfo& info, const SpawnOptions& options, const msgpack::sbuffer& args);
  [[nodiscard]] Result<ActorInfo> spawn_spec(const ActorSpec& spec) const;
  std::shared_ptr<Impl> impl_;
};

}  // namespace troupe
