#include "actors/training/aggregator.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "kernels/cpu/blas1.hpp"
#include "kernels/cpu/threads.hpp"
#include "runtime/actor_context.hpp"
#include "runtime/registry.hpp"

namespace troupe::train {

namespace {
int64_t micros_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

Aggregator::Aggregator(JobSpec job, int shard)
    : job_(std::move(job)),
      shard_(shard),
      begin_(0),
      end_(0),
      adam_(0, 0, job_.adam) {
  if (shard < 0 || shard >= job_.shards) throw std::invalid_argument("shard index out of range");
  if (job_.steps_per_epoch <= 0 || job_.total_steps <= 0) throw std::invalid_argument("job not finalized");
  const kernels::MlpSpec spec = mlp_spec(job_);
  const kernels::ParamLayout layout(spec);
  std::tie(begin_, end_) = shard_range(layout.num_params(), job_.shards, shard);
  std::vector<float> all(static_cast<std::size_t>(layout.num_params()));
  kernels::init_params(spec, all, job_.seed);
  params_.assign(all.begin() + begin_, all.begin() + end_);
  grad_.assign(params_.size(), 0.0f);
  adam_ = kernels::AdamState(begin_, end_, job_.adam);
  slots_.resize(static_cast<std::size_t>(job_.trainers));
  pending_.resize(slots_.size());
  epochs_total_ = static_cast<int>((job_.total_steps + job_.steps_per_epoch - 1) / job_.steps_per_epoch);
  stats_.begin = begin_;
  stats_.end = end_;
  restore();
  publish();
  listen_for_deaths();
}

void Aggregator::listen_for_deaths() {
  try {
    ActorContext& self = this_actor();
    const ActorId me = self.id();
    self.cluster().runtime().client().add_event_listener([me](const Event& e) {
      // On the I/O thread: never block; hand the news to the executor as a call to ourselves.
      if (e.topic != "actor" || e.actor == me) return;
      if (e.state != ActorState::restarting && e.state != ActorState::dead) return;
      (void)ActorHandle<Aggregator>(me, "").call(&Aggregator::member_died, e.actor, e.incarnation);
    });
  } catch (const Exception&) {
    // Not in an actor process (a unit test): no events.
  }
}

void Aggregator::restore() {
  if (job_.checkpoint_dir.empty()) return;
  auto c = read_checkpoint(checkpoint_path(job_.checkpoint_dir, shard_, job_.shards));
  if (!c.ok()) {
    if (c.error().code == Errc::not_found) return;
    throw Exception(c.error());
  }
  if (c->begin != begin_ || c->end != end_ || c->shards != job_.shards || c->next_step.size() != slots_.size())
    throw std::runtime_error("checkpoint in " + job_.checkpoint_dir + " belongs to another job layout");
  params_ = std::move(c->params);
  adam_.restore(c->adam_step, c->m, c->v);
  version_ = c->version;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    slots_[i].next_step = c->next_step[i];
    slots_[i].joined_at = version_;
  }
  next_epoch_ = c->next_epoch;
  epoch_acc_[next_epoch_] = EpochAcc{c->epoch_loss_sum, c->epoch_samples, c->epoch_correct};
  stats_.restored_version = version_;
  std::fprintf(stderr, "aggregator shard %d: resumed from checkpoint at version %lld\n", shard_,
               static_cast<long long>(version_));
}

Result<void> Aggregator::write_checkpoint_now() {
  ShardCheckpoint c;
  c.shard = shard_;
  c.shards = job_.shards;
  c.begin = begin_;
  c.end = end_;
  c.version = version_;
  c.adam_step = adam_.step_count();
  for (const auto& s : slots_) c.next_step.push_back(s.next_step);
  c.next_epoch = next_epoch_;
  if (auto it = epoch_acc_.find(next_epoch_); it != epoch_acc_.end()) {
    c.epoch_loss_sum = it->second.loss_sum;
    c.epoch_samples = it->second.samples;
    c.epoch_correct = it->second.correct;
  }
  c.params = params_;
  c.m.assign(adam_.m().begin(), adam_.m().end());
  c.v.assign(adam_.v().begin(), adam_.v().end());
  auto r = write_checkpoint(checkpoint_path(job_.checkpoint_dir, shard_, job_.shards), c);
  if (r.ok()) ++stats_.checkpoints;
  return r;
}

CheckpointInfo Aggregator::checkpoint() {
  if (job_.checkpoint_dir.empty()) throw std::invalid_argument("the job has no checkpoint directory");
  write_checkpoint_now().value();
  return {checkpoint_path(job_.checkpoint_dir, shard_, job_.shards), version_};
}

JoinReply Aggregator::join(JoinRequest r) {
  if (r.slot < 0 || r.slot >= job_.trainers) throw std::invalid_argument("slot out of range");
  Slot& s = slots_[static_cast<std::size_t>(r.slot)];
  if (s.actor == r.actor && r.incarnation < s.incarnation)
    throw Exception(Error(Errc::stale_incarnation, "slot " + std::to_string(r.slot) + " has a newer incarnation"));
  s.actor = r.actor;
  s.incarnation = r.incarnation;
  if (!s.alive) {
    s.alive = true;
    // Joins at the next step: the one in progress does not wait for it.
    const bool in_progress = std::any_of(pending_.begin(), pending_.end(), [](const auto& p) { return p.has_value(); });
    s.joined_at = lockstep() && in_progress ? version_ + 1 : version_;
  }
  return {version_, lockstep() ? version_ : s.next_step, begin_, end_};
}

bool Aggregator::finished() const {
  if (lockstep()) return version_ >= job_.total_steps;
  bool any = false;
  for (const auto& s : slots_) {
    if (!s.alive) continue;
    any = true;
    if (s.next_step < job_.total_steps) return false;
  }
  return any;
}

bool Aggregator::pull_ready(const PullRequest& r) const {
  if (finished()) return true;
  switch (job_.mode) {
    case Consistency::sync:
    case Consistency::backup: return version_ >= r.min_version;
    case Consistency::async: return true;
    case Consistency::ssp: {
      int64_t slowest = INT64_MAX;
      for (const auto& s : slots_)
        if (s.alive) slowest = std::min(slowest, s.next_step);
      return slowest == INT64_MAX || r.step - slowest <= job_.staleness;
    }
  }
  return true;
}

Deferred<Weights> Aggregator::pull(PullRequest r) {
  Deferred<Weights> d;
  if (r.slot == -1) {  // an observer (evaluation): the current weights, now
    d.resolve(Weights{version_, published_});
    return d;
  }
  if (r.slot < 0 || r.slot >= job_.trainers) throw std::invalid_argument("slot out of range");
  if (pull_ready(r)) {
    d.resolve(Weights{version_, published_});
    return d;
  }
  // One outstanding pull per slot: a newer one replaces an abandoned older one.
  std::erase_if(pulls_, [&](const PendingPull& p) {
    if (p.req.slot != r.slot) return false;
    p.reply.fail(Error(Errc::timeout, "superseded by a newer pull"));
    return true;
  });
  pulls_.push_back({r, d});
  return d;
}

void Aggregator::answer_pulls() {
  std::erase_if(pulls_, [&](const PendingPull& p) {
    if (!pull_ready(p.req)) return false;
    p.reply.resolve(Weights{version_, published_});
    return true;
  });
}

PushReply Aggregator::push(PushRequest r) {
  if (r.slot < 0 || r.slot >= job_.trainers) throw std::invalid_argument("slot out of range");
  if (r.grad.dtype() != DType::f32 || r.grad.numel() != end_ - begin_ || r.samples < 0)
    throw std::invalid_argument("gradient slice must be f32[" + std::to_string(end_ - begin_) + "], got " +
                                r.grad.to_string());
  Slot& s = slots_[static_cast<std::size_t>(r.slot)];
  PushReply reply;
  ++stats_.pushes;
  if (r.incarnation < s.incarnation) {
    ++stats_.stale;  // fenced: an older incarnation of the slot
    reply.status = PushReply::stale;
    reply.version = version_;
    return reply;
  }
  if (r.incarnation > s.incarnation || s.actor != r.actor) {
    s.actor = r.actor;
    s.incarnation = r.incarnation;
    if (!s.alive) {
      s.alive = true;
      s.joined_at = version_ + 1;
    }
  }
  if (lockstep()) {
    if (r.version != version_) {
      ++stats_.stale;  // a straggler in backup mode, or a push for a version a restored shard has not reached
      reply.status = r.version < version_ ? PushReply::dropped : PushReply::stale;
    } else if (pending_[static_cast<std::size_t>(r.slot)]) {
      ++stats_.duplicates;
      reply.status = PushReply::duplicate;
    } else {
      pending_[static_cast<std::size_t>(r.slot)] = std::move(r);
      try_complete();
    }
  } else {
    if (r.step < s.next_step) {
      ++stats_.duplicates;
      reply.status = PushReply::duplicate;
    } else {
      s.next_step = r.step + 1;
      apply({&r});
      after_version();
    }
  }
  reply.version = version_;
  return reply;
}

void Aggregator::try_complete() {
  if (!lockstep() || finished()) return;
  int required = 0, present_required = 0, present = 0;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    const bool req = slots_[i].alive && slots_[i].joined_at <= version_;
    required += req;
    present += pending_[i].has_value();
    present_required += req && pending_[i].has_value();
  }
  if (required == 0 || present == 0) return;
  const bool complete = job_.mode == Consistency::sync ? present_required == required
                                                       : present >= std::max(1, required - job_.backup);
  if (!complete) return;
  std::vector<const PushRequest*> pushes;
  for (auto& p : pending_)
    if (p) pushes.push_back(&*p);
  apply(pushes);
  for (auto& p : pending_) p.reset();
  for (auto& s : slots_) s.next_step = version_;
  after_version();
}

