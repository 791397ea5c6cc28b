#pragma once
// The wire codec of DESIGN §2 / docs/PROTOCOL.md:
//   [routing…][header][body][tensor frame 0]…[tensor frame n-1]
// header: msgpack map; body: msgpack; a Tensor inside the body is a msgpack ext
// value (type kTensorExtType) naming its frame, dtype and shape; its bytes
// travel in their own frame, sent and received with zero copies.
// Routing frames are the transport's business: encode() never emits them and
// decode() must be given the frames after them.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <msgpack.hpp>
#include <zmq.hpp>

#include "runtime/error.hpp"
#include "runtime/tensor.hpp"

namespace troupe {

constexpr uint32_t kProtocolVersion = 1;
constexpr int8_t kTensorExtType = 1;

/// What a message is. Wire codes; never renumber.
enum class Kind : uint8_t { call = 0, reply = 1, error = 2, event = 3, control = 4 };

/// The header frame. Plain value type.
struct Header {
  uint32_t version = kProtocolVersion;
  Kind kind = Kind::call;
  uint64_t call_id = 0;            ///< chosen by the caller; echoed in reply/error
  std::string method;              ///< call/control: method name; event: topic
  uint64_t sender_id = 0;          ///< actor id of the sender (0: driver/tool)
  uint32_t sender_incarnation = 0;
  uint64_t target_id = 0;          ///< actor id addressed (0: the process itself)
  uint32_t target_incarnation = 0; ///< incarnation the caller believes is alive
  int64_t deadline_ms = 0;         ///< unix epoch milliseconds; 0 = none
};

/// Decoding limits; everything over them is rejected, never allocated.
struct Limits {
  std::size_t max_message_bytes = std::size_t{1} << 30;  ///< all frames together
  std::size_t max_tensors = 4096;
  std::size_t max_rank = 8;
  std::size_t max_depth = 64;        ///< msgpack nesting in the body
  std::size_t max_header_bytes = 4096;
};

using Frames = std::vector<zmq::message_t>;

/// Builds one outgoing message. Not thread-safe; use one Encoder per message.
/// Tensors packed into the body are referenced, not copied: each frame keeps
/// its tensor's buffer alive until ZeroMQ has sent it.
class Encoder {
 public:
  explicit Encoder(Header header);
  ~Encoder();
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  /// Packs `value` as the body (call once). Tensors anywhere inside become ext
  /// values plus frames. Throws std::invalid_argument for a non-CPU tensor.
  template <class T>
  Encoder& body(const T& value);
  /// The frames [header][body][tensors…]; the Encoder is spent afterwards.
  [[nodiscard]] Frames finish();

  /// Used by the Tensor msgpack adaptor: registers a tensor, returns its frame index.
  uint32_t add_tensor(const Tensor& t);
  /// The Encoder whose body() is running on this thread (nullptr outside body()).
  static Encoder* current();

 private:
  Header header_;
  msgpack::sbuffer body_;
  bool has_body_ = false;
  std::vector<Tensor> tensors_;
};

/// A received, validated message. Owns its frames; tensors view them (no copy,
/// unless a frame was misaligned for its dtype, in which case it was copied).
/// Thread-safety: immutable after decode(); const use from several threads is safe.
class Message {
 public:
  [[nodiscard]] const Header& header() const { return header_; }
  /// The body; valid while this Message lives.
  [[nodiscard]] const msgpack::object& body() const { return body_.get(); }
  [[nodiscard]] std::span<const Tensor> tensors() const { return tensors_; }
  /// Total bytes of all frames.
  [[nodiscard]] std::size_t bytes() const { return bytes_; }
  /// The body converted to T (tensors inside view this message's frames);
  /// Errc::bad_arguments when the body does not have T's shape.
  template <class T>
  [[nodiscard]] Result<T> body_as() const;

  /// The Message whose body_as() is running on this thread (Tensor adaptor).
  static const Message* current();

 private:
  friend Result<Message> decode(Frames&& frames, const Limits& limits);
  Header header_;
  msgpack::object_handle body_;
  std::vector<Tensor> tensors_;
  std::size_t bytes_ = 0;
};

/// Validates and decodes frames (routing frames already removed). Never throws
/// on bad input: returns Errc::malformed_message or Errc::message_too_large
/// with a message saying what was wrong.
Result<Message> decode(Frames&& frames, const Limits& limits = {});
/// Decodes only the header frame (for routing and fencing before the body).
Result<Header> decode_header(const zmq::message_t& frame, const Limits& limits = {});

/// Shorthand: Encoder(h).body(value).finish().
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
}  // namespace detail

template <class T>
Encoder& Encoder::body(const T& value) {
  detail::EncoderScope scope(this);
  body_.clear();
  tensors_.clear();
  msgpack::pack(body_, value);
  has_body_ = true;
  return *this;
}

template <class T>
Result<T> Message::body_as() const {
  detail::MessageScope scope(this);
  try {
    return body_.get().as<T>();
  } catch (const std::exception& e) {
    return Error(Errc::bad_arguments, std::string("body does not match the expected type: ") + e.what());
  }
}

}  // namespace troupe

// Tensor <-> msgpack ext (type kTensorExtType, payload = msgpack [frame, dtype, [shape…]]).
namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {
template <>
struct pack<troupe::Tensor> {
  template <class Stream>
  packer<Stream>& operator()(packer<Stream>& o, const troupe::Tensor& t) const;
};
template <>
struct convert<troupe::Tensor> {
  const msgpack::object& operator()(const msgpack::object& o, troupe::Tensor& t) const;
};
}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE
}  // namespace msgpack
