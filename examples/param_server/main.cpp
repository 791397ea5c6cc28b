// A parameter server written against troupe's public actor API only (its own
// actors, not troupe's trainers and aggregator shards), after the example in
// Ray's documentation: a ParameterServer actor holds the weights, DataWorker
// actors compute gradients on their shard of Fashion-MNIST, and the driver
// runs synchronous rounds (every worker's gradient, then one update), then
// asynchronous ones (each gradient applied as soon as it arrives, the worker
// given the new weights at once).
//
//   param_server [--cluster tcp://HOST:7400] [--workers 2] [--rounds 200] [--min-accuracy 0]
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <deque>
#include <optional>
#include <vector>

#include "examples/param_server/actors.hpp"
#include "examples/param_server/model.hpp"
#include "embedded/local_cluster.hpp"
#include "runtime/cluster.hpp"

using namespace std::chrono_literals;
using troupe::Future;

int main(int argc, char** argv) {
  CLI::App app{"A parameter server from plain actors, trained on Fashion-MNIST"};
  std::string address, dir = troupe::dataset::kFashionMnistDir;
  int workers = 2, rounds = 200;
  int64_t batch = 128;
  double lr = 0.1, min_accuracy = 0;
  app.add_option("--cluster", address, "a running scheduler (tcp://host:port); default: an embedded cluster");
  app.add_option("--data", dir, "folder of Fashion-MNIST's four .gz files");
  app.add_option("--workers", workers, "data workers")->check(CLI::Range(1, 64));
  app.add_option("--rounds", rounds, "synchronous rounds, then as many asynchronous updates")->check(CLI::Range(1, 100000));
  app.add_option("--batch", batch, "samples per gradient")->check(CLI::Range(1, 60000));
  app.add_option("--lr", lr, "SGD learning rate");
  app.add_option("--min-accuracy", min_accuracy, "exit 1 when the final test accuracy is lower");
  CLI11_PARSE(app, argc, argv);

  auto test = troupe::dataset::load_fashion_mnist(dir, "t10k");
  if (!test.ok()) {
    std::fprintf(stderr, "param_server: %s\n", test.error().to_string().c_str());
    return 77;  // no data: nothing to show (the test suite's "skipped")
  }
  const std::string images = dir + "/train-images-idx3-ubyte.gz", labels = dir + "/train-labels-idx1-ubyte.gz";
  try {
    std::optional<troupe::Cluster> cluster;
    if (address.empty()) cluster = troupe::local_cluster({.cpus_per_worker = workers + 1.0, .http_port = -1});
    else cluster = troupe::Cluster::connect(address);

    auto server = cluster->spawn<ps::ParameterServer>({.name = "ps-server"}, test->images.dim, lr);
    std::vector<troupe::ActorHandle<ps::DataWorker>> pool;
    for (int i = 0; i < workers; ++i)
      pool.push_back(cluster->spawn<ps::DataWorker>({.name = "ps-worker-" + std::to_string(i)}, images, labels, i,
                                                    workers, batch));
    auto report = [&](const char* what, int round) {
      const auto w = server.call(&ps::ParameterServer::get_weights).get(60s);
      std::printf("%s round %d: test accuracy %.4f\n", what, round, ps::accuracy(w, *test));
      std::fflush(stdout);
    };

    // Synchronous: all workers compute on the same weights; one update from their mean.
    std::vector<float> w = server.call(&ps::ParameterServer::get_weights).get(60s);
    for (int r = 1; r <= rounds; ++r) {
      std::vector<Future<std::vector<float>>> grads;
      for (auto& worker : pool) grads.push_back(worker.call(&ps::DataWorker::compute_gradients, w));
      std::vector<std::vector<float>> all;
      for (auto& g : grads) all.push_back(g.get(60s));
      w = server.call(&ps::ParameterServer::apply_gradients, all).get(60s);
      if (r % 50 == 0 || r == rounds) report("sync", r);
    }

    // Asynchronous: whichever worker finishes first has its gradient applied
    // and gets the newest weights back at once (stale by what others applied).
    std::deque<std::pair<std::size_t, Future<std::vector<float>>>> inflight;
    for (std::size_t i = 0; i < pool.size(); ++i) inflight.emplace_back(i, pool[i].call(&ps::DataWorker::compute_gradients, w));
    for (int u = 1; u <= rounds; ++u) {
      auto [i, g] = std::move(inflight.front());
      inflight.pop_front();
      const std::vector<std::vector<float>> one{g.get(60s)};
      w = server.call(&ps::ParameterServer::apply_gradients, one).get(60s);
      inflight.emplace_back(i, pool[i].call(&ps::DataWorker::compute_gradients, w));
      if (u % 50 == 0 || u == rounds) report("async", u);
    }
    for (auto& [i, g] : inflight) (void)g.result(60s);

    w = server.call(&ps::ParameterServer::get_weights).get(60s);
    const double acc = ps::accuracy(w, *test);
    std::printf("updates applied by the server: %lld; final test accuracy %.4f\n",
                static_cast<long long>(server.call(&ps::ParameterServer::updates).get(60s)), acc);
    for (int i = 0; i < workers; ++i) (void)cluster->kill("ps-worker-" + std::to_string(i));
    (void)cluster->kill("ps-server");
    if (address.empty()) cluster->shutdown();
    return acc >= min_accuracy ? 0 : 1;
  } catch (const troupe::Exception& e) {
    std::fprintf(stderr, "param_server: %s\n", e.error().to_string().c_str());
    return 1;
  }
}
