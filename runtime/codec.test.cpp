// Tests of the wire codec (runtime/codec.hpp, docs/PROTOCOL.md).
#include "runtime/codec.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <zmq_addon.hpp>

namespace {

using troupe::decode;
using troupe::DType;
using troupe::encode;
using troupe::Errc;
using troupe::Frames;
using troupe::Header;
using troupe::Kind;
using troupe::Limits;
using troupe::Tensor;

constexpr DType kAllDtypes[] = {DType::f32, DType::f16, DType::bf16, DType::i32, DType::i64, DType::u8};

/// A tensor whose bytes are a pattern depending on `seed`.
Tensor patterned(DType dtype, Tensor::Shape shape, uint8_t seed = 1) {
  Tensor t = Tensor::empty(dtype, std::move(shape));
  auto* p = static_cast<uint8_t*>(t.data());
  for (std::size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<uint8_t>(seed + i * 7);
  return t;
}

bool same_tensor(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.nbytes() == b.nbytes() &&
         (a.nbytes() == 0 || std::memcmp(a.data(), b.data(), a.nbytes()) == 0);
}

std::string bytes_of(const zmq::message_t& m) { return {static_cast<const char*>(m.data()), m.size()}; }

Frames frames_of(const std::vector<std::string>& parts) {
  Frames f;
  for (const auto& p : parts) f.emplace_back(p.data(), p.size());
  return f;
}

Frames copy_of(const Frames& frames) {
  Frames f;
  for (const auto& m : frames) f.emplace_back(m.data(), m.size());
  return f;
}

/// msgpack bytes of `v` (no tensors inside).
template <class T>
std::string packed(const T& v) {
  msgpack::sbuffer b;
  msgpack::pack(b, v);
  return {b.data(), b.size()};
}

/// The bytes of a valid header frame.
std::string header_frame(Header h = {.kind = Kind::call, .call_id = 1, .method = "m"}) {
  return bytes_of(encode(h, msgpack::type::nil_t())[0]);
}

/// Builds msgpack by hand (for malformed inputs the encoder never produces).
struct Raw {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk{buf};
  [[nodiscard]] std::string str() const { return {buf.data(), buf.size()}; }
};

/// A tensor ext value with the given payload bytes.
std::string ext_with_payload(const std::string& payload, int8_t type = troupe::kTensorExtType) {
  Raw r;
  r.pk.pack_ext(payload.size(), type);
  r.pk.pack_ext_body(payload.data(), static_cast<uint32_t>(payload.size()));
  return r.str();
}

/// A tensor ext value [frame, dtype, dims] with dims given as signed or unsigned.
std::string tensor_ext(uint64_t frame, uint64_t dtype, const std::vector<int64_t>& dims) {
  Raw p;
  p.pk.pack_array(3);
  p.pk.pack(frame);
  p.pk.pack(dtype);
  p.pk.pack_array(static_cast<uint32_t>(dims.size()));
  for (int64_t d : dims) p.pk.pack(d);
  return ext_with_payload(p.str());
}

std::string tensor_ext_u(uint64_t frame, uint64_t dtype, const std::vector<uint64_t>& dims) {
  Raw p;
  p.pk.pack_array(3);
  p.pk.pack(frame);
  p.pk.pack(dtype);
  p.pk.pack_array(static_cast<uint32_t>(dims.size()));
  for (uint64_t d : dims) p.pk.pack(d);
  return ext_with_payload(p.str());
}

/// A body that is an array of the given already-packed values.
std::string array_of(const std::vector<std::string>& items) {
  Raw r;
  r.pk.pack_array(static_cast<uint32_t>(items.size()));
  return r.str() + [&] {
    std::string s;
    for (const auto& i : items) s += i;
    return s;
  }();
}

/// Decodes and requires an error of `code` whose message contains `needle`.
void require_rejected(Frames frames, Errc code, const std::string& needle, const Limits& limits = {}) {
  auto r = decode(std::move(frames), limits);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == code);
  INFO("message: " << r.error().message);
  CHECK(r.error().message.find(needle) != std::string::npos);
}

struct Sample {
  std::string name;
  Tensor weights;
  std::vector<Tensor> grads;
  int64_t step = 0;
  MSGPACK_DEFINE(name, weights, grads, step);
};

}  // namespace

