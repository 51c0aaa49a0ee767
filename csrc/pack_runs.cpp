// Packing and splitting under batch cost shapes other than the sum: padded (count x longest),
// quadratic (sum of squares), padded-quadratic (count x longest^2), mixed with additive terms
// (see hullpack/packing.hpp for the contracts).
//
// Items are sorted by decreasing length once (the stable radix sort of packing_sort.hpp, ties in
// the caller's `order`) and cut into contiguous runs. Why runs are the right shape:
//
// Packing, padded family (cost = constant + m * (count + padded * L + padded_square * L^2) for a
// batch of m items whose longest has length L). Feasibility is "m <= cap(L)" with cap(.)
// non-increasing, and sorted-run greedy is optimal for the batch count:
//   1. Any feasible partition can be rearranged into runs of the sorted order with the same batch
//      count (an exchange argument). Order its batches by their longest item, L_1 >= L_2 >= ...,
//      with m_1, m_2, ... items, and refill them in that order with consecutive runs of the sorted
//      items, keeping the counts. The new j-th run starts at sorted position M = m_1 + ... +
//      m_{j-1}. The M + 1 longest items cannot all sit in the old batches 1..j-1 (they hold M
//      items), so one of them lies in an old batch j' >= j and is at most L_j' <= L_j long; the
//      item at position M is the shortest of those M + 1, so the new run's longest is <= L_j.
//      Same count, no longer maximum: the run is feasible.
//   2. Among run partitions, the greedy one (each run as long as the budget allows) has the fewest
//      runs ("greedy stays ahead"): after j runs it covers a prefix at least as long as any other
//      run partition's j runs, because a run that starts later ends within a sub-run of the
//      other's j+1-th run, and a sub-run of a feasible run is feasible (every term is monotone).
// With additive terms mixed in (sum * S1 + square * S2, summed over the batch's lengths), step 2
// still holds, so greedy is optimal among run partitions (any length bucketing is one), but step
// 1 can fail: moving longer items into a batch raises its additive part. Pure sums are packed by
// first/best fit instead (packing.cpp); the callers route them there.
//
// Splitting into a fixed number of batches, padded family, cardinalities q and q + 1: by step 1,
// some run partition is as good as any partition batch for batch. In the sorted cut with the
// q-runs first, the run holding the longest item costs its count times that length, which any
// split pays at least (that batch holds >= q items); later q-runs cost no more; and the k-th
// (q + 1)-run from the end starts as late as it can in any run partition, so it is as short as it
// can be. So no split has a lower peak. When every batch holds the same count the total is the
// least too (runs of equal counts have only one order); otherwise another order of the counts can
// save a little total padding.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "hullpack/packing.hpp"
#include "packing_sort.hpp"

