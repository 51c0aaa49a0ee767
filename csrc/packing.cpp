// Bin packing and balanced partitioning (see hullpack/packing.hpp for the contracts).
//
// Items are ordered once by a stable LSD radix sort on the bit patterns of their keys, then placed
// with trees and ordered sets over the bins instead of a scan of the open bins:
//   - first fit, k == 1: an 8-ary min-tree over bin loads, descended to the leftmost bin with room;
//   - first fit, k > 1:  a binary tree of per-dimension minima and slack staircases, searched
//                        left-first with pruning (exact; visits more nodes when bins fill up in
//                        different dimensions);
//   - best fit,  k == 1: an ordered set of (load, bin), queried for the largest load that fits;
//   - best fit,  k > 1:  the k > 1 tree plus the maximum fill score per subtree (branch and bound);
//   - balancing: a radix heap of batch loads, then swaps between the heaviest and lightest batch.
// Loads are updated as `load + size` and compared as `load + size <= capacity`, in that order, so
// results equal a plain reference implementation bit for bit.
#include "hullpack/packing.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace hullpack::packing {

namespace {

using i64 = std::int64_t;
using u64 = std::uint64_t;

// Non-negative doubles order like their bit patterns; complementing them makes an ascending sort
// of the codes a decreasing sort of the values. -0.0 is folded into +0.0 first.
inline u64 descending_code(double v) {
  if (v == 0.0) v = 0.0;
  u64 u;
  std::memcpy(&u, &v, sizeof u);
  return ~u;
}

inline double decode(u64 code) {
  code = ~code;
  double v;
  std::memcpy(&v, &code, sizeof v);
  return v;
}

// Stable LSD radix sort of (code, item) pairs by code; 8-bit digits, skipping digits on which all
// codes agree. Index is uint32 when n allows, which cuts the memory traffic of each pass.
template <typename Index>
void radix_sort(std::vector<u64>& codes, std::vector<Index>& items) {
  constexpr int kBits = 8;
  constexpr int kBuckets = 1 << kBits;
  constexpr int kDigits = (64 + kBits - 1) / kBits;
  const std::size_t n = codes.size();
  if (n < 2) return;
  std::vector<std::array<std::size_t, kBuckets>> hist(kDigits);
  for (auto& h : hist) h.fill(0);
  for (std::size_t i = 0; i < n; ++i) {
    const u64 c = codes[i];
    for (int d = 0; d < kDigits; ++d) ++hist[d][(c >> (d * kBits)) & (kBuckets - 1)];
  }
  std::vector<u64> codes2(n);
  std::vector<Index> items2(n);
  for (int d = 0; d < kDigits; ++d) {
    auto& h = hist[d];
    const int shift = d * kBits;
    if (h[(codes[0] >> shift) & (kBuckets - 1)] == n) continue;  // every code shares this digit
    std::size_t sum = 0;
    for (auto& c : h) {
      const std::size_t t = c;
      c = sum;
      sum += t;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t dst = h[(codes[i] >> shift) & (kBuckets - 1)]++;
      codes2[dst] = codes[i];
      items2[dst] = items[i];
    }
    codes.swap(codes2);
    items.swap(items2);
  }
}

// Calls f(codes, items) with the items of `order` sorted by decreasing key (stable), as codes
// (descending_code of the key) and item indices of the narrowest fitting type.
template <typename F>
void with_sorted(const double* keys, i64 n, const i64* order, F&& f) {
  auto run = [&](auto index_tag) {
    using Index = decltype(index_tag);
    std::vector<u64> codes(n);
    std::vector<Index> items(n);
    for (i64 p = 0; p < n; ++p) {
      const i64 i = order ? order[p] : p;
      codes[p] = descending_code(keys[i]);
      items[p] = static_cast<Index>(i);
    }
    radix_sort(codes, items);
    f(codes, items);
  };
  if (n <= static_cast<i64>(std::numeric_limits<std::uint32_t>::max()))
    run(std::uint32_t{});
  else
    run(u64{});
}

i64 next_pow2(i64 v) {
  i64 p = 1;
  while (p < v) p <<= 1;
  return p;
}

[[noreturn]] void oversize(i64 item) {
  throw std::invalid_argument("item " + std::to_string(item) + " is larger than the capacity");
}

// out[items[p]] = chosen[p]. Scattering in one tight loop after the placement keeps many cache
// misses in flight; writing each item's bin as it is placed stalls the placement loop on them.
template <typename Items>
void scatter(const std::vector<i64>& chosen, const Items& items, i64* out) {
  const std::size_t n = chosen.size();
  for (std::size_t p = 0; p < n; ++p) out[items[p]] = chosen[p];
}

// ---- first fit, one dimension: 8-ary min-tree over bin loads --------------------------------
//
// Leaves are bins (unopened bins have load 0, so the leftmost leaf with room is either an open bin
// or the next bin to open); an inner node holds the minimum load below it. Eight children share a
// cache line, so a descent touches about log8(bins) lines instead of log2(bins) nodes. When every
// leaf is open and none has room, the tree becomes the leftmost subtree of a tree one level taller.
struct MinTree8 {
  int height = 0;           // leaves are level `height`, with 8^height nodes
  std::vector<i64> offset;  // start of each level in t, a multiple of 8
  std::vector<double> store;
  double* t = nullptr;      // store's first 64-byte boundary: sibling groups fill one cache line

