// The scheduler's side of jobs (docs/FAULTS.md, "the driver dies"): a driver
// registers its job and renews the job's lease; the actors it spawns carry
// the job's id. When the job ends (its driver reports DONE, FAILED or
// STOPPED) or its driver is lost (the lease runs out, or the driver actor of
// a detached job dies), the job's remaining actors are stopped, as Ray stops
// the actors a driver owns when the driver exits. I/O thread only, as the
// rest of the scheduler.
#include <csignal>
#include <cstdio>

#include "runtime/capability.hpp"
#include "scheduler/recovery.hpp"
#include "scheduler/scheduler.hpp"

namespace troupe {

void Scheduler::persist(const JobInfo& job) {
  if (!journal_ || job.id == 0) return;
  JournalRecord r;
  r.type = "job";
  r.job = JobTable::journal_copy(job);
  if (auto t = job_tokens_.find(job.id); t != job_tokens_.end()) r.token = t->second;
  append(encode_record(r));
}

void Scheduler::publish_job(const JobInfo& job, const std::string& message) {
  Event e;
  e.topic = "job";
  e.name = job.name;
  e.actor = job.driver_actor;
  e.state = JobTable::is_final(job.state) ? ActorState::dead : ActorState::alive;
  e.message = message.empty() ? job.state : job.state + ": " + message;
  publish(e);
}

void Scheduler::on_job_register(const Message& m, const Responder& r) {
  auto reg = m.body_as<JobRegistration>();
  if (!reg.ok()) return r.fail(reg.error());
  auto job = jobs_.add(reg.value(), now_ms());
  if (!job.ok()) return r.fail(job.error());
  // The tokens of jobs the table has forgotten (capped, docs/LIMITS.md) go with them.
  std::erase_if(job_tokens_, [this](const auto& t) { return jobs_.find(t.first) == nullptr; });
  // The registering program drives the job: only it (or whom it hands the token to) reports and renews.
  const std::string token = job_tokens_[job->id] = make_token();
  persist(*job);
  publish_job(*job, std::string(job->detached ? "detached job" : "job") + " registered by " +
                        (job->driver.empty() ? std::string("its driver") : job->driver));
  r.reply(JobRegistered{job->id, job->name, options_.heartbeat_timeout.count(), token});
}

void Scheduler::on_job_renew(const Message& m, const Responder& r) {
  auto renewal = m.body_as<JobRenewal>();
  if (!renewal.ok()) return r.fail(renewal.error());
  // A job that is unknown or has ended stays not_found (a lost driver learns it so); a running one needs its token.
  if (const JobInfo* known = jobs_.find(renewal->id);
      known != nullptr && !JobTable::is_final(known->state) && !job_token_ok(renewal->id, renewal->token))
    return r.fail(refuse(std::string(renewal->adopt ? "job_renew{adopt}" : "job_renew") + " of job " + known->name));
  auto job = jobs_.renew(renewal.value(), m.header().sender_id, now_ms());
  if (!job.ok()) return r.fail(job.error());
  if (renewal->adopt) {
    persist(*job);
    publish_job(*job, "now driven by " + job->driver);
  }
  r.reply(JobRegistered{job->id, job->name, options_.heartbeat_timeout.count()});
}

void Scheduler::on_job(const Message& m, const Responder& r) {
  auto q = m.body_as<JobQuery>();
  if (!q.ok()) return r.fail(q.error());
  const JobInfo* job = jobs_.find(q->name);
  if (job == nullptr) return r.fail(Error(Errc::not_found, "no job named '" + q->name + "'"));
  if (q->history) return r.reply(*job);
  JobInfo copy = *job;
  copy.history.clear();
  r.reply(copy);
}

void Scheduler::check_jobs() {
  for (const JobInfo& job : jobs_.expire(now_ms())) end_job(job);
}

void Scheduler::driver_gone(ActorId actor, const std::string& why) {
  // Posted: the caller may be walking the actor table, which end_job changes.
  runtime_->io().post([this, actor, why] {
    if (auto job = jobs_.driver_died(actor, why, now_ms())) end_job(*job);
  });
}

void Scheduler::end_job(const JobInfo& job) {
  persist(job);
  publish_job(job, job.reason);
  if (job.id == 0) return;
  const std::string reason = job.reason.rfind("driver lost", 0) == 0 ? "job " + job.name + ": driver lost"
                                                                      : "job " + job.name + " ended (" + job.state + ")";
  int stopping = 0;
  for (auto& [id, a] : actors_) {
    if (a.info.spec.job != job.id || a.info.state == ActorState::dead || a.kill_requested) continue;
    ++stopping;
    kill_actor(a, reason, [id](Result<void> res) {
      // not_found: it exited meanwhile (its exit report makes it DEAD).
      if (!res.ok() && res.error().code != Errc::not_found)
        std::fprintf(stderr, "troupe scheduler: stopping actor %llu: %s\n", static_cast<unsigned long long>(id),
                     res.error().to_string().c_str());
    });
  }
  if (stopping > 0 && job.state == "FAILED")
    std::fprintf(stderr, "troupe scheduler: job %s %s: stopping its %d actor(s)\n", job.name.c_str(),
                 job.reason.c_str(), stopping);
}

}  // namespace troupe
