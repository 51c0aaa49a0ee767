// Balanced partitioning (see hullpack/packing.hpp for the contract; the lower bound is in
// balance_bound.cpp).
//
// Items are taken in decreasing order of their key (a stable radix sort, packing_sort.hpp) and dealt
// largest first under the cardinality constraint, in one of two ways:
// - plain: each item to the lightest batch with room, by key, in a radix heap of batch loads.
//   Loads are summed in assignment order, so the split equals a plain reference implementation bit
//   for bit. Refine::none and Refine::lightest start from it.
// - by projected load (projected_lpt): each item to the batch with room whose load plus its free
//   slots times the mean remaining key is least; Refine::exchange starts from it.
// The refinements then work on the real costs:
// - Refine::lightest swaps items between the heaviest and the lightest batch while that lowers the
//   heaviest (the default refinement before Refine::exchange; kept for comparison).
// - Refine::exchange (class Exchange) repeatedly makes an exchange between the heaviest batch h and
//   another batch b that lowers h: a swap of an item of h for a cheaper item of b, of two items for
//   two (in batches of at most kPairSlots items), or, when h holds q + 1 items and b only q, a move
//   of an item of h to b. Each shifts some cost d from h to b; with the gap g = load[h] - load[b] it
//   lowers the pair's peak when 0 < d < g, the most when d is nearest g / 2 (the pair's new peak is
//   (load[h] + load[b]) / 2 + |d - g / 2|). Rounds stop when no exchange of h is found, or after
//   kVisitsPerItem * n + kVisitsBase item visits: O(n) in all, plus O(n_batches log n_batches) for
//   an ordered set of the loads and O(log n_batches + q) per exchange made. Every exchange lowers
//   the heaviest batch's load and raises another to less than that: the peak never rises.
// Everything is deterministic and in double arithmetic: equal input, equal split, on any process.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <initializer_list>
#include <set>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <vector>

#include "hullpack/packing.hpp"
#include "packing_sort.hpp"

namespace hullpack::packing {

namespace {

using detail::decode;
using detail::i64;
using detail::u64;

// Index of the highest set bit of x != 0.
inline int top_bit(u64 x) {
#if defined(__GNUC__) || defined(__clang__)
  return 63 - __builtin_clzll(x);
#else
  int b = 0;
  while (x >>= 1) ++b;
  return b;
#endif
}

// A monotone priority queue of batches keyed by (load, id): largest-first only ever adds to the
// lightest batch, so no key pushed is below the last one popped, and a radix heap applies. Keys
// sit in buckets by the highest bit in which they differ from the last minimum; only the lowest
// non-empty bucket is ever scanned and split. Non-negative loads order like their bit patterns,
// and the id breaks ties towards the lowest-numbered batch.
class BatchQueue {
 public:
  struct Key {
    u64 load_bits, id;
    bool operator<(const Key& o) const { return load_bits < o.load_bits || (load_bits == o.load_bits && id < o.id); }
  };

  void push(double load, i64 id) {
    u64 bits;
    std::memcpy(&bits, &load, sizeof bits);
    const Key key{bits, static_cast<u64>(id)};
    buckets_[bucket(key)].push_back(key);
  }

  // The lightest batch (ties: lowest id), removed from the queue. The queue must not be empty.
  std::pair<double, i64> pop() {
    if (buckets_[0].empty()) {
      int i = 1;
      while (buckets_[i].empty()) ++i;
      auto& from = buckets_[i];
      last_ = *std::min_element(from.begin(), from.end());
      for (const Key& key : from) buckets_[bucket(key)].push_back(key);  // all land below i
      from.clear();
    }
    const Key key = buckets_[0].back();  // keys are unique (ids are), so this is last_
    buckets_[0].pop_back();
    double load;
    std::memcpy(&load, &key.load_bits, sizeof load);
    return {load, static_cast<i64>(key.id)};
  }

 private:
  int bucket(const Key& key) const {
    if (u64 x = key.load_bits ^ last_.load_bits) return 65 + top_bit(x);
    if (u64 x = key.id ^ last_.id) return 1 + top_bit(x);
    return 0;
  }

