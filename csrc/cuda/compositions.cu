// CUDA twin of compositions::first_layer: a warp per (system, grid point) pair, its lanes over the
// row's outputs, so that a row's writes are coalesced and its index arithmetic (64-bit divisions, the
// fractions) is done by 32 threads rather than once per output; the few weight rows it reads (one per
// element of the system, at most compositions::kMaxOrder) stay in L2.
// Its inputs are checked by a small kernel on the same stream first (check_first_layer).
//
// Numerics: explicit __fadd_rn/__fmul_rn roundings (and --fmad=false for the whole file) keep the
// sums free of fused multiply-adds, so that they equal the CPU kernel's bit for bit.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "check.cuh"
#include "hullpack/compositions.hpp"
#include "hullpack/cuda.hpp"

namespace hullpack::cuda {

namespace {

template <typename Out>
__device__ inline void store(Out* out, std::int64_t i, float v);
template <>
__device__ inline void store<float>(float* out, std::int64_t i, float v) { out[i] = v; }
template <>
__device__ inline void store<__nv_bfloat16>(__nv_bfloat16* out, std::int64_t i, float v) { out[i] = __float2bfloat16_rn(v); }

template <typename Out>
__global__ void first_layer_kernel(const std::int32_t* systems, const std::int32_t* grid, std::int64_t n_pts,
                                   int order, const float* wt, std::int64_t h, const float* bias, std::int64_t start,
                                   std::int64_t count, Out* out) {
  const int lane = threadIdx.x & 31;
  const std::int64_t first = (std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const std::int64_t n_warps = (std::int64_t(gridDim.x) * blockDim.x) >> 5;
  for (std::int64_t q = first; q < count; q += n_warps) {
    const std::int64_t pair = start + q, s = pair / n_pts, pt = pair - s * n_pts;
    const std::int32_t* num = grid + pt * order;
    const std::int32_t* el = systems + s * order;
    double den = 0;
    for (int e = 0; e < order; ++e) den += num[e];
    float f[compositions::kMaxOrder];  // order <= kMaxOrder: checked by the binding
    const float* w[compositions::kMaxOrder];
    int m = 0;
    for (int e = 0; e < order; ++e) {
      if (num[e] == 0) continue;  // exact zero: skipped, as on the CPU
      f[m] = static_cast<float>(num[e] / den);
      w[m++] = wt + std::int64_t(el[e]) * h;
    }
    Out* row = out + q * h;
    for (std::int64_t k = lane; k < h; k += 32) {
      float acc = bias[k];
      // explicit roundings: no fused multiply-add, so the sum is the CPU kernel's bit for bit
      for (int j = 0; j < m; ++j) acc = __fadd_rn(acc, __fmul_rn(f[j], w[j][k]));
      store(row, k, acc);
    }
  }
}
}  // namespace

void first_layer(const std::int32_t* systems, const std::int32_t* grid, std::int64_t n_pts, int order,
                 const float* wt, std::int64_t h, const float* bias, std::int64_t start, std::int64_t count,
                 void* out, bool bf16, std::uintptr_t stream) {
  if (order < 1 || order > compositions::kMaxOrder)  // the kernel's per-row arrays hold kMaxOrder entries
    throw std::invalid_argument("first_layer_cuda: order " + std::to_string(order) + " is outside 1.." +
                                std::to_string(compositions::kMaxOrder));
  if (count <= 0) return;
  const int block = 256;  // 8 warps, 8 rows at a time
  const std::int64_t blocks = std::min<std::int64_t>((count + 7) / 8, 1LL << 20);  // a grid-stride loop does the rest
  cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  if (bf16)
    first_layer_kernel<<<static_cast<unsigned>(blocks), block, 0, s>>>(systems, grid, n_pts, order, wt, h, bias, start,
                                                                      count, static_cast<__nv_bfloat16*>(out));
  else
    first_layer_kernel<<<static_cast<unsigned>(blocks), block, 0, s>>>(systems, grid, n_pts, order, wt, h, bias, start,
                                                                      count, static_cast<float*>(out));
  check(cudaGetLastError(), "first_layer", "launch");
}

bool is_device_pointer(const void* p) {
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged;
}

namespace {

// first_bad[0]: smallest flat systems index with an entry outside 0..n_in-1 (rows s0..s1-1);
// first_bad[1]: smallest flat grid index with a negative numerator; first_bad[2]: smallest grid
// row summing to 0. All start at ULLONG_MAX (none).
__global__ void check_kernel(const std::int32_t* systems, const std::int32_t* grid, std::int64_t n_pts, int order,
                             std::int64_t n_in, std::int64_t s0, std::int64_t s1, unsigned long long* first_bad) {
  const std::int64_t first = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = s0 * order + first; i < s1 * order; i += step) {
    const std::int32_t v = systems[i];
    if (v < 0 || v >= n_in) atomicMin(first_bad, static_cast<unsigned long long>(i));
  }
  for (std::int64_t pt = first; pt < n_pts; pt += step) {
    std::int64_t sum = 0;
    for (int e = 0; e < order; ++e) {
      const std::int32_t v = grid[pt * order + e];
      if (v < 0) atomicMin(first_bad + 1, static_cast<unsigned long long>(pt * order + e));
      sum += v;
    }
    if (sum == 0) atomicMin(first_bad + 2, static_cast<unsigned long long>(pt));
  }
}

// The check's three flags in device memory: from the stream-ordered allocator, or from cudaMalloc
// where the device has no memory pools (cudaMallocAsync reports cudaErrorNotSupported there).
struct Flags {
  static constexpr std::size_t kBytes = 3 * sizeof(unsigned long long);
  unsigned long long* ptr = nullptr;
  bool pooled = false;
  cudaStream_t stream;

