#pragma once
// A user actor: a plain class. Its methods become callable by name once
// registered with TROUPE_ACTOR (counter.cpp), built into a shared library.
#include <string>

struct Counter {
  explicit Counter(int start) : value_(start) {}
  int add(int x) { return value_ += x; }
  int value() const { return value_; }
  std::string describe(const std::string& who) const { return who + " sees " + std::to_string(value_); }
  int value_;
};
