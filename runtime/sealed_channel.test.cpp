// A data-plane session's two ends without sockets (sealed_channel.hpp):
// nonces never repeat, a changed byte or a replayed message never opens, and
// the session survives both.
#include <doctest/doctest.h>
#include <sodium.h>

#include <cstring>
#include <set>
#include <string>

#include "runtime/frames.test.hpp"
#include "runtime/sealed_channel.hpp"

using troupe::Aead;
using troupe::Frames;
using troupe::SealedChannel;

using troupe::testing::copy;
using troupe::testing::frames_of;

namespace {

std::vector<Aead> aeads() {
  std::vector<Aead> a{Aead::chacha20poly1305};
  if (troupe::aes256gcm_available()) a.push_back(Aead::aes256gcm);
  return a;
}

/// A client and a server end of one session.
struct Pair {
  troupe::SealKey key = troupe::random_seal_key();
  uint64_t id = troupe::random_session_id();
  SealedChannel client;
  SealedChannel server;
  explicit Pair(Aead a) : client(id, a, key, SealedChannel::Side::client), server(id, a, key, SealedChannel::Side::server) {}
};

uint64_t counter_of(const Frames& sealed) {
  uint64_t v = 0;
  for (int i = 8; i < 16; ++i) v = (v << 8) | static_cast<const uint8_t*>(sealed[0].data())[i];
  return v;
}

}  // namespace

