// Trains an MLP on Fashion-MNIST in one process: the single-machine sanity
// check of the kernels, the model and the data reader (no actors involved).
//
//   mnist_single [--data DIR] [--epochs 3] [--batch 64] [--lr 1e-3] [--seed 42]
//                [--threads 1] [--backend cpu|cuda] [--sizes 784-256-128-10]
//                [--lr-final F] [--min-accuracy A] [--missing-data-skips]
//
// The learning rate decays linearly from lr to lr * F (default 0.1) over the
// run: the last epoch then settles instead of bouncing around the minimum, so
// the final accuracy depends little on the seed or on rounding differences
// between machines.
//
// Prints one line per epoch and, last, "test_accuracy=<acc>". Exit status: 0,
// 1 when the test accuracy is below --min-accuracy, 2 on bad usage or data
// errors, 77 when the data is missing and --missing-data-skips is given.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "actors/dataset/dataset.hpp"
#include "kernels/cpu/threads.hpp"
#include "kernels/kernels.hpp"

namespace {

namespace k = troupe::kernels;

struct Options {
  std::string data = troupe::dataset::kFashionMnistDir;
  int epochs = 3;
  int64_t batch = 64;
  float lr = 1e-3f;
  float lr_final = 0.1f;
  uint64_t seed = 42;
  int threads = 1;
  k::Backend backend = k::Backend::cpu;
  std::string sizes = "784-256-128-10";
  double min_accuracy = -1.0;
  bool missing_data_skips = false;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "mnist_single: %s\n(see the comment at the top of examples/mnist_single/main.cpp)\n", why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value after " + a).c_str());
      return argv[++i];
    };
    if (a == "--data") o.data = value();
    else if (a == "--epochs") o.epochs = std::atoi(value().c_str());
    else if (a == "--batch") o.batch = std::atoll(value().c_str());
    else if (a == "--lr") o.lr = std::strtof(value().c_str(), nullptr);
    else if (a == "--lr-final") o.lr_final = std::strtof(value().c_str(), nullptr);
    else if (a == "--seed") o.seed = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--threads") o.threads = std::atoi(value().c_str());
    else if (a == "--sizes") o.sizes = value();
    else if (a == "--min-accuracy") o.min_accuracy = std::atof(value().c_str());
    else if (a == "--missing-data-skips") o.missing_data_skips = true;
    else if (a == "--backend") {
      const std::string b = value();
      if (b == "cpu") o.backend = k::Backend::cpu;
      else if (b == "cuda") o.backend = k::Backend::cuda;
      else usage("--backend is cpu or cuda");
    } else usage(("unknown argument " + a).c_str());
  }
  if (o.epochs < 1 || o.batch < 1 || o.threads < 1 || !(o.lr > 0)) usage("epochs, batch, threads and lr must be positive");
  return o;
}

// Fisher-Yates with splitmix64: the same order on every machine for a seed.
void shuffle(std::vector<int64_t>& idx, uint64_t& state) {
  for (std::size_t i = idx.size(); i > 1; --i) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    std::swap(idx[i - 1], idx[z % i]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  troupe::kernels::cpu::flush_denormals();  // as troupe's actor processes do (kernels/cpu/threads.hpp)
  const Options o = parse(argc, argv);
  auto train = troupe::dataset::load_fashion_mnist(o.data, "train");
  auto test = train ? troupe::dataset::load_fashion_mnist(o.data, "t10k") : train;
  if (!train || !test) {
    const auto& err = !train ? train.error() : test.error();
    std::fprintf(stderr, "mnist_single: %s\n", err.message.c_str());
    const bool missing = err.message.find("cannot open") != std::string::npos;
    return missing && o.missing_data_skips ? 77 : 2;
  }
  auto spec = k::MlpSpec::parse(o.sizes);
  if (!spec || spec->inputs() != train->images.dim || spec->outputs() != 10)
    usage("--sizes must look like 784-...-10 for Fashion-MNIST");

  k::MlpOptions mo;
  mo.backend = o.backend;
  mo.cpu_threads = o.threads;
  auto model = k::make_mlp(*spec, mo);
  std::vector<float> params(model->num_params()), grad(model->num_params());
  k::init_params(*spec, params, o.seed);
  k::AdamHyper hyper;
  hyper.lr = o.lr;
  k::AdamState adam(0, model->num_params(), hyper);
  k::cpu::set_num_threads(o.threads);  // Adam runs on this thread too

  std::printf("mnist_single: %s, %lld params, backend %s, %d thread(s), batch %lld, lr %g -> %g, seed %llu\n",
              spec->to_string().c_str(), static_cast<long long>(model->num_params()),
              std::string(k::backend_name(model->backend())).c_str(), o.threads, static_cast<long long>(o.batch),
              static_cast<double>(o.lr), static_cast<double>(o.lr * o.lr_final),
              static_cast<unsigned long long>(o.seed));

  const int64_t n = train->size(), dim = train->images.dim;
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  uint64_t rng = o.seed ^ 0x5eedULL;
  std::vector<float> xb(o.batch * dim);
  std::vector<int32_t> yb(o.batch);
  double accuracy = 0.0;
  const int64_t steps_per_epoch = (n + o.batch - 1) / o.batch;
  const double total_steps = static_cast<double>(steps_per_epoch) * o.epochs;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    shuffle(order, rng);
    k::BatchStats epoch_stats;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t at = 0; at < n; at += o.batch) {
      const int64_t m = std::min(o.batch, n - at);
      for (int64_t i = 0; i < m; ++i) {
        const int64_t s = order[at + i];
        std::memcpy(xb.data() + i * dim, train->images.row(s), dim * sizeof(float));
        yb[i] = train->labels[s];
      }
      epoch_stats += model->forward_backward(params, xb.data(), yb.data(), m, grad);
      const double progress = static_cast<double>(adam.step_count()) / total_steps;
      hyper.lr = k::linear_decay_lr(o.lr, o.lr_final, progress);
      adam.set_hyper(hyper);
      adam.step(params, grad);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const k::BatchStats ev = model->evaluate(params, test->images.pixels.data(), test->labels.data(), test->size());
    accuracy = ev.accuracy();
    std::printf("epoch %d: train loss %.4f acc %.4f | test loss %.4f acc %.4f | %.2f s, %.0f samples/s\n", epoch,
                epoch_stats.mean_loss(), epoch_stats.accuracy(), ev.mean_loss(), ev.accuracy(), secs,
                static_cast<double>(n) / secs);
  }
  std::printf("test_accuracy=%.4f\n", accuracy);
  if (o.min_accuracy >= 0 && accuracy < o.min_accuracy) {
    std::fprintf(stderr, "mnist_single: test accuracy %.4f is below the required %.4f\n", accuracy, o.min_accuracy);
    return 1;
  }
  return 0;
}
