// The lower hull of one system of points in any dimension (see PointHull in hullpack/stability.hpp):
// deepest-first insertion over warm-started linear programs, the exclusion of rounding-level ties,
// then energies above hull, decompositions and vertex depths, with the conventions of the
// binary and ternary kernels (hullpack/hull.hpp, hull_detail.hpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "hullpack/hull_detail.hpp"
#include "hullpack/stability.hpp"

namespace hullpack::stability {

namespace {

using i64 = std::int64_t;
using i32 = std::int32_t;
using u8 = std::uint8_t;
namespace hd = hull::detail;

constexpr double kInf = std::numeric_limits<double>::infinity();

double dot(const double* a, const double* b, int m) {
  double s = 0;
  for (int k = 0; k < m; ++k) s += a[k] * b[k];
  return s;
}

}  // namespace

void PointHull::setup(int m, i64 n, const double* fractions, const double* e) {
  m_ = m;
  n_ = n;
  e_ = e;
  x_.resize(static_cast<std::size_t>(n) * m);
  state_.assign(n, hd::kPending);
  scale_ = 1.0;
  for (i64 i = 0; i < n; ++i) {
    const double* f = fractions + i * m;
    double s = 0;
    for (int k = 0; k < m; ++k) s += f[k];
    bool pure = false;
    for (int k = 0; k < m; ++k) {
      x_[i * m + k] = f[k] / s;
      pure = pure || x_[i * m + k] >= 1 - hd::kPure;
    }
    if (pure) state_[i] = hd::kPureElement;
    else scale_ = std::max(scale_, std::fabs(e[i]));
  }
  lp_.resize(static_cast<std::size_t>(lp_scratch_doubles(m)));
  lp_basis_.resize(2 * static_cast<std::size_t>(m));
  w_.resize(m);
}

void PointHull::reset_columns() {
  const int m = m_;
  cx_.assign(static_cast<std::size_t>(m) * m, 0.0);
  for (int k = 0; k < m; ++k) cx_[k * m + k] = 1.0;
  cc_.assign(m, 0.0);
  cid_.resize(m);
  for (int k = 0; k < m; ++k) cid_[k] = -1 - k;
  in_columns_.assign(n_, 0);
}

void PointHull::add_column(i64 point) {
  cx_.insert(cx_.end(), x_.begin() + point * m_, x_.begin() + (point + 1) * m_);
  cc_.push_back(e_[point]);
  cid_.push_back(point);
  in_columns_[point] = 1;
}

// The linear program over the current columns (cskip_ when it covers them) at composition b, from
// the basis `start` if it is feasible there, else from the references.
LpResult PointHull::solve(const double* b, double stop_below, const int* start) {
  if (start && start != lp_basis_.data()) std::copy_n(start, m_, lp_basis_.data());
  const u8* skip = static_cast<i64>(cskip_.size()) == n_columns() ? cskip_.data() : nullptr;
  LpResult r = lower_hull_lp(m_, n_columns(), cx_.data(), cc_.data(), skip, b, stop_below, lp_.data(),
                             lp_basis_.data(), w_.data(), start != nullptr);
  if (start && r.status >= 2)  // an infeasible start, or (defensive) a warm start that failed
    r = lower_hull_lp(m_, n_columns(), cx_.data(), cc_.data(), skip, b, stop_below, lp_.data(), lp_basis_.data(),
                      w_.data(), false);
  return r;
}

// Deeper first; ties: smaller composition (fractions of the elements after the first), then index.
bool PointHull::deeper(i64 i, i64 j) const {
  if (j < 0) return true;
  if (depth_[i] != depth_[j]) return depth_[i] > depth_[j];
  for (int k = 1; k < m_; ++k)
    if (x_[i * m_ + k] != x_[j * m_ + k]) return x_[i * m_ + k] < x_[j * m_ + k];
  return i < j;
}

// Inserts the deepest candidate until none lies more than tol below the hull of the inserted
// points. Candidates: every point that is neither a pure element nor excluded. Lazily: a candidate's
// depth is an upper bound, exact unless an insertion since its last solve has a negative reduced
// cost at it (stale); candidates wait in a heap by that bound, and a stale one reaching the top is
// solved again (and dropped once within tol) before the top is taken. The top, once exact, is the
// deepest candidate, as if every depth were kept exact.
bool PointHull::build(double tol) {
  const int m = m_;
  const i64 n = n_;
  bool converged = true;
  reset_columns();
  cskip_.clear();
  depth_.resize(n);
  y_.assign(static_cast<std::size_t>(n) * m, 0.0);
  basis_.resize(static_cast<std::size_t>(n) * m);
  stale_.assign(n, 0);
  pending_.clear();
  for (i64 i = 0; i < n; ++i) {
    for (int k = 0; k < m; ++k) basis_[i * m + k] = k;  // the references: hull E = 0, multipliers 0
    if (state_[i] == hd::kPureElement || state_[i] == hd::kExcluded) continue;
    depth_[i] = -e_[i];
    state_[i] = depth_[i] > tol ? hd::kPending : hd::kAbove;
    if (state_[i] == hd::kPending) pending_.push_back(i);
  }
  const auto shallower = [this](i64 a, i64 b) { return deeper(b, a); };  // a max-heap of the deepest
  std::make_heap(pending_.begin(), pending_.end(), shallower);
  const double eps = kReducedCost * scale_;
  while (!pending_.empty()) {
    std::pop_heap(pending_.begin(), pending_.end(), shallower);
    const i64 q = pending_.back();
    if (stale_[q]) {
      const LpResult r = solve(x_.data() + q * m, e_[q] + tol, basis_.data() + q * m);  // stops once within tol
      if (r.status == 2) converged = false;
      depth_[q] = r.value - e_[q];
      if (r.status == 1 || !(depth_[q] > tol)) {
        state_[q] = hd::kAbove;  // depths only shrink: never a candidate again
        pending_.pop_back();
        continue;
      }
      std::copy_n(lp_basis_.data(), m, basis_.data() + q * m);
      if (r.status == 0) std::copy_n(lp_.data() + static_cast<std::size_t>(m) * m, m, y_.data() + q * m);
      stale_[q] = 0;
      std::push_heap(pending_.begin(), pending_.end(), shallower);
      continue;
    }
    pending_.pop_back();
    state_[q] = hd::kVertex;
    add_column(q);
    const double* xq = x_.data() + q * m;
    for (const i64 p : pending_)  // where the new point lowers the hull, p's depth is only a bound now
      if (!stale_[p] && e_[q] - dot(y_.data() + p * m, xq, m) < -eps) stale_[p] = 1;
  }
  return converged;
}

// Excludes the inserted points within tol of the hull of the other inserted points (checked
// against the same hull, all at once); returns how many.
i64 PointHull::exclude_flat(double tol) {
  const i64 cols = n_columns();
  cskip_.assign(cols, 0);
  std::vector<i64> flat;
  for (i64 c = m_; c < cols; ++c) {
    const i64 v = cid_[c];
    cskip_[c] = 1;  // from v's last basis before its insertion: feasible, and without v
    const LpResult r = solve(x_.data() + v * m_, e_[v] + tol, basis_.data() + v * m_);
    cskip_[c] = 0;
    if (r.status == 1 || !(r.value - e_[v] > tol)) flat.push_back(v);
  }
  cskip_.clear();
  for (const i64 v : flat) state_[v] = hd::kExcluded;
  return static_cast<i64>(flat.size());
}

void PointHull::run(int m, i64 n, const double* fractions, const double* e, double tol, PointHullOutput& out) {
  setup(m, n, fractions, e);
  out.converged = true;
  i64 excluded = 0;
  for (int rebuild = 0;; ++rebuild) {
    out.converged = build(tol) && out.converged;
    excluded = exclude_flat(tol);
    if (excluded == 0 || rebuild == hd::kMaxRebuilds) break;
  }
  // the columns: references and vertices; the candidates' last bases stay valid starts unless the
  // last pass excluded a vertex (then the columns are rebuilt without it)
  const bool warm = excluded == 0;
  if (!warm) {
    reset_columns();
    for (i64 i = 0; i < n; ++i)
      if (state_[i] == hd::kVertex) add_column(i);
  }
  std::vector<i32>& ids = ids_;
  ids.resize(m);
  last_.resize(m);
  bool have_last = false;
  i32 nv = 0;
  for (i64 i = 0; i < n; ++i) {
    const bool vertex = state_[i] == hd::kVertex, pure = state_[i] == hd::kPureElement;
    out.is_vertex[i] = vertex ? 1 : 0;
    nv += vertex;
    // the hull at a vertex is its energy, at a pure composition its reference (0 by definition)
    out.e_above_hull[i] = vertex ? 0.0 : pure ? e[i] : 0.0;
    if ((vertex || pure) && !out.decomp_index) continue;
    // from the previous point's optimal basis by dual simplex (grid neighbours lie a facet or two
    // apart), else from the point's own last basis of the build (always feasible)
    LpResult r;
    r.status = 3;
    if (have_last) {
      std::copy_n(last_.data(), m, lp_basis_.data());
      r = lower_hull_lp_dual(m, n_columns(), cx_.data(), cc_.data(), nullptr, x_.data() + i * m, lp_.data(),
                             lp_basis_.data(), w_.data());
    }
    if (r.status >= 2) r = solve(x_.data() + i * m, -kInf, warm ? basis_.data() + i * m : nullptr);
    std::copy_n(lp_basis_.data(), m, last_.data());
    have_last = r.status == 0;
    if (r.status == 2) out.converged = false;
    if (!vertex && !pure) out.e_above_hull[i] = std::max(0.0, e[i] - r.value);  // within tol below: on it
    if (!out.decomp_index) continue;
    for (int k = 0; k < m; ++k) ids[k] = static_cast<i32>(cid_[lp_basis_[k]]);
    if (vertex) {  // itself, then the other columns of a basis at it (a face of the hull through it), weight 0
      int at = 0;
      while (at < m && ids[at] != i) ++at;
      for (int k = std::min(at, m - 1); k > 0; --k) ids[k] = ids[k - 1];
      ids[0] = static_cast<i32>(i);
      for (int k = 0; k < m; ++k) w_[k] = k == 0 ? 1.0 : 0.0;
    } else {
      for (int k = 0; k < m; ++k) w_[k] = std::max(0.0, w_[k]);
    }
    hd::write_decomp(m, ids.data(), w_.data(), out.decomp_index + i * m, out.decomp_weight + i * m);
  }
  out.n_vertices = nv;
}

// The hull of every non-pure point but v at v's composition, minus v's energy. The columns hold
// the references and the vertices: the program runs over them without v, then takes in every
// other point whose reduced cost is negative, until there is none (column generation).
double PointHull::depth_of(i64 v, bool& converged) {
  const int m = m_;
  const i64 base = n_columns();
  cskip_.assign(base, 0);
  for (i64 c = m; c < base; ++c)
    if (cid_[c] == v) cskip_[c] = 1;
  const double* xv = x_.data() + v * m;
  const double eps = kReducedCost * scale_;
  LpResult r = solve(xv, -kInf, nullptr);
  while (r.status == 0) {
    const double* y = lp_.data() + static_cast<std::size_t>(m) * m;
    i64 added = 0;
    for (i64 q = 0; q < n_; ++q) {
      if (q == v || state_[q] == hd::kPureElement || in_columns_[q]) continue;
      if (e_[q] - dot(y, x_.data() + q * m, m) < -eps) {
        add_column(q);
        cskip_.push_back(0);
        ++added;
      }
    }
    if (added == 0) break;
    r = solve(xv, -kInf, lp_basis_.data());
  }
  if (r.status == 2) converged = false;
  // back to the references and the vertices
  for (i64 c = base; c < n_columns(); ++c) in_columns_[cid_[c]] = 0;
  cx_.resize(static_cast<std::size_t>(base) * m);
  cc_.resize(base);
  cid_.resize(base);
  cskip_.clear();
  return r.value - e_[v];
}

bool PointHull::vertex_depths(int m, i64 n, const double* fractions, const double* e, const u8* is_vertex,
                              double* depth) {
  if (std::none_of(is_vertex, is_vertex + n, [](u8 v) { return v != 0; })) {
    std::fill(depth, depth + n, std::numeric_limits<double>::quiet_NaN());
    return true;
  }
  setup(m, n, fractions, e);
  reset_columns();
  for (i64 i = 0; i < n; ++i)
    if (is_vertex[i] && state_[i] != hd::kPureElement) add_column(i);
  bool converged = true;
  for (i64 i = 0; i < n; ++i)
    depth[i] = is_vertex[i] && state_[i] != hd::kPureElement ? depth_of(i, converged)
                                                               : std::numeric_limits<double>::quiet_NaN();
  return converged;
}

}  // namespace hullpack::stability
