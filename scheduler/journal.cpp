#include "scheduler/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

namespace troupe {
namespace {

constexpr size_t kHeaderSize = 8;

Error io_error(const std::string& what, int err) {
  const char* text = strerrordesc_np(err);  // thread-safe, unlike strerror
  return Error(Errc::io_error, what + ": " + (text ? text : "error " + std::to_string(err)));
}

void put_le32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t get_le32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

uint32_t frame_crc(const char* length_bytes, std::string_view payload) {
  uLong crc = crc32_z(0, reinterpret_cast<const Bytef*>(length_bytes), 4);
  crc = crc32_z(crc, reinterpret_cast<const Bytef*>(payload.data()), payload.size());
  return static_cast<uint32_t>(crc);
}

// Appends one frame to buf.
void append_frame(std::string& buf, std::string_view record) {
  const size_t at = buf.size();
  buf.resize(at + kHeaderSize + record.size());
  char* p = buf.data() + at;
  put_le32(p, static_cast<uint32_t>(record.size()));
  put_le32(p + 4, frame_crc(p, record));
  std::memcpy(p + kHeaderSize, record.data(), record.size());
}

// write(2) until done; regular files write short only near ENOSPC or on signals.
bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool read_all(int fd, std::string& out) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return false;
  out.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) break;  // shrank under us: read what is there
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return true;
}

}  // namespace

