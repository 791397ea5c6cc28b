#include "kernels/mlp.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/device.hpp"
#include "kernels/testing.hpp"

using namespace troupe::kernels;

namespace {

// Mean loss of the MLP in double precision, written from the definitions.
double mean_loss_ref(const MlpSpec& spec, const std::vector<double>& p, const std::vector<float>& x,
                     const std::vector<int32_t>& labels, int64_t n) {
  const ParamLayout lay(spec);
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> a(x.begin() + i * spec.inputs(), x.begin() + (i + 1) * spec.inputs());
    for (const LayerView& l : lay.layers()) {
      std::vector<double> z(l.out);
      for (int64_t o = 0; o < l.out; ++o) {
        double s = p[l.b_offset + o];
        for (int64_t k = 0; k < l.in; ++k) s += p[l.w_offset + o * l.in + k] * a[k];
        z[o] = l.act == Activation::relu      ? (s > 0 ? s : 0)
               : l.act == Activation::sigmoid ? 1 / (1 + std::exp(-s))
               : l.act == Activation::tanh    ? std::tanh(s)
                                              : s;
      }
      a = z;
    }
    const int64_t c = spec.outputs();
    if (spec.loss == LossKind::softmax_ce) {
      double mx = a[0], s = 0;
      for (double v : a) mx = std::fmax(mx, v);
      for (double v : a) s += std::exp(v - mx);
      total += mx + std::log(s) - a[labels[i]];
    } else {
      double s = 0;
      for (int64_t j = 0; j < c; ++j) {
        const double t = c == 1 ? (labels[i] != 0) : (j == labels[i]);
        s += std::fmax(a[j], 0.0) - a[j] * t + std::log1p(std::exp(-std::fabs(a[j])));
      }
      total += s / static_cast<double>(c);
    }
  }
  return total / static_cast<double>(n);
}

struct Case {
  std::vector<int64_t> sizes;
  Activation act;
  LossKind loss;
  int64_t n;
};

}  // namespace

TEST_CASE("backward matches finite differences of a double-precision forward, both losses, several shapes") {
  // Central differences in double (h = 1e-6) of the double reference loss
  // against the float analytic gradient. Tolerance: |g - fd| <= 2e-4 * max|fd|
  // + 1e-6 per parameter (float rounding of the forward and backward).
  const Case cases[] = {
      {{5, 7, 3}, Activation::relu, LossKind::softmax_ce, 4},
      {{6, 8, 8, 4}, Activation::tanh, LossKind::sigmoid_bce, 9},
      {{4, 6, 1}, Activation::sigmoid, LossKind::sigmoid_bce, 5},
      {{3, 5, 2}, Activation::identity, LossKind::softmax_ce, 1},
      {{12, 16, 10, 10}, Activation::relu, LossKind::softmax_ce, 17},
      {{9, 11, 5}, Activation::relu, LossKind::sigmoid_bce, 6},
  };
  uint64_t seed = 300;
  for (const Case& c : cases) {
    const MlpSpec spec = MlpSpec::make(c.sizes, c.act, c.loss);
    CAPTURE(spec.to_string());
    CAPTURE(c.n);
    auto mlp = make_mlp(spec);
    const int64_t np = mlp->num_params();
    std::vector<float> params(np);
    init_params(spec, params, seed++);
    // non-zero biases so their gradients are exercised off the init point
    const auto jitter = testing::random_floats(np, seed++, -0.2f, 0.2f);
    for (int64_t k = 0; k < np; ++k) params[k] += jitter[k];
    const auto x = testing::random_floats(c.n * spec.inputs(), seed++, -2.0f, 2.0f);
    const auto labels = testing::random_labels(c.n, spec.outputs() == 1 ? 2 : static_cast<int32_t>(spec.outputs()),
                                               seed++);
    std::vector<float> grad(np, 99.0f);
    std::vector<std::pair<int64_t, int64_t>> ready;
    const BatchStats st = mlp->forward_backward(params, x.data(), labels.data(), c.n, grad,
                                                [&](int64_t off, int64_t cnt) { ready.emplace_back(off, cnt); });
    std::vector<double> pd(params.begin(), params.end());
    const double loss = mean_loss_ref(spec, pd, x, labels, c.n);
    CHECK(st.samples == c.n);
    CHECK(std::fabs(st.mean_loss() - loss) <= 1e-5 * std::fmax(1.0, std::fabs(loss)));

    std::vector<double> fd(np);
    double fd_max = 0;
    for (int64_t k = 0; k < np; ++k) {
      const double h = 1e-6, keep = pd[k];
      pd[k] = keep + h;
      const double up = mean_loss_ref(spec, pd, x, labels, c.n);
      pd[k] = keep - h;
      const double down = mean_loss_ref(spec, pd, x, labels, c.n);
      pd[k] = keep;
      fd[k] = (up - down) / (2 * h);
      fd_max = std::fmax(fd_max, std::fabs(fd[k]));
    }
    int bad = 0;
    for (int64_t k = 0; k < np; ++k)
      if (std::fabs(grad[k] - fd[k]) > 2e-4 * fd_max + 1e-6) {
        if (bad < 5) MESSAGE("param " << k << ": grad " << grad[k] << " fd " << fd[k]);
        ++bad;
      }
    CHECK(bad == 0);

    // every layer reported exactly once, last layer first, covering the vector
    const auto& layers = mlp->layout().layers();
    REQUIRE(ready.size() == layers.size());
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const LayerView& l = layers[layers.size() - 1 - i];
      CHECK(ready[i].first == l.begin());
      CHECK(ready[i].second == l.end() - l.begin());
    }
  }
}