  Key last_{0, 0};
  std::array<std::vector<Key>, 129> buckets_;
};

// Each batch's items and real load, kept for the refinements.
template <typename Index>
struct Batches {
  i64 width = 0;             // q + 1 slots per batch
  std::vector<Index> slots;  // batch b: slots[b * width .. b * width + count[b])
  std::vector<i64> count;
  std::vector<double> load;  // the sum of the batch's real costs

  Index* begin(i64 b) { return slots.data() + b * width; }
  Index* end(i64 b) { return begin(b) + count[b]; }
  const Index* begin(i64 b) const { return slots.data() + b * width; }
  const Index* end(i64 b) const { return begin(b) + count[b]; }

  // Batch b's real load, summed in slot order (the refinements' order, so the sums they compare
  // are reproducible).
  double sum(const double* costs, i64 b) const {
    double s = 0.0;
    for (const Index* it = begin(b); it != end(b); ++it) s += costs[*it];
    return s;
  }
};

// Largest first with cardinalities q or q + 1 (at most r = n % B batches get q + 1), by the keys
// whose codes are given: each item goes to the lightest batch with room. Returns the batch of each
// position in the sorted order.
template <typename Index>
std::vector<Index> plain_lpt(const std::vector<u64>& codes, i64 n_batches) {
  const i64 n = static_cast<i64>(codes.size());
  const i64 q = n / n_batches;
  i64 extra = n % n_batches;  // batches that may still take a (q + 1)-th item
  BatchQueue queue;
  for (i64 b = 0; b < n_batches; ++b) queue.push(0.0, b);
  std::vector<Index> chosen(n);  // written sequentially
  std::vector<i64> count(n_batches, 0);
  for (i64 p = 0; p < n; ++p) {
    auto [load, b] = queue.pop();
    while (count[b] == q && extra == 0) std::tie(load, b) = queue.pop();  // full: extras ran out
    chosen[p] = static_cast<Index>(b);
    load += decode(codes[p]);
    if (++count[b] == q + 1)
      --extra;  // full
    else
      queue.push(load, b);
  }
  return chosen;
}

// Largest first by projected load: each item goes to the batch with room whose load plus its free
// slots (up to q) times the mean key of the items not yet dealt is least, i.e. the least
// load - count * mean. Plain largest first hands a batch that got a large item early the mid-sized
// items dealt while it is the lightest, and it fills up before the small items come; counting its
// free slots at the mean keeps it for the small ones. The refinement that follows polishes the
// result, so loads are compared on a grid (step: the mean key / 64, or coarser so that the grid
// has at most kCells cells): batches wait in bucket lists by (count, grid cell of their load), and
// an item takes the head of the least cell of the best count. O(n) list operations, plus the cells
// skipped and c counts in play compared per item (a few: batches fill at similar paces).
constexpr i64 kProjectedCounts = 1 << 16;  // q beyond this (few batches): the plain split instead

template <typename Index>
std::vector<Index> projected_lpt(const std::vector<u64>& codes, i64 n_batches) {
  constexpr i64 kCells = i64{1} << 23;
  const i64 n = static_cast<i64>(codes.size());
  const i64 q = n / n_batches;
  i64 extra = n % n_batches;
  double rest = 0.0, heaviest = 0.0;  // the keys not yet dealt; the q + 1 largest, a bound on any load
  for (i64 p = 0; p < n; ++p) {
    rest += decode(codes[p]);
    if (p == q) heaviest = rest;
  }
  if (q + 1 >= n) heaviest = rest;
  // Keys summing past the double range: no grid spans the loads (its step would be inf and the
  // cell counts NaN), so deal them by the plain split.
  if (!std::isfinite(rest)) return plain_lpt<Index>(codes, n_batches);
  double step = rest / static_cast<double>(n) / 64;
  i64 width = 2;  // cells per count (q < kProjectedCounts, so most >= 16)
  if (step > 0.0) {
    const double want = heaviest / step + 2;
    const double most = static_cast<double>(kCells / (q + 1));
    if (want > most) step = heaviest / (most - 2);
    width = static_cast<i64>(std::min(want, most));
  } else {
    step = 1.0;
  }
  const auto cell = [&](double load) { return std::min(width - 1, static_cast<i64>(load / step)); };

  constexpr Index kNone = std::numeric_limits<Index>::max();
  std::vector<Index> first((q + 1) * width, kNone), next(n_batches, kNone);
  std::vector<i64> lowest(q + 1, 0), size(q + 1, 0);  // per count: no batch below cell `lowest`
  std::vector<double> load(n_batches, 0.0);
  const auto put = [&](i64 k, i64 b) {
    const i64 c = cell(load[b]);
    next[b] = first[k * width + c];
    first[k * width + c] = static_cast<Index>(b);
    lowest[k] = std::min(lowest[k], c);
    ++size[k];
  };
  for (i64 b = n_batches - 1; b >= 0; --b) put(0, b);  // batch 0 heads the list
  std::vector<Index> chosen(n);
  i64 k_lo = 0, k_hi = 0;  // counts in play
  for (i64 p = 0; p < n; ++p) {
    const double mean = rest / static_cast<double>(n - p);
    i64 k_best = -1;
    double key_best = 0.0;
    for (i64 k = k_lo; k <= k_hi; ++k) {
      if (size[k] == 0 || (k == q && extra == 0)) continue;
      while (first[k * width + lowest[k]] == kNone) ++lowest[k];
      const double key = static_cast<double>(lowest[k]) * step - static_cast<double>(k) * mean;
      if (k_best < 0 || key < key_best) {
        k_best = k;
        key_best = key;
      }
    }
    Index& head = first[k_best * width + lowest[k_best]];
    const i64 b = head;
    head = next[b];
    --size[k_best];
    const double cost = decode(codes[p]);
    chosen[p] = static_cast<Index>(b);
    load[b] += cost;
    rest -= cost;
    const i64 k = k_best + 1;
    if (k == q + 1) {
      --extra;  // full
    } else if (k < q || extra > 0) {
      put(k, b);
      k_hi = std::max(k_hi, k);
    }
    while (k_lo < k_hi && size[k_lo] == 0) ++k_lo;
  }
  return chosen;
}

// The real load of each batch of `chosen` (summed in position order).
template <typename Items>
std::vector<double> real_loads(const std::vector<typename Items::value_type>& chosen, const std::vector<u64>& codes,
                               const Items& items, const double* costs, i64 n_batches) {
  std::vector<double> load(n_batches, 0.0);
  for (std::size_t p = 0; p < chosen.size(); ++p) load[chosen[p]] += costs ? costs[items[p]] : decode(codes[p]);
  return load;
}

// Writes bin_of_item from `chosen` and, with keep, each batch's items and real load.
template <typename Items>
void finish(const std::vector<typename Items::value_type>& chosen, const std::vector<u64>& codes, const Items& items,
            const double* costs, i64 n_batches, i64* bin_of_item, Batches<typename Items::value_type>* keep) {
  const i64 n = static_cast<i64>(codes.size()), q = n / n_batches;
  detail::scatter(chosen, items, bin_of_item);
  if (!keep) return;
  keep->width = q + 1;
  keep->slots.resize(n_batches * (q + 1));
  keep->count.assign(n_batches, 0);
  for (i64 p = 0; p < n; ++p) {
    const i64 b = chosen[p];
    keep->slots[b * (q + 1) + keep->count[b]++] = items[p];
  }
  keep->load = real_loads(chosen, codes, items, costs, n_batches);
}

// Swaps items between the heaviest and the lightest batch while that lowers the heaviest.
template <typename Index>
void refine_lightest(const double* costs, i64 n_batches, Batches<Index>& batches, i64* bin_of_item) {
  std::vector<double>& load = batches.load;
  std::set<std::pair<double, i64>> by_load;
  for (i64 b = 0; b < n_batches; ++b) by_load.insert({load[b], b});

  std::vector<std::pair<double, Index*>> light;  // the lightest batch's items by cost
  const i64 max_swaps = 4 * n_batches + 64;      // termination is guaranteed; this bounds the time
  for (i64 swaps = 0; swaps < max_swaps; ++swaps) {
    const i64 hb = std::prev(by_load.end())->second, lb = by_load.begin()->second;
    const double hi = load[hb], lo = load[lb];
    const double gap = hi - lo;
    if (!(gap > 0.0)) break;
    light.clear();
    for (Index* it = batches.begin(lb); it != batches.end(lb); ++it) light.push_back({costs[*it], it});
    std::sort(light.begin(), light.end());
    // Moving a out and b in changes the pair's loads by delta = a - b: best near gap / 2.
    double best_peak = hi;
    Index *best_a = nullptr, *best_b = nullptr;
    for (Index* ia = batches.begin(hb); ia != batches.end(hb); ++ia) {
      const double a = costs[*ia];
      const auto at = std::lower_bound(light.begin(), light.end(), a - gap / 2,
                                       [](const auto& e, double v) { return e.first < v; }) - light.begin();
      for (auto c = at - 1; c <= at; ++c) {
        if (c < 0 || c >= static_cast<decltype(c)>(light.size())) continue;
        const double b = light[c].first;
        if (!(b < a)) continue;
        const double peak = std::max(hi - a + b, lo - b + a);
        if (peak < best_peak) {
          best_peak = peak;
          best_a = ia;
          best_b = light[c].second;
        }
      }
    }
    if (!best_a) break;
    std::swap(*best_a, *best_b);
    const double new_hi = batches.sum(costs, hb), new_lo = batches.sum(costs, lb);
    if (!(std::max(new_hi, new_lo) < hi)) {  // rounding ate the gain: undo and stop
      std::swap(*best_a, *best_b);
      break;
    }
    by_load.erase({hi, hb});
    by_load.erase({lo, lb});
    by_load.insert({load[hb] = new_hi, hb});
    by_load.insert({load[lb] = new_lo, lb});
    bin_of_item[*best_a] = hb;
    bin_of_item[*best_b] = lb;
  }
}

// Refine::exchange (see the top of this file).
template <typename Index>
class Exchange {
 public:
  static constexpr i64 kEvaluate = 4;        // batches evaluated in full before taking the best found
  static constexpr i64 kCheck = 1024;        // batches checked per scan of the load order (but the last)
  static constexpr i64 kRuns = 4;            // near search: runs of equal key tried below each item ...
  static constexpr i64 kRunItems = 16;       // ... and items tried in each run
  static constexpr i64 kPairSlots = 9;       // batches of at most this many items also swap two for two
  static constexpr i64 kVisitsPerItem = 8;   // the time bound: item visits per item ...
  static constexpr i64 kVisitsBase = i64{1} << 24;  // ... plus these

