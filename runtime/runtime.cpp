#include "runtime/runtime.hpp"

#include <atomic>
#include <future>

namespace troupe {
namespace {
std::atomic<Runtime*> g_current{nullptr};
}

Runtime* Runtime::current() { return g_current.load(); }
void Runtime::set_current(Runtime* rt) { g_current.store(rt); }

Runtime::Runtime(Options options) : options_(std::move(options)) {
  if (options_.insecure) {
    options_.keys = nullptr;
  } else if (!options_.keys) {
    auto found = find_keys();
    if (!found.ok()) throw Exception(found.error());
    options_.keys = found.value();
  }
  context_ = std::make_shared<zmq::context_t>(1);
  IoThread::Options io;
  io.bind = options_.bind;
  io.publish_bind = options_.publish_bind;
  io.max_frame_bytes = static_cast<int64_t>(options_.limits.max_message_bytes);
  io.heartbeat = options_.heartbeat;
  io.keys = options_.keys;
  io_ = std::make_shared<IoThread>(context_, io);
  executor_ = std::make_unique<Executor>(options_.max_queue);
  client_ = std::make_unique<Client>(*io_, options_.scheduler, options_.self);
  // Until "hello" says otherwise: the scheduler's default node timeout.
  client_->set_death_wait(death_wait(std::chrono::milliseconds(3000), options_.heartbeat));
  server_ = std::make_unique<Server>(*io_, *executor_, options_.self, options_.limits);
  server_->set_sender_check([this](ActorId a, Incarnation i) { return client_->is_replaced(a, i); });
  io_->on_reply([this](const std::string& ep, Frames&& f) { client_->handle_reply(ep, std::move(f)); });
  io_->on_event([this](Frames&& f) { client_->handle_event(std::move(f)); });
  io_->on_peer_lost([this](const std::string& ep, const std::string& why) { client_->handle_peer_lost(ep, why); });
  io_->on_request([this](std::string routing, Frames&& f) { server_->handle_request(std::move(routing), std::move(f)); });
}

Runtime::~Runtime() {
  stop();
  if (current() == this) set_current(nullptr);
}

void Runtime::start() {
  if (started_) return;
  started_ = true;
  io_->start();
}

void Runtime::stop() {
  // The executor first: its tasks may still post replies to the I/O thread.
  executor_->stop();
  io_->stop();
}

Result<void> Runtime::join_cluster(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::shared_ptr<CallState> st;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    left = std::max(left, std::chrono::milliseconds(1));
    st = client_->call_scheduler("hello", msgpack::type::nil_t(), left);
    if (!st->wait(left + std::chrono::milliseconds(100)))
      return Error(Errc::connection_lost, "scheduler " + options_.scheduler + " did not answer");
    // A scheduler not listening (yet) is lost after 2 heartbeats: ask again
    // until the caller's timeout, which is what it asked to wait.
    const auto& r = st->result();
    if (r.ok() || r.error().code != Errc::connection_lost || std::chrono::steady_clock::now() >= deadline) break;
    // Refused at the handshake (io_peers.cpp says so): asking again cannot help.
    if (r.error().message.find("security handshake") != std::string::npos ||
        r.error().message.find("refused our credentials") != std::string::npos)
      break;
  }
  const auto& r = st->result();
  if (!r.ok()) {
    Error e = r.error();
    if (e.code == Errc::timeout) e = Error(Errc::connection_lost, "scheduler " + options_.scheduler + " did not answer within " + std::to_string(timeout.count()) + " ms");
    return e;
  }
  auto hello = r.value().body_as<HelloReply>();
  if (!hello.ok()) return hello.error();
  if (hello->protocol != kProtocolVersion)
    return Error(Errc::invalid_argument, "scheduler speaks protocol " + std::to_string(hello->protocol) +
                                             ", this process speaks " + std::to_string(kProtocolVersion));
  if (hello->heartbeat_timeout_ms > 0)
    client_->set_death_wait(death_wait(std::chrono::milliseconds(hello->heartbeat_timeout_ms), options_.heartbeat));
  std::promise<void> done;
  io_->post([this, ep = hello->events_endpoint, &done] {
    io_->subscribe(ep);
    done.set_value();
  });
  done.get_future().wait();
  return {};
}

}  // namespace troupe
