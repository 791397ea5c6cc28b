// The C++ half of tools/bench/train_step (run.py drives it and the PyTorch
// peer). Each measurement prints one JSON object per line on stdout.
//
//   train_step_bench train --batch B --threads T [--repeats R] [--seconds S]
//       samples/s of a full step (forward, backward, Adam) of 784-256-128-10
//   train_step_bench gemm --threads T [--repeats R] [--impl all|local|onednn|openblas]
//       GFLOP/s of oneDNN (the choice), OpenBLAS (as this process's environment
//       configures it), Eigen and a plain loop on the model's GEMM shapes
//   train_step_bench elementwise [--repeats R]
//       GB/s of the vectorised CPU kernels next to scalar builds of the same loops
//   train_step_bench cuda-train --batch B | cuda-gemm   (CUDA builds, with a GPU)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/testing.hpp"
#include "tools/bench/train_step/bench_gemm_alternatives.hpp"
#ifdef TROUPE_HAVE_CUDA
#include "kernels/cuda/adam.hpp"
#include "kernels/cuda/gemm.hpp"
#include "kernels/cuda/handles.hpp"
#endif

namespace {

namespace k = troupe::kernels;
namespace b = troupe::bench;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string mode;
  int64_t batch = 64;
  int threads = 1;
  int repeats = 5;
  double seconds = 0.4;  // per repeat
  std::string impl = "all";  // gemm: all, local (all but OpenBLAS), onednn, openblas
};

Args parse(int argc, char** argv) {
  Args a;
  if (argc < 2) {
    std::fprintf(stderr, "usage: train_step_bench train|gemm|elementwise|cuda-train|cuda-gemm [options]\n");
    std::exit(2);
  }
  a.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--batch") a.batch = std::atoll(v.c_str());
    else if (k == "--threads") a.threads = std::atoi(v.c_str());
    else if (k == "--repeats") a.repeats = std::atoi(v.c_str());
    else if (k == "--seconds") a.seconds = std::atof(v.c_str());
    else if (k == "--impl") a.impl = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : (v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]));
}

// Runs fn in batches of iterations until `seconds` pass, `repeats` times after
// one warm-up; returns the per-repeat rates (iterations per second).
std::vector<double> rates(const std::function<void()>& fn, int repeats, double seconds) {
  fn();
  int64_t iters = 1;
  for (;;) {  // calibrate so one repeat lasts about `seconds`
    const auto t0 = Clock::now();
    for (int64_t i = 0; i < iters; ++i) fn();
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    if (dt > seconds / 4 || iters > (1 << 24)) {
      iters = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(iters) * seconds / dt));
      break;
    }
    iters *= 2;
  }
  std::vector<double> out;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    for (int64_t i = 0; i < iters; ++i) fn();
    out.push_back(static_cast<double>(iters) / std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return out;
}

std::string json_list(const std::vector<double>& v, double scale = 1.0) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i] * scale);
  return s + "]";
}

int run_train(const Args& a) {
  const auto spec = k::MlpSpec::make({784, 256, 128, 10});
  k::MlpOptions o;
  o.cpu_threads = a.threads;
  auto model = k::make_mlp(spec, o);
  k::cpu::set_num_threads(a.threads);
  std::vector<float> params(model->num_params()), grad(model->num_params());
  k::init_params(spec, params, 1);
  k::AdamState adam(0, model->num_params());
  const auto x = k::testing::random_floats(a.batch * 784, 2, 0.0f, 1.0f);
  const auto y = k::testing::random_labels(a.batch, 10, 3);
  auto step = [&] {
    model->forward_backward(params, x.data(), y.data(), a.batch, grad);
    adam.step(params, grad);
  };
  const auto r = rates(step, a.repeats, a.seconds);
  std::printf("{\"kind\": \"train\", \"impl\": \"troupe\", \"batch\": %lld, \"threads\": %d, "
              "\"samples_per_s\": %.1f, \"runs_samples_per_s\": %s}\n",
              static_cast<long long>(a.batch), a.threads, median(r) * a.batch, json_list(r, a.batch).c_str());
  return 0;
}

struct Shape {
  const char* name;
  int64_t M, N, K;
};

// The GEMMs of one 784-256-128-10 step at batch 64 and 512 (as plain NN
// products of the same sizes), and a large square one.
const Shape kShapes[] = {
    {"64x256x784", 64, 256, 784},    {"256x784x64", 256, 784, 64},    {"512x256x784", 512, 256, 784},
    {"256x784x512", 256, 784, 512},  {"512x128x256", 512, 128, 256}, {"1024x1024x1024", 1024, 1024, 1024},
};

