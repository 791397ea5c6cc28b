#pragma once
// One per process: the ZeroMQ context, the I/O thread, the calling side
// (Client) and, for processes that serve calls, the Server and its Executor.
#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "runtime/client.hpp"
#include "runtime/executor.hpp"
#include "runtime/io_thread.hpp"
#include "runtime/server.hpp"

namespace troupe {

class Runtime {
 public:
  struct Options {
    std::string scheduler;       ///< scheduler control endpoint; empty inside the scheduler itself
    std::string bind;            ///< ROUTER to bind ("tcp://127.0.0.1:*"); empty: calls only
    std::string publish_bind;    ///< PUB to bind (the scheduler); empty: none
    Identity self;               ///< the actor this process runs, {0,0} otherwise
    std::size_t max_queue = 10000;  ///< calls waiting for the executor before `overloaded`
    Limits limits;
    /// Liveness of this process's connections (IoThread::Options::heartbeat):
    /// calls to a scheduler or worker that died or went silent fail with
    /// connection_lost within 2 x heartbeat. Zero: no heartbeats.
    std::chrono::milliseconds heartbeat{500};
    /// The cluster's keys (runtime/keys.hpp). Null: found by find_keys()
    /// (--keys, $TROUPE_KEYS, ~/.config/troupe/keys), unless `insecure`.
    KeysPtr keys;
    /// No keys at all (a benchmark's unsecured run): loopback binds only.
    bool insecure = false;
  };
  /// Binds (throws troupe::Exception when a bind fails) but does not start.
  explicit Runtime(Options options);
  /// Stops the threads; pending futures are left incomplete.
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// Starts the I/O thread (register Server methods before). Not thread-safe.
  void start();
  /// Stops serving and joins the threads. Idempotent.
  void stop();

  [[nodiscard]] IoThread& io() { return *io_; }
  [[nodiscard]] Client& client() { return *client_; }
  [[nodiscard]] Server& server() { return *server_; }
  [[nodiscard]] Executor& executor() { return *executor_; }
  [[nodiscard]] const Options& options() const { return options_; }
  /// The keys its sockets use; null when unsecured. Thread-safe.
  [[nodiscard]] const KeysPtr& keys() const { return options_.keys; }
  /// Connects the SUB socket to the scheduler's events (learned from "hello").
  /// Blocks up to `timeout`, asking again while the scheduler cannot be
  /// reached (it may be starting); connection_lost when it never answers.
  Result<void> join_cluster(std::chrono::milliseconds timeout);

  /// The runtime that handles and futures of this process use. Thread-safe.
  static Runtime* current();
  static void set_current(Runtime* rt);

  /// How long calls to an actor whose connection was lost wait for the
  /// scheduler's verdict: the longest it may take to declare the actor's node
  /// dead (node_timeout, checked every node_timeout/4), plus one heartbeat
  /// for the event to arrive.
  [[nodiscard]] static std::chrono::milliseconds death_wait(std::chrono::milliseconds node_timeout,
                                                            std::chrono::milliseconds heartbeat) {
    return node_timeout + std::max(node_timeout / 4, std::chrono::milliseconds(50)) + heartbeat;
  }

 private:
  Options options_;
  std::shared_ptr<zmq::context_t> context_;
  std::shared_ptr<IoThread> io_;  // shared: a thread waiting on a call (IoThread::drive) may hold it a moment longer
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<Server> server_;
  bool started_ = false;
};

/// What "hello" answers: how to follow the scheduler.
struct HelloReply {
  std::string events_endpoint;
  int http_port = 0;
  uint32_t protocol = 0;
  std::string version;
  int64_t heartbeat_timeout_ms = 0;  ///< when the scheduler declares a silent node dead; 0: not said
  MSGPACK_DEFINE_MAP(events_endpoint, http_port, protocol, version, heartbeat_timeout_ms);
};

}  // namespace troupe
