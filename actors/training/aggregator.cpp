#include "actors/training/aggregator.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "actors/training/gradient_mean.hpp"
#include "actors/training/sampler.hpp"
#include "kernels/cpu/threads.hpp"
#include "runtime/actor_context.hpp"
#include "runtime/registry.hpp"

namespace troupe::train {

namespace {
int64_t micros_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t).count();
}
int64_t system_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
Exception invalid(std::string why) { return Exception(Error(Errc::invalid_argument, std::move(why))); }
}  // namespace

Aggregator::Aggregator(JobSpec job, int shard)
    : job_(std::move(job)),
      shard_(shard),
      begin_(0),
      end_(0),
      adam_(0, 0, job_.adam),
      slots_(job_.trainers),
      checkpoints_(job_.checkpoint_dir, shard, job_.shards) {
  if (shard < 0 || shard >= job_.shards) throw invalid("shard index out of range");
  if (job_.steps_per_epoch <= 0 || job_.total_steps <= 0) throw invalid("job not finalized");
  std::tie(begin_, end_) = shard_range(kernels::ParamLayout(mlp_spec(job_)).num_params(), job_.shards, shard);
  pending_.assign(slots_.size(), PartialPush(end_ - begin_));
  epochs_ = EpochBook(static_cast<int>((job_.total_steps + job_.steps_per_epoch - 1) / job_.steps_per_epoch));
  stats_.begin = begin_;
  stats_.end = end_;
  if (shard == 0) ledger_.emplace(job_);
  reset_to_initial();
  restore();
  publish();
  listen_for_deaths();
}

void Aggregator::reset_to_initial() {
  const kernels::MlpSpec spec = mlp_spec(job_);
  std::vector<float> all(static_cast<std::size_t>(kernels::ParamLayout(spec).num_params()));
  kernels::init_params(spec, all, job_.seed);
  params_.assign(all.begin() + begin_, all.begin() + end_);
  grad_.assign(params_.size(), 0.0f);
  adam_ = kernels::AdamState(begin_, end_, job_.adam);
  version_ = 0;
  for (auto& s : slots_) {
    s.next_step = 0;
    s.joined_at = 0;
  }
  epochs_.restart(0, {});
  finish_at_ = -1;
  if (ledger_) ledger_ = BatchLedger(job_);
  commits_.clear();
}

void Aggregator::listen_for_deaths() {
  ActorContext* self = current_actor();
  if (self == nullptr) return;  // not in an actor process (a unit test): no events
  const ActorId me = self->id();
  self->cluster().on_event([this, self, me](const Event& e) {
    // On the I/O thread: never block. Posted to the methods' thread, not sent
    // as a call to ourselves: a flood of calls filling the call queue must not
    // make the shard miss a death (post() retries until it is queued).
    if (e.topic != "actor" || e.actor == me) return;
    if (e.state != ActorState::restarting && e.state != ActorState::dead) return;
    self->post([this, actor = e.actor, inc = e.incarnation] { member_died(actor, inc); });
  });
}

void Aggregator::restore() {
  // A restarted shard lost the pushes in flight: the other shards must be reconciled with it.
  if (const ActorContext* self = current_actor()) restored_ = self->incarnation() > 0;
  auto c = checkpoints_.latest();
  if (!c) return;
  if (c->begin != begin_ || c->end != end_ || c->shards != job_.shards || c->next_step.size() != slots_.size())
    throw invalid("checkpoint in " + job_.checkpoint_dir + " belongs to another job layout");
  timeline_ = c->timeline;
  for (std::size_t i = 0; i < slots_.size() && i < c->slot_actor.size() && i < c->slot_incarnation.size(); ++i) {
    slots_[i].actor = c->slot_actor[i];
    slots_[i].incarnation = c->slot_incarnation[i];
  }
  load(std::move(*c));
  restored_ = true;
  stats_.restored_version = version_;
  learn_membership();
  std::fprintf(stderr, "aggregator shard %d: resumed from checkpoint at version %lld\n", shard_,
               static_cast<long long>(version_));
}

