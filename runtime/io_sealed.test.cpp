// The sealed data plane over real sockets (io_sealed.cpp): an IoThread
// server bound on a non-loopback address (CURVE), reached by a raw ZeroMQ
// member that speaks docs/PROTOCOL.md "Sealed messages" by hand (so it can
// tamper and replay), by an outsider without keys, and by troupe's own
// IoThread client. Skipped, with a message, on a host without such an address.
#include <doctest/doctest.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "runtime/frames.test.hpp"
#include "runtime/io_thread.hpp"
#include "runtime/keys.hpp"
#include "runtime/sealed_channel.hpp"
#include "runtime/security.hpp"

using namespace std::chrono_literals;
using namespace troupe;

using troupe::testing::copy;
using troupe::testing::frames_of;

namespace {

uint64_t be(const zmq::message_t& m) {
  uint64_t v = 0;
  for (std::size_t i = 0; i < m.size(); ++i) v = (v << 8) | static_cast<const uint8_t*>(m.data())[i];
  return v;
}

/// Frames received on `s` within `wait`, or none.
std::optional<Frames> receive(zmq::socket_t& s, std::chrono::milliseconds wait) {
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, wait) <= 0) return std::nullopt;
  Frames f;
  (void)zmq::recv_multipart(s, std::back_inserter(f));
  return f;
}

/// A test cluster's keys, removed at the end.
struct TestKeys {
  ClusterKeys keys = ephemeral_keys().value();
  KeysPtr ptr = std::make_shared<const ClusterKeys>(keys);
  ~TestKeys() { remove_keys_dir(keys.dir); }
};

/// An IoThread server on `host` that echoes every request.
struct EchoServer {
  std::shared_ptr<zmq::context_t> ctx = std::make_shared<zmq::context_t>();
  std::shared_ptr<IoThread> io;
  EchoServer(const KeysPtr& keys, const std::string& host) {
    io = std::make_shared<IoThread>(ctx, IoThread::Options{.bind = "tcp://" + host + ":*", .keys = keys});
    IoThread* self = io.get();
    io->on_request([self](std::string routing, Frames&& f) { self->reply_to(routing, f); });
    io->start();
  }
  ~EchoServer() {
    io->stop();
    io.reset();
  }
  uint64_t rejected() const { return io->stats().sealed_rejected.load(); }
  /// Waits (bounded: a failure guard) until `n` messages were rejected, for
  /// rejections from a connection whose order relative to ours is unknown.
  bool rejected_reaches(uint64_t n) const {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (rejected() < n && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    return rejected() == n;
  }
};

/// A member written from docs/PROTOCOL.md: CURVE with the cluster's pair,
/// asks for a session, then talks sealed over the bulk port.
struct RawMember {
  zmq::context_t ctx;
  zmq::socket_t curve{ctx, zmq::socket_type::dealer};
  zmq::socket_t bulk{ctx, zmq::socket_type::dealer};
  std::unique_ptr<SealedChannel> channel;

  RawMember(const ClusterKeys& k, const std::string& endpoint) {
    curve.set(zmq::sockopt::linger, 0);
    bulk.set(zmq::sockopt::linger, 0);
    curve.set(zmq::sockopt::curve_serverkey, k.public_key);
    curve.set(zmq::sockopt::curve_publickey, k.public_key);
    curve.set(zmq::sockopt::curve_secretkey, k.secret_key);
    curve.connect(endpoint);
    const uint8_t flags = aes256gcm_available() ? 1 : 0;
    Frames request = frames_of({"troupe.seal.request.v1", std::string(1, static_cast<char>(flags))});
    (void)zmq::send_multipart(curve, request);
    auto reply = receive(curve, 5000ms);
    REQUIRE(reply.has_value());
    REQUIRE(reply->size() == 5);
    REQUIRE((*reply)[0].to_string() == "troupe.seal.session.v1");
    SealKey key;
    std::memcpy(key.data(), (*reply)[2].data(), key.size());
    const auto aead = static_cast<Aead>(*static_cast<const uint8_t*>((*reply)[3].data()));
    channel = std::make_unique<SealedChannel>(be((*reply)[1]), aead, key, SealedChannel::Side::client);
    bulk.connect(endpoint.substr(0, endpoint.rfind(':')) + ":" + std::to_string(be((*reply)[4])));
  }
  Frames seal(const std::string& text) {
    auto f = frames_of({text});
    return channel->seal(f).value();
  }
  void send(Frames f) { (void)zmq::send_multipart(bulk, f); }
  /// The text of the next reply, opened; "" when none came or it did not open.
  std::string reply(std::chrono::milliseconds wait = 5000ms) {
    auto f = receive(bulk, wait);
    if (!f) return "";
    auto opened = channel->open(std::move(*f));
    return opened.ok() ? opened.value()[0].to_string() : "";
  }
};

#define NEED_OUTSIDE_ADDRESS(host)                                                                  \
  const std::string host = non_loopback_ipv4();                                                     \
  if (host.empty()) {                                                                               \
    MESSAGE("skipped: this host has no non-loopback IPv4 address, so no socket here speaks CURVE"); \
    return;                                                                                         \
  }

}  // namespace

TEST_CASE("io_sealed: a member gets a session over CURVE and its sealed messages are answered in order") {
  NEED_OUTSIDE_ADDRESS(host);
  TestKeys keys;
  EchoServer server(keys.ptr, host);
  REQUIRE(!server.io->bulk_endpoint().empty());
  RawMember m(keys.keys, server.io->endpoint());
  for (int i = 0; i < 50; ++i) m.send(m.seal("ping " + std::to_string(i)));
  for (int i = 0; i < 50; ++i) CHECK(m.reply() == "ping " + std::to_string(i));
  CHECK(m.channel->highest_received() == 50);
  CHECK(server.io->stats().sessions_opened.load() == 1);
  CHECK(server.rejected() == 0);
}

