#include "scheduler/prometheus.hpp"

#include <charconv>
#include <cmath>
#include <map>

#include "scheduler/resources.hpp"

namespace troupe {
namespace {

using nlohmann::json;

/// Shortest round-trip form; NaN and infinities as Prometheus spells them.
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

class Writer {
 public:
  void family(const std::string& name, const std::string& type, const std::string& help) {
    out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void sample(const std::string& name, const std::map<std::string, std::string>& labels, double v) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      bool first = true;
      for (const auto& [k, val] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += k + "=\"" + prometheus_escape(val) + "\"";
      }
      out_ += '}';
    }
    out_ += ' ' + number(v) + '\n';
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

double num_or_nan(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : std::nan("");
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string prometheus_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string prometheus_metrics(const ClusterState& s, const ActorStatsMap& stats, const json& jobs) {
  Writer w;
  int alive_nodes = 0;
  Resources total, used;
  for (const auto& n : s.nodes) {
    if (!n.alive) continue;
    ++alive_nodes;
    add_resources(total, n.total);
    add_resources(used, n.used);
  }
  w.family("troupe_nodes", "gauge", "Nodes by state.");
  w.sample("troupe_nodes", {{"state", "ALIVE"}}, alive_nodes);
  w.sample("troupe_nodes", {{"state", "DEAD"}}, static_cast<double>(s.nodes.size()) - alive_nodes);
  w.family("troupe_resource_total", "gauge", "Schedulable resources of alive nodes.");
  w.sample("troupe_resource_total", {{"resource", "cpu"}}, total.cpus);
  w.sample("troupe_resource_total", {{"resource", "gpu"}}, total.gpus);
  w.sample("troupe_resource_total", {{"resource", "memory_mb"}}, total.memory_mb);
  w.family("troupe_resource_used", "gauge", "Resources held by actors on alive nodes.");
  w.sample("troupe_resource_used", {{"resource", "cpu"}}, used.cpus);
  w.sample("troupe_resource_used", {{"resource", "gpu"}}, used.gpus);
  w.sample("troupe_resource_used", {{"resource", "memory_mb"}}, used.memory_mb);

  std::map<std::string, int> by_state;
  for (auto st : {ActorState::pending, ActorState::starting, ActorState::alive, ActorState::restarting,
                  ActorState::dead})
    by_state[std::string(state_name(st))] = 0;
  long restarts = 0;
  for (const auto& a : s.actors) {
    ++by_state[std::string(state_name(a.state))];
    restarts += a.restarts;
  }
  w.family("troupe_actors", "gauge", "Actors by state.");
  for (const auto& [st, n] : by_state) w.sample("troupe_actors", {{"state", st}}, n);
  w.family("troupe_actor_restarts_total", "counter", "Restarts of all actors the scheduler knows.");
  w.sample("troupe_actor_restarts_total", {}, static_cast<double>(restarts));
  w.family("troupe_events_total", "counter", "State-change events published by the scheduler.");
  w.sample("troupe_events_total", {}, s.events.empty() ? 0.0 : static_cast<double>(s.events.back().seq));

  // Per actor: restarts from the tables; calls and bytes from "__stats".
  auto labels_of = [](const ActorInfo& a) {
    return std::map<std::string, std::string>{
        {"id", std::to_string(a.id)}, {"name", a.spec.name}, {"class", a.spec.class_name}};
  };
  w.family("troupe_actor_restarts", "gauge", "Restarts of each actor.");
  for (const auto& a : s.actors) w.sample("troupe_actor_restarts", labels_of(a), a.restarts);
  struct Counter {
    const char* name;
    const char* type;
    const char* help;
    uint64_t ActorCallStats::*field;
  };
  static const Counter counters[] = {
      {"troupe_actor_calls_total", "counter", "Calls served by the actor's current incarnation.",
       &ActorCallStats::calls_served},
      {"troupe_actor_queue_depth", "gauge", "Calls waiting for the actor's executor.", &ActorCallStats::queue_depth},
      {"troupe_actor_bytes_in_total", "counter", "Bytes received by the actor process.", &ActorCallStats::bytes_in},
      {"troupe_actor_bytes_out_total", "counter", "Bytes sent by the actor process.", &ActorCallStats::bytes_out},
      {"troupe_actor_malformed_total", "counter", "Messages that failed validation.", &ActorCallStats::malformed},
      {"troupe_actor_stale_rejected_total", "counter", "Calls fenced off for a stale incarnation.",
       &ActorCallStats::stale_rejected},
      {"troupe_actor_unknown_method_total", "counter", "Calls of methods the actor does not have.",
       &ActorCallStats::unknown_method},
      {"troupe_actor_overloaded_total", "counter", "Calls refused because the queue was full.",
       &ActorCallStats::overloaded},
  };
  uint64_t calls = 0, bytes_in = 0, bytes_out = 0;
  for (const auto& [id, st] : stats) {
    calls += st.calls_served;
    bytes_in += st.bytes_in;
    bytes_out += st.bytes_out;
  }
  for (const auto& c : counters) {
    w.family(c.name, c.type, c.help);
    for (const auto& a : s.actors) {
      auto it = stats.find(a.id);
      if (it != stats.end()) w.sample(c.name, labels_of(a), static_cast<double>(it->second.*c.field));
    }
  }
  w.family("troupe_calls", "gauge", "Calls served by all alive actors (current incarnations).");
  w.sample("troupe_calls", {}, static_cast<double>(calls));
  w.family("troupe_bytes", "gauge", "Bytes moved by all alive actor processes.");
  w.sample("troupe_bytes", {{"direction", "in"}}, static_cast<double>(bytes_in));
  w.sample("troupe_bytes", {{"direction", "out"}}, static_cast<double>(bytes_out));

  // Training jobs (docs/CLI.md, "jobs"); families stay declared while there are none.
  struct JobGauge {
    const char* name;
    const char* key;
    const char* help;
  };
  static const JobGauge job_gauges[] = {
      {"troupe_train_step", "step", "Last completed optimizer step of the job."},
      {"troupe_train_epoch", "epoch", "Current epoch of the job."},
      {"troupe_train_loss", "loss", "Mean training loss of the last step."},
      {"troupe_train_accuracy", "accuracy", "Last evaluated accuracy (0..1)."},
      {"troupe_train_samples_per_second", "samples_per_s", "Training throughput of the job."},
  };
  const json no_jobs = json::array();
  const json& js = jobs.is_array() ? jobs : no_jobs;
  for (const auto& g : job_gauges) {
    w.family(g.name, "gauge", g.help);
    for (const auto& j : js) {
      double v = num_or_nan(j, g.key);
      if (!std::isnan(v)) w.sample(g.name, {{"job", str(j, "name")}}, v);
    }
  }
  w.family("troupe_trainer_samples_per_second", "gauge", "Throughput of each trainer.");
  for (const auto& j : js) {
    auto tr = j.find("trainers");
    if (tr == j.end() || !tr->is_array()) continue;
    for (const auto& t : *tr) {
      double v = num_or_nan(t, "samples_per_s");
      if (!std::isnan(v)) w.sample("troupe_trainer_samples_per_second", {{"job", str(j, "name")}, {"trainer", str(t, "name")}}, v);
    }
  }
  return w.take();
}

}  // namespace troupe