TEST_SUITE("codec") {

TEST_CASE("a body with one tensor of every dtype round-trips with equal bytes" * doctest::timeout(10)) {
  std::vector<Tensor> sent;
  uint8_t seed = 3;
  for (DType d : kAllDtypes) sent.push_back(patterned(d, {2, 3}, seed++));
  auto msg = decode(encode(Header{.method = "f"}, sent));
  REQUIRE(msg.ok());
  REQUIRE(msg->tensors().size() == sent.size());
  auto got = msg->body_as<std::vector<Tensor>>();
  REQUIRE(got.ok());
  REQUIRE(got->size() == sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    INFO("dtype " << troupe::dtype_name(sent[i].dtype()));
    CHECK(same_tensor((*got)[i], sent[i]));
  }
}

TEST_CASE("edge shapes round-trip: 0-d, zero-length and an empty inner dimension" * doctest::timeout(10)) {
  const std::vector<Tensor::Shape> shapes = {{}, {0}, {3, 0}, {0, 5, 7}, {1}, {1, 1, 1, 1, 1, 1, 1, 1}, {2, 3, 4}};
  for (DType d : kAllDtypes)
    for (const auto& shape : shapes) {
      Tensor t = patterned(d, shape);
      auto msg = decode(encode(Header{}, std::make_tuple(t)));
      REQUIRE_MESSAGE(msg.ok(), msg.error().message);
      auto got = msg->body_as<std::tuple<Tensor>>();
      REQUIRE(got.ok());
      const Tensor& back = std::get<0>(*got);
      INFO(t.to_string() << " came back as " << back.to_string());
      CHECK(same_tensor(back, t));
      CHECK(back.data() != nullptr);
    }
}

TEST_CASE("a 64 MiB tensor travels with zero copies on both sides" * doctest::timeout(30)) {
  constexpr int64_t n = int64_t{16} << 20;  // f32: 64 MiB
  Tensor t = Tensor::empty(DType::f32, {n});
  auto* p = t.data_as<float>();
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(i % 1000003) * 0.5f;
  const long owners_before = t.owner().use_count();

  Frames frames = encode(Header{.method = "big"}, std::vector<Tensor>{t});
  REQUIRE(frames.size() == 3);
  // Sender side: the frame is the tensor's own memory, kept alive by the frame.
  CHECK(frames[2].data() == t.data());
  CHECK(frames[2].size() == t.nbytes());
  CHECK(t.owner().use_count() == owners_before + 1);

  const void* frame_data = frames[2].data();
  auto msg = decode(std::move(frames));
  REQUIRE(msg.ok());
  auto got = msg->body_as<std::vector<Tensor>>();
  REQUIRE(got.ok());
  const Tensor& back = got->at(0);
  // Receiver side: the tensor views the frame it arrived in.
  CHECK(back.data() == frame_data);
  CHECK(back.shape() == Tensor::Shape{n});
  CHECK(std::memcmp(back.data(), t.data(), t.nbytes()) == 0);
  CHECK(msg->bytes() >= t.nbytes());
}

TEST_CASE("a sent tensor's buffer stays alive until its frame is released" * doctest::timeout(10)) {
  std::weak_ptr<void> watch;
  Frames frames;
  {
    Tensor t = patterned(DType::i64, {1000});
    watch = t.owner();
    frames = encode(Header{}, std::make_tuple(t));
  }
  CHECK_FALSE(watch.expired());  // only the frame holds it now
  frames.clear();
  CHECK(watch.expired());
}

TEST_CASE("decoded tensors keep their frame alive after the Message is gone" * doctest::timeout(10)) {
  Tensor sent = patterned(DType::i32, {4096});
  Tensor kept;
  {
    auto msg = decode(encode(Header{}, std::make_tuple(sent)));
    REQUIRE(msg.ok());
    kept = std::get<0>(msg->body_as<std::tuple<Tensor>>().value());
  }
  CHECK(same_tensor(kept, sent));
}

TEST_CASE("nested containers of tensors round-trip") {
  std::map<std::string, std::vector<Tensor>> named = {
      {"a", {patterned(DType::f32, {2}, 1), patterned(DType::u8, {3}, 2)}},
      {"b", {}},
      {"c", {patterned(DType::bf16, {2, 2}, 3)}}};
  Sample sample{"layer1", patterned(DType::f16, {4, 4}, 4),
                {patterned(DType::f32, {4}, 5), patterned(DType::f32, {0}, 6)}, 42};
  auto body = std::make_tuple(named, sample, std::vector<std::vector<Tensor>>{{patterned(DType::i64, {1}, 7)}});
  auto msg = decode(encode(Header{}, body));
  REQUIRE_MESSAGE(msg.ok(), msg.error().message);
  CHECK(msg->tensors().size() == 7);
  auto got = msg->body_as<decltype(body)>();
  REQUIRE(got.ok());
  const auto& [named2, sample2, deep2] = *got;
  REQUIRE(named2.size() == 3);
  for (const auto& [k, v] : named) {
    REQUIRE(named2.at(k).size() == v.size());
    for (std::size_t i = 0; i < v.size(); ++i) CHECK(same_tensor(named2.at(k)[i], v[i]));
  }
  CHECK(sample2.name == "layer1");
  CHECK(sample2.step == 42);
  CHECK(same_tensor(sample2.weights, sample.weights));
  REQUIRE(sample2.grads.size() == 2);
  CHECK(same_tensor(sample2.grads[1], sample.grads[1]));
  CHECK(same_tensor(deep2.at(0).at(0), std::get<2>(body)[0][0]));
}

TEST_CASE("tensor frames are numbered in packing order from 0") {
  Tensor a = patterned(DType::u8, {5}, 1), b = patterned(DType::u8, {7}, 2);
  Frames frames = encode(Header{}, std::make_tuple(a, b, a));
  REQUIRE(frames.size() == 5);
  CHECK(frames[2].size() == 5);
  CHECK(frames[3].size() == 7);
  CHECK(frames[4].size() == 5);  // the same tensor twice is sent twice (frames are used once)
}

TEST_CASE("the tensor ext value is byte-for-byte as docs/PROTOCOL.md shows") {
  Frames frames = encode(Header{}, Tensor::zeros(DType::f32, {64, 784}));
  REQUIRE(frames.size() == 3);
  // fixext 8, type 1, payload [0, 0, [64, 784]]
  const std::string want("\xd7\x01\x93\x00\x00\x92\x40\xcd\x03\x10", 10);
  CHECK(bytes_of(frames[1]) == want);
  CHECK(frames[2].size() == 64 * 784 * 4);

  Frames call = encode(Header{}, std::make_tuple(7, Tensor::zeros(DType::i64, {2, 3})));
  // [7, ext8(6 bytes, type 1, [0, 4, [2, 3]])]
  CHECK(bytes_of(call[1]) == std::string("\x92\x07\xc7\x06\x01\x93\x00\x04\x92\x02\x03", 11));
}

TEST_CASE("the header is a map of the documented short keys") {
  Header h{.version = troupe::kProtocolVersion, .kind = Kind::reply, .call_id = 9, .method = "add",
           .sender_id = 2, .sender_incarnation = 3, .target_id = 4, .target_incarnation = 5, .deadline_ms = 6};
  Frames frames = encode(h, msgpack::type::nil_t());
  auto oh = msgpack::unpack(static_cast<const char*>(frames[0].data()), frames[0].size());
  auto m = oh.get().as<std::map<std::string, msgpack::object>>();
  CHECK(m.size() == 9);
  CHECK(m.at("v").as<uint32_t>() == 1);
  CHECK(m.at("k").as<int>() == 1);
  CHECK(m.at("id").as<uint64_t>() == 9);
  CHECK(m.at("m").as<std::string>() == "add");
  CHECK(m.at("sid").as<uint64_t>() == 2);
  CHECK(m.at("sinc").as<uint32_t>() == 3);
  CHECK(m.at("tid").as<uint64_t>() == 4);
  CHECK(m.at("tinc").as<uint32_t>() == 5);
  CHECK(m.at("dl").as<int64_t>() == 6);
  CHECK(bytes_of(frames[1]) == "\xc0");  // nil body
}

TEST_CASE("header fields round-trip through decode and decode_header") {
  for (Kind k : {Kind::call, Kind::reply, Kind::error, Kind::event, Kind::control}) {
    for (int64_t deadline : {int64_t{0}, int64_t{-1}, INT64_MIN, INT64_MAX, int64_t{1700000000123}}) {
      Header h{.kind = k, .call_id = UINT64_MAX, .method = "méthode/ünïcode", .sender_id = UINT64_MAX - 1,
               .sender_incarnation = UINT32_MAX, .target_id = 1, .target_incarnation = 0, .deadline_ms = deadline};
      Frames frames = encode(h, 1);
      auto only = troupe::decode_header(frames[0]);
      REQUIRE(only.ok());
      auto msg = decode(std::move(frames));
      REQUIRE(msg.ok());
      for (const Header* g : std::initializer_list<const Header*>{&msg->header(), &*only}) {
        CHECK(g->version == troupe::kProtocolVersion);
        CHECK(g->kind == k);
        CHECK(g->call_id == h.call_id);
        CHECK(g->method == h.method);
        CHECK(g->sender_id == h.sender_id);
        CHECK(g->sender_incarnation == h.sender_incarnation);
        CHECK(g->target_id == h.target_id);
        CHECK(g->target_incarnation == h.target_incarnation);
        CHECK(g->deadline_ms == deadline);
      }
      CHECK(troupe::kind_name(k) != "?");
    }
  }
}

TEST_CASE("a header with only v and k decodes with defaults, and unknown keys are ignored") {
  std::map<std::string, msgpack::object> m;
  Raw r;
  r.pk.pack_map(3);
  r.pk.pack(std::string("k")), r.pk.pack(3);
  r.pk.pack(std::string("future")), r.pk.pack(std::vector<int>{1, 2});
  r.pk.pack(std::string("v")), r.pk.pack(1);
  auto h = troupe::decode_header(zmq::message_t(r.str().data(), r.str().size()));
  REQUIRE_MESSAGE(h.ok(), h.error().message);
  CHECK(h->kind == Kind::event);
  CHECK(h->call_id == 0);
  CHECK(h->method.empty());
}

TEST_CASE("a body that is not the expected type is bad_arguments, not an exception") {
  auto msg = decode(encode(Header{}, std::make_tuple(1, std::string("x"))));
  REQUIRE(msg.ok());
  auto wrong = msg->body_as<std::vector<Tensor>>();
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == Errc::bad_arguments);
  auto right = msg->body_as<std::tuple<int, std::string>>();
  REQUIRE(right.ok());
  CHECK(std::get<1>(*right) == "x");
}

