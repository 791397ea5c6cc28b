#pragma once
// What a worker accepts from a caller before it builds a path or loads code
// (docs/LIMITS.md, "Least privilege"): even a peer allowed to talk to the
// worker must not make it load a library from anywhere, or write a log file
// outside its log folder.
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.hpp"

namespace troupe {

/// Longest actor name accepted (bytes); it becomes part of a file name.
inline constexpr std::size_t kMaxActorNameBytes = 200;

/// invalid_argument unless `name` is empty (anonymous) or made only of
/// letters, digits and `. _ - : @ +`, does not start with `.`, and is at most
/// kMaxActorNameBytes long: no `/`, no `..`, no control characters, so a file
/// name built from it stays in its folder. The message names the name and the
/// rule. Thread-safe.
Result<void> check_actor_name(std::string_view name);

/// `text` with every character outside the actor-name set replaced by `_`
/// (for class names such as `troupe::train::Trainer<float>` in file names),
/// clipped to kMaxActorNameBytes; never empty, never starts with `.`. Thread-safe.
std::string file_safe(std::string_view text);

/// The folders a worker loads code from when started without
/// --code-path-allow: the build's and the install's library folders.
std::vector<std::string> default_code_path_allow();

/// The real path of `path` (symbolic links and `..` resolved), when it is a
/// regular file inside one of `allowed` (each also resolved); else
/// invalid_argument naming the path and the allowed folders (or io_error when
/// it does not exist). Nothing is opened but the folders' entries. Thread-safe.
Result<std::string> check_code_path(const std::string& path, const std::vector<std::string>& allowed);

}  // namespace troupe