void Aggregator::apply(const std::vector<const PushRequest*>& pushes) {
  // One OpenMP thread on the executor thread (a per-thread setting): a team
  // spinning here would fight the trainers for the cores.
  static thread_local const bool one_thread = (kernels::cpu::set_num_threads(1), true);
  (void)one_thread;
  const auto t = std::chrono::steady_clock::now();
  int64_t n = 0;
  for (const auto* p : pushes) n += p->samples;
  const int64_t count = end_ - begin_;
  StepMetric m;
  if (n > 0) {
    // g = Σ nᵢ gᵢ / Σ nᵢ, in slot order.
    bool first = true;
    for (const auto* p : pushes) {
      if (p->samples == 0) continue;
      const float w = static_cast<float>(static_cast<double>(p->samples) / static_cast<double>(n));
      const float* g = p->grad.data_as<float>();
      if (first) {
        std::memcpy(grad_.data(), g, static_cast<std::size_t>(count) * sizeof(float));
        if (w != 1.0f) kernels::cpu::scale(grad_.data(), count, w);
        first = false;
      } else {
        kernels::cpu::axpy(count, w, g, grad_.data());
      }
    }
    kernels::AdamHyper h = adam_.hyper();
    h.lr = scheduled_lr(job_, adam_.step_count() + 1, total_adam_steps(job_));
    adam_.set_hyper(h);
    adam_.step(params_, grad_);
  }
  ++version_;
  publish();
  for (const auto* p : pushes) {
    EpochAcc& a = epoch_acc_[static_cast<int>(p->step / job_.steps_per_epoch)];
    a.loss_sum += p->loss_sum;
    a.samples += p->samples;
    a.correct += p->correct;
    m.loss_sum += p->loss_sum;
    m.correct += p->correct;
    m.contributors.insert(m.contributors.end(), {p->slot, static_cast<int64_t>(p->incarnation), p->samples});
  }
  stats_.samples += n;
  m.version = version_;
  m.samples = n;
  m.apply_us = micros_since(t);
  m.time_us = micros_since(t0_);
  apply_us_total_ += static_cast<double>(m.apply_us);
  metrics_.push_back(std::move(m));
}