TEST_CASE("sealed: frames come back as they were, small and large, with either AEAD") {
  for (Aead a : aeads()) {
    CAPTURE(troupe::aead_name(a));
    Pair p(a);
    std::string big(1 << 20, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
    // Over the two-thread size, in 10 chunks, the last one short.
    std::string huge((std::size_t{9} << 20) + 7, '\0');
    for (std::size_t i = 0; i < huge.size(); ++i) huge[i] = static_cast<char>(i * 13 + (i >> 20));
    auto f = frames_of({"header", "", big, huge});
    auto sealed = p.client.seal(f);
    REQUIRE(sealed.ok());
    CHECK(f.empty());
    CHECK(sealed.value().size() == 5);
    CHECK(sealed.value()[0].size() == troupe::kSealHeaderBytes + 4 * 4);
    CHECK(sealed.value()[3].size() == big.size() + troupe::kSealTagBytes);       // one chunk
    CHECK(sealed.value()[4].size() == huge.size() + 10 * troupe::kSealTagBytes);  // ten
    // The ciphertext is not the plaintext.
    CHECK(std::memcmp(static_cast<char*>(sealed.value()[3].data()) + 16, big.data(), 64) != 0);
    auto opened = p.server.open(std::move(sealed.value()));
    REQUIRE(opened.ok());
    REQUIRE(opened.value().size() == 4);
    CHECK(opened.value()[0].to_string() == "header");
    CHECK(opened.value()[1].size() == 0);
    CHECK(opened.value()[2].to_string() == big);
    CHECK(opened.value()[3].to_string() == huge);
    // And the other way.
    auto back = frames_of({"reply"});
    auto r = p.server.open(p.client.seal(back).value());  // the server cannot open its own direction's
    CHECK(r.ok());
    auto reply = frames_of({"reply"});
    auto got = p.client.open(p.server.seal(reply).value());
    REQUIRE(got.ok());
    CHECK(got.value()[0].to_string() == "reply");
  }
}

TEST_CASE("sealed: AES-256-GCM frames are standard: libsodium opens what troupe sealed, by the documented nonce") {
  if (!troupe::aes256gcm_available()) {
    MESSAGE("skipped: no AES-NI on this CPU (sessions use ChaCha20-Poly1305 here)");
    return;
  }
  Pair p(Aead::aes256gcm);
  auto f = frames_of({"first frame", "second frame"});
  auto sealed = p.client.seal(f).value();
  // docs/PROTOCOL.md: nonce = direction | frame (2) | chunk (2) | counter (7);
  // associated data = the header: id | counter | chunks per frame (4 each).
  unsigned char header[24] = {};
  for (int i = 0; i < 8; ++i) header[i] = static_cast<unsigned char>(p.id >> (56 - 8 * i));
  header[15] = 1;
  header[19] = 1;
  header[23] = 1;
  REQUIRE(sealed[0].size() == sizeof header);
  CHECK(std::memcmp(sealed[0].data(), header, sizeof header) == 0);
  for (unsigned frame = 0; frame < 2; ++frame) {
    unsigned char nonce[12] = {0, 0, static_cast<unsigned char>(frame), 0, 0, 0, 0, 0, 0, 0, 0, 1};
    auto& s = sealed[1 + frame];
    std::string plain(s.size() - 16, '\0');
    const auto* tag = static_cast<const unsigned char*>(s.data());
    REQUIRE(crypto_aead_aes256gcm_decrypt_detached(reinterpret_cast<unsigned char*>(plain.data()), nullptr, tag + 16,
                                                   plain.size(), tag, header, sizeof header, nonce, p.key.data()) == 0);
    CHECK(plain == (frame == 0 ? "first frame" : "second frame"));
  }
}

TEST_CASE("sealed: nonces never repeat, across many messages and both directions") {
  for (Aead a : aeads()) {
    CAPTURE(troupe::aead_name(a));
    Pair p(a);
    // Under one key, a repeated nonce would seal the same plaintext to the
    // same bytes: every sealed copy of one plaintext must differ.
    std::set<std::string> ciphertexts;
    std::set<std::pair<int, uint64_t>> counters;
    constexpr int kMessages = 2000;
    for (int i = 0; i < kMessages; ++i) {
      for (SealedChannel* end : {&p.client, &p.server}) {
        auto f = frames_of({"same plaintext, 32 bytes long...", "same plaintext, 32 bytes long..."});
        auto sealed = end->seal(f).value();
        const int dir = end == &p.client ? 0 : 1;
        CHECK(counters.insert({dir, counter_of(sealed)}).second);
        for (std::size_t k = 1; k < sealed.size(); ++k) CHECK(ciphertexts.insert(sealed[k].to_string()).second);
      }
    }
    CHECK(ciphertexts.size() == 4 * kMessages);
    CHECK(p.client.sent() == kMessages);
    CHECK(p.server.sent() == kMessages);
    // The direction is part of the nonce: a client's message never opens as
    // if the server had sent it (another client end with the same key).
    SealedChannel other_client(p.id, a, p.key, SealedChannel::Side::client);
    auto f = frames_of({"x"});
    auto r = other_client.open(p.client.seal(f).value());
    CHECK(!r.ok());
  }
}

TEST_CASE("sealed: two sessions get different ids and keys, and one cannot open the other's messages") {
  std::set<std::string> keys;
  std::set<uint64_t> ids;
  for (int i = 0; i < 1000; ++i) {
    auto k = troupe::random_seal_key();
    keys.insert(std::string(k.begin(), k.end()));
    ids.insert(troupe::random_session_id());
  }
  CHECK(keys.size() == 1000);
  CHECK(ids.size() == 1000);
  Pair a(Aead::chacha20poly1305);
  Pair b(Aead::chacha20poly1305);
  CHECK(a.key != b.key);
  auto f = frames_of({"for a only"});
  auto sealed = a.client.seal(f).value();
  CHECK(!b.server.open(copy(sealed)).ok());
  // Even under b's session id, a's key does not open with b's.
  std::memcpy(sealed[0].data(), b.client.seal(f = frames_of({"x"})).value()[0].data(), 8);
  CHECK(!b.server.open(std::move(sealed)).ok());
}

TEST_CASE("sealed: a changed byte anywhere is refused and the session keeps working") {
  for (Aead a : aeads()) {
    CAPTURE(troupe::aead_name(a));
    Pair p(a);
    auto f = frames_of({"header", std::string(10000, 'x')});
    const Frames good = p.client.seal(f).value();
    // Every kind of change: ciphertext, tag, counter, a frame dropped, added, swapped.
    std::vector<Frames> bad;
    for (std::size_t frame : {1, 2}) {
      for (std::size_t at : {std::size_t{0}, std::size_t{15}, std::size_t{16}, good[frame].size() - 1}) {
        Frames t = copy(good);
        static_cast<uint8_t*>(t[frame].data())[at] ^= 0x01;
        bad.push_back(std::move(t));
      }
    }
    {
      Frames t = copy(good);
      static_cast<uint8_t*>(t[0].data())[15] ^= 0x01;  // another counter: another nonce
      bad.push_back(std::move(t));
    }
    {
      Frames t = copy(good);
      t.pop_back();  // truncated
      bad.push_back(std::move(t));
    }
    {
      Frames t = copy(good);
      static_cast<uint8_t*>(t[0].data())[19] = 2;  // the layout: frame 0 in two chunks
      bad.push_back(std::move(t));
    }
    {
      Frames t = copy(good);
      t.emplace_back(std::string(16, '\0').data(), 16);  // a frame added
      bad.push_back(std::move(t));
    }
    {
      Frames t = copy(good);
      std::swap(t[1], t[2]);  // reordered
      bad.push_back(std::move(t));
    }
    for (auto& t : bad) {
      auto r = p.server.open(std::move(t));
      REQUIRE(!r.ok());
      CHECK(r.error().code == troupe::Errc::malformed_message);
      CHECK(p.server.highest_received() == 0);
    }
    // The untouched message still opens: nothing above changed the session.
    auto r = p.server.open(copy(good));
    REQUIRE(r.ok());
    CHECK(r.value()[1].to_string() == std::string(10000, 'x'));
    CHECK(p.server.highest_received() == 1);
  }
}

TEST_CASE("sealed: chunks of a large frame cannot be swapped, dropped or moved") {
  for (Aead a : aeads()) {
    CAPTURE(troupe::aead_name(a));
    Pair p(a);
    std::string big((std::size_t{5} << 20) + 3, 'q');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i >> 12);
    auto f = frames_of({big});
    const Frames good = p.client.seal(f).value();
    REQUIRE(good[1].size() == big.size() + 6 * 16);
    {
      // Chunks 1 and 2 swapped, their tags too: each tag still covers its own bytes, under the wrong nonce.
      Frames t = copy(good);
      auto* b = static_cast<char*>(t[1].data());
      const std::size_t data = 6 * 16, mib = std::size_t{1} << 20;
      std::string chunk1(b + data + mib, mib), tag1(b + 16, 16);
      std::memcpy(b + data + mib, b + data + 2 * mib, mib);
      std::memcpy(b + data + 2 * mib, chunk1.data(), mib);
      std::memcpy(b + 16, b + 32, 16);
      std::memcpy(b + 32, tag1.data(), 16);
      CHECK(!p.server.open(std::move(t)).ok());
    }
    {
      // The last chunk and its tag dropped, the layout told: still refused.
      Frames t = copy(good);
      zmq::message_t shorter(big.size() - 3 + 5 * 16);
      auto* from = static_cast<char*>(t[1].data());
      std::memcpy(shorter.data(), from, 5 * 16);
      std::memcpy(static_cast<char*>(shorter.data()) + 5 * 16, from + 6 * 16, big.size() - 3);
      t[1] = std::move(shorter);
      static_cast<uint8_t*>(t[0].data())[19] = 5;
      CHECK(!p.server.open(std::move(t)).ok());
    }
    auto r = p.server.open(copy(good));
    REQUIRE(r.ok());
    CHECK(r.value()[0].to_string() == big);
  }
}

