#pragma once
// TROUPE_SIMD_CLONES: compile a hot loop for AVX-512, AVX2+FMA and baseline
// x86-64 and pick one at load time (GCC function multi-versioning via ifunc),
// so one binary is fast on this machine and still runs on any x86-64.
// Loops under it are written branch-free so GCC's vectoriser takes them; the
// train_step benchmark measures the result against a scalar build of the same
// loop (docs/PERFORMANCE.md).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#define TROUPE_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TROUPE_SIMD_CLONES
#endif

/// Element count above which a CPU kernel splits its loop over the calling
/// thread's OpenMP team (below it the fork/join costs more than it saves).
#define TROUPE_OMP_MIN_ELEMENTS 65536
