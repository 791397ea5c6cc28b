#pragma once
// Which ZeroMQ security mechanism a socket uses, and setting it up
// (docs/SECURITY.md, docs/PROTOCOL.md "Security handshake").
//
// Both ends decide from the address alone, so they agree without a round
// trip: a server bound on a loopback address (127.0.0.0/8, ::1, localhost,
// ipc://), and a client connecting to one, use PLAIN with the password
// derived from the cluster's secret key (runtime/keys.hpp): authenticated by
// the ZAP handler (runtime/zap.hpp), not encrypted, since only root can read
// loopback traffic and root can read the key file too. Every other tcp://
// address uses CURVE: authenticated and encrypted. inproc:// has no
// handshake at all (same process). So a server bound on 0.0.0.0 speaks CURVE
// and must be reached by a non-loopback address of its host.
//
// Without keys (KeysPtr null) sockets use the NULL mechanism, and binding a
// non-loopback address is refused (no_keys_message).
#include <string>
#include <string_view>

#include <zmq.hpp>

#include "runtime/keys.hpp"

namespace troupe {

enum class Mechanism { none, plain, curve };

/// True for tcp:// to 127.0.0.0/8, [::1] or localhost, and for ipc://.
[[nodiscard]] bool is_loopback_endpoint(std::string_view endpoint);
/// The mechanism both ends of `endpoint` use with `keys`.
[[nodiscard]] Mechanism mechanism_for(const KeysPtr& keys, std::string_view endpoint);
[[nodiscard]] const char* mechanism_name(Mechanism m);

/// Makes `s` (before bind) a server of the mechanism for `endpoint`. Throws
/// troupe::Exception(invalid_argument) with no_keys_message() when there are
/// no keys and `endpoint` is not loopback. The caller must have a ZapHandler
/// in the socket's context first. Not thread-safe on `s`.
void secure_server(zmq::socket_t& s, const KeysPtr& keys, std::string_view endpoint);
/// Makes `s` (before connect) a client of the mechanism for `endpoint`.
void secure_client(zmq::socket_t& s, const KeysPtr& keys, std::string_view endpoint);

/// A non-loopback IPv4 address of this host, "" when it has none: where a
/// socket speaks CURVE, as between hosts (tests and benchmarks). Thread-safe.
[[nodiscard]] std::string non_loopback_ipv4();

}  // namespace troupe
