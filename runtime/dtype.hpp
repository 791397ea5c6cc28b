#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace troupe {

/// Element types a Tensor can hold. The numeric values are the wire codes
/// (docs/PROTOCOL.md); never renumber them.
enum class DType : uint8_t { f32 = 0, f16 = 1, bf16 = 2, i32 = 3, i64 = 4, u8 = 5 };

/// Bytes per element.
constexpr std::size_t itemsize(DType t) {
  switch (t) {
    case DType::f32: case DType::i32: return 4;
    case DType::f16: case DType::bf16: return 2;
    case DType::i64: return 8;
    case DType::u8: return 1;
  }
  return 0;
}

/// "f32", "bf16", ... (also the safetensors spelling via safetensors_name()).
std::string_view dtype_name(DType t);
/// "F32", "BF16", ... as safetensors writes them.
std::string_view safetensors_name(DType t);
/// The DType of a wire code, or nothing when the code is unknown.
std::optional<DType> dtype_from_code(uint64_t code);

}  // namespace troupe
