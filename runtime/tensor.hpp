#pragma once
// A dense, contiguous, reference-counted n-d array. The buffer is shared between
// copies of a Tensor (copying a Tensor never copies bytes); whoever needs a
// private copy calls clone(). A Tensor may view memory it does not own (a
// received ZeroMQ frame), kept alive by its owner pointer: this is how tensors
// travel with zero copies (DESIGN §2).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/dtype.hpp"

namespace troupe {

/// Where a tensor's bytes live. The runtime moves only CPU tensors over the
/// wire; cuda tensors are the kernels' business.
struct Device {
  enum class Kind : uint8_t { cpu = 0, cuda = 1 };
  Kind kind = Kind::cpu;
  int index = 0;
  static Device cpu() { return {}; }
  static Device cuda(int i) { return {Kind::cuda, i}; }
  bool operator==(const Device&) const = default;
  [[nodiscard]] std::string to_string() const;  ///< "cpu" or "cuda:N"
};

/// Thread-safety: a Tensor object is as safe as a shared_ptr (distinct objects
/// may be used from distinct threads; the bytes themselves are not guarded).
class Tensor {
 public:
  using Shape = std::vector<int64_t>;

  /// An empty f32 tensor of shape {0}.
  Tensor();
  /// Uninitialised tensor; CPU memory is 64-byte aligned.
  static Tensor empty(DType dtype, Shape shape);
  /// Zero-filled tensor.
  static Tensor zeros(DType dtype, Shape shape);
  /// A copy of `values` as a 1-d or shaped f32 tensor.
  static Tensor from_floats(std::span<const float> values, Shape shape = {});
  /// A view over memory owned by `owner` (not copied). `data` must stay valid
  /// while `owner` lives. nbytes must equal numel(shape) * itemsize(dtype).
  static Tensor view(DType dtype, Shape shape, void* data, std::shared_ptr<void> owner,
                     Device device = Device::cpu());

  [[nodiscard]] DType dtype() const { return dtype_; }
  [[nodiscard]] const Shape& shape() const { return shape_; }
  [[nodiscard]] int64_t dim(std::size_t i) const { return shape_.at(i); }
  [[nodiscard]] std::size_t rank() const { return shape_.size(); }
  [[nodiscard]] int64_t numel() const { return numel_; }
  [[nodiscard]] std::size_t nbytes() const { return static_cast<std::size_t>(numel_) * itemsize(dtype_); }
  [[nodiscard]] Device device() const { return device_; }
  [[nodiscard]] void* data() { return data_; }
  [[nodiscard]] const void* data() const { return data_; }
  /// Typed pointer; throws std::invalid_argument when T does not match dtype().
  template <class T> [[nodiscard]] T* data_as();
  template <class T> [[nodiscard]] const T* data_as() const;
  /// Typed span over all elements (checked like data_as).
  template <class T> [[nodiscard]] std::span<T> span() { return {data_as<T>(), static_cast<std::size_t>(numel_)}; }
  template <class T> [[nodiscard]] std::span<const T> span() const { return {data_as<T>(), static_cast<std::size_t>(numel_)}; }

  /// Keeps the bytes alive; shared by all copies and views of this tensor.
  [[nodiscard]] const std::shared_ptr<void>& owner() const { return owner_; }
  /// A deep copy into fresh aligned memory.
  [[nodiscard]] Tensor clone() const;
  /// Same bytes, another shape with the same numel (throws otherwise).
  [[nodiscard]] Tensor reshape(Shape shape) const;
  /// Elements [begin, end) of the flattened tensor, as a 1-d view (no copy).
  [[nodiscard]] Tensor slice(int64_t begin, int64_t end) const;
  /// "f32[64, 784]".
  [[nodiscard]] std::string to_string() const;

  /// numel of a shape, or -1 when a dimension is negative or the product overflows int64.
  static int64_t checked_numel(const Shape& shape);

 private:
  DType dtype_ = DType::f32;
  Shape shape_{0};
  int64_t numel_ = 0;
  Device device_{};
  void* data_ = nullptr;
  std::shared_ptr<void> owner_;
};

namespace detail {
template <class T> constexpr bool dtype_matches(DType d);
template <> constexpr bool dtype_matches<float>(DType d) { return d == DType::f32; }
template <> constexpr bool dtype_matches<int32_t>(DType d) { return d == DType::i32; }
template <> constexpr bool dtype_matches<int64_t>(DType d) { return d == DType::i64; }
template <> constexpr bool dtype_matches<uint8_t>(DType d) { return d == DType::u8; }
template <> constexpr bool dtype_matches<uint16_t>(DType d) { return d == DType::f16 || d == DType::bf16; }
[[noreturn]] void throw_dtype_mismatch(DType have, const char* want);
}  // namespace detail

template <class T>
T* Tensor::data_as() {
  if (!detail::dtype_matches<T>(dtype_)) detail::throw_dtype_mismatch(dtype_, typeid(T).name());
  return static_cast<T*>(data_);
}
template <class T>
const T* Tensor::data_as() const {
  if (!detail::dtype_matches<T>(dtype_)) detail::throw_dtype_mismatch(dtype_, typeid(T).name());
  return static_cast<const T*>(data_);
}

}  // namespace troupe
