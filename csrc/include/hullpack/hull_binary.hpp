// The binary lower-hull kernel of one system (see hull_kernels.hpp for the shared rules).
//
// Binary: monotone chain over the points sorted by composition, from reference A (x = 0) to
// reference B (x = 1); a chain point is popped when it is not more than `tol` below the segment
// joining its chain neighbours.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hullpack/hull_detail.hpp"

namespace hullpack::hull::detail {

// Bytes of scratch binary_system needs for n points: x (8 n), order (4 n), chain (4 (n + 2)).
HULLPACK_HD inline std::size_t binary_scratch_bytes(i64 n) {
  return align8(8 * std::size_t(n) + 4 * std::size_t(n) + 4 * std::size_t(n + 2));
}

struct Binary {
  i32 n;
  const double* e;
  double* x;     // fraction of element B, n
  i32* order;    // candidates sorted by (x, e, index)
  i32* chain;    // hull vertices from reference A (id n) to reference B (id n + 1)
  i32 len;

  HULLPACK_HD double X(i32 v) const { return v < n ? x[v] : (v == n ? 0.0 : 1.0); }
  HULLPACK_HD double E(i32 v) const { return v < n ? e[v] : 0.0; }
  HULLPACK_HD bool before(i32 a, i32 b) const {
    if (x[a] != x[b]) return x[a] < x[b];
    if (e[a] != e[b]) return e[a] < e[b];
    return a < b;
  }
};

HULLPACK_HD inline void heap_sift(const Binary& w, i32* a, i32 root, i32 m) {
  for (;;) {
    i32 child = 2 * root + 1;
    if (child >= m) return;
    if (child + 1 < m && w.before(a[child], a[child + 1])) ++child;
    if (!w.before(a[root], a[child])) return;
    const i32 t = a[root]; a[root] = a[child]; a[child] = t;
    root = child;
  }
}

HULLPACK_HD inline void sort_candidates(const Binary& w, i32* a, i32 m) {
  bool sorted = true;  // grids arrive sorted: skip the sort then
  for (i32 i = 1; i < m && sorted; ++i) sorted = w.before(a[i - 1], a[i]);
  if (sorted) return;
  for (i32 i = m / 2 - 1; i >= 0; --i) heap_sift(w, a, i, m);
  for (i32 end = m - 1; end > 0; --end) {
    const i32 t = a[0]; a[0] = a[end]; a[end] = t;
    heap_sift(w, a, 0, end);
  }
}

HULLPACK_HD inline void binary_push(Binary& w, i32 c, double tol) {
  while (w.len >= 2) {
    const i32 a = w.chain[w.len - 2], b = w.chain[w.len - 1];
    const double xa = w.X(a), t = (w.X(b) - xa) / (w.X(c) - xa);
    const double on_segment = w.E(a) + t * (w.E(c) - w.E(a));
    if (w.E(b) < on_segment - tol) break;  // b stays strictly convex
    --w.len;
  }
  w.chain[w.len++] = c;
}

HULLPACK_HD inline void binary_system(const double* frac, const double* e, i32 n, double tol,
                                      void* scratch, SystemOut& out) {
  char* p = static_cast<char*>(scratch);
  Binary w;
  w.n = n;
  w.e = e;
  w.x = reinterpret_cast<double*>(p);
  w.order = reinterpret_cast<i32*>(p + 8 * std::size_t(n));
  w.chain = w.order + n;
  i32 m = 0;
  for (i32 i = 0; i < n; ++i) {
    const double a = frac[2 * i], b = frac[2 * i + 1];
    w.x[i] = b / (a + b);
    if (w.x[i] > kPure && w.x[i] < 1 - kPure) w.order[m++] = i;
  }
  sort_candidates(w, w.order, m);
  w.len = 0;
  w.chain[w.len++] = n;
  double last_x = -1;
  for (i32 k = 0; k < m; ++k) {
    const i32 c = w.order[k];
    if (w.x[c] - last_x <= kSame) continue;  // a duplicate composition, higher in energy
    last_x = w.x[c];
    binary_push(w, c, tol);
  }
  binary_push(w, n + 1, tol);

  for (i32 i = 0; i < n; ++i) out.is_vertex[i] = 0;
  for (i32 k = 1; k + 1 < w.len; ++k) out.is_vertex[w.chain[k]] = 1;
  out.n_vertices = w.len - 2;
  for (i32 i = 0; i < n; ++i) {
    const double xi = w.x[i];
    i32 lo = 0, hi = w.len - 1;  // the segment chain[lo], chain[lo + 1] holding xi
    while (hi - lo > 1) {
      const i32 mid = (lo + hi) / 2;
      if (w.X(w.chain[mid]) <= xi) lo = mid; else hi = mid;
    }
    const i32 a = w.chain[lo], b = w.chain[lo + 1];
    double t = (xi - w.X(a)) / (w.X(b) - w.X(a));
    t = t < 0 ? 0 : (t > 1 ? 1 : t);
    i32 ids[2] = {out_id(a, n), out_id(b, n)};
    double wt[2] = {1 - t, t};
    double ea;
    if (out.is_vertex[i]) {
      ea = 0;
      ids[0] = i;
      ids[1] = out_id(a == i ? b : a, n);
      wt[0] = 1;
      wt[1] = 0;
    } else {
      ea = e[i] - (wt[0] * w.E(a) + wt[1] * w.E(b));
      const bool pure = !(xi > kPure && xi < 1 - kPure);
      if (!pure && ea < 0) ea = 0;  // within tol below the hull: on it
    }
    out.e_above_hull[i] = ea;
    if (out.decomp_index) write_decomp<2>(ids, wt, out.decomp_index + 2 * i, out.decomp_weight + 2 * i);
  }
  out.n_facets = w.len - 1;
  if (out.facets)
    for (i32 k = 0; k + 1 < w.len; ++k) {
      out.facets[2 * k] = out_id(w.chain[k], n);
      out.facets[2 * k + 1] = out_id(w.chain[k + 1], n);
    }
}

}  // namespace hullpack::hull::detail
