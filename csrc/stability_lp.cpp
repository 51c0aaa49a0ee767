// The small linear program behind every hull value of hullpack/stability.hpp: the lowest energy of a
// convex combination of candidate points at a given composition. Dense revised simplex over an m x m
// basis (m = elements of the space, a handful), refactored from scratch at every pivot (LU with
// partial pivoting) so that rounding never accumulates; Dantzig's rule, switching to Bland's rule
// after a run of degenerate pivots so that it always terminates.
#include <cmath>
#include <cstdint>
#include <limits>

#include "hullpack/stability.hpp"

namespace hullpack::stability {
namespace {

constexpr double kPivot = 1e-11;     // entries of a pivot column below this never limit the step
constexpr double kSingular = 1e-14;  // an LU pivot below this: the basis is singular
constexpr double kFeasible = 1e-12;  // a warm start's basic weights must be above -kFeasible

// LU (partial pivoting) of the m x m basis B with B[r][i] = x[basis[i] * m + r]. False if singular.
bool factor(int m, const double* x, const int* basis, double* lu, int* piv) {
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
void solve(int m, const double* lu, const int* piv, double* v) {
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
void solve_transposed(int m, const double* lu, const int* piv, double* v) {
  for (int k = 0; k < m; ++k) {
    for (int i = 0; i < k; ++i) v[k] -= lu[i * m + k] * v[i];
    v[k] /= lu[k * m + k];
  }
  for (int k = m - 1; k >= 0; --k)
    for (int r = k + 1; r < m; ++r) v[k] -= lu[r * m + k] * v[r];
  for (int k = m - 1; k >= 0; --k)
    if (piv[k] != k) std::swap(v[k], v[piv[k]]);
}

}  // namespace

std::int64_t lp_scratch_doubles(int m) { return static_cast<std::int64_t>(m) * m + 2 * static_cast<std::int64_t>(m); }

LpResult lower_hull_lp(int m, std::int64_t n, const double* x, const double* c, const std::uint8_t* skip,
                       const double* b, double stop_below, double* work, int* basis, double* w, bool warm_start) {
  double* lu = work;
  double* y = lu + static_cast<std::int64_t>(m) * m;
  double* d = y + m;
  int* piv = basis + m;
  LpResult res;
  res.n_basis = m;
  double scale = 1.0;
  for (std::int64_t j = 0; j < n; ++j)
    if (!(skip && skip[j])) scale = std::fmax(scale, std::fabs(c[j]));
  const double eps = 1e-13 * scale;  // reduced costs above -eps are not improving
  const std::int64_t limit = 50 * (n + m) + 100;
  if (!warm_start)
    for (int i = 0; i < m; ++i) basis[i] = i;
  bool bland = false;
  int degenerate_run = 0;
  for (std::int64_t iter = 0;; ++iter) {
    if (!factor(m, x, basis, lu, piv)) {
      res.status = 2;
      return res;
    }
    for (int i = 0; i < m; ++i) w[i] = b[i];
    solve(m, lu, piv, w);
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
    solve_transposed(m, lu, piv, y);
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
    solve(m, lu, piv, d);
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

}  // namespace hullpack::stability
