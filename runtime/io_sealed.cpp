// IoThread's sealed data plane between hosts (io_thread.hpp, "Sealed data
// plane"; docs/PROTOCOL.md, "Sealed messages"): the session set-up over
// CURVE, the bulk sockets, sealing what goes out and opening what comes in.
#include <sodium.h>

#include <cstdio>
#include <cstring>

#include <zmq_addon.hpp>

#include "runtime/io_thread.hpp"
#include "runtime/security.hpp"
#include "runtime/zmq_check.hpp"

namespace troupe {
namespace {

// The set-up messages travel over CURVE. Their first frame cannot begin a
// troupe message (a header is a msgpack map: first byte 0x80-0x8f, 0xde, 0xdf).
constexpr std::string_view kRequest = "troupe.seal.request.v1";
constexpr std::string_view kSession = "troupe.seal.session.v1";
constexpr uint8_t kHasAes = 1;  // request flag: the client runs AES-256-GCM

// Sessions a server keeps: the least recently used goes beyond this (a
// client reconnects with a new session; the old one is never used again).
constexpr std::size_t kMaxSessions = 65536;
// Addresses whose rejected bulk message is logged; the rest are only counted.
constexpr std::size_t kMaxLogged = 256;

bool frame_is(const zmq::message_t& f, std::string_view s) {
  return f.size() == s.size() && std::memcmp(f.data(), s.data(), s.size()) == 0;
}

void put_be(uint8_t* p, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v & 0xff);
}
uint64_t get_be(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

/// The routing id under which on_request_ sees a sealed client: a 0 byte and
/// the session id. ROUTER-made ids are 5 bytes and a peer's own may not start
/// with 0, so it never names a CURVE or PLAIN connection.
std::string session_routing(uint64_t session) {
  std::string r(9, '\0');
  put_be(reinterpret_cast<uint8_t*>(r.data()) + 1, session, 8);
  return r;
}

/// The frame that carries a key: wiped when ZeroMQ has sent it.
zmq::message_t key_frame(const SealKey& key) {
  auto* copy = new SealKey(key);
  return zmq::message_t(
      copy->data(), copy->size(),
      [](void*, void* hint) {
        auto* k = static_cast<SealKey*>(hint);
        sodium_memzero(k->data(), k->size());
        delete k;
      },
      copy);
}

std::string peer_address(Frames& frames) {
  if (frames.empty()) return "?";
  try {
    const char* a = frames.front().gets("Peer-Address");
    return a != nullptr ? a : "?";
  } catch (const zmq::error_t&) {
    return "?";
  }
}

}  // namespace

bool IoThread::is_session_message(const Frames& frames) {
  return !frames.empty() && (frame_is(frames[0], kRequest) || frame_is(frames[0], kSession));
}

bool IoThread::is_session_routing(const std::string& routing) { return routing.size() == 9 && routing[0] == '\0'; }

void IoThread::bind_bulk() {
  bulk_.socket = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::router);
  zmq::socket_t& bulk = *bulk_.socket;
  configure(bulk);
  TROUPE_ZMQ(bulk.set(zmq::sockopt::router_mandatory, 1));
  // The cap applies before any decryption: a frame is its plaintext and one
  // tag per 1 MiB chunk.
  if (options_.max_frame_bytes > 0) {
    const int64_t chunks = options_.max_frame_bytes / static_cast<int64_t>(kSealChunkBytes) + 1;
    TROUPE_ZMQ(bulk.set(zmq::sockopt::maxmsgsize,
                        options_.max_frame_bytes + chunks * static_cast<int64_t>(kSealTagBytes)));
  }
  // NULL mechanism on purpose: anyone may connect, but only a message sealed
  // with a key this server handed out over CURVE is ever opened.
  const std::string host = endpoint_.substr(0, endpoint_.rfind(':'));
  bulk.bind(host + ":*");
  bulk_endpoint_ = bulk.get(zmq::sockopt::last_endpoint);
  set_fd(bulk_);
}

