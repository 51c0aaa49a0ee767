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
// in ascending k from acc = +0, then + bias: with finite weights exactly the sum over every input
// (a zero input adds a zero product, which leaves a running sum unchanged), whatever the other
// rows, the thread count or the instruction set. Widths must chain (layers[i].out ==
// layers[i + 1].in); the bindings check the shapes.
void run(const float* x, std::int64_t n, const Layer* layers, int n_layers, float* out, int n_threads);

// Which version of the inner kernel this CPU runs: "avx512", "avx2" (AVX2 with FMA) or "portable".
// All give the same bits; they differ in speed.
const char* version();

}  // namespace hullpack::relu_mlp
