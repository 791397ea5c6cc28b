#pragma once
// The wire codec of DESIGN §2 / docs/PROTOCOL.md (protocol version 1):
//   [routing…][header][body][tensor frame 0]…[tensor frame n-1]
// header: msgpack map; body: msgpack; a Tensor inside the body is a msgpack ext
// value (type kTensorExtType) naming its frame, dtype and shape; its bytes
// travel in their own frame, sent and received with zero copies.
// Routing frames are the transport's business: encode() never emits them and
// decode() must be given the frames after them.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>
#include <zmq.hpp>

#include "runtime/error.hpp"
#include "runtime/tensor.hpp"

namespace troupe {

/// The wire protocol version this build speaks (header key "v"); docs/PROTOCOL.md.
constexpr uint32_t kProtocolVersion = 1;
/// The msgpack ext type of a tensor reference in a body.
constexpr int8_t kTensorExtType = 1;

/// What a message is. Wire codes; never renumber.
enum class Kind : uint8_t { call = 0, reply = 1, error = 2, event = 3, control = 4 };

/// "call", "reply", "error", "event", "control" ("?" for an out-of-range value).
std::string_view kind_name(Kind k);

/// The header frame. Plain value type.
struct Header {
  uint32_t version = kProtocolVersion;
  Kind kind = Kind::call;
  uint64_t call_id = 0;            ///< chosen by the caller; echoed in reply/error
  std::string method{};            ///< call/control: method name; event: topic
  uint64_t sender_id = 0;          ///< actor id of the sender (0: driver/tool)
  uint32_t sender_incarnation = 0;
  uint64_t target_id = 0;          ///< actor id addressed (0: the process itself)
  uint32_t target_incarnation = 0; ///< incarnation the caller believes is alive
  int64_t deadline_ms = 0;         ///< unix epoch milliseconds; 0 = none
};

/// Decoding limits; everything over them is rejected, never allocated.
struct Limits {
  /// All frames together; also each frame's ZMQ_MAXMSGSIZE, so a peer cannot make
  /// a receiver buffer more. 256 MiB: the largest message training sends (a
  /// whole test split, a model's parameters) with room to spare, and an amount
  /// every worker can afford per connection (docs/LIMITS.md, "Caps").
  std::size_t max_message_bytes = std::size_t{256} << 20;
  std::size_t max_tensors = 4096;
  std::size_t max_rank = 8;
  std::size_t max_depth = 64;        ///< msgpack nesting (arrays/maps inside each other) in the body
  std::size_t max_header_bytes = 4096;
  /// The body frame alone. Bulk data belongs in tensor frames; this bounds the
  /// memory the msgpack object tree of a hostile body can take (≤ 24 B per body byte).
  std::size_t max_body_bytes = std::size_t{64} << 20;
};

/// Process-wide codec counters (a snapshot). Thread-safe.
struct CodecStats {
  uint64_t encoded = 0;            ///< messages built by Encoder::finish()
  uint64_t decoded = 0;            ///< messages accepted by decode()
  uint64_t rejected = 0;           ///< decode()/decode_header() calls that returned an error
  uint64_t misaligned_copies = 0;  ///< received tensor frames copied because misaligned for their dtype
};
/// The counters since process start. Thread-safe.
CodecStats codec_stats();

/// The frames of one message, routing frames excluded.
using Frames = std::vector<zmq::message_t>;

/// Builds one outgoing message. Not thread-safe; use one Encoder per message.
/// Tensors packed into the body are referenced, not copied: each frame keeps
/// its tensor's buffer alive until ZeroMQ has sent it. The sender must not
/// write to a sent tensor's bytes until ZeroMQ released the frame (clone() first
/// when in doubt): over inproc the receiver sees the very same memory.
class Encoder {
 public:
  explicit Encoder(Header header);
  ~Encoder();
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  /// Packs `value` as the body (call once; a second call replaces the first).
  /// Tensors anywhere inside become ext values plus frames. Throws
  /// std::invalid_argument for a non-CPU tensor (the Encoder is then bodiless).
  template <class T>
  Encoder& body(const T& value);
  /// The frames [header][body][tensors…]; a missing body is sent as nil.
  /// The Encoder is spent afterwards (a second call throws std::logic_error).
  [[nodiscard]] Frames finish();

  /// Used by the Tensor msgpack adaptor: registers a tensor, returns its frame
  /// index. Throws std::invalid_argument for a non-CPU tensor.
  uint32_t add_tensor(const Tensor& t);
  /// The Encoder whose body() is running on this thread (thread-local; nullptr outside body()).
  static Encoder* current();

 private:
  Header header_;
  msgpack::sbuffer body_;
  bool has_body_ = false;
  bool finished_ = false;
  std::vector<Tensor> tensors_;
};

/// A received, validated message. Owns its frames; tensors view them (no copy,
/// unless a frame was misaligned for its dtype, in which case it was copied).
/// Move-only. Thread-safety: immutable after decode(); const use from several
/// threads is safe.
class Message {
 public:
  [[nodiscard]] const Header& header() const { return header_; }
  /// The body; valid while this Message lives. Converting it to a Tensor
  /// directly (body().as<Tensor>()) throws: use body_as<T>().
  [[nodiscard]] const msgpack::object& body() const { return body_.get(); }
  /// The tensors, by frame index.
  [[nodiscard]] std::span<const Tensor> tensors() const { return tensors_; }
  /// Total bytes of all frames.
  [[nodiscard]] std::size_t bytes() const { return bytes_; }
  /// The body converted to T (tensors inside view this message's frames);
  /// Errc::bad_arguments when the body does not have T's shape. Never throws.
  template <class T>
  [[nodiscard]] Result<T> body_as() const;