  // codes/items: all items in decreasing order of key (as lpt took them); keys: null when costs.
  Exchange(const double* costs, const double* keys, const std::vector<u64>& codes, const Index* items,
           i64 n_batches, Batches<Index>& batches, i64* bin_of_item)
      : costs_(costs), keys_(keys ? keys : costs), codes_(codes), items_(items), n_(codes.size()), bt_(batches),
        bin_of_item_(bin_of_item), pairs_(largest_batch(n_, n_batches) <= kPairSlots), sorted_(n_batches, 0),
        lo_(n_batches), hi_(n_batches) {
    std::vector<std::pair<double, i64>> loads(n_batches);
    for (i64 b = 0; b < n_batches; ++b) {
      loads[b] = {bt_.load[b], b};
      auto [lo, hi] = std::minmax_element(bt_.begin(b), bt_.end(b), [this](Index x, Index y) { return less(x, y); });
      lo_[b] = costs_[*lo];
      hi_[b] = costs_[*hi];
    }
    std::sort(loads.begin(), loads.end());
    by_load_ = std::set<std::pair<double, i64>>(loads.begin(), loads.end());  // linear: sorted input
  }

  // Exchanges until the heaviest batch has none that lowers it, or the visit budget is spent.
  void run() {
    budget_ = kVisitsPerItem * n_ + kVisitsBase;
    while (visits_ < budget_) {
      const auto [H, h] = *std::prev(by_load_.end());
      sort_batch(h);
      if (pairs_) pairs_of(h, h_pairs_);
      Best best{H};
      scan(h, H, false, kCheck, best);
      if (!best.found()) scan(h, H, true, kCheck, best);
      if (!best.found()) scan_near(h, H, best);
      if (!best.found()) scan(h, H, false, std::numeric_limits<i64>::max(), best);  // all of them, at last
      if (!best.found() || !apply(h, H, best)) break;
    }
  }