TEST_CASE("an error body decodes into an Error value") {
  troupe::Error sent(Errc::actor_died, "Counter#3 died");
  sent.signal = 9;
  auto msg = decode(encode(Header{.kind = Kind::error, .call_id = 5}, sent));
  REQUIRE(msg.ok());
  auto got = msg->body_as<troupe::Error>();
  REQUIRE(got.ok());
  CHECK(got->code == Errc::actor_died);
  CHECK(got->message == "Counter#3 died");
  CHECK(got->signal == 9);
  auto not_error = decode(encode(Header{}, std::string("no")))->body_as<troupe::Error>();
  CHECK_FALSE(not_error.ok());
}

TEST_CASE("packing a non-CPU tensor throws invalid_argument and leaves no body") {
  float dummy[2] = {0, 0};
  Tensor gpu = Tensor::view(DType::f32, {2}, dummy, nullptr, troupe::Device::cuda(0));
  troupe::Encoder e(Header{});
  CHECK_THROWS_AS(e.body(std::make_tuple(patterned(DType::f32, {1}), gpu)), std::invalid_argument);
  Frames frames = e.finish();
  CHECK(frames.size() == 2);  // the half-packed body and its first tensor are gone
  CHECK(bytes_of(frames[1]) == "\xc0");
}

TEST_CASE("packing a tensor outside Encoder::body throws") {
  msgpack::sbuffer buf;
  CHECK_THROWS_AS(msgpack::pack(buf, patterned(DType::u8, {1})), std::logic_error);
  CHECK(troupe::Encoder::current() == nullptr);
}

