#pragma once
// What an actor's code can reach: who it is, the cluster (spawn, look up,
// call, events — exactly as a driver), and background tasks that run beside
// its methods (a trainer's step loop) while it keeps answering calls.
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "runtime/cluster.hpp"

namespace troupe {

/// Thread-safety: all member functions are thread-safe.
class ActorContext {
 public:
  ActorContext(ActorId id, Incarnation incarnation, std::string name, Cluster cluster);
  /// Requests stop of every background task and joins them.
  ~ActorContext();

  [[nodiscard]] ActorId id() const { return id_; }
  [[nodiscard]] Incarnation incarnation() const { return incarnation_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const Cluster& cluster() const { return cluster_; }

  /// Runs fn on a thread of its own until it returns or stop is requested (at
  /// shutdown). fn shares the actor object with the methods, which run on the
  /// executor thread: guard shared state yourself (a mutex or atomics). An
  /// exception escaping fn ends the process with exit code 4 (a restart, if allowed).
  void run_background(std::function<void(std::stop_token)> fn);
  /// Asks background tasks to stop and joins them. Not from a background task.
  void stop_background();
  /// Runs fn on the thread that runs the actor's methods, after the calls
  /// queued before it, so fn may touch the actor's state without locks (an
  /// event listener's news, a background task's result). Never blocks and
  /// never drops fn: while the call queue is full it is retried every 5 ms on
  /// the I/O thread, so a flood of calls cannot make the actor miss it.
  /// Thread-safe; callable from the I/O thread (Cluster::on_event listeners).
  void post(std::function<void()> fn);

 private:
  ActorId id_;
  Incarnation incarnation_;
  std::string name_;
  Cluster cluster_;
  std::mutex mutex_;
  std::vector<std::jthread> tasks_;
};

/// The context of the actor this process runs. Throws troupe::Exception
/// (invalid_argument) outside an actor process or before its constructor runs.
/// Thread-safe.
ActorContext& this_actor();
/// The context of the actor this process runs; null outside an actor process
/// (a unit test, a driver) or before its constructor runs. Code that works in
/// both asks this instead of catching this_actor()'s exception. Thread-safe.
ActorContext* current_actor() noexcept;

namespace detail {
void set_this_actor(ActorContext* ctx);
}

}  // namespace troupe
