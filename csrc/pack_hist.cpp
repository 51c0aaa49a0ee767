// Best-fit-decreasing over histograms, for integer sizes (node counts, token lengths): O(n + S)
// for sizes up to S, plus one step per bin that takes items of a size (see hullpack/packing.hpp).
//
// Best fit puts each item into the bin with the least room that still fits it. With integer sizes
// and capacity C, bins are only told apart by their room r in 0..C, so the open bins are kept as a
// histogram over r (a stack of bin ids per level and a bitset of non-empty levels). Sizes are taken
// in decreasing order, all items of size s at once: the smallest level r >= s holds the bins best
// fit would pick, and each such bin takes floor(r / s) items in a row (after each, its room r - s
// is again the smallest that fits, until it drops below s); then the next bin of level r, then the
// next level; a new bin (room C) when no level >= s is left. Each step places at least one item or
// empties a level, so the placement costs O(n + S) steps overall, and the loads evolve exactly as
// item-by-item best-fit-decreasing: the same bin count as `pack(..., best_fit)`, bins differing
// only in which of several equally full bins an item joins.
//
// Where the items go is recorded as runs (bin, count) per size; a last pass over the items in the
// placement sequence hands the j-th item of size s the j-th slot of size s (in parallel over
// chunks of items when the sequence is the identity: each chunk starts at the slots that the
// chunks before it use, from per-chunk counts, so the result does not depend on the threads).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <type_traits>
#include <vector>

#include "hullpack/packing.hpp"
#include "packing_sort.hpp"
#include "parallel.hpp"

namespace hullpack::packing {

namespace {

using detail::ctz;
using detail::i64;
using detail::u64;
using u32 = std::uint32_t;

constexpr i64 kMaxLevels = i64{1} << 20;  // capacity levels kept; larger capacities use first fit
constexpr u32 kNone = std::numeric_limits<u32>::max();

// A set of levels 0..levels-1 as a three-level bitset: `next(x)`, the smallest member >= x, looks
// at one word per level at most (plus a scan of <= 16 top words).
class LevelSet {
 public:
  explicit LevelSet(i64 levels)
      : l0_((levels + 63) / 64, 0), l1_((l0_.size() + 63) / 64, 0), l2_((l1_.size() + 63) / 64, 0) {}

  void insert(i64 x) {
    l0_[x >> 6] |= u64{1} << (x & 63);
    l1_[x >> 12] |= u64{1} << ((x >> 6) & 63);
    l2_[x >> 18] |= u64{1} << ((x >> 12) & 63);
  }

  void erase(i64 x) {
    if ((l0_[x >> 6] &= ~(u64{1} << (x & 63))) != 0) return;
    if ((l1_[x >> 12] &= ~(u64{1} << ((x >> 6) & 63))) != 0) return;
    l2_[x >> 18] &= ~(u64{1} << ((x >> 12) & 63));
  }

  i64 next(i64 x) const {  // -1 when no member is >= x
    const i64 w0 = x >> 6;
    if (w0 >= size(l0_)) return -1;
    if (const u64 bits = l0_[w0] & (~u64{0} << (x & 63))) return (w0 << 6) + ctz(bits);
    const i64 a = w0 + 1;  // the next l0 word, searched in l1
    if (a >= size(l0_)) return -1;
    if (const u64 bits = l1_[a >> 6] & (~u64{0} << (a & 63))) return first_in_l0((((a >> 6) << 6) + ctz(bits)));
    i64 b = (a >> 6) + 1;  // the next l1 word, searched in l2
    if (b >= size(l1_)) return -1;
    u64 bits = l2_[b >> 6] & (~u64{0} << (b & 63));
    for (i64 w2 = b >> 6; !bits;) {
      if (++w2 >= size(l2_)) return -1;
      bits = l2_[w2];
      b = w2 << 6;
    }
    const i64 w1 = ((b >> 6) << 6) + ctz(bits);
    return first_in_l0((w1 << 6) + ctz(l1_[w1]));
  }

 private:
  static i64 size(const std::vector<u64>& v) { return static_cast<i64>(v.size()); }
  i64 first_in_l0(i64 w0) const { return (w0 << 6) + ctz(l0_[w0]); }

