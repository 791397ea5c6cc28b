// The HTTP API's guard: Host header check and token (docs/SECURITY.md).
#include "scheduler/http_guard.hpp"

#include <doctest/doctest.h>

using namespace troupe;

namespace {
HttpRequest get(std::string target, std::string host = "10.0.0.5:8265") {
  return HttpRequest{.method = "GET", .target = std::move(target), .body = "", .host = std::move(host)};
}
}  // namespace

TEST_CASE("a Host header that is not an address, localhost or an allowed name is refused") {
  HttpGuard g{.token = "", .allowed_hosts = {"head-node"}};
  CHECK(!guard_http(get("/", "127.0.0.1:8265"), g));
  CHECK(!guard_http(get("/", "localhost:8265"), g));
  CHECK(!guard_http(get("/", "[::1]:8265"), g));
  CHECK(!guard_http(get("/", "head-node:8265"), g));
  auto rebound = guard_http(get("/api/state", "evil.example.com:8265"), g);
  REQUIRE(rebound);
  CHECK(rebound->status == 400);
  CHECK(guard_http(get("/", ""), g)->status == 400);
}

TEST_CASE("with a token: header, cookie or a one-time query that redirects and sets the cookie") {
  HttpGuard g{.token = "abc123", .allowed_hosts = {}};
  auto none = guard_http(get("/api/state"), g);
  REQUIRE(none);
  CHECK(none->status == 401);
  CHECK(none->body.find("abc123") == std::string::npos);  // never shows the secret

  auto bearer = get("/api/state");
  bearer.authorization = "Bearer abc123";
  CHECK(!guard_http(bearer, g));
  bearer.authorization = "Bearer abc124";
  CHECK(guard_http(bearer, g)->status == 401);
  bearer.authorization = "Bearer abc12";
  CHECK(guard_http(bearer, g)->status == 401);

  auto cookie = get("/metrics");
  cookie.cookie = "other=1; troupe_token=abc123";
  CHECK(!guard_http(cookie, g));

  auto first = guard_http(get("/?token=abc123"), g);
  REQUIRE(first);
  CHECK(first->status == 303);
  bool cookie_set = false, location = false;
  for (auto& [k, v] : first->headers) {
    cookie_set = cookie_set || (k == "Set-Cookie" && v.find("troupe_token=abc123") == 0 && v.find("HttpOnly") != std::string::npos);
    location = location || (k == "Location" && v == "/");
  }
  CHECK(cookie_set);
  CHECK(location);
  CHECK(guard_http(get("/?token=wrong"), g)->status == 401);
}
