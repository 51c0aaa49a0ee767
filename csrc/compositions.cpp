// Composition enumeration and the first-layer gather (see hullpack/compositions.hpp).
#include "hullpack/compositions.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#ifdef HULLPACK_WITH_OPENMP
#include <omp.h>
#endif

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
// lexicographic order of (a_1, .., a_{order-1}).
template <typename F>
void each_tuple(int order, i64 d, F&& f) {
  std::array<i32, 3> a{};
  if (order == 2) {
    for (i64 j = 0; j <= d; ++j) {
      a = {i32(d - j), i32(j), 0};
      f(a.data());
    }
  } else {
    for (i64 j = 0; j <= d; ++j)
      for (i64 l = 0; l <= d - j; ++l) {
        a = {i32(d - j - l), i32(j), i32(l)};
        f(a.data());
      }
  }
}

template <typename Out, typename Store>
void gather(const i32* systems, const i32* grid, i64 n_pts, int order, const float* wt, i64 h,
            const float* bias, i64 start, i64 count, Out* out, int n_threads, Store store) {
  (void)n_threads;
#ifdef HULLPACK_WITH_OPENMP
  if (n_threads <= 0) n_threads = omp_get_max_threads();
  n_threads = static_cast<int>(std::max<i64>(1, std::min<i64>(n_threads, count / 16)));
#pragma omp parallel num_threads(n_threads)
#endif
  {
    std::vector<float> row(h);
#ifdef HULLPACK_WITH_OPENMP
#pragma omp for schedule(static)
#endif
    for (i64 q = 0; q < count; ++q) {
      const i64 pair = start + q, s = pair / n_pts, pt = pair % n_pts;
      const i32* num = grid + pt * order;
      const i32* el = systems + s * order;
      double den = 0;
      for (int e = 0; e < order; ++e) den += num[e];
      float* r = row.data();
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
  __int128 r = 1;
  for (int j = 0; j < k; ++j) r = r * (n - j) / (j + 1);
  return r > INT64_MAX ? -1 : static_cast<i64>(r);
}

void systems(const i32* elements, i64 n, int order, i32* out) {
  i64 row = 0;
  if (order == 2) {
    for (i64 a = 0; a < n; ++a)
      for (i64 b = a + 1; b < n; ++b, ++row) {
        out[2 * row] = elements[a];
        out[2 * row + 1] = elements[b];
      }
  } else {
    for (i64 a = 0; a < n; ++a)
      for (i64 b = a + 1; b < n; ++b)
        for (i64 c = b + 1; c < n; ++c, ++row) {
          out[3 * row] = elements[a];
          out[3 * row + 1] = elements[b];
          out[3 * row + 2] = elements[c];
        }
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
  std::vector<std::array<i32, 3>> pts;
  each_reduced(order, max_den, min_elements, [&](const i32* a) { pts.push_back({a[0], a[1], order == 3 ? a[2] : 0}); });
  // exact comparison of (a_1/d, a_2/d) by cross-multiplication
  std::sort(pts.begin(), pts.end(), [order](const std::array<i32, 3>& p, const std::array<i32, 3>& q) {
    const i64 dp = i64(p[0]) + p[1] + p[2], dq = i64(q[0]) + q[1] + q[2];
    for (int j = 1; j < order; ++j) {
      const i64 l = i64(p[j]) * dq, r = i64(q[j]) * dp;
      if (l != r) return l < r;
    }
    return false;
  });
  for (std::size_t r = 0; r < pts.size(); ++r) std::copy_n(pts[r].data(), order, out + order * r);
}

void first_layer(const i32* systems, const i32* grid, i64 n_pts, int order, const float* wt, i64 h,
                 const float* bias, i64 start, i64 count, float* out, int n_threads) {
  gather(systems, grid, n_pts, order, wt, h, bias, start, count, out, n_threads,
         [](const float* r, i64 m, float* dst) { std::copy_n(r, m, dst); });
}

void first_layer_bf16(const i32* systems, const i32* grid, i64 n_pts, int order, const float* wt, i64 h,
                      const float* bias, i64 start, i64 count, std::uint16_t* out, int n_threads) {
  gather(systems, grid, n_pts, order, wt, h, bias, start, count, out, n_threads,
         [](const float* r, i64 m, std::uint16_t* dst) {
           for (i64 k = 0; k < m; ++k) dst[k] = to_bf16(r[k]);
         });
}

}  // namespace hullpack::compositions
