#include "tools/troupe/inspector.hpp"

#include <pthread.h>

#include <csignal>
#include <cstdlib>
#include <regex>
#include <thread>

#include "runtime/codec.hpp"

namespace troupe::cli {

std::string default_address() {
  const char* env = std::getenv("TROUPE_ADDRESS");
  return env != nullptr && *env != '\0' ? env : "tcp://127.0.0.1:7400";
}

Result<void> check_address(const std::string& address) {
  static const std::regex tcp(R"(tcp://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+):([0-9]{1,5}))");
  std::smatch m;
  if (std::regex_match(address, m, tcp)) {
    if (std::stoi(m[2].str()) > 0 && std::stoi(m[2].str()) < 65536) return {};
  } else if ((address.rfind("ipc://", 0) == 0 && address.size() > 6) ||
             (address.rfind("inproc://", 0) == 0 && address.size() > 9)) {
    return {};
  }
  return Error(Errc::invalid_argument, "bad scheduler address '" + address + "': expected tcp://HOST:PORT");
}

Inspector::Inspector(std::string address, std::chrono::milliseconds timeout)
    : address_(std::move(address)), timeout_(timeout) {}

Inspector::~Inspector() {
  if (runtime_) runtime_->stop();
}

Result<std::unique_ptr<Inspector>> Inspector::open(std::string address, std::chrono::milliseconds timeout) {
  if (auto ok = check_address(address); !ok.ok()) return ok.error();
  std::unique_ptr<Inspector> in(new Inspector(address, timeout));
  Runtime::Options o;
  o.scheduler = address;
  // Threads inherit the signal mask: start the runtime with SIGINT/SIGTERM
  // blocked so that only the calling (main) thread takes Ctrl-C.
  sigset_t stop, old;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, &old);
  try {
    in->runtime_ = std::make_unique<Runtime>(o);
    in->runtime_->start();
  } catch (const Exception& e) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return e.error();
  } catch (const std::exception& e) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return Error(Errc::invalid_argument, "cannot use scheduler address '" + address + "': " + e.what());
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return in;
}

template <class T>
Result<T> Inspector::ask(const std::string& endpoint, const std::string& what, const std::string& method,
                         const auto& body, std::chrono::milliseconds timeout) {
  auto r = runtime_->client().ask<T>(endpoint, method, body, timeout);
  // A refused handshake says so (runtime/io_peers.cpp): keep that, it tells the user to get the keys.
  if (!r.ok() && r.error().code == Errc::connection_lost &&
      r.error().message.find("security handshake") == std::string::npos &&
      r.error().message.find("refused our credentials") == std::string::npos)
    return Error(Errc::connection_lost,
                 what + " at " + endpoint + " did not answer within " + std::to_string(timeout.count()) + " ms");
  return r;
}

namespace {

ActorRef ref_of(const std::string& name) {
  ActorRef r;
  // All digits: an id; anything else: a name.
  if (!name.empty() && name.size() < 20 && name.find_first_not_of("0123456789") == std::string::npos)
    r.actor = std::stoull(name);
  else
    r.name = name;
  return r;
}

}  // namespace

Result<ClusterState> Inspector::state() {
  return ask<ClusterState>(address_, "the scheduler", "state", msgpack::type::nil_t(), timeout_);
}

Result<ActorInfo> Inspector::resolve(const std::string& name_or_id) {
  if (name_or_id.empty()) return Error(Errc::invalid_argument, "an actor name or id is needed");
  return ask<ActorInfo>(address_, "the scheduler", "resolve", ref_of(name_or_id), timeout_);
}

Result<void> Inspector::kill(const std::string& name_or_id, bool restart) {
  if (name_or_id.empty()) return Error(Errc::invalid_argument, "an actor name or id is needed");
  auto ref = ref_of(name_or_id);
  ref.restart = restart;
  return ask<void>(address_, "the scheduler", "kill", ref, timeout_);
}

Result<std::string> Inspector::logs(const ActorInfo& actor, int64_t lines) {
  auto node = node_endpoint(actor);
  if (!node.ok()) return node.error();
  return ask<std::string>(*node, "the worker", "logs", LogRequest{actor.id, lines}, timeout_);
}

Result<LogChunk> Inspector::log_chunk(const ActorInfo& actor, int64_t offset, int64_t max_bytes) {
  auto node = node_endpoint(actor);
  if (!node.ok()) return node.error();
  return ask<LogChunk>(*node, "the worker", "log_chunk", LogChunkRequest{actor.id, offset, max_bytes}, timeout_);
}

Result<void> Inspector::follow_logs(const std::string& name_or_id, int64_t lines,
                                    const std::function<void(const std::string&)>& out,
                                    const std::function<bool()>& stop) {
  auto info = resolve(name_or_id);
  if (!info.ok()) return info.error();
  auto start = log_chunk(*info, 0, 1);  // only its size: where the file ends now
  if (!start.ok()) return start.error();
  auto tail = logs(*info, lines);
  if (!tail.ok()) return tail.error();
  out(*tail);
  NodeId node = info->node;
  int64_t offset = start->size;
  while (!stop()) {
    for (int i = 0; i < 5 && !stop(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (stop()) break;
    auto now = resolve(name_or_id);
    if (!now.ok() || now->node == 0) continue;
    if (now->node != node) {  // restarted elsewhere: that node's file, from its start
      out("--- log of incarnation " + std::to_string(now->incarnation) + " on node " + std::to_string(now->node) +
          " ---\n");
      node = now->node;
      offset = 0;
    }
    for (;;) {  // everything new, in pieces of at most 1 MiB
      auto c = log_chunk(*now, offset);
      if (!c.ok()) break;
      if (c->offset < offset) out("--- log of incarnation " + std::to_string(now->incarnation) + " (a new file) ---\n");
      out(c->text);
      offset = c->end;
      if (c->text.empty() || c->end >= c->size) break;
    }
  }
  return {};
}

Result<std::string> Inspector::node_endpoint(const ActorInfo& actor) {
  if (actor.node == 0)
    return Error(Errc::not_found, "actor '" + (actor.spec.name.empty() ? std::to_string(actor.id) : actor.spec.name) +
                                      "' has not been placed on a node yet");
  auto s = state();
  if (!s.ok()) return s.error();
  for (const auto& n : s->nodes)
    if (n.id == actor.node) {
      if (!n.alive) return Error(Errc::connection_lost, "node " + std::to_string(n.id) + " holding the log is dead");
      return n.endpoint;
    }
  return Error(Errc::not_found, "node " + std::to_string(actor.node) + " is unknown to the scheduler");
}

Result<ActorCallStats> Inspector::stats(const ActorInfo& actor) {
  if (actor.state != ActorState::alive || actor.endpoint.empty())
    return Error(Errc::unavailable, "the actor is " + std::string(state_name(actor.state)));
  return query_actor_stats(runtime_->client(), actor.endpoint, std::min(timeout_, std::chrono::milliseconds(2000)));
}

ActorStatsMap Inspector::stats(const ClusterState& state) {
  return query_actor_stats(runtime_->client(), state, std::min(timeout_, std::chrono::milliseconds(2000)));
}

Result<void> Inspector::follow_events(std::function<void(const Event&)> fn) {
  if (following_) return {};
  auto r = runtime_->join_cluster(timeout_);
  if (!r.ok()) return r;
  runtime_->client().add_event_listener(std::move(fn));
  following_ = true;
  return {};
}

}  // namespace troupe::cli
