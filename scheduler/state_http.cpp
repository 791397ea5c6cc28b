#include "scheduler/state_http.hpp"

#include "scheduler/dashboard.hpp"
#include "scheduler/state_json.hpp"

namespace troupe {

HttpResponse serve_state_http(const HttpRequest& req, const StateSource& source) {
  const std::string path = req.target.substr(0, req.target.find('?'));
  if (req.method != "GET" && req.method != "HEAD") return {405, "text/plain; charset=utf-8", "only GET is served\n"};
  if (path != "/" && path != "/index.html" && path != "/api/state" && path != "/api/stats" && path != "/metrics")
    return {404, "text/plain; charset=utf-8", "no page " + path + " (try /, /api/state, /api/stats, /metrics)\n"};
  const ClusterState state = source.snapshot();
  auto stats = [&] { return source.actor_stats ? source.actor_stats(state) : ActorStatsMap{}; };
  if (path == "/api/state") return {200, "application/json", to_json(state).dump() + "\n"};
  if (path == "/api/stats") return {200, "application/json", to_json(stats()).dump() + "\n"};
  if (path == "/metrics") {
    const auto jobs = to_json(state)["jobs"];
    return {200, "text/plain; version=0.0.4; charset=utf-8", prometheus_metrics(state, stats(), jobs)};
  }
  return {200, "text/html; charset=utf-8", dashboard_html(to_json(state))};
}

HttpResponse serve_state_http(const HttpRequest& req, const ClusterState& state) {
  return serve_state_http(req, StateSource{[&state] { return state; }, {}});
}

}  // namespace troupe
