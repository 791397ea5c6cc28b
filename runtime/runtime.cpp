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
  context_ = std::make_shared<zmq::context_t>(1);
  IoThread::Options io;
  io.bind = options_.bind;
  io.publish_bind = options_.publish_bind;
  io.max_frame_bytes = static_cast<int64_t>(options_.limits.max_message_bytes);
  io_ = std::make_shared<IoThread>(context_, io);
  executor_ = std::make_unique<Executor>(options_.max_queue);
  client_ = std::make_unique<Client>(*io_, options_.scheduler, options_.self);
  server_ = std::make_unique<Server>(*io_, *executor_, options_.self, options_.limits);
  server_->set_sender_check([this](ActorId a, Incarnation i) { return client_->is_replaced(a, i); });
  io_->on_reply([this](const std::string& ep, Frames&& f) { client_->handle_reply(ep, std::move(f)); });
  io_->on_event([this](Frames&& f) { client_->handle_event(std::move(f)); });
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
  auto st = client_->call_scheduler("hello", msgpack::type::nil_t(), timeout);
  if (!st->wait(timeout + std::chrono::milliseconds(100)))
    return Error(Errc::connection_lost, "scheduler " + options_.scheduler + " did not answer");
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
  std::promise<void> done;
  io_->post([this, ep = hello->events_endpoint, &done] {
    io_->subscribe(ep);
    done.set_value();
  });
  done.get_future().wait();
  return {};
}

}  // namespace troupe
