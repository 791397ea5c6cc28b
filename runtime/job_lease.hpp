#pragma once
// A job's lease, held by the process that drives the job (docs/FAULTS.md,
// "the driver dies"). While a JobLease lives, its process's I/O thread
// renews the lease every quarter of the scheduler's heartbeat timeout, so a
// driver that is busy (waiting on an evaluation, loading data) stays alive
// and only a dead, hung or cut-off process loses it. When the scheduler hears
// nothing for a whole timeout it marks the job FAILED ("driver lost") and
// stops the job's actors (SpawnOptions::job). A job ends normally with a
// final report (Cluster::report_job with DONE, FAILED or STOPPED).
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "runtime/control.hpp"
#include "runtime/error.hpp"

namespace troupe {

class Runtime;

/// Move-only; thread-safety: every member function is thread-safe.
/// Destroying it (or release()) stops the renewals without ending the job:
/// unless the job has ended, or another process adopted it, the scheduler
/// then declares the driver lost.
class JobLease {
 public:
  /// Starts renewing job `registered` from `runtime`'s I/O thread. `keep`
  /// holds whatever keeps `runtime` alive as long as the lease (a Cluster's
  /// shared state).
  JobLease(Runtime& runtime, std::shared_ptr<void> keep, const JobRegistered& registered);
  JobLease(JobLease&&) noexcept = default;
  JobLease& operator=(JobLease&&) noexcept;
  JobLease(const JobLease&) = delete;
  JobLease& operator=(const JobLease&) = delete;
  ~JobLease();

  [[nodiscard]] JobId id() const;
  [[nodiscard]] const std::string& name() const;
  /// The job's capability (JobRegistered::token): job_report of this job
  /// must carry it (JobInfo::token), and a driver that adopts the job needs
  /// it (Cluster::adopt_job). Hand it only to the job's own driver.
  [[nodiscard]] const std::string& token() const;
  /// How long the scheduler waits for a renewal.
  [[nodiscard]] std::chrono::milliseconds lease() const;
  /// True once the scheduler refused a renewal: it declared this driver lost
  /// (or the job ended, or it does not know the job, or the token is not the job's). The job's actors are
  /// being stopped; the driver should stop too.
  [[nodiscard]] bool lost() const;
  /// The scheduler's answer when lost() (e.g. "job x has ended: FAILED (driver lost: …)").
  [[nodiscard]] std::string lost_reason() const;
  /// Stops renewing. Idempotent.
  void release();

  struct State;

 private:
  std::shared_ptr<State> state_;
  std::shared_ptr<void> keep_;
};

}  // namespace troupe
