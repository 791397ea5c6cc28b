#pragma once
// Several shards: "shard 0 decides, the others follow" (aggregator.hpp).
// Shard 0 logs which pushes each version applied (a Commit) and hands its
// recent commits to the trainers with the weights; the trainers relay them to
// the other shards, which keep the ones they have not applied yet, by version,
// and apply them strictly in order, each with exactly the pushes it names.
#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "actors/training/messages.hpp"
#include "actors/training/partial_push.hpp"

namespace troupe::train {

/// A plain value: not thread-safe (the aggregator uses it on the executor thread only).
class CommitLog {
 public:
  /// How many versions ahead of a follower a relayed commit may be, and how
  /// many commits shard 0 keeps: a follower lags by the commits no trainer
  /// has relayed yet, a step or two; far more than that is kept.
  static constexpr int64_t kWindow = 256;

  // ---- shard 0 ----
  /// Logs that `version`, on `timeline`, applied `pushes` (in slot order).
  void record(int64_t version, int64_t timeline, const std::vector<Contribution>& pushes);
  /// The logged commits of the versions after `since`, oldest first.
  [[nodiscard]] std::vector<Commit> after(int64_t since) const;

  // ---- the other shards ----
  /// Keeps the relayed commits of `timeline` that are ahead of `current`, by
  /// at most kWindow (another timeline's, one applied already, or one beyond
  /// what any trainer can relay, a bogus one, is ignored).
  void relay(const std::vector<Commit>& commits, int64_t timeline, int64_t current);
  /// The relayed commit of version current + 1, forgetting those at or below
  /// `current`; null when it has not been relayed (a gap: a later relay brings it).
  [[nodiscard]] const Commit* next(int64_t current);
  /// Forgets the relayed commit of `version` (applied, or not applicable).
  void drop(int64_t version) { relayed_.erase(version); }

  // ---- both ----
  /// A rollback to `version`: forgets the logged commits after it and every relayed one.
  void rollback(int64_t version);
  /// Forgets everything (a fresh start).
  void clear();

 private:
  std::deque<Commit> logged_;          // shard 0: the last versions' commits, oldest first
  std::map<int64_t, Commit> relayed_;  // a follower: commits relayed ahead of their pushes, by version
};

}  // namespace troupe::train