  /// The Message whose body_as() is running on this thread (thread-local; Tensor adaptor).
  static const Message* current();

 private:
  friend Result<Message> decode(Frames&& frames, const Limits& limits);
  Header header_;
  // The body frame, on the heap so that its address (and str/bin/ext bytes the
  // object tree references) stays put when the Message moves.
  std::shared_ptr<zmq::message_t> body_frame_;
  msgpack::object_handle body_;
  std::vector<Tensor> tensors_;
  std::size_t bytes_ = 0;
};

/// Validates and decodes frames (routing frames already removed). Never throws
/// on bad input: returns Errc::malformed_message or Errc::message_too_large
/// with a message saying what was wrong. Consumes the frames, even on failure.
/// Thread-safe (no shared state but counters).
Result<Message> decode(Frames&& frames, const Limits& limits = {});
/// Decodes only the header frame (for routing and fencing before the body).
/// Never throws; same errors as decode(). Thread-safe.
Result<Header> decode_header(const zmq::message_t& frame, const Limits& limits = {});

/// Whether a header frame that decode_header() refused still deserves an error
/// reply, and the call id to echo in it. A receiver answers a header that is a
/// msgpack map unless it says it is itself an answer or an event (`k` 1, 2 or 3:
/// answering those could loop between two peers); the id is the first `id`
/// key's value when it is an unsigned integer, else 0 (the sender can still
/// match the error by arriving first). Garbage that is not a map is not
/// answered. Never throws, allocates at most the header's object tree
/// (bounded by `limits`). Thread-safe.
struct Answerable {
  uint64_t call_id = 0;
};
std::optional<Answerable> answerable_header(const zmq::message_t& frame, const Limits& limits = {});

/// Shorthand: Encoder(h).body(value).finish(). Same exceptions as Encoder::body().
template <class T>
Frames encode(Header header, const T& value) {
  Encoder e(std::move(header));
  e.body(value);
  return e.finish();
}

// ---- templates ----
namespace detail {
struct EncoderScope {
  explicit EncoderScope(Encoder* e);
  ~EncoderScope();
  Encoder* prev;
};
struct MessageScope {
  explicit MessageScope(const Message* m);
  ~MessageScope();
  const Message* prev;
};
/// The ext payload msgpack [frame, dtype, [dims…]] of tensor `t` at frame `index`.
std::string tensor_ext_payload(uint32_t index, const Tensor& t);
/// The tensor an ext payload names in the current Message (throws msgpack::type_error
/// or std::logic_error when there is none).
Tensor tensor_from_ext(const msgpack::object& o);
}  // namespace detail

template <class T>
Encoder& Encoder::body(const T& value) {
  if (finished_) throw std::logic_error("Encoder::body after finish");
  detail::EncoderScope scope(this);
  body_.clear();
  tensors_.clear();
  has_body_ = false;
  try {
    msgpack::pack(body_, value);
  } catch (...) {
    // Leave no half-packed body or orphan tensor behind.
    body_.clear();
    tensors_.clear();
    throw;
  }
  has_body_ = true;
  return *this;
}

template <class T>
Result<T> Message::body_as() const {
  detail::MessageScope scope(this);
  try {
    return body_.get().as<T>();
  } catch (const std::exception& e) {
    return Result<T>::failed(
        Error(Errc::bad_arguments, std::string("body does not match the expected type: ") + e.what()));
  } catch (...) {
    return Result<T>::failed(Error(Errc::bad_arguments, "body does not match the expected type"));
  }
}

}  // namespace troupe

MSGPACK_ADD_ENUM(troupe::Kind);

// Tensor <-> msgpack ext (type kTensorExtType, payload = msgpack [frame, dtype, [shape…]]).
// Packing works only inside Encoder::body(); converting only inside Message::body_as().
namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {
template <>
struct pack<troupe::Tensor> {
  template <class Stream>
  packer<Stream>& operator()(packer<Stream>& o, const troupe::Tensor& t) const {
    troupe::Encoder* e = troupe::Encoder::current();
    if (e == nullptr)
      throw std::logic_error("a troupe::Tensor can only be packed inside troupe::Encoder::body() (no current encoder)");
    const std::string payload = troupe::detail::tensor_ext_payload(e->add_tensor(t), t);
    o.pack_ext(payload.size(), troupe::kTensorExtType);
    o.pack_ext_body(payload.data(), static_cast<uint32_t>(payload.size()));
    return o;
  }
};
template <>
struct convert<troupe::Tensor> {
  const msgpack::object& operator()(const msgpack::object& o, troupe::Tensor& t) const {
    t = troupe::detail::tensor_from_ext(o);
    return o;
  }
};
}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE
}  // namespace msgpack
