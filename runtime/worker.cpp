#include "runtime/worker.hpp"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "runtime/least_privilege.hpp"

namespace troupe {
namespace {

/// The devices an actor sees: its GPU indices mapped through the worker's own
/// CUDA_VISIBLE_DEVICES (Slurm's GRES or a unit's setting: index i is the
/// i-th device listed there), or the indices themselves when none is set.
std::string visible_devices(const std::vector<int>& ids, const std::vector<std::string>& own) {
  std::string s;
  for (int x : ids) {
    const bool mapped = !own.empty() && x >= 0 && x < static_cast<int>(own.size());
    s += (s.empty() ? "" : ",") + (mapped ? own[static_cast<std::size_t>(x)] : std::to_string(x));
  }
  return s;
}

std::vector<std::string> own_visible_devices() {
  std::vector<std::string> out;
  const char* env = std::getenv("CUDA_VISIBLE_DEVICES");
  if (env == nullptr) return out;
  std::string item;
  for (const char* c = env;; ++c) {
    if (*c == ',' || *c == '\0') {
      if (!item.empty()) out.push_back(item);
      item.clear();
      if (*c == '\0') break;
    } else if (*c != ' ') {
      item += *c;
    }
  }
  return out;
}

std::string tail_lines(const std::string& path, int64_t n) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (n <= 0) return all;
  std::size_t pos = all.size();
  if (pos > 0 && all[pos - 1] == '\n') --pos;
  for (int64_t k = 0; k < n && pos > 0; ++k) {
    pos = all.rfind('\n', pos - 1);
    if (pos == std::string::npos) return all;
  }
  return all.substr(pos + (all[pos] == '\n' ? 1 : 0));
}

}  // namespace

std::string find_troupe_binary() {
  if (const char* env = std::getenv("TROUPE_BIN"); env != nullptr && *env != '\0') return env;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    if (self.filename() == "troupe") return self.string();
    auto beside = self.parent_path() / "troupe";
    if (std::filesystem::exists(beside, ec)) return beside.string();
  }
#ifdef TROUPE_BIN_DIR
  auto built = std::filesystem::path(TROUPE_BIN_DIR) / "troupe";
  if (std::filesystem::exists(built, ec)) return built.string();
#endif
  return "troupe";
}

Worker::Worker(Options options) : options_(std::move(options)) {
  if (options_.cpus <= 0) options_.cpus = std::max(1u, std::thread::hardware_concurrency());
  if (options_.log_dir.empty()) options_.log_dir = "/tmp/troupe-logs-" + std::to_string(getpid());
  if (options_.troupe_binary.empty()) options_.troupe_binary = find_troupe_binary();
  own_devices_ = own_visible_devices();
  if (options_.code_path_allow.empty()) options_.code_path_allow = default_code_path_allow();
  std::filesystem::create_directories(options_.log_dir);
  auto lease = Lease::create();
  if (!lease.ok()) throw Exception(lease.error());
  lease_ = std::move(lease.value());
  Runtime::Options ro;
  ro.scheduler = options_.scheduler;
  ro.bind = "tcp://" + options_.host + ":*";
  ro.heartbeat = options_.heartbeat_interval;  // its connections' liveness follows the cluster's heartbeat
  if (options_.max_message_bytes != 0) ro.limits.max_message_bytes = options_.max_message_bytes;
  ro.keys = options_.keys;
  ro.insecure = options_.insecure;
  runtime_ = std::make_unique<Runtime>(ro);
  Server& s = runtime_->server();
  s.set_description("a worker");
  s.add("start_actor", [this](const Message& m, const Responder& r) { on_start_actor(m, r); }, false);
  s.add("stop_actor", [this](const Message& m, const Responder& r) { on_stop_actor(m, r); }, false);
  s.add("logs", [this](const Message& m, const Responder& r) { on_logs(m, r); }, false);
  s.add("log_chunk", [this](const Message& m, const Responder& r) { on_log_chunk(m, r); }, false);
  s.add("ping", [](const Message&, const Responder& r) { r.reply(msgpack::type::nil_t()); }, false);
}

Worker::~Worker() { stop(); }

const std::string& Worker::endpoint() const { return runtime_->io().endpoint(); }

void Worker::start() {
  runtime_->start();
  runtime_->io().post([this] {
    register_now();
    heartbeat();
  });
}

