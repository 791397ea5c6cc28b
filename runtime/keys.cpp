#include "runtime/keys.hpp"

#include <sodium.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <zmq.h>

namespace troupe {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSecretFile = "cluster.key";
constexpr const char* kPublicFile = "cluster.pub";
constexpr std::size_t kZ85Key = 40;

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    s[2 * i] = digits[p[i] >> 4];
    s[2 * i + 1] = digits[p[i] & 15];
  }
  return s;
}

/// BLAKE2b-256 of `label` keyed with the 32-byte secret key (libsodium).
std::string derive(const std::string& secret_z85, std::string_view label) {
  std::array<uint8_t, 32> secret{};
  if (secret_z85.size() != kZ85Key || zmq_z85_decode(secret.data(), secret_z85.c_str()) == nullptr) return {};
  std::array<unsigned char, 32> out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(label.data()), label.size(),
                     secret.data(), secret.size());
  sodium_memzero(secret.data(), secret.size());
  return hex(out.data(), out.size());
}

Result<std::string> read_key(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return Error(Errc::io_error, "cannot read " + path.string() + ": " + std::strerror(errno));
  std::string key;
  std::getline(in, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
  std::array<uint8_t, 32> raw{};
  if (key.size() != kZ85Key || zmq_z85_decode(raw.data(), key.c_str()) == nullptr)
    return Error(Errc::invalid_argument, path.string() + " does not hold a z85 CURVE key (40 characters)");
  return key;
}

Result<void> write_file(const fs::path& path, const std::string& text, mode_t mode) {
  // Created with its final mode (no window in which the secret is readable),
  // then written; an existing file is replaced only when the caller said so.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Error(Errc::io_error, "cannot write " + path.string() + ": " + std::strerror(errno));
  const bool ok = ::fchmod(fd, mode) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int err = errno;
  ::close(fd);
  if (!ok) return Error(Errc::io_error, "cannot write " + path.string() + ": " + std::strerror(err));
  return {};
}

}  // namespace

std::string ClusterKeys::plain_password() const { return derive(secret_key, "troupe plain v1"); }
std::string ClusterKeys::http_token() const { return derive(secret_key, "troupe http v1"); }

std::string default_keys_dir() {
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home != '\0' ? home : "/tmp") + "/.config/troupe/keys";
}

Result<ClusterKeys> generate_keys(const std::string& dir, bool overwrite) {
  const fs::path d(dir);
  std::error_code ec;
  fs::create_directories(d, ec);
  if (ec) return Error(Errc::io_error, "cannot create " + dir + ": " + ec.message());
  if (::chmod(d.c_str(), 0700) != 0)
    return Error(Errc::io_error, "cannot make " + dir + " private: " + std::strerror(errno));
  if (!overwrite && fs::exists(d / kSecretFile))
    return Error(Errc::invalid_argument, (d / kSecretFile).string() + " exists: keep it, or pass --force to replace it "
                                         "(every process of the cluster then needs the new one)");
  std::array<char, kZ85Key + 1> pub{}, sec{};
  if (zmq_curve_keypair(pub.data(), sec.data()) != 0)
    return Error(Errc::io_error, std::string("zmq_curve_keypair failed: ") + zmq_strerror(zmq_errno()));
  ClusterKeys k{fs::absolute(d).string(), pub.data(), sec.data()};
  sodium_memzero(sec.data(), sec.size());
  if (auto w = write_file(d / kSecretFile, k.secret_key + "\n", 0600); !w.ok()) return w.error();
  if (auto w = write_file(d / kPublicFile, k.public_key + "\n", 0644); !w.ok()) return w.error();
  return k;
}

Result<ClusterKeys> load_keys(const std::string& dir) {
  const fs::path d(dir);
  struct stat st {};
  if (::stat((d / kSecretFile).c_str(), &st) != 0)
    return Error(Errc::io_error, "no cluster keys in " + dir + " (" + std::strerror(errno) + "): run `troupe keygen --dir " +
                                     dir + "`");
  // As ssh does with its keys: a secret others can read is no secret.
  if ((st.st_mode & 077) != 0)
    return Error(Errc::invalid_argument, (d / kSecretFile).string() + " is readable by others: chmod 600 it");
  auto sec = read_key(d / kSecretFile);
  if (!sec.ok()) return sec.error();
  auto pub = read_key(d / kPublicFile);
  if (!pub.ok()) return pub.error();
  return ClusterKeys{fs::absolute(d).string(), pub.value(), sec.value()};
}

bool keys_disabled() {
  const char* env = std::getenv("TROUPE_KEYS");
  return env != nullptr && std::string_view(env) == "none";
}

Result<KeysPtr> find_keys() {
  if (const char* env = std::getenv("TROUPE_KEYS"); env != nullptr && *env != '\0') {
    if (std::string_view(env) == "none") return KeysPtr{};
    auto k = load_keys(env);
    if (!k.ok()) return Error(k.error().code, "TROUPE_KEYS: " + k.error().message);
    return KeysPtr(std::make_shared<const ClusterKeys>(std::move(k.value())));
  }
  const std::string dir = default_keys_dir();
  if (!fs::exists(fs::path(dir) / kSecretFile)) return KeysPtr{};
  auto k = load_keys(dir);
  if (!k.ok()) return k.error();
  return KeysPtr(std::make_shared<const ClusterKeys>(std::move(k.value())));
}

Result<ClusterKeys> ephemeral_keys() {
  std::string tmpl = (fs::temp_directory_path() / "troupe-keys-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    return Error(Errc::io_error, "cannot create a private key folder: " + std::string(std::strerror(errno)));
  return generate_keys(tmpl, true);
}

void remove_keys_dir(const std::string& dir) {
  std::error_code ec;
  fs::remove(fs::path(dir) / kSecretFile, ec);
  fs::remove(fs::path(dir) / kPublicFile, ec);
  fs::remove(fs::path(dir), ec);
}

std::string no_keys_message(std::string_view endpoint) {
  return "no cluster keys: run `troupe keygen` (writes " + default_keys_dir() +
         "), or pass --keys DIR / set TROUPE_KEYS=DIR, before binding " + std::string(endpoint) +
         " (only loopback addresses may run without keys)";
}

}  // namespace troupe