  explicit MinTree8(i64 n_leaves) {
    i64 width = 8;
    for (height = 1; width < n_leaves; ++height) width *= 8;
    build();
  }

  i64 leaves() const { return offset[height + 1] - offset[height]; }

  void build() {
    offset.assign(height + 2, 0);
    for (int l = 0, w = 1; l <= height; ++l, w *= 8) offset[l + 1] = offset[l] + std::max(w, 8);
    store.assign(offset[height + 1] + 8, 0.0);
    const auto misaligned = reinterpret_cast<std::uintptr_t>(store.data()) % 64;
    t = store.data() + (misaligned ? (64 - misaligned) / sizeof(double) : 0);
  }

  void grow() {
    const std::vector<double> old(t, t + offset[height + 1]);
    const std::vector<i64> old_offset = offset;
    ++height;
    build();  // level l moves to level l + 1, same positions; the new root and the rest are 0
    for (int l = 0; l < height; ++l)
      std::copy(old.begin() + old_offset[l], old.begin() + old_offset[l + 1], t + offset[l + 1]);
    t[0] = 0.0;
  }
};

template <typename Items>
i64 first_fit_1d(const std::vector<u64>& codes, const Items& items, double cap, i64 bins_hint,
                 i64* bin_of_item) {
  MinTree8 tree(bins_hint);
  i64 n_bins = 0;
  const i64 n = static_cast<i64>(codes.size());
  std::vector<i64> chosen(n);  // bin by position in the sorted order: written sequentially
  for (i64 p = 0; p < n; ++p) {
    const double s = decode(codes[p]);
    if (tree.t[0] + s > cap) {  // no open bin has room and no unopened leaf is left
      if (n_bins < tree.leaves()) oversize(items[p]);
      tree.grow();
      if (tree.t[0] + s > cap) oversize(items[p]);
    }
    double* t = tree.t;
    const i64* off = tree.offset.data();
    const int height = tree.height;
    i64 v = 0;
    for (int l = 1; l <= height; ++l) {
      const double* child = t + off[l] + 8 * v;
      int j = 0;
      while (j < 7 && child[j] + s > cap) ++j;  // the parent has room, so some child has
      v = 8 * v + j;
    }
    const i64 b = v;
    if (b == n_bins) ++n_bins;
    t[off[height] + v] += s;
    for (int l = height; l > 0; --l) {
      const i64 parent = v / 8;
      const double* child = t + off[l] + 8 * parent;
      double m = child[0];
      for (int j = 1; j < 8; ++j) m = std::min(m, child[j]);
      double& up = t[off[l - 1] + parent];
      if (up == m) break;  // ancestors depend on this node only through its value
      up = m;
      v = parent;
    }
    chosen[p] = b;
  }
  scatter(chosen, items, bin_of_item);
  return n_bins;
}

// ---- best fit, one dimension: ordered set of (load, bin) -----------------------------------

struct LoadOrder {  // ascending load, then descending bin: the last entry <= x is the lowest bin
  bool operator()(const std::pair<double, i64>& a, const std::pair<double, i64>& b) const {
    return a.first < b.first || (a.first == b.first && a.second > b.second);
  }
};

// The largest double t with t + s <= cap (0 <= s <= cap). fl(t + s) is monotone in t, and so is
// the bit pattern of non-negative t, so gallop from cap - s over bit patterns, then bisect.
double largest_fitting_load(double s, double cap) {
  auto fits = [&](u64 bits) {
    double t;
    std::memcpy(&t, &bits, sizeof t);
    return t + s <= cap;
  };
  auto bits_of = [](double v) {
    u64 u;
    std::memcpy(&u, &v, sizeof u);
    return u;
  };
  const u64 top = bits_of(cap);
  if (fits(top)) return cap;  // loads never exceed cap
  u64 lo, hi;                 // fits(lo) and !fits(hi)
  const u64 start = bits_of(std::max(cap - s, 0.0));
  if (fits(start)) {
    lo = start;
    for (u64 step = 1;; step *= 2) {
      hi = lo + step < top ? lo + step : top;
      if (!fits(hi)) break;
      lo = hi;
    }
  } else {
    hi = start;
    for (u64 step = 1;; step *= 2) {
      lo = hi > step ? hi - step : 0;  // bits 0 is +0.0, which always fits
      if (fits(lo)) break;
      hi = lo;
    }
  }
  while (hi - lo > 1) {
    const u64 mid = lo + (hi - lo) / 2;
    (fits(mid) ? lo : hi) = mid;
  }
  double t;
  std::memcpy(&t, &lo, sizeof t);
  return t;
}

template <typename Items>
i64 best_fit_1d(const std::vector<u64>& codes, const Items& items, double cap, i64* bin_of_item) {
  std::set<std::pair<double, i64>, LoadOrder> bins;
  i64 n_bins = 0;
  const i64 n = static_cast<i64>(codes.size());
  std::vector<i64> chosen(n);
  for (i64 p = 0; p < n; ++p) {
    const double s = decode(codes[p]);
    if (s > cap) oversize(items[p]);
    auto it = bins.upper_bound({largest_fitting_load(s, cap), -1});
    i64 b;
    if (it == bins.begin()) {
      b = n_bins++;
      bins.insert({s, b});
    } else {
      --it;
      b = it->second;
      auto node = bins.extract(it);  // reuse the node: no allocation per item
      node.value().first += s;
      bins.insert(std::move(node));
    }
    chosen[p] = b;
  }
  scatter(chosen, items, bin_of_item);
  return n_bins;
}

// ---- k > 1: tree of per-dimension minimum loads, staircases, and fill scores ----------------
//
// A bin fits when every dimension has room, and "some bin below has room in dimension d" for each
// d separately does not mean one bin has room in all: once bins fill up in different dimensions,
// per-dimension minima stop pruning. So each node also keeps, for every dimension d >= 1, a
// staircase: at thresholds theta_j of normalised slack in dimension 0 (quantiles of the items'
// normalised sizes), the largest normalised slack in dimension d among bins whose dimension-0
// slack is at least theta_j. Both tests are necessary conditions (with a tolerance far above
// rounding), so the search is left-first with pruning and the answer is exact: at a leaf the
// minima are the loads themselves.
constexpr int kSteps = 32;

struct VecTree {
  i64 k, leaves;
  const double* cap;
  std::vector<double> theta;  // kSteps thresholds, descending; the last one admits every bin
  std::vector<double> mins;   // node * k + d
  std::vector<float> stair;   // (node * (k - 1) + d - 1) * kSteps + j
  std::vector<double> score;  // best fit: max over leaves of sum_d load_d / cap_d (-1 unopened)

