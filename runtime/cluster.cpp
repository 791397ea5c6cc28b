#include "runtime/cluster.hpp"

#include <unistd.h>

#include <mutex>
#include <utility>

namespace troupe {

struct Cluster::Impl {
  std::unique_ptr<Runtime> owned;
  Runtime* runtime = nullptr;
  int http_port = 0;
  std::function<void()> on_shutdown;  // after the driver's runtime: the services it talked to
  std::mutex mutex;
  bool down = false;

  void shutdown() {
    std::lock_guard lock(mutex);
    if (down) return;
    down = true;
    if (owned) {
      if (Runtime::current() == owned.get()) Runtime::set_current(nullptr);
      owned->stop();
    }
    if (on_shutdown) std::exchange(on_shutdown, nullptr)();
  }
  ~Impl() { shutdown(); }
};

namespace {

template <class T>
Result<T> ask(Runtime& rt, const char* method, const auto& body, std::chrono::milliseconds timeout) {
  return rt.client().ask<T>(rt.client().scheduler(), method, body, timeout);
}

constexpr auto kControlTimeout = std::chrono::milliseconds(10000);

}  // namespace

Cluster Cluster::connect(const std::string& address, ConnectOptions o) {
  auto impl = std::make_shared<Impl>();
  impl->on_shutdown = std::move(o.on_shutdown);  // run even when connecting fails
  Runtime::Options ro;
  ro.scheduler = address;
  ro.keys = std::move(o.keys);
  ro.insecure = o.insecure;
  ro.heartbeat = o.heartbeat;
  impl->owned = std::make_unique<Runtime>(ro);
  impl->runtime = impl->owned.get();
  impl->owned->start();
  if (auto joined = impl->owned->join_cluster(o.timeout); !joined.ok()) throw Exception(joined.error());
  Runtime::set_current(impl->runtime);
  auto hello = ask<HelloReply>(*impl->runtime, "hello", msgpack::type::nil_t(), o.timeout);
  if (hello.ok()) impl->http_port = hello->http_port;
  return Cluster(impl);
}

Cluster Cluster::attach(Runtime& runtime) {
  auto impl = std::make_shared<Impl>();
  impl->runtime = &runtime;
  impl->down = true;  // nothing of ours to shut down
  return Cluster(impl);
}

ActorSpec Cluster::make_spec(const ClassInfo& info, const SpawnOptions& options, const msgpack::sbuffer& args) {
  ActorSpec spec;
  spec.class_name = info.name;
  spec.name = options.name;
  spec.resources = Resources{options.cpus, options.gpus, options.memory_mb};
  spec.max_restarts = options.max_restarts;
  spec.retryable = options.retryable;
  spec.code_paths = options.code_paths;
  spec.job = options.job;
  if (spec.code_paths.empty() && !info.library.empty()) spec.code_paths.push_back(info.library);
  spec.ctor_args.assign(args.data(), args.data() + args.size());
  return spec;
}

Result<ActorInfo> Cluster::spawn_spec(const ActorSpec& spec) const {
  for (const auto& m : spec.retryable) {
    const ClassInfo* info = Registry::instance().find(spec.class_name);
    if (info != nullptr && info->method(m) == nullptr)
      return Error(Errc::invalid_argument, "retryable method '" + m + "' is not a method of " + spec.class_name +
                                               " (methods: " + info->method_list() + ")");
  }
  return ask<ActorInfo>(*impl_->runtime, "spawn", spec, kControlTimeout);
}

Result<ClusterState> Cluster::state(std::chrono::milliseconds timeout) const {
  return ask<ClusterState>(*impl_->runtime, "state", msgpack::type::nil_t(), timeout);
}

Result<ActorInfo> Cluster::wait_alive(ActorId id, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Error(Errc::timeout, "actor " + std::to_string(id) + " not ALIVE in time");
    // The scheduler long-polls: it answers as soon as the actor is ALIVE or DEAD.
    auto r = ask<ActorInfo>(*impl_->runtime, "resolve", ActorRef{id, "", std::min<int64_t>(left.count(), 2000), false},
                            left + std::chrono::milliseconds(1000));
    if (!r.ok()) return r.error();
    if (r->state == ActorState::alive) return r;
    if (r->state == ActorState::dead) {
      Error e(Errc::actor_died, "actor " + std::to_string(id) + " is DEAD");
      if (!r->deaths.empty()) {
        e.message += ": " + r->deaths.back().reason;
        e.exit_code = r->deaths.back().exit_code;
        e.signal = r->deaths.back().signal;
      }
      return e;
    }
  }
}

Result<void> Cluster::kill(const std::string& name, bool restart) const {
  return ask<void>(*impl_->runtime, "kill", ActorRef{0, name, 0, restart}, kControlTimeout);
}

Result<void> Cluster::kill(ActorId id, bool restart) const {
  return ask<void>(*impl_->runtime, "kill", ActorRef{id, "", 0, restart}, kControlTimeout);
}

void Cluster::report_job(const JobInfo& job) const {
  // The reply only says the scheduler heard it; progress reports are not worth waiting for.
  (void)impl_->runtime->client().call_scheduler("job_report", job, kControlTimeout);
}

Result<JobLease> Cluster::start_job(JobRegistration registration) const {
  if (registration.driver.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    registration.driver = "pid " + std::to_string(::getpid()) + " on " + host;
  }
  auto r = ask<JobRegistered>(*impl_->runtime, "job_register", registration, kControlTimeout);
  if (!r.ok()) return r.error();
  return JobLease(*impl_->runtime, impl_, r.value());
}

Result<JobLease> Cluster::adopt_job(JobId id, std::string token, std::string driver) const {
  auto r = ask<JobRegistered>(*impl_->runtime, "job_renew", JobRenewal{id, true, std::move(driver), token},
                              kControlTimeout);
  if (!r.ok()) return r.error();
  r->token = std::move(token);  // a renewal's answer does not repeat it
  return JobLease(*impl_->runtime, impl_, r.value());
}

Result<JobInfo> Cluster::job(const std::string& name, bool history, std::chrono::milliseconds timeout) const {
  return ask<JobInfo>(*impl_->runtime, "job", JobQuery{name, history}, timeout);
}

Result<ActorInfo> Cluster::lookup(const std::string& name) const {
  auto r = ask<ActorInfo>(*impl_->runtime, "resolve", ActorRef{0, name, 0, false}, kControlTimeout);
  if (r.ok() && r->state == ActorState::dead)
    return Error(Errc::not_found, "the actor named '" + name + "' is DEAD");
  return r;
}

const std::string& Cluster::address() const { return impl_->runtime->client().scheduler(); }
int Cluster::http_port() const { return impl_->http_port; }
const KeysPtr& Cluster::keys() const { return impl_->runtime->keys(); }
Runtime& Cluster::runtime() const { return *impl_->runtime; }
void Cluster::on_event(std::function<void(const Event&)> fn) const {
  impl_->runtime->client().add_event_listener(std::move(fn));
}
void Cluster::shutdown() const { impl_->shutdown(); }

}  // namespace troupe