 private:
  struct Best {
    double peak;                    // the pair's peak after the exchange (to beat: the heaviest load)
    i64 b = -1;                     // the other batch
    std::array<Index, 2> out{}, in{};  // items leaving h for b, items leaving b for h
    int n_out = 0, n_in = 0;
    bool found() const { return b >= 0; }
  };

  struct Pair {
    double sum;
    Index i, j;
    bool operator<(const Pair& o) const { return sum < o.sum || (sum == o.sum && (i < o.i || (i == o.i && j < o.j))); }
  };

  // The most items a batch holds: q + 1 when n % n_batches > 0, else q.
  static i64 largest_batch(i64 n, i64 n_batches) { return (n + n_batches - 1) / n_batches; }

  bool less(Index x, Index y) const { return costs_[x] < costs_[y] || (costs_[x] == costs_[y] && x < y); }

  // Sorts batch b's items by cost (then index) the first time it is needed.
  void sort_batch(i64 b) {
    if (sorted_[b]) return;
    sorted_[b] = 1;
    std::sort(bt_.begin(b), bt_.end(b), [this](Index x, Index y) { return less(x, y); });
    visits_ += 2 * bt_.count[b];
  }

  // Batch b's pairs of items by their summed cost.
  void pairs_of(i64 b, std::vector<Pair>& out) {
    out.clear();
    for (const Index* i = bt_.begin(b); i != bt_.end(b); ++i)
      for (const Index* j = i + 1; j != bt_.end(b); ++j) out.push_back({costs_[*i] + costs_[*j], *i, *j});
    std::sort(out.begin(), out.end());
    visits_ += 4 * static_cast<i64>(out.size());
  }

