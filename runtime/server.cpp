#include "runtime/server.hpp"

#include <exception>

namespace troupe {

Header Responder::reply_header(Kind k) const {
  Header h;
  h.kind = k;
  h.call_id = call_id_;
  h.sender_id = self_.actor;
  h.sender_incarnation = self_.incarnation;
  return h;
}

void Responder::send(Frames frames) const {
  // Usually called on the executor: send from here when the sockets are free
  // rather than wake the I/O thread for it (see io_thread.hpp).
  if (io_->try_run([&] { io_->reply_to(routing_, frames); })) return;
  auto shared = std::make_shared<Frames>(std::move(frames));
  io_->post([io = io_, routing = routing_, shared] { io->reply_to(routing, *shared); });
}

Server::Server(IoThread& io, Executor& executor, Identity self, Limits limits)
    : io_(io), executor_(executor), self_(self), limits_(limits) {}

void Server::add(const std::string& method, Handler handler, bool on_executor) {
  methods_[method] = Entry{std::move(handler), on_executor};
}

void Server::handle_request(std::string routing, Frames&& frames) {
  // Read the header first: it says whether and how we can answer.
  if (frames.empty()) {
    ++stats_.dropped;
    return;
  }
  auto header = decode_header(frames.front(), limits_);
  if (!header.ok()) {
    ++stats_.malformed;
    // A wrong version, an unknown kind, a negative id or a duplicate key: the
    // sender meant a call and waits for it; tell it why (docs/PROTOCOL.md,
    // "What a receiver does with a bad message"). Garbage is not answered.
    if (auto a = answerable_header(frames.front(), limits_))
      Responder(&io_, routing, a->call_id, self_).fail(header.error());
    return;
  }
  if (header->kind == Kind::control) {
    // Kind 4 is reserved: control methods are calls (k = 0) to target 0.
    ++stats_.malformed;
    Responder(&io_, routing, header->call_id, self_)
        .fail(Error(Errc::malformed_message, "kind control (k = 4) is reserved: send control methods as calls (k = 0)"));
    return;
  }
  if (header->kind != Kind::call) {
    ++stats_.dropped;  // a reply, error or event sent to a server: no one waits for an answer
    return;
  }
  Responder responder(&io_, routing, header->call_id, self_);
  if (header->target_id != 0 &&
      (header->target_id != self_.actor || header->target_incarnation != self_.incarnation)) {
    ++stats_.stale_rejected;
    responder.fail(Error(Errc::stale_incarnation,
                         "addressed to actor " + std::to_string(header->target_id) + " incarnation " +
                             std::to_string(header->target_incarnation) + ", this is actor " +
                             std::to_string(self_.actor) + " incarnation " + std::to_string(self_.incarnation)));
    return;
  }
  // A zombie (an incarnation the cluster has replaced, e.g. across a healed
  // partition) must not change anyone's state.
  if (header->sender_id != 0 && sender_stale_ && sender_stale_(header->sender_id, header->sender_incarnation)) {
    ++stats_.stale_rejected;
    responder.fail(Error(Errc::stale_incarnation, "sender actor " + std::to_string(header->sender_id) +
                                                      " incarnation " + std::to_string(header->sender_incarnation) +
                                                      " has been replaced"));
    return;
  }
  auto msg = decode(std::move(frames), limits_);
  if (!msg.ok()) {
    ++stats_.malformed;
    responder.fail(msg.error());
    return;
  }
  auto it = methods_.find(msg->header().method);
  if (it == methods_.end()) {
    ++stats_.unknown_method;
    responder.fail(Error(Errc::unknown_method, "no method '" + msg->header().method + "' on " + what_));
    return;
  }
  auto run = [this, handler = &it->second.handler, responder,
              m = std::make_shared<Message>(std::move(msg.value()))] {
    // Checked when the call runs, not when it arrived: a call queued before the
    // lease ran out must not run after it.
    if (gate_) {
      if (auto refused = gate_()) {
        ++stats_.refused;
        responder.fail(*refused);
        return;
      }
    }
    const int64_t deadline = m->header().deadline_ms;
    if (deadline != 0 && now_ms() > deadline) {
      ++stats_.expired;
      responder.fail(Error(Errc::timeout, "deadline passed before '" + m->header().method + "' could run"));
      return;
    }
    try {
      (*handler)(*m, responder);
    } catch (const Exception& e) {
      responder.fail(e.error());
    } catch (const std::exception& e) {
      responder.fail(Error(Errc::remote_error, e.what()));
    } catch (...) {
      responder.fail(Error(Errc::remote_error, "unknown exception"));
    }
    ++stats_.calls_served;
  };
  if (!it->second.on_executor) {
    run();
    return;
  }
  if (!executor_.try_post(std::move(run))) {
    ++stats_.overloaded;
    responder.fail(Error(Errc::overloaded, what_ + " has too many queued calls"));
  }
}

}  // namespace troupe
