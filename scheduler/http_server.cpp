#include "scheduler/http_server.hpp"

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <vector>

namespace troupe {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr std::chrono::seconds kLingerTime{2};

bool is_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

}  // namespace

struct HttpServer::Impl {
  class Session;

  HttpHandler handler;
  HttpServerOptions options;
  // Declared before ioc: sessions still queued in ioc are destroyed with it
  // and unregister themselves from this set.
  std::unordered_set<Session*> sessions;
  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  net::steady_timer accept_retry{ioc};
  uint16_t port = 0;
  std::mutex stop_mutex;
  std::thread thread;

  void accept();
  void shutdown();  // on the server's thread
  void run();
};

// One connection: read a request, answer it, repeat while keep-alive holds.
class HttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Impl& server, tcp::socket socket) : server_(server), stream_(std::move(socket)) {
    server_.sessions.insert(this);
  }
  ~Session() { server_.sessions.erase(this); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void read() {
    parser_.emplace();
    parser_->body_limit(server_.options.max_body_bytes);
    stream_.expires_after(server_.options.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void close() { stream_.close(); }  // cancels pending operations and timers

 private:
  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return linger();
    if (ec == http::error::body_limit) return respond(error_response(413, "request body over the limit"), 11, false);
    if (ec == http::error::header_limit) return respond(error_response(431, "request header too large"), 11, false);
    if (is_parse_error(ec)) return respond(error_response(400, "bad request: " + ec.message()), 11, false);
    if (ec) return close();  // idle timeout, reset, or the server stopping

    http::request<http::string_body> req = parser_->release();
    HttpRequest request{std::string(req.method_string()), std::string(req.target()), std::move(req.body()),
                        std::string(req[http::field::host]), std::string(req[http::field::authorization]),
                        std::string(req[http::field::cookie])};
    HttpResponse response;
    try {
      response = server_.handler(request);
    } catch (const std::exception& e) {
      response = error_response(500, e.what());
    } catch (...) {
      response = error_response(500, "unknown exception in the HTTP handler");
    }
    if (response.status < 100 || response.status > 999)
      response = error_response(500, "handler returned invalid HTTP status " + std::to_string(response.status));
    respond(response, req.version(), req.keep_alive());
  }

  static HttpResponse error_response(int status, std::string message) {
    return HttpResponse{.status = status, .body = std::move(message) + "\n"};
  }

  void respond(const HttpResponse& r, unsigned version, bool keep_alive) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(version);
    res->result(static_cast<unsigned>(r.status));
    res->set(http::field::server, "troupe");
    res->set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) res->set(name, value);
    res->body() = r.body;
    res->keep_alive(keep_alive);
    res->prepare_payload();
    stream_.expires_after(server_.options.idle_timeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
      if (ec) return self->close();
      if (!keep_alive) return self->linger();
      self->read();
    });
  }

  // Half-close, then drain what the client still sends for a moment before
  // closing: closing with unread bytes (the rest of a bad request) sends a
  // RST that can destroy the response before the client has read it.
  void linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTime);
    drain();
  }
  void drain() {
    stream_.async_read_some(net::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->close();
      self->drain();
    });
  }

  Impl& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::array<char, 4096> scratch_{};
};

void HttpServer::Impl::accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (!acceptor.is_open()) return;  // stopping
    if (ec) {
      // Out of fds and the like: try again shortly instead of spinning.
      accept_retry.expires_after(std::chrono::milliseconds(100));
      accept_retry.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) accept();
      });
      return;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::make_shared<Session>(*this, std::move(socket))->read();
    accept();
  });
}

void HttpServer::Impl::shutdown() {
  beast::error_code ignored;
  acceptor.close(ignored);
  accept_retry.cancel();
  for (Session* s : std::vector<Session*>(sessions.begin(), sessions.end())) s->close();
  // Handlers of the cancelled operations are dropped with ioc; the sockets are
  // already closed, so peers see the connection end now.
  ioc.stop();
}

void HttpServer::Impl::run() {
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      // Only allocation failures and the like get here (handler exceptions are
      // caught per request); keep serving.
      std::fprintf(stderr, "troupe http server: %s\n", e.what());
    }
  }
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(std::string host, uint16_t port, HttpHandler handler,
                                                      HttpServerOptions options) {
  if (!handler) return Error(Errc::invalid_argument, "HttpServer::start: empty handler");
  auto impl = std::make_unique<Impl>();
  impl->handler = std::move(handler);
  impl->options = options;
  const std::string where =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  auto fail = [&](const char* what, const beast::error_code& ec) {
    std::string msg = ec.message();
    if (!msg.empty()) msg[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(msg[0])));
    return Error(Errc::io_error, std::string(what) + " " + where + ": " + msg);
  };

  beast::error_code ec;
  tcp::endpoint endpoint;
  const auto address = net::ip::make_address(host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, port);
  } else {
    tcp::resolver resolver(impl->ioc);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return fail("cannot resolve", ec);
    if (results.empty()) return Error(Errc::io_error, "cannot resolve " + where + ": no address");
    // Prefer IPv4 ("localhost" is usually reached as 127.0.0.1).
    endpoint = results.begin()->endpoint();
    for (const auto& entry : results)
      if (entry.endpoint().address().is_v4()) {
        endpoint = entry.endpoint();
        break;
      }
  }
  auto& acceptor = impl->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  // SO_REUSEADDR lets a restarted scheduler bind over TIME_WAIT connections;
  // on Linux it does not allow two listeners on one port.
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("cannot listen on", ec);
  impl->port = acceptor.local_endpoint(ec).port();
  if (ec) return fail("cannot listen on", ec);

  impl->accept();
  impl->thread = std::thread([raw = impl.get()] { raw->run(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

uint16_t HttpServer::port() const { return impl_->port; }

void HttpServer::stop() {
  std::lock_guard lock(impl_->stop_mutex);
  if (!impl_->thread.joinable()) return;
  net::post(impl_->ioc, [impl = impl_.get()] { impl->shutdown(); });
  // From the handler itself (the server's thread) joining would deadlock:
  // the shutdown runs when the handler returns, and the destructor joins.
  if (impl_->thread.get_id() == std::this_thread::get_id()) return;
  impl_->thread.join();
}

}  // namespace troupe
