// Registers the example's actors. Built into libparam_server_actors.so: the
// driver links it, and each actor process loads it (spawn() finds it).
#include "examples/param_server/actors.hpp"

#include <stdexcept>

#include "examples/param_server/model.hpp"
#include "runtime/registry.hpp"

namespace ps {

ParameterServer::ParameterServer(int64_t dim, double lr)
    : w_(static_cast<std::size_t>(num_weights(dim)), 0.0f), lr_(static_cast<float>(lr)) {}

std::vector<float> ParameterServer::apply_gradients(const std::vector<std::vector<float>>& grads) {
  for (const auto& g : grads)
    if (g.size() != w_.size()) throw std::invalid_argument("a gradient of the wrong size");
  if (grads.empty()) return w_;
  const float step = lr_ / static_cast<float>(grads.size());
  for (const auto& g : grads)
    for (std::size_t i = 0; i < w_.size(); ++i) w_[i] -= step * g[i];
  ++updates_;
  return w_;
}

DataWorker::DataWorker(std::string images, std::string labels, int index, int workers, int64_t batch)
    : batch_(batch) {
  auto d = troupe::dataset::load_dataset(images, labels);
  if (!d.ok()) throw std::runtime_error(d.error().to_string());
  data_ = std::move(d.value());
  if (workers <= 0 || index < 0 || index >= workers || batch <= 0) throw std::invalid_argument("bad shard");
  // Shard `index` of `workers`: a contiguous range of the training set.
  begin_ = data_.size() * index / workers;
  end_ = data_.size() * (index + 1) / workers;
  next_ = begin_;
}

std::vector<float> DataWorker::compute_gradients(const std::vector<float>& weights) {
  if (weights.size() != static_cast<std::size_t>(num_weights(data_.images.dim)))
    throw std::invalid_argument("weights of the wrong size");
  if (next_ + batch_ > end_) next_ = begin_;  // the next pass over the shard
  auto g = gradient(weights, data_, next_, batch_);
  next_ += batch_;
  return g;
}

}  // namespace ps

TROUPE_ACTOR(ps::ParameterServer, apply_gradients, get_weights, updates);
TROUPE_ACTOR(ps::DataWorker, compute_gradients);
