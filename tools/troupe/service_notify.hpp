#pragma once
// Readiness and stopping for service managers (systemd's Type=notify,
// sd_notify(3)): each call sends one datagram to $NOTIFY_SOCKET, and does
// nothing when the process was not started by systemd (no NOTIFY_SOCKET) or
// troupe was built without libsystemd. Thread-safe (sd_notify is).
#include <string>

namespace troupe::cli {

/// "READY=1" with a one-line STATUS=: the scheduler once it has bound its
/// ports, a worker once the scheduler has registered it.
void notify_ready(const std::string& status);
/// "STOPPING=1" with STATUS=: a stop signal was taken, the process drains.
void notify_stopping(const std::string& status);
/// Whether this build can notify (libsystemd was found at configure time).
[[nodiscard]] bool notify_supported();

}  // namespace troupe::cli
