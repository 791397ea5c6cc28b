#pragma once
// Reading a whole data file, gzip or plain, into memory.
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/error.hpp"

namespace troupe::dataset {

/// The bytes of the file at path, decompressed when it is gzip (detected by
/// its magic bytes, not its name). Errors (io_error) name the path: a missing
/// or unreadable file, a corrupt or truncated gzip stream. Thread-safe.
Result<std::vector<uint8_t>> read_file_bytes(const std::string& path);

}  // namespace troupe::dataset
