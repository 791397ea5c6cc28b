#include "actors/dataset/npy_reader.hpp"

#include <cstring>
#include <limits>

#include "actors/dataset/file_bytes.hpp"

namespace troupe::dataset {

namespace {

Error bad(const std::string& path, const std::string& what) { return {Errc::io_error, path + ": " + what}; }

struct Npy {
  std::string descr;
  std::vector<int64_t> shape;
  int64_t count = 1;
  std::vector<uint8_t> bytes;
  std::size_t offset = 0;
};

// The value text of key in a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 28, 28), }
std::string dict_value(const std::string& header, const std::string& key) {
  const std::size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) return {};
  std::size_t p = header.find(':', k);
  if (p == std::string::npos) return {};
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  if (p >= header.size()) return {};
  if (header[p] == '\'') {
    const std::size_t e = header.find('\'', p + 1);
    return e == std::string::npos ? std::string() : header.substr(p + 1, e - p - 1);
  }
  if (header[p] == '(') {
    const std::size_t e = header.find(')', p);
    return e == std::string::npos ? std::string() : header.substr(p, e - p + 1);
  }
  const std::size_t e = header.find_first_of(",}", p);
  return header.substr(p, e == std::string::npos ? std::string::npos : e - p);
}

std::size_t descr_size(const std::string& d) {
  if (d == "|u1" || d == "<u1" || d == "u1" || d == "|i1") return 1;
  if (d == "<f4" || d == "<i4") return 4;
  if (d == "<i8" || d == "<f8") return 8;
  return 0;
}

Result<Npy> read_npy(const std::string& path) {
  auto bytes = read_file_bytes(path);
  if (!bytes) return bytes.error();
  Npy npy;
  npy.bytes = std::move(*bytes);
  const auto& b = npy.bytes;
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0) return bad(path, "bad NPY magic (expected \\x93NUMPY)");
  const uint8_t major = b[6];
  std::size_t header_len = 0, header_at = 0;
  if (major == 1) {
    header_len = b[8] | (std::size_t{b[9]} << 8);
    header_at = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) return bad(path, "truncated NPY header");
    header_len = b[8] | (std::size_t{b[9]} << 8) | (std::size_t{b[10]} << 16) | (std::size_t{b[11]} << 24);
    header_at = 12;
  } else {
    return bad(path, "unsupported NPY format version " + std::to_string(major));
  }
  if (b.size() < header_at + header_len) return bad(path, "truncated NPY header");
  const std::string header(reinterpret_cast<const char*>(b.data() + header_at), header_len);
  npy.offset = header_at + header_len;
  npy.descr = dict_value(header, "descr");
  if (descr_size(npy.descr) == 0) return bad(path, "unsupported NPY dtype '" + npy.descr + "'");
  if (dict_value(header, "fortran_order").rfind("False", 0) != 0)
    return bad(path, "NPY array is in Fortran order; only C order is supported");
  const std::string shape = dict_value(header, "shape");
  if (shape.size() < 2 || shape.front() != '(') return bad(path, "NPY header has no shape");
  std::size_t p = 1;
  while (p < shape.size()) {
    while (p < shape.size() && (shape[p] == ' ' || shape[p] == ',')) ++p;
    if (p >= shape.size() || shape[p] == ')') break;
    std::size_t e = p;
    while (e < shape.size() && shape[e] >= '0' && shape[e] <= '9') ++e;
    if (e == p || e - p > 12) return bad(path, "bad NPY shape " + shape);
    const int64_t v = std::stoll(shape.substr(p, e - p));
    if (v != 0 && npy.count > std::numeric_limits<int64_t>::max() / 16 / v) return bad(path, "NPY shape overflows");
    npy.shape.push_back(v);
    npy.count *= v;
    p = e;
  }
  const std::size_t want = static_cast<std::size_t>(npy.count) * descr_size(npy.descr);
  const std::size_t have = b.size() - npy.offset;
  if (have < want)
    return bad(path, "truncated NPY data: header promises " + std::to_string(want) + " bytes, file has " +
                         std::to_string(have));
  return npy;
}

}  // namespace

Result<Images> read_npy_images(const std::string& path) {
  auto r = read_npy(path);
  if (!r) return r.error();
  Npy& npy = *r;
  if (npy.shape.size() < 2)
    return bad(path, "NPY images need at least 2 dims, array has " + std::to_string(npy.shape.size()));
  const bool u8 = descr_size(npy.descr) == 1 && npy.descr != "|i1";
  if (!u8 && npy.descr != "<f4") return bad(path, "NPY images must be uint8 or float32, array is '" + npy.descr + "'");
  Images im;
  im.shape = npy.shape;
  im.count = npy.shape[0];
  im.dim = 1;
  for (std::size_t d = 1; d < npy.shape.size(); ++d) im.dim *= npy.shape[d];
  im.pixels.resize(static_cast<std::size_t>(npy.count));
  const uint8_t* src = npy.bytes.data() + npy.offset;
  if (u8) {
    for (int64_t k = 0; k < npy.count; ++k) im.pixels[k] = static_cast<float>(src[k]) * (1.0f / 255.0f);
  } else {
    std::memcpy(im.pixels.data(), src, static_cast<std::size_t>(npy.count) * 4);  // little-endian host
  }
  return im;
}

Result<Labels> read_npy_labels(const std::string& path) {
  auto r = read_npy(path);
  if (!r) return r.error();
  Npy& npy = *r;
  if (npy.shape.size() != 1) return bad(path, "NPY labels must be 1-d, array has " + std::to_string(npy.shape.size()) + " dims");
  Labels out(static_cast<std::size_t>(npy.count));
  const uint8_t* src = npy.bytes.data() + npy.offset;
  if (npy.descr == "<i4") {
    std::memcpy(out.data(), src, out.size() * 4);
  } else if (npy.descr == "<i8") {
    for (int64_t k = 0; k < npy.count; ++k) {
      int64_t v;
      std::memcpy(&v, src + 8 * k, 8);
      if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
        return bad(path, "label " + std::to_string(v) + " at index " + std::to_string(k) + " does not fit in int32");
      out[k] = static_cast<int32_t>(v);
    }
  } else if (descr_size(npy.descr) == 1 && npy.descr != "|i1") {
    for (int64_t k = 0; k < npy.count; ++k) out[k] = src[k];
  } else {
    return bad(path, "NPY labels must be uint8, int32 or int64, array is '" + npy.descr + "'");
  }
  return out;
}

}  // namespace troupe::dataset
