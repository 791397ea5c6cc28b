#include "scheduler/journal.hpp"

#include <sys/stat.h>

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "scheduler/recovery.hpp"

namespace fs = std::filesystem;
using troupe::Errc;
using troupe::Journal;
using troupe::JournalSync;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "troupe-journal-XXXXXX").string();
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    path = templ;
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void append_bytes(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::app);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void flip_byte(const fs::path& p, size_t offset) {
  std::fstream f(p, std::ios::binary | std::ios::in | std::ios::out);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  f.seekp(static_cast<std::streamoff>(offset));
  c = static_cast<char>(c ^ 0x40);
  f.write(&c, 1);
}

size_t frame_size(const std::string& record) { return 8 + record.size(); }

std::vector<std::string> replay(Journal& j) {
  auto r = j.replay();
  REQUIRE(r.ok());
  return std::move(r.value());
}

const std::vector<std::string> kRecords = {"actor 1 PENDING", std::string("\0bin\0ary\xff", 9), "", "node 7 ALIVE",
                                           std::string(100'000, 'x')};

}  // namespace

TEST_CASE("appended records replay in order, also after reopening" * doctest::timeout(10)) {
  TempDir dir;
  {
    auto j = Journal::open(dir.path / "state");
    REQUIRE(j.ok());
    for (const auto& r : kRecords) REQUIRE(j->append(r).ok());
    CHECK(replay(*j) == kRecords);
  }
  auto j = Journal::open(dir.path / "state");
  REQUIRE(j.ok());
  CHECK(replay(*j) == kRecords);
  CHECK(j->torn_tails() == 0);
  CHECK(j->path() == dir.path / "state" / "journal.log");
}

TEST_CASE("without per-record sync, records still replay after reopening" * doctest::timeout(10)) {
  TempDir dir;
  {
    auto j = Journal::open(dir.path, {.sync = JournalSync::none});
    REQUIRE(j.ok());
    for (const auto& r : kRecords) REQUIRE(j->append(r).ok());
    REQUIRE(j->sync().ok());
  }
  auto j = Journal::open(dir.path);
  REQUIRE(j.ok());
  CHECK(replay(*j) == kRecords);
}

TEST_CASE("a torn tail is cut off, every complete record is kept, and appends follow them" *
          doctest::timeout(10)) {
  TempDir dir;
  const fs::path log = dir.path / "journal.log";
  {
    auto j = Journal::open(dir.path);
    REQUIRE(j.ok());
    for (const auto& r : kRecords) REQUIRE(j->append(r).ok());
  }
  const size_t full = fs::file_size(log);
  std::vector<std::string> expected = kRecords;
  std::string garbage;

  SUBCASE("the last record is cut in its payload") {
    fs::resize_file(log, full - 10);
    expected.pop_back();
    garbage = read_file(log).substr(full - frame_size(kRecords.back()));
  }
  SUBCASE("the last record is cut in its header") {
    fs::resize_file(log, full - frame_size(kRecords.back()) + 3);
    expected.pop_back();
    garbage = read_file(log).substr(full - frame_size(kRecords.back()));
  }
  SUBCASE("a partial length follows the last record") {
    garbage = std::string("\x05\x00", 2);
    append_bytes(log, garbage);
  }
  SUBCASE("a length with a short payload follows the last record") {
    garbage = std::string("\x40\x00\x00\x00\x12\x34\x56\x78short", 13);
    append_bytes(log, garbage);
  }
  SUBCASE("zero bytes follow the last record (a crash can leave them)") {
    garbage = std::string(4096, '\0');
    append_bytes(log, garbage);
  }
  SUBCASE("random garbage follows the last record") {
    garbage = "this is not a frame at all, just bytes that landed at the end";
    append_bytes(log, garbage);
  }

  auto j = Journal::open(dir.path);
  REQUIRE(j.ok());
  CHECK(j->torn_tails() == 1);
  CHECK(j->dropped_bytes() == garbage.size());
  CHECK(read_file(dir.path / "journal.log.dropped") == garbage);
  CHECK(replay(*j) == expected);
  REQUIRE(j->append("after recovery").ok());
  expected.push_back("after recovery");
  CHECK(replay(*j) == expected);
  CHECK(j->torn_tails() == 1);
}

TEST_CASE("a crc mismatch in the middle stops replay at that record and cuts the rest" *
          doctest::timeout(10)) {
  TempDir dir;
  const fs::path log = dir.path / "journal.log";
  {
    auto j = Journal::open(dir.path);
    REQUIRE(j.ok());
    for (const auto& r : kRecords) REQUIRE(j->append(r).ok());
  }
  // Corrupt one payload byte of the fourth record ("node 7 ALIVE").
  size_t offset = 0;
  for (size_t i = 0; i < 3; ++i) offset += frame_size(kRecords[i]);
  const size_t kept = offset;
  flip_byte(log, offset + 8 + 2);

  auto j = Journal::open(dir.path);
  REQUIRE(j.ok());
  const std::vector<std::string> expected(kRecords.begin(), kRecords.begin() + 3);
  CHECK(replay(*j) == expected);
  CHECK(j->torn_tails() == 1);
  CHECK(fs::file_size(log) == kept);
  CHECK(j->dropped_bytes() == frame_size(kRecords[3]) + frame_size(kRecords[4]));
}

TEST_CASE("compact replaces the log with a snapshot, and later appends follow it" * doctest::timeout(10)) {
  TempDir dir;
  {
    auto j = Journal::open(dir.path);
    REQUIRE(j.ok());
    for (const auto& r : kRecords) REQUIRE(j->append(r).ok());
    REQUIRE(j->compact({"snapshot 1", "snapshot 2"}).ok());
    REQUIRE(j->append("after").ok());
    CHECK(replay(*j) == std::vector<std::string>{"snapshot 1", "snapshot 2", "after"});
  }
  CHECK_FALSE(fs::exists(dir.path / "journal.log.tmp"));
  auto j = Journal::open(dir.path);
  REQUIRE(j.ok());
  CHECK(replay(*j) == std::vector<std::string>{"snapshot 1", "snapshot 2", "after"});
  REQUIRE(j->compact({}).ok());
  CHECK(replay(*j).empty());
  CHECK(fs::file_size(dir.path / "journal.log") == 0);
}

TEST_CASE("a temporary file left by a crashed compaction is ignored and removed" * doctest::timeout(10)) {
  TempDir dir;
  {
    auto j = Journal::open(dir.path);
    REQUIRE(j.ok());
    REQUIRE(j->append("kept").ok());
  }
  append_bytes(dir.path / "journal.log.tmp", "half a snapshot");
  auto j = Journal::open(dir.path);
  REQUIRE(j.ok());
  CHECK(replay(*j) == std::vector<std::string>{"kept"});
  CHECK_FALSE(fs::exists(dir.path / "journal.log.tmp"));
}

TEST_CASE("opening a journal on a path that is a file is an error value" * doctest::timeout(10)) {
  TempDir dir;
  const fs::path file = dir.path / "plain-file";
  append_bytes(file, "x");
  auto j = Journal::open(file);
  REQUIRE_FALSE(j.ok());
  CHECK(j.error().code == Errc::io_error);
  CHECK(j.error().message.find(file.string()) != std::string::npos);
}

TEST_CASE("a second journal on the same directory is refused while the first is open" *
          doctest::timeout(10)) {
  TempDir dir;
  {
    auto first = Journal::open(dir.path);
    REQUIRE(first.ok());
    auto second = Journal::open(dir.path);
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().message.find("locked") != std::string::npos);
    Journal moved = std::move(first.value());  // the lock moves with the journal
    CHECK(moved.append("still works").ok());
    CHECK_FALSE(Journal::open(dir.path).ok());
  }
  CHECK(Journal::open(dir.path).ok());
}

TEST_CASE("capability tokens survive replay and compaction, beside the public records" * doctest::timeout(10)) {
  using namespace troupe;
  JournalRecord node;
  node.type = "node";
  node.node.id = 3;
  node.token = "node-token";
  JournalRecord actor;
  actor.type = "actor";
  actor.actor.id = 5;
  actor.actor.state = ActorState::alive;
  actor.token = "start-token";
  JournalRecord job;
  job.type = "job";
  job.job.id = 2;
  job.token = "job-token";
  const auto once = replay_records({encode_record(node), encode_record(actor), encode_record(job)});
  const auto twice = replay_records(snapshot_records(once));
  for (const auto* s : {&once, &twice}) {
    CHECK(s->node_tokens.at(3) == "node-token");
    CHECK(s->actor_tokens.at(5) == "start-token");
    CHECK(s->job_tokens.at(2) == "job-token");
  }
}

TEST_CASE("the journal's file is readable by its owner only" * doctest::timeout(10)) {
  TempDir d;
  auto j = Journal::open(d.path);
  REQUIRE(j.ok());
  REQUIRE(j->append("x").ok());
  REQUIRE(j->compact({"y"}).ok());
  struct stat st {};
  REQUIRE(::stat(j->path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0077) == 0);
}
