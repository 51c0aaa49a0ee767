// Python bindings of what is CUDA-specific: whether the core was built with CUDA, how many devices
// answer, and first_layer on arrays already on a device (any __cuda_array_interface__ exporter,
// e.g. torch CUDA tensors). Without a CUDA build the entry points exist and say so.
//
// first_layer_cuda checks shapes and dtypes on the host, and the indices its slice reads on the
// device, queued on the caller's stream (so it sees the data that stream's earlier work wrote),
// waiting for that check without the GIL; only then is the gather queued, so a bad index never
// reaches the gather and out is untouched on error.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "bind_checks.hpp"
#include "hullpack/cuda.hpp"

namespace hullpack::bind {

namespace {

#ifdef HULLPACK_WITH_CUDA
// A device array described by __cuda_array_interface__ (version 2 or 3): C-contiguous, one of
// the accepted typestrs, on the current device. Nothing is read from the device here.
struct CudaArray {
  std::uintptr_t ptr = 0;
  std::vector<std::int64_t> shape;
  std::string typestr;
  bool readonly = false;
};

CudaArray expect_cuda_array(const py::handle& obj, const char* name, int ndim, std::initializer_list<const char*> typestrs) {
  if (!py::hasattr(obj, "__cuda_array_interface__"))
    fail(name, ": expected a CUDA array (e.g. a torch tensor on a CUDA device), got ", type_name(obj));
  py::object cai_obj = obj.attr("__cuda_array_interface__");
  if (!py::isinstance<py::dict>(cai_obj)) fail(name, ": __cuda_array_interface__ is not a dict");
  auto cai = py::reinterpret_borrow<py::dict>(cai_obj);
  if (!cai.contains("shape") || !cai.contains("typestr") || !cai.contains("data"))
    fail(name, ": incomplete __cuda_array_interface__ (needs shape, typestr and data)");
  const std::string entry = std::string(name) + ": __cuda_array_interface__ ";
  CudaArray a;

  py::object shape = cai["shape"];
  if (!py::isinstance<py::tuple>(shape)) fail(entry, "shape must be a tuple, got ", type_name(shape));
  for (const auto& d : py::reinterpret_borrow<py::tuple>(shape)) {
    const std::int64_t extent = expect_int(d, (entry + "shape").c_str());
    if (extent < 0) fail(entry, "shape has a negative extent (", extent, ")");
    a.shape.push_back(extent);
  }
  if (static_cast<int>(a.shape.size()) != ndim) fail(name, ": expected a ", ndim, "-D array, got ", a.shape.size(), "-D");
  std::int64_t size = 1;
  for (auto d : a.shape) size = checked_product(size, d);
  if (size < 0 || size > (INT64_MAX >> 4)) fail(name, ": array too large (shape overflows)");

  if (!py::isinstance<py::str>(cai["typestr"])) fail(entry, "typestr must be a str");
  a.typestr = cai["typestr"].cast<std::string>();
  bool ok = false;
  for (const char* t : typestrs) ok = ok || a.typestr == t;
  if (!ok) fail(name, ": unsupported dtype (typestr '", a.typestr, "')");
  const std::int64_t item = a.typestr[2] - '0';  // "<i4", "<f4", "<u2", "<i2": validated above

  py::object data_obj = cai["data"];
  if (!py::isinstance<py::tuple>(data_obj) || py::len(data_obj) != 2)
    fail(entry, "data must be a tuple (pointer, read_only)");
  auto data = py::reinterpret_borrow<py::tuple>(data_obj);
  const std::int64_t ptr = expect_int(data[0], (entry + "data pointer").c_str());
  if (ptr < 0) fail(entry, "data pointer is negative");
  a.ptr = static_cast<std::uintptr_t>(ptr);
  const int readonly = PyObject_IsTrue(data[1].ptr());
  if (readonly < 0) throw py::error_already_set();
  a.readonly = readonly == 1;

  if (cai.contains("strides") && !cai["strides"].is_none()) {  // must describe a C-contiguous layout
    py::object strides_obj = cai["strides"];
    if (!py::isinstance<py::tuple>(strides_obj) || py::len(strides_obj) != static_cast<std::size_t>(ndim))
      fail(entry, "strides must be None or a tuple of ", ndim, " integers");
    auto strides = py::reinterpret_borrow<py::tuple>(strides_obj);
    std::int64_t expected = item;
    for (int d = ndim - 1; d >= 0; --d) {
      if (a.shape[d] > 1 && expect_int(strides[d], (entry + "strides").c_str()) != expected)
        fail(name, ": array must be C-contiguous");
      expected *= a.shape[d];
    }
  }
  if (size > 0 && !cuda::is_device_pointer(reinterpret_cast<const void*>(a.ptr)))
    fail(name, ": data is not in memory of the current CUDA device");
  return a;
}
#endif

py::object core_first_layer_cuda(const py::handle& systems_obj, const py::handle& grid_obj, const py::handle& wt_obj,
                                 const py::handle& bias_obj, const py::handle& start_obj, const py::handle& count_obj,
                                 const py::handle& out_obj, const py::handle& stream_obj) {
#ifndef HULLPACK_WITH_CUDA
  (void)systems_obj, (void)grid_obj, (void)wt_obj, (void)bias_obj, (void)start_obj, (void)count_obj, (void)out_obj, (void)stream_obj;
  throw std::runtime_error("first_layer_cuda: hullpack was built without CUDA");
#else
  const CudaArray systems = expect_cuda_array(systems_obj, "systems", 2, {"<i4"});
  const CudaArray grid = expect_cuda_array(grid_obj, "grid", 2, {"<i4"});
  const CudaArray wt = expect_cuda_array(wt_obj, "weight_t", 2, {"<f4"});
  const CudaArray bias = expect_cuda_array(bias_obj, "bias", 1, {"<f4"});
  const CudaArray out = expect_cuda_array(out_obj, "out", 2, {"<f4", "<i2", "<u2"});
  const int order = static_cast<int>(systems.shape[1]);
  if (order != 2 && order != 3) fail("systems: expected 2 or 3 columns, got ", order);
  if (grid.shape[1] != order) fail("grid: expected ", order, " columns like systems, got ", grid.shape[1]);
  const std::int64_t n_sys = systems.shape[0], n_pts = grid.shape[0], n_in = wt.shape[0], h = wt.shape[1];
  if (n_pts == 0) fail("grid: no points");
  if (h == 0) fail("weight_t: no output features");
  if (bias.shape[0] != h) fail("bias: expected ", h, " values, got ", bias.shape[0]);
  const std::int64_t start = expect_int(start_obj, "start"), count = expect_int(count_obj, "count");
  const std::int64_t n_pairs = checked_product(n_sys, n_pts);
  if (start < 0 || count < 0 || n_pairs < 0 || start > n_pairs - count)
    fail("start = ", start, ", count = ", count, ": pairs must lie in 0..", n_pairs);
  if (out.readonly) fail("out: read-only");
  if (out.shape[0] != count || out.shape[1] != h) fail("out: expected shape (", count, ", ", h, ")");
  const std::uintptr_t stream = stream_obj.is_none() ? 0 : static_cast<std::uintptr_t>(expect_int(stream_obj, "stream"));
  if (count == 0) return py::reinterpret_borrow<py::object>(out_obj);

  const auto* sy = reinterpret_cast<const std::int32_t*>(systems.ptr);
  const auto* g = reinterpret_cast<const std::int32_t*>(grid.ptr);
  const std::int64_t s0 = start / n_pts, s1 = (start + count - 1) / n_pts + 1;
  cuda::GatherCheck bad;
  {
    py::gil_scoped_release release;
    bad = cuda::check_first_layer(sy, g, n_pts, order, n_in, s0, s1, stream);
  }
  if (bad.system_entry >= 0)
    fail("systems[", bad.system_entry / order, ", ", bad.system_entry % order, "] = ", bad.system_value,
         " is not a row of weight_t (0..", n_in - 1, ")");
  if (bad.grid_entry >= 0 && (bad.zero_row < 0 || bad.grid_entry / order <= bad.zero_row))
    fail("grid[", bad.grid_entry / order, ", ", bad.grid_entry % order, "] = ", bad.grid_value, " is negative");
  if (bad.zero_row >= 0) fail("grid[", bad.zero_row, "] is all zero: no composition");
  {
    py::gil_scoped_release release;
    cuda::first_layer(sy, g, n_pts, order, reinterpret_cast<const float*>(wt.ptr), h,
                      reinterpret_cast<const float*>(bias.ptr), start, count, reinterpret_cast<void*>(out.ptr),
                      out.typestr != "<f4", stream);
  }
  return py::reinterpret_borrow<py::object>(out_obj);
#endif
}

}  // namespace

void bind_cuda(py::module_& m) {
#ifdef HULLPACK_WITH_CUDA
  m.attr("with_cuda") = true;
  m.def("cuda_device_count", &cuda::device_count,
        "Number of CUDA devices the kernels can run on: compute capability at least the lowest architecture "
        "built (0 without a driver).");
#else
  m.attr("with_cuda") = false;
  m.def("cuda_device_count", []() { return 0; }, "Number of usable CUDA devices (always 0: built without CUDA).");
#endif
  m.def("first_layer_cuda", &core_first_layer_cuda, py::arg("systems"), py::arg("grid"), py::arg("weight_t"),
        py::arg("bias"), py::arg("start"), py::arg("count"), py::arg("out"), py::arg("stream") = py::none(),
        "first_layer on CUDA arrays (__cuda_array_interface__): out float32, or int16/uint16 holding bfloat16; "
        "queued on `stream` (an int handle; None: the default stream) after its indices are checked on that "
        "stream. Returns out.");
}

}  // namespace hullpack::bind
