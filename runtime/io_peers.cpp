// IoThread's outbound peers: one DEALER per endpoint, its heartbeats, and the
// monitor that tells when its connection is up or gone (io_thread.hpp, "Liveness").
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>

#include <zmq_addon.hpp>

#include "runtime/io_thread.hpp"
#include "runtime/security.hpp"
#include "runtime/zmq_check.hpp"

namespace troupe {
namespace {

constexpr int kMaxEvents = 64;  // monitor events read per wake, for fairness
constexpr int kPeerEvents = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                             ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;

bool in_process(const std::string& endpoint) { return endpoint.rfind("inproc://", 0) == 0; }

}  // namespace

void IoThread::configure_liveness(zmq::socket_t& s) const {
  const auto h = static_cast<int>(options_.heartbeat.count());
  if (h <= 0) return;
  // A PING every h/2 and at most 3h/2 for an answer: a silent peer is dropped
  // within 2h of its last message, while an answer may still take 3h/2 (a
  // loaded machine, a large frame in the way) before a live peer is dropped.
  // libzmq answers PINGs on its own thread, whatever the application does.
  TROUPE_ZMQ(s.set(zmq::sockopt::heartbeat_ivl, std::max(1, h / 2)));
  TROUPE_ZMQ(s.set(zmq::sockopt::heartbeat_timeout, std::max(1, h * 3 / 2)));
}

IoThread::Inbound IoThread::open_monitor(zmq::socket_t& s, const std::string& endpoint, const std::string& name) {
  const std::string address = "inproc://troupe-peer-" + std::to_string(reinterpret_cast<uintptr_t>(this)) + "-" + name;
  if (zmq_socket_monitor(s.handle(), address.c_str(), kPeerEvents) != 0)
    throw Exception(Error(Errc::io_error, "zmq_socket_monitor(" + endpoint + ") failed: " + zmq_strerror(zmq_errno())));
  Inbound monitor;
  monitor.socket = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::pair);
  TROUPE_ZMQ(monitor.socket->set(zmq::sockopt::linger, 0));
  TROUPE_ZMQ(monitor.socket->connect(address));
  set_fd(monitor);
  return monitor;
}

IoThread::Peer& IoThread::open_peer(const std::string& endpoint) {
  Peer peer;
  peer.seq = ++peer_seq_;
  peer.dealer.socket = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::dealer);
  zmq::socket_t& dealer = *peer.dealer.socket;
  configure(dealer);
  secure_client(dealer, options_.keys, endpoint);
  if (in_process(endpoint)) {
    // Same process: the peer cannot die on its own, and inproc reports no handshakes.
    peer.up = true;
  } else {
    configure_liveness(dealer);
    // The monitor is connected before the DEALER so that no event is missed.
    peer.monitor = open_monitor(dealer, endpoint, std::to_string(peer.seq));
  }
  TROUPE_ZMQ(dealer.connect(endpoint));
  set_fd(peer.dealer);
  // Between hosts the first message asks for a data-plane session; what the
  // caller sends meanwhile is held until the answer (io_sealed.cpp).
  if (options_.sealed && mechanism_for(options_.keys, endpoint) == Mechanism::curve) request_session(peer);
  rebuild_ = true;
  return peers_.insert_or_assign(endpoint, std::move(peer)).first->second;
}

bool IoThread::send_to(const std::string& endpoint, Frames& frames) {
  auto it = peers_.find(endpoint);
  Peer& peer = it != peers_.end() ? it->second : open_peer(endpoint);
  // Only while not connected (a new DEALER, or one whose peer is restarting):
  // an established connection costs nothing here.
  if (!peer.up && !peer.deadline_armed) arm_connect_deadline(peer, endpoint);
  // A send may process the socket's pending commands and with them the
  // notification of a reply already queued: look at the socket before sleeping.
  peer.dealer.check = true;
  switch (peer.seal) {
    case Peer::Seal::off: break;
    case Peer::Seal::pending:
      // In order behind the session's answer; the connect deadline bounds the wait.
      peer.held.push_back(std::move(frames));
      frames.clear();
      return true;
    case Peer::Seal::on: return send_sealed(peer, frames);
  }
  return send_frames(*peer.dealer.socket, frames, nullptr);
}