void Aggregator::publish() {
  published_ = pool_.get(DType::f32, {end_ - begin_});
  std::memcpy(published_.data(), params_.data(), params_.size() * sizeof(float));
}

void Aggregator::after_version() {
  if (job_.checkpoint_every > 0 && !job_.checkpoint_dir.empty() && version_ % job_.checkpoint_every == 0) {
    if (auto r = write_checkpoint_now(); !r.ok())
      std::fprintf(stderr, "aggregator shard %d: checkpoint failed: %s\n", shard_, r.error().to_string().c_str());
  }
  check_epochs();
  answer_pulls();
}

int64_t Aggregator::epoch_end(int e) const {
  return std::min(static_cast<int64_t>(e + 1) * job_.steps_per_epoch, job_.total_steps);
}

void Aggregator::check_epochs() {
  while (next_epoch_ < epochs_total_) {
    const int64_t end = epoch_end(next_epoch_);
    bool reached;
    if (lockstep()) {
      reached = version_ >= end;
    } else {
      reached = false;
      for (const auto& s : slots_) {
        if (!s.alive) continue;
        reached = true;
        if (s.next_step < end) {
          reached = false;
          break;
        }
      }
    }
    if (!reached) return;
    const int e = next_epoch_++;
    const EpochAcc acc = epoch_acc_[e];
    epoch_acc_.erase(e);
    EpochSummary s{e, version_, acc.loss_sum, acc.samples, acc.correct, e == epochs_total_ - 1, published_};
    snapshots_[e] = s;
    if (auto it = epoch_waiters_.find(e); it != epoch_waiters_.end()) {
      for (auto& w : it->second) w.resolve(s);
      epoch_waiters_.erase(it);
    }
    // Keep a few recent snapshots (evaluation may lag an epoch behind).
    while (snapshots_.size() > 4) snapshots_.erase(snapshots_.begin());
  }
}

