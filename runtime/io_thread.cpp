#include "runtime/io_thread.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include <zmq_addon.hpp>

#include "runtime/zmq_check.hpp"

namespace troupe {
namespace {

enum SocketKind { kRouter = 0, kDealer = 1, kSub = 2 };
constexpr int kMaxBatch = 512;  // messages drained from one socket per wake, for fairness

bool later(const auto& a, const auto& b) { return a.due != b.due ? a.due > b.due : a.seq > b.seq; }

void configure(zmq::socket_t& s, const IoThread::Options& o) {
  TROUPE_ZMQ(s.set(zmq::sockopt::linger, 0));
  TROUPE_ZMQ(s.set(zmq::sockopt::sndhwm, o.send_hwm));
  TROUPE_ZMQ(s.set(zmq::sockopt::rcvhwm, o.recv_hwm));
}

}  // namespace

IoThread::IoThread(std::shared_ptr<zmq::context_t> context, Options options)
    : context_(std::move(context)), options_(std::move(options)) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw Exception(Error(Errc::io_error, "eventfd failed"));
  try {
    if (!options_.bind.empty()) {
      router_ = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::router);
      configure(*router_, options_);
      // Replies to a vanished caller fail loudly (EHOSTUNREACH) instead of silently.
      TROUPE_ZMQ(router_->set(zmq::sockopt::router_mandatory, 1));
      if (options_.max_frame_bytes > 0) TROUPE_ZMQ(router_->set(zmq::sockopt::maxmsgsize, options_.max_frame_bytes));
      router_->bind(options_.bind);
      endpoint_ = router_->get(zmq::sockopt::last_endpoint);
    }
    if (!options_.publish_bind.empty()) {
      pub_ = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::pub);
      configure(*pub_, options_);
      pub_->bind(options_.publish_bind);
      publish_endpoint_ = pub_->get(zmq::sockopt::last_endpoint);
    }
  } catch (const zmq::error_t& e) {
    close(wake_fd_);
    throw Exception(Error(Errc::io_error, "cannot bind " + options_.bind + " / " + options_.publish_bind + ": " + e.what()));
  }
}

IoThread::~IoThread() {
  stop();
  // Sockets must close before the context; unique_ptrs go in member order, so be explicit.
  dealers_.clear();
  sub_.reset();
  pub_.reset();
  router_.reset();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void IoThread::start() { thread_ = std::thread([this] { run(); }); }

void IoThread::stop() {
  if (stopping_.exchange(true)) {
    if (thread_.joinable() && !in_io_thread()) thread_.join();
    return;
  }
  wake();
  if (thread_.joinable() && !in_io_thread()) thread_.join();
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

bool IoThread::send_to(const std::string& endpoint, Frames& frames) {
  auto it = dealers_.find(endpoint);
  if (it == dealers_.end()) {
    auto s = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::dealer);
    configure(*s, options_);
    TROUPE_ZMQ(s->connect(endpoint));
    it = dealers_.emplace(endpoint, std::move(s)).first;
  }
  return send_frames(*it->second, frames, nullptr);
}

bool IoThread::reply_to(const std::string& routing, Frames& frames) {
  if (!router_) return false;
  return send_frames(*router_, frames, &routing);
}

bool IoThread::publish(Frames& frames) {
  if (!pub_) return false;
  return send_frames(*pub_, frames, nullptr);
}

void IoThread::subscribe(const std::string& endpoint) {
  if (!sub_) {
    sub_ = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::sub);
    configure(*sub_, options_);
    TROUPE_ZMQ(sub_->set(zmq::sockopt::subscribe, ""));
  }
  TROUPE_ZMQ(sub_->connect(endpoint));
}

void IoThread::drop_peer(const std::string& endpoint) {
  // Deferred: a receive loop may be reading from this very socket right now.
  dropped_.push_back(endpoint);
}

void IoThread::watch_fd(int fd, std::function<void()> fn) { fds_[fd] = std::move(fn); }
void IoThread::unwatch_fd(int fd) { fds_.erase(fd); }

void IoThread::receive_all(zmq::socket_t& s, int kind, const std::string& endpoint) {
  for (int n = 0; n < kMaxBatch; ++n) {
    Frames frames;
    std::optional<std::size_t> got;
    try {
      got = zmq::recv_multipart(s, std::back_inserter(frames), zmq::recv_flags::dontwait);
    } catch (const zmq::error_t&) {
      return;
    }
    if (!got) return;
    ++stats_.messages_in;
    for (auto& f : frames) stats_.bytes_in += f.size();
    if (kind == kRouter) {
      if (frames.empty()) continue;
      std::string routing = frames.front().to_string();
      frames.erase(frames.begin());
      if (on_request_) on_request_(std::move(routing), std::move(frames));
    } else if (kind == kDealer) {
      if (on_reply_) on_reply_(endpoint, std::move(frames));
    } else if (on_event_) {
      on_event_(std::move(frames));
    }
  }
}

void IoThread::run() {
  std::vector<zmq::pollitem_t> items;
  std::vector<std::pair<int, std::string>> what;  // (kind or -fd-1, endpoint) per item
  while (!stopping_.load()) {
    for (auto& ep : dropped_) dealers_.erase(ep);
    dropped_.clear();
    drain_posted();
    int timeout = run_due_timers();
    if (stopping_.load()) break;
    items.clear();
    what.clear();
    items.push_back({nullptr, wake_fd_, ZMQ_POLLIN, 0});
    what.emplace_back(-1, "");
    if (router_) { items.push_back({router_->handle(), 0, ZMQ_POLLIN, 0}); what.emplace_back(kRouter, ""); }
    if (sub_) { items.push_back({sub_->handle(), 0, ZMQ_POLLIN, 0}); what.emplace_back(kSub, ""); }
    for (auto& [ep, s] : dealers_) { items.push_back({s->handle(), 0, ZMQ_POLLIN, 0}); what.emplace_back(kDealer, ep); }
    for (auto& [fd, fn] : fds_) { items.push_back({nullptr, fd, ZMQ_POLLIN, 0}); what.emplace_back(-2 - fd, ""); }
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(timeout));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      if (e.num() == ETERM) break;
      std::fprintf(stderr, "troupe: zmq::poll failed: %s\n", e.what());
      continue;
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!(items[i].revents & ZMQ_POLLIN)) continue;
      const int kind = what[i].first;
      if (kind == -1) {
        uint64_t v;
        [[maybe_unused]] ssize_t r = read(wake_fd_, &v, sizeof v);
        // Cleared after the read and before the next drain: a post after this
        // point writes the eventfd again, so none is left unseen.
        wake_pending_.store(false);
        drain_posted();
      } else if (kind == kRouter) {
        receive_all(*router_, kRouter, "");
      } else if (kind == kSub) {
        receive_all(*sub_, kSub, "");
      } else if (kind == kDealer) {
        // The handler may have dropped this dealer meanwhile.
        auto it = dealers_.find(what[i].second);
        if (it != dealers_.end()) receive_all(*it->second, kDealer, what[i].second);
      } else {
        auto it = fds_.find(-2 - kind);
        if (it != fds_.end()) {
          auto fn = it->second;  // the callback may unwatch itself
          fn();
        }
      }
    }
  }
}

}  // namespace troupe