bool Worker::wait_registered(std::chrono::milliseconds timeout) {
  std::unique_lock lock(registered_mutex_);
  return registered_cv_.wait_for(lock, timeout, [this] { return node_id_.load() != 0; });
}

void Worker::stop(std::chrono::milliseconds grace) {
  if (!runtime_) return;
  std::promise<void> done;
  auto fut = done.get_future();
  runtime_->io().post([this, grace, &done] {
    stopping_ = true;
    lease_.revoke();  // its actors stop serving now: the scheduler is about to start them elsewhere
    for (auto& [id, r] : running_) r.child.signal(SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + grace;
    for (auto& [id, r] : running_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      (void)r.child.terminate(std::max(left, std::chrono::milliseconds(0)));
      runtime_->io().unwatch_fd(r.child.pidfd());
    }
    running_.clear();
    done.set_value();
  });
  // If the I/O thread is already gone the promise never completes: bound the wait.
  if (fut.wait_for(grace + std::chrono::seconds(2)) != std::future_status::ready) running_.clear();
  else leave();
  if (probe_.joinable()) probe_.join();
  runtime_->stop();
  runtime_.reset();
}

void Worker::leave() {
  if (!options_.leave_on_stop || node_id_.load() == 0) return;
  // Shared: the answer may come after this thread has given up waiting.
  auto left = std::make_shared<std::promise<void>>();
  auto fut = left->get_future();
  runtime_->io().post([this, left] {
    auto call = runtime_->client().call_scheduler(
        "leave_node", LeaveNode{node_id_.load(), options_.leave_reason, node_token_}, std::chrono::milliseconds(1000));
    call->add_callback([left](const Result<Message>&) { left->set_value(); });
  });
  // An unreachable scheduler declares the node dead after its heartbeat timeout instead.
  (void)fut.wait_for(std::chrono::milliseconds(1500));
}

void Worker::register_now() {
  if (stopping_ || registering_) return;
  registering_ = true;
  NodeRegistration reg;
  reg.host = options_.host;
  reg.endpoint = runtime_->io().endpoint();
  reg.total = Resources{options_.cpus, static_cast<double>(options_.gpus), options_.memory_mb};
  reg.pid = getpid();
  reg.log_dir = options_.log_dir;
  reg.previous_id = node_id_.load();
  reg.token = node_token_;  // proves previous_id is this worker's
  for (auto& [id, r] : running_) reg.running.push_back(RunningActor{id, r.incarnation});
  const auto sent = Lease::Clock::now();
  auto call = runtime_->client().call_scheduler("register_node", reg, std::chrono::milliseconds(2000));
  call->add_callback([this, sent](const Result<Message>& r) {
    registering_ = false;
    if (stopping_) return;
    auto ok = r.ok() ? r.value().body_as<Registered>() : Result<Registered>(r.error());
    if (!ok.ok()) {
      // The scheduler may not be up yet, or restarting: try again shortly.
      runtime_->io().post_after(std::chrono::milliseconds(200), [this] { register_now(); });
      return;
    }
    if (node_id_.load() == 0) runtime_->io().subscribe(ok->events_endpoint);
    node_token_ = ok->node_token;
    {
      std::lock_guard lock(registered_mutex_);
      node_id_.store(ok->node);
    }
    registered_cv_.notify_all();
    // Fencing after a partition: copies the cluster has replaced must not keep working.
    for (const auto& stale : ok->stop) {
      auto it = running_.find(stale.actor);
      if (it == running_.end() || it->second.incarnation != stale.incarnation) continue;
      std::fprintf(stderr, "troupe worker: stopping actor %llu incarnation %u: replaced while this host was cut off\n",
                   static_cast<unsigned long long>(stale.actor), stale.incarnation);
      it->second.child.signal(SIGKILL);
    }
    // Only now (the replaced copies are killed) may the others serve again.
    lease_ms_ = ok->lease_ms;
    renew_lease(sent);
  });
}

void Worker::renew_lease(Lease::Clock::time_point sent) {
  if (lease_ms_ <= 0) lease_.renew(Lease::Clock::time_point::max());  // a scheduler without leases
  else lease_.renew(sent + std::chrono::milliseconds(lease_ms_));
}

void Worker::probe_scheduler() {
  if (lease_ms_ <= 0 || probing_.exchange(true)) return;
  if (probe_.joinable()) probe_.join();  // the previous probe has finished (probing_ was false)
  probe_ = std::jthread([this] {
    const auto t = Lease::Clock::now();
    // Refused: the scheduler's host answers and nothing listens, so no scheduler
    // can declare this node dead before it restarts and waits its grace period.
    if (connect_refused(options_.scheduler, std::min(options_.heartbeat_interval, std::chrono::milliseconds(300))))
      lease_.renew(t + std::chrono::milliseconds(lease_ms_));
    probing_ = false;
  });
}

void Worker::heartbeat() {
  if (stopping_) return;
  if (node_id_.load() != 0) {
    if (heartbeats_out_ > 0) probe_scheduler();  // the last one is still unanswered: is the scheduler down?
    const auto sent = Lease::Clock::now();
    ++heartbeats_out_;
    auto call = runtime_->client().call_scheduler("heartbeat", Heartbeat{node_id_.load(), node_token_},
                                                  options_.heartbeat_interval * 4);
    call->add_callback([this, sent](const Result<Message>& r) {
      --heartbeats_out_;
      if (r.ok()) {
        renew_lease(sent);
      } else if (r.error().code == Errc::not_found || r.error().code == Errc::permission_denied) {
        // The scheduler declared this node dead and restarts its actors elsewhere (or
        // no longer takes this worker for the node): stop serving now.
        lease_.revoke();
        register_now();
      }
    });
  }
  runtime_->io().post_after(options_.heartbeat_interval, [this] { heartbeat(); });
}

void Worker::on_start_actor(const Message& m, const Responder& r) {
  auto start = m.body_as<StartActor>();
  if (!start.ok()) return r.fail(start.error());
  if (stopping_) return r.fail(Error(Errc::unavailable, "this worker is stopping"));
  if (running_.contains(start->actor))
    return r.fail(Error(Errc::invalid_argument, "actor " + std::to_string(start->actor) + " already runs here"));
  // Before any path is built or any process started: the name becomes a file
  // name, the code paths libraries the actor process loads.
  if (auto named = check_actor_name(start->name); !named.ok()) return r.fail(named.error());
  std::vector<std::string> code_paths;
  for (const auto& p : start->code_paths) {
    auto real = check_code_path(p, options_.code_path_allow);
    if (!real.ok()) return r.fail(real.error());
    code_paths.push_back(std::move(real.value()));
  }
  SpawnSpec spec;
  spec.exe = options_.troupe_binary;
  spec.args = {"actor", "--scheduler", options_.scheduler, "--host", options_.host, "--actor",
               std::to_string(start->actor), "--incarnation", std::to_string(start->incarnation),
               "--lease-fd", std::to_string(lease_.fd())};
  spec.inherit_fds = {lease_.fd()};
  if (options_.max_message_bytes != 0) {
    spec.args.push_back("--max-message-bytes");
    spec.args.push_back(std::to_string(options_.max_message_bytes));
  }
  for (const auto& p : code_paths) {  // the real paths checked: a link swapped now changes nothing
    spec.args.push_back("--code-path");
    spec.args.push_back(p);
  }
  // A GPU actor sees only its devices; a CPU actor sees none.
  spec.env.emplace_back("CUDA_VISIBLE_DEVICES", visible_devices(start->gpu_ids, own_devices_));
  // The actor uses this worker's keys: the folder, never the secret itself,
  // goes through the environment (readable by the same user only).
  spec.env.emplace_back("TROUPE_KEYS", runtime_->keys() ? runtime_->keys()->dir : std::string("none"));
  // The placement's capability, by the environment too: never on the command
  // line, which `ps` shows every user. The actor process removes it once read.
  spec.env.emplace_back("TROUPE_START_TOKEN", start->start_token);
  const std::string base = start->name.empty() ? file_safe(start->class_name) : start->name;
  spec.log_path = options_.log_dir + "/" + base + "-" + std::to_string(start->actor) + ".log";
  {
    std::ofstream banner(spec.log_path, std::ios::app);
    banner << "=== troupe: " << start->class_name << " actor " << start->actor << " incarnation "
           << start->incarnation << " starting ===\n";
  }
  // PR_SET_PDEATHSIG ties the child to the spawning thread: this runs on the
  // worker's I/O thread, which lives as long as the worker. (Handlers may also
  // run on a thread waiting on one of this runtime's call futures, see
  // io_thread.hpp; the worker never waits on its own calls, so none does.)
  auto child = Child::spawn(spec);
  if (!child.ok()) return r.fail(child.error());
  const ActorId id = start->actor;
  const int fd = child->pidfd();
  running_.emplace(id, Running{start->incarnation, start->name, spec.log_path, std::move(child.value())});
  runtime_->io().watch_fd(fd, [this, id] { on_child_exit(id); });
  r.reply(msgpack::type::nil_t());
}

void Worker::on_child_exit(ActorId id) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  auto status = it->second.child.try_reap();
  if (!status) return;
  runtime_->io().unwatch_fd(it->second.child.pidfd());
  ActorExit exit;
  exit.actor = id;
  exit.incarnation = it->second.incarnation;
  exit.exit_code = status->exit_code;
  exit.signal = status->signal;
  exit.reason = status->to_string();
  {
    std::ofstream banner(it->second.log_path, std::ios::app);
    banner << "=== troupe: actor " << id << " incarnation " << exit.incarnation << " ended: " << exit.reason
           << " ===\n";
  }
  running_.erase(it);
  report_exit(exit);
}

