#include "scheduler/recovery.hpp"

namespace troupe {

std::string encode_record(const JournalRecord& r) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, r);
  return {buf.data(), buf.size()};
}

RecoveredState replay_records(const std::vector<std::string>& records) {
  RecoveredState s;
  for (const auto& bytes : records) {
    ++s.records;
    JournalRecord r;
    try {
      msgpack::object_handle oh = msgpack::unpack(bytes.data(), bytes.size());
      oh.get().convert(r);
    } catch (const std::exception&) {
      ++s.unreadable;
      continue;
    }
    if (r.type == "node") {
      s.nodes[r.node.id] = r.node;
      s.node_tokens[r.node.id] = r.token;
    } else if (r.type == "actor") {
      s.actors[r.actor.id] = r.actor;
      s.kill_requested[r.actor.id] = r.kill_requested;
      s.kill_reasons[r.actor.id] = r.kill_reason;
      s.actor_tokens[r.actor.id] = r.token;
    } else if (r.type == "job") {
      s.jobs[r.job.id] = r.job;
      s.job_tokens[r.job.id] = r.token;
    } else if (r.type == "endpoints") {
      s.events_endpoint = r.events_endpoint;
    } else {
      ++s.unreadable;
    }
  }
  return s;
}

std::vector<std::string> snapshot_records(const RecoveredState& state) {
  std::vector<std::string> out;
  if (!state.events_endpoint.empty()) {
    JournalRecord r;
    r.type = "endpoints";
    r.events_endpoint = state.events_endpoint;
    out.push_back(encode_record(r));
  }
  for (const auto& [id, n] : state.nodes) {
    JournalRecord r;
    r.type = "node";
    r.node = n;
    if (auto t = state.node_tokens.find(id); t != state.node_tokens.end()) r.token = t->second;
    out.push_back(encode_record(r));
  }
  for (const auto& [id, a] : state.actors) {
    JournalRecord r;
    r.type = "actor";
    r.actor = a;
    auto k = state.kill_requested.find(id);
    r.kill_requested = k != state.kill_requested.end() && k->second;
    auto why = state.kill_reasons.find(id);
    if (why != state.kill_reasons.end()) r.kill_reason = why->second;
    if (auto t = state.actor_tokens.find(id); t != state.actor_tokens.end()) r.token = t->second;
    out.push_back(encode_record(r));
  }
  for (const auto& [id, j] : state.jobs) {
    JournalRecord r;
    r.type = "job";
    r.job = j;
    if (auto t = state.job_tokens.find(id); t != state.job_tokens.end()) r.token = t->second;
    out.push_back(encode_record(r));
  }
  return out;
}

}  // namespace troupe
