#pragma once
// Append-only journal of the scheduler's state changes (DESIGN §1): every
// change is appended before it is acted on, so a restarted scheduler replays
// the journal and recovers the cluster without killing anything.
//
// The files are created 0600: records hold constructor arguments and
// capability tokens (runtime/capability.hpp).
//
// File format (dir/journal.log), a sequence of frames, integers little-endian:
//   [u32 length][u32 crc][length bytes]   crc = zlib crc32 over the 4 length
//                                         bytes followed by the payload
// Covering the length too means a run of zero bytes (what a crash can leave
// at the end of a file on some filesystems) never reads as a valid record.
//
// Recovery: records are read in order up to the first frame that is not
// intact (partial header, short payload, crc mismatch). Everything from there
// on is cut off the file, counted, and saved to journal.log.dropped for
// inspection. A crash mid-append therefore loses only that record. A crc
// mismatch in the middle also stops there, on purpose: the length of a bad
// frame cannot be trusted, so the next frame boundary is a guess, and applying
// later state changes without an earlier one would build a state that never
// existed; a consistent prefix is the safe recovery.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"

namespace troupe {

/// When appended records are forced to disk.
enum class JournalSync : uint8_t {
  every_record,  ///< fdatasync after each append (default): an acknowledged record survives a power cut
  none,          ///< leave it to the kernel (and to sync()); survives a process crash, not a power cut
};

/// Options of Journal::open.
struct JournalOptions {
  JournalSync sync = JournalSync::every_record;
};

/// The journal of one scheduler. Move-only; owns the file and an exclusive
/// lock on the directory (a second scheduler on the same directory gets an
/// error). Not thread-safe: it has one owner, the scheduler's executor thread.
class Journal {
 public:
  /// Creates dir if needed, opens (or creates) dir/journal.log, locks dir, and
  /// cuts a torn tail off the file so that appends follow the last intact
  /// record. Errors: io_error (dir is a file, permissions, locked by another).
  static Result<Journal> open(std::filesystem::path dir, JournalOptions options = {});

  Journal(Journal&& other) noexcept;
  Journal& operator=(Journal&& other) noexcept;
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  ~Journal();

  /// Appends one record (opaque bytes, e.g. msgpack) with a single write(2),
  /// then fdatasync per the sync policy. After a write or sync failure the
  /// journal refuses further appends (io_error): what reached the disk is unknown.
  Result<void> append(std::string_view record);
  /// Forces appended records to disk (for JournalSync::none).
  Result<void> sync();
  /// All intact records in append order; a torn or corrupt tail is cut off and
  /// counted (torn_tails(), dropped_bytes()), never an error.
  Result<std::vector<std::string>> replay();
  /// Atomically replaces the whole log with the given records (a snapshot of
  /// the state): writes journal.log.tmp, fsyncs it, renames it over
  /// journal.log, fsyncs the directory. On error the old log is untouched.
  Result<void> compact(const std::vector<std::string>& snapshot);

  /// How many times a torn or corrupt tail was cut off since open (a warning count).
  [[nodiscard]] uint64_t torn_tails() const { return torn_tails_; }
  /// Bytes cut off in total since open.
  [[nodiscard]] uint64_t dropped_bytes() const { return dropped_bytes_; }
  /// dir/journal.log
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  Journal() = default;
  void close_fds() noexcept;
  // Reads the file, collects records if out != nullptr, and cuts a torn tail.
  Result<void> scan(std::vector<std::string>* out);

  std::filesystem::path dir_;
  std::filesystem::path path_;
  JournalOptions options_;
  int fd_ = -1;       // journal.log, O_APPEND
  int dir_fd_ = -1;   // holds the flock; fsync'd after renames
  uint64_t size_ = 0; // bytes of intact frames in the file
  bool broken_ = false;
  uint64_t torn_tails_ = 0;
  uint64_t dropped_bytes_ = 0;
  std::string frame_;  // reused buffer for append
};

}  // namespace troupe
