// Turns a failed CUDA call into std::runtime_error naming the entry point and the operation.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace hullpack::cuda {

inline void check(cudaError_t err, const char* entry, const char* what) {
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    throw std::runtime_error(std::string("CUDA error in ") + entry + " (" + what + "): " + cudaGetErrorString(err));
  }
}

}  // namespace hullpack::cuda