TEST_CASE("converting a tensor outside Message::body_as throws") {
  auto msg = decode(encode(Header{}, std::make_tuple(patterned(DType::u8, {1}))));
  REQUIRE(msg.ok());
  CHECK_THROWS(msg->body().as<std::tuple<Tensor>>());
  CHECK(troupe::Message::current() == nullptr);
}

TEST_CASE("finish without a body sends nil, and a spent Encoder refuses more") {
  troupe::Encoder e(Header{.kind = Kind::reply});
  Frames frames = e.finish();
  REQUIRE(frames.size() == 2);
  CHECK(bytes_of(frames[1]) == "\xc0");
  CHECK_THROWS_AS((void)e.finish(), std::logic_error);
  CHECK_THROWS_AS(e.body(1), std::logic_error);
}

TEST_CASE("a large body is handed to ZeroMQ and decodes") {
  std::string big(100000, 'x');
  auto msg = decode(encode(Header{}, big));
  REQUIRE(msg.ok());
  CHECK(msg->body_as<std::string>().value() == big);
}

TEST_CASE("a misaligned tensor frame is copied into aligned memory and counted") {
  alignas(64) static uint8_t storage[8 * 100 + 1];
  for (std::size_t i = 0; i < sizeof storage; ++i) storage[i] = static_cast<uint8_t>(i);
  Frames frames;
  frames.emplace_back(header_frame().data(), header_frame().size());
  const std::string body = array_of({tensor_ext(0, 4 /*i64*/, {100})});
  frames.emplace_back(body.data(), body.size());
  frames.emplace_back(storage + 1, 800, nullptr, nullptr);  // constant, not copied by ZeroMQ
  REQUIRE(frames[2].data() == storage + 1);
  const uint64_t before = troupe::codec_stats().misaligned_copies;
  auto msg = decode(std::move(frames));
  REQUIRE_MESSAGE(msg.ok(), msg.error().message);
  const Tensor& t = msg->tensors()[0];
  CHECK(t.data() != storage + 1);
  CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % 8 == 0);
  CHECK(std::memcmp(t.data(), storage + 1, 800) == 0);
  CHECK(troupe::codec_stats().misaligned_copies == before + 1);
}

TEST_CASE("codec counters count accepted and rejected messages") {
  const auto before = troupe::codec_stats();
  (void)decode(encode(Header{}, 1));
  (void)decode(Frames{});
  const auto after = troupe::codec_stats();
  CHECK(after.encoded == before.encoded + 1);
  CHECK(after.decoded == before.decoded + 1);
  CHECK(after.rejected == before.rejected + 1);
}

// ---- every malformed input is an error value ----

TEST_CASE("wrong frame counts are malformed") {
  require_rejected(Frames{}, Errc::malformed_message, "at least 2 frames");
  require_rejected(frames_of({header_frame()}), Errc::malformed_message, "got 1");
  // An extra frame that the body does not reference.
  require_rejected(frames_of({header_frame(), packed(1), "abcd"}), Errc::malformed_message,
                   "tensor frame 0 is not referenced");
  require_rejected(frames_of({header_frame(), array_of({tensor_ext(0, 5, {2})}), "ab", "cd"}),
                   Errc::malformed_message, "tensor frame 1 is not referenced");
}

TEST_CASE("a tensor ext whose frame index is out of range is malformed") {
  require_rejected(frames_of({header_frame(), array_of({tensor_ext(1, 5, {2})}), "ab"}), Errc::malformed_message,
                   "refers to tensor frame 1 but the message has 1 tensor frames");
  require_rejected(frames_of({header_frame(), tensor_ext(0, 5, {2})}), Errc::malformed_message,
                   "has 0 tensor frames");
  require_rejected(frames_of({header_frame(), array_of({tensor_ext_u(UINT64_MAX, 5, {2})}), "ab"}),
                   Errc::malformed_message, "refers to tensor frame");
}