void Worker::report_exit(const ActorExit& exit) {
  if (stopping_) return;
  ActorExit told = exit;
  told.token = node_token_;  // the current one: a re-registration may have changed it
  auto call = runtime_->client().call_scheduler("actor_exited", told, std::chrono::milliseconds(3000));
  call->add_callback([this, exit](const Result<Message>& r) {
    // Keep telling until the scheduler has heard it (it may be restarting);
    // refused means the actor's node is no longer this worker's: nothing to tell.
    if (!r.ok() && r.error().code != Errc::permission_denied && !stopping_)
      runtime_->io().post_after(std::chrono::milliseconds(500), [this, exit] { report_exit(exit); });
  });
}

void Worker::on_stop_actor(const Message& m, const Responder& r) {
  auto stop = m.body_as<ActorExit>();
  if (!stop.ok()) return r.fail(stop.error());
  auto it = running_.find(stop->actor);
  if (it == running_.end() || it->second.incarnation != stop->incarnation)
    return r.fail(Error(Errc::not_found, "actor " + std::to_string(stop->actor) + " incarnation " +
                                             std::to_string(stop->incarnation) + " does not run here"));
  it->second.child.signal(stop->signal != 0 ? stop->signal : SIGKILL);
  r.reply(msgpack::type::nil_t());
}

