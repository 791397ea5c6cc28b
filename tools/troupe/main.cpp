// troupe: one binary for every process of a cluster and for the tools that
// look at it. `troupe --help` lists the subcommands.
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "embedded/local_cluster.hpp"
#include "runtime/actor_process.hpp"
#include "runtime/keys.hpp"
#include "runtime/security.hpp"
#include "runtime/worker.hpp"
#include "scheduler/scheduler.hpp"
#include "tools/troupe/commands.hpp"
#include "tools/troupe/service_notify.hpp"
#include "tools/troupe/train.hpp"

namespace {

/// Blocks SIGINT/SIGTERM in this and every later thread; wait_for_stop() takes them.
sigset_t block_stop_signals() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &s, nullptr);
  return s;
}

int wait_for_stop(const sigset_t& s) {
  int sig = 0;
  sigwait(&s, &sig);
  return sig;
}

/// The keys of this process (runtime/keys.hpp), or exit code 2 with one line
/// when they are unreadable or when `endpoints` hold a non-loopback address
/// and there are none (secure by default: docs/SECURITY.md).
int check_keys(const char* who, const std::vector<std::string>& endpoints) {
  auto keys = troupe::find_keys();
  if (!keys.ok()) {
    std::fprintf(stderr, "%s: %s\n", who, keys.error().message.c_str());
    return 2;
  }
  if (keys.value()) return 0;
  for (const auto& ep : endpoints)
    if (!ep.empty() && !troupe::is_loopback_endpoint(ep)) {
      std::fprintf(stderr, "%s: %s\n", who, troupe::no_keys_message(ep).c_str());
      return 2;
    }
  return 0;
}