int run_gemm(const Args& a) {
  k::cpu::set_num_threads(a.threads);
  std::string why = "not asked for";
  const bool all = a.impl == "all" || a.impl == "local";
  const b::GemmFn openblas = a.impl == "all" || a.impl == "openblas" ? b::openblas_gemm(&why) : nullptr;
  const b::GemmFn eigen = all && a.threads == 1 ? b::eigen_gemm() : nullptr;
  const std::string core = b::openblas_config();
  for (const Shape& s : kShapes) {
    const auto A = k::testing::random_floats(s.M * s.K, 4), B = k::testing::random_floats(s.K * s.N, 5);
    std::vector<float> C(s.M * s.N);
    const double flop = 2.0 * static_cast<double>(s.M) * s.N * s.K;
    auto report = [&](const char* impl, const std::vector<double>& r) {
      std::printf("{\"kind\": \"gemm\", \"impl\": \"%s\", \"shape\": \"%s\", \"threads\": %d, \"gflops\": %.1f, "
                  "\"runs_gflops\": %s}\n",
                  impl, s.name, a.threads, median(r) * flop * 1e-9, json_list(r, flop * 1e-9).c_str());
    };
    if (all || a.impl == "onednn")
      report("onednn", rates([&] {
               k::cpu::gemm(k::Trans::no, k::Trans::no, s.M, s.N, s.K, 1.0f, A.data(), s.K, B.data(), s.N, 0.0f,
                            C.data(), s.N);
             }, a.repeats, a.seconds / 2));
    if (openblas) {
      const std::string impl = "openblas_" + (core.empty() ? std::string("unknown") : core);
      report(impl.c_str(), rates([&] { openblas(s.M, s.N, s.K, A.data(), B.data(), C.data()); }, a.repeats,
                                 a.seconds / 2));
    }
    if (eigen) report("eigen_avx2", rates([&] { eigen(s.M, s.N, s.K, A.data(), B.data(), C.data()); }, a.repeats,
                                          a.seconds / 2));
    if (all && a.threads == 1 && s.M * s.N * s.K <= 512LL * 256 * 784)
      report("naive_loop", rates([&] { b::naive_gemm(s.M, s.N, s.K, A.data(), B.data(), C.data()); }, 3,
                                 a.seconds / 2));
  }
  if (!openblas && (a.impl == "all" || a.impl == "openblas")) std::fprintf(stderr, "train_step_bench: OpenBLAS not measured: %s\n", why.c_str());
  return 0;
}

