#include "scheduler/job_table.hpp"

#include <algorithm>
#include <limits>

namespace troupe {

JobTable::JobTable(std::chrono::milliseconds lease, Limits limits) : lease_(lease), limits_(limits) {}

bool JobTable::is_final(const std::string& state) {
  return state == "DONE" || state == "FAILED" || state == "STOPPED";
}

JobInfo JobTable::journal_copy(const JobInfo& job) {
  JobInfo j = job;
  j.trainers.clear();
  j.contributors.clear();
  j.history.clear();
  j.epoch_results.clear();
  return j;
}

std::string JobTable::clip(std::string s, std::size_t max) const {
  if (s.size() > max) s.resize(max);
  return s;
}

JobTable::Entry* JobTable::by_id(JobId id) {
  if (id == 0) return nullptr;
  for (auto& [name, e] : jobs_)
    if (e.info.id == id) return &e;
  return nullptr;
}

const JobInfo* JobTable::find(JobId id) const {
  if (id == 0) return nullptr;
  for (const auto& [name, e] : jobs_)
    if (e.info.id == id) return &e.info;
  return nullptr;
}

const JobInfo* JobTable::find(const std::string& name) const {
  auto it = jobs_.find(name);
  return it == jobs_.end() ? nullptr : &it->second.info;
}

std::vector<JobInfo> JobTable::list() const {
  std::vector<JobInfo> out;
  out.reserve(jobs_.size());
  for (const auto& [name, e] : jobs_) out.push_back(e.info);
  return out;
}

bool JobTable::make_room() {
  if (jobs_.size() < limits_.max_jobs) return true;
  auto oldest = jobs_.end();
  for (auto it = jobs_.begin(); it != jobs_.end(); ++it)
    if (is_final(it->second.info.state) &&
        (oldest == jobs_.end() || it->second.info.updated_ms < oldest->second.info.updated_ms))
      oldest = it;
  if (oldest == jobs_.end()) return false;
  jobs_.erase(oldest);
  return true;
}

void JobTable::evict_finished() {
  std::vector<std::pair<int64_t, std::string>> ended;
  for (const auto& [name, e] : jobs_)
    if (is_final(e.info.state)) ended.emplace_back(e.info.updated_ms, name);
  if (ended.size() <= limits_.max_finished) return;
  std::sort(ended.begin(), ended.end());
  for (std::size_t i = 0; i + limits_.max_finished < ended.size(); ++i) jobs_.erase(ended[i].second);
}

Result<JobInfo> JobTable::add(const JobRegistration& r, int64_t now_ms) {
  if (!make_room())
    return Error(Errc::unavailable, std::to_string(jobs_.size()) + " jobs are running, the most this scheduler keeps");
  const std::string base = clip(r.name.empty() ? std::string("job") : r.name, limits_.max_name);
  std::string name = base;
  for (int i = 2; jobs_.count(name) != 0; ++i) name = base + "-" + std::to_string(i);
  Entry e;
  e.info.name = name;
  e.info.state = "RUNNING";
  e.info.id = next_id_++;
  e.info.detached = r.detached;
  e.info.driver = clip(r.driver, limits_.max_text);
  e.info.output_dir = clip(r.output_dir, limits_.max_text);
  e.info.started_ms = now_ms;
  e.info.updated_ms = now_ms;
  e.info.loss = std::numeric_limits<double>::quiet_NaN();  // no step yet
  e.renewed_ms = now_ms;
  return (jobs_[name] = std::move(e)).info;
}

Result<JobInfo> JobTable::renew(const JobRenewal& r, ActorId sender, int64_t now_ms) {
  Entry* e = by_id(r.id);
  if (e == nullptr) return Error(Errc::not_found, "no job " + std::to_string(r.id));
  if (is_final(e->info.state))
    return Error(Errc::not_found, "job " + e->info.name + " has ended: " + e->info.state +
                                      (e->info.reason.empty() ? "" : " (" + e->info.reason + ")"));
  e->renewed_ms = now_ms;
  if (r.adopt) {
    e->info.driver_actor = sender;
    e->info.driver = clip(r.driver, limits_.max_text);
  }
  return e->info;
}

Result<bool> JobTable::report(JobInfo report, int64_t now_ms) {
  Entry* e = nullptr;
  if (report.id != 0) {
    e = by_id(report.id);
    if (e == nullptr) return Error(Errc::not_found, "job_report: no job " + std::to_string(report.id));
  } else {
    // Reported without registering (no lease): merged by name, as before jobs registered.
    if (report.name.empty()) return Error(Errc::invalid_argument, "job_report: the job has no name");
    report.name = clip(report.name, limits_.max_name);
    auto it = jobs_.find(report.name);
    if (it == jobs_.end()) {
      if (!make_room())
        return Error(Errc::unavailable, std::to_string(jobs_.size()) + " jobs are running, the most this scheduler keeps");
      Entry fresh;
      fresh.info.name = report.name;
      fresh.info.started_ms = now_ms;
      it = jobs_.emplace(report.name, std::move(fresh)).first;
    }
    e = &it->second;
  }
  JobInfo& job = e->info;
  // An ended job stays as it ended: a late report of a driver declared lost must not revive it.
  if (is_final(job.state))
    return Error(Errc::not_found, "job " + job.name + " has ended: " + job.state +
                                      (job.reason.empty() ? "" : " (" + job.reason + ")"));
  e->renewed_ms = now_ms;  // a registered job's lease; an unregistered one's last sign of life

  job.history.insert(job.history.end(), report.history.begin(), report.history.end());
  // Bounded: past the cap, keep every other old point (the curve's shape stays),
  // as often as it takes (one report may bring many points).
  while (job.history.size() > limits_.max_history) {
    std::vector<JobPoint> thinned;
    const std::size_t keep_tail = limits_.max_history / 2;
    // Evaluations (points with an accuracy) are few and each one matters: keep them all.
    for (std::size_t i = 0; i + keep_tail < job.history.size(); ++i)
      if (i % 2 == 0 || job.history[i].accuracy >= 0) thinned.push_back(job.history[i]);
    thinned.insert(thinned.end(), job.history.end() - static_cast<std::ptrdiff_t>(keep_tail), job.history.end());
    const bool shrank = thinned.size() < job.history.size();
    job.history.swap(thinned);
    if (!shrank) break;
  }
  // Still over (a report of nothing but evaluations): the oldest go.
  if (job.history.size() > limits_.max_history)
    job.history.erase(job.history.begin(),
                      job.history.end() - static_cast<std::ptrdiff_t>(limits_.max_history));
  job.epoch_results.insert(job.epoch_results.end(), report.epoch_results.begin(), report.epoch_results.end());
  if (job.epoch_results.size() > limits_.max_epochs)
    job.epoch_results.erase(job.epoch_results.begin(),
                            job.epoch_results.end() - static_cast<std::ptrdiff_t>(limits_.max_epochs));
  job.state = report.state;
  job.epoch = report.epoch;
  job.step = report.step;
  job.loss = report.loss;
  job.accuracy = report.accuracy;
  job.samples_per_s = report.samples_per_s;
  job.trainers = std::move(report.trainers);
  if (job.trainers.size() > limits_.max_trainers) job.trainers.resize(limits_.max_trainers);
  job.contributors = std::move(report.contributors);
  if (job.contributors.size() > limits_.max_contributors)
    job.contributors.erase(job.contributors.begin(),
                           job.contributors.end() - static_cast<std::ptrdiff_t>(limits_.max_contributors));
  job.epochs_total = report.epochs_total;
  job.steps_per_epoch = report.steps_per_epoch;
  job.epoch_step = report.epoch_step;
  job.reason = clip(std::move(report.reason), limits_.max_text);
  job.summary = clip(std::move(report.summary), limits_.max_text);
  if (!report.output_dir.empty()) job.output_dir = clip(std::move(report.output_dir), limits_.max_text);
  job.updated_ms = now_ms;
  const bool ended = is_final(job.state);
  if (ended) evict_finished();  // `job` may be gone after this
  return ended;
}

void JobTable::fail(Entry& e, const std::string& reason, int64_t now_ms) {
  e.info.state = "FAILED";
  e.info.reason = clip(reason, limits_.max_text);
  e.info.updated_ms = now_ms;
  e.info.samples_per_s = 0;
}

std::vector<JobInfo> JobTable::expire(int64_t now_ms) {
  std::vector<JobInfo> out;
  for (auto& [name, e] : jobs_) {
    if (e.info.state != "RUNNING") continue;
    const int64_t silent = now_ms - e.renewed_ms;
    if (e.info.id == 0) {
      // No lease, but not kept forever either: anyone can report a name.
      if (silent <= limits_.unregistered_silence_ms) continue;
      fail(e, "no report for " + std::to_string(silent) + " ms (an unregistered job is kept " +
                  std::to_string(limits_.unregistered_silence_ms) + " ms after its last report)",
           now_ms);
      out.push_back(e.info);
      continue;
    }
    if (silent <= lease_.count()) continue;
    fail(e, "driver lost: no word from " + (e.info.driver.empty() ? std::string("its driver") : e.info.driver) +
                " for " + std::to_string(silent) + " ms (lease " + std::to_string(lease_.count()) + " ms)",
         now_ms);
    out.push_back(e.info);
  }
  if (!out.empty()) evict_finished();
  return out;
}

std::optional<JobInfo> JobTable::driver_died(ActorId actor, const std::string& why, int64_t now_ms) {
  if (actor == 0) return std::nullopt;
  for (auto& [name, e] : jobs_) {
    if (e.info.driver_actor != actor || e.info.state != "RUNNING") continue;
    fail(e, "driver lost: " + why, now_ms);
    JobInfo failed = e.info;
    evict_finished();
    return failed;
  }
  return std::nullopt;
}

void JobTable::restore(JobInfo job, int64_t now_ms) {
  if (job.name.empty()) return;
  next_id_ = std::max(next_id_, job.id + 1);
  if (jobs_.count(job.name) == 0 && !make_room()) return;
  Entry e;
  e.info = std::move(job);
  e.renewed_ms = now_ms;  // a grace period: a live driver renews within it
  jobs_[e.info.name] = std::move(e);
}

}  // namespace troupe
