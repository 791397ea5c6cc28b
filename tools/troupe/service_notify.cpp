#include "tools/troupe/service_notify.hpp"

#ifdef TROUPE_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace troupe::cli {
namespace {

void send(const std::string& state) {
#ifdef TROUPE_HAVE_SYSTEMD
  (void)sd_notify(0, state.c_str());  // < 0: no manager listens; nothing to do about it
#else
  (void)state;
#endif
}

}  // namespace

void notify_ready(const std::string& status) { send("READY=1\nSTATUS=" + status); }
void notify_stopping(const std::string& status) { send("STOPPING=1\nSTATUS=" + status); }

bool notify_supported() {
#ifdef TROUPE_HAVE_SYSTEMD
  return true;
#else
  return false;
#endif
}

}  // namespace troupe::cli