  // Shifting d from h (load H) to b (load L): `out` leave h for b, `in` leave b for h.
  void offer(double d, double H, i64 b, double L, std::initializer_list<Index> out, std::initializer_list<Index> in,
             Best& best) const {
    if (!(d > 0.0 && d < H - L)) return;
    const double peak = std::max(H - d, L + d);
    if (!(peak < best.peak)) return;
    best = Best{peak, b};
    for (const Index i : out) best.out[best.n_out++] = i;
    for (const Index i : in) best.in[best.n_in++] = i;
  }

  // Batches from the lightest up (or, with `down`, from the heaviest below h down): those whose
  // item range admits an exchange (a cheap check on their cheapest and dearest items) are evaluated
  // in full, the best exchange with each kept.
  void scan(i64 h, double H, bool down, i64 most, Best& best) {
    const Index *hb = bt_.begin(h), *he = bt_.end(h);
    i64 checked = 0, evaluated = 0;
    auto visit = [&](double L, i64 b) {  // false: stop the scan
      if (!(L < H)) return down;  // h itself, or a tie with it: the rest (up) or the next (down)
      if (!down && best.found() && !((H + L) / 2 < best.peak)) return false;  // none from here on does better
      const double g = H - L;
      const bool can_move = bt_.count[h] > bt_.count[b];
      // A swap of one item needs a of h and x of b with a - g < x < a: so lo_[b] < a < hi_[b] + g.
      const Index* a = std::upper_bound(hb, he, lo_[b], [this](double v, Index i) { return v < costs_[i]; });
      if (!(a != he && costs_[*a] < hi_[b] + g) && !can_move && !pairs_) return true;
      sort_batch(b);
      evaluate(h, H, b, L, can_move, best);
      return !(best.found() && ++evaluated >= kEvaluate);
    };
    if (down) {
      for (auto it = by_load_.rbegin(); it != by_load_.rend() && checked < most && visits_ < budget_; ++it, ++checked)
        if (!visit(it->first, it->second)) break;
    } else {
      for (auto it = by_load_.begin(); it != by_load_.end() && checked < most && visits_ < budget_; ++it, ++checked)
        if (!visit(it->first, it->second)) break;
    }
    visits_ += checked;
  }

