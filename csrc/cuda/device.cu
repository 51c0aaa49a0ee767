#include <cuda_runtime.h>

#include <algorithm>
#include <iterator>

#include "hullpack/cuda.hpp"

namespace hullpack::cuda {

namespace {

// The lowest architecture the kernels were compiled for (nvcc's list, e.g. 800 for sm_80): a
// device below it has no code to run them (its compute capability x 100, here 750 for a T4).
int lowest_architecture() {
#ifdef __CUDA_ARCH_LIST__
  constexpr int built[] = {__CUDA_ARCH_LIST__};
  return *std::min_element(std::begin(built), std::end(built));
#else
  return 0;
#endif
}

}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  // Devices the kernels can run on: compute capability at least the lowest architecture built
  // (newer ones run its code or compile its PTX). The attributes need no context on the device.
  int usable = 0;
  for (int d = 0; d < n; ++d) {
    int major = 0, minor = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, d) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, d) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    usable += 100 * major + 10 * minor >= lowest_architecture();
  }
  return usable;
}

}  // namespace hullpack::cuda
