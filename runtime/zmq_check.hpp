#pragma once
// Every ZeroMQ call goes through TROUPE_ZMQ(expr): a failure becomes a
// troupe::Exception(io_error) naming the call, file and line (DESIGN §8).
#include <string>

#include <zmq.hpp>

#include "runtime/error.hpp"

namespace troupe::detail {
[[noreturn]] inline void zmq_failed(const zmq::error_t& e, const char* expr, const char* file, int line) {
  throw Exception(Error(Errc::io_error, std::string(expr) + " failed at " + file + ":" + std::to_string(line) +
                                            ": " + e.what()));
}
}  // namespace troupe::detail

#define TROUPE_ZMQ(expr)                                            \
  [&]() -> decltype(auto) {                                         \
    try {                                                           \
      return (expr);                                                \
    } catch (const zmq::error_t& troupe_zmq_error_) {               \
      ::troupe::detail::zmq_failed(troupe_zmq_error_, #expr, __FILE__, __LINE__); \
    }                                                               \
  }()