void Aggregator::load(ShardCheckpoint c) {
  params_ = std::move(c.params);
  adam_.restore(c.adam_step, c.m, c.v);
  version_ = c.version;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    slots_[i].next_step = c.next_step[i];
    slots_[i].joined_at = version_;
  }
  epochs_.restart(c.next_epoch, {c.epoch_loss_sum, c.epoch_samples, c.epoch_correct});
  finish_at_ = -1;
  if (ledger_ && !ledger_->load(c.ledger))
    throw invalid("checkpoint of shard 0 at version " + std::to_string(c.version) +
                  " holds a batch ledger that does not fit this job");
}

void Aggregator::learn_membership() {
  // The trainers the checkpoint names that died for good while this shard was
  // down will never join again: ask the scheduler rather than wait for them.
  const ActorContext* self = current_actor();
  if (self == nullptr) return;  // not in an actor process (a unit test)
  auto st = self->cluster().state(std::chrono::seconds(5));
  if (st.ok()) slots_.learn_dead(st->actors);
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
  c.next_epoch = epochs_.open();
  const EpochAccount open = epochs_.open_account();
  c.epoch_loss_sum = open.loss_sum;
  c.epoch_samples = open.samples;
  c.epoch_correct = open.correct;
  c.timeline = timeline_;
  for (const auto& s : slots_) {
    c.slot_actor.push_back(s.actor);
    c.slot_incarnation.push_back(s.incarnation);
  }
  if (ledger_) c.ledger = ledger_->save();
  c.params = params_;
  c.m.assign(adam_.m().begin(), adam_.m().end());
  c.v.assign(adam_.v().begin(), adam_.v().end());
  auto r = checkpoints_.write(c);
  if (r.ok()) ++stats_.checkpoints;
  return r;
}

CheckpointInfo Aggregator::checkpoint() {
  if (!checkpoints_.enabled()) throw invalid("the job has no checkpoint directory");
  write_checkpoint_now().value();
  return {checkpoints_.path(), version_};
}

void Aggregator::check_slot(int slot) const {
  if (slot < 0 || slot >= job_.trainers)
    throw invalid("slot " + std::to_string(slot) + " out of range: the job has " + std::to_string(job_.trainers));
}

void Aggregator::discard_pending(std::size_t slot) {
  // A follower keeps a complete push until shard 0's commit says whether it
  // was applied (the old incarnation may have finished its step, then died).
  PartialPush& p = pending_[slot];
  if (!p.active() || (follower() && p.complete())) return;
  p.reset();
  ++stats_.discarded;
}

void Aggregator::adopt(std::size_t slot, ActorId actor, Incarnation inc) {
  if (!slots_.adopt(slot, actor, inc)) return;
  // A newer incarnation replaces the old one: the old one's pending gradient
  // (or the buckets of it received so far) is never applied.
  const PartialPush& p = pending_[slot];
  if (p.actor() != actor || p.incarnation() != inc) discard_pending(slot);
  if (ledger_) ledger_->release(static_cast<int>(slot));  // the old incarnation's batch is handed out again
}

JoinReply Aggregator::join_reply(const SlotState& s) const {
  return {version_, lockstep() ? version_ : s.next_step, begin_, end_, timeline_, restored_,
          checkpoints_.rollback_points()};
}

JoinReply Aggregator::join(JoinRequest r) {
  check_slot(r.slot);
  const auto i = static_cast<std::size_t>(r.slot);
  if (slots_.fenced(i, r.actor, r.incarnation))
    throw Exception(Error(Errc::stale_incarnation, "slot " + std::to_string(r.slot) + ": incarnation " +
                                                         std::to_string(r.incarnation) + " is fenced off"));
  adopt(i, r.actor, r.incarnation);
  // Joins at the next step: the one in progress does not wait for it.
  const bool in_progress = std::any_of(pending_.begin(), pending_.end(), [](const auto& p) { return p.active(); });
  slots_.revive(i, lockstep() && in_progress ? version_ + 1 : version_);
  SlotState& s = slots_[i];
  // A trainer that resumes at a later version (another shard is ahead) is not waited for before it.
  if (r.from_version > s.joined_at) s.joined_at = r.from_version;
  try_complete();
  return join_reply(s);
}