TEST_CASE("a frame referenced twice is malformed") {
  require_rejected(frames_of({header_frame(), array_of({tensor_ext(0, 5, {2}), tensor_ext(0, 5, {2})}), "ab", "cd"}),
                   Errc::malformed_message, "tensor 0: frame referenced more than once");
}

TEST_CASE("an unknown dtype code is malformed") {
  require_rejected(frames_of({header_frame(), array_of({tensor_ext(0, 6, {2})}), "ab"}), Errc::malformed_message,
                   "unknown dtype code 6");
  require_rejected(frames_of({header_frame(), array_of({tensor_ext(0, 255, {2})}), "ab"}), Errc::malformed_message,
                   "unknown dtype code 255");
}

TEST_CASE("shape times itemsize must equal the frame size exactly") {
  require_rejected(frames_of({header_frame(), array_of({tensor_ext(0, 0, {3, 4})}), std::string(40, 'x')}),
                   Errc::malformed_message, "tensor 0: shape [3, 4] × 4 bytes = 48 ≠ frame size 40");
  require_rejected(frames_of({header_frame(), array_of({tensor_ext(0, 0, {3, 4})}), std::string(49, 'x')}),
                   Errc::malformed_message, "≠ frame size 49");
  require_rejected(frames_of({header_frame(), array_of({tensor_ext(0, 0, {})}), ""}), Errc::malformed_message,
                   "shape [] × 4 bytes = 4 ≠ frame size 0");
}

TEST_CASE("shapes whose size overflows are malformed") {
  const int64_t big = int64_t{1} << 62;
  require_rejected(frames_of({header_frame(), array_of({tensor_ext(0, 5, {big, big})}), ""}),
                   Errc::malformed_message, "overflows");
  // The element count fits int64, the byte count does not fit 64 bits.
  require_rejected(frames_of({header_frame(), array_of({tensor_ext(0, 4, {big, 8})}), ""}),
                   Errc::malformed_message, "overflows");
  // A zero dimension makes any other dimension harmless.
  auto ok = decode(frames_of({header_frame(), array_of({tensor_ext(0, 4, {big, 0, big})}), ""}));
  CHECK_MESSAGE(ok.ok(), ok.error().message);
  require_rejected(frames_of({header_frame(), array_of({tensor_ext_u(0, 5, {uint64_t{1} << 63})}), ""}),
                   Errc::malformed_message, "does not fit int64");
}

TEST_CASE("a negative dim is malformed") {
  require_rejected(frames_of({header_frame(), array_of({tensor_ext(0, 5, {2, -3})}), ""}), Errc::malformed_message,
                   "negative dim -3");
  require_rejected(frames_of({header_frame(), array_of({tensor_ext(0, 5, {INT64_MIN})}), ""}),
                   Errc::malformed_message, "negative dim");
}

TEST_CASE("a rank over the limit is malformed") {
  require_rejected(frames_of({header_frame(), array_of({tensor_ext(0, 5, std::vector<int64_t>(9, 1))}), "x"}),
                   Errc::malformed_message, "rank 9 is over the limit of 8");
  auto ok = decode(frames_of({header_frame(), array_of({tensor_ext(0, 5, std::vector<int64_t>(8, 1))}), "x"}));
  CHECK_MESSAGE(ok.ok(), ok.error().message);
  Limits small;
  small.max_rank = 1;
  require_rejected(frames_of({header_frame(), array_of({tensor_ext(0, 5, {1, 1})}), "x"}), Errc::malformed_message,
                   "rank 2 is over the limit of 1", small);
}

TEST_CASE("tensor ext payloads that are not [frame, dtype, shape] are malformed") {
  auto reject = [](const std::string& payload, const std::string& needle) {
    require_rejected(frames_of({header_frame(), array_of({ext_with_payload(payload)}), "x"}),
                     Errc::malformed_message, needle);
  };
  reject("", "payload is not a msgpack array");
  reject(packed(std::make_tuple(0, 5)), "payload is not a msgpack array");
  reject(packed(std::make_tuple(-1, 5, std::vector<int>{1})), "frame index is not an unsigned integer");
  reject(packed(std::make_tuple(0, "f32", std::vector<int>{1})), "dtype code is not an unsigned integer");
  reject(packed(std::make_tuple(0, 5, 1)), "shape is not an array");
  reject(packed(std::make_tuple(0, 5, std::vector<std::string>{"1"})), "dim 0 is not an integer");
  reject(packed(std::make_tuple(0, 5, std::vector<int>{1})) + std::string(1, '\0'), "1 trailing bytes in the payload");
  reject(std::string("\x93\x00\x05\x98\x01", 5), "shape is truncated");
  reject(std::string("\x93\x00\x05\xdd\xff\xff\xff\xff", 8), "rank 4294967295 is over the limit");
  // Other ext types pass through untouched.
  auto other = decode(frames_of({header_frame(), ext_with_payload("abc", 42)}));
  CHECK_MESSAGE(other.ok(), other.error().message);
}

