#pragma once
// The scheduler's table of jobs (docs/FAULTS.md, "the driver dies"): their
// names and ids, who drives each, the driver's lease and the progress the
// driver reports. A registered job's driver renews its lease (every
// lease/4, and with every report); a running job whose driver is silent for
// longer than the lease, or whose driver actor dies, is FAILED with reason
// "driver lost". Bookkeeping only, with the time passed in, so it is tested
// without processes: the scheduler acts on what it returns (stops the ended
// job's actors, journals the change). Every list is capped (Limits).
// Not thread-safe: the scheduler's I/O thread owns it.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/control.hpp"
#include "runtime/error.hpp"

namespace troupe {

class JobTable {
 public:
  struct Limits {
    // Sized so that a peer sending fake reports cannot grow the scheduler
    // without bound: at most max_jobs × max_history points (≈ 40 B each, ≈ 10 MB).
    std::size_t max_jobs = 256;          ///< past it the job that ended longest ago is forgotten
    std::size_t max_finished = 64;       ///< ended jobs kept; past it the one that ended longest ago is forgotten
    std::size_t max_history = 1000;      ///< curve points per job; older ones are thinned
    /// A job reported without registering has no lease: silent this long, it is FAILED (then evicted as ended).
    int64_t unregistered_silence_ms = 60'000;
    std::size_t max_epochs = 1000;       ///< epoch results per job; the oldest are dropped
    std::size_t max_trainers = 1024;     ///< trainer rows per job
    std::size_t max_contributors = 64;   ///< steps with their contributors per job
    std::size_t max_name = 200;          ///< bytes of a job's name
    std::size_t max_text = 4096;         ///< bytes of summary, reason, driver, output_dir
  };
  /// `lease`: how long a registered job's driver may be silent.
  explicit JobTable(std::chrono::milliseconds lease) : JobTable(lease, Limits{}) {}
  JobTable(std::chrono::milliseconds lease, Limits limits);

  /// A new RUNNING job under a name no job of the table has (the wanted one,
  /// else NAME-2, NAME-3, …); its lease starts now. `unavailable` when
  /// max_jobs jobs are running.
  Result<JobInfo> add(const JobRegistration& registration, int64_t now_ms);
  /// The driver of job `r.id` is alive. With r.adopt, `sender` (an actor, or
  /// 0) drives it from now on. not_found when the job is unknown or ended.
  Result<JobInfo> renew(const JobRenewal& r, ActorId sender, int64_t now_ms);
  /// Merges a report (a report with an id also renews the lease). Returns
  /// true when this report ended the job (a final state); not_found when it
  /// names a job that has ended or an id the table does not have.
  Result<bool> report(JobInfo report, int64_t now_ms);
  /// Running jobs whose driver was silent for longer than the lease: now
  /// FAILED ("driver lost: …"). Returns them.
  std::vector<JobInfo> expire(int64_t now_ms);
  /// The running job `actor` drives, if any: now FAILED ("driver lost: " + why).
  std::optional<JobInfo> driver_died(ActorId actor, const std::string& why, int64_t now_ms);
  /// Puts back a job read from the journal. A running one gets a fresh lease
  /// (its driver renews within it if it is still alive).
  void restore(JobInfo job, int64_t now_ms);

  [[nodiscard]] const JobInfo* find(JobId id) const;
  [[nodiscard]] const JobInfo* find(const std::string& name) const;
  /// Every job, by name.
  [[nodiscard]] std::vector<JobInfo> list() const;
  [[nodiscard]] std::chrono::milliseconds lease() const { return lease_; }

  /// DONE, FAILED or STOPPED.
  static bool is_final(const std::string& state);
  /// What the journal keeps of a job: its identity and state, not its progress.
  static JobInfo journal_copy(const JobInfo& job);

 private:
  struct Entry {
    JobInfo info;
    int64_t renewed_ms = 0;  // the driver's last sign of life
  };
  Entry* by_id(JobId id);
  /// Room for one more entry: forgets the job that ended longest ago; false when all are running.
  bool make_room();
  /// Forgets ended jobs past max_finished, those that ended longest ago first.
  void evict_finished();
  void fail(Entry& e, const std::string& reason, int64_t now_ms);
  std::string clip(std::string s, std::size_t max) const;

  std::chrono::milliseconds lease_;
  Limits limits_;
  std::map<std::string, Entry> jobs_;
  JobId next_id_ = 1;
};

}  // namespace troupe
