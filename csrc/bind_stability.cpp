// pybind11 binding of hullpack/stability.hpp: _core.StabilityHulls. Every argument is checked here
// (dtype, shape, contiguity, values), raising ValueError that names the argument and the row before
// any kernel runs; the kernels then run on plain pointers with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "bind_checks.hpp"
#include "hullpack/stability.hpp"

namespace py = pybind11;

namespace {

using hullpack::stability::Compositions;
using hullpack::stability::HullSet;
using hullpack::stability::kMaxElements;
using hullpack::stability::QueryOutput;

// ---------------------------------------------------------------------------------------------
// Argument checks: the shared ones (bind_checks.hpp), and the stability-specific ones below
// ---------------------------------------------------------------------------------------------

using hullpack::bind::expect_int;
using hullpack::bind::fail;
using hullpack::bind::type_name;

// A 1-D C-contiguous array of exactly dtype T (no conversion: the Python layer converts).
template <typename T>
hullpack::bind::c_array<T> expect_vector(const py::handle& obj, const std::string& name) {
  return hullpack::bind::expect_array<T>(obj, name.c_str(), 1, 1);
}

double expect_tol(const py::handle& obj) {
  if (PyBool_Check(obj.ptr()) || !(PyFloat_Check(obj.ptr()) || PyLong_Check(obj.ptr())))
    fail("tol: expected a number, got ", type_name(obj));
  const double v = obj.cast<double>();
  if (!std::isfinite(v) || v < 0) fail("tol: must be finite and >= 0, got ", v);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Compositions in CSR form
// ---------------------------------------------------------------------------------------------

struct CsrView {
  py::array_t<std::int64_t, py::array::c_style> offsets;
  py::array_t<std::int32_t, py::array::c_style> elements;
  py::array_t<double, py::array::c_style> fractions, energies;
  Compositions view() const {
    Compositions c;
    c.n = offsets.shape(0) - 1;
    c.offsets = offsets.data();
    c.elements = elements.data();
    c.fractions = fractions.data();
    c.energies = energies.data();
    return c;
  }
};

// Rows r own elements/fractions[offsets[r] .. offsets[r + 1]): ids strictly ascending in
// [0, kMaxElements), fractions finite and > 0 summing to 1 within 1e-9, energies finite.
CsrView expect_compositions(const py::handle& off_obj, const py::handle& el_obj, const py::handle& fr_obj,
                            const py::handle& en_obj, const std::string& what) {
  CsrView v{expect_vector<std::int64_t>(off_obj, what + " offsets"), expect_vector<std::int32_t>(el_obj, what + " elements"),
            expect_vector<double>(fr_obj, what + " fractions"), expect_vector<double>(en_obj, what + " energies")};
  const std::int64_t n_off = v.offsets.shape(0);
  if (n_off < 1) fail(what, " offsets: expected n + 1 >= 1 values, got none");
  const std::int64_t n = n_off - 1;
  const std::int64_t* off = v.offsets.data();
  if (off[0] != 0) fail(what, " offsets[0] must be 0, got ", off[0]);
  for (std::int64_t r = 0; r < n; ++r)
    if (off[r + 1] <= off[r]) fail(what, " row ", r, " has no elements (offsets[", r + 1, "] = ", off[r + 1], " <= offsets[", r, "] = ", off[r], ")");
  const std::int64_t nnz = off[n];
  if (v.elements.shape(0) != nnz) fail(what, " elements: expected ", nnz, " values (offsets[-1]), got ", v.elements.shape(0));
  if (v.fractions.shape(0) != nnz) fail(what, " fractions: expected ", nnz, " values (offsets[-1]), got ", v.fractions.shape(0));
  if (v.energies.shape(0) != n) fail(what, " energies: expected ", n, " values (one per row), got ", v.energies.shape(0));
  const std::int32_t* el = v.elements.data();
  const double* fr = v.fractions.data();
  const double* en = v.energies.data();
  for (std::int64_t r = 0; r < n; ++r) {
    double sum = 0;
    for (std::int64_t q = off[r]; q < off[r + 1]; ++q) {
      if (el[q] < 0 || el[q] >= kMaxElements)
        fail(what, " row ", r, ": element id ", el[q], " is out of range [0, ", kMaxElements, ")");
      if (q > off[r] && el[q] <= el[q - 1])
        fail(what, " row ", r, ": element ids must be strictly ascending, got ", el[q - 1], " then ", el[q]);
      if (!std::isfinite(fr[q]) || !(fr[q] > 0))
        fail(what, " row ", r, ": fraction of element ", el[q], " must be finite and > 0, got ", fr[q]);
      sum += fr[q];
    }
    if (std::fabs(sum - 1.0) > 1e-9) fail(what, " row ", r, ": fractions sum to ", sum, ", not 1 (within 1e-9)");
    if (!std::isfinite(en[r])) fail(what, " row ", r, ": energy is not finite (", en[r], ")");
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// StabilityHulls
// ---------------------------------------------------------------------------------------------

py::dict run(std::int64_t n, const std::int64_t* slots_per_row_offsets,
             const std::function<void(const QueryOutput&)>& call) {
  py::array_t<std::int64_t> slot_offsets(n + 1);
  std::copy(slots_per_row_offsets, slots_per_row_offsets + n + 1, slot_offsets.mutable_data());
  const std::int64_t n_slots = slots_per_row_offsets[n];
  py::array_t<double> e_above(n), decomp(n), weight(n_slots);
  py::array_t<bool> stable(n);
  py::array_t<std::uint8_t> status(n);
  py::array_t<std::int32_t> n_products(n);
  py::array_t<std::int64_t> ids(n_slots);
  QueryOutput out;
  out.slot_offsets = slot_offsets.data();
  out.e_above_hull = e_above.mutable_data();
  out.decomposition_energy = decomp.mutable_data();
  static_assert(sizeof(bool) == sizeof(std::uint8_t), "bool arrays are written as bytes");
  out.stable = reinterpret_cast<std::uint8_t*>(stable.mutable_data());
  out.status = status.mutable_data();
  out.n_products = n_products.mutable_data();
  out.product_id = ids.mutable_data();
  out.product_weight = weight.mutable_data();
  {
    py::gil_scoped_release release;
    call(out);
  }
  py::dict r;
  r["e_above_hull"] = e_above;
  r["decomposition_energy"] = decomp;
  r["stable"] = stable;
  r["status"] = status;
  r["n_products"] = n_products;
  r["product_offsets"] = slot_offsets;
  r["product_id"] = ids;
  r["product_weight"] = weight;
  return r;
}

std::unique_ptr<HullSet> make_hulls(const py::handle& offsets, const py::handle& elements, const py::handle& fractions,
                                    const py::handle& energies, const py::handle& tol, const py::handle& n_threads) {
  const CsrView v = expect_compositions(offsets, elements, fractions, energies, "entries");
  const double t = expect_tol(tol);
  const int nt = hullpack::bind::expect_n_threads(n_threads);  // 0..4096, never truncated to int
  py::gil_scoped_release release;
  return std::make_unique<HullSet>(v.view(), t, nt);
}

py::dict query(const HullSet& hulls, const py::handle& offsets, const py::handle& elements, const py::handle& fractions,
               const py::handle& energies, const py::handle& n_threads) {
  const CsrView v = expect_compositions(offsets, elements, fractions, energies, "queries");
  const int nt = hullpack::bind::expect_n_threads(n_threads);  // 0..4096, never truncated to int
  const Compositions c = v.view();
  return run(c.n, c.offsets, [&](const QueryOutput& out) { hulls.query(c, out, nt); });
}

py::dict query_entries(const HullSet& hulls, const py::handle& indices_obj, const py::handle& n_threads) {
  const int nt = hullpack::bind::expect_n_threads(n_threads);  // 0..4096, never truncated to int
  const std::int64_t n_entries = hulls.n_entries();
  py::array_t<std::int64_t, py::array::c_style> keep;
  const std::int64_t* idx = nullptr;
  std::int64_t n = n_entries;
  if (!indices_obj.is_none()) {
    keep = expect_vector<std::int64_t>(indices_obj, "indices");
    idx = keep.data();
    n = keep.shape(0);
    for (std::int64_t r = 0; r < n; ++r)
      if (idx[r] < 0 || idx[r] >= n_entries) fail("indices[", r, "] = ", idx[r], " is out of range [0, ", n_entries, ")");
  }
  std::vector<std::int64_t> slots(n + 1, 0);
  for (std::int64_t r = 0; r < n; ++r) slots[r + 1] = slots[r] + hulls.entry_size(idx ? idx[r] : r);
  return run(n, slots.data(), [&](const QueryOutput& out) { hulls.query_entries(idx, n, out, nt); });
}

}  // namespace

void bind_stability(py::module_& m) {
  py::class_<HullSet>(m, "StabilityHulls",
                      "Lower convex hulls of every chemical space of a set of entries (compositions with energies "
                      "per atom), built once; see hullpack.stability for the conventions.")
      .def(py::init(&make_hulls), py::arg("offsets"), py::arg("elements"), py::arg("fractions"), py::arg("energies"),
           py::arg("tol") = 1e-9, py::arg("n_threads") = 0,
           "Entries in CSR form: offsets int64 (n + 1,), elements int32 and fractions float64 (offsets[-1],), "
           "energies float64 (n,) in eV/atom; tol (eV/atom): how far below the hull of the other compositions "
           "a compound must lie to be stable.")
      .def("query", &query, py::arg("offsets"), py::arg("elements"), py::arg("fractions"), py::arg("energies"),
           py::arg("n_threads") = 0,
           "Outside compositions (CSR as the entries) against the hulls: a dict of e_above_hull, "
           "decomposition_energy, stable, status, n_products, product_offsets, product_id, product_weight.")
      .def("query_entries", &query_entries, py::arg("indices") = py::none(), py::arg("n_threads") = 0,
           "Entries (int64 indices, or None: all) against the hulls they belong to; the same dict as query.")
      .def_property_readonly("n_entries", &HullSet::n_entries)
      .def_property_readonly("n_spaces", &HullSet::n_spaces)
      .def_property_readonly("n_hull_points", &HullSet::n_hull_points)
      .def_property_readonly("max_elements", &HullSet::max_elements)
      .def_property_readonly("tol", &HullSet::tol)
      .def(
          "knows_element",
          [](const HullSet& hulls, const py::handle& element) {  // an integer (no bool), any in int64
            const std::int64_t e = expect_int(element, "element");
            return e >= 0 && e < kMaxElements && hulls.knows_element(static_cast<int>(e));
          },
          py::arg("element"),
           "Whether some entry contains element id `element`.");
}
