#include "runtime/lease.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace troupe {
namespace {

constexpr std::size_t kPage = 4096;
static_assert(std::atomic<int64_t>::is_always_lock_free, "the lease page is shared between processes");

int64_t ns(Lease::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Error sys_error(const std::string& what) { return Error(Errc::io_error, what + ": " + std::strerror(errno)); }

}  // namespace

Result<Lease> Lease::create() {
  const int fd = ::memfd_create("troupe-lease", MFD_CLOEXEC);
  if (fd < 0) return sys_error("lease: memfd_create");
  if (::ftruncate(fd, kPage) != 0) {
    Error e = sys_error("lease: ftruncate");
    ::close(fd);
    return e;
  }
  void* p = ::mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    Error e = sys_error("lease: mmap");
    ::close(fd);
    return e;
  }
  Lease l;
  l.fd_ = fd;
  l.expiry_ns_ = new (p) std::atomic<int64_t>(0);  // a fresh page is zero: not held
  l.writable_ = true;
  return l;
}

Result<Lease> Lease::attach(int fd) {
  void* p = ::mmap(nullptr, kPage, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return sys_error("lease: mapping descriptor " + std::to_string(fd));
  Lease l;
  l.fd_ = fd;
  l.expiry_ns_ = static_cast<std::atomic<int64_t>*>(p);
  return l;
}

Lease::Lease(Lease&& other) noexcept { *this = std::move(other); }

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this == &other) return *this;
  unmap();
  fd_ = std::exchange(other.fd_, -1);
  expiry_ns_ = std::exchange(other.expiry_ns_, nullptr);
  writable_ = other.writable_;
  return *this;
}

Lease::~Lease() { unmap(); }

void Lease::unmap() {
  if (expiry_ns_ != nullptr) ::munmap(static_cast<void*>(expiry_ns_), kPage);
  if (fd_ >= 0) ::close(fd_);
  expiry_ns_ = nullptr;
  fd_ = -1;
}

void Lease::renew(Clock::time_point until) {
  if (expiry_ns_ == nullptr || !writable_) return;
  const int64_t t = ns(until);
  int64_t cur = expiry_ns_->load(std::memory_order_relaxed);
  while (cur < t && !expiry_ns_->compare_exchange_weak(cur, t, std::memory_order_release)) {
  }
}

void Lease::revoke() {
  if (expiry_ns_ != nullptr && writable_) expiry_ns_->store(0, std::memory_order_release);
}

bool Lease::held() const {
  return expiry_ns_ == nullptr || ns(Clock::now()) < expiry_ns_->load(std::memory_order_acquire);
}

std::optional<Error> Lease::refusal() const {
  if (held()) return std::nullopt;
  return Error(Errc::unavailable,
               "this actor's serving lease has expired: its host has not reached the scheduler for longer than the "
               "lease, so the cluster may be restarting it elsewhere; it serves again only if its worker renews the "
               "lease");
}

bool connect_refused(const std::string& endpoint, std::chrono::milliseconds timeout) {
  // "tcp://host:port", host maybe in brackets (IPv6).
  const std::string prefix = "tcp://";
  if (endpoint.rfind(prefix, 0) != 0) return false;
  std::string rest = endpoint.substr(prefix.size());
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos) return false;
  std::string host = rest.substr(0, colon), port = rest.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) return false;
  bool refused = false;
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
    if (rc != 0 && errno == ECONNREFUSED) {
      refused = true;
    } else if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0) refused = err == ECONNREFUSED;
      }
    }
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return refused;
}

}  // namespace troupe
