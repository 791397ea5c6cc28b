#pragma once
// How much more memory this process may take, so that a size read from a
// file or a config is checked before it is allocated (docs/LIMITS.md,
// "Caps") instead of ending in std::bad_alloc or the OOM killer.
#include <cstdint>

namespace troupe {

/// Bytes this process can still map: the machine's physical memory, and
/// under an address-space limit (`ulimit -v`, RLIMIT_AS) what is left of it
/// beside what is mapped now. A bound, not a promise (other processes use
/// memory too). Thread-safe.
uint64_t memory_budget_bytes();

}  // namespace troupe
