#include "actors/dataset/idx_reader.hpp"

#include <cstring>
#include <limits>
#include <vector>

#include "actors/dataset/data_file.hpp"

namespace troupe::dataset {

namespace {

Error bad(const std::string& path, const std::string& what) { return {Errc::io_error, path + ": " + what}; }

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

/// The header, read; the file positioned at the data.
struct Idx {
  DataFile file;
  uint8_t type = 0;
  std::vector<int64_t> dims;
  int64_t count = 0;  // product of dims
  uint64_t bytes = 0; // of the data
};

std::size_t type_size(uint8_t type) {
  switch (type) {
    case 0x08: case 0x09: return 1;  // uint8, int8
    case 0x0B: return 2;             // int16
    case 0x0C: case 0x0D: return 4;  // int32, float32
    case 0x0E: return 8;             // float64
    default: return 0;
  }
}

// Reads exactly n bytes; an error naming the path when the content ends first.
Result<void> read_exact(DataFile& f, void* dst, std::size_t n, const char* what) {
  auto got = f.read(dst, n);
  if (!got) return got.error();
  if (*got != n) return bad(f.path(), std::string("truncated IDX ") + what);
  return {};
}

Result<Idx> read_header(const std::string& path) {
  auto file = DataFile::open(path);
  if (!file) return file.error();
  Idx idx{std::move(file.value())};
  uint8_t magic[4] = {};
  auto got = idx.file.read(magic, 4);
  if (!got) return got.error();
  if (*got < 4) return bad(path, "too short for an IDX header (" + std::to_string(*got) + " bytes)");
  if (magic[0] != 0 || magic[1] != 0 || type_size(magic[2]) == 0 || magic[3] == 0)
    return bad(path, "bad IDX magic (expected 00 00 <type> <ndims>, got " + std::to_string(magic[0]) + " " +
                         std::to_string(magic[1]) + " " + std::to_string(magic[2]) + " " + std::to_string(magic[3]) + ")");
  idx.type = magic[2];
  const std::size_t ndims = magic[3];
  uint8_t dims[4 * 255];
  if (auto r = read_exact(idx.file, dims, 4 * ndims, "header"); !r.ok())
    return bad(path, "truncated IDX header (" + std::to_string(ndims) + " dims)");
  idx.count = 1;
  for (std::size_t d = 0; d < ndims; ++d) {
    const int64_t v = be32(dims + 4 * d);
    idx.dims.push_back(v);
    if (v != 0 && idx.count > std::numeric_limits<int64_t>::max() / 16 / v)
      return bad(path, "IDX dimensions overflow");
    idx.count *= v;
  }
  idx.bytes = static_cast<uint64_t>(idx.count) * type_size(idx.type);
  return idx;
}

// After the data: nothing may follow (this also stops a gzip bomb after one byte).
Result<void> check_end(Idx& idx) {
  auto more = idx.file.more();
  if (!more) return more.error();
  if (!*more) return {};
  if (idx.file.gzip())
    return bad(idx.file.path(), "IDX content goes on after the " + std::to_string(idx.bytes) +
                                    " bytes of data its header declares (inflating stopped there)");
  return bad(idx.file.path(), "IDX file has " + std::to_string(idx.file.max_remaining()) +
                                  " bytes after the data the header describes");
}

// Streams the data in pieces, handing each to `take(bytes, first_element, elements)`.
template <class Take>
Result<void> stream_data(Idx& idx, Take take) {
  const std::size_t item = type_size(idx.type);
  std::vector<uint8_t> buf((std::size_t{1} << 20) / item * item);
  uint64_t left = idx.bytes;
  int64_t at = 0;
  while (left > 0) {
    const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(left, buf.size()));
    auto got = idx.file.read(buf.data(), n);
    if (!got) return got.error();
    if (*got != n)
      return bad(idx.file.path(), "truncated IDX data: header promises " + std::to_string(idx.bytes) +
                                      " bytes, file has " + std::to_string(idx.bytes - left + *got));
    const int64_t k = static_cast<int64_t>(n / item);
    take(buf.data(), at, k);
    at += k;
    left -= n;
  }
  return check_end(idx);
}

/// An images file's header, checked (dims, type, size against the file and
/// the memory its floats need) before anything is allocated for its data.
Result<Idx> images_header(const std::string& path) {
  auto r = read_header(path);
  if (!r) return r.error();
  Idx& idx = *r;
  if (idx.dims.size() < 2)
    return bad(path, "IDX images need at least 2 dims, file has " + std::to_string(idx.dims.size()));
  if (idx.type != 0x08 && idx.type != 0x0D)
    return bad(path, "IDX images must be uint8 (0x08) or float32 (0x0D), file has type " + std::to_string(idx.type));
  if (auto ok = check_declared(idx.file, "IDX", idx.bytes, static_cast<uint64_t>(idx.count) * sizeof(float)); !ok.ok())
    return ok.error();
  return r;
}

}  // namespace

Result<Images> read_idx_images(const std::string& path) {
  auto r = images_header(path);
  if (!r) return r.error();
  Idx& idx = *r;
  Images im;
  im.shape = idx.dims;
  im.count = idx.dims[0];
  im.dim = 1;
  for (std::size_t d = 1; d < idx.dims.size(); ++d) im.dim *= idx.dims[d];
  im.pixels.resize(static_cast<std::size_t>(idx.count));
  float* out = im.pixels.data();
  const bool u8 = idx.type == 0x08;
  auto done = stream_data(idx, [&](const uint8_t* src, int64_t at, int64_t n) {
    if (u8) {
      for (int64_t k = 0; k < n; ++k) out[at + k] = static_cast<float>(src[k]) * (1.0f / 255.0f);
    } else {
      for (int64_t k = 0; k < n; ++k) {
        const uint32_t u = be32(src + 4 * k);
        std::memcpy(&out[at + k], &u, 4);
      }
    }
  });
  if (!done.ok()) return done.error();
  return im;
}

Result<Labels> read_idx_labels(const std::string& path) {
  auto r = read_header(path);
  if (!r) return r.error();
  Idx& idx = *r;
  if (idx.dims.size() != 1) return bad(path, "IDX labels must be 1-d, file has " + std::to_string(idx.dims.size()) + " dims");
  if (idx.type != 0x08 && idx.type != 0x0C)
    return bad(path, "IDX labels must be uint8 (0x08) or int32 (0x0C), file has type " + std::to_string(idx.type));
  if (auto ok = check_declared(idx.file, "IDX", idx.bytes, static_cast<uint64_t>(idx.count) * sizeof(int32_t)); !ok.ok())
    return ok.error();
  Labels out(static_cast<std::size_t>(idx.count));
  const bool u8 = idx.type == 0x08;
  auto done = stream_data(idx, [&](const uint8_t* src, int64_t at, int64_t n) {
    for (int64_t k = 0; k < n; ++k) out[at + k] = u8 ? src[k] : static_cast<int32_t>(be32(src + 4 * k));
  });
  if (!done.ok()) return done.error();
  return out;
}

Result<std::vector<int64_t>> probe_idx_images(const std::string& path) {
  auto r = images_header(path);
  if (!r) return r.error();
  return r->dims;
}

}  // namespace troupe::dataset