void IoThread::request_session(Peer& peer) {
  Frames request;
  request.emplace_back(kRequest.data(), kRequest.size());
  const uint8_t flags = aes256gcm_available() ? kHasAes : 0;
  request.emplace_back(&flags, 1);
  peer.seal = Peer::Seal::pending;
  // The first message of this DEALER: nothing the caller sends can pass it.
  send_frames(*peer.dealer.socket, request, nullptr);
  peer.dealer.check = true;
}

void IoThread::grant_session(const std::string& routing, const Frames& request) {
  Frames reply;
  reply.emplace_back(kSession.data(), kSession.size());
  const bool valid = request.size() == 2 && frame_is(request[0], kRequest) && request[1].size() == 1;
  if (valid && bulk_) {
    if (sessions_.size() >= kMaxSessions) {
      auto oldest = sessions_.begin();
      for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
        if (it->second.last_used < oldest->second.last_used) oldest = it;
      sessions_.erase(oldest);
    }
    uint64_t id = random_session_id();
    while (sessions_.contains(id)) id = random_session_id();
    const bool client_aes = (*static_cast<const uint8_t*>(request[1].data()) & kHasAes) != 0;
    const Aead aead = choose_aead(client_aes);
    SealKey key = random_seal_key();
    sessions_[id] = Session{std::make_unique<SealedChannel>(id, aead, key, SealedChannel::Side::server), "",
                            ++session_clock_};
    zmq::message_t id_frame(8);
    put_be(static_cast<uint8_t*>(id_frame.data()), id, 8);
    reply.push_back(std::move(id_frame));
    reply.push_back(key_frame(key));
    sodium_memzero(key.data(), key.size());
    const auto a = static_cast<uint8_t>(aead);
    reply.emplace_back(&a, 1);
    const auto port = static_cast<uint16_t>(std::stoi(bulk_endpoint_.substr(bulk_endpoint_.rfind(':') + 1)));
    zmq::message_t port_frame(2);
    put_be(static_cast<uint8_t*>(port_frame.data()), port, 2);
    reply.push_back(std::move(port_frame));
    ++stats_.sessions_opened;
  }
  // A reply of the first frame alone means "no session: stay on CURVE".
  router_.check = true;
  send_frames(*router_.socket, reply, &routing);
}

void IoThread::accept_session(const std::string& endpoint, Frames&& reply) {
  auto it = peers_.find(endpoint);
  if (it == peers_.end() || it->second.seal != Peer::Seal::pending) return;  // not asked for: ignored
  Peer& peer = it->second;
  const bool granted = reply.size() == 5 && frame_is(reply[0], kSession) && reply[1].size() == 8 &&
                       reply[2].size() == kSealKeyBytes && reply[3].size() == 1 && reply[4].size() == 2;
  if (granted) {
    const uint64_t id = get_be(static_cast<const uint8_t*>(reply[1].data()), 8);
    const auto aead = static_cast<Aead>(*static_cast<const uint8_t*>(reply[3].data()));
    const auto port = get_be(static_cast<const uint8_t*>(reply[4].data()), 2);
    SealKey key;
    std::memcpy(key.data(), reply[2].data(), key.size());
    sodium_memzero(reply[2].data(), reply[2].size());
    const bool usable = aead == Aead::chacha20poly1305 || (aead == Aead::aes256gcm && aes256gcm_available());
    if (usable) {
      peer.channel = std::make_unique<SealedChannel>(id, aead, key, SealedChannel::Side::client);
      sodium_memzero(key.data(), key.size());
      // The host this DEALER reached, the bulk port beside it.
      const std::string address = endpoint.substr(0, endpoint.rfind(':')) + ":" + std::to_string(port);
      peer.bulk.socket = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::dealer);
      zmq::socket_t& bulk = *peer.bulk.socket;
      configure(bulk);
      configure_liveness(bulk);
      peer.bulk_monitor = open_monitor(bulk, address, std::to_string(peer.seq) + "-bulk");
      TROUPE_ZMQ(bulk.connect(address));
      set_fd(peer.bulk);
      rebuild_ = true;
      peer.seal = Peer::Seal::on;
      ++stats_.sessions_opened;
      // A bulk port that never answers (a firewall) fails the calls like a
      // peer that never answers, instead of leaving them waiting.
      if (options_.heartbeat.count() > 0) {
        const auto wait = options_.heartbeat * 2;
        post_after(wait, [this, endpoint, seq = peer.seq, wait, address] {
          auto p = peers_.find(endpoint);
          if (p == peers_.end() || p->second.seq != seq || p->second.bulk_up) return;
          lost_.push_back(Lost{endpoint, seq, "did not accept a connection to its bulk socket " + address + " within " +
                                                  std::to_string(wait.count()) + " ms (a firewall?)"});
          settle_peers();
        });
      }
    }
    sodium_memzero(key.data(), key.size());
  }
  if (peer.seal != Peer::Seal::on) peer.seal = Peer::Seal::off;  // stay on CURVE
  std::vector<Frames> held;
  held.swap(peer.held);
  for (auto& frames : held) {
    if (peer.seal == Peer::Seal::on)
      send_sealed(peer, frames);
    else
      send_frames(*peer.dealer.socket, frames, nullptr);
  }
}