TEST_CASE("sealed: a replayed message is refused, the next new one opens") {
  Pair p(Aead::chacha20poly1305);
  auto f1 = frames_of({"one"});
  auto f2 = frames_of({"two"});
  const Frames first = p.client.seal(f1).value();
  const Frames second = p.client.seal(f2).value();
  REQUIRE(p.server.open(copy(first)).ok());
  auto again = p.server.open(copy(first));
  REQUIRE(!again.ok());
  CHECK(again.error().message.rfind("replayed", 0) == 0);
  REQUIRE(p.server.open(copy(second)).ok());
  // Older than the highest accepted: refused too (one connection keeps order).
  CHECK(!p.server.open(copy(first)).ok());
  CHECK(!p.server.open(copy(second)).ok());
  auto f3 = frames_of({"three"});
  auto third = p.server.open(p.client.seal(f3).value());
  REQUIRE(third.ok());
  CHECK(third.value()[0].to_string() == "three");
}

TEST_CASE("sealed: what is not a sealed message of the session is refused") {
  Pair p(Aead::chacha20poly1305);
  CHECK(!p.server.open(Frames{}).ok());
  CHECK(!p.server.open(frames_of({"short"})).ok());
  CHECK(!p.server.open(frames_of({std::string(16, '\0'), "frame"})).ok());
  auto f = frames_of({"x"});
  auto sealed = p.client.seal(f).value();
  sealed.resize(1);  // the header alone
  CHECK(!p.server.open(std::move(sealed)).ok());
  auto tiny = p.client.seal(f = frames_of({"x"})).value();
  tiny[1] = zmq::message_t(std::string(5, 'a').data(), 5);  // shorter than a tag
  CHECK(!p.server.open(std::move(tiny)).ok());
  Frames none;
  CHECK(p.client.seal(none).error().code == troupe::Errc::message_too_large);
}
