#include "actors/training/commit_log.hpp"

namespace troupe::train {

void CommitLog::record(int64_t version, int64_t timeline, const std::vector<Contribution>& pushes) {
  Commit c{version, timeline, {}};
  for (const auto& p : pushes) c.pushes.insert(c.pushes.end(), {p.slot, static_cast<int64_t>(p.incarnation), p.step});
  logged_.push_back(std::move(c));
  while (static_cast<int64_t>(logged_.size()) > kWindow) logged_.pop_front();
}

std::vector<Commit> CommitLog::after(int64_t since) const {
  std::vector<Commit> out;
  for (const Commit& c : logged_)
    if (c.version > since) out.push_back(c);
  return out;
}

void CommitLog::relay(const std::vector<Commit>& commits, int64_t timeline, int64_t current) {
  for (const Commit& c : commits)
    if (c.timeline == timeline && c.version > current && c.version <= current + kWindow) relayed_.emplace(c.version, c);
}

const Commit* CommitLog::next(int64_t current) {
  while (!relayed_.empty() && relayed_.begin()->first <= current) relayed_.erase(relayed_.begin());
  if (relayed_.empty() || relayed_.begin()->first != current + 1) return nullptr;
  return &relayed_.begin()->second;
}

void CommitLog::rollback(int64_t version) {
  std::erase_if(logged_, [&](const Commit& c) { return c.version > version; });
  relayed_.clear();
}

void CommitLog::clear() {
  logged_.clear();
  relayed_.clear();
}

}  // namespace troupe::train
