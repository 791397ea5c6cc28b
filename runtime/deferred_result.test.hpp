#pragma once
// Test-only: the result of a Deferred reply that is already done (the long
// polls of the training actors' plain classes, read without an actor).
#include <doctest/doctest.h>

#include <optional>

#include "runtime/deferred.hpp"

namespace troupe::testing {

template <class T>
Result<T> done_result(const Deferred<T>& d) {
  REQUIRE(d.done());
  std::optional<Result<T>> out;
  d.on_done([&](const Result<T>& r) { out = r; });
  REQUIRE(out.has_value());
  return *out;
}

}  // namespace troupe::testing
