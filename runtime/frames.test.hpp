#pragma once
// Test-only: frames made from strings, and deep copies of frames (a sealed
// message kept to replay, or to tamper with, after the original was sent).
#include <initializer_list>
#include <string>

#include "runtime/codec.hpp"

namespace troupe::testing {

inline Frames frames_of(std::initializer_list<std::string> parts) {
  Frames f;
  for (const auto& p : parts) f.emplace_back(p.data(), p.size());
  return f;
}

inline Frames copy(const Frames& f) {
  Frames c;
  for (const auto& m : f) c.emplace_back(m.data(), m.size());
  return c;
}

}  // namespace troupe::testing
