#include "runtime/io_thread.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <zmq_addon.hpp>

#include "runtime/security.hpp"
#include "runtime/zmq_check.hpp"

namespace troupe {
namespace {

enum SocketKind { kRouter = 0, kDealer = 1, kSub = 2, kBulkRouter = 3, kBulkDealer = 4 };
constexpr int kMaxBatch = 512;  // messages drained from one socket per wake, for fairness

bool later(const auto& a, const auto& b) { return a.due != b.due ? a.due > b.due : a.seq > b.seq; }

}  // namespace

void IoThread::configure(zmq::socket_t& s) const {
  const Options& o = options_;
  TROUPE_ZMQ(s.set(zmq::sockopt::linger, 0));
  TROUPE_ZMQ(s.set(zmq::sockopt::sndhwm, o.send_hwm));
  TROUPE_ZMQ(s.set(zmq::sockopt::rcvhwm, o.recv_hwm));
}

IoThread::IoThread(std::shared_ptr<zmq::context_t> context, Options options)
    : context_(std::move(context)), options_(std::move(options)) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw Exception(Error(Errc::io_error, "eventfd failed"));
  try {
    // The handler first: libzmq admits everyone to a server socket whose
    // context has none.
    if (options_.keys && !(options_.bind.empty() && options_.publish_bind.empty()))
      zap_ = std::make_unique<ZapHandler>(*context_, options_.keys);
    if (!options_.bind.empty()) {
      router_.socket = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::router);
      zmq::socket_t& router = *router_.socket;
      configure(router);
      // Replies to a vanished caller fail loudly (EHOSTUNREACH) instead of silently.
      TROUPE_ZMQ(router.set(zmq::sockopt::router_mandatory, 1));
      if (options_.max_frame_bytes > 0) TROUPE_ZMQ(router.set(zmq::sockopt::maxmsgsize, options_.max_frame_bytes));
      secure_server(router, options_.keys, options_.bind);
      router.bind(options_.bind);
      endpoint_ = router.get(zmq::sockopt::last_endpoint);
      set_fd(router_);
      if (mechanism_for(options_.keys, options_.bind) == Mechanism::curve) bind_bulk();
    }
    if (!options_.publish_bind.empty()) {
      pub_ = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::pub);
      configure(*pub_);
      secure_server(*pub_, options_.keys, options_.publish_bind);
      pub_->bind(options_.publish_bind);
      publish_endpoint_ = pub_->get(zmq::sockopt::last_endpoint);
    }
  } catch (const Exception&) {
    bulk_.socket.reset();
    router_.socket.reset();
    pub_.reset();
    zap_.reset();
    close(wake_fd_);
    throw;
  } catch (const zmq::error_t& e) {
    bulk_.socket.reset();
    router_.socket.reset();
    pub_.reset();
    zap_.reset();
    close(wake_fd_);
    throw Exception(Error(Errc::io_error, "cannot bind " + options_.bind + " / " + options_.publish_bind + ": " + e.what()));
  }
}

