#include "scheduler/state_json.hpp"

namespace troupe {

using nlohmann::json;

static json resources(const Resources& r) { return {{"cpus", r.cpus}, {"gpus", r.gpus}, {"memory_mb", r.memory_mb}}; }

json to_json(const NodeInfo& n) {
  return {{"id", n.id},           {"host", n.host},       {"endpoint", n.endpoint},
          {"state", n.alive ? "ALIVE" : "DEAD"},         {"total", resources(n.total)},
          {"used", resources(n.used)},                   {"last_heartbeat_ms", n.last_heartbeat_ms},
          {"pid", n.pid},         {"log_dir", n.log_dir}, {"death_reason", n.death_reason}};
}

json to_json(const ActorInfo& a) {
  json deaths = json::array();
  for (const auto& d : a.deaths)
    deaths.push_back({{"incarnation", d.incarnation}, {"exit_code", d.exit_code}, {"signal", d.signal},
                      {"reason", d.reason}, {"time_ms", d.time_ms}, {"node", d.node}});
  return {{"id", a.id},
          {"name", a.spec.name},
          {"class", a.spec.class_name},
          {"state", std::string(state_name(a.state))},
          {"incarnation", a.incarnation},
          {"node", a.node},
          {"endpoint", a.endpoint},
          {"pid", a.pid},
          {"restarts", a.restarts},
          {"max_restarts", a.spec.max_restarts},
          {"resources", resources(a.spec.resources)},
          {"gpu_ids", a.gpu_ids},
          {"pending_reason", a.pending_reason},
          {"state_since_ms", a.state_since_ms},
          {"retryable", a.spec.retryable},
          {"deaths", deaths}};
}

json to_json(const Event& e) {
  return {{"seq", e.seq},         {"time_ms", e.time_ms},     {"topic", e.topic},
          {"actor", e.actor},     {"node", e.node},           {"name", e.name},
          {"state", std::string(state_name(e.state))},        {"incarnation", e.incarnation},
          {"endpoint", e.endpoint}, {"exit_code", e.exit_code}, {"signal", e.signal},
          {"message", e.message}};
}

json to_json(const ClusterState& s) {
  json nodes = json::array(), actors = json::array(), events = json::array();
  for (const auto& n : s.nodes) nodes.push_back(to_json(n));
  for (const auto& a : s.actors) actors.push_back(to_json(a));
  for (const auto& e : s.events) events.push_back(to_json(e));
  return {{"time_ms", s.time_ms}, {"nodes", nodes}, {"actors", actors}, {"events", events}};
}

}  // namespace troupe
