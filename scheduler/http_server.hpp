#pragma once
// A tiny HTTP/1.1 server (Boost.Beast) for the scheduler's state and metrics
// pages (DESIGN §1: /, /api/state, /metrics). Keep-alive, many connections,
// one thread. Beast stays inside http_server.cpp.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/error.hpp"

namespace troupe {

/// One request as the handler sees it.
struct HttpRequest {
  std::string method;  ///< "GET", "POST", ...
  std::string target;  ///< path and query, e.g. "/api/state?actor=3"
  std::string body;
  std::string host{};           ///< the Host header ("" when absent)
  std::string authorization{};  ///< the Authorization header
  std::string cookie{};         ///< the Cookie header
};

/// The handler's answer.
struct HttpResponse {
  int status = 200;  ///< 100..999; anything else becomes a 500
  std::string content_type = "text/plain; charset=utf-8";
  std::string body{};
  std::vector<std::pair<std::string, std::string>> headers{};  ///< extra headers (Set-Cookie, Location)
};

/// Called on the server's thread, one request at a time: it must be
/// thread-safe with respect to the rest of the program (read shared state
/// under a lock or from a snapshot) and should be quick, since it blocks
/// every other connection while it runs. An exception it throws becomes a 500
/// whose body is the exception's message.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

/// Limits of one server.
struct HttpServerOptions {
  size_t max_body_bytes = 1 << 20;                ///< larger request bodies get 413
  std::chrono::milliseconds idle_timeout{30'000};  ///< a connection silent this long is closed
};

/// A listening server with its own I/O thread. Malformed requests get 400,
/// oversized bodies 413; neither disturbs other connections.
/// start()/port() are thread-safe; stop() and the destructor must not be
/// called from the handler (they join the server's thread).
class HttpServer {
 public:
  /// Binds host:port (port 0 = an ephemeral port; host a numeric address or a
  /// name such as "localhost") and starts serving. Errors: io_error, e.g.
  /// "cannot listen on 127.0.0.1:8265: address already in use".
  static Result<std::unique_ptr<HttpServer>> start(std::string host, uint16_t port, HttpHandler handler,
                                                   HttpServerOptions options = {});
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  /// Stops and joins.
  ~HttpServer();

  /// The bound port (the actual one when started with port 0).
  [[nodiscard]] uint16_t port() const;
  /// Closes the listener and every connection and joins the thread; returns
  /// as soon as the handler running at that moment, if any, has returned.
  /// Idempotent.
  void stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace troupe
