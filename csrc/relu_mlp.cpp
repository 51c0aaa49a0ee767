// The layers of a ReLU network after its first, in float32, skipping zero inputs (relu_mlp.hpp).
//
// After a ReLU most of ElemNet's activations are exactly zero (about 90% of the 1024-wide layers'
// on the binaries), and the zeros fall in about the same places for neighbouring compositions. So
// the rows run in blocks of R: the block's inputs that are non-zero in any of its rows are packed
// (index list and values), and each tile of TILE outputs accumulates over those inputs only, R
// rows at a time, with fused multiply-adds in ascending input order. A zero input of one row that
// another row needs adds fma(0, w, acc) = acc exactly (acc starts at +0 and never becomes -0), so
// a row's result does not depend on the rows it runs with.
#include "hullpack/relu_mlp.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "parallel.hpp"

namespace hullpack::relu_mlp {

namespace {

using i32 = std::int32_t;
using i64 = std::int64_t;

constexpr int R = 4;         // rows per block: 4 x 64 accumulators fill 16 AVX-512 registers
constexpr i64 GROUP = 256;   // rows per task: each weight tile serves their 64 blocks from cache
constexpr i64 PREFETCH = 8;  // inputs ahead: the weight rows an index list reads are scattered

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
// AVX-512 / AVX2 versions picked at load time, with the same fused multiply-adds in the same order
// (the default version calls fmaf): the same bits on every x86-64 CPU
#define HULLPACK_CLONES __attribute__((target_clones("avx512f", "avx2,fma", "default")))
#else
#define HULLPACK_CLONES
#endif

// y[r, 0 .. width) for the block's nr rows: (relu) bias + sum_j xc[j, r] * tile[idx[j], :].
HULLPACK_CLONES
void block_tile(const float* xc, const i32* idx, i64 nu, const float* tile, const float* bias, bool relu, int nr,
                i64 width, float* y, i64 y_stride) {
  float acc[R][TILE];
  for (int r = 0; r < R; ++r)
    for (i64 c = 0; c < TILE; ++c) acc[r][c] = 0.f;
  for (i64 j = 0; j < nu; ++j) {
    if (j + PREFETCH < nu) {
      const char* p = reinterpret_cast<const char*>(tile + i64(idx[j + PREFETCH]) * TILE);
      for (i64 line = 0; line < TILE * i64(sizeof(float)); line += 64) __builtin_prefetch(p + line);
    }
    const float* w = tile + i64(idx[j]) * TILE;
    for (int r = 0; r < R; ++r) {
      const float s = xc[j * R + r];
      for (i64 c = 0; c < TILE; ++c) acc[r][c] = __builtin_fmaf(s, w[c], acc[r][c]);
    }
  }
  for (int r = 0; r < nr; ++r)
    for (i64 c = 0; c < width; ++c) {
      const float v = acc[r][c] + bias[c];
      y[r * y_stride + c] = relu && !(v > 0) && v == v ? 0.f : v;  // ReLU; NaN stays NaN
    }
}

// Per thread: the layers' outputs of one group, and each block's packed inputs.
struct Scratch {
  std::vector<float> a, b, packed;
  std::vector<i32> idx;
  std::vector<i64> count;
  std::vector<unsigned char> live;
};

// The packed inputs of the block of nr rows at x (stride `in`): the indices non-zero in any row
// (NaN counts) and their values, R per index (zero past nr). Returns how many.
i64 pack_block(const float* x, i64 in, int nr, unsigned char* live, i32* idx, float* packed) {
  std::fill(live, live + in, 0);
  for (int r = 0; r < nr; ++r)
    for (i64 k = 0; k < in; ++k) live[k] |= x[r * in + k] != 0.f;
  i64 nu = 0;
  for (i64 k = 0; k < in; ++k) {
    idx[nu] = i32(k);
    nu += live[k];
  }
  for (i64 j = 0; j < nu; ++j)
    for (int r = 0; r < R; ++r) packed[j * R + r] = r < nr ? x[r * in + idx[j]] : 0.f;
  return nu;
}

void run_group(const float* x, i64 rows, const Layer* layers, int n_layers, float* out, Scratch& s) {
  const float* in_rows = x;
  float* dst = s.a.data();
  const i64 blocks = (rows + R - 1) / R;
  for (int l = 0; l < n_layers; ++l) {
    const Layer& L = layers[l];
    const bool last = l + 1 == n_layers;
    float* y = last ? out : dst;
    for (i64 b = 0; b < blocks; ++b) {
      const int nr = int(std::min<i64>(R, rows - b * R));
      s.count[b] = pack_block(in_rows + b * R * L.in, L.in, nr, s.live.data(), s.idx.data() + b * L.in,
                              s.packed.data() + b * L.in * R);
    }
    for (i64 t = 0; t * TILE < L.out; ++t) {
      const i64 width = std::min(TILE, L.out - t * TILE);
      for (i64 b = 0; b < blocks; ++b)
        block_tile(s.packed.data() + b * L.in * R, s.idx.data() + b * L.in, s.count[b], L.tiles + t * L.in * TILE,
                   L.bias + t * TILE, !last, int(std::min<i64>(R, rows - b * R)), width, y + b * R * L.out + t * TILE,
                   L.out);
    }
    in_rows = dst;
    dst = dst == s.a.data() ? s.b.data() : s.a.data();
  }
}

}  // namespace

void run(const float* x, i64 n, const Layer* layers, int n_layers, float* out, int n_threads) {
  if (n <= 0 || n_layers <= 0) return;
  i64 widest = 0;
  for (int l = 0; l < n_layers; ++l) widest = std::max({widest, layers[l].in, layers[l].out});
  const i64 groups = (n + GROUP - 1) / GROUP;
  const i64 out_w = layers[n_layers - 1].out;
  const int threads = parallel::team_size(n_threads, groups);
  parallel::FirstError error;
#ifdef HULLPACK_WITH_OPENMP
#pragma omp parallel num_threads(threads)
#endif
  {
    Scratch s;
    const bool ready = error.run([&] {
      s.a.resize(GROUP * widest), s.b.resize(GROUP * widest);
      s.idx.resize(GROUP / R * widest), s.packed.resize(GROUP * widest), s.count.resize(GROUP / R);
      s.live.resize(widest);
    });
#ifdef HULLPACK_WITH_OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
    for (i64 g = 0; g < groups; ++g) {
      if (!ready) continue;
      const i64 r0 = g * GROUP, rows = std::min(GROUP, n - r0);
      run_group(x + r0 * layers[0].in, rows, layers, n_layers, out + r0 * out_w, s);
    }
  }
  error.rethrow();
}

}  // namespace hullpack::relu_mlp
