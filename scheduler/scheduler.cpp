#include "scheduler/scheduler.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <future>

#include "runtime/capability.hpp"
#include "runtime/least_privilege.hpp"
#include "runtime/security.hpp"
#include "scheduler/http_guard.hpp"
#include "scheduler/http_server.hpp"
#include "scheduler/recovery.hpp"
#include "scheduler/resources.hpp"
#include "scheduler/state_http.hpp"

namespace troupe {
namespace {

std::string fmt_res(double v) {
  if (v == std::floor(v)) return std::to_string(static_cast<long long>(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string host_of(const std::string& endpoint) {
  // "tcp://127.0.0.1:7400" → "tcp://127.0.0.1"
  auto pos = endpoint.rfind(':');
  return pos == std::string::npos ? endpoint : endpoint.substr(0, pos);
}

}  // namespace

Scheduler::Scheduler(Options options) : options_(std::move(options)), jobs_(options_.heartbeat_timeout) {
  RecoveredState recovered;
  if (!options_.journal_dir.empty()) {
    auto j = Journal::open(options_.journal_dir);
    if (!j.ok()) throw Exception(j.error());
    journal_.emplace(std::move(j.value()));
    auto records = journal_->replay();
    if (!records.ok()) throw Exception(records.error());
    recovered = replay_records(records.value());
  }
  Runtime::Options ro;
  ro.bind = options_.bind;
  // A restarted scheduler publishes where its subscribers already listen.
  ro.publish_bind = !options_.events_bind.empty()       ? options_.events_bind
                    : !recovered.events_endpoint.empty() ? recovered.events_endpoint
                                                         : host_of(options_.bind) + ":*";
  if (options_.max_message_bytes != 0) ro.limits.max_message_bytes = options_.max_message_bytes;
  ro.keys = options_.keys;
  ro.insecure = options_.insecure;
  runtime_ = std::make_unique<Runtime>(ro);
  if (journal_) {
    recovered.events_endpoint = events_endpoint();
    for (auto& [id, n] : recovered.nodes) {
      nodes_[id] = n;
      // Its worker carries on (heartbeats, re-registration) with the token it holds.
      node_tokens_[id] = recovered.node_tokens[id];
      next_node_ = std::max(next_node_, id + 1);
    }
    for (auto& [id, a] : recovered.actors) {
      ActorEntry e;
      e.info = a;
      e.kill_requested = recovered.kill_requested[id];
      e.kill_reason = recovered.kill_reasons[id];
      e.start_token = recovered.actor_tokens[id];
      actors_[id] = std::move(e);
      next_actor_ = std::max(next_actor_, id + 1);
    }
    // Running jobs get a fresh lease: their drivers renew within it if alive.
    for (auto& [id, j] : recovered.jobs) jobs_.restore(j, now_ms());
    job_tokens_ = recovered.job_tokens;
    // Start the log afresh from one record per entity.
    if (auto c = journal_->compact(snapshot_records(recovered)); !c.ok()) throw Exception(c.error());
    if (!nodes_.empty() || !actors_.empty())
      std::fprintf(stderr, "troupe scheduler: recovered %zu node(s) and %zu actor(s) from %s (%zu records)\n",
                   nodes_.size(), actors_.size(), options_.journal_dir.c_str(), recovered.records);
  }
  runtime_->server().set_description("the scheduler");
  register_methods();
  if (options_.http_port >= 0) {
    HttpGuard guard;
    guard.allowed_hosts = options_.http_allowed_hosts;
    guard.allowed_hosts.push_back(options_.http_host);
    char hostname[256] = {};
    if (::gethostname(hostname, sizeof hostname - 1) == 0) guard.allowed_hosts.emplace_back(hostname);
    if (!is_loopback_endpoint("tcp://" + options_.http_host + ":0")) {
      // Reachable from the network: the token, derived from the cluster's key.
      if (!keys()) throw Exception(Error(Errc::invalid_argument, no_keys_message("http://" + options_.http_host)));
      guard.token = http_token_ = keys()->http_token();
    }
    auto http = HttpServer::start(options_.http_host, static_cast<uint16_t>(options_.http_port),
                                  [this, guard](const HttpRequest& req) {
                                    if (auto refused = guard_http(req, guard)) return std::move(*refused);
                                    // Per-actor counters (/metrics, /api/stats) come from the actors' "__stats".
                                    return serve_state_http(req, StateSource{[this] { return snapshot(); },
                                                                             [this](const ClusterState& s) {
                                                                               return query_actor_stats(
                                                                                   runtime_->client(), s,
                                                                                   std::chrono::milliseconds(500));
                                                                             }});
                                  });
    if (!http.ok()) throw Exception(http.error());
    http_ = std::move(http.value());
  }
}

Scheduler::~Scheduler() { stop(); }

void Scheduler::start() {
  runtime_->start();
  runtime_->io().post([this] { recover(); });
  const auto period = std::max(options_.heartbeat_timeout / 4, std::chrono::milliseconds(50));
  auto tick_ptr = std::make_shared<std::function<void()>>();
  *tick_ptr = [this, period, weak = std::weak_ptr<std::function<void()>>(tick_ptr)] {
    if (stopped_) return;
    check_heartbeats();
    check_jobs();
    if (auto t = weak.lock()) runtime_->io().post_after(period, *t);
  };
  heartbeat_tick_ = tick_ptr;
  runtime_->io().post_after(period, *tick_ptr);
}

void Scheduler::stop() {
  if (http_) http_->stop();
  if (runtime_) {
    runtime_->io().post([this] { stopped_ = true; });
    runtime_->stop();
  }
}

const std::string& Scheduler::endpoint() const { return runtime_->io().endpoint(); }
const std::string& Scheduler::events_endpoint() const { return runtime_->io().publish_endpoint(); }
int Scheduler::http_port() const { return http_ ? http_->port() : 0; }
const KeysPtr& Scheduler::keys() const { return runtime_->keys(); }
uint64_t Scheduler::refused_connections() const { return runtime_->io().refused_connections(); }

ClusterState Scheduler::snapshot() {
  std::promise<ClusterState> p;
  auto f = p.get_future();
  runtime_->io().post([this, &p] { p.set_value(build_state()); });
  if (f.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return {};
  return f.get();
}

void Scheduler::register_methods() {
  Server& s = runtime_->server();
  auto add = [&](const char* name, void (Scheduler::*fn)(const Message&, const Responder&)) {
    s.add(name, [this, fn](const Message& m, const Responder& r) { (this->*fn)(m, r); }, /*on_executor=*/false);
  };
  s.add("hello", [this](const Message&, const Responder& r) {
    // The node timeout tells clients how long to wait for the death of an
    // actor whose connection they lost (Client::set_death_wait).
    r.reply(HelloReply{events_endpoint(), http_port(), kProtocolVersion, "0.1.0", options_.heartbeat_timeout.count()});
  }, false);
  add("register_node", &Scheduler::on_register);
  add("heartbeat", &Scheduler::on_heartbeat);
  add("leave_node", &Scheduler::on_leave);
  add("spawn", &Scheduler::on_spawn);
  add("resolve", &Scheduler::on_resolve);
  add("actor_spec", &Scheduler::on_actor_spec);
  add("actor_ready", &Scheduler::on_actor_ready);
  add("actor_failed", &Scheduler::on_actor_failed);
  add("actor_exited", &Scheduler::on_actor_exited);
  add("kill", &Scheduler::on_kill);
  add("state", &Scheduler::on_state);
  add("job_report", &Scheduler::on_job_report);
  add("job_register", &Scheduler::on_job_register);
  add("job_renew", &Scheduler::on_job_renew);
  add("job", &Scheduler::on_job);
}

// ---- journal ----

void Scheduler::recover() {
  // Resources held and GPUs given out follow from the actors that hold them.
  const int64_t now = now_ms();
  for (auto& [id, n] : nodes_) {
    n.used = Resources{};
    n.last_heartbeat_ms = now;  // a grace period: live workers heartbeat within it
    std::vector<int> gpus;
    for (int i = 0; i < static_cast<int>(n.total.gpus); ++i) gpus.push_back(i);
    free_gpus_[id] = gpus;
  }
  for (auto& [id, a] : actors_) {
    const bool holds = a.info.state == ActorState::alive || a.info.state == ActorState::starting;
    auto node = nodes_.find(a.info.node);
    if (holds && node != nodes_.end()) {
      add_resources(node->second.used, a.info.spec.resources);
      auto& free = free_gpus_[node->first];
      for (int g : a.info.gpu_ids) std::erase(free, g);
    }
  }
  // Restarts that were waiting when the old scheduler died go ahead now.
  for (auto& [id, a] : actors_) {
    if (a.info.state == ActorState::restarting) {
      ++a.info.incarnation;
      a.info.state = ActorState::pending;
    }
  }
  place_pending();
}

void Scheduler::append(const std::string& record) {
  if (!journal_) return;
  if (auto r = journal_->append(record); !r.ok())
    std::fprintf(stderr, "troupe scheduler: journal append failed: %s\n", r.error().to_string().c_str());
}

void Scheduler::persist(const ActorEntry& a) {
  if (!journal_) return;
  JournalRecord r;
  r.type = "actor";
  r.actor = a.info;
  r.kill_requested = a.kill_requested;
  r.kill_reason = a.kill_reason;
  // Only a placement that has (or is starting) a process needs its token back.
  if (a.info.state == ActorState::starting || a.info.state == ActorState::alive) r.token = a.start_token;
  append(encode_record(r));
}

void Scheduler::persist(const NodeInfo& n) {
  if (!journal_) return;
  JournalRecord r;
  r.type = "node";
  r.node = n;
  if (auto t = node_tokens_.find(n.id); t != node_tokens_.end()) r.token = t->second;
  append(encode_record(r));
}

Error Scheduler::refuse(const std::string& what) {
  const uint64_t n = ++refused_tokens_;
  // A line for the 1st, 2nd, 4th, 8th… refusal: an operator learns that it
  // happens without a flood of lines from a peer that keeps trying.
  if ((n & (n - 1)) == 0)
    std::fprintf(stderr, "troupe scheduler: refused %s: wrong or missing token (%llu refused so far)\n", what.c_str(),
                 static_cast<unsigned long long>(n));
  return Error(Errc::permission_denied,
               what + ": the sender does not hold its token (the cluster's key alone does not allow it)");
}

bool Scheduler::node_token_ok(NodeId id, const std::string& token) const {
  auto it = node_tokens_.find(id);
  return it != node_tokens_.end() && token_matches(it->second, token);
}

bool Scheduler::job_token_ok(JobId id, const std::string& token) const {
  auto it = job_tokens_.find(id);
  return it != job_tokens_.end() && token_matches(it->second, token);
}

// ---- nodes ----

void Scheduler::on_register(const Message& m, const Responder& r) {
  auto reg = m.body_as<NodeRegistration>();
  if (!reg.ok()) return r.fail(reg.error());
  NodeInfo n;
  const auto previous = nodes_.find(reg->previous_id);
  // A worker we declared dead comes back (a healed partition) under a new id:
  // the old id's history stays as it was. A live id is taken back only with
  // its token: anyone else holding the cluster's key becomes a new node and
  // cannot take a live node (and its actors) over. An id this scheduler does
  // not know (it restarted without a journal) has no token to check and
  // nothing to take over.
  const bool live_previous = previous != nodes_.end() && previous->second.alive;
  const bool owner = live_previous && node_token_ok(reg->previous_id, reg->token);
  if (live_previous && !owner) (void)refuse("register_node as node " + std::to_string(reg->previous_id));
  const bool reuse = reg->previous_id != 0 && (previous == nodes_.end() || owner);
  n.id = reuse ? reg->previous_id : next_node_++;
  next_node_ = std::max(next_node_, n.id + 1);
  // The owner keeps its token (its heartbeats in flight stay valid); any other id gets a fresh one.
  if (!owner) node_tokens_[n.id] = make_token();
  n.host = reg->host;
  n.endpoint = reg->endpoint;
  n.total = reg->total;
  n.pid = reg->pid;
  n.log_dir = reg->log_dir;
  n.last_heartbeat_ms = now_ms();
  std::vector<int> gpus;
  for (int i = 0; i < static_cast<int>(n.total.gpus); ++i) gpus.push_back(i);
  // Two thirds of the timeout: the old incarnations stop serving a third of it
  // before this scheduler may declare the node dead and start them elsewhere.
  Registered reply{n.id, events_endpoint(), {}, options_.heartbeat_timeout.count() * 2 / 3, node_tokens_[n.id]};
  // What the worker still runs: keep the incarnations that are current here,
  // stop the others (replaced elsewhere, killed, or unknown).
  for (const auto& running : reg->running) {
    auto it = actors_.find(running.actor);
    const bool current = it != actors_.end() && it->second.info.incarnation == running.incarnation &&
                         (it->second.info.state == ActorState::alive || it->second.info.state == ActorState::starting) &&
                         it->second.info.node == reg->previous_id && reuse;
    if (!current) {
      reply.stop.push_back(running);
      continue;
    }
    add_resources(n.used, it->second.info.spec.resources);
    for (int g : it->second.info.gpu_ids) std::erase(gpus, g);
  }
  free_gpus_[n.id] = gpus;
  nodes_[n.id] = n;
  persist(n);
  Event e;
  e.topic = "node";
  e.node = n.id;
  e.state = ActorState::alive;
  e.endpoint = n.endpoint;
  e.message = "registered " + n.host + " with " + fmt_res(n.total.cpus) + " CPU, " + fmt_res(n.total.gpus) + " GPU" +
              (reply.stop.empty() ? "" : "; " + std::to_string(reply.stop.size()) + " stale actor(s) to stop");
  publish(e);
  r.reply(reply);
  place_pending();
}

void Scheduler::on_heartbeat(const Message& m, const Responder& r) {
  auto hb = m.body_as<Heartbeat>();
  if (!hb.ok()) return r.fail(hb.error());
  auto it = nodes_.find(hb->node);
  if (it == nodes_.end() || !it->second.alive)
    return r.fail(Error(Errc::not_found, "node " + std::to_string(hb->node) + " is not registered: register again"));
  if (!node_token_ok(hb->node, hb->token)) return r.fail(refuse("heartbeat of node " + std::to_string(hb->node)));
  it->second.last_heartbeat_ms = now_ms();
  r.reply(msgpack::type::nil_t());
}

void Scheduler::check_heartbeats() {
  const int64_t now = now_ms();
  for (auto& [id, n] : nodes_) {
    if (!n.alive || now - n.last_heartbeat_ms <= options_.heartbeat_timeout.count()) continue;
    node_gone(id, "missed heartbeats for " + std::to_string(now - n.last_heartbeat_ms) + " ms", false);
  }
}

void Scheduler::on_leave(const Message& m, const Responder& r) {
  auto leave = m.body_as<LeaveNode>();
  if (!leave.ok()) return r.fail(leave.error());
  auto it = nodes_.find(leave->node);
  if (it == nodes_.end()) return r.fail(Error(Errc::not_found, "node " + std::to_string(leave->node) + " is unknown"));
  if (!node_token_ok(leave->node, leave->token))
    return r.fail(refuse("leave_node of node " + std::to_string(leave->node)));
  if (it->second.alive) node_gone(leave->node, "left: " + (leave->reason.empty() ? "worker stopped" : leave->reason), true);
  r.reply(msgpack::type::nil_t());
}

void Scheduler::node_gone(NodeId id, const std::string& reason, bool left) {
  NodeInfo& n = nodes_.at(id);
  n.alive = false;
  n.death_reason = reason;
  persist(n);
  Event e;
  e.topic = "node";
  e.node = id;
  e.state = ActorState::dead;
  e.message = n.death_reason;
  publish(e);
  for (auto& [aid, a] : actors_) {
    if (a.info.node != id) continue;
    if (a.info.state != ActorState::alive && a.info.state != ActorState::starting) continue;
    ActorExit exit;
    exit.actor = aid;
    exit.incarnation = a.info.incarnation;
    exit.signal = 0;
    exit.exit_code = -1;
    exit.reason = "node " + std::to_string(id) + (left ? " " : " lost (") + n.death_reason + (left ? "" : ")");
    // An operator took the host away (an upgrade, the end of an allocation):
    // not the actor's fault, so it does not need a restart left (an actor
    // spawned with max_restarts 0 asked never to be restarted: it stays DEAD).
    if (left && !a.kill_requested && a.info.spec.max_restarts != 0) a.restart_requested = true;
    handle_death(a, exit);
  }
}

// ---- actors ----

Scheduler::ActorEntry* Scheduler::find_actor(ActorId id, const std::string& name) {
  if (id != 0) {
    auto it = actors_.find(id);
    return it == actors_.end() ? nullptr : &it->second;
  }
  // By name: the live one, else the most recent dead one.
  ActorEntry* found = nullptr;
  for (auto& [aid, a] : actors_) {
    if (a.info.spec.name != name) continue;
    if (a.info.state != ActorState::dead) return &a;
    found = &a;
  }
  return found;
}

void Scheduler::on_spawn(const Message& m, const Responder& r) {
  auto spec = m.body_as<ActorSpec>();
  if (!spec.ok()) return r.fail(spec.error());
  if (spec->class_name.empty()) return r.fail(Error(Errc::invalid_argument, "spawn: class_name is empty"));
  // Workers build log file names from it: refused here already, before anything is placed.
  if (auto named = check_actor_name(spec->name); !named.ok())
    return r.fail(Error(Errc::invalid_argument, "spawn: " + named.error().message));
  if (spec->resources.cpus < 0 || spec->resources.gpus < 0 || spec->resources.gpus != std::floor(spec->resources.gpus))
    return r.fail(Error(Errc::invalid_argument, "spawn: cpus must be ≥ 0 and gpus a whole number ≥ 0"));
  if (spec->job != 0) {
    const JobInfo* job = jobs_.find(spec->job);
    if (job == nullptr) return r.fail(Error(Errc::not_found, "spawn: no job " + std::to_string(spec->job)));
    if (job->state != "RUNNING")
      return r.fail(Error(Errc::invalid_argument, "spawn: job " + job->name + " has ended: " + job->state +
                                                      (job->reason.empty() ? "" : " (" + job->reason + ")")));
  }
  if (!spec->name.empty()) {
    for (auto& [id, a] : actors_)
      if (a.info.spec.name == spec->name && a.info.state != ActorState::dead)
        return r.fail(Error(Errc::invalid_argument, "an actor named '" + spec->name + "' already exists (id " +
                                                        std::to_string(id) + ", " +
                                                        std::string(state_name(a.info.state)) + ")"));
  }
  if (actors_.size() >= options_.max_actors) {
    // Bounded table: the dead are forgotten first, the one that died longest ago.
    auto oldest = actors_.end();
    for (auto it = actors_.begin(); it != actors_.end(); ++it)
      if (it->second.info.state == ActorState::dead &&
          (oldest == actors_.end() || it->second.info.state_since_ms < oldest->second.info.state_since_ms))
        oldest = it;
    if (oldest == actors_.end())
      return r.fail(Error(Errc::unavailable, "spawn: " + std::to_string(actors_.size()) +
                                                 " actors are alive, the most this scheduler keeps (max_actors)"));
    actors_.erase(oldest);
  }
  ActorEntry a;
  a.info.id = next_actor_++;
  a.info.spec = std::move(spec.value());
  a.info.state = ActorState::pending;
  a.info.state_since_ms = now_ms();
  auto& entry = actors_[a.info.id] = std::move(a);
  set_state(entry, ActorState::pending, "spawned");
  place(entry);
  r.reply(public_info(entry.info));
}

void Scheduler::place(ActorEntry& a) {
  const Resources& want = a.info.spec.resources;
  NodeInfo* best = nullptr;
  for (auto& [id, n] : nodes_) {
    if (!n.alive) continue;
    if (!fits(n, want)) continue;
    if (best == nullptr || free_resources(n).cpus > free_resources(*best).cpus) best = &n;
  }
  if (best == nullptr) {
    std::string why = "no alive node has " + fmt_res(want.cpus) + " CPU and " + fmt_res(want.gpus) + " GPU free";
    int alive = 0;
    for (auto& [id, n] : nodes_) {
      if (!n.alive) continue;
      ++alive;
      const Resources free = free_resources(n);
      why += "; node " + std::to_string(id) + ": " + fmt_res(free.cpus) + "/" + fmt_res(n.total.cpus) + " CPU, " +
             fmt_res(free.gpus) + "/" + fmt_res(n.total.gpus) + " GPU free";
    }
    if (alive == 0) why = "no alive nodes";
    if (a.info.pending_reason != why) {
      a.info.pending_reason = why;
      if (a.info.state != ActorState::pending) a.info.state = ActorState::pending;
      set_state(a, ActorState::pending, why);
    }
    return;
  }
  launch(a, *best);
}

void Scheduler::place_pending() {
  for (auto& [id, a] : actors_)
    if (a.info.state == ActorState::pending) place(a);
}

void Scheduler::launch(ActorEntry& a, NodeInfo& node) {
  const Resources& want = a.info.spec.resources;
  add_resources(node.used, want);
  a.info.gpu_ids.clear();
  auto& free = free_gpus_[node.id];
  for (int i = 0; i < static_cast<int>(want.gpus) && !free.empty(); ++i) {
    a.info.gpu_ids.push_back(free.front());
    free.erase(free.begin());
  }
  a.info.node = node.id;
  a.info.pending_reason.clear();
  a.failure_reason.clear();
  a.failure_permanent = false;
  // Each placement its own token: a process of an older one cannot pass for this one.
  a.start_token = make_token();
  set_state(a, ActorState::starting, "placed on node " + std::to_string(node.id));
  StartActor start;
  start.actor = a.info.id;
  start.incarnation = a.info.incarnation;
  start.class_name = a.info.spec.class_name;
  start.name = a.info.spec.name;
  start.code_paths = a.info.spec.code_paths;
  start.gpu_ids = a.info.gpu_ids;
  start.start_token = a.start_token;
  Header h;
  h.method = "start_actor";
  auto call = runtime_->client().call(node.endpoint, "start_actor", encode(h, start),
                                      CallOptions{std::chrono::milliseconds(10000), false});
  const ActorId id = a.info.id;
  const Incarnation inc = a.info.incarnation;
  call->add_callback([this, id, inc](const Result<Message>& r) {
    if (r.ok()) return;
    auto it = actors_.find(id);
    if (it == actors_.end() || it->second.info.incarnation != inc || it->second.info.state != ActorState::starting) return;
    ActorExit exit;
    exit.actor = id;
    exit.incarnation = inc;
    exit.exit_code = -1;
    exit.reason = "the worker could not start it: " + r.error().to_string();
    handle_death(it->second, exit);
  });
}

void Scheduler::release(ActorEntry& a) {
  auto it = nodes_.find(a.info.node);
  if (it == nodes_.end()) return;
  take_back_resources(it->second.used, a.info.spec.resources);
  auto& free = free_gpus_[a.info.node];
  free.insert(free.end(), a.info.gpu_ids.begin(), a.info.gpu_ids.end());
  std::sort(free.begin(), free.end());
  a.info.gpu_ids.clear();
}

void Scheduler::on_actor_spec(const Message& m, const Responder& r) {
  auto ref = m.body_as<ActorRef>();
  if (!ref.ok()) return r.fail(ref.error());
  auto it = actors_.find(ref->actor);
  if (it == actors_.end()) return r.fail(Error(Errc::not_found, "no actor " + std::to_string(ref->actor)));
  // The constructor arguments go only to the process started for the current placement.
  const bool has_process = it->second.info.state == ActorState::starting || it->second.info.state == ActorState::alive;
  if (!has_process || !token_matches(it->second.start_token, ref->token))
    return r.fail(refuse("actor_spec of actor " + std::to_string(ref->actor)));
  r.reply(it->second.info.spec);
}

void Scheduler::on_actor_ready(const Message& m, const Responder& r) {
  auto ready = m.body_as<ActorReady>();
  if (!ready.ok()) return r.fail(ready.error());
  auto it = actors_.find(ready->actor);
  if (it == actors_.end()) return r.fail(Error(Errc::not_found, "no actor " + std::to_string(ready->actor)));
  ActorEntry& a = it->second;
  // Only the current placement's process says it is ready (an older one is fenced below).
  if (a.info.incarnation == ready->incarnation && !token_matches(a.start_token, ready->token))
    return r.fail(refuse("actor_ready of actor " + std::to_string(a.info.id)));
  // A repeat (the process asks again when its connection dropped before our
  // reply reached it): the same answer.
  if (a.info.incarnation == ready->incarnation && a.info.state == ActorState::alive && !a.kill_requested &&
      a.info.pid == ready->pid && a.info.endpoint == ready->endpoint)
    return r.reply(public_info(a.info));
  if (a.info.incarnation != ready->incarnation || a.info.state != ActorState::starting || a.kill_requested) {
    // A zombie of an older incarnation (or one we gave up on): fence it off.
    return r.fail(Error(Errc::stale_incarnation, "actor " + std::to_string(a.info.id) + " is at incarnation " +
                                                     std::to_string(a.info.incarnation) + " (" +
                                                     std::string(state_name(a.info.state)) + "); stop"));
  }
  a.info.endpoint = ready->endpoint;
  a.info.pid = ready->pid;
  set_state(a, ActorState::alive, "serving at " + ready->endpoint);
  r.reply(public_info(a.info));
}

void Scheduler::on_actor_failed(const Message& m, const Responder& r) {
  auto f = m.body_as<ActorFailed>();
  if (!f.ok()) return r.fail(f.error());
  auto it = actors_.find(f->actor);
  if (it != actors_.end() && it->second.info.incarnation == f->incarnation) {
    // The reason becomes the death's: only the incarnation's own process gives it.
    if (!token_matches(it->second.start_token, f->token))
      return r.fail(refuse("actor_failed of actor " + std::to_string(f->actor)));
    it->second.failure_reason = f->reason;
    it->second.failure_permanent = f->permanent;
  }
  r.reply(msgpack::type::nil_t());
}

void Scheduler::on_actor_exited(const Message& m, const Responder& r) {
  auto exit = m.body_as<ActorExit>();
  if (!exit.ok()) return r.fail(exit.error());
  auto it = actors_.find(exit->actor);
  if (it != actors_.end() && it->second.info.incarnation == exit->incarnation &&
      (it->second.info.state == ActorState::alive || it->second.info.state == ActorState::starting)) {
    // Only the worker of the node that runs it reports its end (a stale report is ignored as before).
    if (!node_token_ok(it->second.info.node, exit->token))
      return r.fail(refuse("actor_exited of actor " + std::to_string(exit->actor) + " on node " +
                           std::to_string(it->second.info.node)));
    handle_death(it->second, exit.value());
  }
  r.reply(msgpack::type::nil_t());
}

void Scheduler::handle_death(ActorEntry& a, const ActorExit& exit) {
  // Before the state changes below: how long this incarnation ran (backoff reset).
  const bool ran_healthy = a.info.state == ActorState::alive &&
                           now_ms() - a.info.state_since_ms >= options_.restart_backoff_reset.count();
  release(a);
  DeathRecord d;
  d.incarnation = a.info.incarnation;
  d.exit_code = exit.exit_code;
  d.signal = exit.signal;
  d.reason = !a.failure_reason.empty() ? a.failure_reason : exit.reason;
  if (a.kill_requested) d.reason = a.kill_reason.empty() ? "killed by user" : a.kill_reason;
  if (d.reason.empty())
    d.reason = exit.signal != 0 ? "killed by signal " + std::to_string(exit.signal)
                                : "exited with code " + std::to_string(exit.exit_code);
  d.time_ms = now_ms();
  d.node = a.info.node;
  a.info.deaths.push_back(d);
  if (a.info.deaths.size() > 100) a.info.deaths.erase(a.info.deaths.begin());
  a.info.endpoint.clear();
  a.info.pid = 0;
  const bool clean_exit = exit.exit_code == 0 && exit.signal == 0 && !a.restart_requested;
  const bool may_restart =
      a.restart_requested || (a.info.spec.max_restarts < 0 || a.info.restarts < a.info.spec.max_restarts);
  const bool permanent = a.failure_permanent && !a.restart_requested && !a.kill_requested;
  if (a.kill_requested || clean_exit || !may_restart || permanent) {
    std::string why = d.reason;
    if (permanent)
      why += "; not restarted: its constructor refused its input, which a restart would not change";
    else if (!a.kill_requested && !clean_exit)
      why += "; no restarts left (max_restarts " + std::to_string(a.info.spec.max_restarts) + ")";
    set_state(a, ActorState::dead, why, d.exit_code, d.signal);
    answer_waiters(a);
    driver_gone(a.info.id, (a.info.spec.name.empty() ? "actor " + std::to_string(a.info.id) : a.info.spec.name) +
                               " died: " + d.reason);
    place_pending();
    return;
  }
  a.restart_requested = false;
  // Bounded exponential backoff: base · 2^(restarts since it last ran
  // healthy), capped. An incarnation that ran restart_backoff_reset or longer
  // resets the doubling (as Kubernetes resets CrashLoopBackOff), so an actor
  // killed now and then restarts quickly; `restarts` stays the total. The
  // delay is recorded with the death: recovery time = this choice + the
  // mechanism's own time, and a report can tell them apart.
  if (ran_healthy) a.backoff_restarts = 0;
  const int n = std::min(a.backoff_restarts, 16);
  auto delay = std::min(options_.restart_backoff * (int64_t{1} << n), options_.restart_backoff_max);
  a.info.deaths.back().restart_delay_ms = delay.count();
  set_state(a, ActorState::restarting, d.reason, d.exit_code, d.signal);
  // A driver's state (the job's loop) is not in its next incarnation: the job has lost it.
  driver_gone(a.info.id, (a.info.spec.name.empty() ? "actor " + std::to_string(a.info.id) : a.info.spec.name) +
                             " died: " + d.reason);
  ++a.info.restarts;
  ++a.backoff_restarts;
  const ActorId id = a.info.id;
  runtime_->io().post_after(delay, [this, id] {
    auto it = actors_.find(id);
    if (it == actors_.end() || it->second.info.state != ActorState::restarting) return;
    ++it->second.info.incarnation;
    it->second.info.state = ActorState::pending;
    place(it->second);
  });
  place_pending();
}

void Scheduler::on_kill(const Message& m, const Responder& r) {
  auto ref = m.body_as<ActorRef>();
  if (!ref.ok()) return r.fail(ref.error());
  ActorEntry* a = find_actor(ref->actor, ref->name);
  if (a == nullptr || a->info.state == ActorState::dead)
    return r.fail(Error(Errc::not_found, "no live actor " + (ref->name.empty() ? std::to_string(ref->actor) : "'" + ref->name + "'")));
  auto answer = [r](Result<void> res) {
    if (res.ok())
      r.reply(msgpack::type::nil_t());
    else
      r.fail(res.error());
  };
  if (!ref->restart) return kill_actor(*a, "", answer);
  a->restart_requested = true;
  persist(*a);
  if (a->info.state == ActorState::pending || a->info.state == ActorState::restarting) return r.reply(msgpack::type::nil_t());
  send_stop(*a, SIGKILL, answer);
}

void Scheduler::kill_actor(ActorEntry& a, const std::string& reason, std::function<void(Result<void>)> done) {
  a.kill_requested = true;
  a.kill_reason = reason;
  persist(a);
  if (a.info.state == ActorState::pending || a.info.state == ActorState::restarting) {
    // No process: nothing to wait for.
    set_state(a, ActorState::dead, reason.empty() ? "killed by user" : reason);
    answer_waiters(a);
    return done(Result<void>());
  }
  send_stop(a, SIGKILL, std::move(done));
}

void Scheduler::send_stop(ActorEntry& a, int signal, std::function<void(Result<void>)> done) {
  auto node = nodes_.find(a.info.node);
  if (node == nodes_.end()) return done(Error(Errc::not_found, "the actor's node is unknown"));
  ActorExit stop;
  stop.actor = a.info.id;
  stop.incarnation = a.info.incarnation;
  stop.signal = signal;
  Header h;
  h.method = "stop_actor";
  auto call = runtime_->client().call(node->second.endpoint, "stop_actor", encode(h, stop),
                                      CallOptions{std::chrono::milliseconds(5000), false});
  call->add_callback([done = std::move(done)](const Result<Message>& res) {
    if (res.ok())
      done(Result<void>());
    else
      done(res.error());
  });
}

void Scheduler::on_resolve(const Message& m, const Responder& r) {
  auto ref = m.body_as<ActorRef>();
  if (!ref.ok()) return r.fail(ref.error());
  ActorEntry* a = find_actor(ref->actor, ref->name);
  if (a == nullptr)
    return r.fail(Error(Errc::not_found, "no actor " + (ref->name.empty() ? std::to_string(ref->actor) : "named '" + ref->name + "'")));
  if (a->info.state == ActorState::alive || a->info.state == ActorState::dead || ref->wait_ms <= 0)
    return r.reply(public_info(a->info));
  // Long poll: answer when it is ALIVE or DEAD, or with its state at the deadline.
  const uint64_t wid = next_waiter_++;
  const ActorId id = a->info.id;
  waiters_[id].push_back(Waiter{wid, r});
  runtime_->io().post_after(std::chrono::milliseconds(ref->wait_ms), [this, id, wid] {
    auto w = waiters_.find(id);
    if (w == waiters_.end()) return;
    auto& list = w->second;
    auto it = std::find_if(list.begin(), list.end(), [wid](const Waiter& x) { return x.id == wid; });
    if (it == list.end()) return;
    it->responder.reply(public_info(actors_.at(id).info));
    list.erase(it);
  });
}

void Scheduler::answer_waiters(ActorEntry& a) {
  auto w = waiters_.find(a.info.id);
  if (w == waiters_.end()) return;
  ActorInfo info = public_info(a.info);
  for (auto& waiter : w->second) waiter.responder.reply(info);
  waiters_.erase(w);
}

void Scheduler::on_state(const Message&, const Responder& r) { r.reply(build_state()); }

void Scheduler::on_job_report(const Message& m, const Responder& r) {
  auto report = m.body_as<JobInfo>();
  if (!report.ok()) return r.fail(report.error());
  // A registered job takes reports from its driver only, by id or by name (an
  // id-0 report merges by name). An unregistered job has no token: its
  // reports stay as they were, capped (docs/LIMITS.md).
  if (const JobInfo* known = report->id != 0 ? jobs_.find(report->id) : jobs_.find(report->name);
      known != nullptr && known->id != 0 && !JobTable::is_final(known->state) &&
      !job_token_ok(known->id, report->token))
    return r.fail(refuse("job_report of job " + known->name));
  report->token.clear();  // checked; never kept
  const JobId id = report->id;
  const std::string name = report->name;
  auto ended = jobs_.report(std::move(report.value()), now_ms());
  if (!ended.ok()) return r.fail(ended.error());
  if (*ended) {
    const JobInfo* job = id != 0 ? jobs_.find(id) : jobs_.find(name);
    if (job != nullptr) end_job(*job);
  }
  r.reply(msgpack::type::nil_t());
}

ActorInfo Scheduler::public_info(const ActorInfo& a) const {
  ActorInfo out = a;
  out.spec.ctor_args.clear();
  return out;
}

ClusterState Scheduler::build_state() const {
  ClusterState s;
  s.time_ms = now_ms();
  for (auto& [id, n] : nodes_) s.nodes.push_back(n);
  for (auto& [id, a] : actors_) s.actors.push_back(public_info(a.info));
  s.events.assign(events_.begin(), events_.end());
  s.jobs = jobs_.list();
  return s;
}

void Scheduler::set_state(ActorEntry& a, ActorState s, const std::string& message, int exit_code, int signal) {
  a.info.state = s;
  a.info.state_since_ms = now_ms();
  persist(a);
  Event e;
  e.topic = "actor";
  e.actor = a.info.id;
  e.node = a.info.node;
  e.name = a.info.spec.name;
  e.state = s;
  e.incarnation = a.info.incarnation;
  e.endpoint = a.info.endpoint;
  e.exit_code = exit_code;
  e.signal = signal;
  e.message = message;
  publish(e);
  if (s == ActorState::alive) answer_waiters(a);
}

void Scheduler::publish(Event e) {
  e.seq = ++event_seq_;
  e.time_ms = now_ms();
  events_.push_back(e);
  while (events_.size() > options_.event_history) events_.pop_front();
  Header h;
  h.kind = Kind::event;
  h.method = e.topic;
  Frames f = encode(h, e);
  runtime_->io().publish(f);
}

}  // namespace troupe
