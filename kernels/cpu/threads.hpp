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

}  // namespace troupe::kernels::cpu
