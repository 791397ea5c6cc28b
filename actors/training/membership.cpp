#include "actors/training/membership.hpp"

#include <algorithm>
#include <climits>

namespace troupe::train {

bool Membership::fenced(std::size_t slot, ActorId actor, Incarnation inc) const {
  const SlotState& s = slots_[slot];
  if (s.actor == actor && inc < s.incarnation) return true;
  auto it = dead_.find(actor);
  return it != dead_.end() && static_cast<int64_t>(inc) <= it->second;
}

bool Membership::adopt(std::size_t slot, ActorId actor, Incarnation inc) {
  SlotState& s = slots_[slot];
  if (s.actor == actor && s.incarnation == inc) return false;
  s.actor = actor;
  s.incarnation = inc;
  return true;
}

bool Membership::revive(std::size_t slot, int64_t joined_at) {
  SlotState& s = slots_[slot];
  if (s.alive) return false;
  s.alive = true;
  s.joined_at = joined_at;
  return true;
}

std::vector<std::size_t> Membership::died(ActorId actor, Incarnation inc) {
  int64_t& dead = dead_.try_emplace(actor, -1).first->second;
  if (static_cast<int64_t>(inc) <= dead) return {};  // already known
  dead = inc;
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    SlotState& s = slots_[i];
    // A newer incarnation in the slot is not the one that died.
    if (s.actor != actor || s.incarnation > inc || !s.alive) continue;
    s.alive = false;
    out.push_back(i);
  }
  return out;
}

void Membership::learn_dead(const std::vector<ActorInfo>& actors) {
  for (auto& s : slots_) {
    if (s.actor == 0) continue;
    for (const auto& a : actors)
      if (a.id == s.actor && a.state == ActorState::dead) {
        s.alive = false;
        dead_[a.id] = std::max<int64_t>(dead_[a.id], a.incarnation);
      }
  }
}

int64_t Membership::slowest_step() const {
  int64_t slowest = INT64_MAX;
  for (const auto& s : slots_)
    if (s.alive) slowest = std::min(slowest, s.next_step);
  return slowest;
}

void Membership::restart_at(int64_t version, bool lockstep) {
  for (auto& s : slots_) {
    s.joined_at = version;
    if (lockstep) s.next_step = version;
  }
}

std::vector<SlotInfo> Membership::info() const {
  std::vector<SlotInfo> out;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    const SlotState& s = slots_[i];
    out.push_back({static_cast<int>(i), s.actor, s.incarnation, s.alive, s.joined_at, s.last_version});
  }
  return out;
}

}  // namespace troupe::train
