#include "runtime/memory_budget.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace troupe {

uint64_t memory_budget_bytes() {
  const long page = sysconf(_SC_PAGESIZE);
  const long pages = sysconf(_SC_PHYS_PAGES);
  uint64_t budget = page > 0 && pages > 0 ? static_cast<uint64_t>(page) * static_cast<uint64_t>(pages) : UINT64_MAX;
  rlimit as{};
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    uint64_t mapped = 0;  // /proc/self/statm: the first field is the mapped size in pages
    if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
      unsigned long long size_pages = 0;
      if (std::fscanf(f, "%llu", &size_pages) == 1) mapped = size_pages * static_cast<uint64_t>(std::max(page, 1L));
      std::fclose(f);
    }
    const uint64_t limit = static_cast<uint64_t>(as.rlim_cur);
    budget = std::min(budget, limit > mapped ? limit - mapped : 0);
  }
  return budget;
}

}  // namespace troupe