  explicit Flags(cudaStream_t s) : stream(s) {
    if (cudaMallocAsync(reinterpret_cast<void**>(&ptr), kBytes, s) == cudaSuccess) {
      pooled = true;
      return;
    }
    cudaGetLastError();  // clear it, and fall back
    ptr = nullptr;
    check(cudaMalloc(reinterpret_cast<void**>(&ptr), kBytes), "first_layer_cuda", "cudaMalloc");
  }
  ~Flags() {
    if (ptr && pooled) cudaFreeAsync(ptr, stream);
    else if (ptr) cudaFree(ptr);
  }
  Flags(const Flags&) = delete;
  Flags& operator=(const Flags&) = delete;
};

// Copies one int32 from the device, ordered on the stream (pageable memory: returns when done).
std::int32_t read_int(const std::int32_t* p, cudaStream_t s) {
  std::int32_t v = 0;
  check(cudaMemcpyAsync(&v, p, sizeof v, cudaMemcpyDeviceToHost, s), "first_layer_cuda", "read back a bad entry");
  check(cudaStreamSynchronize(s), "first_layer_cuda", "read back a bad entry");
  return v;
}

}  // namespace

GatherCheck check_first_layer(const std::int32_t* systems, const std::int32_t* grid, std::int64_t n_pts, int order,
                              std::int64_t n_in, std::int64_t s0, std::int64_t s1, std::uintptr_t stream) {
  cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  unsigned long long found[3] = {~0ull, ~0ull, ~0ull};
  {
    const Flags flags(s);
    check(cudaMemsetAsync(flags.ptr, 0xff, Flags::kBytes, s), "first_layer_cuda", "cudaMemsetAsync");
    const std::int64_t items = std::max<std::int64_t>((s1 - s0) * order, n_pts);
    const int block = 256;
    const std::int64_t blocks = std::max<std::int64_t>(1, std::min<std::int64_t>((items + block - 1) / block, 1024));
    check_kernel<<<static_cast<unsigned>(blocks), block, 0, s>>>(systems, grid, n_pts, order, n_in, s0, s1, flags.ptr);
    check(cudaGetLastError(), "first_layer_cuda", "index check launch");
    check(cudaMemcpyAsync(found, flags.ptr, sizeof found, cudaMemcpyDeviceToHost, s), "first_layer_cuda", "index check");
    check(cudaStreamSynchronize(s), "first_layer_cuda", "index check");
  }
  GatherCheck bad;
  if (found[0] != ~0ull) {
    bad.system_entry = static_cast<std::int64_t>(found[0]);
    bad.system_value = read_int(systems + bad.system_entry, s);
  }
  if (found[1] != ~0ull) {
    bad.grid_entry = static_cast<std::int64_t>(found[1]);
    bad.grid_value = read_int(grid + bad.grid_entry, s);
  }
  if (found[2] != ~0ull) bad.zero_row = static_cast<std::int64_t>(found[2]);
  return bad;
}

}  // namespace hullpack::cuda
