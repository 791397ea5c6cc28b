#pragma once
// An embedded cluster: a scheduler and N workers inside this process, as
// ray.init() starts them. It is assembled here, once, above runtime/ and
// scheduler/ (runtime/ never includes scheduler/): local_cluster() is what a
// driver, `troupe train` and the tests call; `troupe up` runs the same
// LocalServices in the foreground.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "runtime/cluster.hpp"
#include "runtime/keys.hpp"

namespace troupe {

class Scheduler;
class Worker;

/// What local_cluster() starts.
struct LocalOptions {
  int workers = 1;
  double cpus_per_worker = 0;  ///< 0: the machine's core count
  int gpus_per_worker = 0;
  std::string host = "127.0.0.1";
  std::string log_dir;         ///< default: a fresh directory under /tmp
  std::chrono::milliseconds heartbeat_timeout{3000};
  int http_port = 0;           ///< 0: ephemeral; -1: no HTTP server
  /// Authenticated sockets (docs/SECURITY.md): the keys find_keys() finds,
  /// else a fresh pair in a private temporary folder removed at shutdown.
  /// false (or TROUPE_KEYS=none): no keys at all (benchmarks of the
  /// unsecured baseline; loopback only).
  bool secure = true;
};

/// A scheduler and its workers in this process, without a driver. Not
/// thread-safe: start and stop it from one thread; the accessors may be read
/// from any thread once start() returned.
class LocalServices {
 public:
  /// What `troupe up` sets beside LocalOptions.
  struct Extras {
    std::string bind;                          ///< the scheduler's control endpoint; default tcp://HOST:*
    std::vector<std::string> code_path_allow;  ///< Worker::Options::code_path_allow
  };

  /// `keys` null: with options.secure each service finds the keys itself
  /// (find_keys()); without, no keys (loopback only).
  LocalServices(LocalOptions options, KeysPtr keys, Extras extras = {});
  /// Stops whatever still runs.
  ~LocalServices();
  LocalServices(const LocalServices&) = delete;
  LocalServices& operator=(const LocalServices&) = delete;

  /// Starts the scheduler, then the workers, and waits until every worker
  /// registered. Throws troupe::Exception(unavailable) when one does not
  /// within 10 s (or what the scheduler or a worker throws when it cannot bind).
  void start();
  /// Stops the workers (they terminate their actors; the whole cluster stops
  /// together, so none is restarted elsewhere), then the scheduler. Idempotent.
  void stop();

  [[nodiscard]] const std::string& endpoint() const;
  [[nodiscard]] int http_port() const;
  [[nodiscard]] const std::string& http_token() const;
  [[nodiscard]] const std::string& log_dir() const { return options_.log_dir; }

 private:
  LocalOptions options_;
  KeysPtr keys_;
  Extras extras_;
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

/// Starts a scheduler and `workers` workers inside this process and connects
/// this process to them as a driver; the returned Cluster's shutdown() (or
/// its last copy going) stops them all. Throws troupe::Exception when
/// something cannot start. Thread-safe.
[[nodiscard]] Cluster local_cluster(LocalOptions options = {});

}  // namespace troupe
