#include "runtime/registry.hpp"

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace troupe {

const ClassInfo::Method* ClassInfo::method(std::string_view n) const {
  for (const auto& m : methods)
    if (m.name == n) return &m;
  return nullptr;
}

std::string ClassInfo::method_list() const {
  std::string s;
  for (const auto& m : methods) s += (s.empty() ? "" : ", ") + m.name;
  return s;
}

Registry& Registry::instance() {
  static Registry r;
  return r;
}

void Registry::add(ClassInfo info) {
  std::lock_guard lock(mutex_);
  for (auto& c : classes_) {
    if (c->name == info.name) {
      // The same class from two libraries (driver and plugin built from one
      // source): keep the first; the names and methods are the same.
      return;
    }
  }
  classes_.push_back(std::make_unique<ClassInfo>(std::move(info)));
}

const ClassInfo* Registry::find(std::string_view name) const {
  std::lock_guard lock(mutex_);
  for (auto& c : classes_)
    if (c->name == name) return c.get();
  return nullptr;
}

const ClassInfo* Registry::find(std::type_index type) const {
  std::lock_guard lock(mutex_);
  for (auto& c : classes_)
    if (c->type == type) return c.get();
  return nullptr;
}

std::vector<std::string> Registry::names() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (auto& c : classes_) out.push_back(c->name);
  return out;
}

std::string detail::library_of(const void* anchor) {
  Dl_info info{};
  if (dladdr(anchor, &info) == 0 || info.dli_fname == nullptr) return {};
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  auto path = std::filesystem::weakly_canonical(info.dli_fname, ec);
  if (ec || path == self) return {};
  // troupe's own actors live in libtroupe, which every actor process has.
  Dl_info mine{};
  if (dladdr(reinterpret_cast<const void*>(&library_of), &mine) != 0 && mine.dli_fname != nullptr &&
      std::filesystem::weakly_canonical(mine.dli_fname, ec) == path)
    return {};
  // Only shared objects can be loaded by an actor process.
  if (path.string().find(".so") == std::string::npos) return {};
  return path.string();
}

}  // namespace troupe
