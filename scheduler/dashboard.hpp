#pragma once
// The scheduler's dashboard at "/": one self-contained HTML page (inline CSS,
// JS and SVG; no build step, nothing fetched from elsewhere) that polls
// /api/state and /api/stats and shows nodes, actors coloured by state, recent
// events and per-job loss and accuracy curves. Pure, thread-safe.
#include <string>

#include <nlohmann/json.hpp>

namespace troupe {

/// The page, with `state` (to_json(ClusterState)) embedded so that the first
/// paint already shows the cluster, before the first poll answers.
std::string dashboard_html(const nlohmann::json& state);

}  // namespace troupe
