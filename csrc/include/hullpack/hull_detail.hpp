// Building blocks of the per-system lower-hull kernels (hull_binary.hpp, hull_ternary.hpp):
// tolerances, geometric predicates, the per-system output view and the decomposition writer.
// Plain functions with no allocation, exceptions or standard library calls, compiled for host and
// device alike (see hull_kernels.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "hullpack/hull.hpp"

namespace hullpack::hull::detail {

using i32 = std::int32_t;
using i64 = std::int64_t;
using u8 = std::uint8_t;

constexpr double kPure = 1e-12;        // a fraction this close to 1 makes a point a pure element
constexpr double kSame = 1e-12;        // binary compositions this close are duplicates
constexpr double kOnEdge = 1e-12;      // barycentric coordinate below which a point lies on an edge
constexpr double kStraight = 1e-15;    // twice-area below which a quadrilateral corner is straight
constexpr double kZeroWeight = 1e-12;  // decomposition weights below this are 0
constexpr int kMaxRebuilds = 3;

enum : u8 { kPending = 0, kVertex = 1, kAbove = 2, kExcluded = 3, kPureElement = 4 };

HULLPACK_HD inline double absd(double v) { return v < 0 ? -v : v; }

HULLPACK_HD inline double orient(double ax, double ay, double bx, double by, double cx, double cy) {
  return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
}

HULLPACK_HD inline bool is_finite(double v) { return v - v == 0.0; }  // false for NaN and +-inf

// Output id of hull vertex v of a system of n points: a point index, or -1 - e for reference e.
HULLPACK_HD inline i32 out_id(i32 v, i32 n) { return v < n ? v : -1 - (v - n); }

HULLPACK_HD inline std::size_t align8(std::size_t b) { return (b + 7) & ~std::size_t{7}; }

// Where one system's outputs go (pointers already offset to the system's first point).
struct SystemOut {
  double* e_above_hull;
  u8* is_vertex;
  i32* decomp_index;   // n * order or null
  double* decomp_weight;
  i32* facets;         // or null
  i32 n_facets;
  i32 n_vertices;
};

// Writes the k vertex ids and weights of a decomposition, largest weight first: weights below
// kZeroWeight are 0, the rest renormalised to sum 1 (an all-zero set becomes weight 1 on the
// first id); ties keep their order.
HULLPACK_HD inline void write_decomp(int k, const i32* ids, const double* w_in, i32* out_idx, double* out_w) {
  double sum = 0;
  for (int j = 0; j < k; ++j) {
    out_w[j] = w_in[j] < kZeroWeight ? 0.0 : w_in[j];
    out_idx[j] = ids[j];
    sum += out_w[j];
  }
  for (int j = 0; j < k; ++j) out_w[j] = sum > 0 ? out_w[j] / sum : (j == 0 ? 1.0 : 0.0);
  for (int a = 1; a < k; ++a)  // insertion sort, descending weight, stable
    for (int b = a; b > 0 && out_w[b] > out_w[b - 1]; --b) {
      const double tw = out_w[b]; out_w[b] = out_w[b - 1]; out_w[b - 1] = tw;
      const i32 ti = out_idx[b]; out_idx[b] = out_idx[b - 1]; out_idx[b - 1] = ti;
    }
}

template <int K>
HULLPACK_HD inline void write_decomp(const i32* ids, const double* w_in, i32* out_idx, double* out_w) {
  write_decomp(K, ids, w_in, out_idx, out_w);
}

}  // namespace hullpack::hull::detail
