#pragma once
// Identifiers and the actor life cycle of DESIGN §4.
#include <cstdint>
#include <string_view>

#include <msgpack.hpp>

namespace troupe {

using ActorId = uint64_t;      ///< assigned by the scheduler, never reused; 0 = none
using NodeId = uint64_t;       ///< assigned by the scheduler on registration; 0 = none
using Incarnation = uint32_t;  ///< 0 for the first start, +1 on every restart
using JobId = uint64_t;        ///< assigned by the scheduler when a job registers, never reused; 0 = none

/// PENDING (no resources yet) → ALIVE → RESTARTING → ALIVE … → DEAD. Wire codes.
enum class ActorState : uint8_t { pending = 0, starting = 1, alive = 2, restarting = 3, dead = 4 };

/// "PENDING", "ALIVE", …
constexpr std::string_view state_name(ActorState s) {
  switch (s) {
    case ActorState::pending: return "PENDING";
    case ActorState::starting: return "STARTING";
    case ActorState::alive: return "ALIVE";
    case ActorState::restarting: return "RESTARTING";
    case ActorState::dead: return "DEAD";
  }
  return "?";
}

}  // namespace troupe

MSGPACK_ADD_ENUM(troupe::ActorState);
