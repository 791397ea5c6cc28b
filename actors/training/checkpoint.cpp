#include "actors/training/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace troupe::train {

namespace {
constexpr char kMagic[8] = {'T', 'R', 'P', 'C', 'K', 'P', 'T', '1'};

Error io(const std::string& what, const std::string& path) {
  return Error(Errc::io_error, what + " " + path + ": " + std::strerror(errno));
}

bool write_all(int fd, const void* p, std::size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    c += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}
}  // namespace

std::string checkpoint_path(const std::string& dir, int shard, int shards) {
  return dir + "/shard-" + std::to_string(shard) + "-of-" + std::to_string(shards) + ".ckpt";
}

Result<void> write_checkpoint(const std::string& path, const ShardCheckpoint& c) {
  const std::filesystem::path p(path);
  std::error_code ec;
  std::filesystem::create_directories(p.parent_path(), ec);
  if (ec) return Error(Errc::io_error, "cannot create " + p.parent_path().string() + ": " + ec.message());
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io("cannot create", tmp);
  msgpack::sbuffer header;
  msgpack::pack(header, c);
  const uint64_t len = header.size();
  const std::size_t n = static_cast<std::size_t>(c.end - c.begin);
  bool ok = c.params.size() == n && c.m.size() == n && c.v.size() == n;
  ok = ok && write_all(fd, kMagic, sizeof kMagic) && write_all(fd, &len, sizeof len) &&
       write_all(fd, header.data(), header.size()) && write_all(fd, c.params.data(), n * sizeof(float)) &&
       write_all(fd, c.m.data(), n * sizeof(float)) && write_all(fd, c.v.data(), n * sizeof(float));
  ok = ok && ::fsync(fd) == 0;
  Error err = ok ? Error() : io("cannot write", tmp);
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return err;
  }
  // Keep the one it replaces: a crash between the two renames leaves only
  // the previous one, which read_latest_checkpoint() then falls back to.
  if (::rename(path.c_str(), previous_checkpoint_path(path).c_str()) != 0 && errno != ENOENT)
    return io("cannot keep the previous checkpoint", path);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return io("cannot rename onto", path);
  int dfd = ::open(p.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Result<ShardCheckpoint> read_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(Errc::not_found, "no checkpoint at " + path);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto bad = [&](const std::string& why) { return Error(Errc::io_error, "checkpoint " + path + ": " + why); };
  if (bytes.size() < 16 || std::memcmp(bytes.data(), kMagic, 8) != 0) return bad("not a troupe checkpoint");
  uint64_t len = 0;
  std::memcpy(&len, bytes.data() + 8, 8);
  if (len > bytes.size() - 16) return bad("truncated header");
  ShardCheckpoint c;
  try {
    auto h = msgpack::unpack(bytes.data() + 16, len);
    h.get().convert(c);
  } catch (const std::exception& e) {
    return bad(std::string("unreadable header: ") + e.what());
  }
  if (c.end < c.begin) return bad("bad range");
  const std::size_t n = static_cast<std::size_t>(c.end - c.begin);
  if (bytes.size() != 16 + len + 3 * n * sizeof(float)) return bad("size does not match its header");
  const char* p = bytes.data() + 16 + len;
  for (auto* vec : {&c.params, &c.m, &c.v}) {
    vec->resize(n);
    std::memcpy(vec->data(), p, n * sizeof(float));
    p += n * sizeof(float);
  }
  return c;
}

}  // namespace troupe::train
