#include "scheduler/http_server.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using troupe::Errc;
using troupe::HttpRequest;
using troupe::HttpResponse;
using troupe::HttpServer;

namespace {

// A raw-socket HTTP client: every read has a 5 s timeout, so a server bug
// fails the test instead of hanging it.
class Client {
 public:
  struct Response {
    int status = 0;  // 0: the connection ended (or timed out) before a response
    std::string headers;
    std::string body;
  };

  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&loopback(port)), sizeof(sockaddr_in)) == 0;
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;  // the server may close early (400, 413): the read tells
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }

  Response request(const std::string& method, const std::string& target, const std::string& body = {},
                   const std::string& extra_headers = {}) {
    send(method + " " + target + " HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n" + extra_headers + "\r\n" + body);
    return read_response();
  }

  Response read_response() {
    Response r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return r;
    r.headers = buf_.substr(0, end + 2);
    buf_.erase(0, end + 4);
    size_t length = 0;
    std::string lower = r.headers;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto at = lower.find("content-length:"); at != std::string::npos)
      length = std::stoul(lower.substr(at + 15));
    while (buf_.size() < length)
      if (!fill()) return r;
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    r.status = std::stoi(r.headers.substr(9, 3));  // "HTTP/1.1 200 OK"
    return r;
  }

  /// True when the server closed the connection (EOF or reset) within the timeout.
  bool closed_by_server() {
    char c;
    const ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

  static const sockaddr_in& loopback(uint16_t port) {
    static thread_local sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

 private:
  bool fill() {
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

// Answers /hello/<x> with "hello <x> <body>", /boom by throwing, /bad-status
// with an impossible status, anything else with 404.
HttpResponse test_handler(const HttpRequest& req) {
  if (req.target.rfind("/hello", 0) == 0)
    return {.status = 200, .content_type = "text/x-test", .body = req.method + " " + req.target + " " + req.body};
  if (req.target == "/boom") throw std::runtime_error("boom: the handler failed");
  if (req.target == "/bad-status") return {.status = 42};
  return {.status = 404, .body = "no such page: " + req.target};
}

std::unique_ptr<HttpServer> start_server(troupe::HttpServerOptions options = {}) {
  auto server = HttpServer::start("127.0.0.1", 0, test_handler, options);
  REQUIRE(server.ok());
  REQUIRE(server.value()->port() != 0);
  return std::move(server.value());
}

}  // namespace

TEST_CASE("a request over TCP reaches the handler and keep-alive serves the next one" * doctest::timeout(10)) {
  auto server = start_server();
  Client client(server->port());
  REQUIRE(client.connected());
  auto r = client.request("GET", "/hello/api?x=1");
  CHECK(r.status == 200);
  CHECK(r.body == "GET /hello/api?x=1 ");
  CHECK(r.headers.find("Content-Type: text/x-test") != std::string::npos);
  r = client.request("POST", "/hello/post", "payload");  // same connection
  CHECK(r.status == 200);
  CHECK(r.body == "POST /hello/post payload");
}

TEST_CASE("a request with Connection: close is answered and then the connection closes" *
          doctest::timeout(10)) {
  auto server = start_server();
  Client client(server->port());
  auto r = client.request("GET", "/hello/x", "", "Connection: close\r\n");
  CHECK(r.status == 200);
  CHECK(client.closed_by_server());
}

TEST_CASE("the handler's status reaches the client, e.g. 404" * doctest::timeout(10)) {
  auto server = start_server();
  Client client(server->port());
  auto r = client.request("GET", "/missing");
  CHECK(r.status == 404);
  CHECK(r.body == "no such page: /missing");
}

TEST_CASE("a handler that throws gives 500 with the message and the connection stays usable" *
          doctest::timeout(10)) {
  auto server = start_server();
  Client client(server->port());
  auto r = client.request("GET", "/boom");
  CHECK(r.status == 500);
  CHECK(r.body.find("boom: the handler failed") != std::string::npos);
  r = client.request("GET", "/bad-status");
  CHECK(r.status == 500);
  CHECK(r.body.find("invalid HTTP status 42") != std::string::npos);
  CHECK(client.request("GET", "/hello/again").status == 200);
}

TEST_CASE("garbage bytes give 400 and the server still answers the next request" * doctest::timeout(10)) {
  auto server = start_server();
  {
    Client bad(server->port());
    bad.send("\x01\x02\xff garbage that is not HTTP\r\n\r\n");
    auto r = bad.read_response();
    CHECK(r.status == 400);
    CHECK(bad.closed_by_server());
  }
  {
    Client bad(server->port());
    bad.send("GET /x HTTP/1.1\r\nContent-Length: nope\r\n\r\n");
    CHECK(bad.read_response().status == 400);
  }
  Client good(server->port());
  CHECK(good.request("GET", "/hello/after").status == 200);
}

TEST_CASE("a body over the limit gives 413" * doctest::timeout(10)) {
  auto server = start_server({.max_body_bytes = 1024});
  Client client(server->port());
  CHECK(client.request("POST", "/hello/small", std::string(1024, 'a')).status == 200);
  auto r = client.request("POST", "/hello/big", std::string(4096, 'a'));
  CHECK(r.status == 413);
  Client next(server->port());
  CHECK(next.request("GET", "/hello/next").status == 200);
}

TEST_CASE("many connections are served side by side" * doctest::timeout(10)) {
  auto server = start_server();
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 32; ++i) {
    clients.push_back(std::make_unique<Client>(server->port()));
    REQUIRE(clients.back()->connected());
  }
  for (size_t i = 0; i < clients.size(); ++i) clients[i]->send("GET /hello/" + std::to_string(i) + " HTTP/1.1\r\n\r\n");
  for (size_t i = 0; i < clients.size(); ++i) {
    auto r = clients[i]->read_response();
    CHECK(r.status == 200);
    CHECK(r.body == "GET /hello/" + std::to_string(i) + " ");
  }
}

TEST_CASE("binding a port that is in use is an error value naming the port" * doctest::timeout(10)) {
  auto first = start_server();
  auto second = HttpServer::start("127.0.0.1", first->port(), test_handler);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == Errc::io_error);
  CHECK(second.error().message ==
        "cannot listen on 127.0.0.1:" + std::to_string(first->port()) + ": address already in use");
  auto bad_host = HttpServer::start("no-such-host.invalid", 0, test_handler);
  CHECK_FALSE(bad_host.ok());
  CHECK_FALSE(HttpServer::start("127.0.0.1", 0, nullptr).ok());
}

TEST_CASE("stop() is prompt, closes open connections and the listener, and is idempotent" *
          doctest::timeout(10)) {
  auto server = start_server();
  const uint16_t port = server->port();
  Client idle(port);  // a keep-alive connection waiting for its next request
  REQUIRE(idle.request("GET", "/hello/x").status == 200);
  const auto t0 = std::chrono::steady_clock::now();
  server->stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  CHECK(idle.closed_by_server());
  CHECK_FALSE(Client(port).connected());
  server->stop();
  server.reset();
}

TEST_CASE("the handler runs on the server's thread, one request at a time" * doctest::timeout(10)) {
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  auto server = HttpServer::start("localhost", 0, [&](const HttpRequest&) {
    if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
    inside.fetch_sub(1);
    return HttpResponse{.body = "ok"};
  });
  REQUIRE(server.ok());
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(std::make_unique<Client>(server.value()->port()));
  for (auto& c : clients) c->send("GET / HTTP/1.1\r\n\r\n");
  for (auto& c : clients) CHECK(c->read_response().status == 200);
  CHECK(overlaps.load() == 0);
}
