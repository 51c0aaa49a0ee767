// Shared by the packing kernels (packing.cpp, pack_*.cpp) and the balancing kernels (balance.cpp):
// items sorted by decreasing key with a stable radix sort on the keys' bit patterns (one
// most-significant-digit pass, then least-significant-digit passes in cache), and the scatter of
// per-position results back to items. Internal to the core; not part of its headers.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "parallel.hpp"

namespace hullpack::packing::detail {

using i64 = std::int64_t;
using u64 = std::uint64_t;

// Index of the lowest set bit of x != 0.
inline int ctz(u64 x) {
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_ctzll(x);
#else
  int b = 0;
  while (!(x & 1)) x >>= 1, ++b;
  return b;
#endif
}

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

// Stable LSD radix sort of codes[lo, hi) (with items) on their low `bits` bits; 8-bit digits,
// skipping digits on which all codes agree. codes2/items2 are scratch of at least hi - lo values.
template <typename Index>
void lsd_sort(u64* codes, Index* items, std::size_t n, int bits, u64* codes2, Index* items2) {
  constexpr int kBits = 8;
  constexpr int kBuckets = 1 << kBits;
  if (n < 2 || bits <= 0) return;
  if (n <= 32) {  // insertion sort: stable, and cheaper than any histogram at this size
    for (std::size_t i = 1; i < n; ++i) {
      const u64 c = codes[i];
      const Index it = items[i];
      std::size_t j = i;
      for (; j > 0 && codes[j - 1] > c; --j) codes[j] = codes[j - 1], items[j] = items[j - 1];
      codes[j] = c, items[j] = it;
    }
    return;
  }
  const int digits = (bits + kBits - 1) / kBits;
  std::array<std::array<std::size_t, kBuckets>, 8> hist{};
  for (std::size_t i = 0; i < n; ++i) {
    const u64 c = codes[i];
    for (int d = 0; d < digits; ++d) ++hist[d][(c >> (d * kBits)) & (kBuckets - 1)];
  }
  u64 *from_c = codes, *to_c = codes2;
  Index *from_i = items, *to_i = items2;
  for (int d = 0; d < digits; ++d) {
    auto& h = hist[d];
    const int shift = d * kBits;
    if (h[(from_c[0] >> shift) & (kBuckets - 1)] == n) continue;  // every code shares this digit
    std::size_t sum = 0;
    for (auto& c : h) {
      const std::size_t t = c;
      c = sum;
      sum += t;
    }
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t dst = h[(from_c[i] >> shift) & (kBuckets - 1)]++;
      to_c[dst] = from_c[i];
      to_i[dst] = from_i[i];
    }
    std::swap(from_c, to_c);
    std::swap(from_i, to_i);
  }
  if (from_c != codes) {
    std::copy(from_c, from_c + n, codes);
    std::copy(from_i, from_i + n, items);
  }
}

// The highest bit in which some of codes[0, n) differ, or -1 when they are all equal.
inline int highest_differing_bit(const u64* codes, std::size_t n) {
  u64 all_and = ~u64{0}, all_or = 0;
  for (std::size_t i = 0; i < n; ++i) all_and &= codes[i], all_or |= codes[i];
  const u64 differ = all_and ^ all_or;
  int top = -1;
  for (int b = 63; b >= 0 && top < 0; --b)
    if (differ >> b & 1) top = b;
  return top;
}

