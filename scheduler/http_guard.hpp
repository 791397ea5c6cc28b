#pragma once
// Who may use the scheduler's HTTP API and dashboard (docs/SECURITY.md):
//   - the Host header must name this server by an IP literal, "localhost",
//     this machine's host name, or an allowed name: a page on another site
//     cannot reach the API through DNS rebinding;
//   - bound on a non-loopback address, every request needs the token
//     (ClusterKeys::http_token(), printed at start as Jupyter does): in an
//     "Authorization: Bearer TOKEN" header, in a troupe_token cookie, or once
//     in "?token=TOKEN", which answers with a redirect to the same page
//     without it and sets the cookie (HttpOnly, SameSite=Strict), so the
//     dashboard's own requests carry it and the token leaves the address bar.
#include <optional>
#include <string>
#include <vector>

#include "scheduler/http_server.hpp"

namespace troupe {

struct HttpGuard {
  std::string token;                       ///< empty: no token needed (loopback)
  std::vector<std::string> allowed_hosts;  ///< host names accepted beside IP literals and localhost
};

/// The answer to give instead of the page (400 bad Host, 401 no or wrong
/// token, 303 the token-stripping redirect), or nullopt to serve it. Pure.
[[nodiscard]] std::optional<HttpResponse> guard_http(const HttpRequest& request, const HttpGuard& guard);

}  // namespace troupe
