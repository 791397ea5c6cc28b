#include "scheduler/job_table.hpp"

#include <doctest/doctest.h>

using namespace troupe;
using namespace std::chrono_literals;

namespace {

JobRegistration reg(const std::string& name, bool detached = false) {
  return JobRegistration{name, detached, "pid 1 on test", "/tmp/out"};
}

JobInfo running_report(JobId id, int64_t step) {
  JobInfo j;
  j.id = id;
  j.name = "ignored: the table knows the name";
  j.state = "RUNNING";
  j.step = step;
  return j;
}

}  // namespace

TEST_CASE("a registered job gets an id and a name no other job has") {
  JobTable t(3000ms);
  auto a = t.add(reg("mnist"), 1000);
  auto b = t.add(reg("mnist"), 1000);
  auto c = t.add(reg("mnist"), 1000);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  CHECK(a->name == "mnist");
  CHECK(b->name == "mnist-2");
  CHECK(c->name == "mnist-3");
  CHECK(a->id != b->id);
  CHECK(a->state == "RUNNING");
  CHECK(a->started_ms == 1000);
  CHECK(a->driver == "pid 1 on test");
  CHECK(t.add(reg(""), 1000)->name == "job");
}

TEST_CASE("a driver silent for longer than the lease is lost: the job is FAILED, once") {
  JobTable t(3000ms);
  const JobId id = t.add(reg("j"), 0)->id;
  CHECK(t.expire(3000).empty());  // exactly the lease: still alive
  REQUIRE(t.renew(JobRenewal{id, false, ""}, 0, 2500).ok());
  CHECK(t.expire(5500).empty());
  auto lost = t.expire(5501);
  REQUIRE(lost.size() == 1);
  CHECK(lost[0].id == id);
  CHECK(lost[0].state == "FAILED");
  CHECK(lost[0].reason.rfind("driver lost: no word from pid 1 on test for 3001 ms", 0) == 0);
  CHECK(t.expire(100000).empty());  // already ended
  // The driver learns it from its next renewal; a late report cannot revive the job.
  auto renewed = t.renew(JobRenewal{id, false, ""}, 0, 5600);
  REQUIRE_FALSE(renewed.ok());
  CHECK(renewed.error().code == Errc::not_found);
  CHECK(renewed.error().message.find("driver lost") != std::string::npos);
  CHECK_FALSE(t.report(running_report(id, 10), 5600).ok());
  CHECK(t.find(id)->state == "FAILED");
}

TEST_CASE("reports renew the lease and merge progress; a final report ends the job") {
  JobTable t(1000ms);
  const JobId id = t.add(reg("j"), 0)->id;
  auto r = running_report(id, 5);
  r.history = {JobPoint{5, 1, 0.5, -1, 10}};
  r.epoch_results = {JobEpoch{.epoch = 1, .test_accuracy = 0.8}};
  r.driver = "a report cannot change the driver";
  auto ended = t.report(r, 900);
  REQUIRE(ended.ok());
  CHECK_FALSE(*ended);
  CHECK(t.expire(1800).empty());  // renewed at 900
  r.history = {JobPoint{6, 2, 0.4, -1, 10}};
  r.epoch_results = {JobEpoch{.epoch = 2, .test_accuracy = 0.85}};
  r.state = "DONE";
  r.summary = "final test accuracy 0.85";
  ended = t.report(r, 1000);
  REQUIRE(ended.ok());
  CHECK(*ended);
  const JobInfo* j = t.find("j");
  REQUIRE(j != nullptr);
  CHECK(j->state == "DONE");
  CHECK(j->name == "j");
  CHECK(j->driver == "pid 1 on test");
  CHECK(j->history.size() == 2);
  CHECK(j->epoch_results.size() == 2);
  CHECK(j->summary == "final test accuracy 0.85");
  CHECK(t.expire(100000).empty());  // an ended job has no lease
}

