#include "runtime/least_privilege.hpp"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using troupe::Errc;

TEST_CASE("actor names are letters, digits and . _ - : @ +, never a path") {
  for (const char* ok : {"", "counter", "train-123-loader-0", "a.b_c:d@e+f", "X9"}) CHECK(troupe::check_actor_name(ok).ok());
  for (const char* bad : {"../evil", "a/b", "/etc/passwd", "..", ".hidden", "sp ace", "tab\t", "new\nline", "ü"}) {
    CAPTURE(bad);
    auto r = troupe::check_actor_name(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_argument);
    CHECK(r.error().message.find("allowed:") != std::string::npos);
  }
  CHECK_FALSE(troupe::check_actor_name(std::string(troupe::kMaxActorNameBytes + 1, 'a')).ok());
  CHECK(troupe::file_safe("troupe::train::Trainer<float>") == "troupe::train::Trainer_float_");
  CHECK(troupe::file_safe("../x") == "_.._x");
  CHECK(troupe::file_safe("") == "_");
}

TEST_CASE("a code path is accepted only when its real path is a regular file inside an allowed folder") {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "troupe-lp-XXXXXX").string();
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  const fs::path root(tmpl);
  fs::create_directories(root / "allowed");
  fs::create_directories(root / "other");
  std::ofstream(root / "allowed" / "lib.so") << "x";
  std::ofstream(root / "other" / "lib.so") << "x";
  fs::create_symlink(root / "other" / "lib.so", root / "allowed" / "link.so");
  const std::vector<std::string> allow = {(root / "allowed").string()};

  auto good = troupe::check_code_path((root / "allowed" / "lib.so").string(), allow);
  REQUIRE(good.ok());
  CHECK(*good == fs::canonical(root / "allowed" / "lib.so").string());
  // Outside, through "..", through a link, a folder, a missing file, a sibling folder sharing the prefix.
  fs::create_directories(root / "allowed-not");
  std::ofstream(root / "allowed-not" / "lib.so") << "x";
  for (const fs::path& bad : {root / "other" / "lib.so", root / "allowed" / ".." / "other" / "lib.so",
                              root / "allowed" / "link.so", root / "allowed", root / "allowed-not" / "lib.so"}) {
    CAPTURE(bad);
    auto r = troupe::check_code_path(bad.string(), allow);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid_argument);
  }
  auto missing = troupe::check_code_path((root / "allowed" / "none.so").string(), allow);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::io_error);
  CHECK_FALSE(troupe::check_code_path("", allow).ok());
  fs::remove_all(root);
}