IoThread::~IoThread() {
  stop();
  // Sockets must close before the context; unique_ptrs go in member order, so be explicit.
  peers_.clear();
  sub_.socket.reset();
  pub_.reset();
  bulk_.socket.reset();
  router_.socket.reset();
  zap_.reset();
  sessions_.clear();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void IoThread::start() {
  thread_ = std::thread([this] { run(); });
  started_.store(true);
}

void IoThread::stop() {
  const bool self = std::this_thread::get_id() == thread_.get_id();
  if (stopping_.exchange(true)) {
    if (thread_.joinable() && !self) thread_.join();
    return;
  }
  wake();
  {
    // Threads polling the sockets in drive() let go of them.
    std::lock_guard lock(drivers_mutex_);
    for (int fd : driver_fds_) eventfd_write(fd, 1);
  }
  if (thread_.joinable() && !self) thread_.join();
}

bool IoThread::enter() {
  if (!started_.load() || stopping_.load()) return false;
  if (!own_.try_lock()) return false;
  // Posted work goes first (a caller's earlier calls are sent before its
  // later ones); after stop() the sockets are about to close.
  if (!posted_.empty() || stopping_.load()) {
    own_.unlock();
    return false;
  }
  current_ = this;
  return true;
}

void IoThread::leave(const IoThread* outer) {
  // The I/O thread sleeps on the poll set and timeout it computed before
  // letting go: wake it when those changed or input waits that its
  // descriptors may no longer announce.
  bool wake_io = rebuild_ || !dropped_.empty() || !lost_.empty() || !posted_.empty() ||
                 (!timers_.empty() && timers_.front().due < sleep_due_);
  auto look = [&](Inbound& in) {
    if (!in || !in.check) return;
    try {
      // ZMQ_EVENTS processes the commands a send left, so unless input is
      // there the descriptor announces the next message.
      if ((in.socket->get(zmq::sockopt::events) & ZMQ_POLLIN) != 0) {
        wake_io = true;
        return;
      }
    } catch (const zmq::error_t&) {
      wake_io = true;
      return;
    }
    in.check = false;
  };
  look(router_);
  look(bulk_);
  look(sub_);
  for (auto& [ep, peer] : peers_) {
    look(peer.dealer);
    look(peer.monitor);
    look(peer.bulk);
    look(peer.bulk_monitor);
  }
  current_ = outer;
  own_.unlock();
  if (wake_io) wake();
}

void IoThread::wake() {
  // Under load many posts land between two polls: one eventfd write wakes the
  // thread for all of them, so skip the syscall while a wake is pending.
  if (wake_pending_.exchange(true)) return;
  uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the thread will wake anyway.
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

void IoThread::post(std::function<void()> fn) {
  posted_.push(std::move(fn));
  wake();
}

void IoThread::post_after(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto due = std::chrono::steady_clock::now() + delay;
  auto add = [this, due, fn = std::move(fn)]() mutable {
    timers_.push_back(Timer{due, timer_seq_++, std::move(fn)});
    std::push_heap(timers_.begin(), timers_.end(), [](const Timer& a, const Timer& b) { return later(a, b); });
  };
  // The timer heap belongs to the I/O thread: no lock on it.
  if (in_io_thread())
    add();
  else
    post(std::move(add));
}

void IoThread::drain_posted() {
  posted_.drain([](std::function<void()>& fn) {
    try {
      fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "troupe: task on the I/O thread failed: %s\n", e.what());
    }
  });
}

int IoThread::run_due_timers() {
  for (;;) {
    if (timers_.empty()) return -1;
    auto now = std::chrono::steady_clock::now();
    if (timers_.front().due > now) {
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(timers_.front().due - now).count();
      return static_cast<int>(std::max<int64_t>(ms, 1));
    }
    std::pop_heap(timers_.begin(), timers_.end(), [](const Timer& a, const Timer& b) { return later(a, b); });
    auto fn = std::move(timers_.back().fn);
    timers_.pop_back();
    fn();
  }
}

void IoThread::set_fd(Inbound& in) {
  in.fd = in.socket->get(zmq::sockopt::fd);
  // Whatever the socket did while being set up may already have consumed an
  // edge of its descriptor.
  in.check = true;
}

bool IoThread::send_frames(zmq::socket_t& s, Frames& frames, const std::string* routing) {
  try {
    std::size_t bytes = 0;
    if (routing != nullptr) {
      if (!s.send(zmq::buffer(*routing), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
        ++stats_.send_failures;
        return false;
      }
    }
    for (std::size_t i = 0; i < frames.size(); ++i) {
      bytes += frames[i].size();
      auto flags = zmq::send_flags::dontwait;
      if (i + 1 < frames.size()) flags = flags | zmq::send_flags::sndmore;
      // Only the first frame can hit the high-water mark: later parts of a
      // multipart message are always accepted once the first is.
      if (!s.send(frames[i], flags)) {
        ++stats_.send_failures;
        return false;
      }
    }
    ++stats_.messages_out;
    stats_.bytes_out += bytes;
    return true;
  } catch (const zmq::error_t& e) {
    // EHOSTUNREACH: the routing id is gone (caller died); not fatal for us.
    ++stats_.send_failures;
    return false;
  }
}

bool IoThread::reply_to(const std::string& routing, Frames& frames) {
  if (!router_) return false;
  if (is_session_routing(routing)) return reply_sealed(routing, frames);
  router_.check = true;  // as in send_to
  return send_frames(*router_.socket, frames, &routing);
}

bool IoThread::publish(Frames& frames) {
  if (!pub_) return false;
  return send_frames(*pub_, frames, nullptr);
}

void IoThread::subscribe(const std::string& endpoint) {
  if (!sub_) {
    sub_.socket = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::sub);
    configure(*sub_.socket);
    // A publisher that froze or lost its host is dropped and reconnected to
    // (the SUB resubscribes on every new connection).
    configure_liveness(*sub_.socket);
    // One mechanism per socket: the SUB follows one publisher, the scheduler.
    secure_client(*sub_.socket, options_.keys, endpoint);
    TROUPE_ZMQ(sub_.socket->set(zmq::sockopt::subscribe, ""));
    set_fd(sub_);
    rebuild_ = true;
  }
  TROUPE_ZMQ(sub_.socket->connect(endpoint));
  sub_.check = true;
}

void IoThread::drop_peer(const std::string& endpoint) {
  // Deferred: a receive loop may be reading from this very socket right now.
  dropped_.push_back(endpoint);
}

void IoThread::watch_fd(int fd, std::function<void()> fn) {
  fds_[fd] = std::move(fn);
  rebuild_ = true;
}
void IoThread::unwatch_fd(int fd) {
  fds_.erase(fd);
  rebuild_ = true;
}

void IoThread::receive_all(Inbound& in, int kind, const std::string& endpoint) {
  zmq::socket_t& s = *in.socket;
  for (int n = 0; n < kMaxBatch; ++n) {
    Frames frames;
    std::optional<std::size_t> got;
    // Cleared before each receive: a handler that sent on this socket did so
    // before this receive, which then processes what that send left.
    in.check = false;
    try {
      got = zmq::recv_multipart(s, std::back_inserter(frames), zmq::recv_flags::dontwait);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) in.check = true;
      return;
    }
    // EAGAIN: the receive processed the socket's commands, so its descriptor
    // announces the next message.
    if (!got) return;
    ++stats_.messages_in;
    for (auto& f : frames) stats_.bytes_in += f.size();
    if (kind == kRouter || kind == kBulkRouter) {
      if (frames.empty()) continue;
      std::string routing = frames.front().to_string();
      frames.erase(frames.begin());
      if (kind == kBulkRouter)
        receive_bulk(std::move(routing), std::move(frames));
      else if (bulk_ && is_session_message(frames))
        grant_session(routing, frames);
      else if (on_request_)
        on_request_(std::move(routing), std::move(frames));
    } else if (kind == kDealer) {
      if (is_session_message(frames))
        accept_session(endpoint, std::move(frames));
      else if (on_reply_)
        on_reply_(endpoint, std::move(frames));
    } else if (kind == kBulkDealer) {
      receive_bulk_reply(endpoint, std::move(frames));
    } else if (on_event_) {
      on_event_(std::move(frames));
    }
  }
  in.check = true;  // the batch limit: more may be queued (fairness between sockets)
}

