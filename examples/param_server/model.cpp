#include "examples/param_server/model.hpp"

#include <algorithm>
#include <cmath>

namespace ps {

namespace {
/// Softmax probabilities of sample i under w, in p (kClasses).
void predict(const std::vector<float>& w, const troupe::dataset::Dataset& data, int64_t i, float* p) {
  const int64_t dim = data.images.dim;
  const float* x = data.images.row(i);
  float top = -INFINITY;
  for (int64_t c = 0; c < kClasses; ++c) {
    float z = w[static_cast<std::size_t>(kClasses * dim + c)];
    const float* wc = w.data() + c * dim;
    for (int64_t j = 0; j < dim; ++j) z += wc[j] * x[j];
    p[c] = z;
    top = std::max(top, z);
  }
  float sum = 0;
  for (int64_t c = 0; c < kClasses; ++c) sum += p[c] = std::exp(p[c] - top);
  for (int64_t c = 0; c < kClasses; ++c) p[c] /= sum;
}
}  // namespace

std::vector<float> gradient(const std::vector<float>& w, const troupe::dataset::Dataset& data, int64_t begin,
                            int64_t count) {
  const int64_t dim = data.images.dim;
  std::vector<float> g(w.size(), 0.0f);
  float p[kClasses];
  for (int64_t i = begin; i < begin + count; ++i) {
    predict(w, data, i, p);
    p[data.labels[static_cast<std::size_t>(i)]] -= 1.0f;  // d loss / d logits = p - onehot
    const float* x = data.images.row(i);
    for (int64_t c = 0; c < kClasses; ++c) {
      float* gc = g.data() + c * dim;
      for (int64_t j = 0; j < dim; ++j) gc[j] += p[c] * x[j];
      g[static_cast<std::size_t>(kClasses * dim + c)] += p[c];
    }
  }
  for (float& v : g) v /= static_cast<float>(count);
  return g;
}

double accuracy(const std::vector<float>& w, const troupe::dataset::Dataset& data) {
  int64_t right = 0;
  float p[kClasses];
  for (int64_t i = 0; i < data.size(); ++i) {
    predict(w, data, i, p);
    right += std::max_element(p, p + kClasses) - p == data.labels[static_cast<std::size_t>(i)];
  }
  return static_cast<double>(right) / static_cast<double>(data.size());
}

}  // namespace ps