std::optional<std::string> Worker::log_path(ActorId actor) const {
  // The actor may have ended: look for its file by the id suffix.
  std::error_code ec;
  const std::string suffix = "-" + std::to_string(actor) + ".log";
  for (auto& entry : std::filesystem::directory_iterator(options_.log_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return entry.path().string();
  }
  return std::nullopt;
}

void Worker::on_logs(const Message& m, const Responder& r) {
  auto req = m.body_as<LogRequest>();
  if (!req.ok()) return r.fail(req.error());
  if (auto path = log_path(req->actor)) return r.reply(tail_lines(*path, req->lines));
  r.fail(Error(Errc::not_found, "no log for actor " + std::to_string(req->actor) + " in " + options_.log_dir));
}

void Worker::on_log_chunk(const Message& m, const Responder& r) {
  auto req = m.body_as<LogChunkRequest>();
  if (!req.ok()) return r.fail(req.error());
  if (req->offset < 0 || req->max_bytes <= 0)
    return r.fail(Error(Errc::invalid_argument, "log_chunk: offset must be >= 0 and max_bytes > 0"));
  auto path = log_path(req->actor);
  if (!path)
    return r.fail(Error(Errc::not_found, "no log for actor " + std::to_string(req->actor) + " in " + options_.log_dir));
  std::ifstream in(*path, std::ios::binary | std::ios::ate);
  LogChunk c;
  c.size = in ? static_cast<int64_t>(in.tellg()) : 0;
  c.offset = req->offset <= c.size ? req->offset : 0;  // shorter than asked: a new file, from its start
  const int64_t n = std::min(c.size - c.offset, std::min<int64_t>(req->max_bytes, int64_t{16} << 20));
  c.text.resize(static_cast<std::size_t>(n));
  if (n > 0) {
    in.seekg(c.offset);
    in.read(c.text.data(), n);
    c.text.resize(static_cast<std::size_t>(in.gcount()));
  }
  c.end = c.offset + static_cast<int64_t>(c.text.size());
  r.reply(c);
}

}  // namespace troupe
