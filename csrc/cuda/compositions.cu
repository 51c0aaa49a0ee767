// CUDA twin of compositions::first_layer: a warp per (system, grid point) pair, its lanes over the
// row's outputs, so that a row's writes are coalesced and its index arithmetic (64-bit divisions, the
// fractions) is done by 32 threads rather than once per output; the 2-3 weight rows it reads stay in L2.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "check.cuh"
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
    float f[3];
    const float* w[3];
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

void copy_to_host(void* dst, const void* src, std::size_t bytes) {
  if (bytes > 0) check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "copy_to_host", "cudaMemcpy");
}

}  // namespace hullpack::cuda
