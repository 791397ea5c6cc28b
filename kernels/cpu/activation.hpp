#pragma once
// Elementwise activations. The backward pass takes the forward OUTPUT y (not
// the input): ReLU' = [y > 0], sigmoid' = y(1 - y), tanh' = 1 - y^2, so a
// layer keeps only one buffer per activation.
#include <cstdint>

#include "kernels/types.hpp"

namespace troupe::kernels::cpu {

/// y = act(x) on count elements; y may equal x. Thread-safe for distinct y.
void activation_forward(Activation act, const float* x, float* y, int64_t count);

/// dx = dy * act'(.) expressed through y = act(x); dx may equal dy.
/// Thread-safe for distinct dx.
void activation_backward(Activation act, const float* y, const float* dy, float* dx, int64_t count);

}  // namespace troupe::kernels::cpu