bool IoThread::send_sealed(Peer& peer, Frames& frames) {
  auto sealed = peer.channel->seal(frames);
  if (!sealed) {
    ++stats_.send_failures;
    return false;
  }
  // As in send_to: a send may consume the notice of a reply already queued.
  peer.bulk.check = true;
  if (!send_frames(*peer.bulk.socket, sealed.value(), nullptr)) return false;
  ++stats_.sealed_out;
  return true;
}

bool IoThread::reply_sealed(const std::string& routing, Frames& frames) {
  const uint64_t id = get_be(reinterpret_cast<const uint8_t*>(routing.data()) + 1, 8);
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second.bulk_routing.empty() || !bulk_) {
    ++stats_.send_failures;
    return false;
  }
  it->second.last_used = ++session_clock_;
  auto sealed = it->second.channel->seal(frames);
  if (!sealed) {
    ++stats_.send_failures;
    return false;
  }
  bulk_.check = true;
  if (!send_frames(*bulk_.socket, sealed.value(), &it->second.bulk_routing)) return false;
  ++stats_.sealed_out;
  return true;
}

void IoThread::receive_bulk(std::string routing, Frames&& sealed) {
  const auto id = sealed_session_id(sealed);
  auto it = id ? sessions_.find(*id) : sessions_.end();
  if (it == sessions_.end()) {
    reject_sealed(peer_address(sealed), Error(Errc::malformed_message, "no such session"));
    return;
  }
  std::string who = peer_address(sealed);
  auto opened = it->second.channel->open(std::move(sealed));
  if (!opened) {
    reject_sealed(who, opened.error());
    return;
  }
  // The latest connection of the client's bulk DEALER (it may have reconnected).
  it->second.bulk_routing = std::move(routing);
  it->second.last_used = ++session_clock_;
  ++stats_.sealed_in;
  if (on_request_) on_request_(session_routing(*id), std::move(opened.value()));
}

void IoThread::receive_bulk_reply(const std::string& endpoint, Frames&& sealed) {
  auto it = peers_.find(endpoint);
  if (it == peers_.end() || !it->second.channel) return;
  auto opened = it->second.channel->open(std::move(sealed));
  if (!opened) {
    reject_sealed(endpoint, opened.error());
    return;
  }
  ++stats_.sealed_in;
  if (on_reply_) on_reply_(endpoint, std::move(opened.value()));
}

void IoThread::reject_sealed(const std::string& who, const Error& why) {
  ++stats_.sealed_rejected;
  // Once per address and bounded: a flood costs a counter, not a log.
  if (reject_logged_.size() >= kMaxLogged || !reject_logged_.insert(who).second) return;
  std::fprintf(stderr, "troupe: dropped a sealed message from %s: %s (further ones from there are only counted)\n",
               who.c_str(), why.message.c_str());
}

}  // namespace troupe
