// libFuzzer target for troupe::decode (DESIGN §2: decoding trusts nothing).
//
// Input format: a sequence of frames, each a 2-byte little-endian length and
// then that many bytes (a length past the end takes what is left). The frames
// go to decode(); a message it accepts is then converted to several body types,
// its tensor bytes are read (ASan checks the zero-copy views), and a body of
// tensors is re-encoded and must decode again to the same bytes.
//
// With TROUPE_FUZZ_WRITE_SEEDS=DIR set, the binary writes a seed corpus of
// valid messages into DIR and exits (tests/fuzz/meson.build does this at build time).
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/codec.hpp"

namespace {

using troupe::Tensor;

troupe::Frames split(const uint8_t* data, std::size_t size) {
  troupe::Frames frames;
  std::size_t pos = 0;
  while (size - pos >= 2 && frames.size() < 64) {
    std::size_t len = data[pos] | (std::size_t{data[pos + 1]} << 8);
    pos += 2;
    len = std::min(len, size - pos);
    frames.emplace_back(data + pos, len);
    pos += len;
  }
  return frames;
}

std::string join(const troupe::Frames& frames) {
  std::string out;
  for (const auto& f : frames) {
    out += static_cast<char>(f.size() & 0xff);
    out += static_cast<char>((f.size() >> 8) & 0xff);
    out.append(static_cast<const char*>(f.data()), f.size());
  }
  return out;
}

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "decoder_fuzz invariant broken: %s\n", what);
  std::abort();
}

uint64_t touch(const Tensor& t) {
  // Reads every byte so that ASan checks the view.
  uint64_t sum = 0;
  const auto* p = static_cast<const uint8_t*>(t.data());
  for (std::size_t i = 0; i < t.nbytes(); ++i) sum += p[i];
  return sum;
}

Tensor filled(troupe::DType dtype, Tensor::Shape shape, uint8_t seed) {
  Tensor t = Tensor::empty(dtype, std::move(shape));
  auto* p = static_cast<uint8_t*>(t.data());
  for (std::size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<uint8_t>(seed + i);
  return t;
}

struct Sample {
  std::string name;
  Tensor weights;
  std::vector<Tensor> grads;
  int64_t step = 0;
  MSGPACK_DEFINE(name, weights, grads, step);
};

void write_seeds(const char* dir) {
  ::mkdir(dir, 0755);
  using troupe::DType;
  using troupe::Header;
  using troupe::Kind;
  std::vector<troupe::Frames> seeds;
  seeds.push_back(troupe::encode(Header{.kind = Kind::call, .call_id = 1, .method = "add"}, std::make_tuple(5)));
  seeds.push_back(troupe::encode(
      Header{.kind = Kind::call, .call_id = 2, .method = "push", .sender_id = 7, .sender_incarnation = 1,
             .target_id = 3, .target_incarnation = 2, .deadline_ms = 1700000000000},
      std::vector<Tensor>{filled(DType::f32, {2, 3}, 1), filled(DType::i64, {4}, 2)}));
  seeds.push_back(troupe::encode(
      Header{.kind = Kind::reply, .call_id = 2},
      std::map<std::string, Tensor>{{"w", filled(DType::bf16, {3}, 3)}, {"b", filled(DType::u8, {0}, 4)}}));
  seeds.push_back(troupe::encode(Header{.kind = Kind::error, .call_id = 3},
                                 troupe::Error(troupe::Errc::remote_error, "boom")));
  seeds.push_back(troupe::encode(
      Header{.kind = Kind::event, .method = "actor_state"},
      Sample{"s", filled(DType::f16, {}, 5), {filled(DType::i32, {2, 0}, 6), filled(DType::f32, {1, 1, 2}, 7)}, 9}));
  seeds.push_back(troupe::encode(Header{.kind = Kind::control, .method = "stats"}, msgpack::type::nil_t()));
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    const std::string path = std::string(dir) + "/seed-" + std::to_string(i);
    const std::string bytes = join(seeds[i]);
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) fail("cannot write seed");
    std::fclose(f);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("TROUPE_FUZZ_WRITE_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  troupe::Frames frames = split(data, size);
  const bool has_header = !frames.empty();
  zmq::message_t header_copy;
  if (has_header) header_copy.copy(frames[0]);

  troupe::Limits limits;
  limits.max_depth = 16;  // small enough that the fuzzer reaches it
  if (has_header) {
    // What a server answers to a header: never throws; a good call is answered with its own id.
    const auto answer = troupe::answerable_header(header_copy, limits);
    const auto h = troupe::decode_header(header_copy, limits);
    if (h.ok() && h->kind == troupe::Kind::call && (!answer || answer->call_id != h->call_id))
      fail("answerable_header disagrees with decode_header on a good call header");
  }
  auto msg = troupe::decode(std::move(frames), limits);
  if (!msg.ok()) {
    const auto code = msg.error().code;
    if (code != troupe::Errc::malformed_message && code != troupe::Errc::message_too_large)
      fail("decode returned an unexpected error code");
    if (msg.error().message.empty()) fail("decode error without a message");
    return 0;
  }
  if (!has_header || !troupe::decode_header(header_copy, limits).ok())
    fail("decode accepted a message whose header decode_header rejects");

  uint64_t sink = 0;
  for (const Tensor& t : msg->tensors()) sink += touch(t);
  std::ostringstream text;
  text << msg->body();
  sink += text.str().size();

  // Conversions must fail as values, never as crashes or escaped exceptions.
  (void)msg->body_as<msgpack::object>();
  (void)msg->body_as<std::string>();
  (void)msg->body_as<int64_t>();
  (void)msg->body_as<troupe::Error>();
  (void)msg->body_as<Sample>();
  (void)msg->body_as<std::tuple<int, Tensor>>();
  if (auto m = msg->body_as<std::map<std::string, Tensor>>(); m.ok())
    for (const auto& [k, t] : *m) sink += touch(t) + k.size();

  // A body of tensors re-encodes and decodes to the same tensors.
  if (auto ts = msg->body_as<std::vector<Tensor>>(); ts.ok()) {
    auto again = troupe::decode(troupe::encode(msg->header(), *ts), limits);
    if (!again.ok()) fail("re-encoded tensors do not decode");
    auto back = again->body_as<std::vector<Tensor>>();
    if (!back.ok() || back->size() != ts->size()) fail("re-encoded tensors do not convert back");
    for (std::size_t i = 0; i < ts->size(); ++i) {
      const Tensor& a = (*ts)[i];
      const Tensor& b = (*back)[i];
      if (a.dtype() != b.dtype() || a.shape() != b.shape() || a.nbytes() != b.nbytes() ||
          (a.nbytes() != 0 && std::memcmp(a.data(), b.data(), a.nbytes()) != 0))
        fail("re-encoded tensor differs");
    }
  }
  if (sink == 0xdeadbeefcafef00dULL) std::puts("");  // keep `sink` alive
  return 0;
}
