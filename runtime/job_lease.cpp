#include "runtime/job_lease.hpp"

#include "runtime/runtime.hpp"

namespace troupe {

struct JobLease::State {
  JobId id = 0;
  std::string name;
  std::string token;  // set once, before the first renewal is scheduled
  std::chrono::milliseconds lease{0};
  Runtime* runtime = nullptr;
  std::atomic<bool> lost{false};
  std::atomic<bool> released{false};
  std::mutex mutex;
  std::string reason;  // guarded by mutex
};

namespace {

// Every quarter of the lease: three renewals may be lost or late before the
// scheduler gives up, as a worker's heartbeats (every 500 ms against 3 s).
std::chrono::milliseconds period_of(std::chrono::milliseconds lease) {
  return std::max(lease / 4, std::chrono::milliseconds(50));
}

void schedule(const std::weak_ptr<JobLease::State>& weak, std::chrono::milliseconds delay);

void renew(const std::weak_ptr<JobLease::State>& weak) {
  auto s = weak.lock();
  if (!s || s->released.load() || s->lost.load()) return;
  // Not waited for: a renewal that gets no answer (the scheduler restarting)
  // is simply followed by the next one.
  auto call = s->runtime->client().call_scheduler("job_renew", JobRenewal{s->id, false, "", s->token}, s->lease);
  call->add_callback([weak](const Result<Message>& r) {
    auto st = weak.lock();
    // not_found: the job ended or is unknown; permission_denied: this token
    // is not the job's. Either way this process no longer drives it.
    if (!st || r.ok() || (r.error().code != Errc::not_found && r.error().code != Errc::permission_denied)) return;
    {
      std::lock_guard lock(st->mutex);
      st->reason = r.error().message;
    }
    st->lost.store(true);
  });
  schedule(weak, period_of(s->lease));
}

void schedule(const std::weak_ptr<JobLease::State>& weak, std::chrono::milliseconds delay) {
  auto s = weak.lock();
  if (!s) return;
  s->runtime->io().post_after(delay, [weak] { renew(weak); });
}

}  // namespace

JobLease::JobLease(Runtime& runtime, std::shared_ptr<void> keep, const JobRegistered& registered)
    : state_(std::make_shared<State>()), keep_(std::move(keep)) {
  state_->id = registered.id;
  state_->name = registered.name;
  state_->token = registered.token;
  state_->lease = std::chrono::milliseconds(std::max<int64_t>(registered.lease_ms, 100));
  state_->runtime = &runtime;
  schedule(state_, period_of(state_->lease));
}

JobLease& JobLease::operator=(JobLease&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::move(other.state_);
    keep_ = std::move(other.keep_);
  }
  return *this;
}

JobLease::~JobLease() { release(); }

JobId JobLease::id() const { return state_->id; }
const std::string& JobLease::name() const { return state_->name; }
const std::string& JobLease::token() const { return state_->token; }
std::chrono::milliseconds JobLease::lease() const { return state_->lease; }
bool JobLease::lost() const { return state_->lost.load(); }

std::string JobLease::lost_reason() const {
  std::lock_guard lock(state_->mutex);
  return state_->reason;
}

void JobLease::release() {
  if (state_) state_->released.store(true);
}

}  // namespace troupe
