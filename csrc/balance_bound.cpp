// Lower bounds on the peak batch cost of a balanced split (hullpack/packing.hpp:
// lower_bounds_balance), each proved where it is computed.
//
// The problem: n items of cost >= 0 go into B batches, r = n % B of them holding q + 1 items and the
// others q = n / B (the splits balance() makes; 1 <= B <= n, so q >= 1). OPT is the least peak
// (largest batch load) over all such splits. Notation: d_1 >= d_2 >= ... >= d_n are the costs in
// decreasing order, S(t) = d_1 + ... + d_t the sum of the t largest, A(k) the sum of the k smallest
// (A(0) = 0). A(k) is at most the sum of any k items.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "hullpack/packing.hpp"
#include "packing_sort.hpp"

namespace hullpack::packing {

namespace {

using i64 = std::int64_t;
using u64 = std::uint64_t;

// A long double as a double: +inf beyond the double range (a plain conversion of an out-of-range
// value is undefined).
double to_double(long double v) {
  return v > std::numeric_limits<double>::max() ? std::numeric_limits<double>::infinity() : static_cast<double>(v);
}

// The costs in ascending order (packing_sort.hpp's radix sort of their bit patterns; -0.0 is 0.0).
std::vector<double> sorted_ascending(const double* costs, i64 n) {
  std::vector<double> out(n);
  detail::with_sorted(costs, n, nullptr, [&](const std::vector<u64>& codes, const auto&) {
    for (i64 p = 0; p < n; ++p) out[n - 1 - p] = detail::decode(codes[p]);  // codes descend
  });
  return out;
}

// ceil(a / b) for a >= 0, b >= 1.
i64 ceil_div(i64 a, i64 b) { return a / b + (a % b != 0); }

// The bound (ii) for one t (full: the bound (vii)); see lower_bounds_balance. Num is i64 when every
// sum is an exact integer (then the result is ceil(min_s N(s) / s), found with exact comparisons),
// else long double.
template <typename Num>
struct Spread {
  const std::vector<double>& A;  // A[k], k = 0..n
  i64 B, q, r;
  bool full;  // (vii): s counts the batches holding the t items and every batch of q + 1 items

