#include "runtime/actor_context.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "runtime/runtime.hpp"

namespace troupe {
namespace {
std::atomic<ActorContext*> g_this_actor{nullptr};
}

ActorContext::ActorContext(ActorId id, Incarnation incarnation, std::string name, Cluster cluster)
    : id_(id), incarnation_(incarnation), name_(std::move(name)), cluster_(std::move(cluster)) {}

ActorContext::~ActorContext() { stop_background(); }

void ActorContext::run_background(std::function<void(std::stop_token)> fn) {
  std::lock_guard lock(mutex_);
  tasks_.emplace_back([fn = std::move(fn)](std::stop_token st) {
    try {
      fn(st);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "troupe: background task failed: %s\n", e.what());
      std::fflush(stderr);
      std::_Exit(4);
    }
  });
}

void ActorContext::stop_background() {
  std::vector<std::jthread> tasks;
  {
    std::lock_guard lock(mutex_);
    tasks.swap(tasks_);
  }
  for (auto& t : tasks) t.request_stop();
  tasks.clear();  // joins
}

namespace {
void post_until_queued(Runtime& rt, std::function<void()> fn) {
  // try_post takes a copy: fn stays here for the retry when the queue is full.
  if (rt.executor().try_post(fn)) return;
  rt.io().post_after(std::chrono::milliseconds(5), [&rt, fn = std::move(fn)]() mutable {
    post_until_queued(rt, std::move(fn));
  });
}
}  // namespace

void ActorContext::post(std::function<void()> fn) { post_until_queued(cluster_.runtime(), std::move(fn)); }

ActorContext* current_actor() noexcept { return g_this_actor.load(); }

ActorContext& this_actor() {
  ActorContext* ctx = g_this_actor.load();
  if (ctx == nullptr) throw Exception(Error(Errc::invalid_argument, "this_actor() outside an actor process"));
  return *ctx;
}

void detail::set_this_actor(ActorContext* ctx) { g_this_actor.store(ctx); }

}  // namespace troupe
