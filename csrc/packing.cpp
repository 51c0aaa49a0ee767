// Bin packing, its lower bound, and the per-bin helpers batch_costs and group (see
// hullpack/packing.hpp for the contracts; balancing is in balance.cpp).
//
// Items are ordered once by a stable LSD radix sort on the bit patterns of their keys
// (packing_sort.hpp), then placed with trees and ordered sets over the bins instead of a scan of
// the open bins:
//   - first fit, k == 1: an 8-ary min-tree over bin loads, descended to the leftmost bin with room;
//   - first fit, k > 1:  a binary tree of per-dimension minima and slack staircases, searched
//                        left-first with pruning (exact; visits more nodes when bins fill up in
//                        different dimensions);
//   - best fit,  k == 1: an ordered set of (load, bin), queried for the largest load that fits;
//   - best fit,  k > 1:  the k > 1 tree plus the maximum fill score per subtree (branch and bound).
// Loads are updated as `load + size` and compared as `load + size <= capacity`, in that order, so
// results equal a plain reference implementation bit for bit.
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

namespace hullpack::packing {

namespace {

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
  // In double until it is at most n: the volume bound is +inf when the sizes sum past the double
  // range, and casting a value beyond int64 to an integer is undefined.
  const double guess = 1.25 * most + 16.0;
  const i64 hint = guess < static_cast<double>(n) ? static_cast<i64>(guess) : n;
  i64 n_bins = 0;
  detail::with_sorted(keys, n, order, [&](const std::vector<u64>& codes, const auto& items) {
    if (k == 1)
      n_bins = method == Method::first_fit ? first_fit_1d(codes, items, capacity[0], hint, bin_of_item)
                                           : best_fit_1d(codes, items, capacity[0], bin_of_item);
    else
      n_bins = pack_nd(sizes, n, k, capacity, items, method, hint, bin_of_item);
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
    bound = std::max({bound, by_volume, static_cast<double>(big)});
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
