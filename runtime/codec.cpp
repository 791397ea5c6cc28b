#include "runtime/codec.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>

namespace troupe {

namespace {

std::atomic<uint64_t> g_encoded{0};
std::atomic<uint64_t> g_decoded{0};
std::atomic<uint64_t> g_rejected{0};
std::atomic<uint64_t> g_misaligned_copies{0};

thread_local Encoder* t_current_encoder = nullptr;
thread_local const Message* t_current_message = nullptr;

Error malformed(std::string msg) { return Error(Errc::malformed_message, std::move(msg)); }
Error too_large(std::string msg) { return Error(Errc::message_too_large, std::move(msg)); }

std::string shape_string(const Tensor::Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string_view type_name(msgpack::type::object_type t) {
  switch (t) {
    case msgpack::type::NIL: return "nil";
    case msgpack::type::BOOLEAN: return "boolean";
    case msgpack::type::POSITIVE_INTEGER: return "unsigned integer";
    case msgpack::type::NEGATIVE_INTEGER: return "negative integer";
    case msgpack::type::FLOAT32: return "float32";
    case msgpack::type::FLOAT64: return "float64";
    case msgpack::type::STR: return "str";
    case msgpack::type::BIN: return "bin";
    case msgpack::type::ARRAY: return "array";
    case msgpack::type::MAP: return "map";
    case msgpack::type::EXT: return "ext";
  }
  return "unknown type";
}

// ---- the tensor ext payload: msgpack [frame, dtype, [dims…]] ----
// A tiny exact reader for the three integer/array forms the payload may use, so
// that validating up to max_tensors payloads allocates nothing.

struct Int {
  bool negative = false;
  uint64_t u = 0;  // valid when !negative
  int64_t i = 0;   // valid when negative
};

class Reader {
 public:
  Reader(const char* p, std::size_t n)
      : p_(reinterpret_cast<const uint8_t*>(p)), end_(reinterpret_cast<const uint8_t*>(p) + n) {}
  [[nodiscard]] bool done() const { return p_ == end_; }
  [[nodiscard]] std::size_t left() const { return static_cast<std::size_t>(end_ - p_); }

  /// Any msgpack integer form; false when the next value is not an integer or is cut off.
  bool integer(Int& out) {
    if (done()) return false;
    const uint8_t b = *p_++;
    if (b <= 0x7f) { out = {false, b, 0}; return true; }
    if (b >= 0xe0) { out = {true, 0, static_cast<int8_t>(b)}; return true; }
    switch (b) {
      case 0xcc: return unsigned_be(1, out);
      case 0xcd: return unsigned_be(2, out);
      case 0xce: return unsigned_be(4, out);
      case 0xcf: return unsigned_be(8, out);
      case 0xd0: return signed_be(1, out);
      case 0xd1: return signed_be(2, out);
      case 0xd2: return signed_be(4, out);
      case 0xd3: return signed_be(8, out);
      default: return false;
    }
  }
  /// An array header; false when the next value is not an array or is cut off.
  bool array(uint32_t& n) {
    if (done()) return false;
    const uint8_t b = *p_++;
    if (b >= 0x90 && b <= 0x9f) { n = b & 0x0fu; return true; }
    uint64_t v = 0;
    if (b == 0xdc && be(2, v)) { n = static_cast<uint32_t>(v); return true; }
    if (b == 0xdd && be(4, v)) { n = static_cast<uint32_t>(v); return true; }
    return false;
  }

 private:
  bool be(std::size_t bytes, uint64_t& v) {
    if (left() < bytes) return false;
    v = 0;
    for (std::size_t k = 0; k < bytes; ++k) v = (v << 8) | *p_++;
    return true;
  }
  bool unsigned_be(std::size_t bytes, Int& out) {
    uint64_t v = 0;
    if (!be(bytes, v)) return false;
    out = {false, v, 0};
    return true;
  }
  bool signed_be(std::size_t bytes, Int& out) {
    uint64_t v = 0;
    if (!be(bytes, v)) return false;
    // Sign-extend from `bytes` bytes.
    const unsigned shift = static_cast<unsigned>(64 - 8 * bytes);
    const int64_t s = shift == 0 ? static_cast<int64_t>(v) : static_cast<int64_t>(v << shift) >> shift;
    if (s >= 0) out = {false, static_cast<uint64_t>(s), 0};
    else out = {true, 0, s};
    return true;
  }
  const uint8_t* p_;
  const uint8_t* end_;
};

struct TensorRef {
  uint64_t frame = 0;
  DType dtype = DType::f32;
  Tensor::Shape shape;
};

/// Parses a tensor ext payload. Returns an error text, or nothing on success.
/// `max_rank` bounds the allocation of the shape before it is read.
std::optional<std::string> parse_tensor_ext(const char* data, std::size_t size, std::size_t max_rank,
                                            TensorRef& out) {
  Reader r(data, size);
  uint32_t n = 0;
  if (!r.array(n) || n != 3) return "payload is not a msgpack array [frame, dtype, shape]";
  Int frame, code;
  if (!r.integer(frame) || frame.negative) return "frame index is not an unsigned integer";
  if (!r.integer(code) || code.negative) return "dtype code is not an unsigned integer";
  uint32_t rank = 0;
  if (!r.array(rank)) return "shape is not an array of integers";
  out.frame = frame.u;
  const auto dtype = dtype_from_code(code.u);
  if (!dtype) return "unknown dtype code " + std::to_string(code.u);
  out.dtype = *dtype;
  if (rank > max_rank) return "rank " + std::to_string(rank) + " is over the limit of " + std::to_string(max_rank);
  // Every dim takes at least one byte: a rank the payload cannot hold is cut off.
  if (rank > r.left()) return "shape is truncated";
  out.shape.clear();
  out.shape.reserve(rank);
  for (uint32_t k = 0; k < rank; ++k) {
    Int d;
    if (!r.integer(d)) return "dim " + std::to_string(k) + " is not an integer";
    if (d.negative) return "negative dim " + std::to_string(d.i) + " at position " + std::to_string(k);
    if (d.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return "dim " + std::to_string(d.u) + " at position " + std::to_string(k) + " does not fit int64";
    out.shape.push_back(static_cast<int64_t>(d.u));
  }
  if (!r.done()) return std::to_string(r.left()) + " trailing bytes in the payload";
  return std::nullopt;
}

// ---- a pre-pass over a msgpack value that allocates nothing ----
// It bounds nesting depth and the element counts the containers declare (so the
// object tree msgpack::unpack builds next is at most ~24 bytes per input byte,
// whatever the input claims), and validates tensor ext values against the frames.

struct TensorCheck {
  std::span<const std::size_t> frame_sizes;  // bytes of tensor frame i
  std::vector<std::optional<TensorRef>> refs;
  std::size_t exts_seen = 0;
};

class ScanVisitor : public msgpack::null_visitor {
 public:
  ScanVisitor(std::size_t len, std::size_t max_depth, std::size_t max_rank, TensorCheck* tensors)
      : len_(len), max_depth_(max_depth), max_rank_(max_rank), tensors_(tensors) {}

  bool start_array(uint32_t n) { return open(n, "array"); }
  bool end_array() { --depth_; return true; }
  bool start_map(uint32_t n) { return open(uint64_t{2} * n, "map"); }
  bool end_map() { --depth_; return true; }
  bool visit_ext(const char* v, uint32_t size) {
    // msgpack-c reports a 0xffffffff-long ext32 as size 0 without consuming it.
    if (size == 0 || v == nullptr) return fail("ext value without a type byte");
    if (size - 1 > len_) return fail("ext value longer than the frame");
    if (tensors_ == nullptr || static_cast<int8_t>(v[0]) != kTensorExtType) return true;
    return tensor(v + 1, size - 1);
  }
  void parse_error(std::size_t, std::size_t error_offset) {
    if (error_.empty()) error_ = "invalid msgpack at byte " + std::to_string(error_offset > 0 ? error_offset - 1 : 0);
  }
  void insufficient_bytes(std::size_t, std::size_t) {
    if (error_.empty()) error_ = "truncated msgpack (the value needs more than the " + std::to_string(len_) + " bytes given)";
  }

  std::string error_;

 private:
  bool fail(std::string msg) {
    if (error_.empty()) error_ = std::move(msg);
    return false;
  }
  bool open(uint64_t elements, const char* what) {
    if (++depth_ > max_depth_)
      return fail("msgpack nesting deeper than the limit of " + std::to_string(max_depth_));
    // Every element takes at least one byte, so a well-formed value declares at
    // most len_ elements in total; more is a lie meant to make us allocate.
    declared_ += elements;
    if (declared_ > len_)
      return fail(std::string(what) + " of " + std::to_string(elements) + " elements cannot fit in " +
                  std::to_string(len_) + " bytes");
    return true;
  }
  bool tensor(const char* payload, uint32_t size) {
    const std::size_t ordinal = tensors_->exts_seen++;
    TensorRef ref;
    if (auto err = parse_tensor_ext(payload, size, max_rank_, ref))
      return fail("tensor ext #" + std::to_string(ordinal) + " (in body order): " + *err);
    const std::size_t nframes = tensors_->frame_sizes.size();
    if (ref.frame >= nframes)
      return fail("tensor ext #" + std::to_string(ordinal) + " refers to tensor frame " + std::to_string(ref.frame) +
                  " but the message has " + std::to_string(nframes) + " tensor frames");
    const std::string name = "tensor " + std::to_string(ref.frame) + ": ";
    auto& slot = tensors_->refs[ref.frame];
    if (slot) return fail(name + "frame referenced more than once");
    const int64_t numel = Tensor::checked_numel(ref.shape);
    if (numel < 0) return fail(name + "shape " + shape_string(ref.shape) + " overflows the element count");
    const std::size_t item = itemsize(ref.dtype);
    const uint64_t un = static_cast<uint64_t>(numel);
    if (un > std::numeric_limits<uint64_t>::max() / item)
      return fail(name + "shape " + shape_string(ref.shape) + " × " + std::to_string(item) + " bytes overflows");
    const uint64_t bytes = un * item;
    const std::size_t have = tensors_->frame_sizes[ref.frame];
    if (bytes != have)
      return fail(name + "shape " + shape_string(ref.shape) + " × " + std::to_string(item) + " bytes = " +
                  std::to_string(bytes) + " ≠ frame size " + std::to_string(have));
    slot = std::move(ref);
    return true;
  }

  std::size_t len_;
  std::size_t max_depth_;
  std::size_t max_rank_;
  TensorCheck* tensors_;
  std::size_t depth_ = 0;
  uint64_t declared_ = 0;
};

bool reference_everything(msgpack::type::object_type, std::size_t, void*) { return true; }

/// Scans then unpacks exactly one msgpack value spanning [data, data+len).
/// With `reference`, str/bin/ext in the tree point into `data` (caller keeps it alive).
std::optional<std::string> bounded_unpack(const char* data, std::size_t len, std::size_t max_depth,
                                          std::size_t max_rank, TensorCheck* tensors, bool reference,
                                          msgpack::object_handle& out) {
  if (len == 0) return std::string("empty frame (no msgpack value)");
  ScanVisitor scan(len, max_depth, max_rank, tensors);
  std::size_t off = 0;
  if (!msgpack::parse(data, len, off, scan))
    return scan.error_.empty() ? std::string("invalid msgpack") : scan.error_;
  if (off != len)
    return std::to_string(len - off) + " trailing bytes after the msgpack value (which ends at byte " +
           std::to_string(off) + ")";
  // The scan proved the value well-formed and small; the limits are a second guard.
  const msgpack::unpack_limit limit(len, len / 2, len, len, len, max_depth);
  std::size_t off2 = 0;
  bool referenced = false;
  out = msgpack::unpack(data, len, off2, referenced, reference ? &reference_everything : nullptr, nullptr, limit);
  if (off2 != len) return std::string("msgpack value does not span the frame");
  return std::nullopt;
}

std::optional<std::string> read_uint(const msgpack::object& v, const char* key, uint64_t max, uint64_t& out) {
  if (v.type != msgpack::type::POSITIVE_INTEGER)
    return std::string("header \"") + key + "\" must be an unsigned integer, got " + std::string(type_name(v.type));
  if (v.via.u64 > max)
    return std::string("header \"") + key + "\" = " + std::to_string(v.via.u64) + " is over its maximum " +
           std::to_string(max);
  out = v.via.u64;
  return std::nullopt;
}

bool key_is(const msgpack::object& k, std::string_view name) {
  return std::string_view(k.via.str.ptr, k.via.str.size) == name;
}

/// The Header in a decoded header map; an error text when it is not one.
std::optional<std::string> header_from_object(const msgpack::object& o, Header& h) {
  if (o.type != msgpack::type::MAP) return "header is a msgpack " + std::string(type_name(o.type)) + ", expected a map";
  const auto& map = o.via.map;
  for (uint32_t i = 0; i < map.size; ++i)
    if (map.ptr[i].key.type != msgpack::type::STR)
      return "header key #" + std::to_string(i) + " is a " + std::string(type_name(map.ptr[i].key.type)) +
             ", expected a str";
  // The version first: a peer of another version may lay out everything else differently.
  const msgpack::object* version = nullptr;
  for (uint32_t i = 0; i < map.size; ++i)
    if (key_is(map.ptr[i].key, "v")) {
      if (version) return std::string("header key \"v\" appears twice");
      version = &map.ptr[i].val;
    }
  if (!version) return std::string("header has no \"v\" (protocol version)");
  uint64_t u = 0;
  if (auto e = read_uint(*version, "v", std::numeric_limits<uint32_t>::max(), u)) return e;
  if (u != kProtocolVersion)
    return "unsupported protocol version " + std::to_string(u) + " (this peer speaks version " +
           std::to_string(kProtocolVersion) + ")";
  h = Header{};
  h.version = static_cast<uint32_t>(u);

  enum : unsigned { kK = 1, kId = 2, kM = 4, kSid = 8, kSinc = 16, kTid = 32, kTinc = 64, kDl = 128 };
  unsigned seen = 0;
  auto once = [&seen](unsigned bit, const char* key) -> std::optional<std::string> {
    if (seen & bit) return std::string("header key \"") + key + "\" appears twice";
    seen |= bit;
    return std::nullopt;
  };
  constexpr uint64_t u32max = std::numeric_limits<uint32_t>::max();
  constexpr uint64_t u64max = std::numeric_limits<uint64_t>::max();
  for (uint32_t i = 0; i < map.size; ++i) {
    const auto& k = map.ptr[i].key;
    const auto& v = map.ptr[i].val;
    std::optional<std::string> err;
    if (key_is(k, "v")) {
      continue;
    } else if (key_is(k, "k")) {
      if (!(err = once(kK, "k")) && !(err = read_uint(v, "k", u64max, u))) {
        if (u > static_cast<uint64_t>(Kind::control)) err = "unknown kind " + std::to_string(u);
        else h.kind = static_cast<Kind>(u);
      }
    } else if (key_is(k, "id")) {
      if (!(err = once(kId, "id"))) err = read_uint(v, "id", u64max, h.call_id);
    } else if (key_is(k, "m")) {
      if (!(err = once(kM, "m"))) {
        if (v.type != msgpack::type::STR) err = "header \"m\" must be a str, got " + std::string(type_name(v.type));
        else h.method.assign(v.via.str.ptr, v.via.str.size);
      }
    } else if (key_is(k, "sid")) {
      if (!(err = once(kSid, "sid"))) err = read_uint(v, "sid", u64max, h.sender_id);
    } else if (key_is(k, "sinc")) {
      if (!(err = once(kSinc, "sinc")) && !(err = read_uint(v, "sinc", u32max, u)))
        h.sender_incarnation = static_cast<uint32_t>(u);
    } else if (key_is(k, "tid")) {
      if (!(err = once(kTid, "tid"))) err = read_uint(v, "tid", u64max, h.target_id);
    } else if (key_is(k, "tinc")) {
      if (!(err = once(kTinc, "tinc")) && !(err = read_uint(v, "tinc", u32max, u)))
        h.target_incarnation = static_cast<uint32_t>(u);
    } else if (key_is(k, "dl")) {
      if (!(err = once(kDl, "dl"))) {
        if (v.type == msgpack::type::NEGATIVE_INTEGER) h.deadline_ms = v.via.i64;
        else if (!(err = read_uint(v, "dl", static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), u)))
          h.deadline_ms = static_cast<int64_t>(u);
        if (err && v.type != msgpack::type::POSITIVE_INTEGER)
          err = "header \"dl\" must be an integer, got " + std::string(type_name(v.type));
      }
    }
    // Unknown keys are ignored: later minor additions stay readable by this peer.
    if (err) return err;
  }
  if (!(seen & kK)) return std::string("header has no \"k\" (kind)");
  return std::nullopt;
}

Result<Header> decode_header_impl(const zmq::message_t& frame, const Limits& limits) {
  if (frame.size() > limits.max_header_bytes)
    return too_large("header frame is " + std::to_string(frame.size()) + " bytes, over the limit of " +
                     std::to_string(limits.max_header_bytes));
  msgpack::object_handle oh;
  if (auto err = bounded_unpack(static_cast<const char*>(frame.data()), frame.size(), limits.max_depth, 0, nullptr,
                                false, oh))
    return malformed("header: " + *err);
  Header h;
  if (auto err = header_from_object(oh.get(), h)) return malformed(*err);
  return h;
}

std::optional<Answerable> answerable_header_impl(const zmq::message_t& frame, const Limits& limits) {
  if (frame.size() > limits.max_header_bytes) return std::nullopt;
  msgpack::object_handle oh;
  if (bounded_unpack(static_cast<const char*>(frame.data()), frame.size(), limits.max_depth, 0, nullptr, false, oh))
    return std::nullopt;
  const msgpack::object& o = oh.get();
  if (o.type != msgpack::type::MAP) return std::nullopt;
  Answerable a;
  bool have_id = false;
  for (uint32_t i = 0; i < o.via.map.size; ++i) {
    const auto& k = o.via.map.ptr[i].key;
    const auto& v = o.via.map.ptr[i].val;
    if (k.type != msgpack::type::STR) continue;
    if (key_is(k, "k") && v.type == msgpack::type::POSITIVE_INTEGER && v.via.u64 >= 1 && v.via.u64 <= 3)
      return std::nullopt;  // a reply, an error or an event: never answered
    if (key_is(k, "id") && !have_id) {
      have_id = true;
      if (v.type == msgpack::type::POSITIVE_INTEGER) a.call_id = v.via.u64;
    }
  }
  return a;
}

void free_body(void* data, void*) { std::free(data); }
void release_owner(void*, void* hint) { delete static_cast<std::shared_ptr<void>*>(hint); }

template <class Stream>
void pack_key(msgpack::packer<Stream>& pk, std::string_view key) {
  pk.pack_str(static_cast<uint32_t>(key.size()));
  pk.pack_str_body(key.data(), static_cast<uint32_t>(key.size()));
}

}  // namespace

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::call: return "call";
    case Kind::reply: return "reply";
    case Kind::error: return "error";
    case Kind::event: return "event";
    case Kind::control: return "control";
  }
  return "?";
}

