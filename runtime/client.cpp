#include "runtime/client.hpp"

#include <chrono>

namespace troupe {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

zmq::message_t header_frame(const Header& h) {
  Encoder e(h);
  e.body(msgpack::type::nil_t());
  return std::move(e.finish().front());
}

namespace {

Frames copy_frames(Frames& frames) {
  Frames out;
  out.reserve(frames.size());
  // zmq_msg_copy shares the buffer of large frames: no bytes are copied.
  for (auto& f : frames) out.emplace_back().copy(f);
  return out;
}

Error death_error(ActorId actor, const Event& e) {
  Error err(Errc::actor_died, "actor " + std::to_string(actor) + (e.name.empty() ? "" : " '" + e.name + "'") +
                                  " incarnation " + std::to_string(e.incarnation) +
                                  (e.message.empty() ? "" : ": " + e.message));
  err.exit_code = e.exit_code;
  err.signal = e.signal;
  return err;
}

}  // namespace

Client::Client(IoThread& io, std::string scheduler_endpoint, Identity self)
    : io_(io), scheduler_(std::move(scheduler_endpoint)), self_(self) {}

Client::~Client() = default;

std::shared_ptr<CallState> Client::call(const std::string& endpoint, const std::string& method, Frames frames,
                                        CallOptions options) {
  Pending p;
  p.endpoint = endpoint;
  return submit(std::move(p), method, std::move(frames), options);
}

std::shared_ptr<CallState> Client::call_actor(ActorId actor, const std::string& method, Frames frames,
                                              CallOptions options) {
  if (gate_) {
    if (auto refused = gate_()) {
      // A replaced incarnation must not change other actors' state (a trainer's pushes).
      auto state = std::make_shared<CallState>();
      state->set(std::move(*refused));
      return state;
    }
  }
  Pending p;
  p.actor = actor;
  p.retryable = options.retryable;
  return submit(std::move(p), method, std::move(frames), options);
}

std::shared_ptr<CallState> Client::submit(Pending p, const std::string& method, Frames frames,
                                          const CallOptions& options) {
  auto state = std::make_shared<CallState>();
  const uint64_t id = next_id_++;
  state->on_abandon = [this, id] { io_.post([this, id] { complete(id, Error(Errc::timeout, "abandoned")); }); };
  // A thread waiting for the reply receives it itself while the I/O thread sleeps.
  state->driver = [io = io_.weak_from_this()](std::chrono::steady_clock::time_point deadline,
                                              const std::function<bool(int)>& arm) {
    return IoThread::drive(io, deadline, arm);
  };
  p.state = state;
  p.method = method;
  p.deadline_ms = options.timeout.count() >= 0 ? now_ms() + options.timeout.count() : 0;
  p.frames = std::move(frames);
  auto start = [this, id](Pending&& call) {
    const bool to_actor = call.actor != 0;
    register_call(id, std::move(call));
    if (to_actor)
      dispatch_actor_call(id);
    else
      send_pending(id);
  };
  // Send from the calling thread when the sockets are free: one wake-up of
  // the I/O thread less per call (see io_thread.hpp).
  if (io_.try_run([&] { start(std::move(p)); })) return state;
  auto shared = std::make_shared<Pending>(std::move(p));
  io_.post([start, shared] { start(std::move(*shared)); });
  return state;
}

void Client::add_event_listener(std::function<void(const Event&)> fn) {
  io_.post([this, fn = std::move(fn)]() mutable { listeners_.push_back(std::move(fn)); });
}

void Client::register_call(uint64_t id, Pending p) {
  const int64_t deadline = p.deadline_ms;
  pending_.emplace(id, std::move(p));
  if (deadline != 0) arm_deadline(id, deadline);
}

void Client::arm_deadline(uint64_t id, int64_t deadline_ms) {
  auto delay = std::chrono::milliseconds(std::max<int64_t>(deadline_ms - now_ms(), 0));
  io_.post_after(delay, [this, id] {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    std::string where = it->second.actor != 0 ? "actor " + std::to_string(it->second.actor) : it->second.endpoint;
    complete(id, Error(Errc::timeout, "no reply to '" + it->second.method + "' from " + where + " before its deadline"));
  });
}

void Client::complete(uint64_t id, Result<Message> r) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  auto state = std::move(it->second.state);
  const ActorId actor = it->second.actor;
  pending_.erase(it);
  if (actor != 0) {
    auto loc = locations_.find(actor);
    if (loc != locations_.end()) std::erase(loc->second.waiting, id);
  }
  state->set(std::move(r));
}

void Client::send_pending(uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  Header h;
  h.kind = Kind::call;
  h.call_id = id;
  h.method = p.method;
  h.sender_id = self_.actor;
  h.sender_incarnation = self_.incarnation;
  h.target_id = p.actor;
  h.target_incarnation = p.incarnation;
  h.deadline_ms = p.deadline_ms;
  if (p.frames.empty()) {
    complete(id, Error(Errc::invalid_argument, "call without frames"));
    return;
  }
  p.frames.front() = header_frame(h);
  p.peer_lost = false;
  // Keep the frames: a stale-incarnation answer or a retryable death resends them.
  Frames out = copy_frames(p.frames);
  if (!io_.send_to(p.endpoint, out)) {
    complete(id, Error(Errc::overloaded, "send queue to " + p.endpoint + " is full"));
    return;
  }
  ++stats_.calls_sent;
}

