// Composition enumeration on plain arrays: the systems of an element set, composition grids on the
// simplex as integer numerators, and the first-layer gather that turns (system, grid point) pairs
// into a network's first-layer pre-activations without ever building 86-wide inputs.
//
// Encodings: a system table is (n_sys, order) int32 element indices, ascending within a row; a grid
// is (n_pts, order) int32 numerators whose row sum is the row's denominator, so a point's fractions
// are numerators / row sum. Pair q of a screen is system q / n_pts, grid point q % n_pts. Every
// function takes any order in 2..kMaxOrder (binaries, ternaries, quaternaries, ...), except the
// line layers (binaries only).
#pragma once

#include <cstdint>

namespace hullpack::compositions {

// Most elements per system (the order of systems and grids).
inline constexpr int kMaxOrder = 8;

// n choose k (the number of systems of order k of n elements); 0 when k < 0 or n < k, -1 when it
// overflows int64.
std::int64_t n_choose(std::int64_t n, int k);

// All `order`-subsets of `elements` (n values, ascending) in lexicographic order: n_choose(n, order)
// rows of `order` values.
void systems(const std::int32_t* elements, std::int64_t n, int order, std::int32_t* out);

// The uniform grid of step 1/n: all numerators a >= 0 with sum n, at least `min_elements` of them
// non-zero, in lexicographic order of (a_1, .., a_{order-1}). Count first, then fill.
std::int64_t uniform_grid_size(int order, std::int64_t n, int min_elements);
void uniform_grid(int order, std::int64_t n, int min_elements, std::int32_t* out);

// All distinct compositions whose reduced denominator is at most max_den: numerators with
// gcd 1 and sum d <= max_den, at least `min_elements` non-zero, sorted by their fractions
// (a_1 / d, .., a_{order-1} / d) compared exactly. ElemNet's 31-point binary grid is
// order 2, max_den 10, min_elements 2 (the 33 Farey fractions of order 10 without 0 and 1).
std::int64_t reduced_grid_size(int order, std::int64_t max_den, int min_elements);
void reduced_grid(int order, std::int64_t max_den, int min_elements, std::int32_t* out);

// First-layer gather for pairs start..start+count-1 of systems x grid:
//   out[q, :] = bias + sum_e (grid[pt, e] / sum_e' grid[pt, e']) * wt[systems[sys, e], :]
// wt is (n_in, h) row-major (a torch Linear weight (h, n_in) transposed), float32 accumulation in
// element order; out is (count, h). Inputs must be validated (indices < n_in, rows of the grid
// with a positive sum). OpenMP over pairs (n_threads <= 0: the OpenMP default).
void first_layer(const std::int32_t* systems, const std::int32_t* grid, std::int64_t n_pts, int order,
                 const float* wt, std::int64_t h, const float* bias, std::int64_t start, std::int64_t count,
                 float* out, int n_threads);
// The same with bfloat16 output (round to nearest even), as uint16 bit patterns.
void first_layer_bf16(const std::int32_t* systems, const std::int32_t* grid, std::int64_t n_pts, int order,
                      const float* wt, std::int64_t h, const float* bias, std::int64_t start,
                      std::int64_t count, std::uint16_t* out, int n_threads);
// The same for arbitrary pairs q: (systems row sys_idx[q], grid row pt_idx[q]), q in 0..count-1.
void first_layer_pairs(const std::int32_t* systems, const std::int32_t* grid, int order, const float* wt,
                       std::int64_t h, const float* bias, const std::int64_t* sys_idx, const std::int64_t* pt_idx,
                       std::int64_t count, float* out, int n_threads);
void first_layer_pairs_bf16(const std::int32_t* systems, const std::int32_t* grid, int order, const float* wt,
                            std::int64_t h, const float* bias, const std::int64_t* sys_idx,
                            const std::int64_t* pt_idx, std::int64_t count, std::uint16_t* out, int n_threads);

// The first two layers of binary systems in closed form, along each system's composition line.
// With x the first element's fraction, the first layer is a + x c (a = bias + wt[B],
// c = wt[A] - wt[B]), and each unit's ReLU is active on one interval of x; so the second layer,
// z(x) = b2 + W2 relu(a + x c) = b2 + P(x) + x Q(x), changes P and Q by one scaled row of W2^T
// where a unit switches. A system's points cost one pass over W2 instead of one product per
// point. w2_tiles holds W2^T in tiles of LINE_TILE outputs: (n_tiles, h, LINE_TILE), zero-padded
// past h2. out row (s - start) * n_pts + k is relu(z) at systems[s], grid[k], for the systems
// start..start+count-1; shape (count * n_pts, h2). Inputs must be validated as for first_layer.
inline constexpr std::int64_t LINE_TILE = 64;
void line_layers(const std::int32_t* systems, const std::int32_t* grid, std::int64_t n_pts, const float* wt,
                 std::int64_t h, const float* bias, const float* w2_tiles, const float* b2, std::int64_t h2,
                 std::int64_t start, std::int64_t count, float* out, int n_threads);
void line_layers_bf16(const std::int32_t* systems, const std::int32_t* grid, std::int64_t n_pts, const float* wt,
                      std::int64_t h, const float* bias, const float* w2_tiles, const float* b2, std::int64_t h2,
                      std::int64_t start, std::int64_t count, std::uint16_t* out, int n_threads);

}  // namespace hullpack::compositions
