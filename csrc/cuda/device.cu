#include <cuda_runtime.h>

#include "hullpack/cuda.hpp"

namespace hullpack::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  return n;
}

}  // namespace hullpack::cuda