TEST_CASE("signed encodings of non-negative integers are accepted in a tensor ext") {
  // [int8 0, int8 5, [int16 2]] — what a client that packs signed types sends.
  const std::string payload("\x93\xd0\x00\xd0\x05\x91\xd1\x00\x02", 9);
  auto msg = decode(frames_of({header_frame(), ext_with_payload(payload), "ab"}));
  REQUIRE_MESSAGE(msg.ok(), msg.error().message);
  CHECK(msg->tensors()[0].shape() == Tensor::Shape{2});
  CHECK(msg->tensors()[0].dtype() == DType::u8);
}

TEST_CASE("every truncation of a valid header or body is malformed") {
  Frames good = encode(Header{.kind = Kind::call, .call_id = 77, .method = "push"},
                       std::make_tuple(std::string("abc"), patterned(DType::f32, {2, 2}), std::vector<int>{1, 2, 3}));
  const std::string head = bytes_of(good[0]), body = bytes_of(good[1]), tensor = bytes_of(good[2]);
  for (std::size_t n = 0; n < head.size(); ++n) {
    auto r = decode(frames_of({head.substr(0, n), body, tensor}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::malformed_message);
    CHECK_FALSE(troupe::decode_header(zmq::message_t(head.data(), n)).ok());
  }
  for (std::size_t n = 0; n < body.size(); ++n) {
    auto r = decode(frames_of({head, body.substr(0, n), tensor}));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::malformed_message);
  }
  CHECK(decode(frames_of({head, body, tensor})).ok());
}

TEST_CASE("trailing bytes after the header or body are malformed") {
  Frames good = encode(Header{}, std::make_tuple(1));
  const std::string head = bytes_of(good[0]), body = bytes_of(good[1]);
  require_rejected(frames_of({head + std::string(1, '\0'), body}), Errc::malformed_message, "header: 1 trailing bytes");
  require_rejected(frames_of({head, body + "garbage"}), Errc::malformed_message, "body: 7 trailing bytes");
  require_rejected(frames_of({head, ""}), Errc::malformed_message, "body: empty frame");
  require_rejected(frames_of({head, "\xc1"}), Errc::malformed_message, "invalid msgpack");
}

TEST_CASE("headers with wrong types are malformed and say which key") {
  auto header = [](auto... kv) {
    Raw r;
    r.pk.pack_map(sizeof...(kv) / 2);
    auto put = [&](const auto& x) { r.pk.pack(x); };
    (put(kv), ...);
    return r.str();
  };
  auto reject = [](const std::string& head, const std::string& needle) {
    require_rejected(frames_of({head, packed(1)}), Errc::malformed_message, needle);
    auto h = troupe::decode_header(zmq::message_t(head.data(), head.size()));
    REQUIRE_FALSE(h.ok());
    CHECK(h.error().message.find(needle) != std::string::npos);
  };
  const std::string v = "v", k = "k";
  reject(packed(std::vector<int>{1, 0}), "header is a msgpack array, expected a map");
  reject(packed(7), "expected a map");
  reject(header(v, std::string("1"), k, 0), "header \"v\" must be an unsigned integer, got str");
  reject(header(k, 0), "header has no \"v\"");
  reject(header(v, 1), "header has no \"k\"");
  reject(header(v, 1, k, std::string("call")), "header \"k\" must be an unsigned integer, got str");
  reject(header(v, 1, k, 5), "unknown kind 5");
  reject(header(v, 1, k, -1), "header \"k\" must be an unsigned integer, got negative integer");
  reject(header(v, 1, k, 0, std::string("id"), -5), "header \"id\" must be an unsigned integer");
  reject(header(v, 1, k, 0, std::string("id"), 1.5), "got float64");
  reject(header(v, 1, k, 0, std::string("m"), 12), "header \"m\" must be a str, got unsigned integer");
  reject(header(v, 1, k, 0, std::string("sinc"), uint64_t{1} << 32), "header \"sinc\" = 4294967296 is over");
  reject(header(v, 1, k, 0, std::string("tinc"), true), "header \"tinc\" must be an unsigned integer, got boolean");
  reject(header(v, 1, k, 0, std::string("sid"), msgpack::type::nil_t()), "got nil");
  reject(header(v, 1, k, 0, std::string("tid"), std::vector<int>{}), "got array");
  reject(header(v, 1, k, 0, std::string("dl"), std::string("soon")), "header \"dl\" must be an integer, got str");
  reject(header(v, 1, k, 0, std::string("dl"), UINT64_MAX), "header \"dl\" = 18446744073709551615 is over");
  reject(header(v, 1, k, 0, k, 1), "header key \"k\" appears twice");
  reject(header(v, 1, v, 1, k, 0), "header key \"v\" appears twice");
  reject(header(v, 1, k, 0, 3, 4), "header key #2 is a unsigned integer, expected a str");
}

TEST_CASE("a wrong protocol version is malformed and names the version seen") {
  Raw r;
  r.pk.pack_map(2);
  r.pk.pack(std::string("v")), r.pk.pack(2);
  r.pk.pack(std::string("k")), r.pk.pack(0);
  require_rejected(frames_of({r.str(), packed(1)}), Errc::malformed_message,
                   "unsupported protocol version 2 (this peer speaks version 1)");
  // The version is checked before anything else in the header.
  Raw r2;
  r2.pk.pack_map(2);
  r2.pk.pack(std::string("k")), r2.pk.pack("nonsense");
  r2.pk.pack(std::string("v")), r2.pk.pack(0);
  require_rejected(frames_of({r2.str(), packed(1)}), Errc::malformed_message, "unsupported protocol version 0");
}

