#pragma once
// The ZAP handler (ZeroMQ RFC 27) of one ZeroMQ context: libzmq asks it about
// every connection to a PLAIN or CURVE server socket of that context
// (runtime/security.hpp), and it admits only
//   - CURVE clients whose long-term public key is the cluster's (so whoever
//     holds the cluster's secret key, and only they, get in);
//   - PLAIN clients whose password is the one derived from that secret key.
// Anything else gets status 400 and the connection is closed before a single
// message reaches the application. Each refused address is logged once (the
// first 256 of them), every refusal counted.
//
// It runs its own thread: a handshake is answered even while the I/O thread
// is busy, and the I/O thread's loop stays as it was.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "runtime/keys.hpp"

namespace troupe {

class ZapHandler {
 public:
  /// Binds inproc://zeromq.zap.01 in `context` (one handler per context) and
  /// starts answering. Throws troupe::Exception(io_error) when the address is
  /// taken. Bind server sockets only after this returns: libzmq lets every
  /// client in when a context has no handler.
  ZapHandler(zmq::context_t& context, KeysPtr keys);
  /// Stops and joins the thread; close it before the context.
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  /// Connections refused so far. Thread-safe.
  [[nodiscard]] uint64_t refused() const { return refused_.load(); }
  /// Connections admitted so far. Thread-safe.
  [[nodiscard]] uint64_t admitted() const { return admitted_.load(); }

 private:
  void run();
  /// Status code and text for one request (frames after the envelope).
  bool admit(const std::vector<zmq::message_t>& request, std::string& why);

  KeysPtr keys_;
  std::string password_;
  std::unique_ptr<zmq::socket_t> socket_;  // REP, used by the thread only
  int stop_fd_ = -1;
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> admitted_{0};
  std::set<std::string> logged_;  // thread only
  std::thread thread_;
};

}  // namespace troupe
