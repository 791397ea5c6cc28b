#include "scheduler/prometheus.hpp"

#include <doctest/doctest.h>

#include <cctype>
#include <map>
#include <set>
#include <sstream>
#include <string>

using namespace troupe;

namespace {

/// A strict reader of the Prometheus text format 0.0.4 (the subset troupe
/// writes): "# HELP name text", "# TYPE name type", "name{k="v",…} value".
/// Every sample must belong to a family whose TYPE came first.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

bool metric_name_ok(const std::string& n) {
  if (n.empty() || !(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_' || n[0] == ':')) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':')) return false;
  return true;
}

std::vector<Sample> parse(const std::string& text) {
  std::vector<Sample> out;
  std::map<std::string, std::string> types;
  std::istringstream in(text);
  std::string line;
  REQUIRE_MESSAGE(!text.empty(), "empty exposition");
  REQUIRE_MESSAGE(text.back() == '\n', "the exposition ends with a newline");
  while (std::getline(in, line)) {
    REQUIRE_MESSAGE(!line.empty(), "no blank lines");
    if (line.rfind("# ", 0) == 0) {
      std::istringstream c(line.substr(2));
      std::string kind, name, rest;
      c >> kind >> name;
      REQUIRE(metric_name_ok(name));
      if (kind == "TYPE") {
        c >> rest;
        static const std::set<std::string> kTypes{"gauge", "counter", "histogram", "summary", "untyped"};
        REQUIRE_MESSAGE(kTypes.count(rest) == 1, line);
        REQUIRE_MESSAGE(!types.count(name), "one TYPE per family: " << name);
        types[name] = rest;
      } else {
        REQUIRE(kind == "HELP");
      }
      continue;
    }
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    REQUIRE_MESSAGE(metric_name_ok(s.name), line);
    REQUIRE_MESSAGE(types.count(s.name), "TYPE before samples: " << s.name);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (line[i] != '}') {
        std::size_t eq = line.find('=', i);
        REQUIRE(eq != std::string::npos);
        std::string key = line.substr(i, eq - i);
        REQUIRE(metric_name_ok(key));
        REQUIRE(line[eq + 1] == '"');
        std::string value;
        std::size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\') {
            ++j;
            REQUIRE_MESSAGE((line[j] == '\\' || line[j] == '"' || line[j] == 'n'), "bad escape in " << line);
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        REQUIRE(j < line.size());
        s.labels[key] = value;
        i = j + 1;
        if (line[i] == ',') ++i;
      }
      ++i;
    }
    REQUIRE(line[i] == ' ');
    const std::string v = line.substr(i + 1);
    std::size_t used = 0;
    if (v == "NaN" || v == "+Inf" || v == "-Inf")
      used = v.size();
    else
      s.value = std::stod(v, &used);
    REQUIRE_MESSAGE(used == v.size(), "value of " << line);
    out.push_back(s);
  }
  return out;
}

double value(const std::vector<Sample>& samples, const std::string& name,
             const std::map<std::string, std::string>& labels = {}) {
  for (const auto& s : samples)
    if (s.name == name) {
      bool all = true;
      for (const auto& [k, v] : labels)
        if (!s.labels.count(k) || s.labels.at(k) != v) all = false;
      if (all) return s.value;
    }
  FAIL("no sample " << name);
  return 0;
}

ClusterState two_nodes_three_actors() {
  ClusterState s;
  NodeInfo a, b;
  a.id = 1;
  a.total.cpus = 4;
  a.used.cpus = 2;
  b.id = 2;
  b.total.cpus = 4;
  b.alive = false;
  s.nodes = {a, b};
  ActorInfo x, y, z;
  x.id = 1;
  x.spec.name = "count\"er\\\nx";
  x.spec.class_name = "Counter";
  x.state = ActorState::alive;
  x.restarts = 2;
  y.id = 2;
  y.state = ActorState::restarting;
  y.restarts = 1;
  z.id = 3;
  z.state = ActorState::dead;
  s.actors = {x, y, z};
  Event e;
  e.seq = 17;
  s.events = {e};
  return s;
}

}  // namespace

TEST_CASE("metrics of an empty cluster parse and say zero") {
  auto samples = parse(prometheus_metrics(ClusterState{}));
  CHECK(value(samples, "troupe_nodes", {{"state", "ALIVE"}}) == 0);
  CHECK(value(samples, "troupe_actors", {{"state", "PENDING"}}) == 0);
  CHECK(value(samples, "troupe_actor_restarts_total") == 0);
}

TEST_CASE("metrics count nodes, resources, actors by state, restarts, calls and bytes") {
  ActorStatsMap stats;
  stats[1] = ActorCallStats{10, 2, 0, 1, 0, 0, 1000, 2000};
  auto samples = parse(prometheus_metrics(two_nodes_three_actors(), stats));
  CHECK(value(samples, "troupe_nodes", {{"state", "ALIVE"}}) == 1);
  CHECK(value(samples, "troupe_nodes", {{"state", "DEAD"}}) == 1);
  CHECK(value(samples, "troupe_resource_total", {{"resource", "cpu"}}) == 4);
  CHECK(value(samples, "troupe_resource_used", {{"resource", "cpu"}}) == 2);
  CHECK(value(samples, "troupe_actors", {{"state", "ALIVE"}}) == 1);
  CHECK(value(samples, "troupe_actors", {{"state", "RESTARTING"}}) == 1);
  CHECK(value(samples, "troupe_actors", {{"state", "DEAD"}}) == 1);
  CHECK(value(samples, "troupe_actor_restarts_total") == 3);
  CHECK(value(samples, "troupe_events_total") == 17);
  // Label values are escaped and read back unchanged.
  CHECK(value(samples, "troupe_actor_calls_total", {{"name", "count\"er\\\nx"}, {"id", "1"}}) == 10);
  CHECK(value(samples, "troupe_actor_queue_depth", {{"id", "1"}}) == 2);
  CHECK(value(samples, "troupe_actor_stale_rejected_total", {{"id", "1"}}) == 1);
  CHECK(value(samples, "troupe_calls") == 10);
  CHECK(value(samples, "troupe_bytes", {{"direction", "in"}}) == 1000);
  CHECK(value(samples, "troupe_bytes", {{"direction", "out"}}) == 2000);
}

TEST_CASE("metrics show each training job's step, loss, accuracy and rates") {
  auto jobs = nlohmann::json::parse(R"([{"name":"mnist","state":"RUNNING","epoch":2,"step":340,"loss":0.41,
      "accuracy":0.87,"samples_per_s":5120.5,"trainers":[{"name":"trainer-0","samples_per_s":2560}]}])");
  auto samples = parse(prometheus_metrics(ClusterState{}, {}, jobs));
  CHECK(value(samples, "troupe_train_step", {{"job", "mnist"}}) == 340);
  CHECK(value(samples, "troupe_train_loss", {{"job", "mnist"}}) == doctest::Approx(0.41));
  CHECK(value(samples, "troupe_train_accuracy", {{"job", "mnist"}}) == doctest::Approx(0.87));
  CHECK(value(samples, "troupe_train_samples_per_second", {{"job", "mnist"}}) == doctest::Approx(5120.5));
  CHECK(value(samples, "troupe_trainer_samples_per_second", {{"trainer", "trainer-0"}}) == 2560);
}
