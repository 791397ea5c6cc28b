#include "runtime/zap.hpp"

#include <sodium.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cstdio>

#include <zmq_addon.hpp>

#include "runtime/zmq_check.hpp"

namespace troupe {
namespace {

constexpr std::size_t kMaxLogged = 256;

/// Constant-time comparison (libsodium), so the time a refusal takes says
/// nothing about how much of a guess was right.
bool same(const zmq::message_t& m, const void* data, std::size_t size) {
  return m.size() == size && sodium_memcmp(m.data(), data, size) == 0;
}

}  // namespace

ZapHandler::ZapHandler(zmq::context_t& context, KeysPtr keys) : keys_(std::move(keys)) {
  if (keys_) password_ = keys_->plain_password();
  stop_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stop_fd_ < 0) throw Exception(Error(Errc::io_error, "eventfd failed"));
  socket_ = std::make_unique<zmq::socket_t>(context, zmq::socket_type::rep);
  TROUPE_ZMQ(socket_->set(zmq::sockopt::linger, 0));
  try {
    socket_->bind("inproc://zeromq.zap.01");
  } catch (const zmq::error_t& e) {
    socket_.reset();
    close(stop_fd_);
    throw Exception(Error(Errc::io_error, std::string("cannot bind the ZAP handler: ") + e.what()));
  }
  thread_ = std::thread([this] { run(); });
}

ZapHandler::~ZapHandler() {
  eventfd_write(stop_fd_, 1);
  if (thread_.joinable()) thread_.join();
  socket_.reset();
  close(stop_fd_);
}

bool ZapHandler::admit(const std::vector<zmq::message_t>& req, std::string& why) {
  // version, request id, domain, address, routing id, mechanism, credentials...
  if (req.size() < 6 || req[0].to_string_view() != "1.0") {
    why = "malformed ZAP request";
    return false;
  }
  const auto mechanism = req[5].to_string_view();
  if (!keys_) {
    why = "no cluster keys here";
    return false;
  }
  if (mechanism == "CURVE") {
    std::array<uint8_t, 32> cluster{};
    zmq_z85_decode(cluster.data(), keys_->public_key.c_str());
    if (req.size() == 7 && same(req[6], cluster.data(), cluster.size())) return true;
    why = "CURVE with a key that is not the cluster's";
    return false;
  }
  if (mechanism == "PLAIN") {
    if (req.size() == 8 && same(req[7], password_.data(), password_.size())) return true;
    why = "PLAIN with a wrong password (not derived from the cluster's key)";
    return false;
  }
  why = "mechanism " + std::string(mechanism) + " is not allowed";
  return false;
}

void ZapHandler::run() {
  for (;;) {
    std::array<zmq::pollitem_t, 2> items{zmq::pollitem_t{socket_->handle(), 0, ZMQ_POLLIN, 0},
                                         zmq::pollitem_t{nullptr, stop_fd_, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(-1));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return;  // the context is terminating
    }
    if (items[1].revents != 0) return;
    if (items[0].revents == 0) continue;
    std::vector<zmq::message_t> req;
    try {
      if (!zmq::recv_multipart(*socket_, std::back_inserter(req), zmq::recv_flags::dontwait)) continue;
    } catch (const zmq::error_t&) {
      return;
    }
    std::string why;
    const bool ok = admit(req, why);
    if (ok) {
      ++admitted_;
    } else {
      ++refused_;
      const std::string address = req.size() > 3 ? req[3].to_string() : "?";
      if (logged_.size() < kMaxLogged && logged_.insert(address).second)
        std::fprintf(stderr, "troupe: refused a connection from %s: %s (logged once per address)\n", address.c_str(),
                     why.c_str());
    }
    const std::string request_id = req.size() > 1 ? req[1].to_string() : "";
    std::array<zmq::const_buffer, 6> reply{zmq::str_buffer("1.0"), zmq::buffer(request_id),
                                          ok ? zmq::str_buffer("200") : zmq::str_buffer("400"),
                                          ok ? zmq::const_buffer("OK", 2) : zmq::const_buffer(why.data(), why.size()),
                                          zmq::str_buffer(""), zmq::str_buffer("")};
    try {
      zmq::send_multipart(*socket_, reply);
    } catch (const zmq::error_t&) {
      return;
    }
  }
}

}  // namespace troupe