  std::vector<u64> l0_, l1_, l2_;
};

// A growable array of trivially copyable values on malloc/realloc: a large block grows in place
// or is remapped (glibc's mremap), never copied page by page into fresh memory as
// std::vector's growth does; a large placement writes tens of millions of runs.
template <typename T>
class PodBuffer {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  PodBuffer() = default;
  PodBuffer(const PodBuffer&) = delete;
  PodBuffer& operator=(const PodBuffer&) = delete;
  ~PodBuffer() { std::free(data_); }

  void push_back(const T& v) {
    if (size_ == capacity_) grow();
    data_[size_++] = v;
  }
  i64 size() const { return size_; }
  const T* data() const { return data_; }

 private:
  void grow() {
    const i64 want = capacity_ < 1024 ? 1024 : 2 * capacity_;
    void* p = std::realloc(data_, static_cast<std::size_t>(want) * sizeof(T));
    if (!p) throw std::bad_alloc();
    data_ = static_cast<T*>(p);
    capacity_ = want;
  }

  T* data_ = nullptr;
  i64 size_ = 0, capacity_ = 0;
};

// Where best fit puts the items of each size: runs of slots in one bin. The two fields share a
// cache line, so the last pass follows one stream per size.
struct Run {
  u32 end;  // slots of this size in its runs so far, this one's included
  u32 bin;
};

struct Slots {
  PodBuffer<Run> runs;
  std::vector<i64> first, last;  // runs of size s: [first[s], last[s])
};

// Best fit decreasing on the histogram count[0..S] with capacity C. Returns the bin count. The
// bins of each level are a stack (a vector): the bins that take the same number of items of a
// size move between levels as one block, never touching a bin's own memory.
i64 place(const std::vector<i64>& count, i64 C, Slots& slots) {
  const i64 S = static_cast<i64>(count.size()) - 1;
  std::vector<std::vector<u32>> at(C + 1);
  LevelSet levels(C + 1);
  u32 n_bins = 0, filled = 0;
  // Bins [from, from + k) of `bins` each take q items: recorded as runs, moved to level `to`.
  auto move = [&](const u32* bins, i64 k, i64 q, i64 to) {
    if (k <= 0) return;
    for (i64 j = 0; j < k; ++j) slots.runs.push_back({filled += static_cast<u32>(q), bins[j]});
    if (at[to].empty()) levels.insert(to);
    at[to].insert(at[to].end(), bins, bins + k);
  };
  std::vector<u32> fresh;
  slots.first.assign(S + 1, 0);
  slots.last.assign(S + 1, 0);
  for (i64 s = S; s >= 1; --s) {
    i64 c = count[s];
    slots.first[s] = slots.runs.size();
    filled = 0;
    while (c > 0) {
      const i64 r = levels.next(s);
      if (r < 0) {  // no open bin has room: new bins of room C, each filled as far as it goes
        const i64 q = C / s, full = c / q, rest = c % q;  // q >= 1: s <= C
        fresh.resize(full + (rest > 0));
        for (auto& b : fresh) b = n_bins++;
        move(fresh.data(), full, q, C - q * s);
        move(fresh.data() + full, rest > 0, rest, C - rest * s);
        break;
      }
      // The bins of level r, from the top of the stack, each take q items in a row (the last
      // one perhaps fewer); they all land below s.
      std::vector<u32>& here = at[r];
      const i64 q = r / s, have = static_cast<i64>(here.size());
      const i64 full = std::min(have, c / q), rest = full < have ? std::min(q, c - full * q) : 0;
      const i64 k = full + (rest > 0);
      fresh.assign(here.end() - k, here.end());  // a copy: `move` may grow another level's vector
      std::reverse(fresh.begin(), fresh.end());   // the top of the stack first
      here.resize(have - k);
      if (here.empty()) {
        levels.erase(r);
        std::vector<u32>().swap(here);
      }
      move(fresh.data(), full, q, r - q * s);
      move(fresh.data() + full, rest > 0, rest, r - rest * s);
      c -= full * q + rest;
    }
    slots.last[s] = slots.runs.size();
  }
  if (count[0] > 0) {  // zero sizes: all into the fullest bin, as best fit puts each of them
    slots.first[0] = slots.runs.size();
    filled = 0;
    const i64 r = levels.next(0);
    const u32 b = r < 0 ? n_bins++ : at[r].back();
    move(&b, 1, count[0], r < 0 ? C : r);
    slots.last[0] = slots.runs.size();
  }
  return n_bins;
}

}  // namespace

i64 pack_histogram(const double* sizes, i64 n, double capacity, const i64* order, i64* bin_of_item) {
  if (n <= 0) return 0;
  if (n >= static_cast<i64>(kNone) || !(capacity >= 1.0) || std::floor(capacity) > static_cast<double>(kMaxLevels))
    return -1;
  const i64 C = static_cast<i64>(std::floor(capacity));
  const int threads = parallel::team_size(0, 1 + n / (i64{1} << 20));

  // One pass: every size an integer in 0..C (else not applicable), counted per chunk of items
  // (the chunks of the last pass).
  const i64 chunk = (n + threads - 1) / threads;
  std::vector<std::vector<u32>> hist(threads);
  std::vector<char> integral(threads, 1);
  parallel::FirstError error;
#ifdef HULLPACK_WITH_OPENMP
#pragma omp parallel for num_threads(threads) schedule(static, 1)
#endif
  for (int t = 0; t < threads; ++t) {
    if (!error.run([&] { hist[t].assign(C + 1, 0); })) continue;
    u32* h = hist[t].data();
    for (i64 i = t * chunk, end = std::min(n, (t + 1) * chunk); i < end; ++i) {
      const double s = sizes[i];
      // In 0..C (NaN fails), then exact as an integer: the cast cannot overflow after the range test.
      if (!(s >= 0 && s <= static_cast<double>(C))) {
        integral[t] = 0;
        break;
      }
      const i64 v = static_cast<i64>(s);
      if (static_cast<double>(v) != s) {
        integral[t] = 0;
        break;
      }
      ++h[v];
    }
  }
  error.rethrow();
  if (std::find(integral.begin(), integral.end(), 0) != integral.end()) return -1;
  std::vector<i64> count(C + 1, 0);
  for (const auto& h : hist)
    for (i64 s = 0; s <= C; ++s) count[s] += h[s];
  i64 S = C;
  while (S > 0 && count[S] == 0) --S;
  count.resize(S + 1);

  Slots slots;
  const i64 n_bins = place(count, C, slots);

  // Last pass: the j-th item of size s in the placement sequence gets the j-th slot of size s.
  struct Cursor {
    const Run* run;
    u32 j;  // the next slot of this size
  };
  auto assign = [&](i64 begin, i64 end, const std::vector<i64>& used, const i64* seq) {
    std::vector<Cursor> at(S + 1);
    const Run* runs = slots.runs.data();
    for (i64 s = 0; s <= S; ++s) {  // the run holding slot used[s]
      const u32 j = static_cast<u32>(used[s]);
      at[s] = {std::upper_bound(runs + slots.first[s], runs + slots.last[s], j,
                                [](u32 v, const Run& r) { return v < r.end; }),
               j};
    }
    for (i64 p = begin; p < end; ++p) {
      const i64 i = seq ? seq[p] : p;
      Cursor& c = at[static_cast<i64>(sizes[i])];
      const u32 j = c.j++;
      c.run += c.run->end <= j;  // no run is empty: one step at most, taken without a branch
      bin_of_item[i] = c.run->bin;
    }
  };
  if (order) {
    assign(0, n, std::vector<i64>(S + 1, 0), order);
    return n_bins;
  }
  std::vector<std::vector<i64>> used(threads, std::vector<i64>(S + 1, 0));
  for (int t = 1; t < threads; ++t)
    for (i64 s = 0; s <= S; ++s) used[t][s] = used[t - 1][s] + hist[t - 1][s];
#ifdef HULLPACK_WITH_OPENMP
#pragma omp parallel for num_threads(threads) schedule(static, 1)
#endif
  for (int t = 0; t < threads; ++t)
    error.run([&] { assign(t * chunk, std::min(n, (t + 1) * chunk), used[t], nullptr); });
  error.rethrow();
  return n_bins;
}

}  // namespace hullpack::packing
