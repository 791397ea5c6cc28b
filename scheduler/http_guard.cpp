#include "scheduler/http_guard.hpp"

#include <arpa/inet.h>
#include <sodium.h>

#include <algorithm>
#include <cctype>

namespace troupe {
namespace {

/// "host" of "host:port", "[v6]:port", "host".
std::string host_name(const std::string& header) {
  if (header.starts_with("[")) {
    auto end = header.find(']');
    return end == std::string::npos ? header : header.substr(1, end - 1);
  }
  auto colon = header.rfind(':');
  std::string h = colon == std::string::npos ? header : header.substr(0, colon);
  std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return std::tolower(c); });
  return h;
}

bool ip_literal(const std::string& h) {
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

bool same_secret(std::string_view a, const std::string& b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), b.size()) == 0;
}

/// The value of `name` in a "k=v; k2=v2" cookie header, or in a "?k=v&..." query.
std::string_view field(std::string_view text, std::string_view name, char sep) {
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find(sep, pos);
    if (end == std::string_view::npos) end = text.size();
    auto item = text.substr(pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item.starts_with(name) && item.size() > name.size() && item[name.size()] == '=')
      return item.substr(name.size() + 1);
    pos = end + 1;
  }
  return {};
}

HttpResponse refuse(int status, std::string text) { return HttpResponse{.status = status, .body = std::move(text) + "\n"}; }

}  // namespace

std::optional<HttpResponse> guard_http(const HttpRequest& req, const HttpGuard& guard) {
  const std::string host = host_name(req.host);
  const bool host_ok = ip_literal(host) || host == "localhost" ||
                       std::find(guard.allowed_hosts.begin(), guard.allowed_hosts.end(), host) != guard.allowed_hosts.end();
  if (!host_ok) return refuse(400, "unknown Host header: use this server's address or host name");
  if (guard.token.empty()) return std::nullopt;

  std::string_view auth = req.authorization;
  if (auth.starts_with("Bearer ") && same_secret(auth.substr(7), guard.token)) return std::nullopt;
  if (same_secret(field(req.cookie, "troupe_token", ';'), guard.token)) return std::nullopt;
  const auto q = req.target.find('?');
  if (q != std::string::npos) {
    std::string_view query = std::string_view(req.target).substr(q + 1);
    if (same_secret(field(query, "token", '&'), guard.token)) {
      HttpResponse r{.status = 303, .body = "token accepted\n"};
      r.headers.emplace_back("Set-Cookie", "troupe_token=" + guard.token + "; Path=/; HttpOnly; SameSite=Strict");
      r.headers.emplace_back("Location", req.target.substr(0, q));
      return r;
    }
  }
  return refuse(401, "this HTTP API needs the cluster's token: open the URL `troupe scheduler` printed "
                     "(…/?token=…), or send \"Authorization: Bearer TOKEN\"; `troupe http-token` prints it");
}

}  // namespace troupe