TEST_CASE("forward, evaluate and forward_backward agree, and the batch size is free per call") {
  const MlpSpec spec = MlpSpec::make({20, 30, 10});
  auto mlp = make_mlp(spec);
  std::vector<float> params(mlp->num_params());
  init_params(spec, params, 5);
  const int64_t n = 2500;  // more than one evaluation chunk
  const auto x = testing::random_floats(n * 20, 6);
  const auto labels = testing::random_labels(n, 10, 7);
  const BatchStats ev = mlp->evaluate(params, x.data(), labels.data(), n);
  std::vector<float> grad(mlp->num_params());
  BatchStats parts;
  // uneven batches, growing and shrinking, through the same object
  for (int64_t at = 0, b = 1; at < n; at += b, b = b * 3 % 701 + 1) {
    const int64_t m = std::min(b, n - at);
    parts += mlp->forward_backward(params, x.data() + at * 20, labels.data() + at, m, grad);
  }
  CHECK(parts.samples == n);
  CHECK(parts.correct == ev.correct);
  CHECK(std::fabs(parts.loss_sum - ev.loss_sum) <= 1e-5 * ev.loss_sum);
  std::vector<float> logits(n * 10);
  mlp->forward(params, x.data(), n, logits.data());
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    double mx = -INFINITY, s = 0;
    for (int j = 0; j < 10; ++j) mx = std::fmax(mx, logits[i * 10 + j]);
    for (int j = 0; j < 10; ++j) s += std::exp(logits[i * 10 + j] - mx);
    sum += mx + std::log(s) - logits[i * 10 + labels[i]];
  }
  CHECK(std::fabs(sum - ev.loss_sum) <= 1e-5 * ev.loss_sum);
}

TEST_CASE("a label out of range and wrong buffer sizes are refused, an empty batch gives a zero gradient") {
  const MlpSpec spec = MlpSpec::make({4, 3});
  auto mlp = make_mlp(spec);
  std::vector<float> params(mlp->num_params(), 0.1f), grad(mlp->num_params(), 5.0f);
  const std::vector<float> x(8, 1.0f);
  const std::vector<int32_t> bad = {0, 3};
  CHECK_THROWS_AS(mlp->forward_backward(params, x.data(), bad.data(), 2, grad), std::invalid_argument);
  std::vector<float> short_grad(2);
  const std::vector<int32_t> ok = {0, 2};
  CHECK_THROWS_AS(mlp->forward_backward(params, x.data(), ok.data(), 2, short_grad), std::invalid_argument);
  int calls = 0;
  const BatchStats st = mlp->forward_backward(params, x.data(), ok.data(), 0, grad, [&](int64_t, int64_t) { ++calls; });
  CHECK(st.samples == 0);
  CHECK(calls == 1);
  for (float g : grad) CHECK(g == 0.0f);
}

TEST_CASE("asking for CUDA without a usable GPU falls back to the CPU backend") {
  MlpOptions o;
  o.backend = Backend::cuda;
  auto mlp = make_mlp(MlpSpec::make({4, 3}), o);
  if (!cuda_usable()) CHECK(mlp->backend() == Backend::cpu);
}
