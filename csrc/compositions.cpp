// Composition enumeration and the first-layer gathers (see hullpack/compositions.hpp).
//
// Each thread of a parallel region allocates its own scratch; an allocation failure is rethrown
// after the region (parallel.hpp).
#include "hullpack/compositions.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "parallel.hpp"

namespace hullpack::compositions {

namespace {

using i32 = std::int32_t;
using i64 = std::int64_t;

int nonzero(const i32* a, int order) {
  int c = 0;
  for (int j = 0; j < order; ++j) c += a[j] != 0;
  return c;
}

// Calls f(numerators) for every tuple of `order` non-negative numerators summing to d, in
// lexicographic order of (a_1, .., a_{order-1}); a_0 = d - (a_1 + .. + a_{order-1}).
template <typename F>
void each_tuple(int order, i64 d, F&& f) {
  std::array<i32, kMaxOrder> a{};
  a[0] = i32(d);
  i64 rest = 0;  // a_1 + .. + a_{order-1}
  for (;;) {
    f(a.data());
    // the lexicographic successor: raise the last a_p (p >= 1) that can grow, zero those after it
    int p = order - 1;
    if (rest == d) {
      while (p >= 1 && a[p] == 0) --p;  // a_p is the last non-zero one: zero it, raise a_{p-1}
      if (p <= 1) return;               // (0, .., 0, d) in the later slots: done
      rest -= a[p];
      a[p] = 0;
      --p;
    }
    ++a[p];
    ++rest;
    a[0] = i32(d - rest);
  }
}

// Writes the first layer of pair q (system, grid point) = at(q) to out + q * h, q in 0..count-1.
template <typename Out, typename At, typename Store>
void gather(const i32* systems, const i32* grid, int order, const float* wt, i64 h, const float* bias, i64 count,
            Out* out, int n_threads, At at, Store store) {
  const int threads = parallel::team_size(n_threads, count / 16);
  parallel::FirstError error;
#ifdef HULLPACK_WITH_OPENMP
#pragma omp parallel num_threads(threads)
#endif
  {
    std::vector<float> row;
    const bool ready = error.run([&] { row.resize(h); });
    float* r = row.data();
#ifdef HULLPACK_WITH_OPENMP
#pragma omp for schedule(static)
#endif
    for (i64 q = 0; q < count; ++q) {
      if (!ready) continue;
      const auto [s, pt] = at(q);
      const i32* num = grid + pt * order;
      const i32* el = systems + s * order;
      double den = 0;
      for (int e = 0; e < order; ++e) den += num[e];
      std::copy_n(bias, h, r);
      for (int e = 0; e < order; ++e) {
        if (num[e] == 0) continue;  // exact zero: skipping it changes nothing
        const float f = static_cast<float>(num[e] / den);
        const float* w = wt + i64(el[e]) * h;
        for (i64 k = 0; k < h; ++k) r[k] += f * w[k];
      }
      store(r, h, out + q * h);
    }
  }
  error.rethrow();
}

// Branch-free, so that the conversion loop vectorises.
inline std::uint16_t to_bf16(float v) {
  std::uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  const std::uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;  // to nearest, ties to even
  const std::uint32_t quiet_nan = (u >> 16) | 0x40u;
  return static_cast<std::uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

}  // namespace

i64 n_choose(i64 n, int k) {
  if (k < 0 || n < k) return 0;
  i64 r = 1;
  for (int j = 0; j < k; ++j) {
    // C(n, j + 1) = r (n - j) / (j + 1), an integer: with g = gcd(r, j + 1), (j + 1) / g divides
    // n - j, so dividing first leaves one product of the result's factors, checked for overflow.
    const i64 g = std::gcd(r, i64(j + 1));
    const i64 a = r / g, b = (n - j) / ((j + 1) / g);
    if (b != 0 && a > INT64_MAX / b) return -1;
    r = a * b;
  }
  return r;
}

void systems(const i32* elements, i64 n, int order, i32* out) {
  if (n < order) return;
  std::array<i64, kMaxOrder> at{};  // the positions of a row, ascending: odometer in lexicographic order
  for (int j = 0; j < order; ++j) at[j] = j;
  for (i64 row = 0;; ++row) {
    for (int j = 0; j < order; ++j) out[order * row + j] = elements[at[j]];
    int p = order - 1;
    while (p >= 0 && at[p] == n - order + p) --p;  // the last position that can move right
    if (p < 0) return;
    ++at[p];
    for (int j = p + 1; j < order; ++j) at[j] = at[j - 1] + 1;
  }
}

i64 uniform_grid_size(int order, i64 n, int min_elements) {
  i64 count = 0;
  each_tuple(order, n, [&](const i32* a) { count += nonzero(a, order) >= min_elements; });
  return count;
}

void uniform_grid(int order, i64 n, int min_elements, i32* out) {
  i64 row = 0;
  each_tuple(order, n, [&](const i32* a) {
    if (nonzero(a, order) < min_elements) return;
    std::copy_n(a, order, out + order * row++);
  });
}

namespace {

template <typename F>
void each_reduced(int order, i64 max_den, int min_elements, F&& f) {
  for (i64 d = 1; d <= max_den; ++d)
    each_tuple(order, d, [&](const i32* a) {
      int g = 0;
      for (int j = 0; j < order; ++j) g = std::gcd(g, a[j]);
      if (g == 1 && nonzero(a, order) >= min_elements) f(a);
    });
}

}  // namespace

i64 reduced_grid_size(int order, i64 max_den, int min_elements) {
  i64 count = 0;
  each_reduced(order, max_den, min_elements, [&](const i32*) { ++count; });
  return count;
}

void reduced_grid(int order, i64 max_den, int min_elements, i32* out) {
  // the points in enumeration order (row r at out + order * r), then sorted through an index
  i64 count = 0;
  each_reduced(order, max_den, min_elements, [&](const i32* a) { std::copy_n(a, order, out + order * count++); });
  std::vector<i64> rank(count);
  std::vector<i32> den(count);
  std::iota(rank.begin(), rank.end(), i64{0});
  for (i64 r = 0; r < count; ++r) den[r] = std::accumulate(out + order * r, out + order * (r + 1), i32{0});
  // exact comparison of (a_1/d, .., a_{order-1}/d) by cross-multiplication; no two points are equal
  std::sort(rank.begin(), rank.end(), [&](i64 p, i64 q) {
    const i32 *a = out + order * p, *b = out + order * q;
    const i64 dp = den[p], dq = den[q];
    for (int j = 1; j < order; ++j) {
      const i64 l = i64(a[j]) * dq, r = i64(b[j]) * dp;
      if (l != r) return l < r;
    }
    return false;
  });
  std::vector<i32> sorted(static_cast<std::size_t>(count) * order);
  for (i64 r = 0; r < count; ++r) std::copy_n(out + order * rank[r], order, sorted.data() + order * r);
  std::copy(sorted.begin(), sorted.end(), out);
}

namespace {

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
// AVX-512 / AVX2 versions picked at load time; the default build targets baseline x86-64
#define HULLPACK_CLONES __attribute__((target_clones("avx512f", "avx2,fma", "default")))
#else
#define HULLPACK_CLONES
#endif

void copy_row(const float* r, i64 m, float* dst) { std::copy_n(r, m, dst); }
HULLPACK_CLONES
void bf16_row(const float* r, i64 m, std::uint16_t* dst) {
  for (i64 k = 0; k < m; ++k) dst[k] = to_bf16(r[k]);
}

struct FlatPairs {  // pairs start.. of the system-major product systems x grid
  i64 start, n_pts;
  std::pair<i64, i64> operator()(i64 q) const { return {(start + q) / n_pts, (start + q) % n_pts}; }
};
struct IndexedPairs {
  const i64 *sys, *pt;
  std::pair<i64, i64> operator()(i64 q) const { return {sys[q], pt[q]}; }
};

}  // namespace

void first_layer(const i32* systems, const i32* grid, i64 n_pts, int order, const float* wt, i64 h,
                 const float* bias, i64 start, i64 count, float* out, int n_threads) {
  gather(systems, grid, order, wt, h, bias, count, out, n_threads, FlatPairs{start, n_pts}, copy_row);
}

void first_layer_bf16(const i32* systems, const i32* grid, i64 n_pts, int order, const float* wt, i64 h,
                      const float* bias, i64 start, i64 count, std::uint16_t* out, int n_threads) {
  gather(systems, grid, order, wt, h, bias, count, out, n_threads, FlatPairs{start, n_pts}, bf16_row);
}

void first_layer_pairs(const i32* systems, const i32* grid, int order, const float* wt, i64 h, const float* bias,
                       const i64* sys_idx, const i64* pt_idx, i64 count, float* out, int n_threads) {
  gather(systems, grid, order, wt, h, bias, count, out, n_threads, IndexedPairs{sys_idx, pt_idx}, copy_row);
}

void first_layer_pairs_bf16(const i32* systems, const i32* grid, int order, const float* wt, i64 h,
                            const float* bias, const i64* sys_idx, const i64* pt_idx, i64 count, std::uint16_t* out,
                            int n_threads) {
  gather(systems, grid, order, wt, h, bias, count, out, n_threads, IndexedPairs{sys_idx, pt_idx}, bf16_row);
}

namespace {

constexpr i64 TILE = LINE_TILE;
constexpr i64 LANES = TILE / 16;
#if defined(__GNUC__) || defined(__clang__)
typedef float f16x __attribute__((vector_size(64)));  // 16 floats, kept in registers
inline void relu(f16x& v) { v = v > 0 ? v : f16x{}; }
#else
struct f16x {
  float v[16] = {};
};
inline f16x operator+(f16x a, const f16x& b) {
  for (int i = 0; i < 16; ++i) a.v[i] += b.v[i];
  return a;
}
inline f16x operator*(float s, f16x a) {
  for (int i = 0; i < 16; ++i) a.v[i] *= s;
  return a;
}
inline f16x& operator+=(f16x& a, const f16x& b) { return a = a + b; }
inline void relu(f16x& a) {
  for (int i = 0; i < 16; ++i) a.v[i] = a.v[i] > 0 ? a.v[i] : 0.f;
}
#endif

// Units joining the running sums P, Q at point k: unit[e], a[e], c[e] for e in
// [bucket[k], bucket[k + 1]).
struct Events {
  const i32* bucket;
  const i32* unit;
  const float *a, *c;
};

// One tile of LINE_TILE outputs of one system's line, for the K sorted points: units active on a
// suffix of the points join the sums going up, units active on a prefix join them going down, so
// each unit is one event; z[k, :] = relu(b2 + (P + x_k Q) going up + (P + x_k Q) going down).
HULLPACK_CLONES
void line_tile(const Events& up, const Events& down, i64 K, const float* xs, const float* tile_w,
               const float* tile_b2, float* z) {
  f16x p[LANES], q[LANES];
  auto apply = [&](const Events& ev, i64 k) {
    for (i64 e = ev.bucket[k]; e < ev.bucket[k + 1]; ++e) {
      const float* w = tile_w + i64(ev.unit[e]) * TILE;
      const float sa = ev.a[e], sc = ev.c[e];
      for (i64 u = 0; u < LANES; ++u) {
        f16x wv;
        std::memcpy(&wv, w + 16 * u, sizeof(f16x));
        p[u] += sa * wv;
        q[u] += sc * wv;
      }
    }
  };
  for (i64 u = 0; u < LANES; ++u) p[u] = q[u] = f16x{};
  for (i64 k = 0; k < K; ++k) {
    apply(up, k);
    const float x = xs[k];
    for (i64 u = 0; u < LANES; ++u) {
      f16x b;
      std::memcpy(&b, tile_b2 + 16 * u, sizeof(f16x));
      const f16x v = b + p[u] + x * q[u];
      std::memcpy(z + k * TILE + 16 * u, &v, sizeof(f16x));
    }
  }
  for (i64 u = 0; u < LANES; ++u) p[u] = q[u] = f16x{};
  for (i64 k = K - 1; k >= 0; --k) {
    apply(down, k);
    const float x = xs[k];
    for (i64 u = 0; u < LANES; ++u) {
      f16x v;
      std::memcpy(&v, z + k * TILE + 16 * u, sizeof(f16x));
      v = v + p[u] + x * q[u];
      relu(v);
      std::memcpy(z + k * TILE + 16 * u, &v, sizeof(f16x));
    }
  }
}

// Sorts units into Events by point: key[j] in 0..K-1, or -1 for none.
void sort_events(const i32* key, i64 h, i64 K, const float* a, const float* c, i32* bucket, i32* unit, float* ea,
                 float* ec) {
  std::fill(bucket, bucket + K + 1, 0);
  for (i64 j = 0; j < h; ++j)
    if (key[j] >= 0) ++bucket[key[j] + 1];
  for (i64 k = 0; k < K; ++k) bucket[k + 1] += bucket[k];
  for (i64 j = 0; j < h; ++j) {
    if (key[j] < 0) continue;
    const i32 e = bucket[key[j]]++;
    unit[e] = i32(j), ea[e] = a[j], ec[e] = c[j];
  }
  for (i64 k = K; k > 0; --k) bucket[k] = bucket[k - 1];  // back to the starts
  bucket[0] = 0;
}

template <typename Out, typename Store>
void lines(const i32* systems, const i32* grid, i64 n_pts, const float* wt, i64 h, const float* bias,
           const float* w2_tiles, const float* b2, i64 h2, i64 start, i64 count, Out* out, int n_threads,
           Store store) {
  // the points in ascending fraction of the first element (float, as the gather computes it)
  std::vector<float> xs(n_pts);
  std::vector<i64> order(n_pts);
  std::iota(order.begin(), order.end(), 0);
  for (i64 k = 0; k < n_pts; ++k)
    xs[k] = static_cast<float>(grid[2 * k] / (double(grid[2 * k]) + grid[2 * k + 1]));
  std::stable_sort(order.begin(), order.end(), [&](i64 l, i64 r) { return xs[l] < xs[r]; });
  std::vector<float> sorted(n_pts);
  for (i64 k = 0; k < n_pts; ++k) sorted[k] = xs[order[k]];
  // guess(t): about the number of sorted points below t, from a table of 8 cells per point
  const i64 cells = 8 * n_pts;
  const float lo = sorted[0], span = sorted[n_pts - 1] - sorted[0];
  std::vector<i64> below(cells + 1);
  for (i64 r = 0, k = 0; r <= cells; ++r) {
    const float edge = lo + span * static_cast<float>(r) / static_cast<float>(cells);
    while (k < n_pts && sorted[k] < edge) ++k;
    below[r] = k;
  }
  auto guess = [&](float t) -> i64 {
    if (!(t > lo)) return 0;  // NaN too
    if (!(t < lo + span)) return n_pts;
    return below[static_cast<i64>((t - lo) / span * static_cast<float>(cells))];
  };
  const i64 n_tiles = (h2 + TILE - 1) / TILE;
  std::vector<float> b2_pad(n_tiles * TILE, 0.f);
  std::copy_n(b2, h2, b2_pad.data());
  const int threads = parallel::team_size(n_threads, count);
  parallel::FirstError error;
#ifdef HULLPACK_WITH_OPENMP
#pragma omp parallel num_threads(threads)
#endif
  {
    std::vector<float> a, c, z, up_a, up_c, down_a, down_c;
    std::vector<i32> up_key, down_key, up_bucket, down_bucket, up_unit, down_unit;
    const bool ready = error.run([&] {
      a.resize(h), c.resize(h), z.resize(n_pts * TILE), up_a.resize(h), up_c.resize(h), down_a.resize(h);
      down_c.resize(h), up_key.resize(h), down_key.resize(h), up_bucket.resize(n_pts + 1);
      down_bucket.resize(n_pts + 1), up_unit.resize(h), down_unit.resize(h);
    });
#ifdef HULLPACK_WITH_OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
    for (i64 s = start; s < start + count; ++s) {
      if (!ready) continue;
      const float* wa = wt + i64(systems[2 * s]) * h;
      const float* wb = wt + i64(systems[2 * s + 1]) * h;
      for (i64 j = 0; j < h; ++j) {
        a[j] = bias[j] + wb[j];
        c[j] = wa[j] - wb[j];
      }
      // a + x c is monotone in x, so unit j is active on a suffix of the sorted points (c > 0) or
      // on a prefix (c < 0)
      for (i64 j = 0; j < h; ++j) {
        const float aj = a[j], cj = c[j];
        up_key[j] = down_key[j] = -1;
        if (!(cj > 0) && !(cj < 0)) {  // no slope: on at every point or at none
          if (aj > 0) up_key[j] = 0;
          continue;
        }
        // split: the number of leading sorted points at which the unit is off (c > 0) or on
        // (c < 0), from a guess at its switch -a/c, settled by a + x c itself
        const bool rising = cj > 0;
        auto leading = [&](i64 k) { return (aj + sorted[k] * cj > 0) != rising; };
        i64 split = guess(-aj / cj);
        while (split < n_pts && leading(split)) ++split;
        while (split > 0 && !leading(split - 1)) --split;
        if (rising && split < n_pts) up_key[j] = i32(split);  // joins going up at its first active point
        if (!rising && split > 0) down_key[j] = i32(split - 1);  // joins going down at its last one
      }
      sort_events(up_key.data(), h, n_pts, a.data(), c.data(), up_bucket.data(), up_unit.data(), up_a.data(),
                  up_c.data());
      sort_events(down_key.data(), h, n_pts, a.data(), c.data(), down_bucket.data(), down_unit.data(),
                  down_a.data(), down_c.data());
      const Events up{up_bucket.data(), up_unit.data(), up_a.data(), up_c.data()};
      const Events down{down_bucket.data(), down_unit.data(), down_a.data(), down_c.data()};
      for (i64 t = 0; t < n_tiles; ++t) {
        line_tile(up, down, n_pts, sorted.data(), w2_tiles + t * h * TILE, b2_pad.data() + t * TILE, z.data());
        const i64 width = std::min(TILE, h2 - t * TILE);
        for (i64 k = 0; k < n_pts; ++k)
          store(z.data() + k * TILE, width, out + ((s - start) * n_pts + order[k]) * h2 + t * TILE);
      }
    }
  }
  error.rethrow();
}

}  // namespace

void line_layers(const i32* systems, const i32* grid, i64 n_pts, const float* wt, i64 h, const float* bias,
                 const float* w2_tiles, const float* b2, i64 h2, i64 start, i64 count, float* out, int n_threads) {
  lines(systems, grid, n_pts, wt, h, bias, w2_tiles, b2, h2, start, count, out, n_threads, copy_row);
}

void line_layers_bf16(const i32* systems, const i32* grid, i64 n_pts, const float* wt, i64 h, const float* bias,
                      const float* w2_tiles, const float* b2, i64 h2, i64 start, i64 count, std::uint16_t* out,
                      int n_threads) {
  lines(systems, grid, n_pts, wt, h, bias, w2_tiles, b2, h2, start, count, out, n_threads, bf16_row);
}

}  // namespace hullpack::compositions
