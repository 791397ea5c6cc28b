#pragma once
// The main loop of an actor process (`troupe actor …`, started by a worker):
// load the user's code, fetch the spec, construct the actor, serve its methods
// until SIGTERM. Exit codes: 0 stopped, 2 bad command line or code path,
// 3 construction failed, 4 a background task failed.
#include <string>
#include <vector>

#include "runtime/error.hpp"
#include "runtime/ids.hpp"

namespace troupe {

struct ActorProcessOptions {
  std::string scheduler;
  std::string host = "127.0.0.1";
  ActorId actor = 0;
  Incarnation incarnation = 0;
  std::vector<std::string> code_paths;
  int lease_fd = -1;  ///< the worker's serving lease page (runtime/lease.hpp); -1: serve without one
  std::size_t max_message_bytes = 0;  ///< 0: Limits' default (docs/LIMITS.md); its worker passes its own
  /// This placement's capability (StartActor::start_token), presented in
  /// actor_spec, actor_ready and actor_failed. Its worker passes it in
  /// $TROUPE_START_TOKEN (take_start_token()), never on the command line.
  std::string start_token;
};

/// Reads $TROUPE_START_TOKEN and removes it from the environment, so that
/// nothing the actor starts (or reads its environment) inherits it. Not
/// thread-safe (getenv/unsetenv): call it before any thread starts.
std::string take_start_token();

/// Runs the actor until it is told to stop; returns the process exit code.
int run_actor_process(const ActorProcessOptions& options);

/// dlopen()s each path (RTLD_NOW | RTLD_GLOBAL); the error names the path.
Result<void> load_code_paths(const std::vector<std::string>& paths);

}  // namespace troupe