bool IoThread::receive_checked() {
  // Handlers may send (and so flag) sockets already passed: a few passes, then
  // the caller polls without sleeping.
  bool left = false;
  for (int pass = 0; pass < 4; ++pass) {
    if (router_.check) receive_all(router_, kRouter, "");
    if (bulk_.check) receive_all(bulk_, kBulkRouter, "");
    if (sub_.check) receive_all(sub_, kSub, "");
    // The handlers may add peers (std::map keeps iterators valid) but never
    // remove them: drop_peer and lost peers wait for settle_peers().
    for (auto& [ep, peer] : peers_) {
      if (peer.dealer.check) receive_all(peer.dealer, kDealer, ep);
      if (peer.monitor.check) receive_monitor(peer, ep, false);
      if (peer.bulk.check) receive_all(peer.bulk, kBulkDealer, ep);
      if (peer.bulk_monitor.check) receive_monitor(peer, ep, true);
    }
    left = router_.check || bulk_.check || sub_.check;
    for (auto& [ep, peer] : peers_)
      left = left || peer.dealer.check || peer.monitor.check || peer.bulk.check || peer.bulk_monitor.check;
    if (!left) break;
  }
  return left;
}

void IoThread::poll_set(std::vector<pollfd>& items, std::vector<Inbound*>& sockets, bool monitors) {
  auto add = [&](Inbound& in) {
    items.push_back({in.fd, POLLIN, 0});
    sockets.push_back(&in);
  };
  if (router_) add(router_);
  if (bulk_) add(bulk_);
  if (sub_) add(sub_);
  for (auto& [ep, peer] : peers_) {
    add(peer.dealer);
    if (monitors && peer.monitor) add(peer.monitor);
    if (peer.bulk) add(peer.bulk);
    if (monitors && peer.bulk_monitor) add(peer.bulk_monitor);
  }
}

namespace {
/// One eventfd per waiting thread, closed when the thread ends.
struct WaiterFd {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ~WaiterFd() {
    if (fd >= 0) close(fd);
  }
};

int ms_until(std::chrono::steady_clock::time_point deadline) {
  if (deadline == std::chrono::steady_clock::time_point::max()) return -1;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 1 << 30));
}
}  // namespace

