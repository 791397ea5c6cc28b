#include "runtime/sealed_channel.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <mutex>

namespace troupe {
namespace {

// Both AEADs take a 12-byte nonce and a 16-byte tag: one wire format for both.
static_assert(crypto_aead_aes256gcm_NPUBBYTES == 12 && crypto_aead_chacha20poly1305_IETF_NPUBBYTES == 12);
static_assert(crypto_aead_aes256gcm_ABYTES == kSealTagBytes &&
              crypto_aead_chacha20poly1305_IETF_ABYTES == kSealTagBytes);
static_assert(crypto_aead_aes256gcm_KEYBYTES == kSealKeyBytes &&
              crypto_aead_chacha20poly1305_IETF_KEYBYTES == kSealKeyBytes);

// Frames up to this size are copied out of the received buffer; larger ones
// are handed on as views of it (no second pass over a tensor).
constexpr std::size_t kCopyBelow = 4096;

void init_sodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) throw Exception(Error(Errc::io_error, "libsodium failed to initialise"));
  });
}

void put_be(uint8_t* p, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    p[i] = static_cast<uint8_t>(v & 0xff);
    v >>= 8;
  }
}

uint64_t get_be(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

using Nonce = std::array<uint8_t, 12>;
using Ad = std::array<uint8_t, 20>;

Nonce nonce_for(uint8_t direction, std::size_t frame, uint64_t counter) {
  Nonce n{};
  n[0] = direction;
  put_be(n.data() + 1, frame, 3);
  put_be(n.data() + 4, counter, 8);
  return n;
}

Ad ad_for(uint64_t session, uint64_t counter, std::size_t frames) {
  Ad a{};
  put_be(a.data(), session, 8);
  put_be(a.data() + 8, counter, 8);
  put_be(a.data() + 16, frames, 4);
  return a;
}

// OpenSSL lengths are int: frames go through in pieces of at most this.
constexpr std::size_t kPiece = std::size_t{1} << 30;

/// Owns a received message whose plaintext starts kSealTagBytes into it.
void free_view(void*, void* hint) { delete static_cast<zmq::message_t*>(hint); }

}  // namespace

/// OpenSSL's two AES-256-GCM contexts of a session, keyed once (the key
/// schedule is reused; each frame only sets its nonce).
struct SealedChannel::Gcm {
  EVP_CIPHER_CTX* seal = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX* open = EVP_CIPHER_CTX_new();
};

void SealedChannel::GcmFree::operator()(Gcm* g) const {
  // EVP_CIPHER_CTX_free clears the key schedule.
  EVP_CIPHER_CTX_free(g->seal);
  EVP_CIPHER_CTX_free(g->open);
  delete g;
}

namespace {

bool gcm_seal(EVP_CIPHER_CTX* ctx, unsigned char* c, unsigned char* tag, const unsigned char* m, std::size_t n,
              const Ad& ad, const Nonce& nonce) {
  int len = 0;
  if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()) != 1) return false;
  if (EVP_EncryptUpdate(ctx, nullptr, &len, ad.data(), static_cast<int>(ad.size())) != 1) return false;
  for (std::size_t at = 0; at < n; at += kPiece) {
    const int piece = static_cast<int>(std::min(kPiece, n - at));
    if (EVP_EncryptUpdate(ctx, c + at, &len, m + at, piece) != 1) return false;
  }
  return EVP_EncryptFinal_ex(ctx, c + n, &len) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kSealTagBytes, tag) == 1;
}

/// Decrypts c in place; false when the tag fails.
bool gcm_open(EVP_CIPHER_CTX* ctx, unsigned char* c, std::size_t n, unsigned char* tag, const Ad& ad,
              const Nonce& nonce) {
  int len = 0;
  if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()) != 1) return false;
  if (EVP_DecryptUpdate(ctx, nullptr, &len, ad.data(), static_cast<int>(ad.size())) != 1) return false;
  for (std::size_t at = 0; at < n; at += kPiece) {
    const int piece = static_cast<int>(std::min(kPiece, n - at));
    if (EVP_DecryptUpdate(ctx, c + at, &len, c + at, piece) != 1) return false;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kSealTagBytes, tag) != 1) return false;
  // The tag check itself (constant time inside OpenSSL).
  return EVP_DecryptFinal_ex(ctx, c + n, &len) == 1;
}

}  // namespace

const char* aead_name(Aead a) { return a == Aead::aes256gcm ? "aes-256-gcm" : "chacha20-poly1305"; }

bool aes256gcm_available() {
  init_sodium();
  return crypto_aead_aes256gcm_is_available() == 1;
}

Aead choose_aead(bool client_has_aes) {
  return client_has_aes && aes256gcm_available() ? Aead::aes256gcm : Aead::chacha20poly1305;
}

SealKey random_seal_key() {
  init_sodium();
  SealKey k;
  randombytes_buf(k.data(), k.size());
  return k;
}

uint64_t random_session_id() {
  init_sodium();
  uint64_t id = 0;
  // Never 0: a zeroed header must not name a session.
  while (id == 0) randombytes_buf(&id, sizeof id);
  return id;
}

std::optional<uint64_t> sealed_session_id(const Frames& sealed) {
  if (sealed.empty() || sealed[0].size() != kSealHeaderBytes) return std::nullopt;
  return get_be(static_cast<const uint8_t*>(sealed[0].data()), 8);
}