TEST_CASE("io_sealed: a tampered sealed message is dropped and counted; the next good one is answered") {
  NEED_OUTSIDE_ADDRESS(host);
  TestKeys keys;
  EchoServer server(keys.ptr, host);
  RawMember m(keys.keys, server.io->endpoint());
  m.send(m.seal("first"));
  CHECK(m.reply() == "first");
  Frames bad = m.seal(std::string(100000, 'x'));
  static_cast<uint8_t*>(bad[1].data())[5000] ^= 0x20;  // one bit of the ciphertext
  m.send(std::move(bad));
  // One connection's messages are handled in order: the first reply is the
  // next good message's, so the bad one was handled, dropped and counted.
  m.send(m.seal("after"));
  CHECK(m.reply() == "after");
  CHECK(server.rejected() == 1);
}

TEST_CASE("io_sealed: a replayed sealed message is dropped") {
  NEED_OUTSIDE_ADDRESS(host);
  TestKeys keys;
  EchoServer server(keys.ptr, host);
  RawMember m(keys.keys, server.io->endpoint());
  const Frames captured = m.seal("once");
  m.send(copy(captured));
  CHECK(m.reply() == "once");
  m.send(copy(captured));  // as an attacker on the wire would
  m.send(m.seal("twice"));
  CHECK(m.reply() == "twice");  // in order: the replay before it was dropped
  CHECK(server.rejected() == 1);
}

TEST_CASE("io_sealed: two sessions get different ids, and one's messages do not open in the other") {
  NEED_OUTSIDE_ADDRESS(host);
  TestKeys keys;
  EchoServer server(keys.ptr, host);
  RawMember a(keys.keys, server.io->endpoint());
  RawMember b(keys.keys, server.io->endpoint());
  CHECK(a.channel->session_id() != b.channel->session_id());
  // b's message with a's session id: a's key does not open it.
  Frames f = b.seal("b's");
  std::memcpy(f[0].data(), a.seal("x")[0].data(), 8);
  a.send(std::move(f));
  a.send(a.seal("a's"));
  CHECK(a.reply() == "a's");  // in order: b's message before it was dropped
  CHECK(server.rejected() == 1);
  CHECK(server.io->stats().sessions_opened.load() == 2);
}

TEST_CASE("io_sealed: a raw peer without keys on the bulk port gets nothing, and the server stays up") {
  NEED_OUTSIDE_ADDRESS(host);
  TestKeys keys;
  EchoServer server(keys.ptr, host);
  zmq::context_t ctx;
  zmq::socket_t raw(ctx, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(server.io->bulk_endpoint());
  Frames garbage = frames_of({"hello"});
  (void)zmq::send_multipart(raw, garbage);
  Frames unknown = frames_of({std::string(16, '\x01'), std::string(40, 'y')});  // no such session
  (void)zmq::send_multipart(raw, unknown);
  Frames empty_header = frames_of({std::string(16, '\0')});
  (void)zmq::send_multipart(raw, empty_header);
  Frames ask = frames_of({"troupe.seal.request.v1", std::string(1, '\1')});  // set-up is CURVE-only
  (void)zmq::send_multipart(raw, ask);
  REQUIRE(server.rejected_reaches(4));
  CHECK(!receive(raw, 100ms).has_value());  // all four handled: none was answered
  // The server is still there for members.
  RawMember m(keys.keys, server.io->endpoint());
  m.send(m.seal("still here"));
  CHECK(m.reply() == "still here");
}

TEST_CASE("io_sealed: troupe's own client switches to the sealed socket and keeps the order of its messages") {
  NEED_OUTSIDE_ADDRESS(host);
  TestKeys keys;
  EchoServer server(keys.ptr, host);
  auto ctx = std::make_shared<zmq::context_t>();
  auto client = std::make_shared<IoThread>(ctx, IoThread::Options{.keys = keys.ptr, .sealed = true});
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::string> replies;
  client->on_reply([&](const std::string&, Frames&& f) {
    std::lock_guard lock(mutex);
    replies.push_back(f.at(0).to_string() + "/" + std::to_string(f.size()) + "/" + std::to_string(f.back().size()));
    cv.notify_all();
  });
  client->start();
  constexpr int kMessages = 300;
  const std::string endpoint = server.io->endpoint();
  // Posted at once: most are given before the session is set up, and held.
  for (int i = 0; i < kMessages; ++i)
    client->post([&, i] {
      Frames f = frames_of({std::to_string(i), std::string(i % 3 == 0 ? 70000 : 10, 'z')});
      CHECK(client->send_to(endpoint, f));
    });
  {
    std::unique_lock lock(mutex);
    REQUIRE(cv.wait_for(lock, 10s, [&] { return replies.size() == kMessages; }));
    for (int i = 0; i < kMessages; ++i)
      CHECK(replies[i] == std::to_string(i) + "/2/" + std::to_string(i % 3 == 0 ? 70000 : 10));
  }
  CHECK(client->stats().sealed_out.load() == kMessages);
  CHECK(client->stats().sealed_in.load() == kMessages);
  CHECK(client->stats().sessions_opened.load() == 1);
  CHECK(server.io->stats().sealed_in.load() == kMessages);
  CHECK(server.rejected() == 0);
  client->stop();
  client.reset();
}

TEST_CASE("io_sealed: loopback and keyless peers keep their plain paths (no bulk socket)") {
  TestKeys keys;
  EchoServer secured(keys.ptr, "127.0.0.1");
  CHECK(secured.io->bulk_endpoint().empty());
  EchoServer open(nullptr, "127.0.0.1");
  CHECK(open.io->bulk_endpoint().empty());
}
