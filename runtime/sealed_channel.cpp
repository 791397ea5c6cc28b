#include "runtime/sealed_channel.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace troupe {

bool sealed_plane_requested() {
  const char* v = std::getenv("TROUPE_SEALED");
  return v != nullptr && std::string_view(v) == "1";
}
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

Nonce nonce_for(uint8_t direction, std::size_t frame, std::size_t chunk, uint64_t counter) {
  Nonce n{};
  n[0] = direction;
  put_be(n.data() + 1, frame, 2);
  put_be(n.data() + 3, chunk, 2);
  put_be(n.data() + 5, counter, 7);
  return n;
}

std::size_t chunks_for(std::size_t bytes) { return bytes == 0 ? 1 : (bytes + kSealChunkBytes - 1) / kSealChunkBytes; }

// Messages from this size on are sealed and opened on two threads (a
// tensor's transfer waits for both, so a second core halves that wait).
constexpr std::size_t kParallelBytes = std::size_t{4} << 20;

/// Owns a received message whose plaintext starts after its tags.
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

/// One chunk to seal or open: `len` bytes from `in` to `out` (the same
/// place when opening), its tag at `tag`.
struct Job {
  const unsigned char* in;
  unsigned char* out;
  unsigned char* tag;
  std::size_t len;
  Nonce nonce;
};

bool gcm_seal(EVP_CIPHER_CTX* ctx, const Job& j, const uint8_t* ad, std::size_t ad_len) {
  int len = 0;
  if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, j.nonce.data()) != 1) return false;
  if (EVP_EncryptUpdate(ctx, nullptr, &len, ad, static_cast<int>(ad_len)) != 1) return false;
  if (j.len > 0 && EVP_EncryptUpdate(ctx, j.out, &len, j.in, static_cast<int>(j.len)) != 1) return false;
  return EVP_EncryptFinal_ex(ctx, j.out + j.len, &len) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kSealTagBytes, j.tag) == 1;
}

/// False when the tag fails.
bool gcm_open(EVP_CIPHER_CTX* ctx, const Job& j, const uint8_t* ad, std::size_t ad_len) {
  int len = 0;
  if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, j.nonce.data()) != 1) return false;
  if (EVP_DecryptUpdate(ctx, nullptr, &len, ad, static_cast<int>(ad_len)) != 1) return false;
  if (j.len > 0 && EVP_DecryptUpdate(ctx, j.out, &len, j.in, static_cast<int>(j.len)) != 1) return false;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kSealTagBytes, j.tag) != 1) return false;
  // The tag check itself (constant time inside OpenSSL).
  return EVP_DecryptFinal_ex(ctx, j.out + j.len, &len) == 1;
}

/// Seals or opens jobs [first, last) with `ctx` (AES-256-GCM) or libsodium's
/// ChaCha20-Poly1305 (ctx null). False when one fails.
bool run_jobs(const std::vector<Job>& jobs, std::size_t first, std::size_t last, EVP_CIPHER_CTX* ctx, bool seal,
              const uint8_t* ad, std::size_t ad_len, const SealKey& key) {
  for (std::size_t i = first; i < last; ++i) {
    const Job& j = jobs[i];
    bool ok;
    if (ctx != nullptr) {
      ok = seal ? gcm_seal(ctx, j, ad, ad_len) : gcm_open(ctx, j, ad, ad_len);
    } else if (seal) {
      unsigned long long tag_len = 0;
      ok = crypto_aead_chacha20poly1305_ietf_encrypt_detached(j.out, j.tag, &tag_len, j.in, j.len, ad, ad_len, nullptr,
                                                              j.nonce.data(), key.data()) == 0;
    } else {
      ok = crypto_aead_chacha20poly1305_ietf_decrypt_detached(j.out, nullptr, j.in, j.len, j.tag, ad, ad_len,
                                                              j.nonce.data(), key.data()) == 0;
    }
    if (!ok) return false;
  }
  return true;
}

