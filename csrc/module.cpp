// The hullpack._core extension module: build flags, then one binding family per file
// (bind_packing.cpp, bind_hull.cpp, bind_compositions.cpp, bind_cuda.cpp), all sharing the
// argument checks of bind_checks.hpp.
#include <pybind11/pybind11.h>

#include "hullpack/build_config.hpp"

namespace py = pybind11;

namespace hullpack::bind {
void bind_packing(py::module_& m);
void bind_hull(py::module_& m);
void bind_compositions(py::module_& m);
void bind_cuda(py::module_& m);
}  // namespace hullpack::bind
void bind_stability(py::module_& m);

PYBIND11_MODULE(_core, m) {
  m.doc() = "hullpack's compiled core: packing, hull, composition and stability kernels";
#ifdef HULLPACK_WITH_OPENMP
  m.attr("with_openmp") = true;
#else
  m.attr("with_openmp") = false;
#endif
  m.attr("compiler") = HULLPACK_CXX_COMPILER;
  m.attr("cuda_compiler") = HULLPACK_CUDA_COMPILER;  // empty without the CUDA kernels
  m.attr("cuda_architectures") = HULLPACK_CUDA_ARCHITECTURES;  // "80;90", say; empty without them
  hullpack::bind::bind_packing(m);
  hullpack::bind::bind_hull(m);
  hullpack::bind::bind_compositions(m);
  hullpack::bind::bind_cuda(m);
  bind_stability(m);
}
