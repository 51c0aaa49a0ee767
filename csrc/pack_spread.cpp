// Spreading items with several costs over a fixed number of bins, to pack into fewer bins than
// first fit where every bin holds many items (see hullpack/packing.hpp for the contract).
//
// First fit fills bins one after another; with several budgets a bin often fills up in one
// dimension while room is left in another, and that room stays unused (node and edge counts whose
// ratio varies around the ratio of the budgets lose 4-8% this way). Spreading keeps all bins open
// and puts each item, largest first, in the bin that complements it: of the candidate bins it
// fits, the one whose normalised loads have the least dot product with the item's normalised costs,
// so an item heavy in edges meets a bin heavy in nodes and every bin's loads follow the overall mix.
// The candidates are the least-loaded bins along a few directions (a heap of the bins by load . w
// for each direction w, keys raised in place as loads grow): the k axes and points between them on
// a coarse lattice of the simplex. With the axes alone, a bin a little below the others in both
// dimensions was never the least loaded in either, and batches ended full in one budget and 85-95%
// full in the other (4-5% more bins than the volume bound where a budget holds ~60 graphs whose
// edges per node vary 2-8x; 0.1% with the directions between). Bins too full for the item are
// looked past (a few, then the item is set aside), and each look past sinks the bin in that
// direction's order: bins full in one dimension and light in the others otherwise stay the least
// loaded there and use up the look of every item after (3% more bins at 16 graphs a batch, 0.6%
// with them sunk). A bin with less room in some dimension than every item still to place needs
// is dropped for good. O(n D (k + log bins)) for D directions.
// The items set aside are placed afterwards by first fit over all bins (their room left in other
// dimensions) and new ones, so a spread into slightly too few bins still packs into fewer bins
// than first fit alone, where many small items share a bin.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include "hullpack/packing.hpp"
#include "packing_sort.hpp"

namespace hullpack::packing {

namespace {

using detail::i64;
using detail::u64;

constexpr i64 kMaxDirections = 6;
// Bins an item looks past in one direction, and in all, before it is set aside: a bin too full for
// this item is often among the least loaded in some direction (full in one dimension only).
constexpr i64 kLookAhead = 16;
constexpr i64 kMisses = 24;
// After an item was set aside the next is likely to be too (the spread is full): it looks past few.
constexpr i64 kMissesAfterSetAside = 4;

// The integer points a >= 0 with sum(a) = r, for the largest r giving at most kMaxDirections of
// them (at least the k axes, r = 1), each scaled to sum 1: k = 2 and k = 3 give 6 directions, 4
// and more the axes.
std::vector<std::vector<double>> directions(i64 k) {
  auto count = [k](i64 r) {  // C(r + k - 1, k - 1)
    double c = 1;
    for (i64 j = 1; j < k; ++j) c = c * double(r + j) / double(j);
    return c;
  };
  i64 r = 1;
  while (k > 1 && count(r + 1) <= kMaxDirections) ++r;  // one dimension: one direction
  std::vector<std::vector<double>> out;
  std::vector<i64> a(k, 0);
  std::function<void(i64, i64)> fill = [&](i64 d, i64 left) {
    if (d == k - 1) {
      a[d] = left;
      out.emplace_back();
      for (const i64 x : a) out.back().push_back(static_cast<double>(x) / static_cast<double>(r));
      return;
    }
    for (i64 v = left; v >= 0; --v) a[d] = v, fill(d + 1, left - v);
  };
  fill(0, r);
  return out;
}

// A 4-ary min-heap of the bins by (key, bin), one entry per bin, whose keys only grow (loads only
// grow), with each bin's place in it: a key is raised in place, and the few least entries are read
// without taking any out. Keys live in the entries and four children share a cache line.
class BinHeap {
 public:
  explicit BinHeap(i64 n_bins) : heap_(n_bins), place_(n_bins) {
    for (i64 b = 0; b < n_bins; ++b) heap_[b] = {0.0, b}, place_[b] = b;  // all keys 0: in bin order
  }
  double key(i64 b) const { return heap_[place_[b]].key; }
  void raise(i64 b, double key) {
    i64 at = place_[b];
    const Node moved{key, b};
    const i64 size = static_cast<i64>(heap_.size());
    while (true) {
      const i64 first = 4 * at + 1;
      if (first >= size) break;
      i64 least = first;
      for (i64 c = first + 1; c < std::min(first + 4, size); ++c)
        if (heap_[c] < heap_[least]) least = c;
      if (!(heap_[least] < moved)) break;
      heap_[at] = heap_[least];
      place_[heap_[at].bin] = at;
      at = least;
    }
    heap_[at] = moved;
    place_[b] = at;
  }
  // Calls visit(bin) on the entries in increasing order until it returns true or `most` entries
  // were visited, skipping those of infinite key (dropped bins); frontier is scratch space.
  template <class Visit>
  void least(i64 most, std::vector<i64>& frontier, Visit visit) const {
    frontier.assign(1, 0);
    const i64 size = static_cast<i64>(heap_.size());
    for (i64 seen = 0; seen < most && !frontier.empty();) {
      auto next = std::min_element(frontier.begin(), frontier.end(),
                                   [&](i64 x, i64 y) { return heap_[x] < heap_[y]; });
      const i64 at = *next;
      *next = frontier.back();
      frontier.pop_back();
      if (heap_[at].key == std::numeric_limits<double>::infinity()) continue;  // it and all below: dropped
      ++seen;
      if (visit(heap_[at].bin)) return;
      for (i64 c = 4 * at + 1; c < std::min(4 * at + 5, size); ++c) frontier.push_back(c);
    }
  }

