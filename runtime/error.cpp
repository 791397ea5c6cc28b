#include "runtime/error.hpp"

#include <cstring>

namespace troupe {

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::ok: return "ok";
    case Errc::actor_died: return "actor_died";
    case Errc::timeout: return "timeout";
    case Errc::bad_arguments: return "bad_arguments";
    case Errc::remote_error: return "remote_error";
    case Errc::connection_lost: return "connection_lost";
    case Errc::unknown_method: return "unknown_method";
    case Errc::malformed_message: return "malformed_message";
    case Errc::message_too_large: return "message_too_large";
    case Errc::overloaded: return "overloaded";
    case Errc::not_found: return "not_found";
    case Errc::stale_incarnation: return "stale_incarnation";
    case Errc::unavailable: return "unavailable";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::io_error: return "io_error";
    case Errc::permission_denied: return "permission_denied";
  }
  return "unknown_error";
}

std::string Error::to_string() const {
  std::string s(errc_name(code));
  if (!message.empty()) s += ": " + message;
  if (code == Errc::actor_died) {
    if (signal != 0) {
      const char* abbrev = sigabbrev_np(signal);
      s += " (killed by signal " + std::to_string(signal) + (abbrev ? std::string(" SIG") + abbrev : "") + ")";
    } else {
      s += " (exit code " + std::to_string(exit_code) + ")";
    }
  }
  return s;
}

}  // namespace troupe