namespace hullpack::packing {

namespace {

using detail::decode;
using detail::i64;
using detail::u64;

[[noreturn]] void over_budget(i64 item, double cost) {
  throw std::invalid_argument("item " + std::to_string(item) + " alone costs " + std::to_string(cost) +
                              ", more than the capacity");
}

// The greedy cut of the sorted items: positions where each run starts, plus n at the end. Lengths
// come from the sort codes, or from `keyed_lengths` where other keys set the order (then a run's
// longest is its running maximum, not its first item). `items` names an item that alone exceeds
// the capacity.
template <typename Items>
std::vector<i64> greedy_cuts(const std::vector<u64>& codes, const Items& items, const double* keyed_lengths,
                             const CostTerms& t, double capacity, std::vector<double>* run_cost_out) {
  const i64 n = static_cast<i64>(codes.size());
  std::vector<i64> starts;
  double longest = 0.0, s1 = 0.0, s2 = 0.0, cost = 0.0;
  i64 m = 0;
  for (i64 p = 0; p < n; ++p) {
    const double l = keyed_lengths ? keyed_lengths[static_cast<i64>(items[p])] : decode(codes[p]);
    if (m > 0) {
      const double top = std::max(longest, l);
      const double c = run_cost(t, static_cast<double>(m + 1), top, s1 + l, s2 + l * l);
      if (c <= capacity) {
        ++m, longest = top, s1 += l, s2 += l * l, cost = c;
        continue;
      }
      if (run_cost_out) run_cost_out->push_back(cost);
    }
    starts.push_back(p);  // a new run, led by its longest item
    m = 1, longest = l, s1 = l, s2 = l * l;
    cost = run_cost(t, 1.0, l, s1, s2);
    if (!(cost <= capacity)) over_budget(static_cast<i64>(items[p]), cost);
  }
  if (m > 0 && run_cost_out) run_cost_out->push_back(cost);
  starts.push_back(n);
  return starts;
}

// bin_of_item[items[p]] = the run holding position p.
template <typename Items>
void write_runs(const std::vector<i64>& starts, const Items& items, i64* bin_of_item) {
  for (std::size_t b = 0; b + 1 < starts.size(); ++b)
    for (i64 p = starts[b]; p < starts[b + 1]; ++p) bin_of_item[items[p]] = static_cast<i64>(b);
}

}  // namespace

double run_cost(const CostTerms& t, double m, double longest, double s1, double s2) {
  // Terms that are 0 are left out rather than multiplied: 0 x inf (a square past the double range)
  // would make the cost NaN. The terms present are added in a fixed order.
  double per_item = 0.0, cost = t.constant;
  if (t.padded != 0) per_item += t.padded * longest;
  if (t.padded_square != 0) per_item += t.padded_square * (longest * longest);
  if (t.count != 0) cost += t.count * m;
  if (per_item != 0) cost += m * per_item;
  if (t.sum != 0) cost += t.sum * s1;
  if (t.square != 0) cost += t.square * s2;
  return cost;
}

i64 pack_runs(const double* lengths, i64 n, const CostTerms& terms, double capacity, const i64* order,
              i64* bin_of_item, std::vector<double>* bin_costs, const double* keys) {
  if (n <= 0) return 0;
  i64 n_bins = 0;
  detail::with_sorted(keys ? keys : lengths, n, order, [&](const std::vector<u64>& codes, const auto& items) {
    const auto starts = greedy_cuts(codes, items, keys ? lengths : nullptr, terms, capacity, bin_costs);
    write_runs(starts, items, bin_of_item);
    n_bins = static_cast<i64>(starts.size()) - 1;
  });
  return n_bins;
}

void cut_sorted(const double* keys, i64 n, i64 n_batches, const i64* order, i64* bin_of_item) {
  if (n <= 0) return;
  if (n_batches < 1 || n_batches > n) throw std::invalid_argument("n_batches must be in 1..n");
  const i64 q = n / n_batches, r = n % n_batches;  // n_batches - r runs of q, then r of q + 1
  detail::with_sorted(keys, n, order, [&](const std::vector<u64>&, const auto& items) {
    std::vector<i64> starts(n_batches + 1);
    for (i64 b = 0; b <= n_batches; ++b) starts[b] = b * q + std::max<i64>(0, b - (n_batches - r));
    write_runs(starts, items, bin_of_item);
  });
}

void run_costs(const double* lengths, i64 n, const i64* bin_of_item, i64 n_bins, const CostTerms& terms,
               double* out) {
  std::vector<double> m(n_bins, 0.0), longest(n_bins, 0.0), s1(n_bins, 0.0), s2(n_bins, 0.0);
  for (i64 i = 0; i < n; ++i) {
    const i64 b = bin_of_item[i];
    const double l = lengths[i];
    m[b] += 1.0;
    longest[b] = std::max(longest[b], l);
    s1[b] += l;
    s2[b] += l * l;
  }
  for (i64 b = 0; b < n_bins; ++b) out[b] = m[b] > 0 ? run_cost(terms, m[b], longest[b], s1[b], s2[b]) : 0.0;
}

double lower_bound_runs(const double* lengths, i64 n, const CostTerms& terms, double capacity) {
  if (n <= 0) return 0.0;
  // Volume: a batch's cost is at least the sum over its items of what each would cost if it were
  // the longest (m * L >= sum of lengths, m * L^2 >= sum of squares), plus the constant.
  long double total = 0.0L;
  for (i64 i = 0; i < n; ++i) {
    const double l = lengths[i];
    total += (terms.sum + terms.padded) * l + (terms.square + terms.padded_square) * (l * l) + terms.count;
  }
  const long double room = static_cast<long double>(capacity) - terms.constant;
  double bound = 1.0;
  if (room > 0) {
    const long double v = std::ceil(total / room * (1.0L - 1e-12L));
    bound = std::max(bound, v > 1e300L ? std::numeric_limits<double>::infinity() : static_cast<double>(v));
  }
  // Relaxation: dropping the additive terms only lowers costs, and the padded family is packed
  // optimally by the greedy cut, so its run count is a lower bound for the full shape.
  CostTerms padded_only = terms;
  padded_only.sum = padded_only.square = 0.0;
  if (padded_only.padded > 0 || padded_only.padded_square > 0 || padded_only.count > 0) {
    i64 runs = 0;
    detail::with_sorted(lengths, n, nullptr, [&](const std::vector<u64>& codes, const auto& items) {
      runs = static_cast<i64>(greedy_cuts(codes, items, nullptr, padded_only, capacity, nullptr).size()) - 1;
    });
    bound = std::max(bound, static_cast<double>(runs));
  }
  return bound;
}

}  // namespace hullpack::packing