JoinReply Aggregator::rollback(RollbackRequest r) {
  // Already on that timeline, or a late request of an older reconciliation: nothing to do.
  if (r.timeline <= timeline_ && !restored_) return join_reply(slots_[0]);
  if (r.version != version_) {
    if (r.version == 0) {
      reset_to_initial();
    } else if (checkpoints_.keeps(r.version)) {
      load(checkpoints_.read(r.version).value());
    } else {
      throw Exception(Error(Errc::not_found, "shard " + std::to_string(shard_) + " at version " +
                                                 std::to_string(version_) + " cannot roll back to " +
                                                 std::to_string(r.version)));
    }
    ++stats_.rollbacks;
    std::fprintf(stderr, "aggregator shard %d: rolled back to version %lld (timeline %lld)\n", shard_,
                 static_cast<long long>(version_), static_cast<long long>(r.timeline));
  }
  timeline_ = r.timeline;
  restored_ = false;
  for (auto& p : pending_) p.reset();
  commits_.rollback(version_);
  if (ledger_) ledger_->release_all();  // their pushes are gone with the pulls failed below
  slots_.restart_at(version_, lockstep());
  pulls_.fail_all(Error(Errc::unavailable, "the shard rolled back: join again"));
  std::erase_if(metrics_, [&](const StepMetric& m) { return m.version > version_; });
  std::erase_if(recent_, [&](const StepContributors& c) { return c.version > version_; });
  epochs_.rollback(version_);
  publish();
  return join_reply(slots_[0]);
}

bool Aggregator::finished() const {
  if (ledger_) return ledger_->finished();
  // Told by a trainer (finish()). Lockstep shards share shard 0's versions: the
  // run ends once this one has applied the last step too.
  return finish_at_ >= 0 && (!lockstep() || version_ >= finish_at_);
}

bool Aggregator::finish(int64_t version) {
  if (ledger_ || finish_at_ >= 0) return finished();
  finish_at_ = version;
  check_epochs();
  answer_pulls();
  return finished();
}

std::vector<EpochLedger> Aggregator::ledger() {
  if (!ledger_) return {};
  std::vector<EpochLedger> out = ledger_->closed();
  if (!ledger_->finished()) out.push_back(ledger_->open());
  return out;
}

Weights Aggregator::weights_for(int slot, int64_t since) {
  Weights w{version_, published_, {}, epochs_.open(), finished(), ledger_ ? ledger_->progress() : -1.0, {}};
  if (ledger_ && slot >= 0) w.batch = ledger_->assign(slot);
  if (leader() && slot >= 0) w.commits = commits_.after(since);
  return w;
}

BatchId Aggregator::batch_of(const PushRequest& r) {
  // An older sender names neither batch nor epoch: it trains the batch handed
  // to its slot, as a pull would have handed it.
  if (r.batch.valid() || r.epoch >= 0 || !ledger_) return r.batch;
  return ledger_->assign(r.slot);
}

bool Aggregator::handed_out(const PushRequest& r) {
  if (!ledger_ || (!r.batch.valid() && r.epoch < 0)) return true;
  if (!(r.batch == ledger_->assigned(r.slot))) return false;
  const int64_t n = r.batch.valid() ? batch_samples(job_, r.batch.slot, r.batch.step) : 0;
  if (r.samples != n)
    throw Exception(Error(Errc::invalid_argument, "slot " + std::to_string(r.slot) + ": batch (" +
                                                      std::to_string(r.batch.slot) + ", " +
                                                      std::to_string(r.batch.step) + ") has " + std::to_string(n) +
                                                      " samples, the push says " + std::to_string(r.samples)));
  return true;
}

int Aggregator::epoch_of(const PushRequest& r, BatchId b) const {
  if (b.valid()) return static_cast<int>(b.step / job_.steps_per_epoch);
  return r.epoch >= 0 ? r.epoch : epochs_.open();
}

