#pragma once
// Membership and fencing of an aggregator shard's trainer slots (aggregator.hpp,
// "Faults"): which actor and incarnation holds each slot, whether it is alive,
// from which version a lockstep step waits for it, and the newest incarnation
// of each trainer the scheduler reported dead. An incarnation older than the
// newest known for its slot's actor, or one reported dead, is fenced off: its
// pushes and joins are refused, so no gradient of a zombie is ever applied.
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "actors/training/messages.hpp"
#include "runtime/control.hpp"
#include "runtime/ids.hpp"

namespace troupe::train {

/// One trainer slot as a shard sees it.
struct SlotState {
  ActorId actor = 0;          ///< the newest actor seen in the slot (0: none yet)
  Incarnation incarnation = 0;
  bool alive = true;
  int64_t joined_at = 0;      ///< sync/backup: waited for from this version on
  int64_t next_step = 0;      ///< data cursor: steps of this slot handled so far
  int64_t last_version = -1;  ///< the last version it contributed to (-1: none)
};

/// A shard's trainer slots. A plain value: not thread-safe (the aggregator
/// uses it on the executor thread only).
class Membership {
 public:
  /// `slots` empty slots, all alive and waited for from version 0.
  explicit Membership(int slots) : slots_(static_cast<std::size_t>(slots)) {}

  [[nodiscard]] std::size_t size() const { return slots_.size(); }
  [[nodiscard]] SlotState& operator[](std::size_t slot) { return slots_[slot]; }
  [[nodiscard]] const SlotState& operator[](std::size_t slot) const { return slots_[slot]; }
  [[nodiscard]] auto begin() { return slots_.begin(); }
  [[nodiscard]] auto end() { return slots_.end(); }
  [[nodiscard]] auto begin() const { return slots_.begin(); }
  [[nodiscard]] auto end() const { return slots_.end(); }

  /// Whether incarnation `inc` of `actor` is fenced off from `slot`: older than
  /// the slot's newest incarnation of that actor, or reported dead.
  [[nodiscard]] bool fenced(std::size_t slot, ActorId actor, Incarnation inc) const;
  /// Makes (actor, inc), not fenced, the occupant of `slot`. True when it
  /// replaced another occupant: the caller discards the old one's pending push
  /// and hands its batch out again.
  bool adopt(std::size_t slot, ActorId actor, Incarnation inc);
  /// A dead slot's trainer is back: alive again, waited for from `joined_at`.
  /// False (nothing changes) when the slot was alive.
  bool revive(std::size_t slot, int64_t joined_at);
  /// The scheduler reported incarnation `inc` of `actor` dead. Returns the
  /// slots that held it (or an older incarnation) alive and are now dead;
  /// empty when the news is old or names no live slot's trainer.
  std::vector<std::size_t> died(ActorId actor, Incarnation inc);
  /// Learns from the scheduler's view which slots' trainers died for good
  /// (DEAD) while this shard was down: they are not waited for, and fenced.
  void learn_dead(const std::vector<ActorInfo>& actors);

  /// Whether a lockstep step at `version` waits for `slot`: alive and joined by then.
  [[nodiscard]] bool waited_for(std::size_t slot, int64_t version) const {
    return slots_[slot].alive && slots_[slot].joined_at <= version;
  }
  /// The lowest data cursor of the live slots (ssp's bound); INT64_MAX when none is alive.
  [[nodiscard]] int64_t slowest_step() const;
  /// Every slot waited for from `version` on (a restore or rollback); with
  /// `lockstep` its data cursor moves there too (lockstep cursors are versions).
  void restart_at(int64_t version, bool lockstep);
  /// As ShardStats reports them.
  [[nodiscard]] std::vector<SlotInfo> info() const;

 private:
  std::vector<SlotState> slots_;
  std::map<ActorId, int64_t> dead_;  // the newest incarnation of each trainer reported dead
};

}  // namespace troupe::train