  VecTree(i64 k_, i64 n_leaves, const double* cap_, std::vector<double> theta_)
      : k(k_), leaves(next_pow2(std::max<i64>(n_leaves, 2))), cap(cap_), theta(std::move(theta_)),
        mins(2 * leaves * k, 0.0), stair(2 * leaves * (k - 1) * kSteps, 1.0f), score(2 * leaves, -1.0) {}

  // The item's normalised sizes and staircase step, computed once per item.
  struct Query {
    const double* s;
    std::vector<double> sigma;  // sigma[d] = s[d] / cap[d] minus the tolerance
    int step;
  };

  void prepare(const double* s, Query& q) const {
    q.s = s;
    q.sigma.resize(k);
    for (i64 d = 0; d < k; ++d) q.sigma[d] = s[d] / cap[d] - 1e-6;
    const double sigma0 = s[0] / cap[0] - 1e-9;
    q.step = 0;
    while (q.step < kSteps - 1 && theta[q.step] > sigma0) ++q.step;
  }

  bool may_fit(i64 v, const Query& q) const {
    const double* m = &mins[v * k];
    for (i64 d = 0; d < k; ++d)
      if (m[d] + q.s[d] > cap[d]) return false;
    const float* st = &stair[v * (k - 1) * kSteps + q.step];
    for (i64 d = 1; d < k; ++d)
      if (st[(d - 1) * kSteps] < q.sigma[d]) return false;
    return true;
  }

