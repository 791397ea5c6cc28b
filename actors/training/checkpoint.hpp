#pragma once
// A shard's checkpoint: weights, Adam moments, version, data cursors and the
// running epoch's statistics, written atomically (temporary file, fsync,
// rename, fsync of the directory) so that a crash leaves the old or the new
// checkpoint, never a torn one. The previous checkpoint is kept beside it
// ("<path>.prev"): a shard that other shards' reconciliation asks to roll back
// one interval finds it there (actors/training/aggregator.hpp).
//   file: "TRPCKPT1" | u64 little-endian header length | msgpack header |
//         params f32[n] | m f32[n] | v f32[n]
#include <cstdint>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "actors/training/batch_ledger.hpp"
#include "runtime/error.hpp"

namespace troupe::train {

struct ShardCheckpoint {
  int shard = 0;
  int shards = 1;
  int64_t begin = 0, end = 0;
  int64_t version = 0;
  int64_t adam_step = 0;
  std::vector<int64_t> next_step;  ///< per trainer slot
  int next_epoch = 0;
  double epoch_loss_sum = 0;  ///< the running epoch's statistics
  int64_t epoch_samples = 0;
  int64_t epoch_correct = 0;
  int64_t timeline = 0;                    ///< the shard's timeline when written
  std::vector<uint64_t> slot_actor;        ///< per trainer slot: the actor last seen in it (0: none)
  std::vector<uint32_t> slot_incarnation;  ///< per trainer slot: its incarnation
  BatchLedger::State ledger;               ///< shard 0: the batch ledger (batch_ledger.hpp)
  MSGPACK_DEFINE_MAP(shard, shards, begin, end, version, adam_step, next_step, next_epoch, epoch_loss_sum,
                     epoch_samples, epoch_correct, timeline, slot_actor, slot_incarnation, ledger);
  std::vector<float> params, m, v;  // not in the header: raw after it
};

/// "<dir>/shard-<s>-of-<S>.ckpt".
std::string checkpoint_path(const std::string& dir, int shard, int shards);

/// Where the previous checkpoint of `path` is kept.
inline std::string previous_checkpoint_path(const std::string& path) { return path + ".prev"; }

/// Writes atomically (creates dir); the checkpoint it replaces becomes
/// previous_checkpoint_path(path). io_error on failure. Thread-safe for distinct paths.
Result<void> write_checkpoint(const std::string& path, const ShardCheckpoint& c);

/// Reads and validates; not_found when there is no file, io_error when it is damaged.
Result<ShardCheckpoint> read_checkpoint(const std::string& path);

}  // namespace troupe::train