// Stable sort of (code, item) pairs by code. Large inputs are split first by the 20 highest bits
// in which codes differ: a histogram of those prefixes merges consecutive prefixes into about 4096
// buckets of similar size (equal codes always share one), the pairs are scattered stably into
// their buckets, and each bucket is then sorted on the bits in which its codes differ while it
// sits in cache. Main memory is read and written about twice, instead of once per byte of the key
// as in a plain LSD radix sort. Index is uint32 when n allows, which cuts the traffic further.
template <typename Index>
void radix_sort(std::vector<u64>& codes, std::vector<Index>& items) {
  const std::size_t n = codes.size();
  const int top = highest_differing_bit(codes.data(), n);
  if (top < 0) return;
  // Scratch without value-initialisation: it is written before it is read.
  std::unique_ptr<u64[]> codes2(new u64[n]);
  std::unique_ptr<Index[]> items2(new Index[n]);
  constexpr std::size_t kTarget = 4096;  // buckets wanted
  constexpr int kPrefix = 20;
  if (n < 16 * kTarget || top < kPrefix) {
    lsd_sort(codes.data(), items.data(), n, top + 1, codes2.get(), items2.get());
    return;
  }
  const int shift = top + 1 - kPrefix;
  const std::size_t prefixes = std::size_t{1} << kPrefix;
  std::vector<Index> count(prefixes, 0);  // Index holds n
  for (std::size_t i = 0; i < n; ++i) ++count[(codes[i] >> shift) & (prefixes - 1)];
  // Consecutive prefixes share a bucket until it holds about n / kTarget pairs.
  std::vector<std::uint16_t> bucket_of(prefixes);
  std::vector<std::size_t> start(1, 0);
  for (std::size_t p = 0, held = 0; p < prefixes; ++p) {
    if (held > 0 && held + count[p] > n / kTarget && start.size() < 65535) {
      start.push_back(start.back() + held);
      held = 0;
    }
    bucket_of[p] = static_cast<std::uint16_t>(start.size() - 1);
    held += count[p];
  }
  start.push_back(n);
  std::vector<std::size_t> next(start.begin(), start.end() - 1);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t dst = next[bucket_of[(codes[i] >> shift) & (prefixes - 1)]]++;
    codes2[dst] = codes[i];
    items2[dst] = items[i];
  }
  // Each bucket sorted in the scratch (with its own span of codes/items as scratch), then copied
  // back from cache.
  for (std::size_t b = 0; b + 1 < start.size(); ++b) {
    const std::size_t at = start[b], m = start[b + 1] - at;
    u64* c = codes2.get() + at;
    Index* it = items2.get() + at;
    lsd_sort(c, it, m, highest_differing_bit(c, m) + 1, codes.data() + at, items.data() + at);
    std::copy(c, c + m, codes.data() + at);
    std::copy(it, it + m, items.data() + at);
  }
}

// Calls f(codes, items) with the items of `order` sorted by decreasing key (stable), as codes
// (descending_code of the key) and item indices of the narrowest fitting type.
template <typename F>
void with_sorted(const double* keys, i64 n, const i64* order, F&& f) {
  auto run = [&](auto index_tag) {
    using Index = decltype(index_tag);
    std::vector<u64> codes;
    std::vector<Index> items;
    codes.reserve(n);  // filled by push_back: no pass of zeros first
    items.reserve(n);
    for (i64 p = 0; p < n; ++p) {
      const i64 i = order ? order[p] : p;
      codes.push_back(descending_code(keys[i]));
      items.push_back(static_cast<Index>(i));
    }
    radix_sort(codes, items);
    f(codes, items);
  };
  if (n <= static_cast<i64>(std::numeric_limits<std::uint32_t>::max()))
    run(std::uint32_t{});
  else
    run(u64{});
}

// out[items[p]] = chosen[p]. Scattering in one tight loop after the placement keeps many cache
// misses in flight; writing each item's bin as it is placed stalls the placement loop on them.
// `items` is a permutation, so threads write disjoint entries (the same result on any team).
template <typename Chosen, typename Items>
void scatter(const std::vector<Chosen>& chosen, const Items& items, i64* out) {
  const i64 n = static_cast<i64>(chosen.size());
#ifdef HULLPACK_WITH_OPENMP
  const int threads = parallel::team_size(0, 1 + n / (i64{1} << 20));
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
  for (i64 p = 0; p < n; ++p) out[items[p]] = static_cast<i64>(chosen[p]);
}

}  // namespace hullpack::packing::detail