  void pull(i64 v) {
    for (i64 d = 0; d < k; ++d) mins[v * k + d] = std::min(mins[2 * v * k + d], mins[(2 * v + 1) * k + d]);
    score[v] = std::max(score[2 * v], score[2 * v + 1]);
    const i64 w = (k - 1) * kSteps;
    float* out = &stair[v * w];
    const float* a = &stair[2 * v * w];
    const float* b = &stair[(2 * v + 1) * w];
    for (i64 j = 0; j < w; ++j) out[j] = std::max(a[j], b[j]);
  }

  void grow() {
    VecTree bigger(k, 2 * leaves, cap, theta);
    std::copy(mins.begin() + leaves * k, mins.end(), bigger.mins.begin() + bigger.leaves * k);
    const i64 w = (k - 1) * kSteps;
    std::copy(stair.begin() + leaves * w, stair.end(), bigger.stair.begin() + bigger.leaves * w);
    std::copy(score.begin() + leaves, score.end(), bigger.score.begin() + bigger.leaves);
    for (i64 v = bigger.leaves - 1; v >= 1; --v) bigger.pull(v);
    *this = std::move(bigger);
  }

  void add(i64 bin, const double* s) {
    i64 v = leaves + bin;
    double* m = &mins[v * k];
    double sc = 0.0;
    for (i64 d = 0; d < k; ++d) {
      m[d] += s[d];
      sc += m[d] / cap[d];
    }
    score[v] = sc;
    const double slack0 = (cap[0] - m[0]) / cap[0];
    float* st = &stair[v * (k - 1) * kSteps];
    for (i64 d = 1; d < k; ++d) {
      const auto slack = static_cast<float>((cap[d] - m[d]) / cap[d]);
      for (int j = 0; j < kSteps; ++j) st[(d - 1) * kSteps + j] = slack0 >= theta[j] ? slack : -1.0f;
    }
    while (v > 1) {
      v >>= 1;
      pull(v);
    }
  }

