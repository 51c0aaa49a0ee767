// Entry points of the CUDA twins. Declared always; defined only when the build found CUDA.
#pragma once

namespace hullpack::cuda {

// Number of CUDA devices the kernels can run on (compute capability at least the lowest
// architecture built); 0 when the driver or a device is missing.
int device_count();

}  // namespace hullpack::cuda

namespace hullpack::hull {
struct BatchInput;
struct BatchOutput;
}  // namespace hullpack::hull

namespace hullpack::cuda {

// hull::hull_batch on the current CUDA device, one thread per system with the same per-system code.
// Host arrays in and out (copied both ways); throws std::runtime_error on a CUDA error.
void hull_batch(const hull::BatchInput& in, const hull::BatchOutput& out);

}  // namespace hullpack::cuda

#include <cstddef>
#include <cstdint>

namespace hullpack::cuda {

// compositions::first_layer on arrays already on the current CUDA device; out is float32, or
// bfloat16 (round to nearest even) when bf16. Queued on `stream` (0: the default stream); returns
// without waiting. Throws std::runtime_error on a CUDA error.
void first_layer(const std::int32_t* systems, const std::int32_t* grid, std::int64_t n_pts, int order,
                 const float* wt, std::int64_t h, const float* bias, std::int64_t start, std::int64_t count,
                 void* out, bool bf16, std::uintptr_t stream);

// Whether p points to memory the current device can use (device or managed memory).
bool is_device_pointer(const void* p);

// The first bad entries first_layer would read, found on the device: -1 where there is none.
struct GatherCheck {
  std::int64_t system_entry = -1;  // flat index s * order + e of the first systems entry outside 0..n_in-1
  std::int32_t system_value = 0;   //   and its value
  std::int64_t grid_entry = -1;    // flat index pt * order + e of the first negative grid numerator
  std::int32_t grid_value = 0;     //   and its value
  std::int64_t zero_row = -1;      // the first grid row whose numerators sum to 0
};

// Checks systems rows s0..s1-1 and every grid row on the device, queued on `stream` (0: the
// default stream) so that it reads what the stream's earlier work wrote, and waits for the result.
// Throws std::runtime_error on a CUDA error.
GatherCheck check_first_layer(const std::int32_t* systems, const std::int32_t* grid, std::int64_t n_pts, int order,
                              std::int64_t n_in, std::int64_t s0, std::int64_t s1, std::uintptr_t stream);

}  // namespace hullpack::cuda
