// The ternary lower-hull kernel of one system (see hull_kernels.hpp for the shared rules).
//
// Ternary: the lower hull projected on the composition triangle is a regular triangulation. It is
// built incrementally from the triangle of the three references, always inserting the point that
// lies deepest below the current hull (ties: smallest composition, then smallest index). The
// deepest point is a vertex of the final hull (the hull is convex, so a convex combination of
// points is never deeper than the deepest of them), so no inserted vertex is ever removed again
// and 2-2 edge flips (Lawson) restore convexity after each insertion. Every point tracks the
// triangle under it; only points under triangles changed by an insertion are relocated. Depths only
// shrink as points are inserted, so a point within `tol` of the hull is dropped for good. Last, a
// vertex found within `tol` of the plane of its neighbours or of a segment between two of them (a
// rounding-level tie) is excluded and the hull rebuilt, so vertices are exactly the extreme points.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hullpack/hull_detail.hpp"

namespace hullpack::hull::detail {

// Bytes of scratch ternary_system needs for n points: the arrays ternary_carve lays out.
HULLPACK_HD inline std::size_t ternary_scratch_bytes(i64 n) {
  const std::size_t T = 2 * std::size_t(n) + 1, S = 4 * T + 8;
  return align8(8 * (3 * std::size_t(n + 3) + std::size_t(n)) +
                4 * (6 * T + 4 * T + 2 * std::size_t(n) + S + std::size_t(n + 1) + 6 * T + std::size_t(n)) +
                std::size_t(n));
}

// Points 0..n-1 are the system's, n..n+2 the references of elements 0, 1, 2 at composition
// coordinates (x, y) = (fraction of element 1, fraction of element 2): (0,0), (1,0), (0,1).
// Triangle t has counter-clockwise vertices tv[3t..3t+2]; tn[3t+k] is the triangle across the edge
// opposite vertex k (-1 on the border of the composition triangle). Every point that is not a
// vertex is in the list of the triangle under it (head[t], nxt[i]); tbest[t] is the deepest
// candidate of that list.
struct Ternary {
  i32 n, nt, tcap, scap, round, ntouched, nstack;
  double tol, flip_tol;
  double *x, *y, *e, *depth;
  i32 *tv, *tn, *stamp, *touched, *head, *tbest, *tri_of, *nxt, *stack, *nbr_off, *nbrs, *inc;
  u8* state;

