// The small linear program behind every hull value of hullpack/stability.hpp: the lowest energy of a
// convex combination of candidate points at a given composition. Dense revised simplex over an m x m
// basis (m = elements of the space, a handful), refactored from scratch at every pivot (LU with
// partial pivoting) so that rounding never accumulates; Dantzig's rule, switching to Bland's rule
// after a run of degenerate pivots so that it always terminates. A dual simplex variant starts from
// a basis optimal for another composition (a neighbour's). Both are compiled for each basis size
// 2..8 (fixed trip counts the compiler unrolls) and for any other size, with the same arithmetic.
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "hullpack/stability.hpp"

namespace hullpack::stability {
namespace {

constexpr double kPivot = 1e-11;     // entries of a pivot column below this never limit the step
constexpr double kSingular = 1e-14;  // an LU pivot below this: the basis is singular
constexpr double kFeasible = 1e-12;  // a warm start's basic weights must be above -kFeasible

// The size of the basis: M when it is known at compile time (2..8), else the run-time m.
template <int M>
constexpr int size_of(int m) {
  return M ? M : m;
}

// LU (partial pivoting) of the m x m basis B with B[r][i] = x[basis[i] * m + r]. False if singular.
template <int M>
bool factor(int m_, const double* x, const int* basis, double* lu, int* piv) {
  const int m = size_of<M>(m_);
  for (int i = 0; i < m; ++i)
    for (int r = 0; r < m; ++r) lu[r * m + i] = x[static_cast<std::int64_t>(basis[i]) * m + r];
  for (int k = 0; k < m; ++k) {
    int p = k;
    for (int r = k + 1; r < m; ++r)
      if (std::fabs(lu[r * m + k]) > std::fabs(lu[p * m + k])) p = r;
    if (!(std::fabs(lu[p * m + k]) > kSingular)) return false;
    piv[k] = p;
    if (p != k)
      for (int i = 0; i < m; ++i) std::swap(lu[k * m + i], lu[p * m + i]);
    const double inv = 1.0 / lu[k * m + k];
    for (int r = k + 1; r < m; ++r) {
      const double f = (lu[r * m + k] *= inv);
      if (f != 0)
        for (int i = k + 1; i < m; ++i) lu[r * m + i] -= f * lu[k * m + i];
    }
  }
  return true;
}

// B z = v in place (P B = L U: z = U^-1 L^-1 P v).
template <int M>
void solve(int m_, const double* lu, const int* piv, double* v) {
  const int m = size_of<M>(m_);
  for (int k = 0; k < m; ++k)
    if (piv[k] != k) std::swap(v[k], v[piv[k]]);
  for (int k = 0; k < m; ++k)
    for (int r = k + 1; r < m; ++r) v[r] -= lu[r * m + k] * v[k];
  for (int k = m - 1; k >= 0; --k) {
    for (int i = k + 1; i < m; ++i) v[k] -= lu[k * m + i] * v[i];
    v[k] /= lu[k * m + k];
  }
}

// B^T z = v in place (B^T = U^T L^T P: z = P^T L^-T U^-T v).
template <int M>
void solve_transposed(int m_, const double* lu, const int* piv, double* v) {
  const int m = size_of<M>(m_);
  for (int k = 0; k < m; ++k) {
    for (int i = 0; i < k; ++i) v[k] -= lu[i * m + k] * v[i];
    v[k] /= lu[k * m + k];
  }
  for (int k = m - 1; k >= 0; --k)
    for (int r = k + 1; r < m; ++r) v[k] -= lu[r * m + k] * v[r];
  for (int k = m - 1; k >= 0; --k)
    if (piv[k] != k) std::swap(v[k], v[piv[k]]);
}

// f(std::integral_constant<int, M>) with M = m for the usual sizes 2..8 (so that loops over the m
// coordinates of a column have a fixed trip count, unrolled by the compiler), M = 0 otherwise
// (loops run to m). The arithmetic is the same either way.
template <typename F>
void with_size(int m, F&& f) {
  switch (m) {
    case 2: return f(std::integral_constant<int, 2>{});
    case 3: return f(std::integral_constant<int, 3>{});
    case 4: return f(std::integral_constant<int, 4>{});
    case 5: return f(std::integral_constant<int, 5>{});
    case 6: return f(std::integral_constant<int, 6>{});
    case 7: return f(std::integral_constant<int, 7>{});
    case 8: return f(std::integral_constant<int, 8>{});
    default: return f(std::integral_constant<int, 0>{});
  }
}

}  // namespace

std::int64_t lp_scratch_doubles(int m) { return static_cast<std::int64_t>(m) * m + 2 * static_cast<std::int64_t>(m); }

namespace {

template <int M>
LpResult primal(int m_, std::int64_t n, const double* x, const double* c, const std::uint8_t* skip, const double* b,
                double stop_below, double* work, int* basis, double* w, bool warm_start) {
  const int m = size_of<M>(m_);
  double* lu = work;
  double* y = lu + static_cast<std::int64_t>(m) * m;
  double* d = y + m;
  int* piv = basis + m;
  LpResult res;
  res.n_basis = m;
  double scale = 1.0;  // energies are finite: a plain comparison (no libm call) in this hot loop
  for (std::int64_t j = 0; j < n; ++j) {
    const double a = std::fabs(c[j]);
    if (a > scale && !(skip && skip[j])) scale = a;
  }
  const double eps = kReducedCost * scale;  // reduced costs above -eps are not improving
  const std::int64_t limit = 50 * (n + m) + 100;
  if (!warm_start)
    for (int i = 0; i < m; ++i) basis[i] = i;
  bool bland = false;
  int degenerate_run = 0;
  for (std::int64_t iter = 0;; ++iter) {
    if (!factor<M>(m, x, basis, lu, piv)) {
      res.status = 2;
      return res;
    }
    for (int i = 0; i < m; ++i) w[i] = b[i];
    solve<M>(m, lu, piv, w);
    if (warm_start && iter == 0)
      for (int i = 0; i < m; ++i)
        if (w[i] < -kFeasible) {  // b is outside the start's simplex: leave it to the caller
          res.status = 3;
          return res;
        }
    double value = 0;
    for (int i = 0; i < m; ++i) value += c[basis[i]] * w[i];
    res.value = value;
    if (value < stop_below) {
      res.status = 1;
      return res;
    }
    if (iter >= limit) {
      res.status = 2;
      return res;
    }
    for (int i = 0; i < m; ++i) y[i] = c[basis[i]];
    solve_transposed<M>(m, lu, piv, y);
    // entering column: most negative reduced cost (Dantzig), or the first negative one (Bland)
    std::int64_t enter = -1;
    double best = -eps;
    for (std::int64_t j = 0; j < n; ++j) {  // basic columns have reduced cost 0 (within rounding)
      if (skip && skip[j]) continue;
      const double* xj = x + j * m;
      double r = c[j];
      for (int k = 0; k < m; ++k) r -= y[k] * xj[k];
      if (r < best) {
        best = r;
        enter = j;
        if (bland) break;
      }
    }
    if (enter < 0) return res;  // optimal
    for (int k = 0; k < m; ++k) d[k] = x[enter * m + k];
    solve<M>(m, lu, piv, d);
    int leave = -1;
    double theta = std::numeric_limits<double>::infinity();
    for (int i = 0; i < m; ++i) {
      if (d[i] <= kPivot) continue;
      const double t = std::fmax(w[i], 0.0) / d[i];
      if (leave < 0 || t < theta || (t == theta && basis[i] < basis[leave])) {
        theta = t;
        leave = i;
      }
    }
    if (leave < 0) {  // unbounded: impossible with fractions summing to 1; report, never loop
      res.status = 2;
      return res;
    }
    degenerate_run = theta <= 1e-15 ? degenerate_run + 1 : 0;
    if (degenerate_run > 2 * m + 4) bland = true;
    basis[leave] = static_cast<int>(enter);
  }
}

}  // namespace

LpResult lower_hull_lp(int m, std::int64_t n, const double* x, const double* c, const std::uint8_t* skip,
                       const double* b, double stop_below, double* work, int* basis, double* w, bool warm_start) {
  LpResult res;
  with_size(m, [&](auto size) {
    res = primal<decltype(size)::value>(m, n, x, c, skip, b, stop_below, work, basis, w, warm_start);
  });
  return res;
}

namespace {

template <int M>
LpResult dual(int m_, std::int64_t n, const double* x, const double* c, const std::uint8_t* skip, const double* b,
              double* work, int* basis, double* w) {
  const int m = size_of<M>(m_);
  double* lu = work;
  double* y = lu + static_cast<std::int64_t>(m) * m;
  double* rho = y + m;
  int* piv = basis + m;
  LpResult res;
  res.n_basis = m;
  const int limit = 20 * m + 50;
  for (int iter = 0;; ++iter) {
    if (iter >= limit || !factor<M>(m, x, basis, lu, piv)) {
      res.status = 2;
      return res;
    }
    for (int i = 0; i < m; ++i) w[i] = b[i];
    solve<M>(m, lu, piv, w);
    int leave = 0;
    for (int i = 1; i < m; ++i)
      if (w[i] < w[leave]) leave = i;
    if (!(w[leave] < -kFeasible)) break;  // primal feasible: optimal up to rounding, settled below
    for (int i = 0; i < m; ++i) y[i] = c[basis[i]];
    solve_transposed<M>(m, lu, piv, y);
    for (int i = 0; i < m; ++i) rho[i] = i == leave ? 1.0 : 0.0;
    solve_transposed<M>(m, lu, piv, rho);  // row `leave` of the basis inverse
    // entering column: the smallest reduced cost per unit of decrease of the leaving weight
    std::int64_t enter = -1;
    double best = std::numeric_limits<double>::infinity();
    for (std::int64_t j = 0; j < n; ++j) {
      if (skip && skip[j]) continue;
      const double* xj = x + j * m;
      double alpha = 0;
      for (int k = 0; k < m; ++k) alpha += rho[k] * xj[k];
      if (!(alpha < -kPivot)) continue;
      double r = c[j];
      for (int k = 0; k < m; ++k) r -= y[k] * xj[k];
      const double ratio = (r > 0 ? r : 0.0) / -alpha;
      if (ratio < best) {
        best = ratio;
        enter = j;
      }
    }
    if (enter < 0) {  // no column can restore the weight: leave it to the caller
      res.status = 3;
      return res;
    }
    basis[leave] = static_cast<int>(enter);
  }
  return primal<M>(m, n, x, c, skip, b, -std::numeric_limits<double>::infinity(), work, basis, w, true);
}

}  // namespace

LpResult lower_hull_lp_dual(int m, std::int64_t n, const double* x, const double* c, const std::uint8_t* skip,
                            const double* b, double* work, int* basis, double* w) {
  LpResult res;
  with_size(m, [&](auto size) { res = dual<decltype(size)::value>(m, n, x, c, skip, b, work, basis, w); });
  return res;
}

}  // namespace hullpack::stability
