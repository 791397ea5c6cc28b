// Shard checkpoints (shard_checkpoints.hpp): the newest and the previous one
// are kept; a rollback reaches their versions and 0, nothing else; a restart
// resumes from the newest, or from the previous one when the newest is
// missing (a crash between keeping it and renaming the new one); a damaged one
// is an io_error, not a silent fresh start.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "actors/training/shard_checkpoints.hpp"

using namespace troupe;
using namespace troupe::train;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "troupe-ckpt-XXXXXX").string();
    REQUIRE(mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

ShardCheckpoint at(int64_t version) {
  ShardCheckpoint c;
  c.shard = 1;
  c.shards = 2;
  c.begin = 10;
  c.end = 14;
  c.version = version;
  c.next_step = {version, version};
  c.params.assign(4, static_cast<float>(version));
  c.m.assign(4, 0.0f);
  c.v.assign(4, 0.0f);
  return c;
}

}  // namespace

TEST_CASE("without a directory there is nothing to resume from and only 0 to roll back to") {
  ShardCheckpoints none("", 0, 1);
  CHECK_FALSE(none.enabled());
  CHECK_FALSE(none.latest().has_value());
  CHECK(none.rollback_points() == std::vector<int64_t>{0});
  CHECK_FALSE(none.keeps(0));
  CHECK(none.read(3).error().code == Errc::not_found);
}

TEST_CASE("the newest and the previous checkpoint are kept and reachable, an older one is not") {
  TempDir dir;
  ShardCheckpoints k(dir.path, 1, 2);
  CHECK(k.enabled());
  CHECK_FALSE(k.latest().has_value());  // a fresh directory
  REQUIRE(k.write(at(3)).ok());
  CHECK(k.rollback_points() == std::vector<int64_t>{3, 0});
  REQUIRE(k.write(at(5)).ok());
  CHECK(k.rollback_points() == std::vector<int64_t>{5, 3, 0});
  CHECK(k.keeps(3));
  CHECK(k.keeps(5));
  CHECK_FALSE(k.keeps(4));
  CHECK(k.read(3).value().params[0] == 3.0f);
  CHECK(k.read(5).value().version == 5);
  REQUIRE(k.write(at(7)).ok());
  CHECK(k.rollback_points() == std::vector<int64_t>{7, 5, 0});
  CHECK_FALSE(k.keeps(3));
  CHECK(k.read(3).error().code == Errc::not_found);
  CHECK(k.read(5).value().version == 5);
}

TEST_CASE("a restarted shard resumes from the newest, and knows the previous") {
  TempDir dir;
  {
    ShardCheckpoints k(dir.path, 1, 2);
    REQUIRE(k.write(at(4)).ok());
    REQUIRE(k.write(at(8)).ok());
  }
  ShardCheckpoints k(dir.path, 1, 2);
  auto c = k.latest();
  REQUIRE(c.has_value());
  CHECK(c->version == 8);
  CHECK(k.rollback_points() == std::vector<int64_t>{8, 4, 0});
  CHECK(k.read(4).value().version == 4);
}

TEST_CASE("a crash between keeping the previous and renaming the new one: resume from the previous") {
  TempDir dir;
  {
    ShardCheckpoints k(dir.path, 1, 2);
    REQUIRE(k.write(at(4)).ok());
    REQUIRE(k.write(at(8)).ok());
    std::filesystem::remove(k.path());
  }
  ShardCheckpoints k(dir.path, 1, 2);
  auto c = k.latest();
  REQUIRE(c.has_value());
  CHECK(c->version == 4);
  CHECK(k.rollback_points() == std::vector<int64_t>{4, 0});
}

TEST_CASE("a damaged checkpoint is an io_error") {
  TempDir dir;
  ShardCheckpoints k(dir.path, 1, 2);
  REQUIRE(k.write(at(2)).ok());
  std::ofstream(k.path(), std::ios::trunc) << "not a checkpoint";
  ShardCheckpoints again(dir.path, 1, 2);
  try {
    (void)again.latest();
    FAIL("a damaged checkpoint was read");
  } catch (const Exception& e) {
    CHECK(e.code() == Errc::io_error);
  }
}
