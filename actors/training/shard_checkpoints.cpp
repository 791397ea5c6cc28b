#include "actors/training/shard_checkpoints.hpp"

#include <utility>

namespace troupe::train {

ShardCheckpoints::ShardCheckpoints(std::string dir, int shard, int shards)
    : dir_(std::move(dir)), path_(dir_.empty() ? std::string() : checkpoint_path(dir_, shard, shards)) {}

std::optional<ShardCheckpoint> ShardCheckpoints::latest() {
  if (!enabled()) return std::nullopt;
  auto prev = read_checkpoint(previous_checkpoint_path(path_));
  auto c = read_checkpoint(path_);
  if (!c.ok() && c.error().code == Errc::not_found && prev.ok()) {
    // A crash between keeping the previous checkpoint and renaming the new one.
    c = std::move(prev);
    prev = Error(Errc::not_found, "");
  }
  if (!c.ok()) {
    if (c.error().code == Errc::not_found) return std::nullopt;
    throw Exception(c.error());
  }
  previous_ = prev.ok() ? prev->version : -1;
  newest_ = c->version;
  return std::move(c.value());
}

Result<void> ShardCheckpoints::write(const ShardCheckpoint& c) {
  auto r = write_checkpoint(path_, c);
  if (r.ok()) {
    previous_ = newest_;
    newest_ = c.version;
  }
  return r;
}

std::vector<int64_t> ShardCheckpoints::rollback_points() const {
  std::vector<int64_t> out;
  if (newest_ >= 0) out.push_back(newest_);
  if (previous_ >= 0) out.push_back(previous_);
  out.push_back(0);
  return out;
}

Result<ShardCheckpoint> ShardCheckpoints::read(int64_t v) const {
  if (!keeps(v))
    return Error(Errc::not_found, "no kept checkpoint of " + path_ + " holds version " + std::to_string(v));
  auto c = read_checkpoint(v == newest_ ? path_ : previous_checkpoint_path(path_));
  if (!c.ok()) return c;
  if (c->version != v)
    return Error(Errc::not_found, "checkpoint " + path_ + " holds version " + std::to_string(c->version));
  return c;
}

}  // namespace troupe::train