  // (ceil when integral of) min over feasible s of (S_t + A(k(s))) / s, and that minimum unrounded.
  std::pair<Num, long double> operator()(i64 t, Num S) const {
    // Feasible s, (ii): s q + min(s, r) >= t (room for the t items) and s <= min(t, B).
    // (vii): s = r + g with 0 <= g <= min(t, B - r) and r (q + 1) + g q >= t.
    const i64 s_min = full ? r + ceil_div(std::max<i64>(0, t - r * (q + 1)), q)
                           : (t <= r * (q + 1) ? (t + q) / (q + 1) : r + (t - r * (q + 1) + q - 1) / q);
    const i64 s_max = full ? r + std::min(t, B - r) : std::min(t, B);
    auto N = [&](i64 s) -> Num {
      const i64 k = full ? s * q + r - t : s * q + std::max<i64>(0, s - (B - r)) - t;
      return S + static_cast<Num>(A[std::max<i64>(0, k)]);
    };
    // The first s with f(s + 1) >= f(s), i.e. N(s + 1) - N(s) >= N(s) / s: see the proof of (ii).
    auto rises = [&](i64 s) {
      const Num step = N(s + 1) - N(s);
      if constexpr (std::is_same_v<Num, i64>)
        return step >= ceil_div(N(s), s);  // exact: step is an integer
      else
        return step * static_cast<long double>(s) >= N(s);
    };
    i64 lo = s_min, hi = s_max;  // the answer lies in lo..hi
    while (lo < hi) {
      const i64 mid = lo + (hi - lo) / 2;
      if (rises(mid))
        hi = mid;
      else
        lo = mid + 1;
    }
    const Num v = N(lo);
    const long double exact = static_cast<long double>(v) / lo;
    if constexpr (std::is_same_v<Num, i64>)
      return {ceil_div(v, lo), exact};
    else
      return {v / lo, exact};
  }
};

template <typename Num>
BalanceBounds bounds(const std::vector<double>& asc, i64 B) {
  constexpr bool integral = std::is_same_v<Num, i64>;
  const i64 n = static_cast<i64>(asc.size()), q = n / B, r = n % B;
  std::vector<double> A(n + 1);
  long double run = 0.0L;
  A[0] = 0.0;
  for (i64 k = 0; k < n; ++k) A[k + 1] = to_double(run += asc[k]);
  const long double total = run;
  BalanceBounds out;
  out.integral = integral;

  // (i) The B loads sum to the total, so the largest is at least their mean.
  out.mean = to_double(total / B);
  Num best = integral ? static_cast<Num>(ceil_div(static_cast<i64>(A[n]), B)) : static_cast<Num>(total / B);

  // (ii) Fix t in 1..n and let T be the t largest items. In any split, let s be the number of
  // batches holding an item of T. Then s <= min(t, B), and as s batches hold at most
  // s q + min(s, r) items, s q + min(s, r) >= t. Those s batches hold at least s q + max(0, s - (B - r))
  // items (at most B - r batches hold only q), so at least k(s) = max(0, s q + max(0, s - B + r) - t)
  // items outside T, costing at least A(k(s)). Their loads thus sum to at least N(s) = S(t) + A(k(s)),
  // and the heaviest of them is at least N(s) / s: OPT >= min over feasible s of N(s) / s.
  // The minimum: N is convex in s (k(s) is a maximum of affine functions, hence convex; A, extended
  // linearly between integers, is convex and non-decreasing, as its steps are the ascending costs;
  // a convex non-decreasing function of a convex one is convex). Let f(s) = N(s) / s and
  // D(s) = N(s + 1) - N(s), non-decreasing. f(s + 1) >= f(s) if and only if D(s) >= f(s), and if so,
  // f(s + 1) = (s f(s) + D(s)) / (s + 1) <= D(s) <= D(s + 1): the condition then holds at s + 1
  // too. So f falls, then rises, and its minimum is at the first s where D(s) >= f(s), found by
  // binary search. t runs over 1..min(n, 2B, 2**16) (spreading the largest items is what binds on
  // heavy tails) and then a geometric grid (ratio 65/64) up to n.
  //
  // (vii) Full batches (r > 0). Fix t in 0..n and T as in (ii). In any split, let G be the batches
  // holding an item of T together with the r batches of q + 1 items, and g the number of batches of
  // q items holding an item of T: |G| = r + g, and G holds exactly r (q + 1) + g q items, t of them
  // in T, so r (q + 1) + g q >= t, and 0 <= g <= min(t, B - r). The loads of G sum to at least
  // N = S(t) + A(r (q + 1) + g q - t), and the heaviest is at least N / (r + g): OPT >= the least of
  // that over feasible g. With s = r + g, N = S(t) + A(s q + r - t) is convex in s, so the minimum
  // is found as in (ii). This is what binds on near-equal costs: with t = 0, the r batches of q + 1
  // items hold at least the r (q + 1) smallest items (equal costs c: OPT = (q + 1) c, above the
  // mean when r < B). Same t as (ii), and t = 0.
  const Spread<Num> spread{A, B, q, r, false}, spread_full{A, B, q, r, true};
  long double top = 0.0L, full = 0.0L;
  const auto take = [&](const Spread<Num>& part, i64 t, Num S, long double& seen) {
    const auto [v, exact] = part(t, S);
    best = std::max(best, v);
    seen = std::max(seen, exact);
  };
  if (r > 0) take(spread_full, 0, Num{0}, full);
  Num S = 0;
  i64 t = 0;
  const i64 dense = std::min<i64>({n, 2 * B, i64{1} << 16});
  while (t < n) {
    const i64 next = t < dense ? t + 1 : std::min(n, t + std::max<i64>(1, t / 64));
    for (; t < next; ++t) S += static_cast<Num>(asc[n - 1 - t]);  // S = S(next)
    take(spread, t, S, top);
    if (r > 0) take(spread_full, t, S, full);
  }
  out.top_items = to_double(top);
  out.full_batches = to_double(full);

  // (iii) For j = 0..q - 1 with j B + 1 <= n: the j B + 1 largest items (U) lie in B batches, so
  // some batch holds a >= j + 1 of them, and at least q items in all. Its load is at least the sum of
  // the a smallest items of U plus that of the max(0, q - a) smallest items outside U; trading one
  // of U for one more outside item never raises this (no item outside U costs more than one in
  // U), so the load is at least (the j + 1 smallest of U) + A(q - j - 1), i.e.
  // d_{jB-j+1} + ... + d_{jB+1} + A(q - j - 1) (the q - j - 1 smallest items lie outside U, as
  // n - jB - 1 >= q - j - 1 when n >= qB). j = 0: the largest item plus the q - 1 smallest.
  // The j + 1 items are summed directly (O(q^2) in all) while q <= 4096, else as a difference of
  // prefix sums.
  long double pigeon = 0.0L;
  for (i64 j = 0; j < q && j * B + 1 <= n; ++j) {
    const i64 lo = n - 1 - j * B;  // ascending positions lo..lo + j
    Num window = 0;
    if (integral || q > 4096) {
      window = static_cast<Num>(A[lo + j + 1]) - static_cast<Num>(A[lo]);
    } else {
      for (i64 p = lo; p <= lo + j; ++p) window += static_cast<Num>(asc[p]);
    }
    const Num v = window + static_cast<Num>(A[q - j - 1]);
    best = std::max(best, v);
    pigeon = std::max(pigeon, static_cast<long double>(v));
  }
  out.pigeonhole = to_double(pigeon);

  // (v) Light batches. Fix J >= 0 (J <= q) and t with J B < t <= n, and let U be the t largest
  // items. In any split, call a batch light if it holds at most J items of U, and let u be their
  // number. The B - u others hold at least J + 1 each, so (J + 1)(B - u) <= t, i.e.
  // u >= B - floor(t / (J + 1)); and u < B, as B J < t. The light batches hold at most
  // beta(u) = min(u J, t - (J + 1)(B - u)) items of U (the rest of U is in the others) and at most
  // N(u) = u q + min(u, r) items in all, so their loads sum to at most
  // W(u) = S(beta) + (the m largest items outside U), m = min(N(u) - beta, n - t): each item of U
  // costs at least any item outside it, so holding more of U (up to beta) and more items (up to
  // N(u)) never lowers that sum. The other B - u batches then carry at least total - W(u), and the
  // heaviest of them at least (total - W(u)) / (B - u): OPT >= the minimum of that over u.
  // Light batches are what binds when few large items must share batches: with 1.6 large items
  // per batch, the batches with one large item cannot fill up from the small ones, and the
  // batches with two carry the rest (u = (J + 1) B - t, J = 1, is then the likely minimum).
  // The minimum over u is exact: W never falls as u grows (beta and beta + m never fall, and an
  // item of U outweighs one outside it), so (total - W(u2)) / (B - u1) is at most every value for
  // u1 <= u <= u2, and intervals of u whose floor is above the least value found need no search.
  // t runs densely over J B + 1 .. J B + kDense, at the 8 largest drops between consecutive costs
  // (where large items end), and on a grid of ratio 1 + 1 / kDense beyond, up to (J + 2) B, then
  // 1 + 1 / 16 up to n;
  // J = 0..min(q, 3).
  constexpr i64 kDense = 256, kGridU = 64;
  long double light = 0.0L;
  const auto S_top = [&](i64 k) -> Num { return static_cast<Num>(A[n]) - static_cast<Num>(A[n - k]); };
  const Num total_num = integral ? static_cast<Num>(A[n]) : static_cast<Num>(total);
  const auto light_bound = [&](i64 J, i64 t) {
    const i64 g_max = std::min(B, t / (J + 1));  // g = B - u: the batches that are not light
    if (g_max < 1) return;
    auto W = [&](i64 g) -> Num {
      const i64 u = B - g;
      const i64 beta = std::min(u * J, t - (J + 1) * g);
      const i64 m = std::min(u * q + std::min(u, r) - beta, n - t);
      return S_top(beta) + static_cast<Num>(A[n - t]) - static_cast<Num>(A[n - t - m]);
    };
    // The least (total - W) / g: exact values on a grid of g, then intervals between grid points
    // refined by bisection unless their floor (total - W(g1)) / g2 is already above the least
    // value found (with a relative margin far beyond the rounding of long double).
    long double least = std::numeric_limits<long double>::infinity();
    Num least_rounded = total_num;  // integral: the least ceil(value), exactly
    const auto value = [&](i64 g) {
      const Num num = total_num - W(g);
      least = std::min(least, static_cast<long double>(num) / static_cast<long double>(g));
      if constexpr (std::is_same_v<Num, i64>) least_rounded = std::min(least_rounded, ceil_div(std::max<i64>(0, num), g));
    };
    std::vector<i64> grid;
    for (i64 g = 1; g <= g_max; g += std::max<i64>(1, g / kGridU)) grid.push_back(g);
    if (grid.back() != g_max) grid.push_back(g_max);
    for (const i64 g : grid) value(g);
    std::vector<std::pair<i64, i64>> open;
    for (std::size_t i = 0; i + 1 < grid.size(); ++i)
      if (grid[i + 1] - grid[i] > 1) open.push_back({grid[i], grid[i + 1]});
    while (!open.empty()) {
      const auto [g1, g2] = open.back();
      open.pop_back();
      const long double floor_value = static_cast<long double>(total_num - W(g1)) / static_cast<long double>(g2);
      if (floor_value > least + std::fabs(least) * 1e-12L) continue;
      const i64 mid = g1 + (g2 - g1) / 2;
      value(mid);
      if (mid - g1 > 1) open.push_back({g1, mid});
      if (g2 - mid > 1) open.push_back({mid, g2});
    }
    Num v;
    if constexpr (std::is_same_v<Num, i64>)
      v = least_rounded;
    else
      v = least * (1.0L - 1e-12L);  // the prefix sums are rounded: stay below
    best = std::max(best, v);
    light = std::max(light, integral ? least : static_cast<long double>(v));
  };
  for (i64 J = 0; J <= std::min<i64>(q, 3) && J * B < n; ++J) {
    for (i64 t = J * B + 1; t <= std::min(n, J * B + kDense); ++t) light_bound(J, t);
    for (i64 t = J * B + kDense + 1; t <= n; t += std::max<i64>(1, t / (t <= (J + 2) * B ? kDense : 16)))
      light_bound(J, t);  // coarser beyond (J + 2) B, where the largest items are far from the t largest
    // The largest drops d_t - d_{t+1} (t counted from the largest) in J B + 1 .. (J + 2) B.
    std::vector<std::pair<double, i64>> drops;
    for (i64 t = J * B + 1; t < std::min(n, (J + 2) * B); ++t) {
      drops.push_back({asc[n - t] - asc[n - t - 1], t});
      if (drops.size() > 64) {
        std::nth_element(drops.begin(), drops.begin() + 8, drops.end(), std::greater<>());
        drops.resize(8);
      }
    }
    std::sort(drops.begin(), drops.end(), std::greater<>());
    for (std::size_t i = 0; i < drops.size() && i < 8; ++i) light_bound(J, drops[i].second);
  }
  out.light_batches = to_double(light);

  // (vi) Exclusion. Fix m in 1..B and let H be the m largest items, h = d_m the least of them, and
  // P = A(max(0, q - 2)). Suppose a split whose peak is at most M < 2h + P. Every batch holds at
  // least q items, so one holding two items of H would carry at least 2h + P: the m items of H lie
  // in m distinct batches. An item x outside H with h + x + P > M cannot share a batch with an item
  // of H either; call those items X(M). So the other B - m batches hold all of X(M): |X(M)| <=
  // (B - m) q + min(B - m, r); and they hold at least need = n - m q - min(m, r) items in all (the
  // m batches hold at most m q + min(m, r)), which cost at least sum(X(M)) + A(max(0, need - |X(M)|))
  // and at most (B - m) M. X(M) only shrinks as M grows, so once M meets these two conditions every
  // larger M does: with M* the least M that meets them, OPT >= min(M*, 2h + P), found by bisection.
  // Exclusion binds on capped heavy tails: items at the cap sit one to a batch and keep the next
  // largest items out of their batches, which the few other batches must then carry. m runs
  // densely over 1..min(B, kDense), on a grid of ratio 1 + 1 / 64 beyond, and at the ends of the 16
  // longest runs of equal costs among the B largest (where a cap's items end).
  long double excl = 0.0L;
  const Num P = static_cast<Num>(A[std::max<i64>(0, q - 2)]);
  const auto exclusion = [&](i64 m) {
    const Num h = static_cast<Num>(asc[n - m]);
    const Num cap = 2 * h + P;  // the premise needs M < cap
    const i64 others = B - m;   // batches without an item of H
    const i64 room = others * q + std::min(others, r), need = n - m * q - std::min(m, r);
    const auto meets = [&](Num M) {
      // X(M): the items outside H (ascending positions 0 .. n - m - 1) above M - h - P
      const long double above = static_cast<long double>(M) - static_cast<long double>(h) - static_cast<long double>(P);
      const i64 first = std::upper_bound(asc.begin(), asc.begin() + (n - m), above,
                                         [](long double v, double c) { return v < static_cast<long double>(c); }) -
                        asc.begin();
      const i64 j = n - m - first;
      if (j > room) return false;
      const Num load = static_cast<Num>(A[n - m]) - static_cast<Num>(A[first]) + static_cast<Num>(A[std::max<i64>(0, need - j)]);
      if (others == 0) return load <= 0;
      if constexpr (std::is_same_v<Num, i64>)
        return ceil_div(std::max<i64>(0, load), others) <= M;  // exact, without overflow
      else
        return load <= static_cast<long double>(others) * M;
    };
    Num lo = best;  // a bound already: the search only looks above it
    if (!(lo < cap) || meets(lo)) return;
    Num v;
    if constexpr (std::is_same_v<Num, i64>) {
      Num hi = cap - 1;  // the largest M the premise allows
      if (!meets(hi)) {
        v = cap;
      } else {
        while (hi - lo > 1) {  // lo fails, hi meets
          const Num mid = lo + (hi - lo) / 2;
          (meets(mid) ? hi : lo) = mid;
        }
        v = hi;
      }
    } else {
      Num hi = cap;
      if (!meets(hi)) {
        v = cap;
      } else {
        for (int it = 0; it < 96 && lo < hi; ++it) {
          const Num mid = lo + (hi - lo) / 2;
          if (!(mid > lo && mid < hi)) break;
          (meets(mid) ? hi : lo) = mid;
        }
        v = lo;  // a value that fails: OPT lies above it
      }
      v *= 1.0L - 1e-12L;  // the prefix sums are rounded: stay below
    }
    best = std::max(best, v);
    excl = std::max(excl, static_cast<long double>(v));
  };
  {
    const i64 top = std::min(n, B);
    std::vector<i64> ms;
    for (i64 m = 1; m <= top; m += m < kDense ? 1 : std::max<i64>(1, m / 64)) ms.push_back(m);
    std::vector<std::pair<i64, i64>> runs;  // (length, last m) of the longest runs of equal costs
    for (i64 m = 1, start = 1; m <= top; ++m)
      if (m == top || asc[n - m - 1] != asc[n - m]) {
        runs.push_back({m - start + 1, m});
        start = m + 1;
        if (runs.size() > 64) {
          std::nth_element(runs.begin(), runs.begin() + 16, runs.end(), std::greater<>());
          runs.resize(16);
        }
      }
    std::sort(runs.begin(), runs.end(), std::greater<>());
    for (std::size_t i = 0; i < runs.size() && i < 16; ++i) ms.push_back(runs[i].second);
    for (const i64 m : ms) exclusion(m);
  }
  out.exclusion = to_double(excl);

  // (iv) With integer costs every load is an integer, so OPT >= ceil(any bound): the integral path
  // rounds each part up exactly (all sums are exact below 2**53). Otherwise a batch's load summed in
  // double may round below the exact sums the parts bound: stay a relative 1e-12 below.
  out.best = to_double(integral ? static_cast<long double>(best) : static_cast<long double>(best) * (1.0L - 1e-12L));
  return out;
}

}  // namespace

BalanceBounds lower_bounds_balance(const double* costs, i64 n, i64 n_batches) {
  if (n <= 0 || n_batches <= 0 || n_batches > n) return {};
  const std::vector<double> asc = sorted_ascending(costs, n);
  long double total = 0.0L;
  bool integral = true;
  for (const double c : asc) {
    total += c;
    integral = integral && c == std::floor(c);
  }
  integral = integral && total < 9007199254740992.0L;  // 2**53: every partial sum is exact
  return integral ? bounds<i64>(asc, n_batches) : bounds<long double>(asc, n_batches);
}

double lower_bound_balance(const double* costs, i64 n, i64 n_batches) {
  return lower_bounds_balance(costs, n, n_batches).best;
}

}  // namespace hullpack::packing
