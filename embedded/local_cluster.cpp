#include "embedded/local_cluster.hpp"

#include <unistd.h>

#include <thread>

#include "runtime/worker.hpp"
#include "scheduler/scheduler.hpp"

namespace troupe {

LocalServices::LocalServices(LocalOptions options, KeysPtr keys, Extras extras)
    : options_(std::move(options)), keys_(std::move(keys)), extras_(std::move(extras)) {
  if (extras_.bind.empty()) extras_.bind = "tcp://" + options_.host + ":*";
  if (options_.log_dir.empty()) options_.log_dir = "/tmp/troupe-" + std::to_string(::getpid()) + "/logs";
}

LocalServices::~LocalServices() { stop(); }

void LocalServices::start() {
  Scheduler::Options so;
  so.keys = keys_;
  so.insecure = !options_.secure;
  so.bind = extras_.bind;
  so.http_port = options_.http_port;
  so.http_host = options_.host;
  so.heartbeat_timeout = options_.heartbeat_timeout;
  scheduler_ = std::make_unique<Scheduler>(so);
  scheduler_->start();
  const double cpus = options_.cpus_per_worker > 0 ? options_.cpus_per_worker
                                                   : std::max(1u, std::thread::hardware_concurrency());
  for (int i = 0; i < options_.workers; ++i) {
    Worker::Options wo;
    wo.leave_on_stop = false;  // the cluster stops as a whole: no restarts elsewhere
    wo.scheduler = scheduler_->endpoint();
    wo.host = options_.host;
    wo.cpus = cpus;
    wo.gpus = options_.gpus_per_worker;
    wo.log_dir = options_.log_dir + "/worker-" + std::to_string(i + 1);
    wo.code_path_allow = extras_.code_path_allow;
    wo.keys = keys_;
    wo.insecure = !options_.secure;
    workers_.push_back(std::make_unique<Worker>(wo));
    workers_.back()->start();
  }
  for (auto& w : workers_)
    if (!w->wait_registered(std::chrono::seconds(10)))
      throw Exception(Error(Errc::unavailable, "a local worker did not register within 10 s"));
}

void LocalServices::stop() {
  for (auto& w : workers_) w->stop();
  workers_.clear();
  if (scheduler_) scheduler_->stop();
}

const std::string& LocalServices::endpoint() const { return scheduler_->endpoint(); }
int LocalServices::http_port() const { return scheduler_->http_port(); }
const std::string& LocalServices::http_token() const { return scheduler_->http_token(); }

Cluster local_cluster(LocalOptions o) {
  if (keys_disabled()) o.secure = false;
  KeysPtr keys;
  std::string ephemeral_dir;
  if (o.secure) {
    auto found = find_keys();
    if (!found.ok()) throw Exception(found.error());
    keys = found.value();
    if (!keys) {
      // Nothing to set up for the user: a pair of its own, private to this cluster.
      auto fresh = ephemeral_keys();
      if (!fresh.ok()) throw Exception(fresh.error());
      ephemeral_dir = fresh->dir;
      keys = std::make_shared<const ClusterKeys>(std::move(fresh.value()));
    }
  }
  // Shared so that the Cluster's shutdown hook owns it; removed after every process that reads the keys.
  auto services = std::shared_ptr<LocalServices>(new LocalServices(o, keys), [ephemeral_dir](LocalServices* s) {
    delete s;
    if (!ephemeral_dir.empty()) remove_keys_dir(ephemeral_dir);
  });
  services->start();
  Cluster::ConnectOptions co;
  co.keys = keys;
  co.insecure = !o.secure;
  co.on_shutdown = [services]() mutable { services.reset(); };
  return Cluster::connect(services->endpoint(), co);
}

}  // namespace troupe
