// OpenMP helpers of the CPU kernels (internal to the core): how many threads a region gets, and
// which one is running. Without OpenMP every region is one thread.
//
// The kernels allocate each thread's scratch before a parallel region, sized by team_size(), and
// pick their slice with thread_id() inside it: an exception (std::bad_alloc) must never leave a
// region, where it would end the process; before the region it reaches the caller.
#pragma once

#include <algorithm>
#include <cstdint>

#ifdef HULLPACK_WITH_OPENMP
#include <omp.h>
#endif

namespace hullpack::parallel {

// Threads for a region: `requested` (<= 0: the OpenMP default), at most `most`, at least 1.
inline int team_size(int requested, std::int64_t most) {
#ifdef HULLPACK_WITH_OPENMP
  if (requested <= 0) requested = omp_get_max_threads();
  return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(requested, most)));
#else
  (void)requested, (void)most;
  return 1;
#endif
}

// The running thread's number in its region, 0..team_size - 1.
inline int thread_id() {
#ifdef HULLPACK_WITH_OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

}  // namespace hullpack::parallel
