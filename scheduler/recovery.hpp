#pragma once
// What the scheduler writes to its journal and how it reads it back: one
// record per change of a node, an actor or a registered job (the whole
// entity, so the last record of an entity is its state; a job without its
// progress), plus the events endpoint so that a restarted scheduler publishes
// where its subscribers already listen.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/control.hpp"
#include "runtime/error.hpp"

namespace troupe {

struct JournalRecord {
  std::string type;  ///< "node", "actor", "job" or "endpoints"
  NodeInfo node;
  ActorInfo actor;   ///< with spec.ctor_args: a restarted scheduler must be able to restart the actor
  bool kill_requested = false;
  std::string events_endpoint;
  JobInfo job;              ///< JobTable::journal_copy: identity and state, no progress
  std::string kill_reason;  ///< why the scheduler stopped the actor ("job x: driver lost"); "": by a user
  /// The entity's capability token (runtime/capability.hpp), kept here and not
  /// in the public NodeInfo/ActorInfo/JobInfo so that no state reply carries
  /// it: a node's token, a STARTING or ALIVE actor's start token, a job's token.
  /// The journal's files are created 0600 (owner only), as the keys are.
  std::string token;
  MSGPACK_DEFINE_MAP(type, node, actor, kill_requested, events_endpoint, job, kill_reason, token);
};

/// The tables rebuilt from a journal.
struct RecoveredState {
  std::map<NodeId, NodeInfo> nodes;
  std::map<ActorId, ActorInfo> actors;
  std::map<ActorId, bool> kill_requested;
  std::map<ActorId, std::string> kill_reasons;
  std::map<JobId, JobInfo> jobs;
  std::map<NodeId, std::string> node_tokens;    ///< JournalRecord::token of each node
  std::map<ActorId, std::string> actor_tokens;  ///< of each actor (empty unless STARTING or ALIVE)
  std::map<JobId, std::string> job_tokens;      ///< of each job
  std::string events_endpoint;
  std::size_t records = 0;
  std::size_t unreadable = 0;  ///< records that did not decode (skipped, counted)
};

/// msgpack bytes of a record.
std::string encode_record(const JournalRecord& r);
/// Folds the records in order: the last record of each node and actor wins.
RecoveredState replay_records(const std::vector<std::string>& records);
/// The records that restate `state` (for compaction).
std::vector<std::string> snapshot_records(const RecoveredState& state);

}  // namespace troupe