void Client::dispatch_actor_call(uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  Location& loc = locations_[p.actor];
  if (loc.state == ActorState::alive && !loc.endpoint.empty()) {
    p.endpoint = loc.endpoint;
    p.incarnation = loc.incarnation;
    send_pending(id);
    return;
  }
  if (loc.state == ActorState::dead && loc.death.code != Errc::ok) {
    complete(id, loc.death);
    return;
  }
  p.endpoint.clear();
  loc.waiting.push_back(id);
  if (!loc.resolving) resolve(p.actor);
}

void Client::resolve(ActorId actor) {
  locations_[actor].resolving = true;
  constexpr int64_t kLongPollMs = 2000;
  Header h;
  h.method = "resolve";
  auto state = std::make_shared<CallState>();
  const uint64_t id = next_id_++;
  Pending p;
  p.state = state;
  p.method = "resolve";
  p.endpoint = scheduler_;
  p.deadline_ms = now_ms() + kLongPollMs + 3000;
  p.frames = encode(h, ActorRef{actor, "", kLongPollMs, false});
  register_call(id, std::move(p));
  // Completed on this thread (replies and deadlines both run here).
  state->add_callback([this, actor](const Result<Message>& r) { on_actor_info(actor, r); });
  send_pending(id);
}

void Client::on_actor_info(ActorId actor, const Result<Message>& r) {
  Location& loc = locations_[actor];
  loc.resolving = false;
  if (!r.ok()) {
    // Unknown actor, or the scheduler is unreachable (lost: it died, froze or
    // is restarting): nothing can be learned about the actor now, so its
    // waiting calls fail fast rather than at their own deadlines.
    if (r.error().code == Errc::not_found || r.error().code == Errc::connection_lost) {
      Error e = r.error();
      if (e.code == Errc::connection_lost) e.message = "cannot look up actor " + std::to_string(actor) + ": " + e.message;
      for (uint64_t id : std::vector<uint64_t>(loc.waiting)) complete(id, e);
      return;
    }
    // Scheduler slow (the lookup timed out): keep trying while callers
    // still wait; each call's own deadline bounds the wait.
    if (!loc.waiting.empty())
      io_.post_after(std::chrono::milliseconds(200), [this, actor] {
        auto& l = locations_[actor];
        if (!l.resolving && !l.waiting.empty()) resolve(actor);
      });
    return;
  }
  auto info = r.value().body_as<ActorInfo>();
  if (!info.ok()) return;
  Error death;
  if (info->state == ActorState::dead) {
    death = Error(Errc::actor_died, "actor " + std::to_string(actor) + " is dead");
    if (!info->deaths.empty()) {
      const auto& d = info->deaths.back();
      death.exit_code = d.exit_code;
      death.signal = d.signal;
      death.message += ": " + d.reason;
    }
  }
  apply_state(actor, info->state, info->incarnation, info->endpoint, death);
  if (!loc.waiting.empty() && !loc.resolving && info->state != ActorState::alive && info->state != ActorState::dead)
    resolve(actor);
}

void Client::apply_state(ActorId actor, ActorState state, Incarnation inc, const std::string& endpoint,
                         const Error& death) {
  Location& loc = locations_[actor];
  // Events can arrive out of order with resolve replies: never go back in incarnation.
  if (inc < loc.incarnation && loc.state != ActorState::pending) return;
  if (inc == loc.incarnation && loc.state == ActorState::dead) return;
  const bool lost = (state == ActorState::restarting || state == ActorState::dead);
  if (lost && !loc.endpoint.empty()) io_.drop_peer(loc.endpoint);
  loc.state = state;
  loc.incarnation = inc;
  loc.endpoint = state == ActorState::alive ? endpoint : std::string();
  loc.death = death;
  if (lost) {
    // Calls in flight to the lost incarnation: resend if retryable and the actor
    // comes back, fail with ActorDied otherwise (DESIGN §4).
    std::vector<uint64_t> ids;
    for (auto& [id, p] : pending_)
      if (p.actor == actor && !p.endpoint.empty() && p.incarnation <= inc) ids.push_back(id);
    for (uint64_t id : ids) {
      Pending& p = pending_.at(id);
      if (p.retryable && state == ActorState::restarting && !p.frames.empty()) {
        ++stats_.calls_resent;
        p.endpoint.clear();
        loc.waiting.push_back(id);
      } else {
        complete(id, death);
      }
    }
    if (state == ActorState::dead)
      for (uint64_t id : std::vector<uint64_t>(loc.waiting)) complete(id, death);
    else if (!loc.waiting.empty() && !loc.resolving)
      resolve(actor);
  } else if (state == ActorState::alive) {
    std::vector<uint64_t> waiting;
    waiting.swap(loc.waiting);
    for (uint64_t id : waiting) dispatch_actor_call(id);
  }
}

