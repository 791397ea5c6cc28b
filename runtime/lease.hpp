#pragma once
// The serving lease (DESIGN §9 "One serving incarnation"). A worker holds a
// lease from the scheduler and renews it with every answered heartbeat; its
// actor processes serve calls, and call other actors, only while it holds.
//
// Why that prevents two serving incarnations: the scheduler grants a lease of
// lease_ms (shorter than its heartbeat timeout) at registration, and the
// worker counts it from the moment it *sent* the heartbeat that renewed it,
// which is before the scheduler heard it. The scheduler declares the node
// dead, and restarts its actors elsewhere, only after a full heartbeat timeout
// without hearing from it, so the old incarnations have stopped serving by
// then: a SIGSTOPped worker, a partitioned host or a dead link all end the
// lease on the host's side without any message.
//
// The one exception is a scheduler that is down: a heartbeat fails and a TCP
// connect to its port is refused (the host answers, nothing listens). A dead
// scheduler restarts nobody, and a restarted one waits a full heartbeat
// timeout for the workers before it declares any node dead (its grace period),
// so the worker may extend the lease from the moment of that refusal. A
// partition looks different (no answer at all) and ends the lease.
//
// The lease is one 64-bit expiry time (CLOCK_MONOTONIC, the same clock for
// every process of a host) in a page of shared memory (memfd) that the worker
// writes and its actor processes map read-only: checking it costs a clock read
// and an atomic load.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "runtime/error.hpp"

namespace troupe {

class Lease {
 public:
  using Clock = std::chrono::steady_clock;

  /// Worker side: a new lease page, not held until renewed. io_error if the page cannot be made.
  static Result<Lease> create();
  /// Actor side: maps the page a worker passed as file descriptor `fd` (read-only).
  static Result<Lease> attach(int fd);

  Lease() = default;
  Lease(Lease&& other) noexcept;
  Lease& operator=(Lease&& other) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease();

  /// The page's descriptor (to pass to a child process), -1 when empty.
  [[nodiscard]] int fd() const { return fd_; }
  /// Held until `until`; never moves an expiry backwards. Worker side. Thread-safe.
  void renew(Clock::time_point until);
  /// Not held from now on, until renewed again. Worker side. Thread-safe.
  void revoke();
  /// True while the lease is held; an empty Lease (no worker gave one) always holds. Thread-safe.
  [[nodiscard]] bool held() const;
  /// Errc::unavailable with the reason when the lease is not held, for a refused call. Thread-safe.
  [[nodiscard]] std::optional<Error> refusal() const;

 private:
  void unmap();
  int fd_ = -1;
  std::atomic<int64_t>* expiry_ns_ = nullptr;  // in the shared page
  bool writable_ = false;
};

/// Tries a TCP connect to `endpoint` ("tcp://host:port") within `timeout`:
/// true only when the host answered that nothing listens there (ECONNREFUSED).
/// Blocks the calling thread for at most `timeout`. Thread-safe.
bool connect_refused(const std::string& endpoint, std::chrono::milliseconds timeout);

}  // namespace troupe
