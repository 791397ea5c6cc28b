#pragma once
// Thread count of the CPU backend. oneDNN and the elementwise loops use
// OpenMP; OpenMP's thread count is a per-thread setting, so each thread that
// runs kernels chooses its own (a trainer sets it once at start).

namespace troupe::kernels::cpu {

/// Sets the number of OpenMP threads that CPU kernels called from THIS thread
/// use (n >= 1). Thread-safe: affects only the calling thread.
void set_num_threads(int n);

/// The number of threads CPU kernels called from this thread will use.
int num_threads();

/// Flush-to-zero and denormals-are-zero (MXCSR 0x8040) for the calling
/// thread and every thread it starts afterwards (Linux copies the creating
/// thread's MXCSR into a new thread): call it first in main(), before any
/// thread exists. Why: Adam's moments decay through subnormal floats, which
/// cost ~100 cycles each on some CPUs (the aggregator's step took twice as
/// long on an Intel host); results differ only below 1.2e-38. A no-op off x86.
void flush_denormals();

/// True when this thread flushes denormals (both MXCSR bits set).
bool flushes_denormals();

}  // namespace troupe::kernels::cpu