bool IoThread::drive(const std::weak_ptr<IoThread>& weak, std::chrono::steady_clock::time_point deadline,
                     const std::function<bool(int)>& arm) {
  if (current_ != nullptr) return false;  // the I/O thread, or inside try_run: not a place to wait
  static thread_local WaiterFd waiter;
  if (waiter.fd < 0) return false;
  if (arm(waiter.fd)) return true;
  std::vector<pollfd> items;
  std::vector<Inbound*> sockets;
  for (;;) {
    items.clear();
    sockets.clear();
    items.push_back({waiter.fd, POLLIN, 0});
    // Poll the sockets only while they are free now (the I/O thread sleeps)
    // and the IoThread lives; else wait for set() to write the eventfd.
    std::shared_ptr<IoThread> io = weak.lock();
    if (io && io->enter()) {
      // Not the monitors: the I/O thread wakes for those (rare) events, and a
      // waiter's poll stays as small as before liveness existed.
      io->poll_set(items, sockets, false);  // the set changes only under own_
      {
        std::lock_guard lock(io->drivers_mutex_);
        io->driver_fds_.push_back(waiter.fd);
      }
      io->leave(nullptr);
    } else {
      io.reset();
    }
    const int n = poll(items.data(), items.size(), ms_until(deadline));
    if (n < 0 && errno != EINTR) return false;
    if (n > 0 && items[0].revents != 0) {
      eventfd_t v;
      eventfd_read(waiter.fd, &v);
    }
    if (io) {
      {
        std::lock_guard lock(io->drivers_mutex_);
        std::erase(io->driver_fds_, waiter.fd);
      }
      bool fired = false;
      for (std::size_t i = 1; n > 0 && i < items.size(); ++i) fired = fired || items[i].revents != 0;
      // The I/O thread woke on the same descriptors and waits for own_ (or
      // got it first, then enter() fails and set() writes the eventfd).
      if (fired && io->enter()) {
        // Looked up again: the I/O thread may have dropped a dealer meanwhile.
        std::vector<pollfd> now_items;
        std::vector<Inbound*> now_sockets;
        io->poll_set(now_items, now_sockets, false);
        for (std::size_t i = 1; i < items.size(); ++i) {
          if (items[i].revents == 0) continue;
          for (std::size_t j = 0; j < now_items.size(); ++j)
            if (now_items[j].fd == items[i].fd) now_sockets[j]->check = true;
        }
        io->receive_checked();
        io->leave(nullptr);
      }
    }
    if (arm(waiter.fd)) return true;
    if (n == 0 && std::chrono::steady_clock::now() >= deadline) return false;
  }
}

void IoThread::run() {
  std::vector<pollfd> items;
  std::vector<Inbound*> sockets;  // per item after the eventfd and the watched fds
  std::unique_lock lock(own_);
  current_ = this;
  while (!stopping_.load()) {
    drain_posted();
    const bool left = receive_checked();
    settle_peers();
    // After the handlers, which may add timers (a restart's backoff): a
    // timeout taken before them would sleep past those.
    int timeout = run_due_timers();
    if (stopping_.load()) break;
    // Handlers may have posted (to this thread) or left a socket unfinished.
    if (left || !posted_.empty()) timeout = 0;
    rebuild_ = false;
    // The timer it will wake for; a timer added before it (by try_run) must wake it.
    if (timeout == 0)
      sleep_due_ = std::chrono::steady_clock::time_point::min();
    else
      sleep_due_ = timers_.empty() ? std::chrono::steady_clock::time_point::max() : timers_.front().due;

    items.clear();
    sockets.clear();
    items.push_back({wake_fd_, POLLIN, 0});
    for (auto& [fd, fn] : fds_) items.push_back({fd, POLLIN, 0});
    const std::size_t first_socket = items.size();
    poll_set(items, sockets, true);
    // Sockets added meanwhile by try_run() are pointers into peers_ that stay
    // valid: only this thread erases (settle_peers, at the top of the loop).
    current_ = nullptr;
    lock.unlock();
    const int n = poll(items.data(), items.size(), timeout);
    lock.lock();
    current_ = this;
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "troupe: poll failed: %s\n", std::strerror(errno));
      continue;
    }
    if (n == 0) continue;
    for (std::size_t i = first_socket; i < items.size(); ++i)
      if (items[i].revents != 0) sockets[i - first_socket]->check = true;
    if (items[0].revents != 0) {
      uint64_t v;
      [[maybe_unused]] ssize_t r = read(wake_fd_, &v, sizeof v);
      // Cleared after the read and before the next drain: a post after this
      // point writes the eventfd again, so none is left unseen.
      wake_pending_.store(false);
    }
    for (std::size_t i = 1; i < first_socket; ++i) {
      if (items[i].revents == 0) continue;
      auto it = fds_.find(items[i].fd);
      if (it != fds_.end()) {
        auto fn = it->second;  // the callback may unwatch itself
        fn();
      }
    }
  }
  current_ = nullptr;
}

}  // namespace troupe
