// The commit log of several shards (commit_log.hpp): shard 0 logs what each
// version applied and hands out the commits after a version; a follower keeps
// relayed commits of its timeline within the window and yields them strictly
// in version order; a rollback forgets what came after it.
#include <doctest/doctest.h>

#include <map>
#include <vector>

#include "actors/training/commit_log.hpp"

using namespace troupe::train;

namespace {

Commit commit(int64_t version, int64_t timeline = 0) { return Commit{version, timeline, {0, 1, version - 1}}; }

}  // namespace

TEST_CASE("shard 0 logs [slot, incarnation, step] of each applied push and hands out those after a version") {
  CommitLog log;
  std::map<int64_t, troupe::Tensor> none;
  Contribution a, b;
  a.slot = 0;
  a.incarnation = 2;
  a.step = 7;
  b.slot = 1;
  b.incarnation = 0;
  b.step = 6;
  log.record(1, 0, {a, b});
  log.record(2, 0, {b});
  const auto all = log.after(0);
  REQUIRE(all.size() == 2);
  CHECK(all[0].version == 1);
  CHECK(all[0].pushes == std::vector<int64_t>{0, 2, 7, 1, 0, 6});
  CHECK(all[1].pushes == std::vector<int64_t>{1, 0, 6});
  CHECK(log.after(1).size() == 1);
  CHECK(log.after(2).empty());
  for (int64_t v = 3; v <= 300; ++v) log.record(v, 0, {});
  CHECK(static_cast<int64_t>(log.after(-1).size()) == CommitLog::kWindow);  // the oldest are forgotten
  log.rollback(100);
  CHECK(log.after(-1).back().version == 100);
}

TEST_CASE("a follower applies relayed commits strictly in order, and waits at a gap") {
  CommitLog log;
  log.relay({commit(3), commit(5)}, 0, 2);
  const Commit* c = log.next(2);
  REQUIRE(c != nullptr);
  CHECK(c->version == 3);
  log.drop(3);
  CHECK(log.next(3) == nullptr);  // 4 is missing
  log.relay({commit(4)}, 0, 3);
  REQUIRE(log.next(3) != nullptr);
  CHECK(log.next(3)->version == 4);
  log.drop(4);
  REQUIRE(log.next(4) != nullptr);
  CHECK(log.next(4)->version == 5);
}

TEST_CASE("a follower ignores another timeline's commits, applied ones and bogus ones far ahead") {
  CommitLog log;
  log.relay({commit(6, 1), commit(4), commit(5 + CommitLog::kWindow + 1)}, 0, 5);
  CHECK(log.next(5) == nullptr);
  log.relay({commit(6)}, 0, 5);
  CHECK(log.next(5) != nullptr);
  log.relay({commit(7), commit(8)}, 0, 6);
  CHECK(log.next(7)->version == 8);  // 7 was applied meanwhile (a rollback, a catch-up): forgotten
  log.rollback(7);
  CHECK(log.next(7) == nullptr);  // a rollback forgets every relayed commit
}