int keygen(const std::string& dir_flag, bool force) {
  std::string dir = dir_flag;
  if (dir.empty()) {
    const char* env = std::getenv("TROUPE_KEYS");
    dir = env != nullptr && *env != '\0' && std::string_view(env) != "none" ? env : troupe::default_keys_dir();
  }
  auto k = troupe::generate_keys(dir, force);
  if (!k.ok()) {
    std::fprintf(stderr, "troupe keygen: %s\n", k.error().message.c_str());
    return k.error().code == troupe::Errc::invalid_argument ? 2 : 1;
  }
  std::printf("troupe keygen: wrote %s/cluster.key (secret, 0600) and %s/cluster.pub\n", k->dir.c_str(),
              k->dir.c_str());
  std::printf("troupe keygen: copy this folder, privately, to every host and driver of the cluster "
              "(--keys DIR, TROUPE_KEYS=DIR, or %s)\n", troupe::default_keys_dir().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"troupe — an actor runtime for distributed training"};
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  troupe train examples/fashion_mnist.toml     train on an embedded local cluster\n"
      "  troupe up --workers 2                        a local cluster in the foreground\n"
      "  troupe status                                what the cluster runs\n"
      "Each command's --help gives its options and an example.");
  // --keys is accepted before or after the subcommand.
  app.fallthrough();
  std::string keys_dir;
  app.add_option("--keys", keys_dir,
                 "cluster key folder (cluster.key, cluster.pub); default: $TROUPE_KEYS, else ~/.config/troupe/keys");

  // troupe keygen
  std::string keygen_dir;
  bool keygen_force = false;
  auto* kg = app.add_subcommand("keygen", "write a cluster key pair (cluster.key 0600, cluster.pub)");
  kg->add_option("--dir", keygen_dir, "folder; default: --keys, $TROUPE_KEYS, else ~/.config/troupe/keys");
  kg->add_flag("--force", keygen_force, "replace existing keys");
  kg->footer("Example:\n  troupe keygen --dir /etc/troupe/keys");

  // troupe http-token
  auto* http_token = app.add_subcommand("http-token", "print the token the HTTP API asks for when not on loopback");
  http_token->footer("Example:\n  curl -H \"Authorization: Bearer $(troupe http-token)\" http://10.0.0.1:8265/api/state");

  // troupe scheduler
  troupe::Scheduler::Options so;
  int64_t hb_ms = 3000, backoff_ms = 100, backoff_max_ms = 5000, backoff_reset_ms = 10000;
  auto* sched = app.add_subcommand("scheduler", "run the cluster's scheduler");
  sched->footer("Example:\n  troupe scheduler --bind tcp://0.0.0.0:7400 --journal /var/lib/troupe/journal");
  sched->add_option("--bind", so.bind, "control endpoint")->capture_default_str();
  sched->add_option("--events", so.events_bind, "events (PUB) endpoint; default: same host, ephemeral port");
  sched->add_option("--http-port", so.http_port, "HTTP port for /api/state and /metrics (-1: none)")->capture_default_str();
  sched->add_option("--http-host", so.http_host, "HTTP address")->capture_default_str();
  sched->add_option("--journal", so.journal_dir, "journal directory");
  sched->add_option("--max-message-bytes", so.max_message_bytes,
                    "the largest message accepted (default 256 MiB; docs/LIMITS.md)")
      ->check(CLI::Range(std::size_t{4096}, std::size_t{1} << 32));
  sched->add_option("--http-allow-host", so.http_allowed_hosts,
                    "a Host header name the HTTP API accepts (beside IP addresses, localhost, this host's name)");
  sched->add_option("--heartbeat-timeout-ms", hb_ms, "declare a worker dead after this silence")->capture_default_str();
  sched->add_option("--restart-backoff-ms", backoff_ms, "delay before an actor's first restart; doubles per restart")
      ->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{3'600'000}));
  sched->add_option("--restart-backoff-max-ms", backoff_max_ms, "cap of the doubling restart delay")
      ->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{3'600'000}));
  sched->add_option("--restart-backoff-reset-ms", backoff_reset_ms,
                    "an incarnation alive this long restarts from the first delay again")
      ->capture_default_str()->check(CLI::Range(int64_t{0}, int64_t{86'400'000}));

  // troupe worker
  troupe::Worker::Options wo;
  auto* work = app.add_subcommand("worker", "run a worker on this host");
  work->footer("Example:\n  troupe worker --scheduler tcp://10.0.0.1:7400 --host 10.0.0.2 --cpus 16");
  work->add_option("--scheduler", wo.scheduler, "scheduler control endpoint")->required();
  work->add_option("--host", wo.host, "address this worker's actors bind")->capture_default_str();
  work->add_option("--cpus", wo.cpus, "CPUs to offer (default: all cores)");
  work->add_option("--gpus", wo.gpus, "GPUs to offer")->capture_default_str();
  work->add_option("--memory-mb", wo.memory_mb, "memory to offer");
  work->add_option("--log-dir", wo.log_dir, "per-actor log files");
  work->add_option("--max-message-bytes", wo.max_message_bytes,
                   "the largest message this worker and its actors accept (default 256 MiB; docs/LIMITS.md)")
      ->check(CLI::Range(std::size_t{4096}, std::size_t{1} << 32));
  work->add_option("--code-path-allow", wo.code_path_allow,
                   "a folder actor libraries may be loaded from, checked on the real path (repeatable; default: the "
                   "build's and install's library folders)");

  // troupe up
  troupe::LocalOptions uo{.http_port = 8265};
  troupe::LocalServices::Extras ux{.bind = "tcp://127.0.0.1:7400"};
  auto* up = app.add_subcommand("up", "scheduler plus N workers in the foreground; Ctrl-C stops all");
  up->footer("Example:\n  troupe up --workers 2 --http-port 8265");
  up->add_option("--workers", uo.workers, "number of workers")->capture_default_str()->check(CLI::Range(1, 256));
  up->add_option("--cpus-per-worker", uo.cpus_per_worker, "CPUs each worker offers (default: all cores)");
  up->add_option("--bind", ux.bind, "scheduler control endpoint")->capture_default_str();
  up->add_option("--http-port", uo.http_port, "HTTP port (-1: none)")->capture_default_str();
  up->add_option("--log-dir", uo.log_dir, "per-actor log files");
  up->add_option("--code-path-allow", ux.code_path_allow,
                 "a folder actor libraries may be loaded from (repeatable; default: the build's and install's)");

  // troupe actor (started by workers)
  troupe::ActorProcessOptions ao;
  auto* actor = app.add_subcommand("actor", "run one actor (started by a worker)");
  actor->add_option("--scheduler", ao.scheduler)->required();
  actor->add_option("--host", ao.host);
  actor->add_option("--actor", ao.actor)->required();
  actor->add_option("--incarnation", ao.incarnation)->required();
  actor->add_option("--code-path", ao.code_paths, "shared library with TROUPE_ACTOR classes");
  actor->add_option("--lease-fd", ao.lease_fd, "the worker's serving lease (a shared page it passes)");
  actor->add_option("--max-message-bytes", ao.max_message_bytes, "the largest message accepted (its worker's)");
  actor->group("");  // internal: hidden from --help

  troupe::cli::add_inspection_commands(app);

  // troupe train CONFIG.toml
  troupe::cli::TrainOptions train_options;
  auto* train = troupe::cli::add_train_command(app, train_options);

  CLI11_PARSE(app, argc, argv);
  // Before any thread exists: every later lookup (this process's runtimes,
  // the actor processes a worker starts) finds the keys here.
  if (!keys_dir.empty()) ::setenv("TROUPE_KEYS", keys_dir.c_str(), 1);
  // Likewise (unsetenv): an actor process takes its start token out of the
  // environment before anything could read or inherit it.
  if (*actor) ao.start_token = troupe::take_start_token();

  try {
    if (*kg) return keygen(keygen_dir.empty() ? keys_dir : keygen_dir, keygen_force);
    if (*http_token) {
      auto keys = troupe::find_keys();
      if (!keys.ok() || !keys.value()) {
        std::fprintf(stderr, "troupe http-token: %s\n",
                     keys.ok() ? troupe::no_keys_message("http").c_str() : keys.error().message.c_str());
        return 2;
      }
      std::printf("%s\n", keys.value()->http_token().c_str());
      return 0;
    }
    if (*sched) {
      if (int rc = check_keys("troupe scheduler", {so.bind, so.events_bind,
                                                    so.http_port >= 0 ? "tcp://" + so.http_host + ":0" : ""});
          rc != 0)
        return rc;
      so.heartbeat_timeout = std::chrono::milliseconds(hb_ms);
      so.restart_backoff = std::chrono::milliseconds(backoff_ms);
      so.restart_backoff_max = std::chrono::milliseconds(backoff_max_ms);
      so.restart_backoff_reset = std::chrono::milliseconds(backoff_reset_ms);
      auto signals = block_stop_signals();
      troupe::Scheduler s(so);
      s.start();
      std::printf("troupe scheduler: control %s, events %s, http %d\n", s.endpoint().c_str(),
                  s.events_endpoint().c_str(), s.http_port());
      // As Jupyter does: the one URL that logs a browser in (`troupe http-token` prints it again).
      if (!s.http_token().empty())
        std::printf("troupe scheduler: dashboard http://%s:%d/?token=%s\n", so.http_host.c_str(), s.http_port(),
                    s.http_token().c_str());
      std::fflush(stdout);
      troupe::cli::notify_ready("control " + s.endpoint() + ", http " + std::to_string(s.http_port()));
      wait_for_stop(signals);
      // Workers keep their actors: a scheduler started again (on its journal) takes them back.
      troupe::cli::notify_stopping("stopping; workers keep their actors");
      s.stop();
      return 0;
    }
    if (*work) {
      if (int rc = check_keys("troupe worker", {"tcp://" + wo.host + ":0"}); rc != 0) return rc;
      auto signals = block_stop_signals();
      troupe::Worker w(wo);
      w.start();
      if (!w.wait_registered(std::chrono::seconds(30))) {
        std::fprintf(stderr, "troupe worker: scheduler %s did not answer within 30 s\n", wo.scheduler.c_str());
        return 1;
      }
      std::printf("troupe worker: node %llu at %s, logs in %s\n", static_cast<unsigned long long>(w.node_id()),
                  w.endpoint().c_str(), w.log_dir().c_str());
      std::fflush(stdout);
      troupe::cli::notify_ready("node " + std::to_string(w.node_id()) + " registered with " + wo.scheduler);
      wait_for_stop(signals);
      // Its actors get SIGTERM (SIGKILL after 2 s), then the scheduler hears it leave and restarts them elsewhere.
      troupe::cli::notify_stopping("stopping its actors and leaving the cluster");
      w.stop();
      return 0;
    }
    if (*up) {
      // Nothing to set up: keys are found, or made in the default folder
      // (so that `troupe shell`, `troupe list` ... find them too).
      std::string made_note;
      if (auto found = troupe::find_keys(); !found.ok()) {
        std::fprintf(stderr, "troupe up: %s\n", found.error().message.c_str());
        return 2;
      } else if (!found.value()) {
        auto made = troupe::generate_keys(troupe::default_keys_dir());
        if (!made.ok()) {
          std::fprintf(stderr, "troupe up: %s\n", made.error().message.c_str());
          return 1;
        }
        made_note = "troupe up: made cluster keys in " + made->dir + " (`troupe keygen` explains)\n";
      }
      auto signals = block_stop_signals();
      if (uo.log_dir.empty()) uo.log_dir = "/tmp/troupe-up-" + std::to_string(getpid());
      troupe::LocalServices services(uo, nullptr, ux);  // the same embedded cluster as troupe::local_cluster()
      services.start();
      std::printf("troupe up: scheduler %s, %d worker(s), http %d, logs in %s\n", services.endpoint().c_str(),
                  uo.workers, services.http_port(), services.log_dir().c_str());
      std::printf("%stroupe up: press Ctrl-C to stop\n", made_note.c_str());
      std::fflush(stdout);
      wait_for_stop(signals);
      std::printf("troupe up: stopping\n");
      services.stop();
      return 0;
    }
    if (*actor) return troupe::run_actor_process(ao);
    if (*train) return troupe::cli::run_train(train_options);
    return troupe::cli::run_inspection_command(app);
  } catch (const troupe::Exception& e) {
    std::fprintf(stderr, "troupe: %s\n", e.error().to_string().c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "troupe: %s\n", e.what());
    return 1;
  }
}
