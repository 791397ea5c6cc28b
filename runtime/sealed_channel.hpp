#pragma once
// One data-plane session between hosts (docs/SECURITY.md "Sealed data
// plane", docs/PROTOCOL.md "Sealed messages"): a random 256-bit key that a
// server hands to one client over its authenticated, encrypted CURVE
// connection, and the per-direction message counters of that session. It
// seals troupe frames with an AEAD — AES-256-GCM where the CPU has AES-NI on
// both ends (OpenSSL's EVP implementation: 4.5 GB/s per core here with
// VAES, against 1.8 for libsodium 1.0.18's), else libsodium's
// ChaCha20-Poly1305-IETF — and opens them again; keys and ids come from
// libsodium's randombytes. No cryptographic primitive is written here.
// AES-256-GCM is the standard one (12-byte nonce, 16-byte tag): any library's
// implementation interoperates (the tests open OpenSSL's with libsodium's).
//
// A sealed message is (docs/PROTOCOL.md, "Sealed messages")
//   [header: session id (8 bytes BE) | counter (8 bytes BE) | k_i (4 bytes BE) per frame i]
//   [frame 0: k_0 tags (16 bytes each) | ciphertext 0] … [frame n-1 …]
// where each troupe frame is sealed in k_i = max(1, ceil(len / 1 MiB))
// chunks of 1 MiB (the last shorter), each with its own tag, so that large
// frames are sealed and opened on two cores and the plaintext still lies in
// one piece, in place, after the tags. Chunk c of frame i has the 12-byte nonce
//   direction (1 byte: 0 client->server, 1 server->client) | i (2 bytes BE) | c (2 bytes BE) | counter (7 bytes BE)
// and the whole header as associated data. The key is unique per session
// and a (direction, frame, chunk, counter) tuple is never used twice under
// it: each side's send counter starts at 1 and only grows, so no nonce
// repeats. A receiver accepts a counter only above the highest it accepted
// (messages of one ZeroMQ connection arrive in order), so a replayed message
// is refused; a changed, added, dropped or reordered frame or chunk, or a
// changed layout, fails a tag.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "runtime/codec.hpp"
#include "runtime/error.hpp"

namespace troupe {

/// The AEAD of a session. Wire codes (the session reply); never renumber.
enum class Aead : uint8_t { aes256gcm = 1, chacha20poly1305 = 2 };

/// True when $TROUPE_SEALED is "1": this process's clients ask CURVE servers
/// for sealed sessions (IoThread::Options::sealed). Thread-safe (reads the environment).
[[nodiscard]] bool sealed_plane_requested();

/// "aes-256-gcm" or "chacha20-poly1305".
[[nodiscard]] const char* aead_name(Aead a);
/// True when this CPU has AES-NI and PCLMUL (libsodium's check), so that
/// AES-256-GCM is fast and constant-time here. Thread-safe.
[[nodiscard]] bool aes256gcm_available();
/// What a server picks for a client that says whether it has AES-256-GCM:
/// AES-256-GCM only when both ends have it. Thread-safe.
[[nodiscard]] Aead choose_aead(bool client_has_aes);

constexpr std::size_t kSealKeyBytes = 32;
constexpr std::size_t kSealTagBytes = 16;
/// The fixed part of the header (session id, counter); 4 bytes per frame follow.
constexpr std::size_t kSealHeaderBytes = 16;
/// The chunk each tag covers.
constexpr std::size_t kSealChunkBytes = std::size_t{1} << 20;
/// Frames per sealed message: the frame index has 2 bytes in the nonce.
constexpr std::size_t kSealMaxFrames = std::size_t{1} << 16;
/// Messages per direction and session: the counter has 7 bytes in the nonce.
constexpr uint64_t kSealMaxCounter = (uint64_t{1} << 56) - 1;

using SealKey = std::array<uint8_t, kSealKeyBytes>;

/// A fresh random key and a fresh random session id (libsodium randombytes). Thread-safe.
[[nodiscard]] SealKey random_seal_key();
[[nodiscard]] uint64_t random_session_id();

/// The session id of a sealed message, or nullopt when its first frame is not
/// a seal header. Thread-safe.
[[nodiscard]] std::optional<uint64_t> sealed_session_id(const Frames& sealed);

/// One end of a session. Not thread-safe: the I/O thread of its process owns it.
class SealedChannel {
 public:
  enum class Side : uint8_t { client = 0, server = 1 };

  /// invalid_argument (thrown) for AES-256-GCM on a CPU without AES-NI.
  SealedChannel(uint64_t session_id, Aead aead, const SealKey& key, Side side);
  /// Wipes the key (and OpenSSL's key schedule).
  ~SealedChannel();
  SealedChannel(const SealedChannel&) = delete;
  SealedChannel& operator=(const SealedChannel&) = delete;

  [[nodiscard]] uint64_t session_id() const { return session_id_; }
  [[nodiscard]] Aead aead() const { return aead_; }
  /// The counter of the last message sealed (0: none yet).
  [[nodiscard]] uint64_t sent() const { return sent_; }
  /// The highest counter opened so far (0: none yet).
  [[nodiscard]] uint64_t highest_received() const { return received_; }

  /// Seals `frames` (left empty) into a new message with the next counter.
  /// The sealed frames are new buffers that ZeroMQ sends without a copy.
  /// Large messages are sealed on two threads (the caller's and one more).
  /// message_too_large when there are none or more than kSealMaxFrames, a
  /// frame over 64 GiB, or the counter is exhausted;
  /// io_error when OpenSSL fails (its counter is then used up all the same).
  [[nodiscard]] Result<Frames> seal(Frames& frames);
  /// Opens a sealed message of the peer (large ones on two threads). On
  /// success returns the frames
  /// (decrypted in place: large frames are views of the received buffers)
  /// and remembers the counter. On failure returns malformed_message whose
  /// text starts with "replayed" (a counter not above the highest accepted),
  /// "tampered" (a tag that fails) or "not sealed" (no seal header, another
  /// session, no frame), and changes nothing, so the next good message
  /// still opens.
  [[nodiscard]] Result<Frames> open(Frames&& sealed);

 private:
  uint64_t session_id_;
  Aead aead_;
  SealKey key_;
  uint8_t send_direction_;
  uint64_t sent_ = 0;
  uint64_t received_ = 0;
  struct Gcm;  // OpenSSL's cipher contexts of an AES-256-GCM session (sealed_channel.cpp)
  struct GcmFree {
    void operator()(Gcm* g) const;
  };
  std::unique_ptr<Gcm, GcmFree> gcm_;
};

}  // namespace troupe
