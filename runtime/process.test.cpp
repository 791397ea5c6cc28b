#include "runtime/process.hpp"

#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using troupe::Child;
using troupe::Errc;
using troupe::ExitStatus;
using troupe::SpawnSpec;

namespace {

// Helper mode of this test binary: when started with this variable set, the
// process spawns `sleep` with die_with_parent, publishes its pid and waits to
// be killed. It runs from a static initialiser, before doctest's main.
constexpr const char* kHelperVar = "TROUPE_PROCESS_TEST_PIDFILE";
[[maybe_unused]] const bool helper_mode = [] {
  const char* pidfile = std::getenv(kHelperVar);
  if (pidfile == nullptr) return false;
  SpawnSpec spec{.exe = "/bin/sleep", .args = {"1000"}, .die_with_parent = true, .new_process_group = true};
  auto child = Child::spawn(spec);
  if (!child) ::_exit(2);
  {
    const std::string tmp = std::string(pidfile) + ".tmp";
    std::ofstream(tmp) << child->pid() << "\n";
    fs::rename(tmp, pidfile);  // the test never sees a half-written file
  }
  for (;;) ::pause();  // until SIGKILLed; the Child destructor must not run
}();

struct TempDir {
  fs::path path;
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "troupe-process-XXXXXX").string();
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    path = templ;
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Polling with a deadline (not a fixed sleep): returns as soon as pred holds.
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// Dead = no such process, or a zombie that nobody has reaped yet (an orphan's
// new parent, pid 1 in a container, may never reap it).
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() &&
         (line[paren + 2] == 'Z' || line[paren + 2] == 'X');
}

bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

SpawnSpec sh(std::string script, std::string log_path = {}) {
  return SpawnSpec{.exe = "/bin/sh", .args = {"-c", std::move(script)}, .log_path = std::move(log_path)};
}

}  // namespace

TEST_CASE("an exit status reads as an exit code or a named signal" * doctest::timeout(10)) {
  CHECK(ExitStatus{.exit_code = 3}.to_string() == "exit code 3");
  CHECK(ExitStatus{.signal = 9}.to_string() == "killed by signal 9 (SIGKILL)");
  CHECK(ExitStatus{.signal = 11, .core_dumped = true}.to_string() == "killed by signal 11 (SIGSEGV) (core dumped)");
}

TEST_CASE("a child's exit code is reported and its stdout and stderr are appended to the log" *
          doctest::timeout(10)) {
  TempDir dir;
  const fs::path log = dir.path / "actor.log";
  std::ofstream(log) << "earlier\n";
  auto child = Child::spawn(sh("echo hi; echo err >&2; exit 3", log.string()));
  REQUIRE(child.ok());
  const ExitStatus st = child->wait();
  CHECK(st.exit_code == 3);
  CHECK(st.signal == 0);
  CHECK(read_file(log) == "earlier\nhi\nerr\n");
}