CodecStats codec_stats() {
  return {g_encoded.load(std::memory_order_relaxed), g_decoded.load(std::memory_order_relaxed),
          g_rejected.load(std::memory_order_relaxed), g_misaligned_copies.load(std::memory_order_relaxed)};
}

// ---- scopes ----
namespace detail {
EncoderScope::EncoderScope(Encoder* e) : prev(t_current_encoder) { t_current_encoder = e; }
EncoderScope::~EncoderScope() { t_current_encoder = prev; }
MessageScope::MessageScope(const Message* m) : prev(t_current_message) { t_current_message = m; }
MessageScope::~MessageScope() { t_current_message = prev; }

std::string tensor_ext_payload(uint32_t index, const Tensor& t) {
  msgpack::sbuffer buf(64);
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(3);
  pk.pack(index);
  pk.pack(static_cast<unsigned>(t.dtype()));
  pk.pack_array(static_cast<uint32_t>(t.rank()));
  for (int64_t d : t.shape()) pk.pack(static_cast<uint64_t>(d));
  return {buf.data(), buf.size()};
}

Tensor tensor_from_ext(const msgpack::object& o) {
  if (o.type != msgpack::type::EXT || o.via.ext.type() != kTensorExtType) throw msgpack::type_error();
  const Message* m = Message::current();
  if (m == nullptr)
    throw std::logic_error("a troupe::Tensor can only be converted inside troupe::Message::body_as()");
  TensorRef ref;
  if (parse_tensor_ext(o.via.ext.data(), o.via.ext.size, std::numeric_limits<uint32_t>::max(), ref) ||
      ref.frame >= m->tensors().size())
    throw msgpack::type_error();
  return m->tensors()[ref.frame];
}
}  // namespace detail

