#pragma once
// The per-actor counters every actor process serves as the built-in method
// "__stats" (runtime/actor_process.cpp), and a fan-out query over a cluster.
// Used by /metrics and by `troupe shell` (`actor NAME`, `metrics`).
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include <msgpack.hpp>

#include "runtime/client.hpp"
#include "runtime/control.hpp"

namespace troupe {

/// The body of a "__stats" reply. Decoded by key, so it stays readable when
/// the actor process adds counters.
struct ActorCallStats {
  uint64_t calls_served = 0;    ///< calls whose method ran
  uint64_t queue_depth = 0;     ///< calls waiting for the actor's executor now
  uint64_t malformed = 0;       ///< messages that failed validation
  uint64_t stale_rejected = 0;  ///< calls addressed to another incarnation (fenced)
  uint64_t unknown_method = 0;
  uint64_t overloaded = 0;      ///< calls refused because the queue was full
  uint64_t bytes_in = 0;        ///< all frames received by the process
  uint64_t bytes_out = 0;       ///< all frames sent by the process
  MSGPACK_DEFINE_MAP(calls_served, queue_depth, malformed, stale_rejected, unknown_method, overloaded, bytes_in,
                     bytes_out);
};

/// Per actor id; actors that did not answer are absent.
using ActorStatsMap = std::map<ActorId, ActorCallStats>;

/// Asks one actor process at `endpoint` for its counters; blocks up to
/// `timeout`. Thread-safe (Client is).
Result<ActorCallStats> query_actor_stats(Client& client, const std::string& endpoint,
                                         std::chrono::milliseconds timeout);

/// Asks every ALIVE actor of `state` at once and waits up to `timeout` in
/// all; the ones that do not answer in time are left out. Thread-safe.
ActorStatsMap query_actor_stats(Client& client, const ClusterState& state, std::chrono::milliseconds timeout);

}  // namespace troupe
