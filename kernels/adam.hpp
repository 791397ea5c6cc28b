#pragma once
// The Adam optimizer state for one contiguous range [begin, end) of the flat
// parameter vector, so an aggregator shard owns exactly its slice.
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/adam_hyper.hpp"

namespace troupe::kernels {

/// Adam moments (m, v) and step count for params[begin, end). CPU memory.
/// Not thread-safe: one owner (the shard) calls step().
class AdamState {
 public:
  /// Zero moments, step 0. Throws std::invalid_argument when end < begin.
  AdamState(int64_t begin, int64_t end, AdamHyper hyper = {});

  /// One torch.optim.Adam step on the slice: params and grad hold exactly
  /// size() elements (the slice [begin, end), not the whole vector).
  /// Throws std::invalid_argument on a size mismatch.
  void step(std::span<float> params, std::span<const float> grad);

  /// Restores a checkpoint: step count and both moments (size() elements each).
  void restore(int64_t step, std::span<const float> m, std::span<const float> v);

  [[nodiscard]] int64_t begin() const { return begin_; }
  [[nodiscard]] int64_t end() const { return end_; }
  [[nodiscard]] int64_t size() const { return end_ - begin_; }
  [[nodiscard]] int64_t step_count() const { return step_; }
  [[nodiscard]] const AdamHyper& hyper() const { return hyper_; }
  /// Changes the hyper-parameters from the next step on (e.g. a learning-rate schedule).
  void set_hyper(const AdamHyper& h) { hyper_ = h; }
  [[nodiscard]] std::span<const float> m() const { return m_; }
  [[nodiscard]] std::span<const float> v() const { return v_; }

 private:
  int64_t begin_;
  int64_t end_;
  AdamHyper hyper_;
  int64_t step_ = 0;
  std::vector<float> m_;
  std::vector<float> v_;
};

}  // namespace troupe::kernels
