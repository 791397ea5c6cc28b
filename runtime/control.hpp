#pragma once
// Bodies of the control messages between drivers, workers, actor processes and
// the scheduler (docs/PROTOCOL.md, "Control methods"). Encoded as msgpack maps
// so that other languages and later versions can read them by key.
#include <cstdint>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "runtime/ids.hpp"

namespace troupe {

/// Schedulable resources of a node or an actor.
struct Resources {
  double cpus = 0;
  double gpus = 0;
  double memory_mb = 0;
  MSGPACK_DEFINE_MAP(cpus, gpus, memory_mb);
};

/// An actor incarnation a worker runs.
struct RunningActor {
  ActorId actor = 0;
  Incarnation incarnation = 0;
  MSGPACK_DEFINE_MAP(actor, incarnation);
};

/// What a worker says of itself when it registers.
struct NodeRegistration {
  std::string host;
  std::string endpoint;  ///< the worker's ROUTER
  Resources total;
  int pid = 0;
  std::string log_dir;
  NodeId previous_id = 0;  ///< set when re-registering with a restarted scheduler
  std::vector<RunningActor> running;  ///< actors this worker still runs (re-registration)
  /// previous_id's node token (Registered::node_token): without it the worker
  /// registers as a new node, so no key holder can take a live node's id over.
  std::string token;
  MSGPACK_DEFINE_MAP(host, endpoint, total, pid, log_dir, previous_id, running, token);
};

/// A node as the scheduler sees it.
struct NodeInfo {
  NodeId id = 0;
  std::string host;
  std::string endpoint;
  Resources total;
  Resources used;
  bool alive = true;
  int64_t last_heartbeat_ms = 0;
  int pid = 0;
  std::string log_dir;
  std::string death_reason;
  MSGPACK_DEFINE_MAP(id, host, endpoint, total, used, alive, last_heartbeat_ms, pid, log_dir, death_reason);
};

/// What the driver asks for in spawn<T>(options, args…).
struct ActorSpec {
  std::string class_name;
  std::string name;  ///< empty: anonymous
  Resources resources;
  int max_restarts = 0;  ///< -1: unlimited
  std::vector<std::string> retryable;  ///< methods resent to the next incarnation
  std::vector<std::string> code_paths;  ///< shared libraries the actor process loads
  std::vector<char> ctor_args;  ///< msgpack array of constructor arguments
  /// The job that owns it (0: none). The scheduler stops a job's actors when
  /// the job ends or its driver is lost; an actor of no job lives until killed.
  JobId job = 0;
  MSGPACK_DEFINE_MAP(class_name, name, resources, max_restarts, retryable, code_paths, ctor_args, job);
};

/// One death of an actor incarnation.
struct DeathRecord {
  Incarnation incarnation = 0;
  int exit_code = 0;
  int signal = 0;
  std::string reason;  ///< e.g. "constructor threw: …", "node 2 lost", "killed by user"
  int64_t time_ms = 0;
  NodeId node = 0;
  int64_t restart_delay_ms = 0;  ///< the restart backoff chosen after this death (0: not restarted)
  MSGPACK_DEFINE_MAP(incarnation, exit_code, signal, reason, time_ms, node, restart_delay_ms);
};

/// An actor as the scheduler sees it (ctor_args left out of state replies).
struct ActorInfo {
  ActorId id = 0;
  ActorSpec spec;
  ActorState state = ActorState::pending;
  Incarnation incarnation = 0;
  NodeId node = 0;
  std::string endpoint;
  int pid = 0;
  int restarts = 0;
  std::vector<DeathRecord> deaths;
  std::string pending_reason;
  int64_t state_since_ms = 0;
  std::vector<int> gpu_ids;
  MSGPACK_DEFINE_MAP(id, spec, state, incarnation, node, endpoint, pid, restarts, deaths, pending_reason,
                     state_since_ms, gpu_ids);
};

/// A state change, published on the scheduler's PUB socket (topic "actor" or "node").
struct Event {
  uint64_t seq = 0;
  int64_t time_ms = 0;
  std::string topic;  ///< "actor" or "node"
  ActorId actor = 0;
  NodeId node = 0;
  std::string name;
  ActorState state = ActorState::pending;
  Incarnation incarnation = 0;
  std::string endpoint;
  int exit_code = 0;
  int signal = 0;
  std::string message;
  MSGPACK_DEFINE_MAP(seq, time_ms, topic, actor, node, name, state, incarnation, endpoint, exit_code, signal, message);
};

/// One trainer of a training job, as the job reports it.
struct JobTrainer {
  ActorId actor = 0;
  std::string name;
  std::string state;  ///< the actor's state name
  int64_t steps = 0;
  double samples_per_s = 0;
  int64_t last_step = 0;
  MSGPACK_DEFINE_MAP(actor, name, state, steps, samples_per_s, last_step);
};

/// Who pushed a gradient for one applied step.
struct JobContributors {
  int64_t step = 0;
  std::vector<std::string> trainers;
  MSGPACK_DEFINE_MAP(step, trainers);
};

/// One point of a job's curves.
struct JobPoint {
  int64_t step = 0;
  int64_t time_ms = 0;
  double loss = 0;
  double accuracy = -1;  ///< -1: not evaluated at this point
  double samples_per_s = 0;
  MSGPACK_DEFINE_MAP(step, time_ms, loss, accuracy, samples_per_s);
};

/// One finished epoch of a training job, as its epochs.jsonl line has it
/// (NaN: not measured, e.g. no validation split).
struct JobEpoch {
  int64_t epoch = 0;
  double train_loss = 0, train_accuracy = 0, val_loss = 0, val_accuracy = 0, test_loss = 0, test_accuracy = 0;
  double seconds = 0;
  double samples_per_s = 0;
  bool best = false;        ///< the best model so far is this epoch's
  std::string best_metric;  ///< what picks the best model, e.g. "test_accuracy"
  double best_value = 0;
  int64_t best_epoch = 0;
  int64_t version = 0;      ///< shard 0's version at the epoch's end
  MSGPACK_DEFINE_MAP(epoch, train_loss, train_accuracy, val_loss, val_accuracy, test_loss, test_accuracy, seconds,
                     samples_per_s, best, best_metric, best_value, best_epoch, version);
};

/// A training job's progress (docs/CLI.md, "Job"). Reported to the scheduler
/// with "job_report"; `history` and `epoch_results` in a report hold only the
/// new entries. The scheduler owns id, reason, detached, driver, driver_actor
/// and started_ms (set when the job registers); a report cannot change them.
struct JobInfo {
  std::string name;
  std::string state;  ///< RUNNING, DONE, FAILED, STOPPED
  int64_t epoch = 0;
  int64_t step = 0;
  double loss = 0;
  double accuracy = -1;  ///< -1: not evaluated yet
  double samples_per_s = 0;
  std::vector<JobTrainer> trainers;
  std::vector<JobContributors> contributors;
  std::vector<JobPoint> history;
  int64_t updated_ms = 0;
  JobId id = 0;              ///< 0: reported without registering (no lease, never declared lost)
  std::string reason;        ///< why it is FAILED or STOPPED ("driver lost: …"), else ""
  bool detached = false;     ///< its driver runs on the cluster, not in the program that started it
  std::string driver;        ///< who drives it, for people ("pid 4242 on host-a", "actor 17 …")
  ActorId driver_actor = 0;  ///< the actor that drives it (detached), else 0
  int64_t started_ms = 0;
  int64_t epochs_total = 0;     ///< epochs planned (an estimate: faults lengthen none of them, early stopping ends sooner)
  int64_t steps_per_epoch = 0;  ///< per trainer
  int64_t epoch_step = 0;       ///< steps done in the current epoch, per trainer
  std::vector<JobEpoch> epoch_results;
  std::string summary;     ///< the driver's closing lines (DONE): totals, final accuracy, files written
  std::string output_dir;  ///< where the driver writes the outputs (on the driver's host)
  /// In a job_report of a registered job (id != 0) only: the job's token
  /// (JobRegistered::token). The scheduler checks it and never keeps or shows it.
  std::string token;
  MSGPACK_DEFINE_MAP(name, state, epoch, step, loss, accuracy, samples_per_s, trainers, contributors, history,
                     updated_ms, id, reason, detached, driver, driver_actor, started_ms, epochs_total,
                     steps_per_epoch, epoch_step, epoch_results, summary, output_dir, token);
};

/// Driver → scheduler "job_register": a job begins. The reply is a
/// JobRegistered; from then on the caller holds the job's lease.
struct JobRegistration {
  std::string name;      ///< wanted; the scheduler appends -2, -3, … when a job of that name exists
  bool detached = false;
  std::string driver;
  std::string output_dir;
  MSGPACK_DEFINE_MAP(name, detached, driver, output_dir);
};
struct JobRegistered {
  JobId id = 0;
  std::string name;      ///< unique among the scheduler's jobs
  int64_t lease_ms = 0;  ///< silence after which the driver is declared lost
  /// The job's capability (job_register's reply only): job_report and
  /// job_renew of this job must present it. Whoever holds it drives the job.
  std::string token;
  MSGPACK_DEFINE_MAP(id, name, lease_ms, token);
};

/// Driver → scheduler "job_renew": the driver of job `id` is alive. With
/// `adopt`, the sender takes the job over (a detached job's driver actor):
/// the sender's actor id becomes the job's driver_actor and `driver` its
/// description. Answered with a JobRegistered, or not_found when the job is
/// unknown or has ended (the driver learns it was declared lost).
struct JobRenewal {
  JobId id = 0;
  bool adopt = false;
  std::string driver;
  std::string token;  ///< the job's token (JobRegistered::token); else permission_denied
  MSGPACK_DEFINE_MAP(id, adopt, driver, token);
};

/// Tool → scheduler "job": one job by name; without history (the curves'
/// points), which following a job does not need.
struct JobQuery {
  std::string name;
  bool history = false;
  MSGPACK_DEFINE_MAP(name, history);
};

/// The scheduler's answer to "state".
struct ClusterState {
  std::vector<NodeInfo> nodes;
  std::vector<ActorInfo> actors;
  std::vector<Event> events;  ///< most recent last
  int64_t time_ms = 0;
  std::vector<JobInfo> jobs;
  MSGPACK_DEFINE_MAP(nodes, actors, events, time_ms, jobs);
};

/// Worker → scheduler: an actor process ended.
struct ActorExit {
  ActorId actor = 0;
  Incarnation incarnation = 0;
  int exit_code = 0;
  int signal = 0;
  std::string reason;
  /// actor_exited: the token of the node the actor runs on (Registered::node_token).
  std::string token;
  MSGPACK_DEFINE_MAP(actor, incarnation, exit_code, signal, reason, token);
};

/// Actor process → scheduler: constructed and serving.
struct ActorReady {
  ActorId actor = 0;
  Incarnation incarnation = 0;
  std::string endpoint;
  int pid = 0;
  std::string token;  ///< the incarnation's start token (StartActor::start_token)
  MSGPACK_DEFINE_MAP(actor, incarnation, endpoint, pid, token);
};

/// Scheduler → worker: start an actor process.
struct StartActor {
  ActorId actor = 0;
  Incarnation incarnation = 0;
  std::string class_name;
  std::string name;
  std::vector<std::string> code_paths;
  std::vector<int> gpu_ids;
  /// This placement's capability: the worker hands it to the actor process
  /// (environment, never the command line), which presents it in actor_spec,
  /// actor_ready and actor_failed.
  std::string start_token;
  MSGPACK_DEFINE_MAP(actor, incarnation, class_name, name, code_paths, gpu_ids, start_token);
};

/// Names an actor by id (when non-zero) or by name: resolve, kill, actor_spec.
struct ActorRef {
  ActorId actor = 0;
  std::string name;
  int64_t wait_ms = 0;   ///< resolve: long-poll until ALIVE or DEAD, at most this long
  bool restart = false;  ///< kill: let it restart instead of making it DEAD
  std::string token;     ///< actor_spec: the current incarnation's start token
  MSGPACK_DEFINE_MAP(actor, name, wait_ms, restart, token);
};

/// Worker → scheduler: alive.
struct Heartbeat {
  NodeId node = 0;
  std::string token;  ///< the node's token (Registered::node_token)
  MSGPACK_DEFINE_MAP(node, token);
};

/// Worker → scheduler: the worker is stopping (SIGTERM, `systemctl stop`, a
/// Slurm job's end) and has already stopped its actors. The scheduler marks
/// the node DEAD at once ("left: <reason>") and restarts its actors elsewhere,
/// instead of waiting for the heartbeat timeout.
struct LeaveNode {
  NodeId node = 0;
  std::string reason;
  std::string token;  ///< the node's token (Registered::node_token)
  MSGPACK_DEFINE_MAP(node, reason, token);
};

/// Scheduler → worker: the answer to register_node.
struct Registered {
  NodeId node = 0;
  std::string events_endpoint;
  /// Incarnations the worker must stop: restarted elsewhere while it was cut
  /// off (a partition), killed meanwhile, or unknown to this scheduler.
  std::vector<RunningActor> stop;
  /// The serving lease (runtime/lease.hpp): each answered heartbeat holds the
  /// worker's actors serving this long from when it was sent; shorter than the
  /// scheduler's heartbeat timeout. 0: no lease (an older scheduler).
  int64_t lease_ms = 0;
  /// The node's capability: heartbeat, leave_node, actor_exited and a later
  /// register_node{previous_id} of this node must present it. Kept across a
  /// re-registration under the same id (and a scheduler restart on its journal).
  std::string node_token;
  MSGPACK_DEFINE_MAP(node, events_endpoint, stop, lease_ms, node_token);
};

/// Actor process → scheduler: why it is about to exit (before the worker reports the exit).
struct ActorFailed {
  ActorId actor = 0;
  Incarnation incarnation = 0;
  std::string reason;
  /// The constructor refused its arguments or its input (invalid_argument,
  /// bad_arguments, io_error): another incarnation would fail the same way,
  /// so the scheduler does not restart it (as Ray does not restart an actor
  /// whose constructor raised) and the reason is printed once.
  bool permanent = false;
  std::string token;  ///< the incarnation's start token (StartActor::start_token)
  MSGPACK_DEFINE_MAP(actor, incarnation, reason, permanent, token);
};

/// Tool → worker: the last lines of an actor's log.
struct LogRequest {
  ActorId actor = 0;
  int64_t lines = 100;  ///< 0: all
  MSGPACK_DEFINE_MAP(actor, lines);
};

/// Worker method `log_chunk`: the bytes of an actor's log from `offset` on
/// (at most `max_bytes`), for following a log without reading it again.
struct LogChunkRequest {
  ActorId actor = 0;
  int64_t offset = 0;
  int64_t max_bytes = 1 << 20;
  MSGPACK_DEFINE_MAP(actor, offset, max_bytes);
};
struct LogChunk {
  std::string text;    ///< the bytes [offset, end)
  int64_t offset = 0;  ///< where `text` starts: the request's, or 0 when the file is shorter (a new file)
  int64_t end = 0;     ///< offset + text.size(): the next request's offset
  int64_t size = 0;    ///< the file's size when read
  MSGPACK_DEFINE_MAP(text, offset, end, size);
};

/// Milliseconds since the Unix epoch.
int64_t now_ms();

}  // namespace troupe
