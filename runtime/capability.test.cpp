#include "runtime/capability.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace troupe;

TEST_CASE("tokens are 128 random bits in hex, and only the same token matches") {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string t = make_token();
    REQUIRE(t.size() == 32);
    CHECK(t.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(seen.insert(t).second);
  }
  const std::string t = make_token();
  CHECK(token_matches(t, t));
  CHECK(!token_matches(t, ""));
  CHECK(!token_matches(t, t.substr(0, 31)));
  CHECK(!token_matches(t, t + "0"));
  std::string off = t;
  off[31] = off[31] == '0' ? '1' : '0';
  CHECK(!token_matches(t, off));
  // No token issued matches nothing, not even an empty one.
  CHECK(!token_matches("", ""));
}
