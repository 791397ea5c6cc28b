#pragma once
// Writes an MLP's flat parameter vector as a .safetensors file
// (https://huggingface.co/docs/safetensors): u64 little-endian header length,
// a JSON header {"layers.<i>.weight": {"dtype": "F32", "shape": [out, in],
// "data_offsets": [b, e]}, "layers.<i>.bias": …, "__metadata__": {…}} padded
// with spaces to 8 bytes, then the raw data. The names and [out, in] shapes
// are torch.nn.Linear's, so `safetensors.torch.load_file` gives tensors that
// load into an nn.Sequential of Linear layers (indices renamed).
#include <map>
#include <span>
#include <string>

#include "kernels/mlp_spec.hpp"
#include "runtime/error.hpp"

namespace troupe::train {

/// Writes params (layout of spec) to path atomically (tmp + rename). Thread-safe for distinct paths.
Result<void> write_safetensors(const std::string& path, const kernels::MlpSpec& spec, std::span<const float> params,
                               const std::map<std::string, std::string>& metadata = {});

}  // namespace troupe::train
