#include "scheduler/state_http.hpp"

#include <doctest/doctest.h>

#include "scheduler/dashboard.hpp"
#include "scheduler/state_json.hpp"

using namespace troupe;

namespace {

ClusterState one_actor(const std::string& name) {
  ClusterState s;
  ActorInfo a;
  a.id = 7;
  a.spec.name = name;
  a.spec.class_name = "Tally";
  a.state = ActorState::alive;
  s.actors = {a};
  return s;
}

}  // namespace

TEST_CASE("/api/state is the JSON of the state with an empty jobs list") {
  auto r = serve_state_http(HttpRequest{"GET", "/api/state?x=1", ""}, one_actor("t"));
  CHECK(r.status == 200);
  CHECK(r.content_type == "application/json");
  auto j = nlohmann::json::parse(r.body);
  CHECK(j["actors"][0]["name"] == "t");
  CHECK(j["actors"][0]["state"] == "ALIVE");
  CHECK(j["jobs"].is_array());
  CHECK(j == to_json(one_actor("t")));
}

TEST_CASE("unknown pages are 404 and other methods 405") {
  CHECK(serve_state_http(HttpRequest{"GET", "/nope", ""}, ClusterState{}).status == 404);
  CHECK(serve_state_http(HttpRequest{"POST", "/api/state", ""}, ClusterState{}).status == 405);
}

TEST_CASE("/api/stats and /metrics use the per-actor counters of the source") {
  int asked = 0;
  StateSource src{[] { return one_actor("t"); }, [&asked](const ClusterState& s) {
                    ++asked;
                    ActorStatsMap m;
                    m[s.actors[0].id] = ActorCallStats{42, 0, 0, 0, 0, 0, 5, 6};
                    return m;
                  }};
  auto stats = nlohmann::json::parse(serve_state_http(HttpRequest{"GET", "/api/stats", ""}, src).body);
  CHECK(stats["7"]["calls_served"] == 42);
  auto metrics = serve_state_http(HttpRequest{"GET", "/metrics", ""}, src);
  CHECK(metrics.content_type.find("text/plain; version=0.0.4") == 0);
  CHECK(metrics.body.find("troupe_actor_calls_total{class=\"Tally\",id=\"7\",name=\"t\"} 42\n") != std::string::npos);
  // The state page never waits for the actors.
  serve_state_http(HttpRequest{"GET", "/api/state", ""}, src);
  CHECK(asked == 2);
}

TEST_CASE("the dashboard embeds the state and cannot be broken out of by an actor name") {
  auto r = serve_state_http(HttpRequest{"GET", "/", ""}, one_actor("</script><script>alert(1)</script>"));
  CHECK(r.status == 200);
  CHECK(r.content_type.find("text/html") == 0);
  CHECK(r.body.find("<title>troupe dashboard</title>") != std::string::npos);
  CHECK(r.body.find("</script><script>alert") == std::string::npos);
  CHECK(r.body.find("\\u003c/script>\\u003cscript>alert(1)") != std::string::npos);
  CHECK(r.body.find("__TROUPE_STATE__") == std::string::npos);
  // Nothing is fetched from elsewhere: the only URL is the SVG namespace.
  std::size_t urls = 0;
  for (auto at = r.body.find("://"); at != std::string::npos; at = r.body.find("://", at + 3)) ++urls;
  CHECK(urls == 1);
  CHECK(r.body.find("http://www.w3.org/2000/svg") != std::string::npos);
}
