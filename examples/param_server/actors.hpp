#pragma once
// The parameter server of Ray's documentation, as troupe actors: plain
// classes whose methods become callable once registered (actors.cpp).
// Each runs in its own process; the executor runs one method at a time, so
// neither needs a lock.
#include <cstdint>
#include <string>
#include <vector>

#include "actors/dataset/dataset.hpp"

namespace ps {

/// Holds the weights; applies the mean of the gradients it is given (SGD).
class ParameterServer {
 public:
  ParameterServer(int64_t dim, double lr);
  /// Applies the mean of `grads` and returns the new weights.
  std::vector<float> apply_gradients(const std::vector<std::vector<float>>& grads);
  std::vector<float> get_weights() const { return w_; }
  int64_t updates() const { return updates_; }

 private:
  std::vector<float> w_;
  float lr_;
  int64_t updates_ = 0;
};

/// Owns one shard of the training set; computes a gradient on its next batch.
class DataWorker {
 public:
  DataWorker(std::string images, std::string labels, int index, int workers, int64_t batch);
  std::vector<float> compute_gradients(const std::vector<float>& weights);

 private:
  troupe::dataset::Dataset data_;
  int64_t begin_ = 0, end_ = 0, batch_ = 0, next_ = 0;
};

}  // namespace ps
