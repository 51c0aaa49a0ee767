// Bin packing, its lower bound, and the per-bin helpers batch_costs and group (see
// hullpack/packing.hpp for the contracts; balancing is in balance.cpp).
//
// Items are ordered once by a stable LSD radix sort on the bit patterns of their keys
// (packing_sort.hpp), then placed with trees and ordered sets over the bins instead of a scan of
// the open bins:
//   - first fit, k == 1: an 8-ary min-tree over bin loads, descended to the leftmost bin with room;
//   - first fit, k > 1:  a binary tree of per-dimension minima, searched left-first with pruning
//                        up to the first bin that surely fits, with a bounded number of visits
//                        (exact first fit while the visits last, see VecTree);
//   - best fit,  k == 1: an ordered set of (load, bin), queried for the largest load that fits;
//   - best fit,  k > 1:  the k > 1 tree plus the maximum fill score per subtree (branch and bound,
//                        bounded the same way).
// Loads are updated as `load + size` and compared as `load + size <= capacity`, in that order, so
// results equal a plain reference implementation bit for bit (for k > 1: while the search's
// visits last).
#include "hullpack/packing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "packing_sort.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace hullpack::packing {

namespace {

using detail::ctz;
using detail::decode;
using detail::i64;
using detail::scatter;
using detail::u64;

i64 next_pow2(i64 v) {
  i64 p = 1;
  while (p < v) p <<= 1;
  return p;
}

[[noreturn]] void oversize(i64 item) {
  throw std::invalid_argument("item " + std::to_string(item) + " is larger than the capacity");
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

// The size of the item at sorted position p: decoded from its sort code, or read from `sizes` where
// the items were ordered by other keys.
template <typename Items>
double size_at(const std::vector<u64>& codes, const Items& items, const double* sizes, i64 p) {
  return sizes ? sizes[static_cast<i64>(items[p])] : decode(codes[p]);
}

template <typename Items>
i64 first_fit_1d(const std::vector<u64>& codes, const Items& items, const double* keyed_sizes, double cap,
                 i64 bins_hint, i64* bin_of_item) {
  MinTree8 tree(bins_hint);
  i64 n_bins = 0;
  const i64 n = static_cast<i64>(codes.size());
  // Bin by position in the sorted order, written sequentially; as narrow as the item indices
  // (there are never more bins than items).
  std::vector<typename Items::value_type> chosen(n);
  for (i64 p = 0; p < n; ++p) {
    const double s = size_at(codes, items, keyed_sizes, p);
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
    chosen[p] = static_cast<typename Items::value_type>(b);
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
i64 best_fit_1d(const std::vector<u64>& codes, const Items& items, const double* keyed_sizes, double cap,
                i64* bin_of_item) {
  std::set<std::pair<double, i64>, LoadOrder> bins;
  i64 n_bins = 0;
  const i64 n = static_cast<i64>(codes.size());
  std::vector<i64> chosen(n);
  for (i64 p = 0; p < n; ++p) {
    const double s = size_at(codes, items, keyed_sizes, p);
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

// ---- k > 1: tree of per-dimension minimum loads, fill scores and fullest dimensions ----------
//
// A bin fits when every dimension has room. Each tree node keeps the minimum load of every
// dimension below it: "some bin below has room in dimension d" for each d is necessary for a fit
// below, so a left-first search with pruning finds the exact first fit. Each node also keeps the
// least "fullest dimension" (max_d load_d / cap_d) below it: one descent finds the first bin that
// surely fits (every dimension has room for the item's largest normalised size), and first fit
// is never beyond it, so the search stops there.
//
// Once bins fill up in different dimensions, per-dimension minima come from different bins and
// stop pruning: the search could visit O(bins) nodes for one item. So its visits come from a
// pool: kCredit at the start, plus kVisitsPerLevel per tree level for each item. An item may
// spend what the pool holds; when it runs dry the item goes to the first of the kRecent most
// recently opened bins that fits (best fit: the fullest), or to the first bin that surely fits if
// that comes earlier, else to a new bin. The whole packing visits O(n log bins) nodes of O(k)
// work each, and it is exactly first fit (or best fit) as long as the pool lasts: for the first
// few thousand items. Beyond, most searches run dry, and the fallback keeps the bin count close to
// exact first fit's (4 dimensions, 2e4-3e5 items: within one bin on node/edge-like sizes, 0.6% on
// anti-correlated ones).
constexpr i64 kVisitsPerLevel = 1;
constexpr i64 kCredit = i64{1} << 16;
constexpr i64 kRecent = 32;

// K > 0 fixes the number of dimensions at compile time (k == K), so the per-dimension loops unroll.
template <int K>
class VecTree {
 public:
  i64 k, leaves, height = 0;

  VecTree(i64 k_, i64 n_leaves, const double* cap_)
      : k(k_), leaves(next_pow2(std::max<i64>(n_leaves, 2))), cap_(cap_), stride_(k + 2),
        store_(2 * leaves * stride_, 0.0), loads_(k * (leaves + 8), 0.0) {
    while ((i64{1} << height) < leaves) ++height;
    for (i64 v = 1; v < 2 * leaves; ++v) score(v) = -1.0;
  }

  // The item's sizes and the room a bin needs in its fullest dimension to surely fit it.
  struct Query {
    const double* s;
    double room;  // a bin whose every normalised load is <= room surely fits
  };

  Query prepare(const double* s) const {
    double largest = 0.0;
    for (i64 d = 0; d < dims(); ++d) largest = std::max(largest, s[d] / cap_[d]);
    return {s, 1.0 - largest - 1e-9};
  }

  void grow() {
    VecTree bigger(k, 2 * leaves, cap_);
    std::copy_n(node(leaves), leaves * stride_, bigger.node(bigger.leaves));
    for (i64 d = 0; d < dims(); ++d)
      std::copy_n(&loads_[d * (leaves + 8)], leaves, &bigger.loads_[d * (bigger.leaves + 8)]);
    for (i64 v = bigger.leaves - 1; v >= 1; --v) bigger.pull(v);
    *this = std::move(bigger);
  }

  void add(i64 bin, const double* s) {
    i64 v = leaves + bin;
    double* m = node(v);
    double sc = 0.0, full = 0.0;
    for (i64 d = 0; d < dims(); ++d) {
      m[d] += s[d];
      loads_[d * (leaves + 8) + bin] = m[d];
      sc += m[d] / cap_[d];
      full = std::max(full, m[d] / cap_[d]);
    }
    m[dims()] = sc;
    m[dims() + 1] = full;
    while (v > 1 && pull(v >>= 1)) {
    }
  }

  // The bin for an item (-1: a new one), spending at most `budget` visits of the search.
  i64 choose(const Query& q, Method method, i64 n_bins, i64& budget) const {
    const i64 sure = sure_fit(q);  // a leaf that surely fits, `leaves` if none
    i64 b = -1;
    bool exhausted;
    if (method == Method::first_fit) {
      b = first_fit(sure, q, budget);  // first fit is never beyond `sure`
      exhausted = b == -2;
      if (b == -1) b = sure;
    } else {
      double best_score = -2.0;  // below the -1 of unopened bins
      best_fit(q, b, best_score, budget);
      exhausted = budget <= 0 && (b < 0 || b >= n_bins);
    }
    if (!exhausted) return b < n_bins ? b : -1;  // an unopened leaf means a new bin
    // Out of visits: the first recent bin that fits (best fit: the fullest), or the first bin
    // that surely fits if that comes earlier, or a new bin.
    // First fit needs only the recent bins before `sure` (mostly itself a recent bin).
    const i64 end = method == Method::first_fit ? std::min(n_bins, sure) : n_bins;
    b = -1;
    for (i64 lo = std::max<i64>(0, n_bins - kRecent); lo < end; lo += 8) {
      // Which of up to 8 bins fit, without a branch per bin and dimension.
      for (unsigned mask = fit_mask(lo, std::min<i64>(8, end - lo), q); mask; mask &= mask - 1) {
        const i64 r = lo + ctz(mask);
        if (method == Method::first_fit) {
          b = r;
          break;
        }
        if (b < 0 || score(leaves + r) > score(leaves + b)) b = r;
      }
      if (method == Method::first_fit && b >= 0) break;
    }
    return sure < n_bins && (b < 0 || sure < b) ? sure : b;
  }

 private:
  const double* cap_;
  // Node v (1 .. 2 * leaves - 1) is stride_ doubles at v * stride_: the k minimum loads, the
  // best-fit score (max over leaves of sum_d load_d / cap_d, -1 unopened) and the least fullest
  // dimension (min over leaves of max_d load_d / cap_d).
  i64 stride_;
  std::vector<double> store_;
  // The bins' loads again, dimension by dimension (k rows of leaves + 8): 8 neighbouring bins'
  // loads in one dimension are contiguous for fit_mask.
  std::vector<double> loads_;

  i64 dims() const { return K > 0 ? K : k; }
  i64 stride() const { return K > 0 ? K + 2 : stride_; }
  double* node(i64 v) { return store_.data() + v * stride(); }
  const double* node(i64 v) const { return store_.data() + v * stride(); }
  double& score(i64 v) { return node(v)[dims()]; }
  double score(i64 v) const { return node(v)[dims()]; }
  double fullest(i64 v) const { return node(v)[dims() + 1]; }

  // Bit j set when bin lo + j fits (j < count <= 8).
  unsigned fit_mask(i64 lo, i64 count, const Query& q) const {
    unsigned mask = count == 8 ? 0xffu : (1u << count) - 1;
    for (i64 d = 0; d < dims() && mask; ++d) {  // 8 bins at a time, branch-free (bins past the end
      const double* load = &loads_[d * (leaves + 8) + lo];  // are masked off)
      const double s = q.s[d], c = cap_[d];
#if defined(__SSE2__)  // the same IEEE additions and comparisons, two bins per instruction
      const __m128d sv = _mm_set1_pd(s), cv = _mm_set1_pd(c);
      unsigned room = 0;
      for (int j = 0; j < 8; j += 2)
        room |= static_cast<unsigned>(_mm_movemask_pd(_mm_cmple_pd(_mm_add_pd(_mm_loadu_pd(load + j), sv), cv))) << j;
#else
      unsigned room = 0;
      for (int j = 0; j < 8; ++j) room |= static_cast<unsigned>(load[j] + s <= c) << j;
#endif
      mask &= room;
    }
    return mask;
  }

  // Every dimension has room below v (at a leaf: the bin fits).
  bool may_fit(i64 v, const Query& q) const {
    const double* m = node(v);
    for (i64 d = 0; d < dims(); ++d)
      if (m[d] + q.s[d] > cap_[d]) return false;
    return true;
  }

  // Node v from its children; whether it changed (if not, no ancestor changes either).
  bool pull(i64 v) {
    double* out = node(v);
    const double* a = node(2 * v);
    const double* b = node(2 * v + 1);
    bool changed = false;
    for (i64 d = 0; d <= dims() + 1; ++d) {
      const double value = d == dims() ? std::max(a[d], b[d]) : std::min(a[d], b[d]);
      changed |= out[d] != value;
      out[d] = value;
    }
    return changed;
  }

  // The lowest-numbered leaf whose every normalised load leaves room for the item's largest
  // normalised size (so it surely fits), by one descent; `leaves` when there is none.
  i64 sure_fit(const Query& q) const {
    if (fullest(1) > q.room) return leaves;
    i64 v = 1;
    while (v < leaves) v = fullest(2 * v) <= q.room ? 2 * v : 2 * v + 1;
    return v - leaves;
  }

  // Left-first search (depth first, without recursion) for the lowest-numbered leaf below `stop`
  // that fits, spending `budget`: the leaf, -1 when none fits, -2 when the budget ran out first.
  i64 first_fit(i64 stop, const Query& q, i64& budget) const {
    i64 v = 1, lo = 0, width = leaves;  // node v covers leaves lo .. lo + width - 1
    while (lo < stop) {  // every node after one at or beyond `stop` is too
      if (--budget < 0) return -2;
      if (may_fit(v, q)) {
        if (v >= leaves) return v - leaves;
        v *= 2, width /= 2;  // its left child next
        continue;
      }
      for (; v & 1; v >>= 1, width *= 2) lo -= width;  // up from right children
      if (v == 0) return -1;  // (the root is 1: climbing from it ends at 0)
      ++v, lo += width;  // the right sibling
    }
    return -1;
  }

  // Fullest leaf that fits, ties to the lowest, depth first without recursion: subtrees that
  // cannot beat the best are skipped; stops when the budget is spent, with the best found so far.
  void best_fit(const Query& q, i64& best, double& best_score, i64& budget) const {
    i64 v = 1;
    while (budget > 0) {
      bool descend = false;
      if (score(v) > best_score) {
        --budget;
        if (may_fit(v, q)) {
          if (v < leaves) {
            descend = true;
          } else {
            best = v - leaves;
            best_score = score(v);
          }
        }
      }
      if (descend) {
        v *= 2;
        continue;
      }
      while (v & 1) v >>= 1;  // up from right children (from the root: to 0, the end)
      if (v == 0) return;
      ++v;  // the right sibling
    }
  }
};

// With n_bins > 0, bins 0..n_bins-1 already hold the items whose bin_of_item is >= 0, which keep
// their bins; the others are placed after them. With n_bins == 0 every item is placed.
template <int K, typename Items>
i64 pack_nd(const double* sizes, i64 n, i64 k, const double* cap, const Items& items, Method method,
            i64 bins_hint, i64* bin_of_item, i64 n_bins = 0) {
  if (K > 0) k = K;  // a constant for the loops below
  VecTree<K> tree(k, std::max(bins_hint, n_bins), cap);
  if (n_bins > 0)
    for (i64 i = 0; i < n; ++i)
      if (bin_of_item[i] >= 0) tree.add(bin_of_item[i], sizes + i * k);
  // The sizes in placement order, gathered in one tight loop (many loads in flight) rather than
  // one cache miss at a time inside the placement loop; bins are scattered back the same way.
  std::vector<double> seq(n * k);
  for (i64 p = 0; p < n; ++p) {
    const double* from = sizes + static_cast<i64>(items[p]) * k;
    for (i64 d = 0; d < k; ++d) seq[p * k + d] = from[d];
  }
  std::vector<i64> chosen(n);
  const bool placed_before = n_bins > 0;
  i64 pool = kCredit;
  for (i64 p = 0; p < n; ++p) {
    if (placed_before && (chosen[p] = bin_of_item[static_cast<i64>(items[p])]) >= 0) continue;
    const double* s = &seq[p * k];
    for (i64 d = 0; d < k; ++d)
      if (!(s[d] <= cap[d])) oversize(static_cast<i64>(items[p]));
    pool = std::min(pool + kVisitsPerLevel * (tree.height + 1), kCredit);
    i64 b = tree.choose(tree.prepare(s), method, n_bins, pool);
    pool = std::max<i64>(pool, 0);
    if (b < 0) {
      b = n_bins++;
      if (b == tree.leaves) tree.grow();
    }
    tree.add(b, s);
    chosen[p] = b;
  }
  scatter(chosen, items, bin_of_item);
  return n_bins;
}

// pack_nd with the number of dimensions fixed at compile time where it is 2, 3 or 4.
template <typename Items>
i64 pack_nd_any(const double* sizes, i64 n, i64 k, const double* cap, const Items& items, Method method,
                i64 bins_hint, i64* bin_of_item, i64 n_bins = 0) {
  return k == 2   ? pack_nd<2>(sizes, n, k, cap, items, method, bins_hint, bin_of_item, n_bins)
         : k == 3 ? pack_nd<3>(sizes, n, k, cap, items, method, bins_hint, bin_of_item, n_bins)
         : k == 4 ? pack_nd<4>(sizes, n, k, cap, items, method, bins_hint, bin_of_item, n_bins)
                  : pack_nd<0>(sizes, n, k, cap, items, method, bins_hint, bin_of_item, n_bins);
}

// Martello and Toth's L2 bound in dimension d, over up to 255 thresholds alpha (sizes <= C / 2
// from a strided sample). For each alpha: items above C - alpha (J1) share a bin with no item of
// size >= alpha; items in (C / 2, C - alpha] (J2) pairwise never share a bin, and the room they
// leave is all that items in [alpha, C / 2] (J3) can use besides bins of their own, so
//   L(alpha) = |J1| + |J2| + max(0, ceil((sum J3 - (|J2| C - sum J2)) / C)).
// C is widened by a relative 1e-9 (more than the rounding of any bin's load summed in double), so
// the bound holds for bins filled under `load + size <= capacity` in double.
double martello_toth_l2(const double* sizes, i64 n, i64 k, i64 d, double capacity) {
  const long double C = capacity * (1.0L + 1e-9L), half = C / 2;
  std::vector<double> alpha;
  for (i64 i = 0, stride = std::max<i64>(1, n / 4096); i < n; i += stride) {
    const double s = sizes[i * k + d];
    if (s > 0 && s <= half) alpha.push_back(s);
  }
  std::sort(alpha.begin(), alpha.end());
  alpha.erase(std::unique(alpha.begin(), alpha.end()), alpha.end());
  if (alpha.size() > 255) {
    std::vector<double> fewer(255);
    for (std::size_t j = 0; j < fewer.size(); ++j) fewer[j] = alpha[j * (alpha.size() - 1) / 254];
    alpha.swap(fewer);
  }
  const i64 A = static_cast<i64>(alpha.size());
  if (A == 0) return 0.0;
  // Items <= C / 2 by how many alphas are <= them; items > C / 2 by how many alphas put them in J1.
  std::vector<long double> s3(A + 1, 0), n2(A + 1, 0), s2(A + 1, 0);
  for (i64 i = 0; i < n; ++i) {
    const double s = sizes[i * k + d];
    if (s > half) {
      const long double rest = C - s;  // J1 for the alphas above it
      const i64 m = A - (std::upper_bound(alpha.begin(), alpha.end(), rest,
                                          [](long double v, double a) { return v < a; }) - alpha.begin());
      n2[m] += 1, s2[m] += s;
    } else if (s >= alpha[0]) {
      const i64 j = std::upper_bound(alpha.begin(), alpha.end(), s) - alpha.begin();
      s3[j] += s;
    }
  }
  // For alpha_j: J3 = small items with index > j; J1 = big items with m >= A - j, J2 the others.
  long double best = 0, t3 = 0;
  std::vector<long double> big_n(A + 2, 0), big_s(A + 2, 0);  // suffix sums over m
  for (i64 m = A; m >= 0; --m) big_n[m] = big_n[m + 1] + n2[m], big_s[m] = big_s[m + 1] + s2[m];
  for (i64 j = A - 1; j >= 0; --j) {
    t3 += s3[j + 1];
    const long double j1 = big_n[A - j], j12 = big_n[0], sum2 = big_s[0] - big_s[A - j];
    const long double j2 = j12 - j1;
    const long double fill = std::ceil((t3 - (j2 * C - sum2)) / C * (1.0L - 1e-12L));
    best = std::max(best, j12 + std::max<long double>(0, fill));
  }
  return best > 1e300L ? std::numeric_limits<double>::infinity() : static_cast<double>(best);
}

}  // namespace

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

const double* placement_keys(const double* sizes, i64 n, i64 k, const double* capacity, const double* keys,
                             std::vector<double>& store) {
  if (keys) return keys;
  if (k == 1) return sizes;
  store.resize(n);
  packing_keys(sizes, n, k, capacity, store.data());
  return store.data();
}

i64 pack(const double* sizes, i64 n, i64 k, const double* capacity, const i64* order,
         Method method, i64* bin_of_item, const double* user_keys) {
  if (n <= 0) return 0;
  std::vector<double> key_store;
  const double* keys = placement_keys(sizes, n, k, capacity, user_keys, key_store);
  // Tree size from the volume bound; it doubles if first fit needs more.
  double most = 0.0;
  for (i64 d = 0; d < k; ++d) {
    double total = 0.0;
    for (i64 i = 0; i < n; ++i) total += sizes[i * k + d];
    most = std::max(most, total / capacity[d]);
  }
  // In double until it is at most n: the volume bound is +inf when the sizes sum past the double
  // range, and casting a value beyond int64 to an integer is undefined.
  const double guess = 1.25 * most + 16.0;
  const i64 hint = guess < static_cast<double>(n) ? static_cast<i64>(guess) : n;
  const double* keyed_sizes = user_keys ? sizes : nullptr;  // k == 1: sizes no longer in the sort codes
  i64 n_bins = 0;
  detail::with_sorted(keys, n, order, [&](const std::vector<u64>& codes, const auto& items) {
    if (k == 1)
      n_bins = method == Method::first_fit ? first_fit_1d(codes, items, keyed_sizes, capacity[0], hint, bin_of_item)
                                           : best_fit_1d(codes, items, keyed_sizes, capacity[0], bin_of_item);
    else
      n_bins = pack_nd_any(sizes, n, k, capacity, items, method, hint, bin_of_item);
  });
  return n_bins;
}

i64 first_fit_rest(const double* sizes, i64 n, i64 k, const double* capacity, const i64* order, i64 n_bins,
                   i64* bin_of_item, const double* user_keys) {
  std::vector<double> key_store;
  const double* keys = placement_keys(sizes, n, k, capacity, user_keys, key_store);
  detail::with_sorted(keys, n, order, [&](const std::vector<u64>&, const auto& items) {
    n_bins = pack_nd_any(sizes, n, k, capacity, items, Method::first_fit, n_bins, bin_of_item, n_bins);
  });
  return n_bins;
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
    const long double volume = std::ceil(ratio * (1.0L - 1e-12L));
    const double by_volume = volume > std::numeric_limits<double>::max() ? std::numeric_limits<double>::infinity()
                                                                         : static_cast<double>(volume);
    // L2 adds to the volume bound only through items above half the capacity.
    const double l2 = big > 0 ? martello_toth_l2(sizes, n, k, d, capacity[d]) : 0.0;
    bound = std::max({bound, by_volume, static_cast<double>(big), l2});
  }
  return bound;
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