SealedChannel::SealedChannel(uint64_t session_id, Aead aead, const SealKey& key, Side side)
    : session_id_(session_id), aead_(aead), key_(key), send_direction_(static_cast<uint8_t>(side)) {
  init_sodium();
  if (aead_ != Aead::aes256gcm) return;
  if (crypto_aead_aes256gcm_is_available() != 1)
    throw Exception(Error(Errc::invalid_argument, "AES-256-GCM is not available on this CPU"));
  gcm_.reset(new Gcm);
  if (gcm_->seal == nullptr || gcm_->open == nullptr ||
      EVP_EncryptInit_ex(gcm_->seal, EVP_aes_256_gcm(), nullptr, key_.data(), nullptr) != 1 ||
      EVP_DecryptInit_ex(gcm_->open, EVP_aes_256_gcm(), nullptr, key_.data(), nullptr) != 1)
    throw Exception(Error(Errc::io_error, "OpenSSL could not set up AES-256-GCM"));
}

SealedChannel::~SealedChannel() { sodium_memzero(key_.data(), key_.size()); }

Result<Frames> SealedChannel::seal(Frames& frames) {
  if (frames.empty() || frames.size() > kSealMaxFrames)
    return Error(Errc::message_too_large, "a sealed message holds 1 to 2^24 frames, not " + std::to_string(frames.size()));
  const uint64_t counter = sent_ + 1;
  Frames out;
  out.reserve(frames.size() + 1);
  out.emplace_back(kSealHeaderBytes);
  put_be(static_cast<uint8_t*>(out[0].data()), session_id_, 8);
  put_be(static_cast<uint8_t*>(out[0].data()) + 8, counter, 8);
  const Ad ad = ad_for(session_id_, counter, frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const Nonce nonce = nonce_for(send_direction_, i, counter);
    const auto* m = static_cast<const unsigned char*>(frames[i].data());
    const std::size_t n = frames[i].size();
    zmq::message_t sealed(n + kSealTagBytes);
    auto* tag = static_cast<unsigned char*>(sealed.data());
    unsigned long long tag_len = 0;
    if (aead_ == Aead::aes256gcm) {
      if (!gcm_seal(gcm_->seal, tag + kSealTagBytes, tag, m, n, ad, nonce))
        return Error(Errc::io_error, "OpenSSL failed to seal a frame");
    } else {
      crypto_aead_chacha20poly1305_ietf_encrypt_detached(tag + kSealTagBytes, tag, &tag_len, m, n, ad.data(), ad.size(),
                                                         nullptr, nonce.data(), key_.data());
    }
    out.push_back(std::move(sealed));
  }
  // Only now: a message that was never built used no counter.
  sent_ = counter;
  frames.clear();
  return out;
}

Result<Frames> SealedChannel::open(Frames&& sealed) {
  const auto session = sealed_session_id(sealed);
  if (!session || *session != session_id_) return Error(Errc::malformed_message, "not sealed for this session");
  const std::size_t n = sealed.size() - 1;
  if (n == 0 || n > kSealMaxFrames) return Error(Errc::malformed_message, "not sealed: no frame, or too many");
  const uint64_t counter = get_be(static_cast<const uint8_t*>(sealed[0].data()) + 8, 8);
  if (counter <= received_)
    return Error(Errc::malformed_message, "replayed: counter " + std::to_string(counter) + " is not above " +
                                              std::to_string(received_));
  const uint8_t direction = send_direction_ ^ 1;  // what the peer sends with
  const Ad ad = ad_for(session_id_, counter, n);
  for (std::size_t i = 0; i < n; ++i)
    if (sealed[i + 1].size() < kSealTagBytes) return Error(Errc::malformed_message, "tampered: a frame shorter than its tag");
  // Decrypted in place. A failing tag leaves that frame (and the ones
  // before it) as garbage in the received buffers; the whole message is
  // dropped then, nothing of it is handed on, and the counter stays.
  for (std::size_t i = 0; i < n; ++i) {
    zmq::message_t& f = sealed[i + 1];
    auto* tag = static_cast<unsigned char*>(f.data());
    unsigned char* c = tag + kSealTagBytes;
    const std::size_t len = f.size() - kSealTagBytes;
    const Nonce nonce = nonce_for(direction, i, counter);
    const bool good = aead_ == Aead::aes256gcm
                          ? gcm_open(gcm_->open, c, len, tag, ad, nonce)
                          : crypto_aead_chacha20poly1305_ietf_decrypt_detached(c, nullptr, c, len, tag, ad.data(),
                                                                               ad.size(), nonce.data(), key_.data()) == 0;
    if (!good) return Error(Errc::malformed_message, "tampered: frame " + std::to_string(i) + " fails its tag");
  }
  Frames out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    zmq::message_t& f = sealed[i + 1];
    auto* plain = static_cast<char*>(f.data()) + kSealTagBytes;
    const std::size_t len = f.size() - kSealTagBytes;
    if (len < kCopyBelow) {
      out.emplace_back(plain, len);
    } else {
      auto* owner = new zmq::message_t(std::move(f));
      out.emplace_back(plain, len, free_view, owner);
    }
  }
  received_ = counter;
  return out;
}

}  // namespace troupe
