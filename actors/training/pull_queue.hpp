#pragma once
// The long-poll pulls an aggregator shard has not answered yet (aggregator.hpp):
// a pull waits until the weights are recent enough for the mode; at most one
// waits per trainer slot (a newer one replaces an abandoned older one).
#include <cstddef>
#include <functional>
#include <vector>

#include "actors/training/messages.hpp"
#include "runtime/deferred.hpp"
#include "runtime/error.hpp"

namespace troupe::train {

/// A plain value: not thread-safe (the aggregator uses it on the executor
/// thread only); the Deferreds it answers are thread-safe themselves.
class PullQueue {
 public:
  /// Parks pull r until answer() finds it ready. A pull of the same slot
  /// already waiting fails with timeout ("superseded"): its caller gave up.
  void park(PullRequest r, Deferred<Weights> reply);
  /// Answers, in the order they were parked, the pulls for which ready(r)
  /// holds with weights(r); the others keep waiting.
  void answer(const std::function<bool(const PullRequest&)>& ready,
              const std::function<Weights(const PullRequest&)>& weights);
  /// Fails every waiting pull with e (the shard rolled back: the callers join again).
  void fail_all(const Error& e);
  /// How many pulls wait.
  [[nodiscard]] std::size_t size() const { return waiting_.size(); }

 private:
  struct Waiting {
    PullRequest req;
    Deferred<Weights> reply;
  };
  std::vector<Waiting> waiting_;
};

}  // namespace troupe::train
