// The layers of a ReLU network after its first, in float32, skipping zero inputs (relu_mlp.hpp).
//
// After a ReLU most of ElemNet's activations are exactly zero (about 90% of the 1024-wide layers'
// on the binaries), and the zeros fall in about the same places for neighbouring compositions. So
// the rows run in blocks of R: the block's inputs that are non-zero in any of its rows are packed
// (index list and values), and each tile of TILE outputs accumulates over those inputs only, R
// rows at a time, with fused multiply-adds in ascending input order. A zero input of one row that
// another row needs adds fma(0, w, acc) with a finite w: acc exactly, except that a zero acc may
// change its sign (-0 + 0 = +0), which the store undoes (acc + 0 is +0 for either zero). So a
// row's result does not depend on the rows it runs with. Each thread runs in the default
// floating-point mode (round to nearest, no flush-to-zero or denormals-are-zero), whatever the
// caller set: torch.set_flush_denormal, for one, sets it on the calling thread only.
#include "hullpack/relu_mlp.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "parallel.hpp"

// x86-64 with GCC or clang: AVX-512 and AVX2+FMA versions of the inner kernel, picked at load time
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define HULLPACK_X86_DISPATCH 1
#include <immintrin.h>
#else
#define HULLPACK_X86_DISPATCH 0
#endif

