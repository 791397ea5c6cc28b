#pragma once
// The checkpoints an aggregator shard keeps (aggregator.hpp, "Faults"): the
// newest and the one before it (checkpoint.hpp writes them atomically and
// keeps the previous beside the new one). A restarted shard resumes from the
// newest; a reconciliation can roll a shard back to the version of either kept
// checkpoint, or to 0 (the initial weights, always reachable).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "actors/training/checkpoint.hpp"
#include "runtime/error.hpp"

namespace troupe::train {

/// A plain value: not thread-safe (the aggregator uses it on the executor
/// thread only). Files of distinct (dir, shard, shards) are independent.
class ShardCheckpoints {
 public:
  /// Shard `shard` of `shards` writing under `dir` (empty: no checkpoints).
  ShardCheckpoints(std::string dir, int shard, int shards);

  /// Whether the job has a checkpoint directory.
  [[nodiscard]] bool enabled() const { return !dir_.empty(); }
  /// Where the newest checkpoint is written (checkpoint_path()).
  [[nodiscard]] const std::string& path() const { return path_; }

  /// The checkpoint to resume from: the newest, or the previous one when a
  /// crash came between keeping the previous and renaming the new one; none
  /// when there is none (or checkpoints are off). Learns which versions are
  /// kept. Throws troupe::Exception with read_checkpoint()'s error (io_error)
  /// for a damaged one.
  [[nodiscard]] std::optional<ShardCheckpoint> latest();
  /// Writes c atomically; on success c's version is the newest kept and the
  /// former newest the previous. io_error on failure (the kept ones stay).
  Result<void> write(const ShardCheckpoint& c);

  /// Whether a kept checkpoint holds version v.
  [[nodiscard]] bool keeps(int64_t v) const { return v >= 0 && (v == newest_ || v == previous_); }
  /// The versions a rollback can reach besides the current one: the kept
  /// checkpoints', newest first, then 0.
  [[nodiscard]] std::vector<int64_t> rollback_points() const;
  /// The kept checkpoint of version v. not_found when none holds it (or its
  /// file now holds another version), io_error when it is damaged.
  [[nodiscard]] Result<ShardCheckpoint> read(int64_t v) const;

 private:
  std::string dir_, path_;
  int64_t newest_ = -1, previous_ = -1;  // versions of the kept checkpoints (-1: none)
};

}  // namespace troupe::train
