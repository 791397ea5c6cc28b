#pragma once
// Capability tokens (issue 10, "least privilege, even for key holders"): the
// cluster's key lets a peer talk to the scheduler at all; a token proves it
// is the one peer allowed to speak for a particular node (the worker that
// registered it), actor incarnation (the process its worker started) or job
// (the program that registered it, or the driver actor it handed the token
// to). The scheduler makes them and checks them; everyone else only carries
// them. Never printed: not in state, events, logs or the CLI.
#include <string>
#include <string_view>

namespace troupe {

/// A fresh token: 128 bits from libsodium's randombytes_buf, as 32 lowercase
/// hex characters. Thread-safe.
[[nodiscard]] std::string make_token();

/// True when `presented` equals `expected`, compared in constant time
/// (sodium_memcmp) so the time a refusal takes says nothing about how much of
/// the token was right. An empty `expected` (no token issued) matches nothing.
/// Thread-safe.
[[nodiscard]] bool token_matches(std::string_view expected, std::string_view presented);

}  // namespace troupe
