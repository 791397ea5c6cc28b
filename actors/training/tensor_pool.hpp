#pragma once
// Reuses tensor buffers once nobody else holds them: a tensor sent as a
// zero-copy frame is shared with ZeroMQ until it has been sent, so a sender
// may only write into a buffer again once its own reference is the last one.
// Keeps steady-state training free of per-step allocations.
#include <vector>

#include "runtime/tensor.hpp"

namespace troupe::train {

/// Not thread-safe: one owner.
class TensorPool {
 public:
  /// A tensor of `shape` that no one else references (reused, or new when all
  /// are in flight). Its contents are whatever was there before.
  Tensor get(DType dtype, const Tensor::Shape& shape) {
    for (auto& t : pool_)
      if (t.owner().use_count() == 1 && t.dtype() == dtype && t.shape() == shape) return t;
    pool_.push_back(Tensor::empty(dtype, shape));
    return pool_.back();
  }
  [[nodiscard]] std::size_t size() const { return pool_.size(); }

 private:
  std::vector<Tensor> pool_;
};

}  // namespace troupe::train
