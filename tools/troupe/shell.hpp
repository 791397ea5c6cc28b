#pragma once
// `troupe shell [ADDR]`: an interactive view of a cluster (readline: history
// in ~/.troupe_history or $TROUPE_HISTORY, tab completion of commands and of
// actor and node names fetched from the scheduler). With standard input not a
// terminal it reads commands line by line, for scripts. Every bad input prints
// one line starting with "error: " and the shell carries on.
#include <chrono>
#include <string>

namespace troupe::cli {

struct ShellOptions {
  std::string address;                       ///< scheduler control endpoint
  std::chrono::milliseconds timeout{3000};   ///< per query
};

/// Runs the shell until `quit` or end of input. Returns 0, or in script mode 1
/// when any command failed. Must run on the main thread (it takes SIGINT).
int run_shell(const ShellOptions& options);

}  // namespace troupe::cli