TEST_CASE("a body nested deeper than max_depth is malformed") {
  auto nested = [](std::size_t depth) {
    std::string s(depth, '\x91');  // fixarray of 1, depth times
    return s + '\x01';
  };
  auto ok = decode(frames_of({header_frame(), nested(64)}));
  CHECK_MESSAGE(ok.ok(), ok.error().message);
  require_rejected(frames_of({header_frame(), nested(65)}), Errc::malformed_message,
                   "nesting deeper than the limit of 64");
  require_rejected(frames_of({header_frame(), nested(1000000)}), Errc::malformed_message, "nesting deeper");
  // Maps count too.
  std::string maps;
  for (int i = 0; i < 65; ++i) maps += "\x81\x01";
  maps += '\x01';
  require_rejected(frames_of({header_frame(), maps}), Errc::malformed_message, "nesting deeper");
  Limits shallow;
  shallow.max_depth = 2;
  require_rejected(frames_of({header_frame(), nested(3)}), Errc::malformed_message, "limit of 2", shallow);
}

TEST_CASE("containers that declare more elements than bytes are rejected before allocating") {
  // array32 of 2^32-1 elements in a 5-byte body; then the same nested 30 times.
  require_rejected(frames_of({header_frame(), std::string("\xdd\xff\xff\xff\xff", 5)}), Errc::malformed_message,
                   "cannot fit");
  std::string nested;
  for (int i = 0; i < 30; ++i) nested += std::string("\xdd\x00\x10\x00\x00", 5);  // 1M elements each
  require_rejected(frames_of({header_frame(), nested}), Errc::malformed_message, "cannot fit");
  require_rejected(frames_of({header_frame(), std::string("\xdf\xff\xff\xff\xff", 5)}), Errc::malformed_message,
                   "map of");
  require_rejected(frames_of({header_frame(), std::string("\xdb\xff\xff\xff\xff", 5)}), Errc::malformed_message,
                   "truncated");
  // ext32 whose length is 0xffffffff (msgpack-c reports it as an empty ext).
  require_rejected(frames_of({header_frame(), std::string("\xc9\xff\xff\xff\xff\x01", 6)}),
                   Errc::malformed_message, "body:");
}

TEST_CASE("messages over the configured sizes are message_too_large") {
  Frames frames = encode(Header{}, std::make_tuple(patterned(DType::u8, {200})));
  Limits limits;
  limits.max_message_bytes = 100;
  require_rejected(copy_of(frames), Errc::message_too_large, "over the limit of 100", limits);
  limits = {};
  limits.max_header_bytes = 8;
  require_rejected(copy_of(frames), Errc::message_too_large, "header frame is", limits);
  CHECK(troupe::decode_header(frames[0], limits).error().code == Errc::message_too_large);
  limits = {};
  limits.max_body_bytes = 4;
  require_rejected(copy_of(frames), Errc::message_too_large, "body frame is", limits);
  limits = {};
  limits.max_tensors = 0;
  require_rejected(copy_of(frames), Errc::message_too_large, "1 tensor frames, over the limit of 0", limits);
  CHECK(decode(std::move(frames)).ok());
}

TEST_CASE("randomly corrupted messages never crash or throw" * doctest::timeout(60)) {
  std::mt19937_64 rng(20240501);
  std::vector<Frames> seeds;
  seeds.push_back(encode(Header{.method = "a"}, std::make_tuple(patterned(DType::f32, {3, 2}), std::string("s"))));
  seeds.push_back(encode(Header{.kind = Kind::reply}, std::map<std::string, Tensor>{
                                                          {"x", patterned(DType::i64, {2})},
                                                          {"y", patterned(DType::u8, {0})}}));
  seeds.push_back(encode(Header{.kind = Kind::error}, troupe::Error(Errc::timeout, "late")));
  std::size_t accepted = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    const Frames& seed = seeds[iter % seeds.size()];
    std::vector<std::string> parts;
    for (const auto& f : seed) parts.push_back(bytes_of(f));
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      auto& part = parts[rng() % parts.size()];
      switch (rng() % 4) {
        case 0: if (!part.empty()) part[rng() % part.size()] = static_cast<char>(rng()); break;
        case 1: if (!part.empty()) part.resize(rng() % part.size()); break;
        case 2: part.insert(part.begin() + static_cast<long>(rng() % (part.size() + 1)), static_cast<char>(rng())); break;
        case 3: if (rng() % 8 == 0) parts.push_back(std::string(rng() % 16, 'z')); else if (parts.size() > 1) parts.pop_back(); break;
      }
    }
    Frames frames = frames_of(parts);
    troupe::Result<troupe::Message> r = troupe::Error();
    REQUIRE_NOTHROW(r = decode(std::move(frames)));
    if (r.ok()) {
      ++accepted;
      REQUIRE_NOTHROW((void)r->body_as<std::vector<Tensor>>());
      REQUIRE_NOTHROW((void)r->body_as<std::map<std::string, Tensor>>());
      REQUIRE_NOTHROW((void)r->body_as<troupe::Error>());
    } else {
      CHECK((r.error().code == Errc::malformed_message || r.error().code == Errc::message_too_large));
    }
  }
  MESSAGE(accepted << " of 20000 corrupted messages were still valid");
}

