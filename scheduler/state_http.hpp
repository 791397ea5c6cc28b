#pragma once
// The scheduler's HTTP pages (DESIGN §1): "/" the dashboard, /api/state
// (JSON, the shape of docs/CLI.md), /api/stats (per-actor call counters, JSON)
// and /metrics (Prometheus text).
#include <chrono>
#include <functional>

#include "runtime/control.hpp"
#include "scheduler/actor_stats.hpp"
#include "scheduler/http_server.hpp"
#include "scheduler/prometheus.hpp"

namespace troupe {

/// Where the pages get their data. Both are called on the HTTP server's thread.
struct StateSource {
  std::function<ClusterState()> snapshot;  ///< required: a copy of the tables
  /// Optional: asks the ALIVE actors of a snapshot for "__stats" (blocks up to
  /// its own timeout; only /metrics and /api/stats call it).
  std::function<ActorStatsMap(const ClusterState&)> actor_stats;
};

/// Answers one request. Thread-safe if `source` is.
HttpResponse serve_state_http(const HttpRequest& request, const StateSource& source);
/// Answers one request from a snapshot alone (no per-actor counters). Pure.
HttpResponse serve_state_http(const HttpRequest& request, const ClusterState& state);

}  // namespace troupe
