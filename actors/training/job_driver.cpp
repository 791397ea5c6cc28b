#include "actors/training/job_driver.hpp"

#include <unistd.h>

#include <csignal>

#include "actors/training/train_console.hpp"
#include "actors/training/train_job.hpp"
#include "runtime/actor_context.hpp"

namespace troupe::train {
namespace {

std::string host_name() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return host;
}

}  // namespace

JobDriver::JobDriver(JobId job, std::string token, TrainConfig config)
    : config_(std::make_shared<const TrainConfig>(std::move(config))) {
  ActorContext& self = this_actor();
  auto lease = self.cluster().adopt_job(job, std::move(token),
                                        "actor " + std::to_string(self.id()) + " (" + self.name() + "), pid " +
                                            std::to_string(::getpid()) + " on " + host_name());
  // The constructor's error is the actor's death, which the submitter sees.
  if (!lease.ok()) throw Exception(lease.error());
  name_ = lease->name();
  auto held = std::make_shared<JobLease>(std::move(lease.value()));
  self.run_background([config = config_, held, name = name_](std::stop_token st) {
    // This actor's stdout is its log (`troupe logs NAME-driver`): the lines a foreground run prints.
    TrainConsole console("lines");
    TrainJobOptions o;
    o.actor_prefix = name + "-";
    // The worker stopping this actor (SIGTERM to the process) stops the job cleanly: STOPPED.
    o.stop = [&st] { return st.stop_requested() ? SIGTERM : 0; };
    const TrainOutcome r = run_train_job(this_actor().cluster(), *config, console, o, std::move(*held));
    std::printf("troupe train: job %s %s%s\n", r.job.c_str(), r.state.c_str(),
                r.error.code == Errc::ok ? "" : (": " + r.error.to_string()).c_str());
    std::fflush(stdout);
    // The job has ended: the scheduler stops its actors, this one among them.
  });
}

std::string JobDriver::started() { return name_; }

Result<SubmittedJob> submit_train_job(const Cluster& cluster, const TrainConfig& config,
                                      std::chrono::milliseconds timeout) {
  auto lease = cluster.start_job(JobRegistration{config.name, true, "", config.output_dir});
  if (!lease.ok()) return lease.error();
  auto fail = [&](const Error& e) {
    JobInfo r;
    r.id = lease->id();
    r.token = lease->token();
    r.name = lease->name();
    r.state = "FAILED";
    r.reason = "the driver actor did not start: " + e.to_string();
    cluster.report_job(r);
    (void)cluster.state(std::chrono::seconds(5));  // the report is handled before this process may go
    return e;
  };
  const std::string driver_name = lease->name() + "-driver";
  // The driver mostly waits on calls: it asks for no CPU, so it never waits for one.
  // The job's token goes to the driver as a constructor argument: the scheduler
  // gives those only to the driver's own process (its start token), and never
  // shows them in its state.
  auto driver = cluster.try_spawn<JobDriver>(
      {.name = driver_name, .cpus = 0, .max_restarts = 0, .job = lease->id()}, lease->id(), lease->token(), config);
  if (!driver.ok()) return fail(driver.error());
  auto started = driver->call(&JobDriver::started).result(timeout);
  if (!started.ok()) return fail(started.error());
  return SubmittedJob{lease->id(), lease->name(), driver->id(), driver_name};
}

}  // namespace troupe::train

TROUPE_ACTOR(troupe::train::JobDriver, started);
