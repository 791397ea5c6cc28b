#include "tools/troupe/render.hpp"

#include <doctest/doctest.h>

#include <sstream>

#include "scheduler/state_json.hpp"

using namespace troupe;
using namespace troupe::cli;

namespace {

Json sample_state() {
  ClusterState s;
  s.time_ms = 1'700'000'010'000;
  NodeInfo n;
  n.id = 1;
  n.host = "10.0.0.5";
  n.endpoint = "tcp://10.0.0.5:4000";
  n.total.cpus = 8;
  n.used.cpus = 1;
  s.nodes = {n};
  ActorInfo a;
  a.id = 3;
  a.spec.name = "counter";
  a.spec.class_name = "Counter";
  a.spec.max_restarts = 3;
  a.spec.resources.cpus = 1;
  a.state = ActorState::alive;
  a.incarnation = 1;
  a.node = 1;
  a.pid = 4242;
  a.restarts = 1;
  a.endpoint = "tcp://10.0.0.5:4100";
  a.state_since_ms = 1'700'000'005'000;
  DeathRecord d;
  d.incarnation = 0;
  d.signal = 9;
  d.reason = "killed by signal 9";
  d.time_ms = 1'700'000'004'000;
  d.node = 1;
  a.deaths = {d};
  ActorInfo b;
  b.id = 4;
  b.spec.class_name = "Echo";
  b.state = ActorState::pending;
  b.pending_reason = "no node has 64 free CPUs";
  s.actors = {a, b};
  return to_json(s);
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("tables pad every column to its widest cell") {
  auto t = lines(render_table({{"ID", "NAME"}, {"12", "x"}, {"3", "counter"}}));
  REQUIRE(t.size() == 3);
  CHECK(t[0] == "ID  NAME");
  CHECK(t[1] == "12  x");
  CHECK(t[2] == "3   counter");
}

TEST_CASE("filters keep rows whose field equals (or differs from) the value") {
  auto s = sample_state();
  auto alive = filter_rows(s["actors"], {"state=alive"});
  REQUIRE(alive.ok());
  REQUIRE(alive->size() == 1);
  CHECK((*alive)[0]["name"] == "counter");
  auto not_alive = filter_rows(s["actors"], {"state!=ALIVE"});
  REQUIRE(not_alive.ok());
  REQUIRE(not_alive->size() == 1);
  CHECK((*not_alive)[0]["id"] == 4);
  auto by_number = filter_rows(s["actors"], {"node=1", "incarnation=1"});
  REQUIRE(by_number.ok());
  CHECK(by_number->size() == 1);
  auto none = filter_rows(s["actors"], {"class=Nope"});
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("a bad filter is an invalid_argument that says what is wrong") {
  auto s = sample_state();
  auto no_eq = filter_rows(s["actors"], {"state"});
  REQUIRE(!no_eq.ok());
  CHECK(no_eq.error().code == Errc::invalid_argument);
  CHECK(no_eq.error().message.find("expected key=value") != std::string::npos);
  auto no_key = filter_rows(s["actors"], {"colour=red"});
  REQUIRE(!no_key.ok());
  CHECK(no_key.error().message.find("no field 'colour'") != std::string::npos);
  CHECK(no_key.error().message.find("\n") == std::string::npos);
  CHECK(!filter_rows(s["actors"], {"=x"}).ok());
}

TEST_CASE("an actor's detail shows state, node, pid, incarnation, restarts, deaths and counters") {
  auto s = sample_state();
  Json stats = {{"calls_served", 1005}, {"queue_depth", 2}, {"bytes_in", 2048}, {"bytes_out", 1024},
                {"malformed", 0},       {"stale_rejected", 1}, {"unknown_method", 0}, {"overloaded", 0}};
  auto text = render_actor(s["actors"][0], stats, "", s);
  CHECK(text.find("name         counter") != std::string::npos);
  CHECK(text.find("ALIVE (for 5.0 s)") != std::string::npos);
  CHECK(text.find("node         1 (10.0.0.5)") != std::string::npos);
  CHECK(text.find("pid          4242") != std::string::npos);
  CHECK(text.find("incarnation  1") != std::string::npos);
  CHECK(text.find("restarts     1 of 3") != std::string::npos);
  CHECK(text.find("calls served 1005") != std::string::npos);
  CHECK(text.find("queue depth  2") != std::string::npos);
  CHECK(text.find("in 2.0 kB, out 1.0 kB") != std::string::npos);
  CHECK(text.find("killed by signal 9") != std::string::npos);
  auto pending = render_actor(s["actors"][1], Json(), "the actor is PENDING", s);
  CHECK(pending.find("no node has 64 free CPUs") != std::string::npos);
  CHECK(pending.find("calls served - (the actor is PENDING)") != std::string::npos);
  CHECK(pending.find("deaths       none") != std::string::npos);
}

TEST_CASE("status sums alive nodes and counts actors by state") {
  auto text = render_status(sample_state(), "tcp://h:1");
  CHECK(text.find("nodes      1 alive, 0 dead") != std::string::npos);
  CHECK(text.find("1/8 CPU") != std::string::npos);
  CHECK(text.find("1 ALIVE, 1 PENDING") != std::string::npos);
  CHECK(text.find("jobs       none") != std::string::npos);
}

TEST_CASE("events read as one line each") {
  Json e = {{"seq", 17},   {"time_ms", 1'700'000'004'000}, {"topic", "actor"}, {"actor", 3},  {"node", 1},
            {"name", "c"}, {"state", "RESTARTING"},        {"incarnation", 0}, {"endpoint", ""}, {"exit_code", 0},
            {"signal", 9}, {"message", "killed by signal 9"}};
  auto line = format_event(e);
  CHECK(line.find("#17  actor c (id 3, inc 0)  RESTARTING  killed by signal 9") != std::string::npos);
  CHECK(line.find("(signal 9)") == std::string::npos);
  e["message"] = "exited";
  e["signal"] = 0;
  e["exit_code"] = 3;
  CHECK(format_event(e).find("RESTARTING  exited") != std::string::npos);
  e["message"] = "gone";
  CHECK(format_event(e).find("gone (exit code 3)") != std::string::npos);
  CHECK(line.find('\n') == std::string::npos);
  CHECK(render_events(Json::array(), 5) == "no events\n");
}

TEST_CASE("the train view says so when there are no jobs, and shows the fields of docs/CLI.md when there are") {
  CHECK(render_train(Json::array()) == "no training jobs\n");
  auto jobs = Json::parse(R"([{"name":"mnist","state":"RUNNING","epoch":2,"step":340,"loss":0.4123,"accuracy":0.8712,
    "samples_per_s":5120.4,"trainers":[{"actor":5,"name":"trainer-0","state":"ALIVE","steps":340,"samples_per_s":2560,
    "last_step":340}],"contributors":[{"step":340,"trainers":["trainer-0","trainer-1"]}],"history":[]}])");
  auto text = render_train(jobs);
  CHECK(text.find("mnist  RUNNING") != std::string::npos);
  CHECK(text.find("0.4123") != std::string::npos);
  CHECK(text.find("87.12%") != std::string::npos);
  CHECK(text.find("5120") != std::string::npos);
  CHECK(text.find("trainer-0") != std::string::npos);
  CHECK(text.find("step 340  trainer-0, trainer-1") != std::string::npos);
  CHECK(render_jobs(jobs).find("mnist") != std::string::npos);
}

TEST_CASE("a job lost with its driver shows why, in the table, the train view and its event") {
  auto jobs = Json::parse(R"J([{"name":"mnist","state":"FAILED","epoch":2,"step":340,"loss":0.41,"accuracy":null,
    "samples_per_s":0,"trainers":[],"contributors":[],"history":[],"detached":false,"driver":"pid 42 on h",
    "reason":"driver lost: no word from pid 42 on h for 3100 ms (lease 3000 ms)"}])J");
  const std::string table = render_jobs(jobs);
  CHECK(table.find("pid 42 on h") != std::string::npos);
  CHECK(table.find("driver lost: no word") != std::string::npos);
  const std::string view = render_train(jobs);
  CHECK(view.find("mnist  FAILED (driver lost: no word from pid 42 on h") != std::string::npos);
  Json e = {{"seq", 9},     {"time_ms", 1'700'000'004'000}, {"topic", "job"}, {"actor", 0},
            {"node", 0},    {"name", "mnist"},              {"state", "DEAD"}, {"incarnation", 0},
            {"endpoint", ""}, {"exit_code", 0},             {"signal", 0},
            {"message", "FAILED: driver lost: no word from pid 42"}};
  const std::string line = format_event(e);
  CHECK(line.find("job mnist  FAILED: driver lost") != std::string::npos);
  CHECK(line.find("DEAD") == std::string::npos);
}
