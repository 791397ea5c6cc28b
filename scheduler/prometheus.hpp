#pragma once
// The scheduler's /metrics page: Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/). Metric names
// are listed in docs/CLI.md ("/metrics"). Pure functions, thread-safe.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "runtime/control.hpp"
#include "scheduler/actor_stats.hpp"

namespace troupe {

/// Every metric family of the cluster: nodes, resources, actors by state,
/// restarts, events, and per actor (from `stats`, the actors that answered
/// "__stats") calls, queue depth, bytes and rejections; per training job (from
/// `jobs`, the "jobs" array of to_json(ClusterState)) step, epoch, loss,
/// accuracy and samples/s.
std::string prometheus_metrics(const ClusterState& state, const ActorStatsMap& stats = {},
                               const nlohmann::json& jobs = nlohmann::json::array());

/// A label value escaped for the text format (\\, \", \n).
std::string prometheus_escape(std::string_view value);

}  // namespace troupe
