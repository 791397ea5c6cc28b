#include "runtime/tensor.hpp"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace troupe {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
    case DType::u8: return "u8";
  }
  return "?";
}

std::string_view safetensors_name(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
    case DType::u8: return "U8";
  }
  return "?";
}

std::optional<DType> dtype_from_code(uint64_t code) {
  if (code > static_cast<uint64_t>(DType::u8)) return std::nullopt;
  return static_cast<DType>(code);
}

std::string Device::to_string() const {
  return kind == Kind::cpu ? std::string("cpu") : "cuda:" + std::to_string(index);
}

void detail::throw_dtype_mismatch(DType have, const char* want) {
  throw std::invalid_argument("tensor holds " + std::string(dtype_name(have)) + ", accessed as " + want);
}

int64_t Tensor::checked_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d != 0 && n > INT64_MAX / d) return -1;
    n *= d;
  }
  return n;
}

Tensor::Tensor() = default;

Tensor Tensor::empty(DType dtype, Shape shape) {
  const int64_t n = checked_numel(shape);
  if (n < 0 || static_cast<uint64_t>(n) > SIZE_MAX / itemsize(dtype))
    throw std::invalid_argument("Tensor::empty: invalid shape");
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = n;
  // Round up so aligned_alloc's size is a multiple of the alignment; never 0 bytes.
  std::size_t bytes = (t.nbytes() + 63) / 64 * 64;
  if (bytes == 0) bytes = 64;
  void* p = std::aligned_alloc(64, bytes);
  if (p == nullptr) throw std::bad_alloc();
  t.owner_ = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  t.data_ = p;
  return t;
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  Tensor t = empty(dtype, std::move(shape));
  if (t.nbytes() > 0) std::memset(t.data_, 0, t.nbytes());
  return t;
}

Tensor Tensor::from_floats(std::span<const float> values, Shape shape) {
  if (shape.empty()) shape = {static_cast<int64_t>(values.size())};
  Tensor t = empty(DType::f32, std::move(shape));
  if (static_cast<std::size_t>(t.numel_) != values.size())
    throw std::invalid_argument("Tensor::from_floats: shape does not match value count");
  // An empty span may hold a null pointer, which memcpy must not get even for 0 bytes.
  if (!values.empty()) std::memcpy(t.data_, values.data(), values.size_bytes());
  return t;
}

Tensor Tensor::view(DType dtype, Shape shape, void* data, std::shared_ptr<void> owner, Device device) {
  const int64_t n = checked_numel(shape);
  if (n < 0) throw std::invalid_argument("Tensor::view: invalid shape");
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = n;
  t.device_ = device;
  t.data_ = data;
  t.owner_ = std::move(owner);
  return t;
}

Tensor Tensor::clone() const {
  if (device_.kind != Device::Kind::cpu) throw std::invalid_argument("Tensor::clone: only CPU tensors");
  Tensor t = empty(dtype_, shape_);
  if (nbytes() != 0) std::memcpy(t.data_, data_, nbytes());
  return t;
}

Tensor Tensor::reshape(Shape shape) const {
  if (checked_numel(shape) != numel_) throw std::invalid_argument("Tensor::reshape: numel differs");
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  if (begin < 0 || end < begin || end > numel_) throw std::out_of_range("Tensor::slice: bad range");
  Tensor t = *this;
  t.shape_ = {end - begin};
  t.numel_ = end - begin;
  t.data_ = static_cast<char*>(data_) + static_cast<std::size_t>(begin) * itemsize(dtype_);
  return t;
}

std::string Tensor::to_string() const {
  std::string s(dtype_name(dtype_));
  s += "[";
  for (std::size_t i = 0; i < shape_.size(); ++i) s += (i ? ", " : "") + std::to_string(shape_[i]);
  s += "]";
  if (device_.kind != Device::Kind::cpu) s += "@" + device_.to_string();
  return s;
}

}  // namespace troupe
