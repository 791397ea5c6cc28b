#pragma once
// Reading a data file's content (plain, or inflated when it is gzip) from its
// start, a piece at a time, so that a reader checks the header's sizes before
// it allocates anything (docs/LIMITS.md, "Hostile files"): only regular
// files open (not /dev/zero, a FIFO or a folder), and gzip is inflated only
// as far as the reader asks.
#include <cstdint>
#include <memory>
#include <string>

#include "runtime/error.hpp"

namespace troupe::dataset {

/// One open data file. Move-only; not thread-safe (one reader at a time).
class DataFile {
 public:
  /// Opens `path`; io_error naming it when it is missing, unreadable or not a
  /// regular file. Detects gzip by its magic bytes, not its name.
  static Result<DataFile> open(const std::string& path);
  DataFile(DataFile&&) noexcept;
  DataFile& operator=(DataFile&&) noexcept;
  ~DataFile();

  [[nodiscard]] const std::string& path() const;
  [[nodiscard]] bool gzip() const;
  /// Content bytes read so far.
  [[nodiscard]] uint64_t consumed() const;
  /// The most content bytes that can follow: exact for a plain file; for
  /// gzip what deflate's largest ratio (1032:1) can make of the compressed
  /// bytes left. A header that promises more lies, whatever it says.
  [[nodiscard]] uint64_t max_remaining() const;
  /// Reads up to `n` bytes into `dst`; fewer only at the content's end.
  /// io_error naming the path for a read error, a corrupt or truncated gzip stream.
  Result<std::size_t> read(void* dst, std::size_t n);
  /// Whether any content follows what was read (inflates at most one byte more).
  Result<bool> more();

 private:
  struct Impl;
  explicit DataFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The check a reader makes once it has read a header, before it allocates:
/// io_error naming the file unless `declared` content bytes can still follow
/// (≤ f.max_remaining(); a plain file: "truncated <format> data: header
/// promises N bytes, file has M") and `memory` bytes, what the reader will
/// allocate for them, fit in what this process may still take
/// (runtime/memory_budget.hpp). Thread-safe.
Result<void> check_declared(const DataFile& f, const std::string& format, uint64_t declared, uint64_t memory);

}  // namespace troupe::dataset