/// Runs all jobs, on two threads when they are large: `own` is the caller's
/// AES-256-GCM context (null: ChaCha20-Poly1305).
bool run_all(const std::vector<Job>& jobs, EVP_CIPHER_CTX* own, bool seal, const uint8_t* ad, std::size_t ad_len,
             const SealKey& key) {
  std::size_t total = 0;
  for (const Job& j : jobs) total += j.len;
  if (total < kParallelBytes || jobs.size() < 2 || std::thread::hardware_concurrency() < 2)
    return run_jobs(jobs, 0, jobs.size(), own, seal, ad, ad_len, key);
  // Two threads, about half the bytes each; the helper has its own OpenSSL
  // context (one is not to be shared between threads).
  std::size_t split = 0;
  for (std::size_t bytes = 0; split < jobs.size() && bytes < total / 2; ++split) bytes += jobs[split].len;
  bool helper_ok = false;
  std::thread helper;
  auto help = [&] {
    EVP_CIPHER_CTX* ctx = nullptr;
    if (own != nullptr) {
      ctx = EVP_CIPHER_CTX_new();
      const EVP_CIPHER* aes = EVP_aes_256_gcm();
      const bool init = ctx != nullptr && (seal ? EVP_EncryptInit_ex(ctx, aes, nullptr, key.data(), nullptr)
                                                : EVP_DecryptInit_ex(ctx, aes, nullptr, key.data(), nullptr)) == 1;
      if (!init) {
        EVP_CIPHER_CTX_free(ctx);
        return;
      }
    }
    helper_ok = run_jobs(jobs, split, jobs.size(), ctx, seal, ad, ad_len, key);
    EVP_CIPHER_CTX_free(ctx);  // clears its key schedule; null is fine
  };
  try {
    helper = std::thread(help);
  } catch (const std::system_error&) {
    help();  // no thread to be had: all on this one
  }
  const bool ok = run_jobs(jobs, 0, split, own, seal, ad, ad_len, key);
  if (helper.joinable()) helper.join();
  return ok && helper_ok;
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
  if (sealed.empty() || sealed[0].size() < kSealHeaderBytes + 4 || (sealed[0].size() - kSealHeaderBytes) % 4 != 0)
    return std::nullopt;
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
    return Error(Errc::message_too_large,
                 "a sealed message holds 1 to 65536 frames, not " + std::to_string(frames.size()));
  const uint64_t counter = sent_ + 1;
  if (counter > kSealMaxCounter)
    return Error(Errc::message_too_large, "this session sealed 2^56 - 1 messages: reconnect");
  Frames out;
  out.reserve(frames.size() + 1);
  // The header, which is also every chunk's associated data.
  out.emplace_back(kSealHeaderBytes + 4 * frames.size());
  auto* header = static_cast<uint8_t*>(out[0].data());
  put_be(header, session_id_, 8);
  put_be(header + 8, counter, 8);
  std::vector<Job> jobs;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const std::size_t n = frames[i].size();
    const std::size_t k = chunks_for(n);
    if (k > 0xffff) return Error(Errc::message_too_large, "a sealed frame holds at most 65535 chunks of 1 MiB");
    put_be(header + kSealHeaderBytes + 4 * i, k, 4);
    // Placed first: a small message keeps its bytes inside the message_t
    // itself, so its address is known only once it stops moving (`out` has
    // its capacity reserved).
    out.emplace_back(kSealTagBytes * k + n);
    auto* base = static_cast<unsigned char*>(out.back().data());
    const auto* m = static_cast<const unsigned char*>(frames[i].data());
    for (std::size_t c = 0; c < k; ++c) {
      const std::size_t at = c * kSealChunkBytes;
      jobs.push_back(Job{m + at, base + kSealTagBytes * k + at, base + kSealTagBytes * c,
                         std::min(kSealChunkBytes, n - std::min(n, at)), nonce_for(send_direction_, i, c, counter)});
    }
  }
  // The counter is used up from here on, whatever happens next.
  sent_ = counter;
  if (!run_all(jobs, gcm_ ? gcm_->seal : nullptr, true, header, out[0].size(), key_))
    return Error(Errc::io_error, "OpenSSL failed to seal a frame");
  frames.clear();
  return out;
}

Result<Frames> SealedChannel::open(Frames&& sealed) {
  const auto session = sealed_session_id(sealed);
  if (!session || *session != session_id_) return Error(Errc::malformed_message, "not sealed for this session");
  const std::size_t n = (sealed[0].size() - kSealHeaderBytes) / 4;
  if (n > kSealMaxFrames || sealed.size() != n + 1)
    return Error(Errc::malformed_message, "tampered: the header lists " + std::to_string(n) +
                                              " frames, the message has " + std::to_string(sealed.size() - 1));
  const auto* header = static_cast<const uint8_t*>(sealed[0].data());
  const uint64_t counter = get_be(header + 8, 8);
  if (counter <= received_)
    return Error(Errc::malformed_message, "replayed: counter " + std::to_string(counter) + " is not above " +
                                              std::to_string(received_));
  const uint8_t direction = send_direction_ ^ 1;  // what the peer sends with
  std::vector<std::size_t> chunks(n);
  std::vector<Job> jobs;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t k = get_be(header + kSealHeaderBytes + 4 * i, 4);
    const std::size_t size = sealed[i + 1].size();
    // The layout must be the one a sender makes: a frame of L bytes and k
    // tags has L - 16k bytes in chunks_for(L - 16k) = k chunks.
    if (k == 0 || k > 0xffff || size < kSealTagBytes * k || chunks_for(size - kSealTagBytes * k) != k)
      return Error(Errc::malformed_message, "tampered: frame " + std::to_string(i) + " does not match its layout");
    chunks[i] = k;
    const std::size_t len = size - kSealTagBytes * k;
    auto* base = static_cast<unsigned char*>(sealed[i + 1].data());
    for (std::size_t c = 0; c < k; ++c) {
      const std::size_t at = c * kSealChunkBytes;
      unsigned char* data = base + kSealTagBytes * k + at;
      jobs.push_back(Job{data, data, base + kSealTagBytes * c, std::min(kSealChunkBytes, len - std::min(len, at)),
                         nonce_for(direction, i, c, counter)});
    }
  }
  // Decrypted in place. A failing tag leaves chunks as garbage in the
  // received buffers; the whole message is dropped then, nothing of it is
  // handed on, and the counter stays.
  if (!run_all(jobs, gcm_ ? gcm_->open : nullptr, false, header, sealed[0].size(), key_))
    return Error(Errc::malformed_message, "tampered: a tag fails");
  Frames out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    zmq::message_t& f = sealed[i + 1];
    auto* plain = static_cast<char*>(f.data()) + kSealTagBytes * chunks[i];
    const std::size_t len = f.size() - kSealTagBytes * chunks[i];
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
