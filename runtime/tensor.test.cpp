// Tests of Tensor and DType (runtime/tensor.hpp, runtime/dtype.hpp).
#include "runtime/tensor.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

using troupe::Device;
using troupe::DType;
using troupe::Tensor;

TEST_SUITE("tensor") {

TEST_CASE("dtype wire codes, sizes and names are the documented ones") {
  CHECK(static_cast<int>(DType::f32) == 0);
  CHECK(static_cast<int>(DType::f16) == 1);
  CHECK(static_cast<int>(DType::bf16) == 2);
  CHECK(static_cast<int>(DType::i32) == 3);
  CHECK(static_cast<int>(DType::i64) == 4);
  CHECK(static_cast<int>(DType::u8) == 5);
  CHECK(troupe::itemsize(DType::f32) == 4);
  CHECK(troupe::itemsize(DType::f16) == 2);
  CHECK(troupe::itemsize(DType::bf16) == 2);
  CHECK(troupe::itemsize(DType::i32) == 4);
  CHECK(troupe::itemsize(DType::i64) == 8);
  CHECK(troupe::itemsize(DType::u8) == 1);
  CHECK(troupe::dtype_name(DType::bf16) == "bf16");
  CHECK(troupe::safetensors_name(DType::bf16) == "BF16");
  CHECK(troupe::safetensors_name(DType::u8) == "U8");
}

TEST_CASE("dtype_from_code knows codes 0 to 5 and nothing else") {
  for (uint64_t c = 0; c <= 5; ++c) {
    REQUIRE(troupe::dtype_from_code(c).has_value());
    CHECK(static_cast<uint64_t>(*troupe::dtype_from_code(c)) == c);
  }
  CHECK_FALSE(troupe::dtype_from_code(6).has_value());
  CHECK_FALSE(troupe::dtype_from_code(256).has_value());
  CHECK_FALSE(troupe::dtype_from_code(UINT64_MAX).has_value());
}

TEST_CASE("a default tensor is an empty f32 vector") {
  Tensor t;
  CHECK(t.dtype() == DType::f32);
  CHECK(t.shape() == Tensor::Shape{0});
  CHECK(t.numel() == 0);
  CHECK(t.nbytes() == 0);
  CHECK(t.device() == Device::cpu());
}

TEST_CASE("empty tensors are 64-byte aligned, including zero-sized and 0-d ones") {
  for (const Tensor::Shape& s : {Tensor::Shape{}, Tensor::Shape{0}, Tensor::Shape{3, 0}, Tensor::Shape{5, 7}}) {
    Tensor t = Tensor::empty(DType::u8, s);
    REQUIRE(t.data() != nullptr);
    CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0);
  }
  CHECK(Tensor::empty(DType::f32, {}).numel() == 1);
  CHECK(Tensor::empty(DType::f32, {}).rank() == 0);
  CHECK(Tensor::empty(DType::i64, {3, 0}).nbytes() == 0);
}

TEST_CASE("zeros are zero and from_floats copies its values") {
  Tensor z = Tensor::zeros(DType::i32, {4, 3});
  for (int32_t v : z.span<int32_t>()) CHECK(v == 0);
  std::vector<float> vals = {1, 2, 3, 4, 5, 6};
  Tensor f = Tensor::from_floats(vals, {2, 3});
  vals[0] = 99;
  CHECK(f.shape() == Tensor::Shape{2, 3});
  CHECK(f.span<float>()[0] == 1);
  CHECK(f.span<float>()[5] == 6);
  CHECK(Tensor::from_floats(vals).shape() == Tensor::Shape{6});
  CHECK_THROWS_AS(Tensor::from_floats(vals, {4}), std::invalid_argument);
}

TEST_CASE("invalid shapes are refused") {
  CHECK_THROWS_AS(Tensor::empty(DType::f32, {-1}), std::invalid_argument);
  CHECK_THROWS_AS(Tensor::empty(DType::f32, {int64_t{1} << 62, int64_t{1} << 62}), std::invalid_argument);
  CHECK_THROWS_AS(Tensor::empty(DType::f32, {int64_t{1} << 62}), std::invalid_argument);  // bytes overflow
  float x = 0;
  CHECK_THROWS_AS(Tensor::view(DType::f32, {-2}, &x, nullptr), std::invalid_argument);
}