  i64 first_fit(i64 v, const Query& q) const {
    if (!may_fit(v, q)) return -1;
    if (v >= leaves) return v - leaves;
    const i64 left = first_fit(2 * v, q);
    return left >= 0 ? left : first_fit(2 * v + 1, q);
  }

  // Fullest leaf that fits, ties to the lowest: subtrees that cannot beat the best are skipped.
  void best_fit(i64 v, const Query& q, i64& best, double& best_score) const {
    if (score[v] <= best_score || !may_fit(v, q)) return;
    if (v >= leaves) {
      best = v - leaves;
      best_score = score[v];
      return;
    }
    best_fit(2 * v, q, best, best_score);
    best_fit(2 * v + 1, q, best, best_score);
  }
};

// Staircase thresholds: quantiles (descending) of dimension-0 normalised sizes over a strided
// sample of the items, then -inf so that the last step admits every bin.
std::vector<double> staircase_thresholds(const double* sizes, i64 n, i64 k, const double* cap) {
  const i64 stride = std::max<i64>(1, n / 4096);
  std::vector<double> sample;
  for (i64 i = 0; i < n; i += stride) sample.push_back(sizes[i * k] / cap[0]);
  std::sort(sample.begin(), sample.end(), std::greater<double>());
  std::vector<double> theta(kSteps);
  const i64 m = static_cast<i64>(sample.size());
  for (int j = 0; j < kSteps - 1; ++j) theta[j] = sample[j * (m - 1) / (kSteps - 2)];
  theta[kSteps - 1] = -std::numeric_limits<double>::infinity();
  return theta;
}

template <typename Items>
i64 pack_nd(const double* sizes, i64 n, i64 k, const double* cap, const Items& items, Method method,
            i64 bins_hint, i64* bin_of_item) {
  VecTree tree(k, bins_hint, cap, staircase_thresholds(sizes, n, k, cap));
  VecTree::Query q;
  i64 n_bins = 0;
  for (i64 p = 0; p < n; ++p) {
    const i64 i = static_cast<i64>(items[p]);
    const double* s = sizes + i * k;
    tree.prepare(s, q);
    i64 b = -1;
    for (int attempt = 0; attempt < 2 && b < 0; ++attempt) {
      if (method == Method::first_fit) {
        b = tree.first_fit(1, q);
      } else {
        double best_score = -2.0;  // below the -1 of unopened bins
        tree.best_fit(1, q, b, best_score);
      }
      if (b < 0) {  // every leaf is an open bin without room
        if (n_bins < tree.leaves) oversize(i);
        tree.grow();
      }
    }
    if (b < 0) oversize(i);
    if (b == n_bins) ++n_bins;
    tree.add(b, s);
    bin_of_item[i] = b;
  }
  return n_bins;
}

// ---- balancing -------------------------------------------------------------------------------

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
  scatter(chosen, items, bin_of_item);
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

}  // namespace

void decreasing_order(const double* keys, i64 n, const i64* order, i64* out) {
  with_sorted(keys, n, order, [&](const std::vector<u64>&, const auto& items) {
    for (i64 p = 0; p < n; ++p) out[p] = static_cast<i64>(items[p]);
  });
}

void packing_keys(const double* sizes, i64 n, i64 k, const double* capacity, double* keys) {
  if (k == 1) {
    std::copy(sizes, sizes + n, keys);
    return;
  }
  for (i64 i = 0; i < n; ++i) {
    double m = 0.0;
    for (i64 d = 0; d < k; ++d) m = std::max(m, sizes[i * k + d] / capacity[d]);
    keys[i] = m;
  }
}