  // The best exchange between h (load H) and b (load L < H), if it beats best.
  void evaluate(i64 h, double H, i64 b, double L, bool can_move, Best& best) {
    const double half = (H - L) / 2;
    const Index *hb = bt_.begin(h), *he = bt_.end(h), *bb = bt_.begin(b), *be = bt_.end(b);
    // Swaps: for a ascending, the items x of b nearest a - g / 2 ascend too.
    const Index* x = bb;
    for (const Index* a = hb; a != he; ++a) {
      const double ca = costs_[*a];
      while (x != be && costs_[*x] < ca - half) ++x;
      if (x != bb) offer(ca - costs_[x[-1]], H, b, L, {*a}, {x[-1]}, best);
      if (x != be) offer(ca - costs_[*x], H, b, L, {*a}, {*x}, best);
    }
    // Moves: h gives one item to a batch with one item fewer (q + 1 -> q, q -> q + 1).
    if (can_move) {
      const Index* a = std::lower_bound(hb, he, half, [this](Index i, double v) { return costs_[i] < v; });
      if (a != he) offer(costs_[*a], H, b, L, {*a}, {}, best);
      if (a != hb) offer(costs_[a[-1]], H, b, L, {a[-1]}, {}, best);
    }
    visits_ += (he - hb) + (be - bb);
    // Two for two, in small batches (few single swaps to choose from): the same scan on pair sums.
    if (pairs_) {
      pairs_of(b, b_pairs_);
      auto y = b_pairs_.begin();
      for (const Pair& p : h_pairs_) {
        while (y != b_pairs_.end() && y->sum < p.sum - half) ++y;
        if (y != b_pairs_.begin()) offer(p.sum - y[-1].sum, H, b, L, {p.i, p.j}, {y[-1].i, y[-1].j}, best);
        if (y != b_pairs_.end()) offer(p.sum - y->sum, H, b, L, {p.i, p.j}, {y->i, y->j}, best);
      }
      visits_ += static_cast<i64>(h_pairs_.size() + b_pairs_.size());
    }
  }

  // When no batch near either end of the load order admits an exchange: for each item a of h,
  // items a little cheaper, wherever they are. In the global order by key (the cost order, or
  // nearly so with coarsened keys), the kRuns runs of equal key just below a's key are tried,
  // kRunItems items of each, spread evenly over the run (neighbours in a run were dealt to
  // batches alike).
  void scan_near(i64 h, double H, Best& best) {
    const double L_min = by_load_.begin()->first;
    for (const Index* a = bt_.begin(h); a != bt_.end(h); ++a) {
      const double ca = costs_[*a];
      auto p = std::upper_bound(codes_.begin(), codes_.end(), detail::descending_code(keys_[*a]));
      for (i64 run = 0; run < kRuns && p != codes_.end(); ++run) {
        const auto end = std::upper_bound(p, codes_.end(), *p);
        const i64 len = end - p, step = std::max<i64>(1, len / kRunItems);
        bool beyond = false;  // all items from here on cost too little to help
        for (i64 i = 0; i < len && i < step * kRunItems; i += step) {
          const Index x = items_[(p - codes_.begin()) + i];
          const i64 b = bin_of_item_[x];
          const double d = ca - costs_[x];
          beyond = beyond || !(d < H - L_min);
          if (b != h) offer(d, H, b, bt_.load[b], {*a}, {x}, best);
        }
        visits_ += std::min(len, kRunItems) + 64;
        if (beyond) break;
        p = end;
      }
    }
  }

  // Removes item from batch b (sorted).
  void take(i64 b, Index item) {
    Index* at = std::lower_bound(bt_.begin(b), bt_.end(b), item, [this](Index x, Index y) { return less(x, y); });
    std::copy(at + 1, bt_.end(b), at);
    --bt_.count[b];
  }

  // Inserts item into batch b (sorted), which has room.
  void put(i64 b, Index item) {
    Index* at = std::lower_bound(bt_.begin(b), bt_.end(b), item, [this](Index x, Index y) { return less(x, y); });
    std::copy_backward(at, bt_.end(b), bt_.end(b) + 1);
    *at = item;
    ++bt_.count[b];
  }

  // Moves `out` from h to b and `in` from b to h (all taken before any is put: room stays).
  void exchange(i64 h, i64 b, const Best& e) {
    for (int k = 0; k < e.n_out; ++k) take(h, e.out[k]);
    for (int k = 0; k < e.n_in; ++k) take(b, e.in[k]);
    for (int k = 0; k < e.n_out; ++k) put(b, e.out[k]);
    for (int k = 0; k < e.n_in; ++k) put(h, e.in[k]);
  }