bool Aggregator::pull_ready(const PullRequest& r) const {
  if (finished()) return true;
  if (lockstep()) return version_ >= r.min_version;
  // Each push is applied alone: a trainer waits until there is a batch to
  // hand it (lockstep trainers idle a step instead, as the step needs them);
  // ssp also holds back a trainer more than `staleness` steps ahead of the slowest.
  const bool can_assign = !ledger_ || ledger_->can_assign(r.slot);
  if (job_.mode != Consistency::ssp) return can_assign;
  const int64_t slowest = slots_.slowest_step();
  return (slowest == INT64_MAX || r.step - slowest <= job_.staleness) && can_assign;
}

Deferred<Weights> Aggregator::pull(PullRequest r) {
  Deferred<Weights> d;
  if (r.slot == -1) {  // an observer (evaluation): the current weights, now
    d.resolve(weights_for(-1, 0));
    return d;
  }
  check_slot(r.slot);
  if (restored_ || (r.timeline >= 0 && r.timeline != timeline_)) {
    d.fail(Error(Errc::unavailable, restored_ ? "the shard restarted and is not reconciled yet: join again"
                                                    : "the shard rolled back (timeline " + std::to_string(timeline_) +
                                                          "): join again"));
    return d;
  }
  if (follower()) follow(r.commits);
  if (pull_ready(r)) {
    d.resolve(weights_for(r.slot, r.since));
    return d;
  }
  // One outstanding pull per slot: a newer one replaces an abandoned older one.
  pulls_.park(std::move(r), d);
  return d;
}

void Aggregator::answer_pulls() {
  pulls_.answer([this](const PullRequest& r) { return pull_ready(r); },
                [this](const PullRequest& r) { return weights_for(r.slot, r.since); });
}

PushReply Aggregator::push(PushRequest r) {
  check_slot(r.slot);
  check_bucket_shape(r, end_ - begin_, shard_, job_.trainers, job_.total_steps, epochs_.total());
  const auto i = static_cast<std::size_t>(r.slot);
  PushReply reply;
  ++stats_.pushes;
  reply.version = version_;
  if (restored_ || (r.timeline >= 0 && r.timeline != timeline_)) {
    ++stats_.stale;  // computed on another timeline's weights
    reply.status = PushReply::rejoin;
    return reply;
  }
  if (slots_.fenced(i, r.actor, r.incarnation)) {
    ++stats_.stale;
    ++stats_.stale_incarnation;  // a zombie: older than the newest incarnation known, or reported dead
    reply.status = PushReply::stale;
    return reply;
  }
  adopt(i, r.actor, r.incarnation);
  slots_.revive(i, version_ + 1);
  SlotState& s = slots_[i];
  PartialPush& p = pending_[i];
  if (follower() && p.active() && (p.actor() != r.actor || p.incarnation() != r.incarnation)) {
    // A dead or replaced incarnation's push that shard 0 did not apply: its
    // commits were relayed to us before this incarnation could push.
    p.reset();
    ++stats_.discarded;
  }
  // Other shards learn from the pushes where shard 0's epochs end: a push
  // computed in a later epoch than this shard's open one means the epochs
  // before it closed at this version (lockstep; ssp/async: about here).
  if (!ledger_ && r.epoch > epochs_.open() && (!lockstep() || r.version == version_)) {
    while (epochs_.open() < std::min(r.epoch, epochs_.total())) close_epoch(EpochLedger{epochs_.open()});
  }
  if (lockstep()) {
    if (r.version != version_) {
      ++stats_.stale;  // a straggler in backup mode, or a push for a version a restored shard has not reached
      reply.status = r.version < version_ ? PushReply::dropped : PushReply::stale;
    } else if (!handed_out(r)) {
      ++stats_.stale;  // not the batch shard 0 handed this trainer (it was handed out again): pull again
      reply.status = PushReply::rejoin;
    } else {
      reply.status = add_bucket(i, r);
      if (reply.status == PushReply::accepted && p.complete()) follower() ? apply_commits() : try_complete();
    }
  } else if (r.step < s.next_step) {
    ++stats_.duplicates;
    reply.status = PushReply::duplicate;
  } else if (p.active() && r.step < p.step()) {
    ++stats_.stale;  // a bucket of a step this slot has moved past without finishing
    reply.status = PushReply::dropped;
  } else if (!handed_out(r)) {
    ++stats_.stale;
    reply.status = PushReply::rejoin;
  } else {
    if (p.active() && r.step > p.step()) p.reset();  // the older step never completed: it is not applied
    reply.status = add_bucket(i, r);
    if (reply.status == PushReply::accepted && p.complete() && follower()) {
      apply_commits();  // applied when shard 0's commit names it
    } else if (reply.status == PushReply::accepted && p.complete()) {
      s.next_step = p.step() + 1;
      apply({p.contribution(r.slot)});
      p.reset();
      after_version();
    }
  }
  reply.version = version_;
  return reply;
}

