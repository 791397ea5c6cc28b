#include "runtime/security.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <array>

#include "runtime/zmq_check.hpp"

namespace troupe {
namespace {

constexpr const char* kZapDomain = "troupe";
constexpr const char* kPlainUser = "troupe";

/// The host part of "tcp://HOST:PORT" ("[::1]" kept with its brackets).
std::string_view tcp_host(std::string_view endpoint) {
  endpoint.remove_prefix(6);
  const auto colon = endpoint.rfind(':');
  return colon == std::string_view::npos ? endpoint : endpoint.substr(0, colon);
}

}  // namespace

bool is_loopback_endpoint(std::string_view endpoint) {
  if (endpoint.starts_with("ipc://") || endpoint.starts_with("inproc://")) return true;
  if (!endpoint.starts_with("tcp://")) return false;
  const std::string_view host = tcp_host(endpoint);
  // A source address ("tcp://10.0.0.1;127.0.0.1:80") is not loopback: take the safe side.
  if (host.find(';') != std::string_view::npos) return false;
  if (host == "localhost" || host == "[::1]" || host == "::1") return true;
  // Numeric only: a name such as 127.0.0.1.example.com may resolve anywhere,
  // and PLAIN must never leave the host.
  in_addr a{};
  const std::string h(host);
  return inet_pton(AF_INET, h.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

Mechanism mechanism_for(const KeysPtr& keys, std::string_view endpoint) {
  if (!keys || endpoint.starts_with("inproc://")) return Mechanism::none;
  return is_loopback_endpoint(endpoint) ? Mechanism::plain : Mechanism::curve;
}

const char* mechanism_name(Mechanism m) {
  switch (m) {
    case Mechanism::none: return "NULL";
    case Mechanism::plain: return "PLAIN";
    case Mechanism::curve: return "CURVE";
  }
  return "?";
}

void secure_server(zmq::socket_t& s, const KeysPtr& keys, std::string_view endpoint) {
  if (!keys && !is_loopback_endpoint(endpoint)) throw Exception(Error(Errc::invalid_argument, no_keys_message(endpoint)));
  switch (mechanism_for(keys, endpoint)) {
    case Mechanism::none: return;
    case Mechanism::plain: TROUPE_ZMQ(s.set(zmq::sockopt::plain_server, 1)); break;
    case Mechanism::curve:
      TROUPE_ZMQ(s.set(zmq::sockopt::curve_server, 1));
      TROUPE_ZMQ(s.set(zmq::sockopt::curve_secretkey, keys->secret_key));
      break;
  }
  // With a domain, libzmq asks the ZAP handler about every connection.
  TROUPE_ZMQ(s.set(zmq::sockopt::zap_domain, kZapDomain));
}

void secure_client(zmq::socket_t& s, const KeysPtr& keys, std::string_view endpoint) {
  switch (mechanism_for(keys, endpoint)) {
    case Mechanism::none: return;
    case Mechanism::plain:
      TROUPE_ZMQ(s.set(zmq::sockopt::plain_username, kPlainUser));
      TROUPE_ZMQ(s.set(zmq::sockopt::plain_password, keys->plain_password()));
      return;
    case Mechanism::curve:
      // The client's own long-term key is the cluster's pair: the ZAP handler
      // admits exactly the holders of the cluster's secret key.
      TROUPE_ZMQ(s.set(zmq::sockopt::curve_serverkey, keys->public_key));
      TROUPE_ZMQ(s.set(zmq::sockopt::curve_publickey, keys->public_key));
      TROUPE_ZMQ(s.set(zmq::sockopt::curve_secretkey, keys->secret_key));
      return;
  }
}

std::string non_loopback_ipv4() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return {};
  std::string found;
  for (ifaddrs* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
    if (std::string(text).rfind("127.", 0) != 0) found = text;
  }
  freeifaddrs(list);
  return found;
}

}  // namespace troupe
