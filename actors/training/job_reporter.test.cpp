#include "actors/training/job_reporter.hpp"

#include <doctest/doctest.h>

#include <cmath>

using namespace troupe;
using namespace troupe::train;

namespace {

/// Version v applied at v ms of the shard's clock, with the given (slot, samples) pushes, loss 0.5 per sample.
train::StepMetric step(int64_t v, std::vector<std::pair<int64_t, int64_t>> pushes) {
  train::StepMetric m;
  m.version = v;
  m.time_us = v * 1000;
  for (auto [slot, n] : pushes) {
    m.contributors.insert(m.contributors.end(), {slot, 0, n});
    m.samples += n;
  }
  m.loss_sum = 0.5 * static_cast<double>(m.samples);
  return m;
}

JobReporter two_trainers(int64_t every) {
  JobReporter r("job", 7);
  r.set_trainers({{11, "t-0"}, {12, "t-1"}}, every);
  return r;
}

}  // namespace

TEST_CASE("a report carries the last step, its loss, the trainers' rows and the contributors of the last steps") {
  auto r = two_trainers(1);
  r.set_epoch(2);
  std::vector<train::StepMetric> steps;
  for (int64_t v = 1; v <= 8; ++v) steps.push_back(v == 8 ? step(v, {{1, 64}}) : step(v, {{0, 64}, {1, 64}}));
  r.add_steps(steps);
  ClusterState st;
  ActorInfo a;
  a.id = 12;
  a.state = ActorState::restarting;
  st.actors.push_back(a);
  r.set_actor_states(st);

  JobInfo j = r.take_report("RUNNING");
  CHECK(j.name == "job");
  CHECK(j.state == "RUNNING");
  CHECK(j.epoch == 2);
  CHECK(j.step == 8);
  CHECK(j.loss == doctest::Approx(0.5));
  CHECK(j.accuracy == -1);
  REQUIRE(j.trainers.size() == 2);
  CHECK(j.trainers[0].actor == 11);
  CHECK(j.trainers[0].steps == 7);
  CHECK(j.trainers[0].last_step == 7);
  CHECK(j.trainers[1].steps == 8);
  CHECK(j.trainers[1].last_step == 8);
  CHECK(j.trainers[1].state == "RESTARTING");
  CHECK(j.trainers[0].state.empty());  // not in the state: unknown
  // 7 steps of 128 or 64 samples after the window's first, over 7 ms.
  CHECK(j.samples_per_s == doctest::Approx((6 * 128 + 64) / 7e-3));
  CHECK(j.trainers[0].samples_per_s == doctest::Approx(6 * 64 / 7e-3));
  REQUIRE(j.contributors.size() == 5);
  CHECK(j.contributors.front().step == 4);
  CHECK(j.contributors.back().step == 8);
  CHECK(j.contributors.back().trainers == std::vector<std::string>{"t-1"});
  CHECK(j.contributors[0].trainers == std::vector<std::string>{"t-0", "t-1"});
  CHECK(j.history.size() == 8);
}

TEST_CASE("history points are sent once, one per k versions with the mean loss of those steps") {
  auto r = two_trainers(4);
  std::vector<train::StepMetric> steps;
  for (int64_t v = 1; v <= 10; ++v) {
    steps.push_back(step(v, {{0, 10}}));
    steps.back().loss_sum = static_cast<double>(v) * 10;  // mean loss v
  }
  r.add_steps(steps);
  JobInfo j = r.take_report("RUNNING");
  REQUIRE(j.history.size() == 2);
  CHECK(j.history[0].step == 4);
  CHECK(j.history[0].loss == doctest::Approx(2.5));  // mean of 1..4
  CHECK(j.history[1].step == 8);
  CHECK(j.history[1].loss == doctest::Approx(6.5));
  CHECK(j.history[0].accuracy == -1);
  CHECK(r.take_report("RUNNING").history.empty());

  // An evaluation is a point of the accuracy curve only; a final state flushes the remaining steps.
  r.add_accuracy(8, 0.75);
  JobInfo done = r.take_report("DONE");
  CHECK(done.state == "DONE");
  CHECK(done.accuracy == doctest::Approx(0.75));
  REQUIRE(done.history.size() == 2);
  CHECK(done.history[0].step == 8);
  CHECK(std::isnan(done.history[0].loss));
  CHECK(done.history[0].accuracy == doctest::Approx(0.75));
  CHECK(done.history[1].step == 10);
  CHECK(done.history[1].loss == doctest::Approx(9.5));
}

TEST_CASE("before any step the loss is unknown and the rates are zero") {
  auto r = two_trainers(1);
  JobInfo j = r.take_report("RUNNING");
  CHECK(std::isnan(j.loss));
  CHECK(j.step == 0);
  CHECK(j.samples_per_s == 0);
  CHECK(j.history.empty());
  CHECK(j.contributors.empty());
}

TEST_CASE("a report carries the job's id, plan and each epoch's results once; the summary with the final report") {
  auto r = two_trainers(1);
  r.set_plan(3, 100);
  r.set_epoch_step(40);
  r.add_epoch(JobEpoch{.epoch = 1, .test_accuracy = 0.8, .best_metric = "test_accuracy"});
  r.set_output_dir("/out");
  auto first = r.take_report("RUNNING");
  CHECK(first.id == 7);
  CHECK(first.epochs_total == 3);
  CHECK(first.steps_per_epoch == 100);
  CHECK(first.epoch_step == 40);
  REQUIRE(first.epoch_results.size() == 1);
  CHECK(first.epoch_results[0].test_accuracy == doctest::Approx(0.8));
  CHECK(first.output_dir == "/out");
  CHECK(r.take_report("RUNNING").epoch_results.empty());
  r.set_summary("final test accuracy 0.8000");
  auto last = r.take_report("DONE");
  CHECK(last.state == "DONE");
  CHECK(last.summary == "final test accuracy 0.8000");
}
