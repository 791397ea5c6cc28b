#include "runtime/process.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

extern char** environ;

// Why a pidfd and not SIGCHLD: a SIGCHLD handler in a multi-threaded process
// needs every thread's signal mask arranged (or a signalfd with the signal
// blocked in all threads, including threads that libraries such as ZeroMQ
// start), and a handler may run on any thread. A pidfd is a plain fd that
// polls readable when this particular child exits: the worker's I/O thread
// puts it in zmq::poll next to its sockets and reaps with try_reap(), with no
// signal masks and no global state. Reaping waits on this pid only, never
// waitpid(-1), so other code's children are left alone (and nobody else in the
// process may reap ours with waitpid(-1) or SIGCHLD = SIG_IGN).

namespace troupe {
namespace {

// Stages in the child, reported to the parent through the CLOEXEC pipe.
enum class Stage : int { setup = 1, chdir = 2, exec = 3 };
struct ChildFailure {
  Stage stage;
  int err;
};

// strerrordesc_np is thread-safe (strerror is not): "No such file or directory".
std::string errno_text(int err) {
  const char* s = strerrordesc_np(err);
  return s ? s : "error " + std::to_string(err);
}

Error io_error(std::string what, int err) {
  return Error(Errc::io_error, std::move(what) + ": " + errno_text(err));
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { close(); }
  [[nodiscard]] int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37): call the syscall.
int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// PATH lookup happens in the parent: execvp is not async-signal-safe.
Result<std::string> resolve_exe(const std::string& exe) {
  if (exe.empty()) return Error(Errc::invalid_argument, "spawn: empty executable name");
  if (exe.find('/') != std::string::npos) return exe;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    const size_t colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    std::string candidate = (dir.empty() ? std::string(".") : std::string(dir)) + "/" + exe;
    if (is_executable_file(candidate)) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return Error(Errc::io_error, "cannot execute " + exe + ": " + errno_text(ENOENT));
}

std::vector<std::string> merged_environment(const SpawnSpec& spec) {
  std::vector<std::string> out;
  auto overridden = [&](std::string_view entry) {
    const std::string_view key = entry.substr(0, entry.find('='));
    for (const auto& [k, v] : spec.env)
      if (k == key) return true;
    return false;
  };
  for (char** e = environ; e && *e; ++e)
    if (!overridden(*e)) out.emplace_back(*e);
  for (size_t i = 0; i < spec.env.size(); ++i) {
    bool later_duplicate = false;  // the last assignment of a key wins
    for (size_t j = i + 1; j < spec.env.size(); ++j) later_duplicate |= spec.env[j].first == spec.env[i].first;
    if (!later_duplicate) out.push_back(spec.env[i].first + "=" + spec.env[i].second);
  }
  return out;
}

std::vector<char*> c_array(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Runs in the forked child. Only async-signal-safe calls: another thread of
// the parent may have held a lock (malloc's, stdio's) at the moment of fork.
[[noreturn]] void exec_child(const SpawnSpec& spec, const char* path, char* const* argv, char* const* envp,
                             int log_fd, int err_fd, pid_t parent) {
  auto fail = [err_fd](Stage stage) {
    const ChildFailure f{stage, errno};
    [[maybe_unused]] ssize_t n = ::write(err_fd, &f, sizeof f);
    ::_exit(127);
  };
  // The forking thread's mask and the parent's dispositions are inherited;
  // an actor starts with a clean slate (ignored signals survive exec).
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);  // fails harmlessly for KILL/STOP

  if (spec.new_process_group && ::setpgid(0, 0) != 0) fail(Stage::setup);
  if (spec.die_with_parent) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(Stage::setup);
    // The parent may have died between fork and prctl: then no signal comes.
    if (::getppid() != parent) ::_exit(127);
  }
  if (log_fd >= 0) {
    if (::dup2(log_fd, STDOUT_FILENO) < 0 || ::dup2(log_fd, STDERR_FILENO) < 0) fail(Stage::setup);
    // dup2(fd, fd) keeps FD_CLOEXEC: clear it if the log landed on 1 or 2.
    if (log_fd == STDOUT_FILENO || log_fd == STDERR_FILENO) ::fcntl(log_fd, F_SETFD, 0);
  }
  if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) fail(Stage::chdir);
  // The parent's other fds (a listening socket, a journal) must not leak into
  // actors: a leaked listener would keep a dead worker's port busy.
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  for (int fd : spec.inherit_fds)
    if (::fcntl(fd, F_SETFD, 0) != 0) fail(Stage::setup);  // passed on purpose (e.g. the lease page)
  ::execve(path, argv, envp);
  fail(Stage::exec);
  ::_exit(127);  // unreachable
}

}  // namespace

ExitStatus ExitStatus::from_wait_status(int status) {
  ExitStatus s;
  if (WIFEXITED(status)) {
    s.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    s.signal = WTERMSIG(status);
    s.core_dumped = WCOREDUMP(status);
  }
  return s;
}