TEST_CASE("the pidfd polls readable when the child exits and try_reap then returns its status" *
          doctest::timeout(10)) {
  auto child = Child::spawn(sh("exit 5"));
  REQUIRE(child.ok());
  REQUIRE(child->pidfd() >= 0);
  REQUIRE(readable(child->pidfd(), 10'000));
  const auto st = child->try_reap();
  REQUIRE(st.has_value());
  CHECK(st->exit_code == 5);
  CHECK(child->try_reap() == st);  // the status is kept once reaped
}

TEST_CASE("a child killed by SIGKILL reports signal 9" * doctest::timeout(10)) {
  auto child = Child::spawn({.exe = "/bin/sleep", .args = {"1000"}});
  REQUIRE(child.ok());
  CHECK_FALSE(readable(child->pidfd(), 0));
  CHECK_FALSE(child->try_reap().has_value());
  REQUIRE(child->signal(SIGKILL));
  REQUIRE(readable(child->pidfd(), 10'000));
  const auto st = child->try_reap();
  REQUIRE(st.has_value());
  CHECK(st->signal == SIGKILL);
  CHECK(st->to_string() == "killed by signal 9 (SIGKILL)");
  CHECK_FALSE(child->signal(SIGTERM));  // reaped: the pid is no longer ours to signal
}

TEST_CASE("spawning a program that cannot be executed is an error value naming it" * doctest::timeout(10)) {
  TempDir dir;
  SUBCASE("a missing path") {
    auto child = Child::spawn({.exe = "/nonexistent/troupe-no-such-binary"});
    REQUIRE_FALSE(child.ok());
    CHECK(child.error().code == Errc::io_error);
    CHECK(child.error().message ==
          "cannot execute /nonexistent/troupe-no-such-binary: No such file or directory");
  }
  SUBCASE("a bare name not on PATH") {
    auto child = Child::spawn({.exe = "troupe-no-such-binary"});
    REQUIRE_FALSE(child.ok());
    CHECK(child.error().message == "cannot execute troupe-no-such-binary: No such file or directory");
  }
  SUBCASE("a file without execute permission") {
    const fs::path file = dir.path / "not-a-program";
    std::ofstream(file) << "data\n";
    auto child = Child::spawn({.exe = file.string()});
    REQUIRE_FALSE(child.ok());
    CHECK(child.error().message == "cannot execute " + file.string() + ": Permission denied");
  }
  SUBCASE("a log file that cannot be opened") {
    auto child = Child::spawn(sh("exit 0", (dir.path / "no-dir" / "x.log").string()));
    REQUIRE_FALSE(child.ok());
    CHECK(child.error().message.find("cannot open log file") == 0);
  }
  SUBCASE("a missing working directory") {
    SpawnSpec spec = sh("exit 0");
    spec.cwd = (dir.path / "missing").string();
    auto child = Child::spawn(spec);
    REQUIRE_FALSE(child.ok());
    CHECK(child.error().message.find("cannot change directory to " + spec.cwd) == 0);
  }
}

TEST_CASE("a bare program name is found on PATH" * doctest::timeout(10)) {
  auto child = Child::spawn({.exe = "sh", .args = {"-c", "exit 4"}});
  REQUIRE(child.ok());
  CHECK(child->wait().exit_code == 4);
}

TEST_CASE("environment variables in the spec reach the child and override inherited ones" *
          doctest::timeout(10)) {
  TempDir dir;
  const fs::path log = dir.path / "env.log";
  SpawnSpec spec = sh(R"(echo "$TROUPE_TEST_VAR $HOME ${PATH:+path-kept}")", log.string());
  spec.env = {{"TROUPE_TEST_VAR", "first"}, {"HOME", "/custom-home"}, {"TROUPE_TEST_VAR", "hello"}};
  auto child = Child::spawn(spec);
  REQUIRE(child.ok());
  CHECK(child->wait().exit_code == 0);
  CHECK(read_file(log) == "hello /custom-home path-kept\n");
}

TEST_CASE("the child starts in the requested working directory" * doctest::timeout(10)) {
  TempDir dir;
  const fs::path log = dir.path / "pwd.log";
  SpawnSpec spec = sh("pwd -P", log.string());
  spec.cwd = dir.path.string();
  auto child = Child::spawn(spec);
  REQUIRE(child.ok());
  CHECK(child->wait().exit_code == 0);
  CHECK(read_file(log) == fs::canonical(dir.path).string() + "\n");
}

TEST_CASE("terminate() SIGKILLs a child that ignores SIGTERM once the grace has passed" *
          doctest::timeout(10)) {
  TempDir dir;
  const fs::path log = dir.path / "trap.log";
  auto child = Child::spawn(sh("trap '' TERM; echo ready; exec sleep 1000", log.string()));
  REQUIRE(child.ok());
  REQUIRE(wait_until([&] { return read_file(log) == "ready\n"; }));
  const auto t0 = std::chrono::steady_clock::now();
  auto st = child->terminate(300ms);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  REQUIRE(st.ok());
  CHECK(st->signal == SIGKILL);
  CHECK(elapsed >= 300ms);
  CHECK(elapsed < 5s);
}

TEST_CASE("terminate() of a child that honours SIGTERM returns without waiting out the grace" *
          doctest::timeout(10)) {
  auto child = Child::spawn({.exe = "/bin/sleep", .args = {"1000"}});
  REQUIRE(child.ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto st = child->terminate(30s);
  REQUIRE(st.ok());
  CHECK(st->signal == SIGTERM);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK_FALSE(Child().terminate(1s).ok());
}

TEST_CASE("destroying a running Child kills and reaps its whole process group" * doctest::timeout(10)) {
  TempDir dir;
  const fs::path log = dir.path / "group.log";
  pid_t leader = 0;
  pid_t helper = 0;
  {
    auto spawned = Child::spawn(sh("sleep 1000 & echo $!; wait", log.string()));
    REQUIRE(spawned.ok());
    Child child = std::move(spawned.value());  // ownership moves with the handle
    CHECK_FALSE(spawned->valid());
    REQUIRE(wait_until([&] { return read_file(log).find('\n') != std::string::npos; }));
    leader = child.pid();
    helper = std::stoi(read_file(log));
  }
  CHECK(::kill(leader, 0) != 0);  // killed and reaped: no zombie left
  CHECK(wait_until([&] { return process_gone(helper); }));
}

TEST_CASE("a child spawned with die_with_parent dies when its parent is SIGKILLed" * doctest::timeout(15)) {
  TempDir dir;
  const fs::path pidfile = dir.path / "grandchild.pid";
  SpawnSpec spec{.exe = "/proc/self/exe", .env = {{kHelperVar, pidfile.string()}}};
  auto helper = Child::spawn(spec);
  REQUIRE(helper.ok());
  REQUIRE(wait_until([&] { return fs::exists(pidfile); }));
  const pid_t grandchild = std::stoi(read_file(pidfile));
  REQUIRE(grandchild > 0);
  CHECK_FALSE(process_gone(grandchild));
  REQUIRE(helper->signal(SIGKILL));  // the grandchild leads its own group: only PDEATHSIG reaches it
  CHECK(helper->wait().signal == SIGKILL);
  const bool died = wait_until([&] { return process_gone(grandchild); });
  if (!died) ::kill(grandchild, SIGKILL);  // leave nothing behind on failure
  CHECK(died);
}
