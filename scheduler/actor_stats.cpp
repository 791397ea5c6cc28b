#include "scheduler/actor_stats.hpp"

#include <memory>
#include <vector>

#include "runtime/codec.hpp"

namespace troupe {
namespace {

std::shared_ptr<CallState> send_stats_call(Client& client, const std::string& endpoint,
                                           std::chrono::milliseconds timeout) {
  Header h;
  h.method = "__stats";
  return client.call(endpoint, "__stats", encode(h, msgpack::type::nil_t()), CallOptions{timeout, false});
}

Result<ActorCallStats> take(const std::shared_ptr<CallState>& st) {
  if (!st->ready()) return Error(Errc::timeout, "no answer to __stats");
  const auto& r = st->result();
  if (!r.ok()) return r.error();
  return r.value().body_as<ActorCallStats>();
}

}  // namespace

Result<ActorCallStats> query_actor_stats(Client& client, const std::string& endpoint,
                                         std::chrono::milliseconds timeout) {
  auto st = send_stats_call(client, endpoint, timeout);
  st->wait(timeout + std::chrono::milliseconds(100));
  return take(st);
}

ActorStatsMap query_actor_stats(Client& client, const ClusterState& state, std::chrono::milliseconds timeout) {
  // Send every call first, then wait against one deadline: the whole query
  // takes at most `timeout` however many actors there are.
  std::vector<std::pair<ActorId, std::shared_ptr<CallState>>> calls;
  for (const auto& a : state.actors)
    if (a.state == ActorState::alive && !a.endpoint.empty())
      calls.emplace_back(a.id, send_stats_call(client, a.endpoint, timeout));
  const auto deadline = std::chrono::steady_clock::now() + timeout + std::chrono::milliseconds(100);
  ActorStatsMap out;
  for (auto& [id, st] : calls) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    st->wait(std::max(left, std::chrono::milliseconds(0)));
    auto r = take(st);
    if (r.ok()) out.emplace(id, r.value());
  }
  return out;
}

}  // namespace troupe