bool Client::is_replaced(ActorId actor, Incarnation incarnation) const {
  auto it = locations_.find(actor);
  if (it == locations_.end()) return false;
  const Location& loc = it->second;
  if (incarnation < loc.incarnation) return true;
  return incarnation == loc.incarnation && (loc.state == ActorState::restarting || loc.state == ActorState::dead);
}

void Client::handle_reply(const std::string& endpoint, Frames&& frames) {
  auto msg = decode(std::move(frames));
  if (!msg.ok()) {
    ++stats_.replies_unmatched;
    return;
  }
  const Header& h = msg->header();
  auto it = pending_.find(h.call_id);
  if (it == pending_.end() || it->second.endpoint != endpoint) {
    ++stats_.replies_unmatched;
    return;
  }
  if (h.kind == Kind::reply) {
    complete(h.call_id, std::move(msg.value()));
    return;
  }
  if (h.kind != Kind::error) {
    ++stats_.replies_unmatched;
    return;
  }
  auto err = msg->body_as<Error>();
  Error e = err.ok() ? err.value() : Error(Errc::malformed_message, "unreadable error reply");
  Pending& p = it->second;
  // Our view of the actor was older than the actor (another incarnation
  // answered): nothing ran, so look it up again and resend, whether or not the
  // method is retryable. The incarnation we addressed answering this code
  // means something else (we are the stale one, or the method said so): fail.
  if (e.code == Errc::stale_incarnation && p.actor != 0 && !p.frames.empty() &&
      h.sender_incarnation != p.incarnation) {
    p.endpoint.clear();
    auto& loc = locations_[p.actor];
    loc.state = ActorState::restarting;
    loc.waiting.push_back(h.call_id);
    if (!loc.resolving) resolve(p.actor);
    return;
  }
  complete(h.call_id, e);
}

void Client::handle_peer_lost(const std::string& endpoint, const std::string& why) {
  std::vector<uint64_t> plain, to_actor;
  for (auto& [id, p] : pending_) {
    if (p.endpoint != endpoint) continue;
    if (p.actor == 0) {
      plain.push_back(id);
    } else {
      p.peer_lost = true;
      to_actor.push_back(id);
    }
  }
  std::vector<ActorId> actors;
  for (auto& [id, loc] : locations_)
    if (loc.endpoint == endpoint) actors.push_back(id);
  // Ids, not iterators: completing runs callbacks that may make new calls.
  for (uint64_t id : plain) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    ++stats_.calls_lost;
    complete(id, Error(Errc::connection_lost, it->second.method + ": " + endpoint + " " + why));
  }
  if (to_actor.empty() && actors.empty()) return;
  // The scheduler decides whether the incarnation died (its event fails the
  // calls with actor_died, or resends retryable ones): wait that long for it.
  io_.post_after(death_wait(), [this, endpoint, why, to_actor = std::move(to_actor), actors = std::move(actors)] {
    end_death_wait(endpoint, why, to_actor, actors);
  });
}

void Client::end_death_wait(const std::string& endpoint, const std::string& why, const std::vector<uint64_t>& calls,
                            const std::vector<ActorId>& actors) {
  // No verdict: the actor may live (a network fault) or the scheduler may be
  // gone too. Look it up afresh next time rather than trusting this endpoint.
  for (ActorId a : actors) {
    auto it = locations_.find(a);
    if (it == locations_.end() || it->second.endpoint != endpoint || it->second.state != ActorState::alive) continue;
    it->second.state = ActorState::pending;
    it->second.endpoint.clear();
  }
  for (uint64_t id : calls) {
    auto it = pending_.find(id);
    // Resent meanwhile (a retryable call after a RESTARTING event) or answered.
    if (it == pending_.end() || !it->second.peer_lost || it->second.endpoint != endpoint) continue;
    ++stats_.calls_lost;
    complete(id, Error(Errc::connection_lost, "'" + it->second.method + "' to actor " +
                                                  std::to_string(it->second.actor) + " at " + endpoint + ": it " +
                                                  why + ", and the scheduler reported no death within " +
                                                  std::to_string(death_wait().count()) + " ms"));
  }
}

void Client::handle_event(Frames&& frames) {
  auto msg = decode(std::move(frames));
  if (!msg.ok() || msg->header().kind != Kind::event) return;
  auto ev = msg->body_as<Event>();
  if (!ev.ok()) return;
  ++stats_.events;
  const Event& e = ev.value();
  if (e.topic == "actor" && e.actor != 0) {
    Error death;
    if (e.state == ActorState::restarting || e.state == ActorState::dead) death = death_error(e.actor, e);
    apply_state(e.actor, e.state, e.incarnation, e.endpoint, death);
  }
  for (auto& fn : listeners_) fn(e);
}

}  // namespace troupe