i64 pack(const double* sizes, i64 n, i64 k, const double* capacity, const i64* order,
         Method method, i64* bin_of_item) {
  if (n <= 0) return 0;
  std::vector<double> key_store;
  const double* keys = sizes;
  if (k > 1) {
    key_store.resize(n);
    packing_keys(sizes, n, k, capacity, key_store.data());
    keys = key_store.data();
  }
  // Tree size from the volume bound; it doubles if first fit needs more.
  double most = 0.0;
  for (i64 d = 0; d < k; ++d) {
    double total = 0.0;
    for (i64 i = 0; i < n; ++i) total += sizes[i * k + d];
    most = std::max(most, total / capacity[d]);
  }
  const i64 hint = std::min<i64>(n, static_cast<i64>(1.25 * most) + 16);
  i64 n_bins = 0;
  with_sorted(keys, n, order, [&](const std::vector<u64>& codes, const auto& items) {
    if (k == 1)
      n_bins = method == Method::first_fit ? first_fit_1d(codes, items, capacity[0], hint, bin_of_item)
                                           : best_fit_1d(codes, items, capacity[0], bin_of_item);
    else
      n_bins = pack_nd(sizes, n, k, capacity, items, method, hint, bin_of_item);
  });
  return n_bins;
}

void balance(const double* costs, i64 n, i64 n_batches, const i64* order, bool refine,
             i64* bin_of_item) {
  if (n <= 0) return;
  if (n_batches < 1 || n_batches > n) throw std::invalid_argument("n_batches must be in 1..n");
  Batches batches;
  Batches* keep = refine && n_batches > 1 ? &batches : nullptr;
  with_sorted(costs, n, order, [&](const std::vector<u64>& codes, const auto& items) {
    lpt(codes, items, n_batches, bin_of_item, keep);
  });
  if (keep) refine_swaps(costs, n_batches, batches, bin_of_item);
}

double lower_bound_pack(const double* sizes, i64 n, i64 k, const double* capacity) {
  double bound = n > 0 ? 1.0 : 0.0;
  for (i64 d = 0; d < k; ++d) {
    long double total = 0.0L;
    i64 big = 0;
    const double half = 0.5 * capacity[d];
    for (i64 i = 0; i < n; ++i) {
      const double s = sizes[i * k + d];
      total += s;
      big += s > half;
    }
    // A relative 1e-12 keeps summation rounding from pushing an exact ratio to the next integer.
    const long double ratio = total / capacity[d];
    const double by_volume = static_cast<double>(std::ceil(ratio * (1.0L - 1e-12L)));
    bound = std::max({bound, by_volume, static_cast<double>(big)});
  }
  return bound;
}

double lower_bound_balance(const double* costs, i64 n, i64 n_batches) {
  if (n <= 0 || n_batches <= 0) return 0.0;
  long double total = 0.0L;
  i64 imax = 0;
  for (i64 i = 0; i < n; ++i) {
    total += costs[i];
    if (costs[i] > costs[imax]) imax = i;
  }
  const double mean = static_cast<double>(total / n_batches);
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
  return std::max(mean, static_cast<double>(costs[imax] + rest));
}

void batch_costs(const double* sizes, i64 n, i64 k, const i64* bin_of_item, i64 n_bins,
                 double* out) {
  std::fill(out, out + n_bins * k, 0.0);
  if (k == 1) {
    for (i64 i = 0; i < n; ++i) out[bin_of_item[i]] += sizes[i];
    return;
  }
  for (i64 i = 0; i < n; ++i) {
    double* o = out + bin_of_item[i] * k;
    for (i64 d = 0; d < k; ++d) o[d] += sizes[i * k + d];
  }
}

void group(const i64* bin_of_item, i64 n, i64 n_bins, i64* offsets, i64* items) {
  std::fill(offsets, offsets + n_bins + 1, 0);
  for (i64 i = 0; i < n; ++i) ++offsets[bin_of_item[i] + 1];
  for (i64 b = 0; b < n_bins; ++b) offsets[b + 1] += offsets[b];
  std::vector<i64> next(offsets, offsets + n_bins);
  for (i64 i = 0; i < n; ++i) items[next[bin_of_item[i]]++] = i;
}

}  // namespace hullpack::packing