TEST_CASE("checked_numel detects negative dims and int64 overflow") {
  CHECK(Tensor::checked_numel({}) == 1);
  CHECK(Tensor::checked_numel({0}) == 0);
  CHECK(Tensor::checked_numel({3, 4}) == 12);
  CHECK(Tensor::checked_numel({2, -1}) == -1);
  CHECK(Tensor::checked_numel({int64_t{1} << 62, 2}) == -1);  // 2^63
  CHECK(Tensor::checked_numel({int64_t{1} << 31, int64_t{1} << 31, 2}) == -1);
  CHECK(Tensor::checked_numel({int64_t{1} << 31, int64_t{1} << 31}) == int64_t{1} << 62);
  CHECK(Tensor::checked_numel({INT64_MAX, 1}) == INT64_MAX);
  CHECK(Tensor::checked_numel({INT64_MAX, 2}) == -1);
  CHECK(Tensor::checked_numel({int64_t{1} << 62, 0, int64_t{1} << 62}) == 0);
}

TEST_CASE("copies share bytes and clone does not") {
  Tensor a = Tensor::zeros(DType::f32, {4});
  Tensor b = a;
  Tensor c = a.clone();
  a.span<float>()[0] = 7;
  CHECK(b.span<float>()[0] == 7);
  CHECK(c.span<float>()[0] == 0);
  CHECK(c.data() != a.data());
  CHECK(reinterpret_cast<std::uintptr_t>(c.data()) % 64 == 0);
}

TEST_CASE("a view keeps its owner alive and does not copy") {
  std::weak_ptr<void> watch;
  Tensor v;
  {
    auto buf = std::shared_ptr<void>(new int64_t[3]{1, 2, 3}, [](void* p) { delete[] static_cast<int64_t*>(p); });
    watch = buf;
    v = Tensor::view(DType::i64, {3}, buf.get(), buf);
    CHECK(v.data() == buf.get());
  }
  CHECK_FALSE(watch.expired());
  CHECK(v.span<int64_t>()[2] == 3);
  v = Tensor();
  CHECK(watch.expired());
}

TEST_CASE("reshape keeps the bytes and refuses a different element count") {
  Tensor a = Tensor::from_floats(std::vector<float>{1, 2, 3, 4, 5, 6});
  Tensor b = a.reshape({3, 2});
  CHECK(b.shape() == Tensor::Shape{3, 2});
  CHECK(b.data() == a.data());
  CHECK_THROWS_AS(a.reshape({4}), std::invalid_argument);
  CHECK(a.reshape({1, 6, 1}).numel() == 6);
}

TEST_CASE("slice views a range of the flattened tensor") {
  Tensor a = Tensor::from_floats(std::vector<float>{0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor s = a.slice(2, 5);
  CHECK(s.shape() == Tensor::Shape{3});
  CHECK(s.span<float>()[0] == 2);
  CHECK(s.span<float>()[2] == 4);
  CHECK(s.owner() == a.owner());
  CHECK(a.slice(6, 6).numel() == 0);
  CHECK_THROWS_AS(a.slice(-1, 2), std::out_of_range);
  CHECK_THROWS_AS(a.slice(3, 2), std::out_of_range);
  CHECK_THROWS_AS(a.slice(0, 7), std::out_of_range);
}

TEST_CASE("typed access checks the dtype") {
  Tensor a = Tensor::zeros(DType::bf16, {2});
  CHECK_NOTHROW((void)a.data_as<uint16_t>());
  CHECK_THROWS_AS((void)a.data_as<float>(), std::invalid_argument);
  const Tensor c = Tensor::zeros(DType::u8, {2});
  CHECK_THROWS_AS((void)c.span<int32_t>(), std::invalid_argument);
  CHECK(c.span<uint8_t>().size() == 2);
}

TEST_CASE("to_string shows dtype, shape and a non-CPU device") {
  CHECK(Tensor::empty(DType::f32, {64, 784}).to_string() == "f32[64, 784]");
  CHECK(Tensor::empty(DType::i64, {}).to_string() == "i64[]");
  float x = 0;
  CHECK(Tensor::view(DType::f32, {1}, &x, nullptr, Device::cuda(1)).to_string() == "f32[1]@cuda:1");
  CHECK(Device::cuda(2).to_string() == "cuda:2");
  CHECK(Device::cpu().to_string() == "cpu");
}

TEST_CASE("clone refuses a non-CPU tensor") {
  float x = 0;
  CHECK_THROWS_AS((void)Tensor::view(DType::f32, {1}, &x, nullptr, Device::cuda(0)).clone(), std::invalid_argument);
}

}  // TEST_SUITE
