// OpenMP helpers of the CPU kernels (internal to the core): how many threads a region gets, which
// one is running, and how an exception thrown inside a region reaches the caller.
//
// An exception must never leave an OpenMP region: the runtime ends the process. Each thread of a
// region allocates its own scratch (from its own heap arena, in its own cache lines) inside
// FirstError::run, which catches what the allocation throws (std::bad_alloc); the thread then
// skips its share of the work, and FirstError::rethrow after the region raises the first such
// exception in the caller's thread, where the bindings turn it into MemoryError.
//
//   parallel::FirstError error;
//   #pragma omp parallel num_threads(threads)
//   {
//     std::vector<float> scratch;
//     const bool ready = error.run([&] { scratch.resize(n); });
//     #pragma omp for
//     for (i64 i = 0; i < count; ++i) if (ready) work(i, scratch.data());
//   }
//   error.rethrow();
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>

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

// The first exception thrown by any thread of a region, kept to be rethrown after it.
class FirstError {
 public:
  // Runs f() and returns true, or keeps what it threw (if it is the first) and returns false.
  template <typename F>
  bool run(F&& f) noexcept {
    try {
      f();
      return true;
    } catch (...) {
      keep(std::current_exception());
      return false;
    }
  }

  // Rethrows the kept exception, if any; call after the region, in the caller's thread.
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void keep(std::exception_ptr e) noexcept {
#ifdef HULLPACK_WITH_OPENMP
#pragma omp critical(hullpack_parallel_first_error)
#endif
    {
      if (!error_) error_ = e;
    }
  }

  std::exception_ptr error_;
};

}  // namespace hullpack::parallel