  HULLPACK_HD void bary(i32 t, double qx, double qy, double* l) const {
    const i32 a = tv[3 * t], b = tv[3 * t + 1], c = tv[3 * t + 2];
    const double d = orient(x[a], y[a], x[b], y[b], x[c], y[c]);
    l[0] = orient(qx, qy, x[b], y[b], x[c], y[c]) / d;
    l[1] = orient(x[a], y[a], qx, qy, x[c], y[c]) / d;
    l[2] = orient(x[a], y[a], x[b], y[b], qx, qy) / d;
  }
  HULLPACK_HD double surface(i32 t, const double* l) const {
    return l[0] * e[tv[3 * t]] + l[1] * e[tv[3 * t + 1]] + l[2] * e[tv[3 * t + 2]];
  }
  HULLPACK_HD void touch(i32 t) {
    if (stamp[t] != round) {
      stamp[t] = round;
      touched[ntouched++] = t;
    }
  }
  HULLPACK_HD void push(i32 t) {
    if (nstack < scap) stack[nstack++] = t;
  }
  HULLPACK_HD void relink(i32 t, i32 from, i32 to) {
    if (t < 0) return;
    for (int k = 0; k < 3; ++k)
      if (tn[3 * t + k] == from) tn[3 * t + k] = to;
  }
  HULLPACK_HD void set(i32 t, i32 a, i32 b, i32 c, i32 na, i32 nb, i32 nc) {
    tv[3 * t] = a; tv[3 * t + 1] = b; tv[3 * t + 2] = c;
    tn[3 * t] = na; tn[3 * t + 1] = nb; tn[3 * t + 2] = nc;
  }
  HULLPACK_HD void add(i32 t, i32 q) {
    nxt[q] = head[t];
    head[t] = q;
  }
  // Deeper first; ties: smaller composition, then smaller index.
  HULLPACK_HD bool deeper(i32 i, i32 j) const {
    if (j < 0) return true;
    if (i < 0) return false;
    if (depth[i] != depth[j]) return depth[i] > depth[j];
    if (x[i] != x[j]) return x[i] < x[j];
    if (y[i] != y[j]) return y[i] < y[j];
    return i < j;
  }
  // Hands the points of `list` (except vertex `skip`) to whichever of the m <= 3 triangles `cand`
  // they lie in best (largest smallest barycentric coordinate).
  HULLPACK_HD void distribute(i32 list, i32 skip, const i32* cand, int m) {
    double inv[3];
    for (int c = 0; c < m; ++c) {
      const i32* v = tv + 3 * cand[c];
      inv[c] = 1.0 / orient(x[v[0]], y[v[0]], x[v[1]], y[v[1]], x[v[2]], y[v[2]]);
    }
    while (list >= 0) {
      const i32 q = list;
      list = nxt[q];
      if (q == skip) continue;
      double best = -1e300;
      i32 to = cand[0];
      for (int c = 0; c < m; ++c) {
        const i32* v = tv + 3 * cand[c];
        const double l0 = orient(x[q], y[q], x[v[1]], y[v[1]], x[v[2]], y[v[2]]);
        const double l1 = orient(x[v[0]], y[v[0]], x[q], y[q], x[v[2]], y[v[2]]);
        const double l2 = orient(x[v[0]], y[v[0]], x[v[1]], y[v[1]], x[q], y[q]);
        const double lo = (l0 < l1 ? (l0 < l2 ? l0 : l2) : (l1 < l2 ? l1 : l2)) * inv[c];
        if (lo > best) {
          best = lo;
          to = cand[c];
        }
      }
      add(to, q);
    }
  }
  // Hands the points of `list` (except `skip`) to `left` or `right` of the line a -> b.
  HULLPACK_HD void split_by_line(i32 list, i32 skip, i32 a, i32 b, i32 left, i32 right) {
    while (list >= 0) {
      const i32 q = list;
      list = nxt[q];
      if (q == skip) continue;
      add(orient(x[a], y[a], x[b], y[b], x[q], y[q]) > 0 ? left : right, q);
    }
  }
  // Hands the points of triangle (a, b, c) split at p into (p, b, c), (a, p, c), (a, b, p) = cand
  // to the wedge between the rays from p they lie in; rounding leftovers go by barycentric test.
  HULLPACK_HD void split_by_rays(i32 list, i32 p, i32 a, i32 b, i32 c, const i32* cand) {
    while (list >= 0) {
      const i32 q = list;
      list = nxt[q];
      if (q == p) continue;
      const double oa = orient(x[p], y[p], x[a], y[a], x[q], y[q]);
      const double ob = orient(x[p], y[p], x[b], y[b], x[q], y[q]);
      const double oc = orient(x[p], y[p], x[c], y[c], x[q], y[q]);
      if (ob >= 0 && oc <= 0) add(cand[0], q);
      else if (oc >= 0 && oa <= 0) add(cand[1], q);
      else if (oa >= 0 && ob <= 0) add(cand[2], q);
      else {
        nxt[q] = -1;
        distribute(q, -1, cand, 3);
      }
    }
  }
};

HULLPACK_HD inline void ternary_carve(Ternary& w, void* scratch, i32 n) {
  char* p = static_cast<char*>(scratch);
  w.n = n;
  w.tcap = 2 * n + 1;
  w.scap = 4 * w.tcap + 8;
  auto take_d = [&p](std::size_t count) { double* r = reinterpret_cast<double*>(p); p += 8 * count; return r; };
  w.x = take_d(n + 3);
  w.y = take_d(n + 3);
  w.e = take_d(n + 3);
  w.depth = take_d(n);
  auto take_i = [&p](std::size_t count) { i32* r = reinterpret_cast<i32*>(p); p += 4 * count; return r; };
  w.tv = take_i(3 * std::size_t(w.tcap));
  w.tn = take_i(3 * std::size_t(w.tcap));
  w.stamp = take_i(w.tcap);
  w.touched = take_i(w.tcap);
  w.head = take_i(w.tcap);
  w.tbest = take_i(w.tcap);
  w.tri_of = take_i(n);
  w.nxt = take_i(n);
  w.stack = take_i(w.scap);
  w.nbr_off = take_i(n + 1);
  w.nbrs = take_i(6 * std::size_t(w.tcap));
  w.inc = take_i(n);
  w.state = reinterpret_cast<u8*>(p);
}

// Flips the edge of t opposite p (t contains p) when the quadrilateral it splits is convex and the
// hull is more than flip_tol lower over the other diagonal.
HULLPACK_HD inline void ternary_try_flip(Ternary& w, i32 t, i32 p) {
  int k = 0;
  while (k < 3 && w.tv[3 * t + k] != p) ++k;
  if (k == 3) return;
  const i32 xv = w.tv[3 * t + (k + 1) % 3], yv = w.tv[3 * t + (k + 2) % 3];
  const i32 nb = w.tn[3 * t + k];
  if (nb < 0) return;
  int j = 0;
  while (j < 3 && w.tn[3 * nb + j] != t) ++j;
  if (j == 3) return;
  const i32 d = w.tv[3 * nb + j];  // nb = (d, yv, xv)
  const double* X = w.x;
  const double* Y = w.y;
  if (!(orient(X[p], Y[p], X[xv], Y[xv], X[d], Y[d]) > kStraight &&
        orient(X[p], Y[p], X[d], Y[d], X[yv], Y[yv]) > kStraight))
    return;  // not convex: the other diagonal would leave the quadrilateral
  // Heights of the two diagonals (xv, yv) and (p, d) where their projections cross.
  const double rx = X[yv] - X[xv], ry = Y[yv] - Y[xv], sx = X[d] - X[p], sy = Y[d] - Y[p];
  const double wx = X[p] - X[xv], wy = Y[p] - Y[xv];
  const double den = rx * sy - ry * sx;
  if (den == 0) return;
  const double tp = (wx * sy - wy * sx) / den, up = (wx * ry - wy * rx) / den;
  const double gap = (w.e[xv] + tp * (w.e[yv] - w.e[xv])) - (w.e[p] + up * (w.e[d] - w.e[p]));
  if (!(gap > w.flip_tol)) return;
  const i32 a_px = w.tn[3 * t + (k + 2) % 3], a_yp = w.tn[3 * t + (k + 1) % 3];
  const i32 b_xd = w.tn[3 * nb + (j + 1) % 3], b_dy = w.tn[3 * nb + (j + 2) % 3];
  w.set(t, p, xv, d, b_xd, nb, a_px);
  w.set(nb, p, d, yv, b_dy, a_yp, t);
  w.relink(b_xd, nb, t);
  w.relink(a_yp, t, nb);
  // the points of both triangles split by the new diagonal p-d: (p, xv, d) lies to its right
  i32 list = w.head[t];
  w.head[t] = -1;
  i32 other = w.head[nb];
  w.head[nb] = -1;
  for (int pass = 0; pass < 2; ++pass) {
    while (list >= 0) {
      const i32 q = list;
      list = w.nxt[q];
      w.add(orient(X[p], Y[p], X[d], Y[d], X[q], Y[q]) <= 0 ? t : nb, q);
    }
    list = other;
  }
  w.touch(t);
  w.touch(nb);
  w.push(t);
  w.push(nb);
}

// Inserts point p into the triangle under it and flips until the hull is convex again.
HULLPACK_HD inline bool ternary_insert(Ternary& w, i32 p) {
  const i32 t = w.tri_of[p];
  double l[3];
  w.bary(t, w.x[p], w.y[p], l);
  int im = 0;
  for (int k = 1; k < 3; ++k)
    if (l[k] < l[im]) im = k;
  int close = 0;
  for (int k = 0; k < 3; ++k) close += l[k] < kOnEdge;
  if (close >= 2) {  // on an existing vertex: cannot be deeper than it (defensive)
    w.state[p] = kAbove;
    return false;
  }
  ++w.round;
  w.ntouched = 0;
  w.nstack = 0;
  w.state[p] = kVertex;
  if (close == 1) {  // on the edge opposite vertex im: split both triangles sharing it
    const i32 a = w.tv[3 * t + im], b = w.tv[3 * t + (im + 1) % 3], c = w.tv[3 * t + (im + 2) % 3];
    const i32 u = w.tn[3 * t + im], nb_b = w.tn[3 * t + (im + 1) % 3], nb_c = w.tn[3 * t + (im + 2) % 3];
    const i32 s1 = w.nt++;
    i32 s2 = -1;
    if (u >= 0) s2 = w.nt++;
    w.set(t, a, b, p, u, s1, nb_c);
    w.set(s1, a, p, c, s2, nb_b, t);
    w.relink(nb_b, t, s1);
    i32 list = w.head[t];
    w.head[t] = -1;
    w.head[s1] = -1;
    w.split_by_line(list, p, a, p, s1, t);
    w.touch(t);
    w.touch(s1);
    w.push(t);
    w.push(s1);
    if (u >= 0) {
      int j = 0;
      while (j < 3 && w.tn[3 * u + j] != t) ++j;
      const i32 d = w.tv[3 * u + j];  // u = (d, c, b)
      const i32 nu_bd = w.tn[3 * u + (j + 1) % 3], nu_dc = w.tn[3 * u + (j + 2) % 3];
      w.set(u, p, b, d, nu_bd, s2, t);
      w.set(s2, c, p, d, u, nu_dc, s1);
      w.relink(nu_dc, u, s2);
      list = w.head[u];
      w.head[u] = -1;
      w.head[s2] = -1;
      w.split_by_line(list, p, d, p, u, s2);  // (p, b, d) holds b, left of d -> p
      w.touch(u);
      w.touch(s2);
      w.push(u);
      w.push(s2);
    }
  } else {  // inside: split into three
    const i32 a = w.tv[3 * t], b = w.tv[3 * t + 1], c = w.tv[3 * t + 2];
    const i32 na = w.tn[3 * t], nb = w.tn[3 * t + 1], nc = w.tn[3 * t + 2];
    const i32 s1 = w.nt++, s2 = w.nt++;
    w.set(t, p, b, c, na, s1, s2);
    w.set(s1, a, p, c, t, nb, s2);
    w.set(s2, a, b, p, t, s1, nc);
    w.relink(nb, t, s1);
    w.relink(nc, t, s2);
    const i32 cand[3] = {t, s1, s2};
    const i32 list = w.head[t];
    w.head[t] = w.head[s1] = w.head[s2] = -1;
    w.split_by_rays(list, p, a, b, c, cand);
    w.touch(t);
    w.touch(s1);
    w.touch(s2);
    w.push(t);
    w.push(s1);
    w.push(s2);
  }
  i32 budget = 16 * w.tcap;  // termination guard; each flip lowers the hull by > flip_tol anyway
  while (w.nstack > 0 && budget-- > 0) ternary_try_flip(w, w.stack[--w.nstack], p);
  return true;
}

// New depths and deepest candidates of the triangles an insertion changed. The hull over t is the
// plane E = e_a + gx (x - x_a) + gy (y - y_a) through its vertices.
HULLPACK_HD inline void ternary_refresh(Ternary& w) {
  for (i32 k = 0; k < w.ntouched; ++k) {
    const i32 t = w.touched[k];
    const i32 a = w.tv[3 * t], b = w.tv[3 * t + 1], c = w.tv[3 * t + 2];
    const double bx = w.x[b] - w.x[a], by = w.y[b] - w.y[a], cx = w.x[c] - w.x[a], cy = w.y[c] - w.y[a];
    const double eb = w.e[b] - w.e[a], ec = w.e[c] - w.e[a];
    const double inv = 1.0 / (bx * cy - by * cx);
    const double gx = (eb * cy - ec * by) * inv, gy = (ec * bx - eb * cx) * inv;
    const double xa = w.x[a], ya = w.y[a], ea = w.e[a];
    i32 best = -1;
    for (i32 q = w.head[t]; q >= 0; q = w.nxt[q]) {
      w.tri_of[q] = t;
      if (w.state[q] != kPending) continue;
      w.depth[q] = ea + gx * (w.x[q] - xa) + gy * (w.y[q] - ya) - w.e[q];
      if (!(w.depth[q] > w.tol)) {
        w.state[q] = kAbove;  // depths only shrink: never a candidate again
        continue;
      }
      if (w.deeper(q, best)) best = q;
    }
    w.tbest[t] = best;
  }
}

HULLPACK_HD inline void ternary_build(Ternary& w) {
  const i32 n = w.n;
  w.nt = 1;
  w.round = 0;
  w.set(0, n, n + 1, n + 2, -1, -1, -1);
  w.head[0] = -1;
  for (i32 i = n - 1; i >= 0; --i) {
    w.tri_of[i] = 0;
    w.add(0, i);
    if (w.state[i] == kExcluded || w.state[i] == kPureElement) continue;
    w.depth[i] = -w.e[i];  // the references' plane is E = 0
    w.state[i] = kPending;
  }
  w.ntouched = 0;
  w.stamp[0] = -1;
  w.touch(0);
  ternary_refresh(w);
  for (;;) {
    i32 best = -1;
    for (i32 t = 0; t < w.nt; ++t)
      if (w.deeper(w.tbest[t], best)) best = w.tbest[t];
    if (best < 0) break;
    if (ternary_insert(w, best)) {
      ternary_refresh(w);
    } else {
      w.ntouched = 0;  // p is no candidate any more: refresh its triangle only
      w.stamp[w.tri_of[best]] = -1;
      w.touch(w.tri_of[best]);
      ternary_refresh(w);
    }
  }
}

// Excludes vertices within tol of the plane of their neighbours (all incident triangles coplanar)
// or of a segment between two neighbours; returns how many.
HULLPACK_HD inline i32 ternary_exclude_flat(Ternary& w) {
  const i32 n = w.n;
  for (i32 i = 0; i <= n; ++i) w.nbr_off[i] = 0;
  for (i32 i = 0; i < n; ++i) w.inc[i] = -1;
  // each neighbour once: the next vertex of every triangle at v, plus the previous one across the
  // border of the composition triangle (where no triangle has it as the next)
  for (i32 t = 0; t < w.nt; ++t)
    for (int k = 0; k < 3; ++k) {
      const i32 v = w.tv[3 * t + k];
      if (v < n) w.nbr_off[v + 1] += 1 + (w.tn[3 * t + (k + 1) % 3] < 0);
    }
  for (i32 i = 0; i < n; ++i) w.nbr_off[i + 1] += w.nbr_off[i];
  i32* fill = w.inc;  // a fill cursor first, the incident triangle below
  for (i32 i = 0; i < n; ++i) fill[i] = 0;
  for (i32 t = 0; t < w.nt; ++t)
    for (int k = 0; k < 3; ++k) {
      const i32 v = w.tv[3 * t + k];
      if (v >= n) continue;
      i32* slot = w.nbrs + w.nbr_off[v] + fill[v];
      slot[0] = w.tv[3 * t + (k + 1) % 3];
      fill[v] += 1;
      if (w.tn[3 * t + (k + 1) % 3] < 0) {
        slot[1] = w.tv[3 * t + (k + 2) % 3];
        fill[v] += 1;
      }
    }
  // an incident triangle of largest area per vertex: its plane is the best conditioned
  double* area = w.depth;  // vertices have no depth to keep
  for (i32 i = 0; i < n; ++i)
    if (w.state[i] == kVertex) {
      w.inc[i] = -1;
      area[i] = -1;
    }
  for (i32 t = 0; t < w.nt; ++t) {
    const i32 a = w.tv[3 * t], b = w.tv[3 * t + 1], c = w.tv[3 * t + 2];
    const double ar = orient(w.x[a], w.y[a], w.x[b], w.y[b], w.x[c], w.y[c]);
    for (int k = 0; k < 3; ++k) {
      const i32 v = w.tv[3 * t + k];
      if (v < n && w.state[v] == kVertex && ar > area[v]) {
        area[v] = ar;
        w.inc[v] = t;
      }
    }
  }
  i32 flat_count = 0;
  for (i32 v = 0; v < n; ++v) {
    if (w.state[v] != kVertex) continue;
    const i32* nb = w.nbrs + w.nbr_off[v];
    const i32 deg = w.nbr_off[v + 1] - w.nbr_off[v];
    bool flat = true;
    for (i32 k = 0; k < deg && flat; ++k) {
      double l[3];
      w.bary(w.inc[v], w.x[nb[k]], w.y[nb[k]], l);
      if (w.e[nb[k]] - w.surface(w.inc[v], l) > w.tol) flat = false;
    }
    for (i32 a = 0; a < deg && !flat; ++a)
      for (i32 b = a + 1; b < deg && !flat; ++b) {
        const i32 u = nb[a], q = nb[b];
        const double dx = w.x[q] - w.x[u], dy = w.y[q] - w.y[u];
        const double len2 = dx * dx + dy * dy;
        if (!(len2 > 0)) continue;
        const double off = orient(w.x[u], w.y[u], w.x[q], w.y[q], w.x[v], w.y[v]);
        if (off * off > 1e-24 * len2) continue;  // v farther than 1e-12 from the line u-q
        const double t = ((w.x[v] - w.x[u]) * dx + (w.y[v] - w.y[u]) * dy) / len2;
        if (!(t > 0 && t < 1)) continue;
        if (w.e[v] >= w.e[u] + t * (w.e[q] - w.e[u]) - w.tol) flat = true;
      }
    if (flat) {
      w.state[v] = kExcluded;
      ++flat_count;
    }
  }
  return flat_count;
}

HULLPACK_HD inline void ternary_system(const double* frac, const double* e, i32 n, double tol,
                                       void* scratch, SystemOut& out) {
  Ternary w;
  ternary_carve(w, scratch, n);
  w.tol = tol;
  w.flip_tol = tol * 1e-3;
  for (i32 i = 0; i < n; ++i) {
    const double f0 = frac[3 * i], f1 = frac[3 * i + 1], f2 = frac[3 * i + 2], s = f0 + f1 + f2;
    w.x[i] = f1 / s;
    w.y[i] = f2 / s;
    w.e[i] = e[i];
    const bool pure = f0 / s >= 1 - kPure || w.x[i] >= 1 - kPure || w.y[i] >= 1 - kPure;
    w.state[i] = pure ? kPureElement : kPending;
  }
  w.x[n] = 0; w.y[n] = 0; w.e[n] = 0;
  w.x[n + 1] = 1; w.y[n + 1] = 0; w.e[n + 1] = 0;
  w.x[n + 2] = 0; w.y[n + 2] = 1; w.e[n + 2] = 0;
  for (i32 t = 0; t < w.tcap; ++t) w.stamp[t] = -1;

  for (int rebuild = 0;; ++rebuild) {
    ternary_build(w);
    if (ternary_exclude_flat(w) == 0 || rebuild == kMaxRebuilds) break;
    for (i32 t = 0; t < w.tcap; ++t) w.stamp[t] = -1;
  }

  i32 nv = 0;
  for (i32 i = 0; i < n; ++i) {
    double ea;
    i32 ids[3];
    double wt[3];
    if (w.state[i] == kVertex) {
      ++nv;
      out.is_vertex[i] = 1;
      ea = 0;
      // any triangle at i gives the other two ids (weight 0)
      i32 t = 0;
      for (; t < w.nt; ++t)
        if (w.tv[3 * t] == i || w.tv[3 * t + 1] == i || w.tv[3 * t + 2] == i) break;
      int k = 0;
      while (w.tv[3 * t + k] != i) ++k;
      ids[0] = i;
      ids[1] = out_id(w.tv[3 * t + (k + 1) % 3], n);
      ids[2] = out_id(w.tv[3 * t + (k + 2) % 3], n);
      wt[0] = 1; wt[1] = 0; wt[2] = 0;
    } else {
      out.is_vertex[i] = 0;
      const i32 t = w.tri_of[i];
      double l[3];
      w.bary(t, w.x[i], w.y[i], l);
      double sum = 0;
      for (int k = 0; k < 3; ++k) {
        l[k] = l[k] < 0 ? 0 : l[k];
        sum += l[k];
      }
      for (int k = 0; k < 3; ++k) l[k] /= sum;
      ea = w.e[i] - w.surface(t, l);
      if (w.state[i] != kPureElement && ea < 0) ea = 0;  // within tol below the hull: on it
      for (int k = 0; k < 3; ++k) {
        ids[k] = out_id(w.tv[3 * t + k], n);
        wt[k] = l[k];
      }
    }
    out.e_above_hull[i] = ea;
    if (out.decomp_index) write_decomp<3>(ids, wt, out.decomp_index + 3 * i, out.decomp_weight + 3 * i);
  }
  out.n_vertices = nv;
  out.n_facets = w.nt;
  if (out.facets)
    for (i32 t = 0; t < w.nt; ++t)
      for (int k = 0; k < 3; ++k) out.facets[3 * t + k] = out_id(w.tv[3 * t + k], n);
}

}  // namespace hullpack::hull::detail
