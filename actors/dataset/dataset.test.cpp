#include "actors/dataset/dataset.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "actors/dataset/idx_reader.hpp"
#include "actors/dataset/npy_reader.hpp"

using namespace troupe;
using namespace troupe::dataset;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test case, removed at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/troupe-dataset-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f);
  std::fwrite(b.data(), 1, b.size(), f);
  std::fclose(f);
}

// path must end in ".gz"; written by the gzip tool (Debian: essential) so the
// test does not link zlib itself.
void write_gz(const std::string& path, const std::vector<uint8_t>& b) {
  const std::string plain = path.substr(0, path.size() - 3);
  write_bytes(plain, b);
  REQUIRE(std::system(("gzip -kf '" + plain + "'").c_str()) == 0);
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  std::vector<uint8_t> b;
  int c;
  while ((c = std::fgetc(f)) != EOF) b.push_back(static_cast<uint8_t>(c));
  std::fclose(f);
  return b;
}

void put_be32(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

// IDX uint8 images [n, rows, cols] with pixel (i, k) = (i * 7 + k) % 256
std::vector<uint8_t> idx_images(uint32_t n, uint32_t rows, uint32_t cols) {
  std::vector<uint8_t> b = {0, 0, 0x08, 3};
  put_be32(b, n);
  put_be32(b, rows);
  put_be32(b, cols);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t k = 0; k < rows * cols; ++k) b.push_back(static_cast<uint8_t>((i * 7 + k) % 256));
  return b;
}

std::vector<uint8_t> idx_labels(uint32_t n) {
  std::vector<uint8_t> b = {0, 0, 0x08, 1};
  put_be32(b, n);
  for (uint32_t i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(i % 10));
  return b;
}

std::vector<uint8_t> npy(const std::string& descr, const std::string& shape, const void* data, std::size_t bytes,
                         bool fortran = false) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::vector<uint8_t> b;
  b.reserve(10 + header.size() + bytes);
  for (char c : std::string("\x93NUMPY\x01\x00", 8)) b.push_back(static_cast<uint8_t>(c));
  b.push_back(static_cast<uint8_t>(header.size() & 0xff));
  b.push_back(static_cast<uint8_t>(header.size() >> 8));
  for (char c : header) b.push_back(static_cast<uint8_t>(c));
  const auto* p = static_cast<const uint8_t*>(data);
  b.insert(b.end(), p, p + bytes);
  return b;
}

bool mentions(const Error& e, const std::string& text) { return e.message.find(text) != std::string::npos; }

/// For the cases of the doctest suite "fashion-mnist", which need the real data: without its four files,
/// one line and exit code 77 (meson: skipped) rather than a pass that checked nothing. doctest has no skip,
/// and meson runs these cases as an entry of their own (tests/meson.build), so the exit skips only them.
void exit_77_without_fashion_mnist() {
  for (const char* split : {"train", "t10k"})
    for (const char* kind : {"images-idx3", "labels-idx1"}) {
      const std::string f = std::string(kFashionMnistDir) + "/" + split + "-" + kind + "-ubyte.gz";
      if (::access(f.c_str(), R_OK) == 0) continue;
      std::printf("skipped: the Fashion-MNIST file %s is missing (Debian package dataset-fashion-mnist)\n", f.c_str());
      std::fflush(stdout);
      std::exit(77);
    }
}

}  // namespace

TEST_CASE("IDX images and labels read the same from plain and gzip files, scaled to [0, 1]") {
  TempDir dir;
  write_bytes(dir.file("img"), idx_images(5, 3, 4));
  write_gz(dir.file("img.gz"), idx_images(5, 3, 4));
  write_gz(dir.file("lab.gz"), idx_labels(5));
  for (const char* name : {"img", "img.gz"}) {
    auto im = read_idx_images(dir.file(name));
    REQUIRE(im.ok());
    CHECK(im->count == 5);
    CHECK(im->dim == 12);
    CHECK(im->shape == std::vector<int64_t>{5, 3, 4});
    CHECK(im->row(2)[5] == doctest::Approx(((2 * 7 + 5) % 256) / 255.0));
    CHECK(im->row(4)[11] == doctest::Approx(((4 * 7 + 11) % 256) / 255.0));
  }
  auto lab = read_idx_labels(dir.file("lab.gz"));
  REQUIRE(lab.ok());
  CHECK(*lab == Labels{0, 1, 2, 3, 4});
  auto ds = load_dataset(dir.file("img.gz"), dir.file("lab.gz"));
  REQUIRE(ds.ok());
  CHECK(ds->size() == 5);
}

