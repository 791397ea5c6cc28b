#pragma once
// A node's resource accounting, written once: what an actor holds is added
// to its node's `used` when it is placed, found running (journal recovery, a
// node registering again) or launched, and taken back when it stops.
// Plain functions on the control structs; no state, so thread-safe.
#include <algorithm>

#include "runtime/control.hpp"

namespace troupe {

inline void add_resources(Resources& to, const Resources& r) {
  to.cpus += r.cpus;
  to.gpus += r.gpus;
  to.memory_mb += r.memory_mb;
}

/// Takes `r` back from `from`, never below zero (a release after a journal
/// recovery that did not count the actor must not make a node look bigger).
inline void take_back_resources(Resources& from, const Resources& r) {
  from.cpus = std::max(0.0, from.cpus - r.cpus);
  from.gpus = std::max(0.0, from.gpus - r.gpus);
  from.memory_mb = std::max(0.0, from.memory_mb - r.memory_mb);
}

/// What node `n` has left.
inline Resources free_resources(const NodeInfo& n) {
  return {n.total.cpus - n.used.cpus, n.total.gpus - n.used.gpus, n.total.memory_mb - n.used.memory_mb};
}

/// Whether `want` fits in what `n` has left (memory only when both sides state it).
inline bool fits(const NodeInfo& n, const Resources& want) {
  const Resources free = free_resources(n);
  constexpr double kSlack = 1e-9;  // fractional CPUs summed in another order
  if (free.cpus + kSlack < want.cpus || free.gpus + kSlack < want.gpus) return false;
  return !(want.memory_mb > 0 && n.total.memory_mb > 0 && free.memory_mb + kSlack < want.memory_mb);
}

}  // namespace troupe