namespace hullpack::relu_mlp {

namespace {

using i32 = std::int32_t;
using i64 = std::int64_t;

constexpr int R = 4;         // rows per block: 4 x 64 accumulators fill 16 AVX-512 registers
constexpr i64 GROUP = 256;   // rows per task: each weight tile serves their 64 blocks from cache
constexpr i64 PREFETCH = 8;  // inputs ahead: the weight rows an index list reads are scattered

#define HULLPACK_TILE_ARGS                                                                                      \
  const float *xc, const i32 *idx, i64 nu, const float *tile, const float *bias, bool relu, int nr, i64 width, \
      float *y, i64 y_stride
using TileFn = void (*)(HULLPACK_TILE_ARGS);

// Writes y[r, c0 + c] = (relu) (acc[r][c] + 0) + bias[c0 + c] for the block's nr rows, c < cols;
// the + 0 makes a zero sum +0 whichever rows ran beside it (compiled without fast-math, it stays).
template <int SUB>
void store_block(const float (&acc)[R][SUB], const float* bias, bool relu, int nr, i64 c0, i64 cols, float* y,
                 i64 y_stride) {
  for (int r = 0; r < nr; ++r)
    for (i64 c = 0; c < cols; ++c) {
      const float v = (acc[r][c] + 0.f) + bias[c0 + c];
      y[r * y_stride + c0 + c] = relu && !(v > 0) && v == v ? 0.f : v;  // ReLU; NaN stays NaN
    }
}

inline void prefetch_row(const float* p, i64 floats) {
#if defined(__GNUC__) || defined(__clang__)
  const char* bytes = reinterpret_cast<const char*>(p);
  for (i64 line = 0; line < floats * i64(sizeof(float)); line += 64) __builtin_prefetch(bytes + line);
#else
  (void)p, (void)floats;
#endif
}

// y[r, 0 .. width) for the block's nr rows: (relu) bias + the fma chain over j of xc[j, r] *
// tile[idx[j], :]. Three versions compute the same chains (each output's multiply-adds in the same
// order, 16 or 64 outputs at a time): portable C++, and AVX2+FMA and AVX-512 intrinsics, whose
// accumulators stay in registers (4 rows x 24 outputs in 12 of AVX2's 16, 4 x 64 in 16 of AVX-512's
// 32) where compilers vectorize the portable loop poorly.
void tile_portable(HULLPACK_TILE_ARGS) {
  constexpr int SUB = 16;
  for (i64 c0 = 0; c0 < width; c0 += SUB) {
    float acc[R][SUB] = {};
    for (i64 j = 0; j < nu; ++j) {
      if (j + PREFETCH < nu) prefetch_row(tile + i64(idx[j + PREFETCH]) * TILE + c0, SUB);
      const float* w = tile + i64(idx[j]) * TILE + c0;
      for (int r = 0; r < R; ++r)
        for (int c = 0; c < SUB; ++c) acc[r][c] = std::fma(xc[j * R + r], w[c], acc[r][c]);
    }
    store_block<SUB>(acc, bias, relu, nr, c0, std::min<i64>(SUB, width - c0), y, y_stride);
  }
}

#if HULLPACK_X86_DISPATCH
// AVX2 runs a tile as passes over V x 8 of its outputs: R x V accumulators, V weight vectors and
// the broadcast input fill at most AVX2's 16 registers (V = 3: 12 + 3 + 1). The inputs go in
// chunks of JC, every pass over a chunk before the next chunk, so that the chunk's weight rows
// (JC x 256 bytes) stay in L1 between passes; the accumulators wait in `acc` between chunks (an
// exact store and load: each output's chain of multiply-adds is the same as in one pass).
constexpr i64 JC = 32;

template <int V>
__attribute__((target("avx2,fma"), always_inline)) inline void avx2_pass(const float* xc, const i32* idx, i64 j0,
                                                                         i64 j1, i64 nu, const float* tile, i64 c0,
                                                                         float (&acc)[R][TILE]) {
  __m256 a[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) a[r][v] = _mm256_loadu_ps(acc[r] + c0 + 8 * v);
  for (i64 j = j0; j < j1; ++j) {
    // the first pass brings in whole weight rows, PREFETCH inputs ahead; the others find them in L1
    if (c0 == 0 && j + PREFETCH < nu) prefetch_row(tile + i64(idx[j + PREFETCH]) * TILE, TILE);
    const float* w = tile + i64(idx[j]) * TILE + c0;
    __m256 wv[V];
    for (int v = 0; v < V; ++v) wv[v] = _mm256_loadu_ps(w + 8 * v);
    for (int r = 0; r < R; ++r) {
      const __m256 x = _mm256_broadcast_ss(xc + j * R + r);
      for (int v = 0; v < V; ++v) a[r][v] = _mm256_fmadd_ps(x, wv[v], a[r][v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) _mm256_storeu_ps(acc[r] + c0 + 8 * v, a[r][v]);
}

// Passes of 24 outputs, then what is left of `width` (a tile is zero-padded to TILE columns, so a
// pass may read past `width`; only what is inside is stored).
__attribute__((target("avx2,fma"))) void tile_avx2(HULLPACK_TILE_ARGS) {
  float acc[R][TILE] = {};
  for (i64 j0 = 0; j0 < nu; j0 += JC) {
    const i64 j1 = std::min(nu, j0 + JC);
    for (i64 c0 = 0; c0 < width;) {
      const i64 left = width - c0;
      if (left > 16) {
        avx2_pass<3>(xc, idx, j0, j1, nu, tile, c0, acc);
        c0 += 24;
      } else if (left > 8) {
        avx2_pass<2>(xc, idx, j0, j1, nu, tile, c0, acc);
        c0 += 16;
      } else {
        avx2_pass<1>(xc, idx, j0, j1, nu, tile, c0, acc);
        c0 += 8;
      }
    }
  }
  store_block<TILE>(acc, bias, relu, nr, 0, width, y, y_stride);
}

__attribute__((target("avx512f"))) void tile_avx512(HULLPACK_TILE_ARGS) {
  constexpr int SUB = 64, V = SUB / 16;
  for (i64 c0 = 0; c0 < width; c0 += SUB) {
    __m512 acc[R][V];
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
    for (i64 j = 0; j < nu; ++j) {
      if (j + PREFETCH < nu) prefetch_row(tile + i64(idx[j + PREFETCH]) * TILE + c0, SUB);
      const float* w = tile + i64(idx[j]) * TILE + c0;
      __m512 wv[V];
      for (int v = 0; v < V; ++v) wv[v] = _mm512_loadu_ps(w + 16 * v);
      for (int r = 0; r < R; ++r) {
        const __m512 x = _mm512_set1_ps(xc[j * R + r]);
        for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(x, wv[v], acc[r][v]);
      }
    }
    float out[R][SUB];
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < V; ++v) _mm512_storeu_ps(out[r] + 16 * v, acc[r][v]);
    store_block<SUB>(out, bias, relu, nr, c0, std::min<i64>(SUB, width - c0), y, y_stride);
  }
}
#endif

// The version for this CPU, picked once when the library loads: the fastest it has, or the one
// HULLPACK_RELU_MLP names ("avx2", "portable"; to compare them) if the CPU has that.
TileFn pick_tile() {
  const char* want = std::getenv("HULLPACK_RELU_MLP");
  const std::string asked = want ? want : "";
#if HULLPACK_X86_DISPATCH
  __builtin_cpu_init();
  if (asked != "avx2" && asked != "portable" && __builtin_cpu_supports("avx512f")) return tile_avx512;
  if (asked != "portable" && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return tile_avx2;
#endif
  return tile_portable;
}

// Sets this thread's floating-point mode to the default for its lifetime, and restores it.
class DefaultFloatMode {
#if HULLPACK_X86_DISPATCH
  unsigned saved_ = _mm_getcsr();

 public:
  DefaultFloatMode() { _mm_setcsr(0x1F80); }  // exceptions masked, round to nearest, no FTZ/DAZ
  ~DefaultFloatMode() { _mm_setcsr(saved_); }
#endif
};

const TileFn block_tile = pick_tile();

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

const char* version() {
#if HULLPACK_X86_DISPATCH
  if (block_tile == tile_avx512) return "avx512";
  if (block_tile == tile_avx2) return "avx2";
#endif
  return "portable";
}

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
    const DefaultFloatMode mode;
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