// ---- over real sockets ----

namespace {

/// Sends `frames` from a DEALER to a ROUTER over `endpoint`, decodes what the
/// ROUTER receives, replies, and returns the decoded call (and the reply).
struct Exchange {
  troupe::Result<troupe::Message> call = troupe::Error();
  troupe::Result<troupe::Message> reply = troupe::Error();
  std::size_t router_frames = 0;
  std::size_t dealer_frames = 0;
};

Exchange exchange(const std::string& bind_endpoint, Frames frames) {
  zmq::context_t ctx;
  zmq::socket_t router(ctx, zmq::socket_type::router);
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  router.set(zmq::sockopt::rcvtimeo, 10000);
  dealer.set(zmq::sockopt::rcvtimeo, 10000);
  router.set(zmq::sockopt::linger, 0);
  dealer.set(zmq::sockopt::linger, 0);
  router.bind(bind_endpoint);
  dealer.connect(router.get(zmq::sockopt::last_endpoint));
  Exchange out;
  REQUIRE(zmq::send_multipart(dealer, frames));

  Frames in;
  REQUIRE(zmq::recv_multipart(router, std::back_inserter(in)));
  out.router_frames = in.size();
  REQUIRE(in.size() >= 3);
  zmq::message_t identity = std::move(in.front());  // the ROUTER's routing frame; no empty delimiter
  in.erase(in.begin());
  out.call = decode(std::move(in));
  REQUIRE_MESSAGE(out.call.ok(), out.call.error().message);

  Frames reply = encode(Header{.kind = Kind::reply, .call_id = out.call->header().call_id},
                        std::make_tuple(std::string("ok"), patterned(DType::i32, {3})));
  reply.insert(reply.begin(), std::move(identity));
  REQUIRE(zmq::send_multipart(router, reply));
  Frames back;
  REQUIRE(zmq::recv_multipart(dealer, std::back_inserter(back)));
  out.dealer_frames = back.size();
  out.reply = decode(std::move(back));
  return out;
}

}  // namespace

TEST_CASE("a call round-trips DEALER→ROUTER over inproc with the tensor memory shared" * doctest::timeout(20)) {
  Tensor t = patterned(DType::f32, {256, 1024}, 9);  // 1 MiB
  Frames frames = encode(Header{.kind = Kind::call, .call_id = 42, .method = "push"}, std::make_tuple(t, 3));
  auto ex = exchange("inproc://codec-test", std::move(frames));
  CHECK(ex.router_frames == 1 + 2 + 1);
  CHECK(ex.dealer_frames == 2 + 1);
  REQUIRE(ex.call.ok());
  CHECK(ex.call->header().call_id == 42);
  CHECK(ex.call->header().method == "push");
  auto args = ex.call->body_as<std::tuple<Tensor, int>>();
  REQUIRE(args.ok());
  CHECK(same_tensor(std::get<0>(*args), t));
  CHECK(std::get<0>(*args).data() == t.data());  // inproc passes the sender's buffer itself
  REQUIRE_MESSAGE(ex.reply.ok(), ex.reply.error().message);
  CHECK(ex.reply->header().kind == Kind::reply);
  CHECK(ex.reply->header().call_id == 42);
  CHECK(std::get<0>(ex.reply->body_as<std::tuple<std::string, Tensor>>().value()) == "ok");
}

TEST_CASE("a call round-trips DEALER→ROUTER over tcp on 127.0.0.1" * doctest::timeout(20)) {
  std::vector<Tensor> ts;
  uint8_t seed = 1;
  for (DType d : kAllDtypes) ts.push_back(patterned(d, {3, 5}, seed++));
  ts.push_back(patterned(DType::f32, {1 << 20}, 77));  // 4 MiB
  ts.push_back(patterned(DType::u8, {0}));
  auto ex = exchange("tcp://127.0.0.1:*", encode(Header{.call_id = 7, .method = "many"}, ts));
  REQUIRE(ex.call.ok());
  auto got = ex.call->body_as<std::vector<Tensor>>();
  REQUIRE(got.ok());
  REQUIRE(got->size() == ts.size());
  for (std::size_t i = 0; i < ts.size(); ++i) {
    CHECK(same_tensor((*got)[i], ts[i]));
    CHECK(reinterpret_cast<std::uintptr_t>((*got)[i].data()) % troupe::itemsize(ts[i].dtype()) == 0);
  }
  REQUIRE_MESSAGE(ex.reply.ok(), ex.reply.error().message);
  auto reply = ex.reply->body_as<std::tuple<std::string, Tensor>>();
  REQUIRE(reply.ok());
  CHECK(same_tensor(std::get<1>(*reply), patterned(DType::i32, {3})));
}

}  // TEST_SUITE