TEST_CASE("a job reported without registering is kept by name until it is silent for a minute") {
  JobTable t(1000ms);
  JobInfo r;
  r.name = "legacy";
  r.state = "RUNNING";
  REQUIRE(t.report(r, 0).ok());
  CHECK(t.expire(59'000).empty());  // no lease: a driver's lease would have run out long ago
  CHECK(t.find("legacy")->id == 0);
  REQUIRE(t.report(r, 59'000).ok());
  CHECK(t.expire(119'000).empty());
  auto silent = t.expire(119'001);
  REQUIRE(silent.size() == 1);
  CHECK(silent[0].state == "FAILED");
  CHECK(silent[0].reason.find("no report for 60001 ms") == 0);
  r.name = "";
  CHECK(t.report(r, 0).error().code == Errc::invalid_argument);
  JobInfo unknown = running_report(999, 1);
  CHECK(t.report(unknown, 0).error().code == Errc::not_found);
}

TEST_CASE("the actor that adopted a detached job is its driver: its death fails the job") {
  JobTable t(3000ms);
  const JobId id = t.add(reg("d", true), 0)->id;
  auto adopted = t.renew(JobRenewal{id, true, "actor 17 (d-driver)"}, 17, 10);
  REQUIRE(adopted.ok());
  CHECK(adopted->driver_actor == 17);
  CHECK(adopted->driver == "actor 17 (d-driver)");
  CHECK(adopted->detached);
  CHECK_FALSE(t.driver_died(18, "other", 20).has_value());
  auto lost = t.driver_died(17, "d-driver died: killed by signal 9", 20);
  REQUIRE(lost.has_value());
  CHECK(lost->state == "FAILED");
  CHECK(lost->reason == "driver lost: d-driver died: killed by signal 9");
  CHECK_FALSE(t.driver_died(17, "again", 30).has_value());
}

TEST_CASE("every list of the table is bounded") {
  JobTable::Limits limits;
  limits.max_jobs = 3;
  limits.max_history = 10;
  limits.max_epochs = 4;
  limits.max_contributors = 2;
  limits.max_text = 8;
  limits.max_name = 5;
  JobTable t(1000ms, limits);
  const JobId a = t.add(reg("a"), 0)->id;
  t.add(reg("b"), 1);
  t.add(reg("c"), 2);
  // Three running jobs: no room for a fourth.
  CHECK(t.add(reg("d"), 3).error().code == Errc::unavailable);
  // Once one has ended, the one that ended longest ago makes room.
  JobInfo done = running_report(a, 1);
  done.state = "DONE";
  done.summary = std::string(100, 's');
  REQUIRE(t.report(done, 4).ok());
  CHECK(t.find(a)->summary.size() == 8);
  REQUIRE(t.add(reg("a-long-name"), 5).ok());
  CHECK(t.find(a) == nullptr);
  CHECK(t.find("a-lon") != nullptr);
  const JobId b = t.find("b")->id;
  for (int i = 0; i < 30; ++i) {
    JobInfo r = running_report(b, i);
    r.history = {JobPoint{i, i, 1.0, i == 3 ? 0.5 : -1, 1}};
    r.epoch_results = {JobEpoch{.epoch = i}};
    r.contributors = {JobContributors{i, {}}, JobContributors{i, {}}, JobContributors{i, {}}};
    REQUIRE(t.report(r, 10 + i).ok());
  }
  const JobInfo* j = t.find(b);
  CHECK(j->history.size() <= 10);
  CHECK(j->history.back().step == 29);
  // Evaluations survive the thinning.
  CHECK(std::any_of(j->history.begin(), j->history.end(), [](const JobPoint& p) { return p.accuracy >= 0; }));
  CHECK(j->epoch_results.size() == 4);
  CHECK(j->epoch_results.front().epoch == 26);
  CHECK(j->contributors.size() == 2);
}

TEST_CASE("restored jobs keep their ids; running ones get a fresh lease") {
  JobTable t(1000ms);
  JobInfo j;
  j.name = "back";
  j.id = 41;
  j.state = "RUNNING";
  t.restore(j, 5000);
  CHECK(t.expire(5900).empty());
  CHECK(t.expire(6001).size() == 1);
  CHECK(t.add(reg("new"), 7000)->id == 42);
  // The journal keeps identity and state, not progress.
  j.history = {JobPoint{}};
  j.epoch_results = {JobEpoch{}};
  const JobInfo kept = JobTable::journal_copy(j);
  CHECK(kept.history.empty());
  CHECK(kept.epoch_results.empty());
  CHECK(kept.id == 41);
}

TEST_CASE("fake reports of many jobs with long histories stay within the caps; ended jobs are evicted") {
  JobTable t(1000ms);
  const JobTable::Limits caps;
  // 300 unregistered jobs, 2,000 points each (the flood), then some of them ended.
  for (int j = 0; j < 300; ++j) {
    JobInfo r;
    r.name = "fake-" + std::to_string(j);
    r.state = "RUNNING";
    for (int i = 0; i < 2000; ++i) r.history.push_back(JobPoint{i, i, 1.0, -1, 1});
    auto ok = t.report(r, j);
    if (j < static_cast<int>(caps.max_jobs)) REQUIRE(ok.ok());
    else CHECK(ok.error().code == Errc::unavailable);  // all running: no room, and nothing grows
  }
  std::size_t points = 0;
  for (const auto& job : t.list()) points += job.history.size();
  CHECK(t.list().size() == caps.max_jobs);
  CHECK(points <= caps.max_jobs * caps.max_history);
  // Silent for a minute: all FAILED; only max_finished of them are kept.
  CHECK(t.expire(61'000 + 300).size() == caps.max_jobs);
  CHECK(t.list().size() == caps.max_finished);
  JobInfo more;
  more.name = "after";
  more.state = "RUNNING";
  CHECK(t.report(more, 70'000).ok());
}
