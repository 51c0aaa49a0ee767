// CUDA twin of hull::hull_batch: one thread per system running the same per-system code as the CPU
// (hullpack/hull_kernels.hpp), each thread with its own slice of a scratch buffer in global memory.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.cuh"
#include "hullpack/cuda.hpp"
#include "hullpack/hull.hpp"
#include "hullpack/hull_kernels.hpp"

namespace hullpack::cuda {

namespace {

// A device allocation freed on scope exit, so errors thrown halfway leak nothing.
template <typename T>
struct DeviceArray {
  T* ptr = nullptr;
  explicit DeviceArray(std::size_t count) {
    if (count > 0) check(cudaMalloc(&ptr, count * sizeof(T)), "hull_batch", "cudaMalloc");
  }
  ~DeviceArray() {
    if (ptr) cudaFree(ptr);
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  void upload(const T* src, std::size_t count) {
    if (count > 0) check(cudaMemcpy(ptr, src, count * sizeof(T), cudaMemcpyHostToDevice), "hull_batch", "upload");
  }
  void download(T* dst, std::size_t count) const {
    if (count > 0 && dst) check(cudaMemcpy(dst, ptr, count * sizeof(T), cudaMemcpyDeviceToHost), "hull_batch", "download");
  }
};

__global__ void hull_kernel(hull::BatchInput in, hull::BatchOutput out, char* scratch, std::size_t stride) {
  const std::int64_t first = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  void* mine = scratch + std::size_t(first) * stride;
  for (std::int64_t s = first; s < in.n_sys; s += step) hull::detail::run_system(in, out, s, mine);
}

}  // namespace

void hull_batch(const hull::BatchInput& in, const hull::BatchOutput& out) {
  const std::int64_t n_sys = in.n_sys;
  if (n_sys <= 0) return;
  const int k = in.order;
  const std::int64_t n_total = in.offsets[n_sys];
  std::int64_t n_max = 0;
  for (std::int64_t s = 0; s < n_sys; ++s) n_max = std::max(n_max, in.offsets[s + 1] - in.offsets[s]);
  const std::size_t n_frac_rows = in.shared_grid ? std::size_t(in.offsets[1] - in.offsets[0]) : std::size_t(n_total);

  DeviceArray<double> fractions(n_frac_rows * k), energies(n_total), e_above(n_total);
  DeviceArray<std::int64_t> offsets(n_sys + 1);
  DeviceArray<std::uint8_t> is_vertex(n_total), status(n_sys);
  DeviceArray<std::int32_t> n_vertices(n_sys), n_facets(n_sys);
  DeviceArray<std::int32_t> decomp_index(out.decomp_index ? n_total * k : 0);
  DeviceArray<double> decomp_weight(out.decomp_weight ? n_total * k : 0);
  DeviceArray<std::int32_t> facets(out.facets ? hull::facet_capacity(k, n_total, n_sys) : 0);
  fractions.upload(in.fractions, n_frac_rows * k);
  energies.upload(in.energies, n_total);
  offsets.upload(in.offsets, n_sys + 1);

  // Enough threads to fill the device, each with its own scratch (a 231-point ternary needs about
  // 48 KiB): at most 2 GiB of scratch, or half the free memory.
  const std::size_t stride = (hull::detail::scratch_bytes(k, n_max) + 255) & ~std::size_t{255};
  std::size_t free_bytes = 0, total_bytes = 0;
  check(cudaMemGetInfo(&free_bytes, &total_bytes), "hull_batch", "cudaMemGetInfo");
  const std::size_t budget = std::min<std::size_t>(std::size_t{2} << 30, free_bytes / 2);
  const int block = 128;
  std::int64_t threads = std::min<std::int64_t>(n_sys, 131072);
  threads = std::max<std::int64_t>(1, std::min<std::int64_t>(threads, std::int64_t(budget / stride)));
  const int grid = static_cast<int>((threads + block - 1) / block);
  DeviceArray<char> scratch(std::size_t(grid) * block * stride);

  hull::BatchInput din = in;
  din.fractions = fractions.ptr;
  din.energies = energies.ptr;
  din.offsets = offsets.ptr;
  hull::BatchOutput dout;
  dout.e_above_hull = e_above.ptr;
  dout.is_vertex = is_vertex.ptr;
  dout.decomp_index = out.decomp_index ? decomp_index.ptr : nullptr;
  dout.decomp_weight = out.decomp_weight ? decomp_weight.ptr : nullptr;
  dout.facets = out.facets ? facets.ptr : nullptr;
  dout.n_facets = n_facets.ptr;
  dout.n_vertices = n_vertices.ptr;
  dout.status = status.ptr;
  hull_kernel<<<grid, block>>>(din, dout, scratch.ptr, stride);
  check(cudaGetLastError(), "hull_batch", "launch");
  check(cudaDeviceSynchronize(), "hull_batch", "kernel");

  e_above.download(out.e_above_hull, n_total);
  is_vertex.download(out.is_vertex, n_total);
  decomp_index.download(out.decomp_index, out.decomp_index ? n_total * k : 0);
  decomp_weight.download(out.decomp_weight, out.decomp_weight ? n_total * k : 0);
  facets.download(out.facets, out.facets ? hull::facet_capacity(k, n_total, n_sys) : 0);
  n_facets.download(out.n_facets, n_sys);
  n_vertices.download(out.n_vertices, n_sys);
  status.download(out.status, n_sys);
}

}  // namespace hullpack::cuda