PushReply::Status Aggregator::add_bucket(std::size_t slot, PushRequest& r) {
  PartialPush& p = pending_[slot];
  if (auto repeat = p.check(r)) {
    ++stats_.duplicates;  // the same bucket again (a retry)
    return *repeat;
  }
  const BatchId batch = batch_of(r);  // after the checks: an older sender's batch is handed out here
  p.add(r, batch, epoch_of(r, batch));
  return PushReply::accepted;
}

void Aggregator::try_complete() {
  if (!lockstep() || finished() || follower()) return;
  int required = 0, present_required = 0, present = 0;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    const bool req = slots_.waited_for(i, version_);
    const bool here = pending_[i].complete();
    required += req;
    present += here;
    present_required += req && here;
  }
  if (required == 0 || present == 0) return;
  const bool complete_step = job_.mode == Consistency::sync ? present_required == required
                                                            : present >= std::max(1, required - job_.backup);
  if (!complete_step) return;
  std::vector<Contribution> pushes;  // in slot order: the sum does not depend on arrival order
  for (std::size_t i = 0; i < pending_.size(); ++i)
    if (pending_[i].complete()) pushes.push_back(pending_[i].contribution(static_cast<int>(i)));
  apply(pushes);
  for (auto& p : pending_) p.reset();  // backup mode: a straggler's partial push is dropped with the step
  if (ledger_) ledger_->release_all();  // ... and its batch is handed out again
  for (auto& s : slots_) s.next_step = version_;
  after_version();
}

