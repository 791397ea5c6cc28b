#pragma once
// The scheduler's HTTP pages: /api/state (JSON), /metrics (Prometheus text).
#include "runtime/control.hpp"
#include "scheduler/http_server.hpp"

namespace troupe {

/// Answers one request from a snapshot of the tables. Thread-safe (pure).
HttpResponse serve_state_http(const HttpRequest& request, const ClusterState& state);
/// The Prometheus text exposition of the state.
std::string prometheus_metrics(const ClusterState& state);

}  // namespace troupe
