// Entry points of the CUDA twins. Declared always; defined only when the build found CUDA.
#pragma once

namespace hullpack::cuda {

// Number of usable CUDA devices; 0 when the driver or a device is missing.
int device_count();

}  // namespace hullpack::cuda
