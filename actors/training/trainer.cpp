#include "actors/training/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "kernels/cpu/threads.hpp"
#include "runtime/actor_context.hpp"
#include "runtime/registry.hpp"

namespace troupe::train {

namespace {
using Clock = std::chrono::steady_clock;
constexpr auto kPullTimeout = std::chrono::seconds(60);
constexpr auto kBatchTimeout = std::chrono::seconds(60);
constexpr auto kControlTimeout = std::chrono::seconds(10);

/// A kernel failed (a CUDA error leaves the context unusable): not retried in
/// place; it escapes the step loop and ends the process, which the scheduler restarts.
struct DeviceFault : std::runtime_error {
  using std::runtime_error::runtime_error;
};

double us_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

kernels::MlpOptions mlp_options(const JobSpec& job) {
  kernels::MlpOptions o;
  o.backend = job.backend == "cuda" ? kernels::Backend::cuda : kernels::Backend::cpu;
  o.cpu_threads = job.trainer_threads;
  o.cuda_device = 0;  // the worker shows a GPU actor only its own device
  return o;
}
}  // namespace

Trainer::Trainer(JobSpec job, int slot, std::vector<ActorHandle<ShardLoader>> loaders,
                 std::vector<ActorHandle<Aggregator>> shards)
    : job_(std::move(job)), slot_(slot), loaders_(std::move(loaders)), shards_(std::move(shards)) {
  if (slot < 0 || slot >= job_.trainers) throw Exception(Error(Errc::invalid_argument, "trainer slot out of range"));
  if (static_cast<int>(loaders_.size()) != job_.loaders)
    throw Exception(Error(Errc::invalid_argument, "need one handle per loader"));
  ActorContext& self = this_actor();
  for (std::size_t i = 0; i + 1 < job_.fault_ctor_throw.size(); i += 2)
    if (job_.fault_ctor_throw[i] == slot && job_.fault_ctor_throw[i + 1] == static_cast<int64_t>(self.incarnation()))
      throw std::runtime_error("injected constructor failure (slot " + std::to_string(slot) + ", incarnation " +
                               std::to_string(self.incarnation()) + ")");
  if (static_cast<int>(shards_.size()) != job_.shards)
    throw Exception(Error(Errc::invalid_argument, "need one handle per shard"));
  num_params_ = kernels::ParamLayout(mlp_spec(job_)).num_params();
  for (int s = 0; s < job_.shards; ++s) ranges_.push_back(shard_range(num_params_, job_.shards, s));
  buckets_ = grad_buckets(job_);
  self_ = self.id();
  incarnation_ = self.incarnation();
  status_.slot = slot;
  status_.incarnation = incarnation_;
  self.run_background([this](std::stop_token st) { loop(st); });
}

Trainer::~Trainer() { stop_ = true; }

bool Trainer::stop() {
  stop_ = true;
  return true;
}

std::string Trainer::inject(std::string kind) {
  std::fprintf(stderr, "trainer %d: injected fault '%s'\n", slot_, kind.c_str());
  std::fflush(stderr);
  if (kind == "abort") std::abort();
  if (kind == "exception") fault_ = 1;
  else if (kind == "cuda") fault_ = 2;
  else throw Exception(Error(Errc::invalid_argument, "unknown fault '" + kind + "' (abort, exception, cuda)"));
  return kind;
}

TrainerStatus Trainer::status() {
  std::lock_guard lock(status_mutex_);
  return status_;
}

bool Trainer::join_all(std::stop_token st) {
  pushes_.clear();
  next_batch_.reset();
  const bool lockstep = train::lockstep(job_);
  const auto started = Clock::now();
  bool waited = joins_ > 0;  // a rejoin: a shard failed, restarted or rolled back; its duration is a wait
  std::string why;
  auto waiting = [&](const std::string& w) {
    waited = true;
    why = w;
    std::lock_guard lock(status_mutex_);
    status_.waiting = w;
  };
  auto done_waiting = [&] {
    const double s = std::chrono::duration<double>(Clock::now() - started).count();
    std::lock_guard lock(status_mutex_);
    status_.waiting.clear();
    if (!waited) return;
    ++status_.shard_waits;
    status_.shard_wait_s += s;
    status_.shard_wait_max_s = std::max(status_.shard_wait_max_s, s);
  };
  while (!st.stop_requested() && !stop_) {
    const double waited_s = std::chrono::duration<double>(Clock::now() - started).count();
    if (waited_s > job_.shard_timeout_s) {
      done_waiting();
      std::lock_guard lock(status_mutex_);
      status_.error = "gave up after " + std::to_string(static_cast<int>(waited_s)) +
                      " s waiting for the aggregator shards (shard_timeout_s): " + why;
      std::fprintf(stderr, "trainer %d: %s\n", slot_, status_.error.c_str());
      return false;
    }
    std::vector<Future<JoinReply>> fs;
    for (auto& s : shards_) fs.push_back(s.call(&Aggregator::join, JoinRequest{slot_, self_, incarnation_, -1}));
    std::vector<JoinReply> replies;
    for (std::size_t i = 0; i < fs.size(); ++i) {
      auto r = fs[i].result(kControlTimeout);
      if (!r.ok()) {
        if (r.error().code == Errc::stale_incarnation) {
          // This incarnation is fenced off (a newer one exists, or it was reported dead): it must not train.
          std::lock_guard lock(status_mutex_);
          status_.error = "fenced off by shard " + std::to_string(i) + ": " + r.error().message;
          return false;
        }
        waiting("shard " + std::to_string(i) + ": " + r.error().to_string());
        break;
      }
      replies.push_back(r.value());
    }
    if (replies.size() == fs.size()) {
      const auto [lo, hi] = std::minmax_element(
          replies.begin(), replies.end(), [](const JoinReply& a, const JoinReply& b) { return a.version < b.version; });
      const bool restored = std::any_of(replies.begin(), replies.end(), [](const JoinReply& r) { return r.restored; });
      const bool split = std::any_of(replies.begin(), replies.end(),
                                     [&](const JoinReply& r) { return r.timeline != replies[0].timeline; });
      if (restored || split) {
        if (!reconcile(replies, why)) waiting(why);
        continue;  // join again: every shard should now be on the same timeline
      }
      const int64_t vmax = hi->version;
      bool ok = true;
      if (lockstep && lo->version < vmax) {
        // Another shard is ahead (pushes in flight): resume at its version;
        // the shards behind do not wait for this slot before it.
        for (std::size_t i = 0; i < shards_.size() && ok; ++i)
          if (replies[i].version < vmax)
            ok = shards_[i]
                     .call(&Aggregator::join, JoinRequest{slot_, self_, incarnation_, vmax})
                     .result(kControlTimeout)
                     .ok();
      }
      if (ok) {
        timeline_ = replies[0].timeline;
        relayed_ = lo->version;
        version_ = lockstep ? vmax : replies[0].version;
        step_ = replies[0].next_step;
        for (const auto& r : replies) step_ = std::min(step_, r.next_step);
        if (lockstep) step_ = vmax;
        done_waiting();
        std::lock_guard lock(status_mutex_);
        status_.rejoins = joins_++;
        return true;
      }
    }
    // A shard is restarting: the scheduler brings it back; try again shortly.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool Trainer::reconcile(const std::vector<JoinReply>& replies, std::string& why) {
  // The highest version that every shard can reach (its current one or a kept
  // checkpoint; 0 always) and that no shard has to run forward to.
  int64_t vmin = INT64_MAX, timeline = 0;
  for (const auto& r : replies) {
    vmin = std::min(vmin, r.version);
    timeline = std::max(timeline, r.timeline);
  }
  int64_t target = 0;
  for (const auto& r0 : replies) {
    std::vector<int64_t> cand = r0.rollback_points;
    cand.push_back(r0.version);
    for (int64_t v : cand) {
      if (v > vmin || v <= target) continue;
      const bool everywhere = std::all_of(replies.begin(), replies.end(), [&](const JoinReply& r) {
        return r.version == v ||
               std::find(r.rollback_points.begin(), r.rollback_points.end(), v) != r.rollback_points.end();
      });
      if (everywhere) target = v;
    }
  }
  const RollbackRequest rr{target, timeline + 1};
  std::vector<Future<JoinReply>> fs;
  for (auto& s : shards_) fs.push_back(s.call(&Aggregator::rollback, rr));
  bool ok = true;
  for (std::size_t i = 0; i < fs.size(); ++i) {
    auto r = fs[i].result(kControlTimeout);
    if (!r.ok()) {
      why = "reconciling shard " + std::to_string(i) + " to version " + std::to_string(target) + ": " +
            r.error().to_string();
      ok = false;
    }
  }
  if (ok)
    std::fprintf(stderr, "trainer %d: reconciled %zu shard(s) to version %lld (timeline %lld)\n", slot_,
                 shards_.size(), static_cast<long long>(target), static_cast<long long>(rr.timeline));
  return ok;
}

void Trainer::loop(std::stop_token st) {
  kernels::cpu::set_num_threads(job_.trainer_threads);
  model_ = kernels::make_mlp(mlp_spec(job_), mlp_options(job_));
  params_.assign(static_cast<std::size_t>(num_params_), 0.0f);
  if (!join_all(st)) return;
  while (!st.stop_requested() && !stop_ && !finished_) {
    if (fault_ == 1) throw std::runtime_error("injected exception in the step loop");
    bool ok = false;
    try {
      ok = step_once(st);
    } catch (const DeviceFault&) {
      throw;  // ends the process: a fresh incarnation gets a fresh device context
    } catch (const std::exception& e) {
      std::fprintf(stderr, "trainer %d: step %lld failed: %s\n", slot_, static_cast<long long>(step_), e.what());
    }
    if (!ok && !join_all(st)) return;
  }
  std::lock_guard lock(status_mutex_);
  status_.finished = finished_;
  status_.step = step_;
  // One line for the actor's log (tools/bench/train/run.sh reads it).
  std::fprintf(stderr, "trainer %d: summary: steps=%lld compute_us=%.1f wait_us=%.1f buckets=%zu\n", slot_,
               static_cast<long long>(status_.steps_done), status_.compute_us_mean, status_.wait_us_mean,
               buckets_.size());
  std::fflush(stderr);
}

Future<Batch> Trainer::fetch(BatchId b) {
  return loaders_[static_cast<std::size_t>(loader_of(job_, b.slot))].call(&ShardLoader::batch, b.slot, b.step);
}

bool Trainer::pull_all(std::vector<Weights>& w) {
  PullRequest pr{slot_, incarnation_, version_, step_, timeline_, relayed_, {}};
  // Shard 0 first: the other shards apply what it decided (aggregator.hpp,
  // "Several shards"), which this pull relays to them.
  std::vector<Future<Weights>> pulls{shards_[0].call(&Aggregator::pull, pr)};
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    if (i == 1) {
      pr.commits = w[0].commits;
      for (std::size_t k = 1; k < shards_.size(); ++k) pulls.push_back(shards_[k].call(&Aggregator::pull, pr));
    }
    auto r = pulls[i].result(kPullTimeout);
    if (!r.ok()) {
      std::fprintf(stderr, "trainer %d: pull from shard %zu: %s\n", slot_, i, r.error().to_string().c_str());
      return false;
    }
    w.push_back(std::move(r.value()));
  }
  if (w.size() > 1) {
    relayed_ = w[1].version;
    for (std::size_t k = 2; k < w.size(); ++k) relayed_ = std::min(relayed_, w[k].version);
  }
  return true;
}

bool Trainer::step_once(std::stop_token) {
  const bool lockstep = train::lockstep(job_);
  const auto t0 = Clock::now();
  // 1. weights
  std::vector<Weights> w;
  if (!pull_all(w)) return false;
  const int64_t version = w[0].version;
  const BatchId id = w[0].batch;  // shard 0 hands out the work (batch_ledger.hpp)
  if (lockstep) step_ = version;
  if (w[0].finished) {
    // The other shards close their last epoch where shard 0 ended the run.
    std::vector<Future<bool>> fs;
    for (std::size_t i = 1; i < shards_.size(); ++i) fs.push_back(shards_[i].call(&Aggregator::finish, version));
    for (auto& f : fs)
      if (!f.result(kControlTimeout).ok()) return false;
    version_ = version;
    finished_ = true;
    return true;
  }
  std::span<const float> params;
  if (w.size() == 1 && w[0].w.numel() == num_params_) {
    params = w[0].w.span<float>();  // zero-copy: the weights frame itself
  } else {
    for (std::size_t i = 0; i < w.size(); ++i) {
      const auto [b, e] = ranges_[i];
      if (w[i].w.numel() != e - b) throw std::runtime_error("shard sent a slice of the wrong size");
      std::memcpy(params_.data() + b, w[i].w.data(), static_cast<std::size_t>(e - b) * sizeof(float));
    }
    params = params_;
  }
  // 2. the batch it was handed (none: nothing is left to hand out in this
  // epoch, so it idles the step with an empty push), and the next one of the
  // same order asked for ahead: without faults that is what it is handed next.
  Batch batch;
  if (id.valid()) {
    if (!next_batch_ || !(next_batch_id_ == id)) {
      next_batch_ = fetch(id);
      next_batch_id_ = id;
    }
    auto br = next_batch_->result(kBatchTimeout);
    if (!br.ok()) {
      std::fprintf(stderr, "trainer %d: batch (%d, %lld): %s\n", slot_, id.slot, static_cast<long long>(id.step),
                   br.error().to_string().c_str());
      next_batch_.reset();
      return false;
    }
    batch = std::move(br.value());
    next_batch_id_ = BatchId{id.slot, id.step + 1};
    if (next_batch_id_.step < job_.total_steps) next_batch_ = fetch(next_batch_id_);
    else next_batch_.reset();
  }
  const auto t1 = Clock::now();
  // 3. forward/backward; each bucket goes out as soon as backward has finished its layers
  Tensor grad = grad_pool_.get(DType::f32, {num_params_});
  std::vector<Future<PushReply>> others;  // this step's pushes to the shards after 0
  auto send = [&](const GradBucket& k, const kernels::BatchStats& bs) {
    const auto shard = static_cast<std::size_t>(k.shard);
    PushRequest p{slot_, self_, incarnation_, version, step_, batch.samples, bs.loss_sum, bs.correct,
                  grad.slice(k.begin, k.end), timeline_, k.begin - ranges_[shard].first, k.last, id, w[0].epoch,
                  w[0].progress};
    pushes_.push_back(shards_[shard].call(&Aggregator::push, p));
    if (shard > 0) others.push_back(pushes_.back());
  };
  const std::size_t held = buckets_.size() - 1;  // shard 0's final bucket waits for the loss statistics
  std::size_t next = 0;
  kernels::BatchStats stats;
  if (batch.samples > 0) {
    int64_t ready_low = num_params_;
    auto on_ready = [&](int64_t offset, int64_t) {
      ready_low = std::min(ready_low, offset);
      while (next < held && buckets_[next].begin >= ready_low) send(buckets_[next++], {});
    };
    try {
      if (fault_ == 2) throw std::runtime_error("CUDA error: an illegal memory access was encountered (injected)");
      stats = model_->forward_backward(params, batch.x.data_as<float>(), batch.y.data_as<int32_t>(), batch.samples,
                                       grad.span<float>(), on_ready);
    } catch (const std::exception& e) {
      throw DeviceFault(std::string("kernel failed: ") + e.what());
    }
  }
  while (next < held) send(buckets_[next++], {});
  // Shard 0 applies this push only once it has its last bucket: send that
  // only when every other shard holds its part, so whatever shard 0 applies,
  // the others can apply too (aggregator.hpp, "Several shards").
  bool ok = true, send_last = true;
  for (auto& f : others) {
    auto r = f.result(kControlTimeout);
    if (!r.ok() || r.value().status == PushReply::rejoin || r.value().status == PushReply::stale) ok = send_last = false;
    else if (r.value().status == PushReply::dropped) send_last = false;  // a straggler: the step went on without it
  }
  if (send_last) send(buckets_.back(), stats);  // shard 0 carries the loss statistics (aggregator.hpp)
  const auto t2 = Clock::now();
  // 4. errors of earlier pushes (a restarted shard) send us back to join
  std::erase_if(pushes_, [&](const Future<PushReply>& f) {
    if (!f.ready()) return false;
    auto r = f.result(std::chrono::milliseconds(0));
    if (!r.ok() || r.value().status == PushReply::rejoin) ok = false;
    return true;
  });
  version_ = lockstep ? version + 1 : version;
  ++step_;
  {
    std::lock_guard lock(status_mutex_);
    ++status_.steps_done;
    status_.step = step_;
    status_.version = version_;
    status_.samples += batch.samples;
    wait_us_ += us_between(t0, t1);
    compute_us_ += us_between(t1, t2);
    status_.wait_us_mean = wait_us_ / static_cast<double>(status_.steps_done);
    status_.compute_us_mean = compute_us_ / static_cast<double>(status_.steps_done);
  }
  return ok;
}

EvalResult Trainer::evaluate(EvalRequest r) {
  if (!eval_model_) {
    kernels::cpu::set_num_threads(job_.trainer_threads);
    eval_model_ = kernels::make_mlp(mlp_spec(job_), mlp_options(job_));
  }
  auto it = eval_data_.find(r.split);
  if (it == eval_data_.end())
    it = eval_data_.emplace(r.split, loaders_[static_cast<std::size_t>(loader_of(job_, slot_))].call(&ShardLoader::split, r.split).get(std::chrono::seconds(120))).first;
  const Batch& data = it->second;
  std::vector<float> params(static_cast<std::size_t>(num_params_));
  int64_t version = 0;
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    Tensor w;
    if (r.epoch >= 0) {
      auto s = shards_[i].call(&Aggregator::epoch, r.epoch).get(std::chrono::minutes(10));
      w = s.w;
      version = s.version;
    } else {
      auto s = shards_[i].call(&Aggregator::pull, PullRequest{-1, 0, 0, 0}).get(kControlTimeout);
      w = s.w;
      version = s.version;
    }
    const auto [b, e] = ranges_[i];
    if (w.numel() != e - b) throw Exception(Error(Errc::malformed_message, "shard sent a slice of the wrong size"));
    std::memcpy(params.data() + b, w.data(), static_cast<std::size_t>(e - b) * sizeof(float));
  }
  EvalResult out;
  out.split = r.split;
  out.version = version;
  out.samples = data.samples;
  if (data.samples > 0) {
    const auto bs = eval_model_->evaluate(params, data.x.data_as<float>(), data.y.data_as<int32_t>(), data.samples);
    out.loss = bs.mean_loss();
    out.accuracy = bs.accuracy();
  }
  return out;
}

}  // namespace troupe::train

TROUPE_ACTOR(troupe::train::Trainer, status, evaluate, stop, inject);
