// Training from a C++ program, as `troupe train` does it: load a job's TOML,
// start it on a cluster (an embedded one in this process, or a running one
// with --cluster), watch its progress, act on it (here: kill one trainer
// half-way through, as a fault drill; the job carries on and trains every
// sample once), and read how it ended.
//
//   train_from_cpp examples/fashion_mnist.toml [--cluster tcp://HOST:7400] [--epochs 2]
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>

#include "actors/training/train_console.hpp"
#include "actors/training/train_job.hpp"
#include "actors/training/train_prepare.hpp"
#include "embedded/local_cluster.hpp"
#include "runtime/cluster.hpp"

using namespace troupe;

namespace {

/// Prints what `troupe train` prints (TrainConsole), and once the job is
/// half done kills trainer 0 through the cluster's API. Called from the
/// thread running the job (TrainObserver), so it needs no locks.
class HalfwayDrill : public train::TrainConsole {
 public:
  HalfwayDrill(const Cluster& cluster, std::string trainer, std::string progress)
      : train::TrainConsole(progress), cluster_(cluster), trainer_(std::move(trainer)) {}

  void on_progress(const train::TrainProgress& p) override {
    train::TrainConsole::on_progress(p);
    const int64_t done = (p.epoch - 1) * p.steps + p.step, total = p.epochs_total * p.steps;
    if (killed_ || total == 0 || 2 * done < total) return;
    killed_ = true;
    // restart = true: the scheduler restarts it, as after a crash.
    if (auto r = cluster_.kill(trainer_, /*restart=*/true); r.ok())
      on_line("killed " + trainer_ + " half-way through (step " + std::to_string(done) + " of " +
              std::to_string(total) + "); it restarts and the job carries on");
    else
      on_error("could not kill " + trainer_ + ": " + r.error().to_string());
  }
  [[nodiscard]] bool killed() const { return killed_; }

 private:
  const Cluster& cluster_;
  std::string trainer_;
  bool killed_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Start a training job from C++, kill a trainer half-way, print the final accuracy"};
  std::string config_path, address, output;
  int epochs = 0;
  app.add_option("config", config_path, "the job's TOML file, e.g. examples/fashion_mnist.toml")->required();
  app.add_option("--cluster", address, "a running scheduler (tcp://host:port); default: an embedded cluster");
  app.add_option("--epochs", epochs, "override the file's epochs");
  app.add_option("--output", output, "output folder; default: the file's [output] dir");
  CLI11_PARSE(app, argc, argv);

  // 1. The job: the TOML file, changed as the program likes, then checked
  // against its data (a bad file or key is one line, as with `troupe train`).
  auto loaded = train::load_train_config(config_path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "train_from_cpp: %s\n", loaded.error().message.c_str());
    return 2;
  }
  train::TrainConfig cfg = std::move(loaded.value());
  if (epochs > 0) cfg.job.epochs = epochs;
  if (!output.empty()) cfg.output_dir = output;
  cfg.name = "from-cpp";
  cfg.progress = "lines";
  if (auto ready = train::prepare_train_config(cfg); !ready.ok()) {
    std::fprintf(stderr, "train_from_cpp: %s\n", ready.error().message.c_str());
    return 2;
  }

  // 2. A cluster: embedded (a scheduler and a worker in this process; actors
  // are processes of their own) or the one at --cluster.
  std::optional<Cluster> cluster;
  if (address.empty()) {
    cluster = local_cluster(train::local_cluster_for(cfg));
  } else {
    cluster = Cluster::connect(address);
  }

  // 3. Run it to its end, watching.
  train::TrainJobOptions jo;
  jo.actor_prefix = "cpp-" + std::to_string(::getpid()) + "-";
  jo.embedded = address.empty();
  jo.address = address;
  HalfwayDrill drill(*cluster, jo.actor_prefix + "trainer-0", cfg.progress);
  const train::TrainOutcome r = train::run_train_job(*cluster, cfg, drill, jo);

  // 4. What happened: the job's end, the killed trainer's restarts, the accuracy.
  if (auto st = cluster->state(); st.ok())
    for (const auto& a : st->actors)
      if (a.spec.name == jo.actor_prefix + "trainer-0")
        std::printf("%s: %d restart(s), last incarnation %u\n", a.spec.name.c_str(), a.restarts,
                    static_cast<unsigned>(a.incarnation));
  std::printf("job %s ended %s", r.job.c_str(), r.state.c_str());
  if (r.error.code != Errc::ok) std::printf(": %s", r.error.to_string().c_str());
  if (!std::isnan(r.test_accuracy)) std::printf("; test accuracy %.4f", r.test_accuracy);
  std::printf("\n");
  if (address.empty()) cluster->shutdown();
  return r.state == "DONE" && drill.killed() ? 0 : 1;
}
