#include "actors/dataset/idx_reader.hpp"

#include <cstring>
#include <limits>

#include "actors/dataset/file_bytes.hpp"

namespace troupe::dataset {

namespace {

Error bad(const std::string& path, const std::string& what) { return {Errc::io_error, path + ": " + what}; }

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

struct Idx {
  uint8_t type = 0;
  std::vector<int64_t> dims;
  int64_t count = 0;  // product of dims
  std::vector<uint8_t> bytes;
  std::size_t offset = 0;  // where the data starts in bytes
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

Result<Idx> read_idx(const std::string& path) {
  auto bytes = read_file_bytes(path);
  if (!bytes) return bytes.error();
  Idx idx;
  idx.bytes = std::move(*bytes);
  const auto& b = idx.bytes;
  if (b.size() < 4) return bad(path, "too short for an IDX header (" + std::to_string(b.size()) + " bytes)");
  if (b[0] != 0 || b[1] != 0 || type_size(b[2]) == 0 || b[3] == 0)
    return bad(path, "bad IDX magic (expected 00 00 <type> <ndims>, got " + std::to_string(b[0]) + " " +
                         std::to_string(b[1]) + " " + std::to_string(b[2]) + " " + std::to_string(b[3]) + ")");
  idx.type = b[2];
  const std::size_t ndims = b[3];
  idx.offset = 4 + 4 * ndims;
  if (b.size() < idx.offset) return bad(path, "truncated IDX header (" + std::to_string(ndims) + " dims)");
  idx.count = 1;
  for (std::size_t d = 0; d < ndims; ++d) {
    const int64_t v = be32(b.data() + 4 + 4 * d);
    idx.dims.push_back(v);
    if (v != 0 && idx.count > std::numeric_limits<int64_t>::max() / 16 / v)
      return bad(path, "IDX dimensions overflow");
    idx.count *= v;
  }
  const std::size_t want = static_cast<std::size_t>(idx.count) * type_size(idx.type);
  const std::size_t have = b.size() - idx.offset;
  if (have < want)
    return bad(path, "truncated IDX data: header promises " + std::to_string(want) + " bytes, file has " +
                         std::to_string(have));
  if (have > want)
    return bad(path, "IDX file has " + std::to_string(have - want) + " bytes after the data the header describes");
  return idx;
}

}  // namespace

Result<Images> read_idx_images(const std::string& path) {
  auto r = read_idx(path);
  if (!r) return r.error();
  Idx& idx = *r;
  if (idx.dims.size() < 2)
    return bad(path, "IDX images need at least 2 dims, file has " + std::to_string(idx.dims.size()));
  if (idx.type != 0x08 && idx.type != 0x0D)
    return bad(path, "IDX images must be uint8 (0x08) or float32 (0x0D), file has type " + std::to_string(idx.type));
  Images im;
  im.shape = idx.dims;
  im.count = idx.dims[0];
  im.dim = 1;
  for (std::size_t d = 1; d < idx.dims.size(); ++d) im.dim *= idx.dims[d];
  im.pixels.resize(static_cast<std::size_t>(idx.count));
  const uint8_t* src = idx.bytes.data() + idx.offset;
  if (idx.type == 0x08) {
    for (int64_t k = 0; k < idx.count; ++k) im.pixels[k] = static_cast<float>(src[k]) * (1.0f / 255.0f);
  } else {
    for (int64_t k = 0; k < idx.count; ++k) {
      const uint32_t u = be32(src + 4 * k);
      std::memcpy(&im.pixels[k], &u, 4);
    }
  }
  return im;
}

Result<Labels> read_idx_labels(const std::string& path) {
  auto r = read_idx(path);
  if (!r) return r.error();
  Idx& idx = *r;
  if (idx.dims.size() != 1) return bad(path, "IDX labels must be 1-d, file has " + std::to_string(idx.dims.size()) + " dims");
  if (idx.type != 0x08 && idx.type != 0x0C)
    return bad(path, "IDX labels must be uint8 (0x08) or int32 (0x0C), file has type " + std::to_string(idx.type));
  Labels out(static_cast<std::size_t>(idx.count));
  const uint8_t* src = idx.bytes.data() + idx.offset;
  for (int64_t k = 0; k < idx.count; ++k)
    out[k] = idx.type == 0x08 ? src[k] : static_cast<int32_t>(be32(src + 4 * k));
  return out;
}

}  // namespace troupe::dataset
