#pragma once
// Helpers shared by the multi-process tests.
#include <signal.h>

#include <chrono>
#include <functional>
#include <thread>

namespace troupe::testing {

/// Polls `done` until it is true or `timeout` passes; true when it became true.
/// For conditions no event reports (a pid vanishing): a bounded poll on the
/// condition itself, never a fixed sleep standing in for synchronisation.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

/// True when no process has this pid (or it is a zombie we cannot see into).
inline bool process_gone(int pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

}  // namespace troupe::testing
