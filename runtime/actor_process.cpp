#include "runtime/actor_process.hpp"

#include <dlfcn.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <thread>

#include "kernels/cpu/threads.hpp"
#include "runtime/actor_context.hpp"
#include "runtime/lease.hpp"
#include "runtime/runtime.hpp"

namespace troupe {
namespace {

/// What "__stats" answers.
struct ActorStats {
  uint64_t calls_served = 0;
  uint64_t queue_depth = 0;
  uint64_t malformed = 0;
  uint64_t stale_rejected = 0;
  uint64_t unknown_method = 0;
  uint64_t overloaded = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  MSGPACK_DEFINE_MAP(calls_served, queue_depth, malformed, stale_rejected, unknown_method, overloaded, bytes_in,
                     bytes_out);
};

constexpr auto kControlTimeout = std::chrono::milliseconds(10000);

int fail(Runtime& rt, const ActorProcessOptions& o, const std::string& reason, int code, bool permanent = false) {
  std::fprintf(stderr, "troupe actor %llu: %s\n", static_cast<unsigned long long>(o.actor), reason.c_str());
  std::fflush(stderr);
  auto st = rt.client().call_scheduler(
      "actor_failed", ActorFailed{o.actor, o.incarnation, reason, permanent, o.start_token}, kControlTimeout);
  st->wait(kControlTimeout);
  return code;
}

/// A call to the scheduler at start-up, asked again while the connection is
/// lost (a loaded machine can miss a heartbeat, or the scheduler restarts on
/// its journal) until kControlTimeout has passed. The scheduler answers a
/// repeated actor_ready as it answered the first. Returns the last call,
/// complete, or null when none was answered in time.
template <class T>
std::shared_ptr<CallState> ask_scheduler(Runtime& rt, const std::string& method, const T& body) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + kControlTimeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto call = rt.client().call_scheduler(method, body, std::max(left, std::chrono::milliseconds(1)));
    if (!call->wait(left + std::chrono::milliseconds(500))) return nullptr;
    const Result<Message>& r = call->result();
    if (r.ok() || r.error().code != Errc::connection_lost || Clock::now() + std::chrono::milliseconds(100) >= deadline)
      return call;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a pause between attempts, not a wait for an event
  }
}

}  // namespace

std::string take_start_token() {
  const char* env = std::getenv("TROUPE_START_TOKEN");
  std::string token = env != nullptr ? env : "";
  ::unsetenv("TROUPE_START_TOKEN");
  return token;
}

Result<void> load_code_paths(const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    if (dlopen(p.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
      const char* err = dlerror();
      return Error(Errc::io_error, "cannot load code path " + p + ": " + (err ? err : "unknown error"));
    }
  }
  return {};
}