// ---- Encoder ----
Encoder::Encoder(Header header) : header_(std::move(header)) {}
Encoder::~Encoder() = default;

Encoder* Encoder::current() { return t_current_encoder; }

uint32_t Encoder::add_tensor(const Tensor& t) {
  if (t.device().kind != Device::Kind::cpu)
    throw std::invalid_argument("cannot send tensor " + t.to_string() +
                                ": only CPU tensors travel over the wire (copy it to the host first)");
  if (tensors_.size() >= std::numeric_limits<uint32_t>::max())
    throw std::length_error("too many tensors in one message");
  tensors_.push_back(t);
  return static_cast<uint32_t>(tensors_.size() - 1);
}

Frames Encoder::finish() {
  if (finished_) throw std::logic_error("Encoder::finish called twice");
  finished_ = true;
  if (!has_body_) {
    body_.clear();
    tensors_.clear();
    msgpack::pack(body_, msgpack::type::nil_t());
  }
  Frames frames;
  frames.reserve(2 + tensors_.size());

  msgpack::sbuffer head(128);
  msgpack::packer<msgpack::sbuffer> pk(head);
  pk.pack_map(9);
  pack_key(pk, "v"), pk.pack(header_.version);
  pack_key(pk, "k"), pk.pack(static_cast<unsigned>(header_.kind));
  pack_key(pk, "id"), pk.pack(header_.call_id);
  pack_key(pk, "m"), pk.pack(header_.method);
  pack_key(pk, "sid"), pk.pack(header_.sender_id);
  pack_key(pk, "sinc"), pk.pack(header_.sender_incarnation);
  pack_key(pk, "tid"), pk.pack(header_.target_id);
  pack_key(pk, "tinc"), pk.pack(header_.target_incarnation);
  pack_key(pk, "dl"), pk.pack(header_.deadline_ms);
  frames.emplace_back(head.data(), head.size());

  // A small body is cheaper to copy than to hand over its (≥ 8 KiB) buffer.
  if (body_.size() < 1024) {
    frames.emplace_back(body_.data(), body_.size());
  } else {
    const std::size_t n = body_.size();
    std::unique_ptr<char, decltype(&std::free)> buf(body_.release(), &std::free);
    frames.emplace_back(buf.get(), n, &free_body, nullptr);
    buf.release();
  }

  for (const Tensor& t : tensors_) {
    if (t.nbytes() == 0) {
      frames.emplace_back();
      continue;
    }
    // Zero copy: ZeroMQ reads the tensor's own bytes and calls release_owner
    // (from its I/O thread) once sent; the heap copy of the owner keeps them alive.
    auto keep = std::make_unique<std::shared_ptr<void>>(t.owner());
    frames.emplace_back(const_cast<void*>(t.data()), t.nbytes(), &release_owner, keep.get());
    keep.release();
  }
  tensors_.clear();
  g_encoded.fetch_add(1, std::memory_order_relaxed);
  return frames;
}

