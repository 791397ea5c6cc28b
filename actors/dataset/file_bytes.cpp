#include "actors/dataset/file_bytes.hpp"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace troupe::dataset {

namespace {

Error io(const std::string& path, const std::string& what) { return {Errc::io_error, path + ": " + what}; }

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

Result<std::vector<uint8_t>> read_plain(std::FILE* f, const std::string& path) {
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  for (;;) {
    const std::size_t got = std::fread(buf, 1, sizeof buf, f);
    out.insert(out.end(), buf, buf + got);
    if (got < sizeof buf) break;
  }
  if (std::ferror(f)) return io(path, std::string("read failed: ") + std::strerror(errno));
  return out;
}

// Inflates every gzip member of a stream (gzip files may be concatenations),
// and refuses a stream that ends before its trailer.
Result<std::vector<uint8_t>> read_gzip(std::FILE* f, const std::string& path) {
  auto compressed = read_plain(f, path);
  if (!compressed) return compressed.error();
  const std::vector<uint8_t>& in = *compressed;
  std::vector<uint8_t> out;
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return io(path, "zlib inflateInit2 failed");
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  uint8_t buf[1 << 16];
  int rc = Z_OK;
  for (;;) {
    zs.next_out = buf;
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.insert(out.end(), buf, buf + (sizeof buf - zs.avail_out));
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      inflateReset(&zs);  // another member follows
      continue;
    }
    if (rc != Z_OK) break;
    if (zs.avail_in == 0 && zs.avail_out != 0) {
      rc = Z_BUF_ERROR;  // input exhausted before the end of the stream
      break;
    }
  }
  const std::string msg = zs.msg ? zs.msg : "";
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    if (rc == Z_BUF_ERROR) return io(path, "truncated gzip stream (ends after " + std::to_string(in.size()) +
                                               " compressed bytes)");
    return io(path, "corrupt gzip stream" + (msg.empty() ? std::string() : ": " + msg));
  }
  return out;
}

}  // namespace

Result<std::vector<uint8_t>> read_file_bytes(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) return io(path, std::string("cannot open: ") + std::strerror(errno));
  uint8_t magic[2] = {0, 0};
  const std::size_t got = std::fread(magic, 1, 2, f.get());
  std::rewind(f.get());
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) return read_gzip(f.get(), path);
  return read_plain(f.get(), path);
}

}  // namespace troupe::dataset
