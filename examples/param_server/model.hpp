#pragma once
// The model the parameter-server example trains: softmax regression
// (logits = W x + b, cross-entropy), written out in plain loops so that the
// example depends on nothing but the actor API. Weights are one flat vector:
// W (classes x dim, row-major), then b (classes).
#include <cstdint>
#include <vector>

#include "actors/dataset/dataset.hpp"

namespace ps {

inline constexpr int64_t kClasses = 10;

inline int64_t num_weights(int64_t dim) { return kClasses * dim + kClasses; }

/// The mean cross-entropy gradient over samples [begin, begin + count) of `data`.
std::vector<float> gradient(const std::vector<float>& w, const troupe::dataset::Dataset& data, int64_t begin,
                            int64_t count);

/// The share of `data` whose most likely class is its label.
double accuracy(const std::vector<float>& w, const troupe::dataset::Dataset& data);

}  // namespace ps
