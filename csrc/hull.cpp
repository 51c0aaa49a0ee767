// Batched lower hulls on the CPU: OpenMP over systems, one scratch buffer per thread, reused. The
// per-system work is in hullpack/hull_kernels.hpp, shared with the CUDA twin.
#include "hullpack/hull.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "hullpack/hull_kernels.hpp"
#include "parallel.hpp"

namespace hullpack::hull {

void hull_batch(const BatchInput& in, const BatchOutput& out, int n_threads) {
  const std::int64_t n_sys = in.n_sys;
  if (n_sys <= 0) return;
  std::int64_t n_max = 0;
  for (std::int64_t s = 0; s < n_sys; ++s) n_max = std::max(n_max, in.offsets[s + 1] - in.offsets[s]);
  const std::size_t words = (detail::scratch_bytes(in.order, n_max) + 7) / 8;
  const int threads = parallel::team_size(n_threads, n_sys / 8);  // small batches: not worth waking threads
  parallel::FirstError error;
#ifdef HULLPACK_WITH_OPENMP
#pragma omp parallel num_threads(threads)
#endif
  {
    std::vector<double> scratch;
    const bool ready = error.run([&] { scratch.resize(words + 1); });
#ifdef HULLPACK_WITH_OPENMP
#pragma omp for schedule(dynamic, 64)
#endif
    for (std::int64_t s = 0; s < n_sys; ++s)
      if (ready) detail::run_system(in, out, s, scratch.data());
  }
  error.rethrow();
}

}  // namespace hullpack::hull
