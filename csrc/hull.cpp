// Batched lower hulls on the CPU: OpenMP over systems, one work space per thread, reused. Binaries
// and ternaries run the per-system kernels of hullpack/hull_kernels.hpp (shared with the CUDA twin);
// order 4 and above, and the vertex depths of every order, the N-dimensional kernel of the
// stability core (stability::PointHull).
#include "hullpack/hull.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "hullpack/hull_kernels.hpp"
#include "hullpack/stability.hpp"
#include "parallel.hpp"

namespace hullpack::hull {

namespace {

// f(s, work) for every system, OpenMP over systems with one PointHull per thread; an exception
// (std::bad_alloc while a work space grows) stops the thread's share and is rethrown afterwards.
template <typename F>
void each_system(std::int64_t n_sys, int n_threads, F&& f) {
  const int threads = parallel::team_size(n_threads, n_sys);
  parallel::FirstError error;
#ifdef HULLPACK_WITH_OPENMP
#pragma omp parallel num_threads(threads)
#endif
  {
    stability::PointHull work;
    bool ok = true;
#ifdef HULLPACK_WITH_OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
    for (std::int64_t s = 0; s < n_sys; ++s)
      if (ok) ok = error.run([&] { f(s, work); });
  }
  error.rethrow();
}

void general_batch(const BatchInput& in, const BatchOutput& out, int n_threads) {
  each_system(in.n_sys, n_threads, [&](std::int64_t s, stability::PointHull& work) {
    const std::int64_t first = in.offsets[s], n = in.offsets[s + 1] - first;
    detail::SystemOut so = detail::system_out(in, out, s);
    const double* e = in.energies + first;
    const bool finite = detail::finite_or_filled(e, static_cast<detail::i32>(n), in.order, so);
    bool converged = true;
    if (finite && n > 0) {
      stability::PointHullOutput po;
      po.e_above_hull = so.e_above_hull;
      po.is_vertex = so.is_vertex;
      po.decomp_index = so.decomp_index;
      po.decomp_weight = so.decomp_weight;
      work.run(in.order, n, detail::system_fractions(in, s), e, in.tol, po);
      so.n_vertices = po.n_vertices;
      converged = po.converged;
    }
    out.status[s] = !finite ? 1 : converged ? 0 : 2;
    out.n_vertices[s] = so.n_vertices;
    if (out.n_facets) out.n_facets[s] = 0;
  });
}

}  // namespace

void hull_batch(const BatchInput& in, const BatchOutput& out, int n_threads) {
  const std::int64_t n_sys = in.n_sys;
  if (n_sys <= 0) return;
  if (in.order > 3 || in.general) {
    general_batch(in, out, n_threads);
    return;
  }
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

void vertex_depths(const BatchInput& in, const std::uint8_t* is_vertex, const std::uint8_t* status, double* depth,
                   int n_threads) {
  each_system(in.n_sys, n_threads, [&](std::int64_t s, stability::PointHull& work) {
    const std::int64_t first = in.offsets[s], n = in.offsets[s + 1] - first;
    if (status[s] != 0) {
      std::fill(depth + first, depth + first + n, std::numeric_limits<double>::quiet_NaN());
      return;
    }
    work.vertex_depths(in.order, n, detail::system_fractions(in, s), in.energies + first, is_vertex + first, depth + first);
  });
}

}  // namespace hullpack::hull
