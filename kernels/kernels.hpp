#pragma once
// The kernels interface (DESIGN §6): one set of names, two backends.
//   troupe::kernels::cpu::*   host pointers; the reference implementation
//   troupe::kernels::cuda::*  device pointers + a stream (kernels/cuda/*.hpp,
//                             only when TROUPE_HAVE_CUDA is defined)
// and the model built on them (Mlp, MlpSpec, ParamLayout, AdamState).
#include "kernels/adam.hpp"
#include "kernels/adam_hyper.hpp"
#include "kernels/cpu/activation.hpp"
#include "kernels/cpu/adam.hpp"
#include "kernels/cpu/bias.hpp"
#include "kernels/cpu/blas1.hpp"
#include "kernels/cpu/convert.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/loss.hpp"
#include "kernels/cpu/threads.hpp"
#include "kernels/device.hpp"
#include "kernels/mlp.hpp"
#include "kernels/mlp_spec.hpp"
#include "kernels/types.hpp"
