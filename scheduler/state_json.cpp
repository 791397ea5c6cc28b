#include "scheduler/state_json.hpp"

#include <string>

namespace troupe {

using nlohmann::json;

json to_json(const Resources& r) { return {{"cpus", r.cpus}, {"gpus", r.gpus}, {"memory_mb", r.memory_mb}}; }

json to_json(const NodeInfo& n) {
  return {{"id", n.id},
          {"host", n.host},
          {"endpoint", n.endpoint},
          {"state", n.alive ? "ALIVE" : "DEAD"},
          {"total", to_json(n.total)},
          {"used", to_json(n.used)},
          {"last_heartbeat_ms", n.last_heartbeat_ms},
          {"pid", n.pid},
          {"log_dir", n.log_dir},
          {"death_reason", n.death_reason}};
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
          {"resources", to_json(a.spec.resources)},
          {"gpu_ids", a.gpu_ids},
          {"pending_reason", a.pending_reason},
          {"state_since_ms", a.state_since_ms},
          {"retryable", a.spec.retryable},
          {"deaths", deaths}};
}

json to_json(const Event& e) {
  return {{"seq", e.seq},
          {"time_ms", e.time_ms},
          {"topic", e.topic},
          {"actor", e.actor},
          {"node", e.node},
          {"name", e.name},
          {"state", std::string(state_name(e.state))},
          {"incarnation", e.incarnation},
          {"endpoint", e.endpoint},
          {"exit_code", e.exit_code},
          {"signal", e.signal},
          {"message", e.message}};
}

json to_json(const ActorCallStats& s) {
  return {{"calls_served", s.calls_served},     {"queue_depth", s.queue_depth},
          {"malformed", s.malformed},           {"stale_rejected", s.stale_rejected},
          {"unknown_method", s.unknown_method}, {"overloaded", s.overloaded},
          {"bytes_in", s.bytes_in},             {"bytes_out", s.bytes_out}};
}

json to_json(const ActorStatsMap& stats) {
  json out = json::object();
  for (const auto& [id, s] : stats) out[std::to_string(id)] = to_json(s);
  return out;
}

json to_json(const JobInfo& j) {
  auto accuracy = [](double a) { return a < 0 ? json(nullptr) : json(a); };
  json trainers = json::array(), contributors = json::array(), history = json::array();
  for (const auto& t : j.trainers)
    trainers.push_back({{"actor", t.actor}, {"name", t.name}, {"state", t.state}, {"steps", t.steps},
                        {"samples_per_s", t.samples_per_s}, {"last_step", t.last_step}});
  for (const auto& c : j.contributors) contributors.push_back({{"step", c.step}, {"trainers", c.trainers}});
  for (const auto& p : j.history)
    history.push_back({{"step", p.step}, {"time_ms", p.time_ms}, {"loss", p.loss}, {"accuracy", accuracy(p.accuracy)},
                       {"samples_per_s", p.samples_per_s}});
  json epochs = json::array();
  for (const auto& e : j.epoch_results)
    epochs.push_back({{"epoch", e.epoch},
                      {"train_loss", e.train_loss},
                      {"train_accuracy", e.train_accuracy},
                      {"val_loss", e.val_loss},
                      {"val_accuracy", e.val_accuracy},
                      {"test_loss", e.test_loss},
                      {"test_accuracy", e.test_accuracy},
                      {"seconds", e.seconds},
                      {"samples_per_s", e.samples_per_s},
                      {"best", e.best},
                      {"version", e.version}});
  return {{"name", j.name},       {"state", j.state},
          {"epoch", j.epoch},     {"step", j.step},
          {"loss", j.loss},       {"accuracy", accuracy(j.accuracy)},
          {"samples_per_s", j.samples_per_s}, {"trainers", trainers},
          {"contributors", contributors},     {"history", history},
          {"updated_ms", j.updated_ms},       {"id", j.id},
          {"reason", j.reason},               {"detached", j.detached},
          {"driver", j.driver},               {"driver_actor", j.driver_actor},
          {"started_ms", j.started_ms},       {"epochs_total", j.epochs_total},
          {"steps_per_epoch", j.steps_per_epoch}, {"epoch_step", j.epoch_step},
          {"epoch_results", epochs},          {"summary", j.summary},
          {"output_dir", j.output_dir}};
}

json to_json(const ClusterState& s) {
  json nodes = json::array(), actors = json::array(), events = json::array();
  for (const auto& n : s.nodes) nodes.push_back(to_json(n));
  for (const auto& a : s.actors) actors.push_back(to_json(a));
  for (const auto& e : s.events) events.push_back(to_json(e));
  json jobs = json::array();
  for (const auto& j : s.jobs) jobs.push_back(to_json(j));
  return {{"time_ms", s.time_ms}, {"nodes", nodes}, {"actors", actors}, {"events", events}, {"jobs", jobs}};
}

}  // namespace troupe
