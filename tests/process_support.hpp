#pragma once
// Helpers of the tests that run the troupe binary as separate processes
// (`troupe scheduler`, `troupe worker`, `troupe train`): a scratch
// directory, a log's text, and a start that waits for a line in the log.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "runtime/process.hpp"
#include "runtime/worker.hpp"
#include "tests/test_support.hpp"

namespace troupe::testing {

/// A fresh directory under the system's temp dir.
inline std::string temp_dir() {
  auto dir = std::filesystem::temp_directory_path() /
             ("troupe-test-" + std::to_string(getpid()) + "-" + std::to_string(std::rand()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

/// The whole text of a file ("" when it does not exist).
inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Starts `troupe ARGS…` with its output in `log`, without waiting for anything.
inline Child spawn_troupe(const std::vector<std::string>& args, const std::string& log) {
  SpawnSpec spec;
  spec.exe = find_troupe_binary();
  spec.args = args;
  spec.log_path = log;
  auto child = Child::spawn(spec);
  REQUIRE(child.ok());
  return std::move(child.value());
}

/// examples/fashion_mnist.toml (path in $FASHION_TOML) with `epochs`, the first
/// `limit` training samples (0: all), job `name`, and its outputs in
/// dir/NAME-out; written to dir/NAME.toml, whose path it returns.
inline std::string write_fashion_config(const std::string& dir, const std::string& name, int epochs, int limit = 0) {
  const char* src = std::getenv("FASHION_TOML");
  REQUIRE_MESSAGE(src != nullptr, "FASHION_TOML (path of examples/fashion_mnist.toml) is not set");
  std::string text = slurp(src);
  REQUIRE(!text.empty());
  text = std::regex_replace(text, std::regex("\nepochs = [0-9]+"), "\nepochs = " + std::to_string(epochs));
  text = std::regex_replace(text, std::regex("\ndir = \"[^\"]*\""),
                            "\ndir = \"" + dir + "/" + name + "-out\"\nname = \"" + name + "\"");
  if (limit > 0)
    text = std::regex_replace(text, std::regex("\\[data\\]\n"), "[data]\nlimit_train = " + std::to_string(limit) + "\n");
  const std::string path = dir + "/" + name + ".toml";
  std::ofstream(path) << text;
  return path;
}

/// Starts `troupe ARGS…` with its output in `log`; waits until `pattern` shows
/// up there and returns the child and the pattern's first capture group.
inline std::pair<Child, std::string> start_troupe(const std::vector<std::string>& args, const std::string& log,
                                                  const std::string& pattern,
                                                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  Child child = spawn_troupe(args, log);
  std::smatch m;
  const std::regex re(pattern);
  std::string text;
  const bool seen = eventually(
      [&] {
        text = slurp(log);
        return std::regex_search(text, m, re);
      },
      timeout);
  INFO("log of troupe " << args[0] << ":\n" << text);
  REQUIRE(seen);
  return {std::move(child), m[1].str()};
}

/// `troupe scheduler --bind BIND --http-port -1 EXTRA…`, its output in dir/LOG;
/// returns it and its control endpoint.
inline std::pair<Child, std::string> start_scheduler(const std::string& dir, const std::vector<std::string>& extra,
                                                     const std::string& bind = "tcp://127.0.0.1:*",
                                                     const std::string& log = "scheduler.log") {
  std::vector<std::string> args{"scheduler", "--bind", bind, "--http-port", "-1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return start_troupe(args, dir + "/" + log, R"(control (tcp://[0-9.]+:[0-9]+))");
}

/// `troupe worker` offering `cpus`, logs in dir/NAME and dir/NAME.log, once it
/// has registered with the scheduler at `endpoint`; returns it and its node id.
inline std::pair<Child, std::string> start_worker(const std::string& dir, const std::string& name,
                                                  const std::string& endpoint, const std::string& cpus) {
  return start_troupe({"worker", "--scheduler", endpoint, "--cpus", cpus, "--log-dir", dir + "/" + name},
                      dir + "/" + name + ".log", R"(node ([0-9]+) at)");
}

}  // namespace troupe::testing
