#pragma once
// ClusterState as JSON: one shape for /api/state, the dashboard and
// `troupe list --json` / `troupe get actor --json` (field names documented in
// docs/CLI.md; renaming one is a breaking change for tools). Pure functions,
// thread-safe.
#include <nlohmann/json.hpp>

#include "runtime/control.hpp"
#include "scheduler/actor_stats.hpp"

namespace troupe {

nlohmann::json to_json(const Resources& r);
nlohmann::json to_json(const NodeInfo& n);
nlohmann::json to_json(const ActorInfo& a);
nlohmann::json to_json(const Event& e);
/// A training job (docs/CLI.md, "Job"); an accuracy of -1 (not evaluated) is null.
nlohmann::json to_json(const JobInfo& j);
nlohmann::json to_json(const ActorCallStats& s);
/// {"<actor id>": {calls_served, …}} (object keys are strings in JSON).
nlohmann::json to_json(const ActorStatsMap& stats);
/// {time_ms, nodes, actors, events, jobs}. `jobs` is empty until the training
/// actors report; its shape is fixed in docs/CLI.md ("jobs") and is what the
/// train views (shell `train`, `troupe list jobs`, /metrics, the dashboard
/// curves) read.
nlohmann::json to_json(const ClusterState& s);

}  // namespace troupe
