#include "actors/dataset/npy_reader.hpp"

#include <cstring>
#include <limits>

#include "actors/dataset/data_file.hpp"

namespace troupe::dataset {

namespace {

Error bad(const std::string& path, const std::string& what) { return {Errc::io_error, path + ": " + what}; }

/// The header, read; the file positioned at the data.
struct Npy {
  DataFile file;
  std::string descr;
  std::vector<int64_t> shape;
  int64_t count = 1;
  uint64_t bytes = 0;  // of the data
};

// A header dict is a few hundred bytes; numpy itself refuses ones over 10 kB by default.
constexpr std::size_t kMaxNpyHeader = std::size_t{1} << 16;

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
  auto file = DataFile::open(path);
  if (!file) return file.error();
  Npy npy{std::move(file.value())};
  uint8_t b[12] = {};
  auto got = npy.file.read(b, 10);
  if (!got) return got.error();
  if (*got < 10 || std::memcmp(b, "\x93NUMPY", 6) != 0) return bad(path, "bad NPY magic (expected \\x93NUMPY)");
  const uint8_t major = b[6];
  std::size_t header_len = 0;
  if (major == 1) {
    header_len = b[8] | (std::size_t{b[9]} << 8);
  } else if (major == 2 || major == 3) {
    got = npy.file.read(b + 10, 2);
    if (!got) return got.error();
    if (*got < 2) return bad(path, "truncated NPY header");
    header_len = b[8] | (std::size_t{b[9]} << 8) | (std::size_t{b[10]} << 16) | (std::size_t{b[11]} << 24);
  } else {
    return bad(path, "unsupported NPY format version " + std::to_string(major));
  }
  if (header_len > kMaxNpyHeader)
    return bad(path, "NPY header of " + std::to_string(header_len) + " bytes is over the limit of " +
                         std::to_string(kMaxNpyHeader));
  if (header_len > npy.file.max_remaining()) return bad(path, "truncated NPY header");
  std::string header(header_len, '\0');
  got = npy.file.read(header.data(), header_len);
  if (!got) return got.error();
  if (*got < header_len) return bad(path, "truncated NPY header");
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
  npy.bytes = static_cast<uint64_t>(npy.count) * descr_size(npy.descr);
  return npy;
}

// Reads the whole data into dst (npy.bytes of room); the header was checked against the file already.
Result<void> read_data(Npy& npy, void* dst) {
  auto got = npy.file.read(dst, static_cast<std::size_t>(npy.bytes));
  if (!got) return got.error();
  if (*got != npy.bytes)
    return bad(npy.file.path(), "truncated NPY data: header promises " + std::to_string(npy.bytes) +
                                    " bytes, file has " + std::to_string(*got));
  return {};
}

bool u8_images(const Npy& npy) { return descr_size(npy.descr) == 1 && npy.descr != "|i1"; }

/// An images array's header, checked (shape, type, size against the file and
/// the memory its floats need) before anything is allocated for its data.
Result<Npy> images_header(const std::string& path) {
  auto r = read_npy(path);
  if (!r) return r.error();
  Npy& npy = *r;
  if (npy.shape.size() < 2)
    return bad(path, "NPY images need at least 2 dims, array has " + std::to_string(npy.shape.size()));
  const bool u8 = u8_images(npy);
  if (!u8 && npy.descr != "<f4") return bad(path, "NPY images must be uint8 or float32, array is '" + npy.descr + "'");
  const uint64_t floats = static_cast<uint64_t>(npy.count) * sizeof(float);
  if (auto ok = check_declared(npy.file, "NPY", npy.bytes, floats + (u8 ? npy.bytes : 0)); !ok.ok()) return ok.error();
  return r;
}

}  // namespace

Result<Images> read_npy_images(const std::string& path) {
  auto r = images_header(path);
  if (!r) return r.error();
  Npy& npy = *r;
  const bool u8 = u8_images(npy);
  Images im;
  im.shape = npy.shape;
  im.count = npy.shape[0];
  im.dim = 1;
  for (std::size_t d = 1; d < npy.shape.size(); ++d) im.dim *= npy.shape[d];
  im.pixels.resize(static_cast<std::size_t>(npy.count));
  if (u8) {
    std::vector<uint8_t> raw(static_cast<std::size_t>(npy.bytes));
    if (auto ok = read_data(npy, raw.data()); !ok.ok()) return ok.error();
    for (int64_t k = 0; k < npy.count; ++k) im.pixels[k] = static_cast<float>(raw[k]) * (1.0f / 255.0f);
  } else if (auto ok = read_data(npy, im.pixels.data()); !ok.ok()) {  // little-endian host
    return ok.error();
  }
  return im;
}

Result<Labels> read_npy_labels(const std::string& path) {
  auto r = read_npy(path);
  if (!r) return r.error();
  Npy& npy = *r;
  if (npy.shape.size() != 1) return bad(path, "NPY labels must be 1-d, array has " + std::to_string(npy.shape.size()) + " dims");
  const bool u8 = descr_size(npy.descr) == 1 && npy.descr != "|i1";
  if (npy.descr != "<i4" && npy.descr != "<i8" && !u8)
    return bad(path, "NPY labels must be uint8, int32 or int64, array is '" + npy.descr + "'");
  const uint64_t out_bytes = static_cast<uint64_t>(npy.count) * sizeof(int32_t);
  if (auto ok = check_declared(npy.file, "NPY", npy.bytes, out_bytes + npy.bytes); !ok.ok()) return ok.error();
  std::vector<uint8_t> raw(static_cast<std::size_t>(npy.bytes));
  if (auto ok = read_data(npy, raw.data()); !ok.ok()) return ok.error();
  const uint8_t* src = raw.data();
  Labels out(static_cast<std::size_t>(npy.count));
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
  } else {
    for (int64_t k = 0; k < npy.count; ++k) out[k] = src[k];
  }
  return out;
}

Result<std::vector<int64_t>> probe_npy_images(const std::string& path) {
  auto r = images_header(path);
  if (!r) return r.error();
  return r->shape;
}

}  // namespace troupe::dataset