Result<Journal> Journal::open(std::filesystem::path dir, JournalOptions options) {
  Journal j;
  j.dir_ = std::move(dir);
  j.path_ = j.dir_ / "journal.log";
  j.options_ = options;
  std::error_code ec;
  std::filesystem::create_directories(j.dir_, ec);  // an existing file is reported by open below
  j.dir_fd_ = ::open(j.dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (j.dir_fd_ < 0) return io_error("cannot open journal directory " + j.dir_.string(), errno);
  // Two schedulers appending to one journal would interleave their histories.
  if (::flock(j.dir_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      return Error(Errc::io_error, "journal directory " + j.dir_.string() + " is locked by another journal");
    return io_error("cannot lock journal directory " + j.dir_.string(), errno);
  }
  ::unlink((j.path_.string() + ".tmp").c_str());  // left by a compaction that crashed before its rename
  j.fd_ = ::open(j.path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (j.fd_ < 0) return io_error("cannot open journal " + j.path_.string(), errno);
  if (::fsync(j.dir_fd_) != 0) return io_error("cannot sync journal directory " + j.dir_.string(), errno);
  if (auto r = j.scan(nullptr); !r) return r.error();
  return j;
}

Journal::Journal(Journal&& other) noexcept
    : dir_(std::move(other.dir_)),
      path_(std::move(other.path_)),
      options_(other.options_),
      fd_(std::exchange(other.fd_, -1)),
      dir_fd_(std::exchange(other.dir_fd_, -1)),
      size_(other.size_),
      broken_(other.broken_),
      torn_tails_(other.torn_tails_),
      dropped_bytes_(other.dropped_bytes_),
      frame_(std::move(other.frame_)) {}

Journal& Journal::operator=(Journal&& other) noexcept {
  if (this != &other) {
    close_fds();
    dir_ = std::move(other.dir_);
    path_ = std::move(other.path_);
    options_ = other.options_;
    fd_ = std::exchange(other.fd_, -1);
    dir_fd_ = std::exchange(other.dir_fd_, -1);
    size_ = other.size_;
    broken_ = other.broken_;
    torn_tails_ = other.torn_tails_;
    dropped_bytes_ = other.dropped_bytes_;
    frame_ = std::move(other.frame_);
  }
  return *this;
}

Journal::~Journal() { close_fds(); }

void Journal::close_fds() noexcept {
  if (fd_ >= 0) ::close(fd_);
  if (dir_fd_ >= 0) ::close(dir_fd_);  // releases the lock
  fd_ = dir_fd_ = -1;
}

Result<void> Journal::scan(std::vector<std::string>* out) {
  std::string data;
  if (!read_all(fd_, data)) return io_error("cannot read journal " + path_.string(), errno);
  size_t pos = 0;
  while (data.size() - pos >= kHeaderSize) {
    const char* header = data.data() + pos;
    const uint32_t length = get_le32(header);
    if (length > data.size() - pos - kHeaderSize) break;  // short payload (or a corrupt length)
    const std::string_view payload(header + kHeaderSize, length);
    if (get_le32(header + 4) != frame_crc(header, payload)) break;
    if (out) out->emplace_back(payload);
    pos += kHeaderSize + length;
  }
  size_ = pos;
  if (pos == data.size()) return {};

  // A torn or corrupt tail: keep a copy for inspection (best effort), then cut
  // it off so that the next append follows the last intact record.
  const std::string dropped_path = path_.string() + ".dropped";
  const int keep = ::open(dropped_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (keep >= 0) {
    write_all(keep, data.data() + pos, data.size() - pos);
    ::close(keep);
  }
  if (::ftruncate(fd_, static_cast<off_t>(pos)) != 0 || ::fdatasync(fd_) != 0)
    return io_error("cannot truncate the torn tail of journal " + path_.string(), errno);
  ++torn_tails_;
  dropped_bytes_ += data.size() - pos;
  return {};
}

Result<void> Journal::append(std::string_view record) {
  if (fd_ < 0) return Error(Errc::invalid_argument, "journal: append on a closed journal");
  if (broken_)
    return Error(Errc::io_error, "journal " + path_.string() + " refuses appends after an earlier write error");
  if (record.size() > std::numeric_limits<uint32_t>::max())
    return Error(Errc::invalid_argument, "journal: record of " + std::to_string(record.size()) + " bytes is over 4 GiB");
  frame_.clear();
  append_frame(frame_, record);
  if (!write_all(fd_, frame_.data(), frame_.size())) {
    const int err = errno;
    // Take back a partial frame so that later records do not follow a torn one.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) broken_ = true;
    return io_error("cannot append to journal " + path_.string(), err);
  }
  size_ += frame_.size();
  if (options_.sync == JournalSync::every_record) return sync();
  return {};
}

Result<void> Journal::sync() {
  if (fd_ < 0) return Error(Errc::invalid_argument, "journal: sync on a closed journal");
  if (::fdatasync(fd_) != 0) {
    // After a failed fsync the kernel may have dropped the dirty pages: which
    // records are on disk is unknown, so stop (compact() starts afresh).
    broken_ = true;
    return io_error("cannot sync journal " + path_.string(), errno);
  }
  return {};
}

Result<std::vector<std::string>> Journal::replay() {
  if (fd_ < 0) return Error(Errc::invalid_argument, "journal: replay on a closed journal");
  std::vector<std::string> records;
  if (auto r = scan(&records); !r) return r.error();
  return records;
}

Result<void> Journal::compact(const std::vector<std::string>& snapshot) {
  if (fd_ < 0) return Error(Errc::invalid_argument, "journal: compact on a closed journal");
  const std::string tmp = path_.string() + ".tmp";
  const int tfd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (tfd < 0) return io_error("cannot create " + tmp, errno);
  auto fail = [&](const std::string& what) {
    const int err = errno;
    ::close(tfd);
    ::unlink(tmp.c_str());
    return io_error(what, err);
  };
  constexpr size_t kChunk = 1 << 20;
  std::string buf;
  uint64_t total = 0;
  for (const auto& record : snapshot) {
    if (record.size() > std::numeric_limits<uint32_t>::max()) {
      ::close(tfd);
      ::unlink(tmp.c_str());
      return Error(Errc::invalid_argument, "journal: snapshot record over 4 GiB");
    }
    append_frame(buf, record);
    if (buf.size() >= kChunk) {
      if (!write_all(tfd, buf.data(), buf.size())) return fail("cannot write " + tmp);
      total += buf.size();
      buf.clear();
    }
  }
  if (!write_all(tfd, buf.data(), buf.size())) return fail("cannot write " + tmp);
  total += buf.size();
  if (::fsync(tfd) != 0) return fail("cannot sync " + tmp);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return fail("cannot rename " + tmp + " to " + path_.string());
  // The new file is in place: from here on it is the journal, whatever follows.
  ::close(fd_);
  fd_ = tfd;
  size_ = total;
  broken_ = false;
  if (::fsync(dir_fd_) != 0) return io_error("cannot sync journal directory " + dir_.string(), errno);
  return {};
}

}  // namespace troupe
