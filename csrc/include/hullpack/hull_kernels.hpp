// Per-system lower-hull kernels shared by the CPU batch (hull.cpp) and its CUDA twin (cuda/hull.cu):
// plain functions over caller-provided scratch memory, with no allocation, exceptions or standard
// library calls, so that one source compiles for host and device and both give the same answers.
//
// The binary kernel is in hull_binary.hpp, the ternary one in hull_ternary.hpp, their shared
// pieces in hull_detail.hpp; this header runs one system of a batch.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hullpack/hull.hpp"
#include "hullpack/hull_binary.hpp"
#include "hullpack/hull_detail.hpp"
#include "hullpack/hull_ternary.hpp"

namespace hullpack::hull::detail {

// Bytes of scratch one system of n points needs.
HULLPACK_HD inline std::size_t scratch_bytes(int order, i64 n) {
  return order == 2 ? binary_scratch_bytes(n) : ternary_scratch_bytes(n);
}

// The fractions of system s of a batch: the shared grid, or its own rows.
HULLPACK_HD inline const double* system_fractions(const BatchInput& in, i64 s) {
  return in.fractions + (in.shared_grid ? 0 : in.offsets[s] * in.order);
}

// The outputs of system s of a batch (facets only for orders 2 and 3).
HULLPACK_HD inline SystemOut system_out(const BatchInput& in, const BatchOutput& out, i64 s) {
  const i64 first = in.offsets[s];
  const int k = in.order;
  SystemOut so;
  so.e_above_hull = out.e_above_hull + first;
  so.is_vertex = out.is_vertex + first;
  so.decomp_index = out.decomp_index ? out.decomp_index + first * k : nullptr;
  so.decomp_weight = out.decomp_weight ? out.decomp_weight + first * k : nullptr;
  so.facets = out.facets && k <= 3 ? out.facets + facet_slot(k, first, s) : nullptr;
  so.n_facets = 0;
  so.n_vertices = 0;
  return so;
}

// Whether the n energies e of a system are finite; if not, fills its outputs as not computed
// (energies above hull and weights NaN, no vertex, ids -1 - j).
HULLPACK_HD inline bool finite_or_filled(const double* e, i32 n, int k, SystemOut& so) {
  i32 bad = 0;
  while (bad < n && is_finite(e[bad])) ++bad;
  if (bad == n) return true;
  const double nan = e[bad] - e[bad];  // inf - inf and NaN - NaN are NaN
  for (i32 i = 0; i < n; ++i) {
    so.e_above_hull[i] = nan;
    so.is_vertex[i] = 0;
    if (so.decomp_index)
      for (int j = 0; j < k; ++j) {
        so.decomp_index[k * i + j] = -1 - j;
        so.decomp_weight[k * i + j] = nan;
      }
  }
  return false;
}

// One system of order 2 or 3 with the dedicated kernels.
HULLPACK_HD inline void run_system(const BatchInput& in, const BatchOutput& out, i64 s, void* scratch) {
  const i64 first = in.offsets[s];
  const i32 n = static_cast<i32>(in.offsets[s + 1] - first);
  const int k = in.order;
  const double* frac = system_fractions(in, s);
  const double* e = in.energies + first;
  SystemOut so = system_out(in, out, s);
  const bool finite = finite_or_filled(e, n, k, so);
  if (finite && n > 0) {
    if (k == 2) binary_system(frac, e, n, in.tol, scratch, so);
    else ternary_system(frac, e, n, in.tol, scratch, so);
  }
  out.status[s] = finite ? 0 : 1;
  out.n_vertices[s] = so.n_vertices;
  if (out.n_facets) out.n_facets[s] = so.n_facets;
}

}  // namespace hullpack::hull::detail
