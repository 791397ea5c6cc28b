#include "actors/training/epoch_book.hpp"

#include <string>

namespace troupe::train {

EpochAccount EpochBook::open_account() const {
  auto it = accounts_.find(open_);
  return it == accounts_.end() ? EpochAccount{} : it->second;
}

void EpochBook::add(int e, double loss_sum, int64_t samples, int64_t correct) {
  EpochAccount& a = accounts_[e];
  a.loss_sum += loss_sum;
  a.samples += samples;
  a.correct += correct;
}

void EpochBook::restart(int open, EpochAccount account) {
  open_ = open;
  accounts_.clear();
  accounts_[open_] = account;
}

void EpochBook::close(int64_t version, const Tensor& w, const EpochLedger& ledger) {
  const int e = open_++;
  const EpochAccount acc = accounts_[e];
  accounts_.erase(e);
  EpochSummary s{e, version, acc.loss_sum, acc.samples, acc.correct, e == total_ - 1, w, ledger};
  closed_[e] = s;
  if (auto it = waiters_.find(e); it != waiters_.end()) {
    for (auto& d : it->second) d.resolve(s);
    waiters_.erase(it);
  }
  while (closed_.size() > kKept) closed_.erase(closed_.begin());
}

Deferred<EpochSummary> EpochBook::wait(int e) {
  Deferred<EpochSummary> d;
  if (e < 0 || e >= total_) {
    d.fail(Error(Errc::invalid_argument,
                 "epoch " + std::to_string(e) + " out of range [0, " + std::to_string(total_) + ")"));
  } else if (auto it = closed_.find(e); it != closed_.end()) {
    d.resolve(it->second);
  } else if (e < open_) {
    d.fail(Error(Errc::not_found, "epoch " + std::to_string(e) + " is no longer kept"));
  } else {
    waiters_[e].push_back(d);
  }
  return d;
}

void EpochBook::rollback(int64_t version) {
  std::erase_if(closed_, [&](const auto& kv) { return kv.second.version > version; });
}

}  // namespace troupe::train