std::string ExitStatus::to_string() const {
  std::string s;
  if (signal != 0) {
    const char* abbrev = sigabbrev_np(signal);
    s = "killed by signal " + std::to_string(signal);
    if (abbrev) s += std::string(" (SIG") + abbrev + ")";
  } else {
    s = "exit code " + std::to_string(exit_code);
  }
  if (core_dumped) s += " (core dumped)";
  return s;
}

Child::Child(Child&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      group_(other.group_),
      status_(std::exchange(other.status_, std::nullopt)) {}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    reset();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    group_ = other.group_;
    status_ = std::exchange(other.status_, std::nullopt);
  }
  return *this;
}

Child::~Child() { reset(); }

void Child::reset() noexcept {
  if (valid() && !status_) {
    if (group_) ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    wait();
  }
  if (pidfd_ >= 0) ::close(pidfd_);
  pid_ = -1;
  pidfd_ = -1;
  status_.reset();
}

Result<Child> Child::spawn(const SpawnSpec& spec) {
  // Everything that allocates or may fail happens before fork.
  auto path = resolve_exe(spec.exe);
  if (!path) return path.error();
  std::vector<std::string> argv_strings;
  argv_strings.reserve(spec.args.size() + 1);
  argv_strings.push_back(spec.exe);
  argv_strings.insert(argv_strings.end(), spec.args.begin(), spec.args.end());
  std::vector<std::string> env_strings = merged_environment(spec);
  std::vector<char*> argv = c_array(argv_strings);
  std::vector<char*> envp = c_array(env_strings);

  Fd log(spec.log_path.empty() ? -1 : ::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!spec.log_path.empty() && log.get() < 0) return io_error("cannot open log file " + spec.log_path, errno);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return io_error("spawn: pipe2", errno);
  Fd err_read(pipe_fds[0]);
  Fd err_write(pipe_fds[1]);

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return io_error("spawn: fork", errno);
  if (pid == 0) exec_child(spec, path->c_str(), argv.data(), envp.data(), log.get(), err_write.get(), parent);

  Child child;  // from here on the destructor kills and reaps on any error path
  child.pid_ = pid;
  child.group_ = spec.new_process_group;
  err_write.close();
  // Both sides call setpgid so the group exists whichever runs first; EACCES
  // here means the child has already exec'd, and it did its own setpgid then.
  if (spec.new_process_group) ::setpgid(pid, pid);

  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(err_read.get(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    child.wait();  // the child has _exit'ed: reap it, no phantom child
    switch (failure.stage) {
      case Stage::exec: return io_error("cannot execute " + *path, failure.err);
      case Stage::chdir: return io_error("cannot change directory to " + spec.cwd + " for " + spec.exe, failure.err);
      case Stage::setup: break;
    }
    return io_error("cannot set up the child process for " + spec.exe, failure.err);
  }
  if (n != 0) return io_error("spawn: reading the exec status pipe", n < 0 ? errno : EIO);

  child.pidfd_ = open_pidfd(pid);  // the pid is ours and unreaped, so it cannot be reused yet
  if (child.pidfd_ < 0) return io_error("spawn: pidfd_open (Linux >= 5.3 needed)", errno);
  return child;
}

std::optional<ExitStatus> Child::try_reap() {
  if (status_ || !valid()) return status_;
  siginfo_t info{};
  int r;
  // WNOWAIT: look without reaping, so the group can be cleaned up while the
  // leader's pid (= the group id) is still held by its zombie.
  do {
    r = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
  } while (r < 0 && errno == EINTR);
  if (r == 0 && info.si_pid == 0) return std::nullopt;  // still running
  return wait();
}

ExitStatus Child::wait() {
  if (status_) return *status_;
  if (!valid()) return ExitStatus{.exit_code = -1};
  siginfo_t info{};
  int r;
  do {
    r = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT);
  } while (r < 0 && errno == EINTR);
  // The group's stragglers (helpers the child started) do not outlive it;
  // the leader's zombie still holds the group id, so no one else owns it.
  if (r == 0 && group_) ::kill(-pid_, SIGKILL);
  int status = 0;
  pid_t p;
  do {
    p = ::waitpid(pid_, &status, 0);
  } while (p < 0 && errno == EINTR);
  // ECHILD: someone else reaped it (waitpid(-1) or SIGCHLD ignored); the status is lost.
  status_ = p == pid_ ? ExitStatus::from_wait_status(status) : ExitStatus{.exit_code = -1};
  return *status_;
}

bool Child::signal(int sig) {
  if (!valid() || status_) return false;
  return ::kill(group_ ? -pid_ : pid_, sig) == 0;
}

Result<ExitStatus> Child::terminate(std::chrono::milliseconds grace) {
  using clock = std::chrono::steady_clock;
  if (!valid()) return Error(Errc::invalid_argument, "terminate: empty Child");
  if (status_) return *status_;
  signal(SIGTERM);
  const auto deadline = clock::now() + grace;
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) break;
    pollfd p{pidfd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r > 0) break;
    if (r < 0 && errno != EINTR) break;  // cannot watch: fall through to SIGKILL
  }
  // The leader is at worst an unreaped zombie, so its pid (the group id) is still ours.
  ::kill(group_ ? -pid_ : pid_, SIGKILL);
  return wait();
}

}  // namespace troupe
