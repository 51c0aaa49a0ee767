// Spreading items with several costs over a fixed number of bins, to pack into fewer bins than
// first fit where every bin holds many items (see hullpack/packing.hpp for the contract).
//
// First fit fills bins one after another; with several budgets a bin often fills up in one
// dimension while room is left in another, and that room stays unused (node and edge counts whose
// ratio varies around the ratio of the budgets lose 4-8% this way). Spreading keeps all bins open
// and puts each item, largest first, where it raises the fullest normalised dimension least, so
// every bin's loads follow the overall mix of the items. Candidates per item: the least-loaded
// bin of each dimension (k min-heaps with lazy deletion, loads only grow), so an item heavy in one
// dimension meets the bin with the most room there. O(n k log(n k)). Where every bin is close to
// full, an item may fit none of those bins: it is set aside, and the items set aside are placed
// afterwards by first fit over all bins (their room left in other dimensions) and new ones, so a
// spread into slightly too few bins still packs into fewer bins than first fit alone, where many
// small items share a bin (QM9-like molecules under node and edge budgets).
#include <algorithm>
#include <cstdint>
#include <functional>
#include <queue>
#include <utility>
#include <vector>

#include "hullpack/packing.hpp"
#include "packing_sort.hpp"

namespace hullpack::packing {

namespace {

using detail::i64;
using detail::u64;
using Entry = std::pair<double, i64>;  // (normalised load in one dimension, bin)
using MinHeap = std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>>;

}  // namespace

i64 spread(const double* sizes, i64 n, i64 k, const double* capacity, i64 n_bins, const i64* order,
           i64* bin_of_item, double* peak, i64* set_aside) {
  *peak = 0.0;
  *set_aside = 0;
  if (n <= 0 || n_bins <= 0) return n_bins;
  std::vector<double> keys(n);
  packing_keys(sizes, n, k, capacity, keys.data());
  std::vector<double> load(n_bins * k, 0.0);
  std::vector<MinHeap> least(k);
  for (i64 d = 0; d < k; ++d)
    for (i64 b = 0; b < n_bins; ++b) least[d].push({0.0, b});
  detail::with_sorted(keys.data(), n, order, [&](const std::vector<u64>&, const auto& items) {
    for (i64 p = 0; p < n; ++p) {
      const i64 i = static_cast<i64>(items[p]);
      const double* s = sizes + i * k;
      i64 best = -1;
      double best_peak = 0.0;
      for (i64 d = 0; d < k; ++d) {
        MinHeap& h = least[d];
        while (h.top().first != load[h.top().second * k + d] / capacity[d]) h.pop();  // stale
        const i64 b = h.top().second;
        double peak = 0.0;
        for (i64 e = 0; e < k; ++e) peak = std::max(peak, (load[b * k + e] + s[e]) / capacity[e]);
        if (best < 0 || peak < best_peak || (peak == best_peak && b < best)) best = b, best_peak = peak;
      }
      *peak = std::max(*peak, best_peak);
      double* l = &load[best * k];
      bool fits = true;
      for (i64 d = 0; d < k; ++d) fits = fits && l[d] + s[d] <= capacity[d];
      if (!fits) {  // the spread is full here: first fit places it afterwards
        bin_of_item[i] = -1;
        ++*set_aside;
        continue;
      }
      for (i64 d = 0; d < k; ++d) {
        l[d] += s[d];
        least[d].push({l[d] / capacity[d], best});
      }
      bin_of_item[i] = best;
    }
  });
  return *set_aside ? first_fit_rest(sizes, n, k, capacity, order, n_bins, bin_of_item) : n_bins;
}

}  // namespace hullpack::packing
