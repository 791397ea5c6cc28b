#pragma once
// ClusterState as JSON: one shape for /api/state and `troupe list --json`
// (field names documented in docs/CLI.md).
#include <nlohmann/json.hpp>

#include "runtime/control.hpp"

namespace troupe {

nlohmann::json to_json(const NodeInfo& n);
nlohmann::json to_json(const ActorInfo& a);
nlohmann::json to_json(const Event& e);
nlohmann::json to_json(const ClusterState& s);

}  // namespace troupe