int run_actor_process(const ActorProcessOptions& o) {
  // Before any thread exists, so that every thread of the actor inherits it (kernels/cpu/threads.hpp).
  kernels::cpu::flush_denormals();
  // Every thread started from here on inherits this mask; sigwait() below is
  // then the only place these signals are delivered.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  Runtime::Options ro;
  ro.scheduler = o.scheduler;
  ro.bind = "tcp://" + o.host + ":*";
  ro.self = Identity{o.actor, o.incarnation};
  if (o.max_message_bytes != 0) ro.limits.max_message_bytes = o.max_message_bytes;
  // Serve calls, and call other actors, only while the worker holds the lease.
  // (Declared before the runtime, which uses it until it stops.)
  Lease lease;
  if (o.lease_fd >= 0) {
    auto attached = Lease::attach(o.lease_fd);
    if (!attached.ok()) {
      std::fprintf(stderr, "troupe actor %llu: %s\n", static_cast<unsigned long long>(o.actor),
                   attached.error().to_string().c_str());
      return 3;
    }
    lease = std::move(attached.value());
  }
  Runtime rt(ro);
  Runtime::set_current(&rt);
  auto gate = [&lease] { return lease.refusal(); };
  rt.server().set_gate(gate);
  rt.client().set_gate(gate);
  rt.start();

  if (auto loaded = load_code_paths(o.code_paths); !loaded.ok()) return fail(rt, o, loaded.error().message, 2);
  if (auto joined = rt.join_cluster(kControlTimeout); !joined.ok()) {
    std::fprintf(stderr, "troupe actor: %s\n", joined.error().to_string().c_str());
    return 3;
  }

  auto spec_call = ask_scheduler(rt, "actor_spec", ActorRef{o.actor, "", 0, false, o.start_token});
  if (!spec_call || !spec_call->result().ok())
    return fail(rt, o,
                "cannot fetch the actor's spec from the scheduler: " +
                    (spec_call ? spec_call->result().error().to_string() : std::string("no answer")),
                3);
  auto spec = spec_call->result().value().body_as<ActorSpec>();
  if (!spec.ok()) return fail(rt, o, "unreadable actor spec: " + spec.error().message, 3);

  const ClassInfo* info = Registry::instance().find(spec->class_name);
  if (info == nullptr) {
    std::string known;
    for (const auto& n : Registry::instance().names()) known += (known.empty() ? "" : ", ") + n;
    return fail(rt, o, "actor class '" + spec->class_name + "' is not registered here (known: " + known +
                           "); pass the library that defines it as a code path", 3);
  }

  ActorContext context(o.actor, o.incarnation, spec->name, Cluster::attach(rt));
  detail::set_this_actor(&context);

  std::shared_ptr<void> instance;
  try {
    msgpack::object_handle args = msgpack::unpack(spec->ctor_args.data(), spec->ctor_args.size());
    auto made = info->construct(args.get());
    if (!made.ok()) return fail(rt, o, spec->class_name + " constructor: " + made.error().message, 3, true);
    instance = std::move(made.value());
  } catch (const Exception& e) {
    // Bad input (a hostile or missing file, a bad config) fails every
    // incarnation alike: say it once instead of restarting into it again.
    const Errc c = e.error().code;
    const bool permanent = c == Errc::invalid_argument || c == Errc::bad_arguments || c == Errc::io_error;
    return fail(rt, o, spec->class_name + " constructor: " + e.error().message, 3, permanent);
  } catch (const std::exception& e) {
    return fail(rt, o, spec->class_name + " constructor threw: " + e.what(), 3);
  }

  // Register the methods on the I/O thread, which owns the server's table.
  std::promise<void> registered;
  rt.io().post([&] {
    Server& s = rt.server();
    s.set_description(spec->class_name + (spec->name.empty() ? "" : " '" + spec->name + "'") + " (methods: " +
                      info->method_list() + ")");
    for (const auto& m : info->methods) {
      s.add(m.name, [instance, invoke = m.invoke](const Message& call, const Responder& r) {
        invoke(instance.get(), call, r);
      });
    }
    s.add("__stats", [&rt](const Message&, const Responder& r) {
      const auto& ss = rt.server().stats();
      const auto& io = rt.io().stats();
      r.reply(ActorStats{ss.calls_served.load(), rt.executor().queue_depth(), ss.malformed.load(),
                         ss.stale_rejected.load(), ss.unknown_method.load(), ss.overloaded.load(),
                         io.bytes_in.load(), io.bytes_out.load()});
    }, false);
    registered.set_value();
  });
  registered.get_future().wait();

  const ActorReady said{o.actor, o.incarnation, rt.io().endpoint(), static_cast<int>(getpid()), o.start_token};
  auto ready = ask_scheduler(rt, "actor_ready", said);
  if (!ready || (!ready->result().ok() && ready->result().error().code == Errc::connection_lost)) {
    std::fprintf(stderr, "troupe actor %llu: the scheduler did not confirm readiness: %s\n",
                 static_cast<unsigned long long>(o.actor),
                 ready ? ready->result().error().to_string().c_str() : "no answer");
    return 3;
  }
  if (!ready->result().ok()) {
    // Fenced: a newer incarnation exists, or the scheduler gave up on this one.
    std::fprintf(stderr, "troupe actor %llu: not accepted: %s\n", static_cast<unsigned long long>(o.actor),
                 ready->result().error().to_string().c_str());
    return 0;
  }
  std::fprintf(stderr, "troupe actor %llu (%s) incarnation %u serving at %s\n",
               static_cast<unsigned long long>(o.actor), spec->class_name.c_str(), o.incarnation,
               rt.io().endpoint().c_str());
  std::fflush(stderr);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  context.stop_background();
  rt.stop();
  detail::set_this_actor(nullptr);
  instance.reset();
  return 0;
}

}  // namespace troupe
