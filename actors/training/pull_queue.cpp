#include "actors/training/pull_queue.hpp"

namespace troupe::train {

void PullQueue::park(PullRequest r, Deferred<Weights> reply) {
  std::erase_if(waiting_, [&](const Waiting& w) {
    if (w.req.slot != r.slot) return false;
    w.reply.fail(Error(Errc::timeout, "superseded by a newer pull"));
    return true;
  });
  waiting_.push_back({std::move(r), std::move(reply)});
}

void PullQueue::answer(const std::function<bool(const PullRequest&)>& ready,
                       const std::function<Weights(const PullRequest&)>& weights) {
  std::erase_if(waiting_, [&](const Waiting& w) {
    if (!ready(w.req)) return false;
    w.reply.resolve(weights(w.req));
    return true;
  });
}

void PullQueue::fail_all(const Error& e) {
  for (auto& w : waiting_) w.reply.fail(e);
  waiting_.clear();
}

}  // namespace troupe::train
