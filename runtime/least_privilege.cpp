#include "runtime/least_privilege.hpp"

#include <algorithm>
#include <filesystem>

namespace troupe {

namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-' || c == ':' || c == '@' || c == '+';
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "(none)" : s;
}

}  // namespace

Result<void> check_actor_name(std::string_view name) {
  const std::string rule = "letters, digits and . _ - : @ +, not starting with '.', at most " +
                           std::to_string(kMaxActorNameBytes) + " bytes";
  if (name.size() > kMaxActorNameBytes)
    return Error(Errc::invalid_argument,
                 "actor name of " + std::to_string(name.size()) + " bytes is too long (allowed: " + rule + ")");
  for (char c : name)
    if (!name_char(c)) {
      std::string shown;
      for (char x : name.substr(0, 64)) shown += (x >= 0x20 && x < 0x7f) ? x : '?';
      return Error(Errc::invalid_argument, "actor name '" + shown + "' has a character that is not allowed (allowed: " +
                                               rule + ")");
    }
  if (!name.empty() && name.front() == '.')
    return Error(Errc::invalid_argument, "actor name '" + std::string(name) + "' starts with '.' (allowed: " + rule + ")");
  return {};
}

std::string file_safe(std::string_view text) {
  std::string s;
  for (char c : text.substr(0, kMaxActorNameBytes)) s += name_char(c) ? c : '_';
  if (s.empty() || s.front() == '.') s.insert(s.begin(), '_');
  return s;
}

std::vector<std::string> default_code_path_allow() {
  std::vector<std::string> dirs;
#ifdef TROUPE_BUILD_DIR
  dirs.emplace_back(TROUPE_BUILD_DIR);
#endif
#ifdef TROUPE_INSTALL_LIBDIR
  dirs.emplace_back(TROUPE_INSTALL_LIBDIR);
#endif
  return dirs;
}

Result<std::string> check_code_path(const std::string& path, const std::vector<std::string>& allowed) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (path.empty()) return Error(Errc::invalid_argument, "empty code path");
  // The real path decides, not the text: a link inside an allowed folder may point anywhere.
  const fs::path real = fs::canonical(path, ec);
  if (ec) return Error(Errc::io_error, "code path " + path + ": " + ec.message());
  if (!fs::is_regular_file(real, ec))
    return Error(Errc::invalid_argument, "code path " + path + " is not a regular file");
  for (const auto& dir : allowed) {
    const fs::path d = fs::canonical(dir, ec);
    if (ec) continue;
    // Inside: the folder's components are a prefix of the file's.
    auto [d_end, r_it] = std::mismatch(d.begin(), d.end(), real.begin(), real.end());
    if (d_end == d.end()) return real.string();
  }
  return Error(Errc::invalid_argument, "code path " + path + " (real path " + real.string() +
                                           ") is outside the folders this worker loads code from: " + joined(allowed) +
                                           " (troupe worker --code-path-allow DIR)");
}

}  // namespace troupe
