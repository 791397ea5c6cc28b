#include "kernels/adam.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/cpu/adam.hpp"

namespace troupe::kernels {

AdamState::AdamState(int64_t begin, int64_t end, AdamHyper hyper) : begin_(begin), end_(end), hyper_(hyper) {
  if (begin < 0 || end < begin) throw std::invalid_argument("AdamState: bad range");
  m_.assign(static_cast<std::size_t>(size()), 0.0f);
  v_.assign(static_cast<std::size_t>(size()), 0.0f);
}

void AdamState::step(std::span<float> params, std::span<const float> grad) {
  if (static_cast<int64_t>(params.size()) != size() || static_cast<int64_t>(grad.size()) != size())
    throw std::invalid_argument("AdamState::step: slice of " + std::to_string(size()) + " elements, got params " +
                                std::to_string(params.size()) + " and grad " + std::to_string(grad.size()));
  ++step_;
  cpu::adam_update(params.data(), grad.data(), m_.data(), v_.data(), size(), hyper_, step_);
}

void AdamState::restore(int64_t step, std::span<const float> m, std::span<const float> v) {
  if (step < 0 || static_cast<int64_t>(m.size()) != size() || static_cast<int64_t>(v.size()) != size())
    throw std::invalid_argument("AdamState::restore: wrong sizes");
  step_ = step;
  std::copy(m.begin(), m.end(), m_.begin());
  std::copy(v.begin(), v.end(), v_.begin());
}

}  // namespace troupe::kernels
