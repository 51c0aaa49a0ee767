// The one file that knows pybind11. Every function here validates dtype, shape, contiguity and
// values, raising ValueError with the offending index before any kernel runs; the kernels in
// csrc/include/hullpack/ then work on plain pointers with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>

#include "hullpack/cuda.hpp"

namespace py = pybind11;

namespace {

// ---------------------------------------------------------------------------------------------
// Shared validation helpers
// ---------------------------------------------------------------------------------------------

template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  throw py::value_error(os.str());
}

// A C-contiguous float64 array, or a ValueError naming `name`. No copy is made: callers pass
// arrays already converted by the Python layer, so a wrong dtype here is a caller bug to report.
using f64_array = py::array_t<double, py::array::c_style>;
using i64_array = py::array_t<std::int64_t, py::array::c_style>;

template <typename T>
py::array_t<T, py::array::c_style> expect_array(const py::handle& obj, const char* name,
                                                 int ndim_min, int ndim_max) {
  if (!py::isinstance<py::array>(obj)) fail(name, ": expected a numpy array, got ", py::str(py::type::of(obj)).cast<std::string>());
  auto arr = py::reinterpret_borrow<py::array>(obj);
  if (!arr.dtype().is(py::dtype::of<T>()))
    fail(name, ": expected dtype ", py::str(py::dtype::of<T>()).cast<std::string>(), ", got ",
         py::str(arr.dtype()).cast<std::string>());
  if (!(arr.flags() & py::array::c_style)) fail(name, ": array must be C-contiguous");
  if (arr.ndim() < ndim_min || arr.ndim() > ndim_max)
    fail(name, ": expected ", ndim_min, ndim_min == ndim_max ? "" : "-", ndim_min == ndim_max ? "" : std::to_string(ndim_max), "-D array, got ", arr.ndim(), "-D");
  return py::reinterpret_borrow<py::array_t<T, py::array::c_style>>(arr);
}

// Every value finite and >= 0; reports the first bad flat index.
void expect_finite_nonnegative(const double* v, std::int64_t n, const char* name) {
  for (std::int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) fail(name, "[", i, "] is not finite (", v[i], ")");
    if (v[i] < 0) fail(name, "[", i, "] is negative (", v[i], ")");
  }
}

// ---------------------------------------------------------------------------------------------
// packing (csrc/include/hullpack/packing.hpp)
// ---------------------------------------------------------------------------------------------

void bind_packing(py::module_& m) {
  (void)m;
}

// ---------------------------------------------------------------------------------------------
// hull (csrc/include/hullpack/hull.hpp)
// ---------------------------------------------------------------------------------------------

void bind_hull(py::module_& m) {
  (void)m;
}

// ---------------------------------------------------------------------------------------------
// compositions (csrc/include/hullpack/compositions.hpp)
// ---------------------------------------------------------------------------------------------

void bind_compositions(py::module_& m) {
  (void)m;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "hullpack's compiled core: packing, hull and composition kernels";
#ifdef HULLPACK_WITH_OPENMP
  m.attr("with_openmp") = true;
#else
  m.attr("with_openmp") = false;
#endif
#ifdef HULLPACK_WITH_CUDA
  m.attr("with_cuda") = true;
  m.def("cuda_device_count", &hullpack::cuda::device_count, "Number of usable CUDA devices (0 without a driver)");
#else
  m.attr("with_cuda") = false;
  m.def("cuda_device_count", []() { return 0; }, "Number of usable CUDA devices (always 0: built without CUDA)");
#endif
  bind_packing(m);
  bind_hull(m);
  bind_compositions(m);
}
