#include "actors/training/job_follower.hpp"

#include <sstream>
#include <thread>


namespace troupe::train {
namespace {

using Clock = std::chrono::steady_clock;

bool is_final(const std::string& state) { return state == "DONE" || state == "FAILED" || state == "STOPPED"; }

}  // namespace

Result<JobInfo> follow_train_job(const Cluster& cluster, const std::string& name, TrainObserver& out,
                                 const std::function<bool()>& stop, std::chrono::milliseconds poll) {
  constexpr auto kPatience = std::chrono::seconds(30);  // a scheduler restarting comes back well within it
  bool first = true;
  int64_t shown_epoch = 0, last_step = -1;
  auto last_answer = Clock::now(), last_step_time = Clock::now();
  double steps_per_s = 0;
  JobInfo seen;
  while (true) {
    if (stop && stop()) return seen;
    auto j = cluster.job(name, false, std::chrono::seconds(5));
    if (!j.ok()) {
      if (j.error().code != Errc::connection_lost) return j.error();
      if (Clock::now() - last_answer > kPatience) return j.error();
      std::this_thread::sleep_for(poll);  // the next poll's period, not a synchronisation
      continue;
    }
    last_answer = Clock::now();
    seen = std::move(j.value());
    if (first) {
      first = false;
      out.on_line("job " + seen.name + " (" + seen.state + (seen.detached ? ", detached" : "") + "), driven by " +
                  (seen.driver.empty() ? std::string("?") : seen.driver) +
                  (seen.output_dir.empty() ? std::string() : "; outputs in " + seen.output_dir));
    }
    for (const auto& e : seen.epoch_results)
      if (e.epoch > shown_epoch) {
        out.on_epoch(e, seen.epochs_total);
        shown_epoch = e.epoch;
      }
    if (is_final(seen.state)) {
      std::istringstream lines(seen.summary);
      for (std::string line; std::getline(lines, line);) out.on_line(line);
      if (seen.state != "DONE")
        out.on_error("job " + seen.name + " " + seen.state + (seen.reason.empty() ? "" : ": " + seen.reason));
      return seen;
    }
    // Steps per second from the reported step between two polls that saw it move.
    if (last_step >= 0 && seen.step > last_step) {
      const double dt = std::chrono::duration<double>(Clock::now() - last_step_time).count();
      if (dt > 0) steps_per_s = static_cast<double>(seen.step - last_step) / dt;
    }
    if (seen.step != last_step) {
      last_step = seen.step;
      last_step_time = Clock::now();
    }
    out.on_progress(TrainProgress{seen.epoch, seen.epochs_total, seen.epoch_step, seen.steps_per_epoch, steps_per_s,
                                  seen.samples_per_s, seen.loss});
    std::this_thread::sleep_for(poll);
  }
}

}  // namespace troupe::train