// ---- Message / decode ----
const Message* Message::current() { return t_current_message; }

namespace {

// What decode() moves into a Message (it alone may touch Message's members).
struct Decoded {
  Header header_;
  std::shared_ptr<zmq::message_t> body_frame_;
  msgpack::object_handle body_;
  std::vector<Tensor> tensors_;
  std::size_t bytes_ = 0;
};

Result<Decoded> decode_impl(Frames& frames, const Limits& limits) {
  if (frames.size() < 2)
    return malformed("expected at least 2 frames (header, body), got " + std::to_string(frames.size()));
  const std::size_t ntensors = frames.size() - 2;
  if (ntensors > limits.max_tensors)
    return too_large(std::to_string(ntensors) + " tensor frames, over the limit of " +
                     std::to_string(limits.max_tensors));
  std::size_t total = 0;
  for (const auto& f : frames) {
    if (f.size() > std::numeric_limits<std::size_t>::max() - total) return too_large("message size overflows");
    total += f.size();
  }
  if (total > limits.max_message_bytes)
    return too_large("message is " + std::to_string(total) + " bytes, over the limit of " +
                     std::to_string(limits.max_message_bytes));
  if (frames[1].size() > limits.max_body_bytes)
    return too_large("body frame is " + std::to_string(frames[1].size()) + " bytes, over the limit of " +
                     std::to_string(limits.max_body_bytes));

  auto header = decode_header_impl(frames[0], limits);
  if (!header) return header.error();

  std::vector<std::size_t> sizes(ntensors);
  for (std::size_t i = 0; i < ntensors; ++i) sizes[i] = frames[2 + i].size();
  TensorCheck check{sizes, std::vector<std::optional<TensorRef>>(ntensors), 0};

  Decoded m;
  m.header_ = std::move(header.value());
  m.bytes_ = total;
  m.body_frame_ = std::make_shared<zmq::message_t>(std::move(frames[1]));
  if (auto err = bounded_unpack(static_cast<const char*>(m.body_frame_->data()), m.body_frame_->size(),
                                limits.max_depth, limits.max_rank, &check, true, m.body_))
    return malformed("body: " + *err);
  for (std::size_t i = 0; i < ntensors; ++i)
    if (!check.refs[i]) return malformed("tensor frame " + std::to_string(i) + " is not referenced by the body");

  m.tensors_.reserve(ntensors);
  for (std::size_t i = 0; i < ntensors; ++i) {
    TensorRef& ref = *check.refs[i];
    // On the heap before data() is read: a small frame keeps its bytes inside
    // the message_t itself, so its address must not change afterwards.
    auto frame = std::make_shared<zmq::message_t>(std::move(frames[2 + i]));
    void* data = frame->data();
    const std::size_t item = itemsize(ref.dtype);
    if (frame->size() == 0) {
      m.tensors_.push_back(Tensor::empty(ref.dtype, std::move(ref.shape)));
    } else if (reinterpret_cast<std::uintptr_t>(data) % item == 0) {
      m.tensors_.push_back(Tensor::view(ref.dtype, std::move(ref.shape), data, std::move(frame)));
    } else {
      // Misaligned for its dtype (small frames live inside the zmq_msg_t; tcp
      // may pack frames into a shared receive buffer at any offset): typed
      // access would be undefined behaviour, so this one frame is copied.
      Tensor t = Tensor::empty(ref.dtype, std::move(ref.shape));
      std::memcpy(t.data(), data, frame->size());
      m.tensors_.push_back(std::move(t));
      g_misaligned_copies.fetch_add(1, std::memory_order_relaxed);
    }
  }
  return m;
}

template <class F>
auto never_throw(F&& f) -> decltype(f()) {
  try {
    auto r = f();
    (r.ok() ? g_decoded : g_rejected).fetch_add(1, std::memory_order_relaxed);
    return r;
  } catch (const std::bad_alloc&) {
    g_rejected.fetch_add(1, std::memory_order_relaxed);
    return too_large("out of memory while decoding");
  } catch (const std::exception& e) {
    g_rejected.fetch_add(1, std::memory_order_relaxed);
    return malformed(std::string("decoding failed: ") + e.what());
  } catch (...) {
    g_rejected.fetch_add(1, std::memory_order_relaxed);
    return malformed("decoding failed");
  }
}

}  // namespace