// Scalar twins of three CPU kernels: the same loops with GCC's vectoriser
// switched off, to show what vectorisation of the library versions buys.
__attribute__((optimize("no-tree-vectorize"))) void relu_scalar(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
__attribute__((optimize("no-tree-vectorize"))) void axpy_scalar(int64_t n, float a, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}
__attribute__((optimize("no-tree-vectorize", "no-math-errno"))) void adam_scalar(float* p, const float* g, float* m,
                                                                                 float* v, int64_t n, float lr) {
  for (int64_t i = 0; i < n; ++i) {
    m[i] = 0.9f * m[i] + 0.1f * g[i];
    v[i] = 0.999f * v[i] + 0.001f * g[i] * g[i];
    p[i] -= lr * (m[i] / (__builtin_sqrtf(v[i]) / 0.5f + 1e-8f));
  }
}

int run_elementwise(const Args& a) {
  k::cpu::set_num_threads(1);
  for (int64_t n : {int64_t{235146}, int64_t{4} << 20}) {
    auto x = k::testing::random_floats(n, 6), y = k::testing::random_floats(n, 7);
    auto m = k::testing::random_floats(n, 8, 0.0f, 0.01f), v = k::testing::random_floats(n, 9, 0.0f, 0.01f);
    auto report = [&](const char* op, const char* impl, double bytes, const std::vector<double>& r) {
      std::printf("{\"kind\": \"elementwise\", \"op\": \"%s\", \"impl\": \"%s\", \"n\": %lld, \"gb_per_s\": %.2f}\n",
                  op, impl, static_cast<long long>(n), median(r) * bytes * 1e-9);
    };
    const double nb = static_cast<double>(n) * 4;
    report("memcpy", "libc", 2 * nb, rates([&] { std::memcpy(y.data(), x.data(), n * 4); }, a.repeats, 0.2));
    report("relu", "vectorised",
           2 * nb, rates([&] { k::cpu::activation_forward(k::Activation::relu, x.data(), y.data(), n); }, a.repeats, 0.2));
    report("relu", "scalar", 2 * nb, rates([&] { relu_scalar(x.data(), y.data(), n); }, a.repeats, 0.2));
    report("axpy", "vectorised", 3 * nb, rates([&] { k::cpu::axpy(n, 1e-7f, x.data(), y.data()); }, a.repeats, 0.2));
    report("axpy", "scalar", 3 * nb, rates([&] { axpy_scalar(n, 1e-7f, x.data(), y.data()); }, a.repeats, 0.2));
    k::AdamHyper h;
    h.lr = 1e-9f;
    int64_t t = 1;
    report("adam", "vectorised", 7 * nb,
           rates([&] { k::cpu::adam_update(y.data(), x.data(), m.data(), v.data(), n, h, t++); }, a.repeats, 0.2));
    report("adam", "scalar", 7 * nb,
           rates([&] { adam_scalar(y.data(), x.data(), m.data(), v.data(), n, 1e-9f); }, a.repeats, 0.2));
  }
  return 0;
}

#ifdef TROUPE_HAVE_CUDA
int run_cuda_train(const Args& a) {
  namespace kc = troupe::kernels::cuda;
  if (!k::cuda_usable()) {
    std::fprintf(stderr, "no usable CUDA device: %s\n", k::cuda_unusable_reason().c_str());
    return 77;
  }
  const auto spec = k::MlpSpec::make({784, 256, 128, 10});
  for (bool tf32 : {false, true}) {
    k::MlpOptions o;
    o.backend = k::Backend::cuda;
    o.cuda_tf32 = tf32;
    auto model = k::make_mlp(spec, o);
    std::vector<float> params(model->num_params()), grad(model->num_params());
    k::init_params(spec, params, 1);
    k::AdamState adam(0, model->num_params());
    const auto x = k::testing::random_floats(a.batch * 784, 2, 0.0f, 1.0f);
    const auto y = k::testing::random_labels(a.batch, 10, 3);
    // The trainer's shape of a step: weights in from the host, gradient out to
    // the host, Adam on the host (the aggregator's job).
    const auto r = rates([&] {
      model->forward_backward(params, x.data(), y.data(), a.batch, grad);
      adam.step(params, grad);
    }, a.repeats, a.seconds);
    std::printf("{\"kind\": \"cuda_train\", \"impl\": \"troupe_cuda_%s\", \"batch\": %lld, \"samples_per_s\": %.1f, "
                "\"step_us\": %.1f}\n",
                tf32 ? "tf32" : "fp32", static_cast<long long>(a.batch), median(r) * a.batch, 1e6 / median(r));
  }
  return 0;
}

int run_cuda_gemm(const Args& a) {
  namespace kc = troupe::kernels::cuda;
  if (!k::cuda_usable()) {
    std::fprintf(stderr, "no usable CUDA device: %s\n", k::cuda_unusable_reason().c_str());
    return 77;
  }
  kc::Stream stream;
  kc::CublasHandle h(stream.get());
  for (int64_t n : {int64_t{1024}, int64_t{4096}, int64_t{8192}}) {
    kc::DeviceBuffer<float> A(n * n), B(n * n), C(n * n);
    kc::DeviceBuffer<uint16_t> Ab(n * n), Bb(n * n);
    TROUPE_CUDA_CHECK(cudaMemsetAsync(A.get(), 0, A.bytes(), stream.get()));
    TROUPE_CUDA_CHECK(cudaMemsetAsync(B.get(), 0, B.bytes(), stream.get()));
    TROUPE_CUDA_CHECK(cudaMemsetAsync(Ab.get(), 0, Ab.bytes(), stream.get()));
    TROUPE_CUDA_CHECK(cudaMemsetAsync(Bb.get(), 0, Bb.bytes(), stream.get()));
    const double flop = 2.0 * static_cast<double>(n) * n * n;
    for (const char* kind : {"fp32", "tf32", "bf16"}) {
      const std::string kd = kind;
      auto one = [&] {
        if (kd == "bf16")
          kc::gemm_bf16(h.get(), k::Trans::no, k::Trans::no, n, n, n, 1.0f, Ab.get(), n, Bb.get(), n, 0.0f, C.get(), n);
        else
          kc::gemm(h.get(), k::Trans::no, k::Trans::no, n, n, n, 1.0f, A.get(), n, B.get(), n, 0.0f, C.get(), n,
                   kd == "tf32" ? kc::GemmMath::tf32 : kc::GemmMath::fp32);
      };
      // time 10 launches between synchronisations
      const auto r = rates([&] {
        for (int i = 0; i < 10; ++i) one();
        stream.synchronize();
      }, a.repeats, 0.3);
      std::printf("{\"kind\": \"cuda_gemm\", \"impl\": \"cublas_%s\", \"n\": %lld, \"tflops\": %.2f}\n", kind,
                  static_cast<long long>(n), median(r) * 10 * flop * 1e-12);
    }
  }
  return 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  if (a.mode == "train") return run_train(a);
  if (a.mode == "gemm") return run_gemm(a);
  if (a.mode == "elementwise") return run_elementwise(a);
#ifdef TROUPE_HAVE_CUDA
  if (a.mode == "cuda-train") return run_cuda_train(a);
  if (a.mode == "cuda-gemm") return run_cuda_gemm(a);
#else
  if (a.mode == "cuda-train" || a.mode == "cuda-gemm") {
    std::fprintf(stderr, "train_step_bench: built without CUDA\n");
    return 77;
  }
#endif
  std::fprintf(stderr, "train_step_bench: unknown mode %s\n", a.mode.c_str());
  return 2;
}
