#include "runtime/capability.hpp"

#include <sodium.h>

#include <array>
#include <stdexcept>

namespace troupe {

std::string make_token() {
  // randombytes_buf needs sodium_init() once; a second call returns 1 and is harmless.
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium could not be initialised");
  std::array<unsigned char, 16> raw{};
  randombytes_buf(raw.data(), raw.size());
  std::array<char, 2 * raw.size() + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), raw.data(), raw.size());
  sodium_memzero(raw.data(), raw.size());
  return std::string(hex.data(), 2 * raw.size());
}

bool token_matches(std::string_view expected, std::string_view presented) {
  if (expected.empty() || expected.size() != presented.size()) return false;
  return sodium_memcmp(expected.data(), presented.data(), expected.size()) == 0;
}

}  // namespace troupe
