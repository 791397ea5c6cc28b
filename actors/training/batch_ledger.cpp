#include "actors/training/batch_ledger.hpp"

#include <algorithm>
#include <stdexcept>

#include "actors/training/sampler.hpp"

namespace troupe::train {

BatchLedger::BatchLedger(const JobSpec& job) : job_(job) {
  if (job_.steps_per_epoch <= 0 || job_.total_steps <= 0 || job_.trainers <= 0)
    throw std::invalid_argument("batch ledger: job not finalized");
  epochs_ = static_cast<int>((job_.total_steps + job_.steps_per_epoch - 1) / job_.steps_per_epoch);
  handed_.assign(static_cast<std::size_t>(job_.trainers), BatchId{});
  open_epoch(0);
}

int64_t BatchLedger::steps_in_epoch() const {
  return std::clamp<int64_t>(job_.total_steps - static_cast<int64_t>(epoch_) * job_.steps_per_epoch, 0,
                             job_.steps_per_epoch);
}

std::size_t BatchLedger::index(BatchId b) const {
  const int64_t in_epoch = b.step - static_cast<int64_t>(epoch_) * job_.steps_per_epoch;
  return static_cast<std::size_t>(static_cast<int64_t>(b.slot) * steps_in_epoch() + in_epoch);
}

void BatchLedger::open_epoch(int e) {
  epoch_ = e;
  const int64_t n = steps_in_epoch();
  state_.assign(static_cast<std::size_t>(job_.trainers * n), todo);
  todo_left_.assign(static_cast<std::size_t>(job_.trainers), n);
  std::fill(handed_.begin(), handed_.end(), BatchId{});
  open_ = EpochLedger{};
  open_.epoch = e;
  open_.batches = static_cast<int64_t>(state_.size());
  const int64_t first = static_cast<int64_t>(e) * job_.steps_per_epoch;
  for (int s = 0; s < job_.trainers; ++s)
    for (int64_t k = 0; k < n; ++k) open_.samples_expected += batch_samples(job_, s, first + k);
}

std::optional<BatchId> BatchLedger::next_of(int slot, bool from_end) const {
  const int64_t n = steps_in_epoch();
  const int64_t first = static_cast<int64_t>(epoch_) * job_.steps_per_epoch;
  const std::size_t row = static_cast<std::size_t>(static_cast<int64_t>(slot) * n);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = from_end ? n - 1 - k : k;
    if (state_[row + static_cast<std::size_t>(i)] == todo) return BatchId{slot, first + i};
  }
  return std::nullopt;
}

bool BatchLedger::can_assign(int trainer) const {
  if (handed_[static_cast<std::size_t>(trainer)].valid()) return true;
  return !finished() && std::any_of(todo_left_.begin(), todo_left_.end(), [](int64_t n) { return n > 0; });
}

BatchId BatchLedger::assign(int trainer) {
  BatchId& mine = handed_[static_cast<std::size_t>(trainer)];
  if (mine.valid() || finished()) return mine;
  // Its own order first (so that, without faults, every slot trains exactly
  // the sampler's batch of each step); then the end of the slot with most left,
  // which leaves that slot's own trainer (if alive) its next batches in order.
  int from = trainer;
  if (todo_left_[static_cast<std::size_t>(trainer)] == 0) {
    const auto most = std::max_element(todo_left_.begin(), todo_left_.end());
    if (*most == 0) return BatchId{};
    from = static_cast<int>(most - todo_left_.begin());
  }
  const auto b = next_of(from, from != trainer);
  if (!b) return BatchId{};  // unreachable while todo_left_ agrees with state_
  state_[index(*b)] = handed;
  --todo_left_[static_cast<std::size_t>(from)];
  mine = *b;
  return mine;
}

BatchId BatchLedger::assigned(int trainer) const { return handed_[static_cast<std::size_t>(trainer)]; }

bool BatchLedger::settle(int trainer, BatchId b, int64_t samples) {
  BatchId& mine = handed_[static_cast<std::size_t>(trainer)];
  if (!mine.valid() || !(mine == b)) return false;
  uint8_t& st = state_[index(b)];
  if (st == settled) open_.samples_duplicated += samples;  // cannot happen: a settled batch is never handed out
  st = settled;
  ++open_.batches_settled;
  open_.samples_trained += samples;
  if (b.slot != trainer) ++open_.batches_stolen;
  mine = BatchId{};
  return true;
}

void BatchLedger::release(int trainer) {
  BatchId& mine = handed_[static_cast<std::size_t>(trainer)];
  if (!mine.valid()) return;
  state_[index(mine)] = todo;
  ++todo_left_[static_cast<std::size_t>(mine.slot)];
  ++open_.batches_redone;
  mine = BatchId{};
}

void BatchLedger::release_all() {
  for (int t = 0; t < job_.trainers; ++t) release(t);
}

std::optional<EpochLedger> BatchLedger::close_if_done() {
  if (finished() || open_.batches_settled < open_.batches) return std::nullopt;
  EpochLedger done = open_;
  closed_.push_back(done);
  open_epoch(epoch_ + 1);
  return done;
}

EpochLedger BatchLedger::open() const { return open_; }

double BatchLedger::progress() const {
  int64_t settled_batches = open_.batches_settled;
  for (const auto& e : closed_) settled_batches += e.batches_settled;
  return static_cast<double>(settled_batches) / static_cast<double>(job_.trainers * job_.total_steps);
}

BatchLedger::State BatchLedger::save() const {
  State s;
  s.epoch = epoch_;
  s.settled.resize(state_.size());
  // A batch handed out but not applied is saved as to do: after a restore it is handed out again.
  for (std::size_t i = 0; i < state_.size(); ++i) s.settled[i] = state_[i] == settled ? 1 : 0;
  s.open = open_;
  s.closed = closed_;
  return s;
}

bool BatchLedger::load(const State& s) {
  if (s.epoch < 0 || s.epoch > epochs_) return false;
  const int saved_epoch = epoch_;
  epoch_ = s.epoch;
  const bool fits = static_cast<int64_t>(s.settled.size()) == job_.trainers * steps_in_epoch();
  epoch_ = saved_epoch;
  if (!fits) return false;
  open_epoch(s.epoch);
  const int64_t n = steps_in_epoch();
  for (std::size_t i = 0; i < s.settled.size(); ++i) {
    if (s.settled[i] == 0) continue;
    state_[i] = settled;
    --todo_left_[static_cast<std::size_t>(static_cast<int64_t>(i) / std::max<int64_t>(n, 1))];
  }
  open_ = s.open;
  closed_ = s.closed;
  return true;
}

}  // namespace troupe::train
