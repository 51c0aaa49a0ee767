// The layers of a ReLU network after its first, in float32, skipping the inputs that are exactly
// zero: what ElemNet's fp32 screen spends its time on (see relu_mlp.cpp).
#pragma once

#include <cstdint>

namespace hullpack::relu_mlp {

// Outputs per weight tile: a layer's W^T is stored as (n_tiles, in, TILE), zero-padded past `out`
// (the layout of compositions::line_layers' w2_tiles).
inline constexpr std::int64_t TILE = 64;

struct Layer {
  const float* tiles;  // (ceil(out / TILE), in, TILE)
  const float* bias;   // (out,)
  std::int64_t in, out;
};

// out (n, layers[n_layers - 1].out) = the layers applied to the rows of x (n, layers[0].in), a ReLU
// after every layer but the last. Each output is fma(x_k, w_k, acc) over the row's non-zero inputs
// in ascending k from acc = +0, then (acc + 0) + bias, in round-to-nearest without flush-to-zero
// (set on every thread for the call): with finite weights the same bits as that chain over every
// input (a zero input adds a zero product, which leaves a running sum unchanged but for the sign
// of a zero, which + 0 erases), whatever the other rows, the thread count or the instruction set.
// A non-finite weight makes a row's result depend on its neighbours (0 * inf is NaN where a
// neighbour needs that input): callers pass finite weights. Widths must chain (layers[i].out ==
// layers[i + 1].in); the bindings check the shapes and that out overlaps no input.
void run(const float* x, std::int64_t n, const Layer* layers, int n_layers, float* out, int n_threads);

// Which version of the inner kernel this CPU runs: "avx512", "avx2" (AVX2 with FMA) or "portable"
// (the environment variable HULLPACK_RELU_MLP, read at load, may ask for a slower one the CPU has).
// All give the same bits; they differ in speed (portable: std::fma calls, far slower).
const char* version();

}  // namespace hullpack::relu_mlp