TEST_CASE("NPY float32 and uint8 images and integer labels are read in C order") {
  TempDir dir;
  const std::vector<float> f = {0.5f, -1.0f, 2.0f, 3.25f, 0.0f, 1e-3f};
  write_bytes(dir.file("f.npy"), npy("<f4", "(2, 3)", f.data(), f.size() * 4));
  const std::vector<uint8_t> u = {0, 255, 51, 102, 7, 9, 1, 2};
  write_bytes(dir.file("u.npy"), npy("|u1", "(2, 2, 2)", u.data(), u.size()));
  const std::vector<int64_t> l64 = {3, 1};
  write_bytes(dir.file("l.npy"), npy("<i8", "(2,)", l64.data(), 16));
  auto fi = read_npy_images(dir.file("f.npy"));
  REQUIRE(fi.ok());
  CHECK(fi->count == 2);
  CHECK(fi->dim == 3);
  CHECK(fi->pixels == f);
  auto ui = read_images(dir.file("u.npy"));  // dispatch by magic
  REQUIRE(ui.ok());
  CHECK(ui->dim == 4);
  CHECK(ui->pixels[1] == 1.0f);
  CHECK(ui->pixels[2] == doctest::Approx(0.2));
  auto ds = load_dataset(dir.file("f.npy"), dir.file("l.npy"));
  REQUIRE(ds.ok());
  CHECK(ds->labels == Labels{3, 1});
}

TEST_CASE("a missing file gives an io_error naming the path") {
  auto r = read_images("/nonexistent/dir/train-images.gz");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::io_error);
  CHECK(mentions(r.error(), "/nonexistent/dir/train-images.gz"));
  CHECK(mentions(r.error(), "No such file"));
}

TEST_CASE("bad magic, truncated data, truncated or corrupt gzip and mismatched counts are clear errors") {
  TempDir dir;
  write_bytes(dir.file("magic"), {1, 2, 3, 4, 5, 6, 7, 8});
  auto r = read_idx_images(dir.file("magic"));
  REQUIRE_FALSE(r.ok());
  CHECK(mentions(r.error(), "bad IDX magic"));
  CHECK(mentions(r.error(), dir.file("magic")));

  auto img = idx_images(5, 3, 4);
  img.resize(img.size() - 7);
  write_bytes(dir.file("short"), img);
  r = read_idx_images(dir.file("short"));
  REQUIRE_FALSE(r.ok());
  CHECK(mentions(r.error(), "truncated IDX data"));

  write_bytes(dir.file("hdr"), {0, 0, 8, 3, 0, 0});
  r = read_idx_images(dir.file("hdr"));
  REQUIRE_FALSE(r.ok());
  CHECK(mentions(r.error(), "truncated IDX header"));

  write_gz(dir.file("full.gz"), idx_images(50, 28, 28));
  auto gz = read_all(dir.file("full.gz"));
  std::vector<uint8_t> cut(gz.begin(), gz.begin() + static_cast<long>(gz.size() / 2));
  write_bytes(dir.file("cut.gz"), cut);
  r = read_idx_images(dir.file("cut.gz"));
  REQUIRE_FALSE(r.ok());
  CHECK(mentions(r.error(), "truncated gzip"));
  std::vector<uint8_t> corrupt = gz;
  for (std::size_t k = 20; k < 60 && k < corrupt.size(); ++k) corrupt[k] ^= 0x5a;
  write_bytes(dir.file("corrupt.gz"), corrupt);
  r = read_idx_images(dir.file("corrupt.gz"));
  REQUIRE_FALSE(r.ok());
  CHECK(mentions(r.error(), "gzip"));

  write_bytes(dir.file("lab"), idx_labels(4));
  write_bytes(dir.file("img"), idx_images(5, 3, 4));
  auto ds = load_dataset(dir.file("img"), dir.file("lab"));
  REQUIRE_FALSE(ds.ok());
  CHECK(mentions(ds.error(), "5 images but"));

  auto lr = read_idx_labels(dir.file("img"));
  REQUIRE_FALSE(lr.ok());
  CHECK(mentions(lr.error(), "1-d"));

  const std::vector<float> f = {1, 2, 3, 4};
  write_bytes(dir.file("fortran.npy"), npy("<f4", "(2, 2)", f.data(), 16, true));
  auto fr = read_npy_images(dir.file("fortran.npy"));
  REQUIRE_FALSE(fr.ok());
  CHECK(mentions(fr.error(), "Fortran"));
  write_bytes(dir.file("short.npy"), npy("<f4", "(2, 3)", f.data(), 16));
  fr = read_npy_images(dir.file("short.npy"));
  REQUIRE_FALSE(fr.ok());
  CHECK(mentions(fr.error(), "truncated NPY data"));
  write_bytes(dir.file("f8.npy"), npy("<c8", "(2,)", f.data(), 16));
  fr = read_npy_images(dir.file("f8.npy"));
  REQUIRE_FALSE(fr.ok());
  CHECK(mentions(fr.error(), "unsupported NPY dtype"));
}

