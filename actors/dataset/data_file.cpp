#include "actors/dataset/data_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "runtime/memory_budget.hpp"

namespace troupe::dataset {

namespace {

Error io(const std::string& path, const std::string& what) { return {Errc::io_error, path + ": " + what}; }

// zlib's documented worst case for deflate is 1032:1 (a run of one byte).
constexpr uint64_t kMaxDeflateRatio = 1032;

}  // namespace

struct DataFile::Impl {
  std::string path;
  int fd = -1;
  uint64_t size = 0;        // on disk
  uint64_t file_read = 0;   // bytes read from the fd
  uint64_t consumed = 0;    // content bytes handed out
  bool gzip = false;
  bool z_open = false;
  bool z_end = false;       // the last member ended and no input is left
  z_stream zs{};
  std::vector<uint8_t> in;  // compressed input buffer
  int peeked = -1;          // a content byte more() read ahead, or -1

  ~Impl() {
    if (z_open) inflateEnd(&zs);
    if (fd >= 0) ::close(fd);
  }

  Result<std::size_t> read_fd(uint8_t* dst, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
      const ssize_t r = ::read(fd, dst + got, n - got);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return io(path, std::string("read failed: ") + std::strerror(errno));
      if (r == 0) break;
      got += static_cast<std::size_t>(r);
    }
    file_read += got;
    return got;
  }

  // Refills the compressed input when it is used up; false at the file's end.
  Result<bool> refill() {
    if (zs.avail_in > 0) return true;
    auto got = read_fd(in.data(), in.size());
    if (!got) return got.error();
    zs.next_in = in.data();
    zs.avail_in = static_cast<uInt>(*got);
    return *got > 0;
  }

  // Inflates up to n bytes into dst; fewer only when the last member has ended.
  Result<std::size_t> inflate_into(uint8_t* dst, std::size_t n) {
    zs.next_out = dst;
    zs.avail_out = static_cast<uInt>(n);
    while (zs.avail_out > 0 && !z_end) {
      auto have = refill();
      if (!have) return have.error();
      const int rc = inflate(&zs, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        // Another member may follow (gzip files may be concatenations).
        auto more = refill();
        if (!more) return more.error();
        if (*more) inflateReset(&zs);
        else z_end = true;
        continue;
      }
      if (rc == Z_BUF_ERROR && !*have)
        return io(path, "truncated gzip stream (ends after " + std::to_string(file_read) + " compressed bytes)");
      if (rc != Z_OK && rc != Z_BUF_ERROR)
        return io(path, std::string("corrupt gzip stream") + (zs.msg ? std::string(": ") + zs.msg : std::string()));
    }
    return n - zs.avail_out;
  }
};

DataFile::DataFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DataFile::DataFile(DataFile&&) noexcept = default;
DataFile& DataFile::operator=(DataFile&&) noexcept = default;
DataFile::~DataFile() = default;

Result<DataFile> DataFile::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
  impl->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (impl->fd < 0) return io(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(impl->fd, &st) != 0) return io(path, std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return io(path, std::string("not a regular file (") +
                        (S_ISCHR(st.st_mode) ? "a character device" : S_ISBLK(st.st_mode) ? "a block device"
                                                : S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISDIR(st.st_mode) ? "a folder"
                                                                                                      : "a special file") +
                        "); only regular files are read");
  ::fcntl(impl->fd, F_SETFL, ::fcntl(impl->fd, F_GETFL) & ~O_NONBLOCK);
  impl->size = static_cast<uint64_t>(st.st_size);
  uint8_t magic[2] = {0, 0};
  auto got = impl->read_fd(magic, 2);
  if (!got) return got.error();
  impl->gzip = *got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (::lseek(impl->fd, 0, SEEK_SET) != 0) return io(path, std::string("cannot seek: ") + std::strerror(errno));
  impl->file_read = 0;
  if (impl->gzip) {
    if (inflateInit2(&impl->zs, 15 + 32) != Z_OK) return io(path, "zlib inflateInit2 failed");
    impl->z_open = true;
    impl->in.resize(1 << 16);
  }
  return DataFile(std::move(impl));
}

const std::string& DataFile::path() const { return impl_->path; }
bool DataFile::gzip() const { return impl_->gzip; }
uint64_t DataFile::consumed() const { return impl_->consumed; }

uint64_t DataFile::max_remaining() const {
  const Impl& d = *impl_;
  const uint64_t peek = d.peeked >= 0 ? 1 : 0;
  if (!d.gzip) return d.size - std::min(d.size, d.file_read) + peek;
  if (d.z_end) return peek;
  const uint64_t compressed_left = d.size - std::min(d.size, d.file_read) + d.zs.avail_in;
  // + the inflater's window it may still hold as pending output.
  return compressed_left * kMaxDeflateRatio + (uint64_t{1} << 15) + peek;
}

Result<std::size_t> DataFile::read(void* dst, std::size_t n) {
  Impl& d = *impl_;
  auto* out = static_cast<uint8_t*>(dst);
  std::size_t done = 0;
  if (n > 0 && d.peeked >= 0) {
    out[0] = static_cast<uint8_t>(d.peeked);
    d.peeked = -1;
    done = 1;
  }
  auto got = d.gzip ? d.inflate_into(out + done, n - done) : d.read_fd(out + done, n - done);
  if (!got) return got.error();
  done += *got;
  d.consumed += done;
  return done;
}

Result<bool> DataFile::more() {
  Impl& d = *impl_;
  if (d.peeked >= 0) return true;
  uint8_t b = 0;
  auto got = d.gzip ? d.inflate_into(&b, 1) : d.read_fd(&b, 1);
  if (!got) return got.error();
  if (*got == 0) return false;
  d.peeked = b;
  return true;
}

Result<void> check_declared(const DataFile& f, const std::string& format, uint64_t declared, uint64_t memory) {
  const uint64_t most = f.max_remaining();
  if (declared > most) {
    if (!f.gzip())
      return io(f.path(), "truncated " + format + " data: header promises " + std::to_string(declared) +
                              " bytes, file has " + std::to_string(most));
    return io(f.path(), format + " header promises " + std::to_string(declared) + " bytes of data, more than the " +
                            std::to_string(most) + " its compressed size can hold (gzip inflates at most 1032:1)");
  }
  const uint64_t budget = memory_budget_bytes();
  if (memory > budget)
    return io(f.path(), format + " data needs " + std::to_string(memory) + " bytes of memory, more than the " +
                            std::to_string(budget) + " this process may still allocate");
  return {};
}

}  // namespace troupe::dataset