  // Makes the exchange if, summed again, it does lower the pair's peak below H (rounding may eat a
  // gain of a few ulps); else leaves the batches as they were and returns false.
  bool apply(i64 h, double H, const Best& e) {
    const i64 b = e.b;
    const double L = bt_.load[b];
    sort_batch(b);
    exchange(h, b, e);
    const double new_h = bt_.sum(costs_, h), new_b = bt_.sum(costs_, b);
    if (!(std::max(new_h, new_b) < H)) {
      Best back = e;  // undo
      std::swap(back.out, back.in);
      std::swap(back.n_out, back.n_in);
      exchange(h, b, back);
      return false;
    }
    by_load_.erase({H, h});
    by_load_.erase({L, b});
    by_load_.insert({bt_.load[h] = new_h, h});
    by_load_.insert({bt_.load[b] = new_b, b});
    for (const i64 c : {h, b}) {
      lo_[c] = costs_[*bt_.begin(c)];
      hi_[c] = costs_[bt_.end(c)[-1]];
    }
    for (int k = 0; k < e.n_out; ++k) bin_of_item_[e.out[k]] = b;
    for (int k = 0; k < e.n_in; ++k) bin_of_item_[e.in[k]] = h;
    visits_ += 4 * bt_.width;
    return true;
  }

  const double* costs_;
  const double* keys_;
  const std::vector<u64>& codes_;
  const Index* items_;
  i64 n_;
  Batches<Index>& bt_;
  i64* bin_of_item_;
  bool pairs_;
  std::vector<std::uint8_t> sorted_;
  std::vector<double> lo_, hi_;  // each batch's cheapest and dearest item
  std::set<std::pair<double, i64>> by_load_;
  std::vector<Pair> h_pairs_, b_pairs_;
  i64 visits_ = 0, budget_ = 0;
};

}  // namespace

// Up to this many items, Refine::exchange also computes the plain largest-first split and starts
// from it unless the projected split's real peak is lower (so the result is never above the plain
// split's peak); beyond, from the projected split alone (the plain one would cost another pass and
// practically never wins there).
constexpr i64 kPlainToo = i64{1} << 16;

void balance(const double* costs, i64 n, i64 n_batches, const i64* order, Refine refine, i64* bin_of_item,
             const double* keys) {
  if (n <= 0) return;
  if (n_batches < 1 || n_batches > n) throw std::invalid_argument("n_batches must be in 1..n");
  const bool refining = refine != Refine::none && n_batches > 1;
  detail::with_sorted(keys ? keys : costs, n, order, [&](const std::vector<u64>& codes, const auto& items) {
    using Index = typename std::decay_t<decltype(items)>::value_type;
    const double* real = keys ? costs : nullptr;  // null: the costs are the keys (decoded in order)
    // Refine::exchange starts from the split by projected load; up to kPlainToo items from the
    // plain one instead, unless the projected split's real peak is lower.
    const bool projected = refine == Refine::exchange && refining && n / n_batches < kProjectedCounts;
    std::vector<Index> chosen;
    if (projected) chosen = projected_lpt<Index>(codes, n_batches);
    if (!projected || n <= kPlainToo) {
      std::vector<Index> plain = plain_lpt<Index>(codes, n_batches);
      const auto peak = [&](const std::vector<Index>& c) {
        const std::vector<double> load = real_loads(c, codes, items, real, n_batches);
        return *std::max_element(load.begin(), load.end());
      };
      if (!projected || !(peak(chosen) < peak(plain))) chosen.swap(plain);
    }
    Batches<Index> batches;
    finish(chosen, codes, items, real, n_batches, bin_of_item, refining ? &batches : nullptr);
    if (!refining) return;
    chosen = std::vector<Index>();
    if (refine == Refine::lightest)
      refine_lightest(costs, n_batches, batches, bin_of_item);
    else
      Exchange<Index>(costs, keys, codes, items.data(), n_batches, batches, bin_of_item).run();
  });
}

}  // namespace hullpack::packing
