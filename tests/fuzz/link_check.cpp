// Configure-time check (tests/fuzz/meson.build): does -fsanitize=fuzzer link?
#include <cstddef>
#include <cstdint>
extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, std::size_t) { return 0; }
