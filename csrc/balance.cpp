// Balanced partitioning and its lower bound (see hullpack/packing.hpp for the contracts).
//
// Largest first with a cardinality constraint: items in decreasing order of cost (a stable radix
// sort, packing_sort.hpp) each go to the lightest batch that still has room, kept in a radix heap
// of batch loads; then swaps between the heaviest and the lightest batch while that lowers the
// heaviest. Loads are summed in assignment order, so results equal a plain reference
// implementation bit for bit.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
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

// Each batch's items (in the order they were assigned) and load, kept for the refinement pass.
struct Batches {
  i64 width = 0;              // q + 1 slots per batch
  std::vector<i64> slots;     // batch b: slots[b * width .. b * width + count[b])
  std::vector<i64> count;
  std::vector<double> load;

  i64* begin(i64 b) { return slots.data() + b * width; }
  i64* end(i64 b) { return begin(b) + count[b]; }
};

// Largest first with cardinalities q or q + 1 (at most r = n % B batches get q + 1).
template <typename Items>
void lpt(const std::vector<u64>& codes, const Items& items, i64 n_batches, i64* bin_of_item,
         Batches* keep) {
  const i64 n = static_cast<i64>(codes.size());
  const i64 q = n / n_batches;
  i64 extra = n % n_batches;  // batches that may still take a (q + 1)-th item
  BatchQueue queue;
  for (i64 b = 0; b < n_batches; ++b) queue.push(0.0, b);
  std::vector<i64> chosen(n);  // batch by position in the sorted order: written sequentially
  std::vector<i64> count(n_batches, 0);
  for (i64 p = 0; p < n; ++p) {
    auto [load, b] = queue.pop();
    while (count[b] == q && extra == 0) std::tie(load, b) = queue.pop();  // full: extras ran out
    chosen[p] = b;
    load += decode(codes[p]);
    if (++count[b] == q + 1)
      --extra;  // full
    else
      queue.push(load, b);
  }
  detail::scatter(chosen, items, bin_of_item);
  if (keep) {  // each batch's items and load, summed in the same order as above
    keep->width = q + 1;
    keep->slots.resize(n_batches * (q + 1));
    keep->load.assign(n_batches, 0.0);
    keep->count.assign(n_batches, 0);
    for (i64 p = 0; p < n; ++p) {
      const i64 b = chosen[p];
      keep->slots[b * (q + 1) + keep->count[b]++] = static_cast<i64>(items[p]);
      keep->load[b] += decode(codes[p]);
    }
  }
}

// Swaps items between the heaviest and the lightest batch while that lowers the heaviest.
void refine_swaps(const double* costs, i64 n_batches, Batches& batches, i64* bin_of_item) {
  auto load_of = [&](i64 b) {  // summed in assignment order, as the loads from lpt were
    double s = 0.0;
    for (const i64* it = batches.begin(b); it != batches.end(b); ++it) s += costs[*it];
    return s;
  };
  std::vector<double>& load = batches.load;
  std::set<std::pair<double, i64>> by_load;
  for (i64 b = 0; b < n_batches; ++b) by_load.insert({load[b], b});

  std::vector<std::pair<double, i64*>> light;  // the lightest batch's items by cost
  const i64 max_swaps = 4 * n_batches + 64;    // termination is guaranteed; this bounds the time
  for (i64 swaps = 0; swaps < max_swaps; ++swaps) {
    const i64 hb = std::prev(by_load.end())->second, lb = by_load.begin()->second;
    const double hi = load[hb], lo = load[lb];
    const double gap = hi - lo;
    if (!(gap > 0.0)) break;
    light.clear();
    for (i64* it = batches.begin(lb); it != batches.end(lb); ++it) light.push_back({costs[*it], it});
    std::sort(light.begin(), light.end());
    // Moving a out and b in changes the pair's loads by delta = a - b: best near gap / 2.
    double best_peak = hi;
    i64 *best_a = nullptr, *best_b = nullptr;
    for (i64* ia = batches.begin(hb); ia != batches.end(hb); ++ia) {
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
    const double new_hi = load_of(hb), new_lo = load_of(lb);
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

// A long double total as a double: +inf beyond the double range (a plain conversion of an
// out-of-range value is undefined).
double to_double(long double v) {
  return v > std::numeric_limits<double>::max() ? std::numeric_limits<double>::infinity() : static_cast<double>(v);
}

}  // namespace

void balance(const double* costs, i64 n, i64 n_batches, const i64* order, bool refine,
             i64* bin_of_item) {
  if (n <= 0) return;
  if (n_batches < 1 || n_batches > n) throw std::invalid_argument("n_batches must be in 1..n");
  Batches batches;
  Batches* keep = refine && n_batches > 1 ? &batches : nullptr;
  detail::with_sorted(costs, n, order, [&](const std::vector<u64>& codes, const auto& items) {
    lpt(codes, items, n_batches, bin_of_item, keep);
  });
  if (keep) refine_swaps(costs, n_batches, batches, bin_of_item);
}

double lower_bound_balance(const double* costs, i64 n, i64 n_batches) {
  if (n <= 0 || n_batches <= 0) return 0.0;
  long double total = 0.0L;
  i64 imax = 0;
  for (i64 i = 0; i < n; ++i) {
    total += costs[i];
    if (costs[i] > costs[imax]) imax = i;
  }
  const double mean = to_double(total / n_batches);
  const i64 m = n / n_batches;  // the smallest cardinality: the largest item's batch has >= m
  const i64 want = m - 1;       // the other items in it: at least the want smallest others
  long double rest = 0.0L;
  if (want > 0) {
    std::vector<double> others;
    others.reserve(n - 1);
    for (i64 i = 0; i < n; ++i)
      if (i != imax) others.push_back(costs[i]);
    std::nth_element(others.begin(), others.begin() + (want - 1), others.end());
    for (i64 j = 0; j < want; ++j) rest += others[j];
  }
  return std::max(mean, to_double(costs[imax] + rest));
}

}  // namespace hullpack::packing