void Aggregator::apply(const std::vector<Contribution>& pushes) {
  // One OpenMP thread on the executor thread (a per-thread setting): a team
  // spinning here would fight the trainers for the cores.
  static thread_local const bool one_thread = (kernels::cpu::set_num_threads(1), true);
  (void)one_thread;
  const auto t = std::chrono::steady_clock::now();
  const int64_t n = weighted_mean(pushes, grad_);
  StepMetric m;
  if (n > 0) {
    // The rate follows the data, not the step count: faults add steps (the
    // ledger hands out again what a dead trainer did not finish), and every
    // shard must use the same rate for the same step. Shard 0 reads its
    // ledger (before this step's batches are settled: the value it handed out
    // with these weights); the others read what the pushes carry from it.
    double progress = ledger_ ? ledger_->progress() : -1.0;
    for (const auto& p : pushes)
      if (progress < 0 && p.progress >= 0) progress = p.progress;
    if (progress < 0) progress = step_progress(job_, adam_.step_count() + 1);  // no ledger's clock: the step count's
    kernels::AdamHyper h = adam_.hyper();
    h.lr = scheduled_lr(job_, progress);
    adam_.set_hyper(h);
    adam_.step(params_, grad_);
  }
  ++version_;
  publish();
  StepContributors sc{version_, micros_since(t0_), {}, system_micros(), {}};
  for (const auto& p : pushes) {
    if (ledger_ && p.batch.valid()) ledger_->settle(p.slot, p.batch, p.samples);
    sc.batches.insert(sc.batches.end(), {p.batch.slot, p.batch.step});
    epochs_.add(p.epoch, p.loss_sum, p.samples, p.correct);
    m.loss_sum += p.loss_sum;
    m.correct += p.correct;
    m.contributors.insert(m.contributors.end(), {p.slot, static_cast<int64_t>(p.incarnation), p.samples});
  }
  stats_.samples += n;
  sc.contributors = m.contributors;
  for (const auto& p : pushes) slots_[static_cast<std::size_t>(p.slot)].last_version = version_;
  recent_.push_back(std::move(sc));
  while (recent_.size() > 4096) recent_.pop_front();
  if (leader()) commits_.record(version_, timeline_, pushes);
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

void Aggregator::check_epochs() {
  if (ledger_) {
    while (auto done = ledger_->close_if_done()) close_epoch(*done);
  } else if (finished()) {
    while (epochs_.open() < epochs_.total()) close_epoch(EpochLedger{epochs_.open()});
  }
}

void Aggregator::close_epoch(const EpochLedger& ledger) { epochs_.close(version_, published_, ledger); }

Deferred<EpochSummary> Aggregator::epoch(int e) { return epochs_.wait(e); }

Progress Aggregator::progress() {
  stats_.version = version_;
  stats_.apply_us_mean = metrics_.empty() ? 0.0 : apply_us_total_ / static_cast<double>(metrics_.size());
  stats_.finished = finished();
  stats_.timeline = timeline_;
  stats_.restored = restored_;
  return stats_;
}

ShardStats Aggregator::stats(int64_t last) {
  ShardStats out;
  out.progress = progress();
  out.slots = slots_.info();
  const auto n = static_cast<std::size_t>(std::clamp<int64_t>(last, 0, static_cast<int64_t>(recent_.size())));
  out.recent.assign(recent_.end() - static_cast<std::ptrdiff_t>(n), recent_.end());
  return out;
}

std::vector<StepMetric> Aggregator::metrics(int64_t since) {
  auto it = std::upper_bound(metrics_.begin(), metrics_.end(), since,
                             [](int64_t v, const StepMetric& m) { return v < m.version; });
  return {it, metrics_.end()};
}

void Aggregator::follow(const std::vector<Commit>& commits) {
  commits_.relay(commits, timeline_, version_);
  apply_commits();
}

void Aggregator::apply_commits() {
  while (!finished()) {
    const Commit* next = commits_.next(version_);
    if (next == nullptr) return;  // a gap: a later relay brings the missing one
    const std::vector<int64_t>& named = next->pushes;
    std::vector<Contribution> pushes;
    for (std::size_t j = 0; j + 2 < named.size(); j += 3) {
      if (named[j] < 0 || named[j] >= job_.trainers) {
        commits_.drop(version_ + 1);  // not one of shard 0's: nothing to apply it to
        return;
      }
      const auto slot = static_cast<std::size_t>(named[j]);
      const PartialPush& p = pending_[slot];
      const bool same_step = lockstep() ? p.version() == version_ : p.step() == named[j + 2];
      // Not here: a trainer sends shard 0 its last bucket only after we
      // acknowledged ours, so this is not a push of this run's trainers.
      // Wait rather than apply another set than shard 0 did.
      if (!p.complete() || static_cast<int64_t>(p.incarnation()) != named[j + 1] || !same_step) return;
      pushes.push_back(p.contribution(static_cast<int>(slot)));
    }
    commits_.drop(version_ + 1);
    apply(pushes);
    if (lockstep()) {
      for (auto& p : pending_) p.reset();  // what shard 0 did not apply is dropped with the step
      for (auto& s : slots_) s.next_step = version_;
    } else {
      for (const auto& c : pushes) {
        slots_[static_cast<std::size_t>(c.slot)].next_step = c.step + 1;
        pending_[static_cast<std::size_t>(c.slot)].reset();
      }
    }
    after_version();
  }
}

void Aggregator::member_died(ActorId actor, Incarnation inc) {
  const std::vector<std::size_t> dead = slots_.died(actor, inc);
  if (dead.empty()) return;
  for (std::size_t i : dead) {
    // No gradient of a dead incarnation is applied, nor its buckets received
    // so far; except that a follower keeps a complete push until shard 0's
    // commit says whether it applied it (the trainer finished its step first).
    discard_pending(i);
    if (ledger_) ledger_->release(static_cast<int>(i));  // its batch goes to a survivor or its replacement
  }
  ++stats_.deaths_seen;
  try_complete();
  check_epochs();
  answer_pulls();
}

}  // namespace troupe::train

TROUPE_ACTOR(troupe::train::Aggregator, join, rollback, pull, push, epoch, progress, metrics, checkpoint, stats,
             member_died, finish, ledger);
