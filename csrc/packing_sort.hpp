// Shared by the packing kernels (packing.cpp) and the balancing kernels (balance.cpp): items
// sorted by decreasing key with a stable LSD radix sort on the keys' bit patterns, and the scatter
// of per-position results back to items. Internal to the core; not part of its headers.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace hullpack::packing::detail {

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

// out[items[p]] = chosen[p]. Scattering in one tight loop after the placement keeps many cache
// misses in flight; writing each item's bin as it is placed stalls the placement loop on them.
template <typename Chosen, typename Items>
void scatter(const std::vector<Chosen>& chosen, const Items& items, i64* out) {
  const std::size_t n = chosen.size();
  for (std::size_t p = 0; p < n; ++p) out[items[p]] = static_cast<i64>(chosen[p]);
}

}  // namespace hullpack::packing::detail
