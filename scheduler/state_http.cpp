#include "scheduler/state_http.hpp"

#include <map>

#include "scheduler/state_json.hpp"

namespace troupe {

std::string prometheus_metrics(const ClusterState& s) {
  std::string out;
  auto metric = [&](const std::string& name, const std::string& help, const std::string& type) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  int alive_nodes = 0;
  double cpus = 0, cpus_used = 0, gpus = 0, gpus_used = 0;
  for (const auto& n : s.nodes) {
    if (!n.alive) continue;
    ++alive_nodes;
    cpus += n.total.cpus;
    cpus_used += n.used.cpus;
    gpus += n.total.gpus;
    gpus_used += n.used.gpus;
  }
  metric("troupe_nodes", "Nodes by state.", "gauge");
  out += "troupe_nodes{state=\"ALIVE\"} " + std::to_string(alive_nodes) + "\n";
  out += "troupe_nodes{state=\"DEAD\"} " + std::to_string(s.nodes.size() - alive_nodes) + "\n";
  metric("troupe_resource_total", "Schedulable resources of alive nodes.", "gauge");
  out += "troupe_resource_total{resource=\"cpu\"} " + std::to_string(cpus) + "\n";
  out += "troupe_resource_total{resource=\"gpu\"} " + std::to_string(gpus) + "\n";
  metric("troupe_resource_used", "Resources held by actors.", "gauge");
  out += "troupe_resource_used{resource=\"cpu\"} " + std::to_string(cpus_used) + "\n";
  out += "troupe_resource_used{resource=\"gpu\"} " + std::to_string(gpus_used) + "\n";
  std::map<std::string, int> by_state{{"PENDING", 0}, {"STARTING", 0}, {"ALIVE", 0}, {"RESTARTING", 0}, {"DEAD", 0}};
  long restarts = 0;
  for (const auto& a : s.actors) {
    ++by_state[std::string(state_name(a.state))];
    restarts += a.restarts;
  }
  metric("troupe_actors", "Actors by state.", "gauge");
  for (const auto& [st, n] : by_state) out += "troupe_actors{state=\"" + st + "\"} " + std::to_string(n) + "\n";
  metric("troupe_actor_restarts_total", "Actor restarts since the scheduler started.", "counter");
  out += "troupe_actor_restarts_total " + std::to_string(restarts) + "\n";
  metric("troupe_events_total", "State-change events published.", "counter");
  out += "troupe_events_total " + std::to_string(s.events.empty() ? 0 : s.events.back().seq) + "\n";
  return out;
}

HttpResponse serve_state_http(const HttpRequest& req, const ClusterState& state) {
  std::string path = req.target.substr(0, req.target.find('?'));
  if (req.method != "GET") return {405, "text/plain; charset=utf-8", "only GET is served\n"};
  if (path == "/api/state") return {200, "application/json", to_json(state).dump() + "\n"};
  if (path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", prometheus_metrics(state)};
  if (path == "/")
    return {200, "text/plain; charset=utf-8", "troupe scheduler: see /api/state (JSON) and /metrics (Prometheus)\n"};
  return {404, "text/plain; charset=utf-8", "no page " + path + "\n"};
}

}  // namespace troupe