Deferred<EpochSummary> Aggregator::epoch(int e) {
  Deferred<EpochSummary> d;
  if (e < 0 || e >= epochs_total_) {
    d.fail(Error(Errc::invalid_argument, "epoch " + std::to_string(e) + " out of range [0, " +
                                             std::to_string(epochs_total_) + ")"));
  } else if (auto it = snapshots_.find(e); it != snapshots_.end()) {
    d.resolve(it->second);
  } else if (e < next_epoch_) {
    d.fail(Error(Errc::not_found, "epoch " + std::to_string(e) + " is no longer kept"));
  } else {
    epoch_waiters_[e].push_back(d);
  }
  return d;
}

Progress Aggregator::progress() {
  stats_.version = version_;
  stats_.apply_us_mean = metrics_.empty() ? 0.0 : apply_us_total_ / static_cast<double>(metrics_.size());
  stats_.finished = finished();
  return stats_;
}

std::vector<StepMetric> Aggregator::metrics(int64_t since) {
  auto it = std::upper_bound(metrics_.begin(), metrics_.end(), since,
                             [](int64_t v, const StepMetric& m) { return v < m.version; });
  return {it, metrics_.end()};
}

void Aggregator::member_died(ActorId actor, Incarnation inc) {
  bool changed = false;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (s.actor != actor || s.incarnation > inc || !s.alive) continue;
    s.alive = false;
    pending_[i].reset();  // no gradient of a dead incarnation is applied
    changed = true;
  }
  if (!changed) return;
  try_complete();
  check_epochs();
  answer_pulls();
}

}  // namespace troupe::train

TROUPE_ACTOR(troupe::train::Aggregator, join, pull, push, epoch, progress, metrics, checkpoint, member_died);