 private:
  struct Node {
    double key;
    i64 bin;
    bool operator<(const Node& o) const { return key < o.key || (key == o.key && bin < o.bin); }
  };
  std::vector<Node> heap_;
  std::vector<i64> place_;
};

}  // namespace

i64 spread(const double* sizes, i64 n, i64 k, const double* capacity, i64 n_bins, const i64* order,
           i64* bin_of_item, double* peak, i64* set_aside, const double* user_keys) {
  *peak = 0.0;
  *set_aside = 0;
  if (n <= 0 || n_bins <= 0) return n_bins;
  std::vector<double> key_store;
  const double* keys = placement_keys(sizes, n, k, capacity, user_keys, key_store);
  const std::vector<std::vector<double>> dirs = directions(k);
  const i64 n_dirs = static_cast<i64>(dirs.size());
  std::vector<double> load(n_bins * k, 0.0);
  // A bin looked past in a direction (too full for that item) sinks there by one per time: the key
  // is passes + load . w with load . w in [0, 1], so bins that fit most items come first and a
  // few full in one dimension stop using up every item's look (sunk is n_dirs x n_bins).
  std::vector<double> sunk(n_dirs * n_bins, 0.0);
  auto along = [&](i64 b, i64 j) {
    double key = sunk[j * n_bins + b];
    for (i64 d = 0; d < k; ++d)  // a zero weight skipped: 0 * an overflowed load would be NaN
      if (dirs[j][d] != 0.0) key += dirs[j][d] * (load[b * k + d] / capacity[d]);
    return key;
  };
  std::vector<BinHeap> least(n_dirs, BinHeap(n_bins));
  constexpr double kDropped = std::numeric_limits<double>::infinity();
  std::vector<i64> frontier;
  detail::with_sorted(keys, n, order, [&](const std::vector<u64>&, const auto& items) {
    // The least of each dimension over the items from position p on, as its change points (few
    // where the items come largest first): a bin with less room than that is dropped for good.
    std::vector<std::vector<std::pair<i64, double>>> least_from(k);
    for (i64 d = 0; d < k; ++d)
      for (i64 p = n - 1; p >= 0; --p) {
        const double s = sizes[static_cast<i64>(items[p]) * k + d];
        if (least_from[d].empty() || s < least_from[d].back().second) least_from[d].push_back({p, s});
      }
    std::vector<double> smallest(k), v(k);
    std::vector<i64> newly_full, missed;
    bool last_set_aside = false;
    for (i64 p = 0; p < n; ++p) {
      const i64 i = static_cast<i64>(items[p]);
      const double* s = sizes + i * k;
      for (i64 d = 0; d < k; ++d) {
        while (least_from[d].back().first < p) least_from[d].pop_back();
        smallest[d] = least_from[d].back().second;
        v[d] = s[d] / capacity[d];
      }
      i64 best = -1, closest = -1;  // the best bin it fits; the one it overflows least
      double best_dot = 0.0, best_peak = 0.0, closest_peak = 0.0;
      i64 misses = 0;
      const i64 miss_budget = last_set_aside ? kMissesAfterSetAside : kMisses;
      newly_full.clear();
      for (i64 j = 0; j < n_dirs && misses < miss_budget; ++j) {
        least[j].least(std::min(kLookAhead, miss_budget - misses + 1), frontier, [&](i64 b) {
          const double* l = &load[b * k];
          double dot = 0.0, bin_peak = 0.0;
          bool fits = true, full = false;
          for (i64 d = 0; d < k; ++d) {
            const double after = l[d] + s[d];
            dot += l[d] / capacity[d] * v[d];
            bin_peak = std::max(bin_peak, after / capacity[d]);
            fits = fits && after <= capacity[d];
            full = full || l[d] + smallest[d] > capacity[d];
          }
          if (full) {  // no item still to place fits: dropped after this item's look
            newly_full.push_back(b);
            return false;
          }
          if (fits && (best < 0 || dot < best_dot || (dot == best_dot && b < best)))
            best = b, best_dot = dot, best_peak = bin_peak;
          if (closest < 0 || bin_peak < closest_peak || (bin_peak == closest_peak && b < closest))
            closest = b, closest_peak = bin_peak;
          if (!fits) ++misses, missed.push_back(b);
          return fits || misses >= miss_budget;
        });
        for (const i64 b : missed) {  // after the look: raising a key reorders the heap it walked
          sunk[j * n_bins + b] += 1.0;
          least[j].raise(b, along(b, j));
        }
        missed.clear();
      }
      for (const i64 b : newly_full)
        for (i64 j = 0; j < n_dirs; ++j)
          if (least[j].key(b) != kDropped) least[j].raise(b, kDropped);
      last_set_aside = best < 0;
      if (best < 0) {  // the spread is full here: first fit places it afterwards
        if (closest >= 0) *peak = std::max(*peak, closest_peak);  // none open: no guide
        bin_of_item[i] = -1;
        ++*set_aside;
        continue;
      }
      *peak = std::max(*peak, best_peak);
      for (i64 d = 0; d < k; ++d) load[best * k + d] += s[d];
      for (i64 j = 0; j < n_dirs; ++j) least[j].raise(best, along(best, j));
      bin_of_item[i] = best;
    }
  });
  return *set_aside ? first_fit_rest(sizes, n, k, capacity, order, n_bins, bin_of_item, user_keys) : n_bins;
}

}  // namespace hullpack::packing
