#pragma once
// Text views of the cluster for people: aligned tables and key/value blocks,
// built from the JSON shape of docs/CLI.md (the same fields `--json` prints
// and filters match). Pure functions, thread-safe.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/error.hpp"

namespace troupe::cli {

using Json = nlohmann::json;

/// Rows as columns padded to the widest cell, two spaces apart, one line each.
std::string render_table(const std::vector<std::vector<std::string>>& rows);

/// The rows of `rows` (a JSON array of objects) that pass every filter:
/// "key=value" or "key!=value", key a top-level field; strings compare
/// without regard to case, numbers and booleans by their JSON text.
/// invalid_argument names the bad filter and the valid keys.
Result<Json> filter_rows(const Json& rows, const std::vector<std::string>& filters);

/// `troupe status`: scheduler, nodes, resources, actors by state, jobs.
std::string render_status(const Json& state, const std::string& address);
/// One row per actor.
std::string render_actors(const Json& actors);
/// One row per node.
std::string render_nodes(const Json& nodes);
/// One node in detail with the actors it holds (`state` for those).
std::string render_node(const Json& node, const Json& state);
/// One row per training job; "no training jobs" when empty.
std::string render_jobs(const Json& jobs);
/// One actor in detail; `stats` is its "__stats" (null when not ALIVE or not
/// answering, `stats_error` then says why); `state` gives the node's host.
std::string render_actor(const Json& actor, const Json& stats, const std::string& stats_error, const Json& state);
/// "12:04:31.250  #17  actor counter (id 3, inc 0)  RESTARTING  killed by user".
std::string format_event(const Json& event);
/// The last `n` events of `events`, oldest first.
std::string render_events(const Json& events, std::size_t n);
/// The training view per job: progress, per-trainer rates, contributors.
std::string render_train(const Json& jobs);
/// Per-actor calls, queue and bytes (`stats`: to_json(ActorStatsMap)) and totals.
std::string render_metrics(const Json& state, const Json& stats);

/// "12:04:31.250" in local time.
std::string clock_time(int64_t time_ms);
/// "1.5 kB", "12 B".
std::string human_bytes(double bytes);
/// "3", "1.5".
std::string human_number(double v);

}  // namespace troupe::cli