void IoThread::arm_connect_deadline(Peer& peer, const std::string& endpoint) {
  if (options_.heartbeat.count() <= 0) return;
  peer.deadline_armed = true;
  const auto wait = options_.heartbeat * 2;
  post_after(wait, [this, endpoint, seq = peer.seq, wait] {
    auto it = peers_.find(endpoint);
    if (it == peers_.end() || it->second.seq != seq) return;
    it->second.deadline_armed = false;
    if (it->second.up) return;
    // Timers run at a safe point of the loop: close and tell now.
    lost_.push_back(Lost{endpoint, seq, "did not accept a connection within " + std::to_string(wait.count()) + " ms"});
    settle_peers();
  });
}

void IoThread::receive_monitor(Peer& peer, const std::string& endpoint, bool bulk) {
  // The bulk DEALER's connection (io_sealed.cpp) is watched like the CURVE
  // one: when either is gone, so is the conversation.
  Inbound& monitor = bulk ? peer.bulk_monitor : peer.monitor;
  bool& up = bulk ? peer.bulk_up : peer.up;
  const char* which = bulk ? " (bulk socket)" : "";
  for (int n = 0; n < kMaxEvents; ++n) {
    Frames frames;
    std::optional<std::size_t> got;
    monitor.check = false;
    try {
      got = zmq::recv_multipart(*monitor.socket, std::back_inserter(frames), zmq::recv_flags::dontwait);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) monitor.check = true;
      return;
    }
    if (!got) return;
    // Frame 0: a 16-bit event number and a 32-bit value, in host order.
    if (frames.empty() || frames[0].size() < sizeof(uint16_t)) continue;
    uint16_t event = 0;
    std::memcpy(&event, frames[0].data(), sizeof event);
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      up = true;
    } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
      // The peer's ZAP handler refused us: retrying cannot help, so fail the
      // calls now rather than at the connect deadline.
      up = false;
      lost_.push_back(Lost{endpoint, peer.seq, std::string("refused our credentials (") +
                                                   mechanism_name(mechanism_for(options_.keys, endpoint)) +
                                                   "): this process does not hold the cluster's key"});
    } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
      // A CURVE server that cannot open our HELLO (another cluster's key), or
      // a peer of another mechanism (bound on 0.0.0.0, reached by 127.0.0.1).
      up = false;
      lost_.push_back(Lost{endpoint, peer.seq, std::string("failed the security handshake (") +
                                                   mechanism_name(mechanism_for(options_.keys, endpoint)) +
                                                   "): another cluster's key, or the peer speaks another mechanism "
                                                   "(docs/SECURITY.md)"});
    } else if (event == ZMQ_EVENT_DISCONNECTED && up) {
      // Whatever was sent on the old connection cannot be answered on a new
      // one (the peer's ROUTER knows it by another routing id, or it is
      // another process). A connection that never came up is the connect
      // deadline's business.
      up = false;
      lost_.push_back(Lost{endpoint, peer.seq, std::string("closed its connection") + which +
                                                   " (the process is gone, or it missed heartbeats for " +
                                                   std::to_string(options_.heartbeat.count() * 3 / 2) + " ms)"});
    }
  }
  monitor.check = true;  // the batch limit: more may be queued
}

void IoThread::settle_peers() {
  for (auto& ep : dropped_) peers_.erase(ep);
  if (!dropped_.empty()) rebuild_ = true;
  dropped_.clear();
  if (lost_.empty()) return;
  std::vector<Lost> lost;
  lost.swap(lost_);
  for (auto& l : lost) {
    auto it = peers_.find(l.endpoint);
    if (it == peers_.end() || it->second.seq != l.seq) continue;  // already dropped, or a newer DEALER
    // Closed first, with what it queued (linger 0): a call the handler fails
    // is never sent later, and a call made from the handler opens a new DEALER.
    peers_.erase(it);
    rebuild_ = true;
    if (on_peer_lost_) on_peer_lost_(l.endpoint, l.why);
  }
}

}  // namespace troupe
