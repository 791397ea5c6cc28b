#pragma once
// Child processes for the worker (DESIGN §1): fork/exec an actor process with
// its own environment, log file and process group, watch it through a pidfd,
// and reap it. RAII: a Child that goes out of scope while its process runs
// kills the process group and reaps it, so the worker leaves neither zombies
// nor orphans.
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/error.hpp"

namespace troupe {

/// How a child process ended.
struct ExitStatus {
  int exit_code = 0;         ///< exit status when the process exited (signal == 0)
  int signal = 0;            ///< the signal that killed it, 0 if it exited
  bool core_dumped = false;  ///< the kernel wrote a core dump

  /// "exit code 3" or "killed by signal 9 (SIGKILL)", plus " (core dumped)".
  [[nodiscard]] std::string to_string() const;
  /// Decodes a waitpid() status word.
  static ExitStatus from_wait_status(int status);
  bool operator==(const ExitStatus&) const = default;
};

/// What to start and how.
struct SpawnSpec {
  /// Program to run: a path, or a bare name looked up in the parent's PATH.
  /// It is also argv[0].
  std::string exe{};
  std::vector<std::string> args{};  ///< argv[1..]
  /// Added or overriding variables; the rest of the parent's environment is kept.
  std::vector<std::pair<std::string, std::string>> env{};
  std::string log_path{};  ///< stdout+stderr appended here (created 0644); empty = inherit
  /// PR_SET_PDEATHSIG SIGKILL: the child dies when the *thread* that spawned it
  /// exits (Linux ties the signal to the forking thread, not the process), so
  /// spawn from a long-lived thread such as the worker's I/O thread.
  bool die_with_parent = true;
  /// The child leads a new process group; signal()/terminate()/the destructor
  /// then reach everything it started, not only the direct child.
  bool new_process_group = true;
  std::string cwd{};  ///< working directory; empty = the parent's
  /// Descriptors the child keeps, at the same numbers (every other one above 2 is closed on exec).
  std::vector<int> inherit_fds{};
};

/// A started child process. Move-only; owns the process (and its group when
/// new_process_group) until reaped. Not thread-safe: one owner thread at a time.
class Child {
 public:
  /// An empty handle that owns no process (valid() is false).
  Child() = default;
  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  /// If the process still runs: SIGKILL (its group when new_process_group), then reap.
  ~Child();

  /// fork+exec. Errors (io_error): the log file cannot be opened, the program
  /// cannot be found or executed ("cannot execute PATH: No such file or
  /// directory"), the cwd cannot be entered. On error no process is left behind.
  /// Safe to call from any thread of a multi-threaded process.
  static Result<Child> spawn(const SpawnSpec& spec);

  [[nodiscard]] bool valid() const { return pid_ > 0; }
  [[nodiscard]] pid_t pid() const { return pid_; }
  /// A pidfd that polls readable (POLLIN) once the process has exited; owned by
  /// this Child, valid until it is destroyed. Poll it next to sockets
  /// (zmq::poll accepts plain fds), then call try_reap().
  [[nodiscard]] int pidfd() const { return pidfd_; }

  /// The exit status if the process has exited (reaping it), else nullopt. Never blocks.
  /// With new_process_group, reaping first SIGKILLs whatever is left in the
  /// group, so an actor's helper processes never outlive it.
  std::optional<ExitStatus> try_reap();
  /// Blocks until the process exits and reaps it. Precondition: valid().
  ExitStatus wait();
  /// Sends sig to the process group (new_process_group) or the process.
  /// False once reaped (the pid may already belong to someone else) or if kill() fails.
  bool signal(int sig);
  /// SIGTERM, wait up to grace for the exit, then SIGKILL; reaps and returns the
  /// status (SIGTERM and SIGKILL go to the whole group with new_process_group).
  /// Error (invalid_argument) on an empty handle.
  Result<ExitStatus> terminate(std::chrono::milliseconds grace);

 private:
  void reset() noexcept;

  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool group_ = false;
  std::optional<ExitStatus> status_;  // set once reaped
};

}  // namespace troupe
