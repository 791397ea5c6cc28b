#pragma once
// The averaging step of an aggregator shard (aggregator.hpp): the trainers'
// gradient slices weighted by their sample counts, g = Σ nᵢgᵢ / Σ nᵢ.
#include <cstdint>
#include <span>
#include <vector>

#include "actors/training/partial_push.hpp"

namespace troupe::train {

/// Writes g = Σ nᵢgᵢ / Σ nᵢ of the complete pushes into `grad` (the shard's
/// slice) and returns Σ nᵢ; with Σ nᵢ = 0, `grad` is left as it was. Summed in
/// the order given (the aggregator gives slot order, so the result does not
/// depend on arrival order); each push's buckets are read in place, element by
/// element as for one whole-slice push, so the result does not depend on the
/// bucketing either. Thread-safe for distinct `grad`s (it reads the pushes only).
int64_t weighted_mean(const std::vector<Contribution>& pushes, std::span<float> grad);

}  // namespace troupe::train