TEST_CASE("only regular files are read: a device, a FIFO and a folder are refused at once, naming the path") {
  TempDir dir;
  REQUIRE(::mkfifo(dir.file("fifo").c_str(), 0600) == 0);  // no writer: a plain open() would block
  for (const std::string& path : {std::string("/dev/zero"), dir.file("fifo"), dir.path.string()}) {
    CAPTURE(path);
    auto l = read_labels(path);
    REQUIRE_FALSE(l.ok());
    CHECK(l.error().code == Errc::io_error);
    CHECK(mentions(l.error(), path + ": not a regular file"));
    auto i = probe_images(path);
    REQUIRE_FALSE(i.ok());
    CHECK(mentions(i.error(), "only regular files are read"));
  }
}

TEST_CASE("a header that promises more than the file holds or memory allows is refused before any allocation") {
  TempDir dir;
  // 2^31 images of 28x28 (1.6 TB) in a 16-byte file.
  std::vector<uint8_t> lie = {0, 0, 0x08, 3};
  put_be32(lie, 0x80000000u);
  put_be32(lie, 28);
  put_be32(lie, 28);
  write_bytes(dir.file("lie"), lie);
  auto r = read_idx_images(dir.file("lie"));
  REQUIRE_FALSE(r.ok());
  CHECK(mentions(r.error(), "truncated IDX data: header promises 1683627180032 bytes, file has 0"));
  CHECK_FALSE(probe_images(dir.file("lie")).ok());
  // The same header gzip-compressed: more than deflate's 1032:1 can make of its few bytes.
  write_gz(dir.file("lie.gz"), lie);
  r = read_idx_images(dir.file("lie.gz"));
  REQUIRE_FALSE(r.ok());
  CHECK(mentions(r.error(), "IDX header promises 1683627180032 bytes of data, more than the"));
  CHECK(mentions(r.error(), "gzip inflates at most 1032:1"));
  // An NPY header length over its limit, and an NPY shape over the file.
  std::vector<uint8_t> big_header;
  for (char c : std::string("\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12)) big_header.push_back(static_cast<uint8_t>(c));
  write_bytes(dir.file("hdr.npy"), big_header);
  auto n = read_npy_labels(dir.file("hdr.npy"));
  REQUIRE_FALSE(n.ok());
  CHECK(mentions(n.error(), "NPY header of 2147483647 bytes is over the limit of 65536"));
  const float f[4] = {1, 2, 3, 4};
  write_bytes(dir.file("huge.npy"), npy("<f4", "(100000000000, 10)", f, 16));
  auto h = read_npy_images(dir.file("huge.npy"));
  REQUIRE_FALSE(h.ok());
  CHECK(mentions(h.error(), "truncated NPY data: header promises 4000000000000 bytes"));
}

TEST_CASE("gzip is inflated only as far as the header declares: a bomb stops one byte past it") {
  TempDir dir;
  // 100 labels, then 64 MiB of zeros the header does not mention (64 KiB compressed).
  std::vector<uint8_t> bomb = idx_labels(100);
  bomb.resize(bomb.size() + (std::size_t{64} << 20), 0);
  write_gz(dir.file("bomb.gz"), bomb);
  bomb = {};
  auto r = read_idx_labels(dir.file("bomb.gz"));
  REQUIRE_FALSE(r.ok());
  CHECK(mentions(r.error(), dir.file("bomb.gz") + ": IDX content goes on after the 100 bytes of data its header declares"));
  // The good file still reads, gzip or not.
  write_gz(dir.file("ok.gz"), idx_labels(100));
  auto ok = read_idx_labels(dir.file("ok.gz"));
  REQUIRE(ok.ok());
  CHECK(ok->size() == 100u);
  CHECK((*ok)[13] == 3);
}

TEST_CASE("the real Fashion-MNIST loads: 60000/10000 images of 784 pixels in [0, 1], labels 0..9" *
          doctest::test_suite("fashion-mnist")) {
  exit_77_without_fashion_mnist();
  for (const char* split : {"train", "t10k"}) {
    auto ds = load_fashion_mnist(kFashionMnistDir, split);
    REQUIRE(ds.ok());
    CHECK(ds->size() == (std::string(split) == "train" ? 60000 : 10000));
    CHECK(ds->images.dim == 784);
    float lo = 1, hi = 0;
    for (float v : ds->images.pixels) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    CHECK(lo == 0.0f);
    CHECK(hi == 1.0f);
    std::vector<int> hist(10, 0);
    for (int32_t l : ds->labels) {
      REQUIRE(l >= 0);
      REQUIRE(l < 10);
      ++hist[l];
    }
    for (int h : hist) CHECK(h == ds->size() / 10);  // Fashion-MNIST is balanced
  }
}