Result<Message> decode(Frames&& frames, const Limits& limits) {
  return never_throw([&]() -> Result<Message> {
    auto d = decode_impl(frames, limits);
    if (!d) return d.error();
    Message m;
    m.header_ = std::move(d->header_);
    m.body_frame_ = std::move(d->body_frame_);
    m.body_ = std::move(d->body_);
    m.tensors_ = std::move(d->tensors_);
    m.bytes_ = d->bytes_;
    return m;
  });
}

std::optional<Answerable> answerable_header(const zmq::message_t& frame, const Limits& limits) {
  try {
    return answerable_header_impl(frame, limits);
  } catch (...) {
    return std::nullopt;  // bad_alloc under a hostile header: not answered, never thrown
  }
}

Result<Header> decode_header(const zmq::message_t& frame, const Limits& limits) {
  // decode_header does not count towards `decoded` (decode() will, later).
  try {
    auto r = decode_header_impl(frame, limits);
    if (!r.ok()) g_rejected.fetch_add(1, std::memory_order_relaxed);
    return r;
  } catch (const std::bad_alloc&) {
    g_rejected.fetch_add(1, std::memory_order_relaxed);
    return too_large("out of memory while decoding the header");
  } catch (const std::exception& e) {
    g_rejected.fetch_add(1, std::memory_order_relaxed);
    return malformed(std::string("decoding the header failed: ") + e.what());
  }
}

}  // namespace troupe
