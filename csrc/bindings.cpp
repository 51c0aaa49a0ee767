// The one file that knows pybind11. Every function here validates dtype, shape, contiguity and
// values, raising ValueError with the offending index before any kernel runs; the kernels in
// csrc/include/hullpack/ then work on plain pointers with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

#include "hullpack/compositions.hpp"
#include "hullpack/cuda.hpp"
#include "hullpack/hull.hpp"
#include "hullpack/packing.hpp"

namespace py = pybind11;

namespace {

// ---------------------------------------------------------------------------------------------
// Shared validation helpers
// ---------------------------------------------------------------------------------------------

// Message pieces, formatted without iostreams or locales: an ostringstream here crashed (inside
// its number formatting) in a process with PyTorch's CUDA build loaded, on an H200 machine.
inline void append(std::string& s, const std::string& v) { s += v; }
inline void append(std::string& s, const char* v) { s += v; }
inline void append(std::string& s, char v) { s += v; }
template <typename T, std::enable_if_t<std::is_integral_v<T>, int> = 0>
void append(std::string& s, T v) {
  s += std::to_string(v);
}
template <typename T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
void append(std::string& s, T v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
  s += buf;
}

template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::string msg;
  (append(msg, parts), ...);
  throw py::value_error(msg);
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

// A Python int (or numpy integer), not a bool; ValueError otherwise or when it overflows int64.
std::int64_t expect_int(const py::handle& obj, const char* name) {
  if (PyBool_Check(obj.ptr()) || !PyIndex_Check(obj.ptr()))
    fail(name, ": expected an integer, got ", py::str(py::type::of(obj)).cast<std::string>());
  py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(obj.ptr()));
  if (!index) {
    PyErr_Clear();
    fail(name, ": expected an integer, got ", py::str(py::type::of(obj)).cast<std::string>());
  }
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
  if (overflow != 0) fail(name, " = ", py::str(obj).cast<std::string>(), " is out of range");
  return static_cast<std::int64_t>(v);
}

// Item sizes as an (n,) or (n, k) float64 array with n >= 1, k >= 1, every entry finite and >= 0.
struct SizesView {
  f64_array arr;
  std::int64_t n, k;
  const double* data() const { return arr.data(); }
};

SizesView expect_sizes(const py::handle& obj, const char* name) {
  auto arr = expect_array<double>(obj, name, 1, 2);
  const std::int64_t n = arr.shape(0), k = arr.ndim() == 2 ? arr.shape(1) : 1;
  if (n == 0) fail(name, ": no items (empty array)");
  if (k == 0) fail(name, ": items have no cost dimensions (shape (", n, ", 0))");
  if (k == 1) {
    expect_finite_nonnegative(arr.data(), n, name);
  } else {
    const double* v = arr.data();
    for (std::int64_t i = 0; i < n * k; ++i) {
      if (!std::isfinite(v[i])) fail(name, "[", i / k, ", ", i % k, "] is not finite (", v[i], ")");
      if (v[i] < 0) fail(name, "[", i / k, ", ", i % k, "] is negative (", v[i], ")");
    }
  }
  return {arr, n, k};
}

// Null for None, else the data of an int64 permutation of 0..n-1.
const std::int64_t* expect_order(const py::handle& obj, std::int64_t n, i64_array& keep) {
  if (obj.is_none()) return nullptr;
  keep = expect_array<std::int64_t>(obj, "order", 1, 1);
  if (keep.shape(0) != n) fail("order: expected ", n, " entries (one per item), got ", keep.shape(0));
  const std::int64_t* o = keep.data();
  std::vector<std::uint8_t> seen(n, 0);
  for (std::int64_t p = 0; p < n; ++p) {
    const std::int64_t v = o[p];
    if (v < 0 || v >= n) fail("order[", p, "] = ", v, " is out of range: order must be a permutation of 0..", n - 1);
    if (seen[v]) {
      const std::int64_t first = std::find(o, o + p, v) - o;  // only on the way to an error
      fail("order[", p, "] = ", v, " repeats order[", first, "]: order must be a permutation of 0..", n - 1);
    }
    seen[v] = 1;
  }
  return o;
}

// n_batches batches of at most batch_size items hold n items with no batch left empty:
// ceil(n / batch_size) <= n_batches <= n (checked without overflow).
void expect_batches(std::int64_t n, std::int64_t n_batches, std::int64_t batch_size) {
  if (n_batches < 1) fail("n_batches must be >= 1, got ", n_batches);
  if (batch_size < 1) fail("batch_size must be >= 1, got ", batch_size);
  const std::int64_t need = (n - 1) / batch_size + 1;  // ceil(n / batch_size), n >= 1
  if (n_batches < need || n_batches > n)
    fail("n_batches = ", n_batches, " does not fit n = ", n, " items in batches of at most batch_size = ",
         batch_size, ": need ", need, " <= n_batches <= ", n, " (no batch over batch_size, none empty)");
}

py::tuple core_pack(const py::handle& sizes_obj, const py::handle& capacity_obj, const py::handle& method_obj,
                    const py::handle& order_obj) {
  const SizesView sizes = expect_sizes(sizes_obj, "sizes");
  auto capacity = expect_array<double>(capacity_obj, "capacity", 1, 1);
  if (capacity.shape(0) != sizes.k)
    fail("capacity: expected ", sizes.k, " value(s), one per cost dimension, got ", capacity.shape(0));
  const double* cap = capacity.data();
  for (std::int64_t d = 0; d < sizes.k; ++d)
    if (!std::isfinite(cap[d]) || !(cap[d] > 0)) fail("capacity[", d, "] must be finite and > 0, got ", cap[d]);
  for (std::int64_t i = 0; i < sizes.n; ++i)
    for (std::int64_t d = 0; d < sizes.k; ++d)
      if (sizes.data()[i * sizes.k + d] > cap[d])
        fail("sizes[", i, sizes.k > 1 ? ", " + std::to_string(d) : std::string(), "] = ", sizes.data()[i * sizes.k + d],
             " exceeds the capacity ", cap[d], ": the item fits no bin");
  if (!py::isinstance<py::str>(method_obj)) fail("method: expected 'ffd' or 'bfd', got a non-string");
  const auto name = method_obj.cast<std::string>();
  if (name != "ffd" && name != "bfd") fail("method: expected 'ffd' or 'bfd', got '", name, "'");
  const auto method = name == "ffd" ? hullpack::packing::Method::first_fit : hullpack::packing::Method::best_fit;
  i64_array order_keep;
  const std::int64_t* order = expect_order(order_obj, sizes.n, order_keep);

  i64_array bins(sizes.n);
  std::int64_t* out = bins.mutable_data();
  std::int64_t n_bins;
  {
    py::gil_scoped_release release;
    n_bins = hullpack::packing::pack(sizes.data(), sizes.n, sizes.k, cap, order, method, out);
  }
  return py::make_tuple(bins, n_bins);
}

i64_array core_balance(const py::handle& costs_obj, const py::handle& n_batches_obj,
                       const py::handle& batch_size_obj, const py::handle& order_obj, const py::handle& refine_obj) {
  auto costs = expect_array<double>(costs_obj, "costs", 1, 1);
  const std::int64_t n = costs.shape(0);
  if (n == 0) fail("costs: no items (empty array)");
  expect_finite_nonnegative(costs.data(), n, "costs");
  const std::int64_t n_batches = expect_int(n_batches_obj, "n_batches");
  expect_batches(n, n_batches, expect_int(batch_size_obj, "batch_size"));
  i64_array order_keep;
  const std::int64_t* order = expect_order(order_obj, n, order_keep);
  if (!PyBool_Check(refine_obj.ptr())) fail("refine: expected True or False");
  const bool refine = refine_obj.ptr() == Py_True;

  i64_array bins(n);
  std::int64_t* out = bins.mutable_data();
  {
    py::gil_scoped_release release;
    hullpack::packing::balance(costs.data(), n, n_batches, order, refine, out);
  }
  return bins;
}

double core_lower_bound_pack(const py::handle& sizes_obj, const py::handle& capacity_obj) {
  const SizesView sizes = expect_sizes(sizes_obj, "sizes");
  auto capacity = expect_array<double>(capacity_obj, "capacity", 1, 1);
  if (capacity.shape(0) != sizes.k)
    fail("capacity: expected ", sizes.k, " value(s), one per cost dimension, got ", capacity.shape(0));
  for (std::int64_t d = 0; d < sizes.k; ++d)
    if (!std::isfinite(capacity.data()[d]) || !(capacity.data()[d] > 0))
      fail("capacity[", d, "] must be finite and > 0, got ", capacity.data()[d]);
  py::gil_scoped_release release;
  return hullpack::packing::lower_bound_pack(sizes.data(), sizes.n, sizes.k, capacity.data());
}

double core_lower_bound_balance(const py::handle& costs_obj, const py::handle& n_batches_obj) {
  auto costs = expect_array<double>(costs_obj, "costs", 1, 1);
  const std::int64_t n = costs.shape(0);
  if (n == 0) fail("costs: no items (empty array)");
  expect_finite_nonnegative(costs.data(), n, "costs");
  const std::int64_t n_batches = expect_int(n_batches_obj, "n_batches");
  if (n_batches < 1 || n_batches > n) fail("n_batches must be in 1..", n, " (one item per batch at least), got ", n_batches);
  py::gil_scoped_release release;
  return hullpack::packing::lower_bound_balance(costs.data(), n, n_batches);
}

// bin_of_item as int64 (n,) with every value in 0..n_bins-1.
i64_array expect_bins(const py::handle& obj, std::int64_t n, std::int64_t n_bins) {
  auto bins = expect_array<std::int64_t>(obj, "bin_of_item", 1, 1);
  if (n >= 0 && bins.shape(0) != n) fail("bin_of_item: expected ", n, " entries (one per item), got ", bins.shape(0));
  const std::int64_t* b = bins.data();
  for (std::int64_t i = 0; i < bins.shape(0); ++i)
    if (b[i] < 0 || b[i] >= n_bins) fail("bin_of_item[", i, "] = ", b[i], " is out of range 0..", n_bins - 1);
  return bins;
}

// Output arrays have one row per bin: allow empty bins, but not so many that allocating them
// could exhaust memory (n + 2**24 at most).
std::int64_t expect_n_bins(const py::handle& obj, std::int64_t n) {
  const std::int64_t n_bins = expect_int(obj, "n_bins");
  const std::int64_t most = n + (std::int64_t{1} << 24);
  if (n_bins < 0 || n_bins > most)
    fail("n_bins = ", n_bins, " must be in 0..", most, " (the number of items plus 2**24 empty bins at most)");
  return n_bins;
}

py::array_t<double> core_batch_costs(const py::handle& costs_obj, const py::handle& bins_obj, const py::handle& n_bins_obj) {
  auto costs = expect_array<double>(costs_obj, "costs", 1, 2);
  const std::int64_t n = costs.shape(0), k = costs.ndim() == 2 ? costs.shape(1) : 1;
  const std::int64_t n_bins = expect_n_bins(n_bins_obj, n);
  auto bins = expect_bins(bins_obj, n, n_bins);
  py::array_t<double> out = costs.ndim() == 2 ? py::array_t<double>(std::vector<py::ssize_t>{n_bins, k})
                                               : py::array_t<double>(n_bins);
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    hullpack::packing::batch_costs(costs.data(), n, k, bins.data(), n_bins, o);
  }
  return out;
}

py::tuple core_group(const py::handle& bins_obj, const py::handle& n_bins_obj) {
  auto items_arr = expect_array<std::int64_t>(bins_obj, "bin_of_item", 1, 1);
  const std::int64_t n_bins = expect_n_bins(n_bins_obj, items_arr.shape(0));
  auto bins = expect_bins(bins_obj, -1, n_bins);
  const std::int64_t n = bins.shape(0);
  i64_array offsets(n_bins + 1), items(n);
  std::int64_t* off = offsets.mutable_data();
  std::int64_t* it = items.mutable_data();
  {
    py::gil_scoped_release release;
    hullpack::packing::group(bins.data(), n, n_bins, off, it);
  }
  return py::make_tuple(offsets, items);
}

void bind_packing(py::module_& m) {
  m.def("pack", &core_pack, py::arg("sizes"), py::arg("capacity"), py::arg("method") = "ffd",
        py::arg("order") = py::none(),
        "First/best-fit-decreasing bin packing: (bin_of_item int64 (n,), n_bins). sizes float64 (n,) or (n, k), "
        "capacity float64 (k,), order None or an int64 permutation (the tie order).");
  m.def("balance", &core_balance, py::arg("costs"), py::arg("n_batches"), py::arg("batch_size"),
        py::arg("order") = py::none(), py::arg("refine") = true,
        "Largest-first balanced split into n_batches batches of near-equal cardinality: bin_of_item int64 (n,).");
  m.def("lower_bound_pack", &core_lower_bound_pack, py::arg("sizes"), py::arg("capacity"),
        "Lower bound on the number of bins any packing needs.");
  m.def("lower_bound_balance", &core_lower_bound_balance, py::arg("costs"), py::arg("n_batches"),
        "Lower bound on the peak batch cost of any split into n_batches batches of near-equal cardinality.");
  m.def("batch_costs", &core_batch_costs, py::arg("costs"), py::arg("bin_of_item"), py::arg("n_bins"),
        "Per-bin totals of costs (n,) or (n, k): (n_bins,) or (n_bins, k).");
  m.def("group", &core_group, py::arg("bin_of_item"), py::arg("n_bins"),
        "CSR grouping (offsets (n_bins + 1,), items (n,)), items of a bin in ascending order.");
}

// ---------------------------------------------------------------------------------------------
// hull (csrc/include/hullpack/hull.hpp)
// ---------------------------------------------------------------------------------------------

constexpr std::int64_t kMaxHullPoints = 1000000;  // per system: scratch grows ~150 bytes a point

// System and point of flat row r: "system s, point j (row r)" (offsets validated, r < offsets[n_sys]).
std::string hull_where(const std::int64_t* offsets, std::int64_t n_sys, std::int64_t r) {
  const std::int64_t s = std::upper_bound(offsets, offsets + n_sys + 1, r) - offsets - 1;
  return "system " + std::to_string(s) + ", point " + std::to_string(r - offsets[s]) + " (row " + std::to_string(r) + ")";
}

// Fractions rows finite, >= 0, summing to 1 within 1e-9; `where` names a row in messages.
template <typename Where>
void expect_simplex_rows(const double* f, std::int64_t rows, int k, Where where) {
  for (std::int64_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (int j = 0; j < k; ++j) {
      const double v = f[r * k + j];
      if (!std::isfinite(v)) fail("fractions: ", where(r), " has a non-finite fraction (", v, ")");
      if (v < 0) fail("fractions: ", where(r), " has a negative fraction (", v, ")");
      sum += v;
    }
    if (!(std::abs(sum - 1.0) <= 1e-9))
      fail("fractions: ", where(r), " is not on the simplex: its fractions sum to ", sum, ", not 1");
  }
}

py::dict core_hull_batch(const py::handle& fractions_obj, const py::handle& energies_obj, const py::handle& offsets_obj,
                         const py::handle& tol_obj, const py::handle& decomposition_obj, const py::handle& facets_obj,
                         const py::handle& nonfinite_obj, const py::handle& n_threads_obj, const py::handle& device_obj) {
  auto fractions = expect_array<double>(fractions_obj, "fractions", 2, 2);
  const std::int64_t n_rows = fractions.shape(0);
  const int k = static_cast<int>(fractions.shape(1));
  if (k != 2 && k != 3) fail("fractions: expected 2 (binary) or 3 (ternary) columns, got ", k);
  const bool shared = offsets_obj.is_none();
  f64_array energies = expect_array<double>(energies_obj, "energies", shared ? 2 : 1, shared ? 2 : 1);
  std::int64_t n_sys, n_total;
  i64_array offsets;
  if (shared) {  // one grid for every system: energies (n_sys, n_points)
    n_sys = energies.shape(0);
    if (energies.shape(1) != n_rows)
      fail("energies: expected one column per grid point (", n_rows, "), got shape (", n_sys, ", ", energies.shape(1), ")");
    if (n_rows > kMaxHullPoints) fail("fractions: ", n_rows, " grid points; a system holds at most ", kMaxHullPoints);
    n_total = n_sys * n_rows;
    offsets = i64_array(n_sys + 1);
    for (std::int64_t s = 0; s <= n_sys; ++s) offsets.mutable_data()[s] = s * n_rows;
    expect_simplex_rows(fractions.data(), n_rows, k, [](std::int64_t r) { return "grid point " + std::to_string(r); });
  } else {
    offsets = expect_array<std::int64_t>(offsets_obj, "offsets", 1, 1);
    if (offsets.shape(0) < 1) fail("offsets: expected n_systems + 1 >= 1 entries, got none");
    n_sys = offsets.shape(0) - 1;
    n_total = energies.shape(0);
    if (n_rows != n_total) fail("fractions has ", n_rows, " rows but energies has ", n_total, " values: one row per energy");
    const std::int64_t* o = offsets.data();
    if (o[0] != 0) fail("offsets[0] must be 0, got ", o[0]);
    for (std::int64_t s = 0; s < n_sys; ++s) {
      if (o[s + 1] < o[s]) fail("offsets must not decrease: offsets[", s + 1, "] = ", o[s + 1], " < offsets[", s, "] = ", o[s]);
      if (o[s + 1] - o[s] > kMaxHullPoints)
        fail("system ", s, " has ", o[s + 1] - o[s], " points; a system holds at most ", kMaxHullPoints);
    }
    if (o[n_sys] != n_total) fail("offsets[-1] = ", o[n_sys], " must equal the number of points, ", n_total);
    expect_simplex_rows(fractions.data(), n_rows, k, [&](std::int64_t r) { return hull_where(o, n_sys, r); });
  }
  if (!py::isinstance<py::float_>(tol_obj) && !py::isinstance<py::int_>(tol_obj)) fail("tol: expected a number");
  const double tol = tol_obj.cast<double>();
  if (!std::isfinite(tol) || tol < 0) fail("tol must be finite and >= 0, got ", tol);
  if (!PyBool_Check(decomposition_obj.ptr()) || !PyBool_Check(facets_obj.ptr())) fail("decomposition, facets: expected True or False");
  const bool want_decomp = decomposition_obj.ptr() == Py_True, want_facets = facets_obj.ptr() == Py_True;
  if (!py::isinstance<py::str>(nonfinite_obj)) fail("nonfinite: expected 'raise' or 'nan'");
  const auto nonfinite = nonfinite_obj.cast<std::string>();
  if (nonfinite != "raise" && nonfinite != "nan") fail("nonfinite: expected 'raise' or 'nan', got '", nonfinite, "'");
  if (!py::isinstance<py::str>(device_obj)) fail("device: expected 'cpu' or 'cuda'");
  const auto device = device_obj.cast<std::string>();
  if (device != "cpu" && device != "cuda") fail("device: expected 'cpu' or 'cuda', got '", device, "'");
  const std::int64_t n_threads = expect_int(n_threads_obj, "n_threads");
  if (n_threads < 0 || n_threads > 4096) fail("n_threads must be in 0..4096 (0: the OpenMP default), got ", n_threads);
  const double* e = energies.data();
  if (nonfinite == "raise")
    for (std::int64_t r = 0; r < n_total; ++r)
      if (!std::isfinite(e[r]))
        fail("energies: ", hull_where(offsets.data(), n_sys, r), " is not finite (", e[r],
             "); pass nonfinite='nan' to report such systems instead");

  auto shape = [&](std::int64_t cols) {
    std::vector<py::ssize_t> sh;
    if (shared) sh = {n_sys, n_rows}; else sh = {n_total};
    if (cols > 0) sh.push_back(cols);
    return sh;
  };
  py::array_t<double> e_above(shape(0));
  py::array_t<bool> is_vertex(shape(0));
  py::array_t<std::int32_t> decomp_index(want_decomp ? shape(k) : std::vector<py::ssize_t>{0});
  py::array_t<double> decomp_weight(want_decomp ? shape(k) : std::vector<py::ssize_t>{0});
  py::array_t<std::int32_t> n_vertices(n_sys), n_facets(n_sys);
  py::array_t<std::uint8_t> status(n_sys);
  std::vector<std::int32_t> facet_slots(want_facets ? hullpack::hull::facet_capacity(k, n_total, n_sys) : 0);

  hullpack::hull::BatchInput in;
  in.order = k;
  in.fractions = fractions.data();
  in.shared_grid = shared;
  in.energies = e;
  in.offsets = offsets.data();
  in.n_sys = n_sys;
  in.tol = tol;
  hullpack::hull::BatchOutput out;
  out.e_above_hull = e_above.mutable_data();
  out.is_vertex = reinterpret_cast<std::uint8_t*>(is_vertex.mutable_data());
  out.decomp_index = want_decomp ? decomp_index.mutable_data() : nullptr;
  out.decomp_weight = want_decomp ? decomp_weight.mutable_data() : nullptr;
  out.facets = want_facets ? facet_slots.data() : nullptr;
  out.n_facets = n_facets.mutable_data();
  out.n_vertices = n_vertices.mutable_data();
  out.status = status.mutable_data();
  if (device == "cuda") {
#ifdef HULLPACK_WITH_CUDA
    py::gil_scoped_release release;
    hullpack::cuda::hull_batch(in, out);
#else
    throw std::runtime_error("device='cuda': hullpack was built without CUDA");
#endif
  } else {
    py::gil_scoped_release release;
    hullpack::hull::hull_batch(in, out, static_cast<int>(n_threads));
  }

  py::dict result;
  result["e_above_hull"] = e_above;
  result["is_vertex"] = is_vertex;
  result["n_vertices"] = n_vertices;
  result["status"] = status;
  if (want_decomp) {
    result["decomp_index"] = decomp_index;
    result["decomp_weight"] = decomp_weight;
  }
  if (want_facets) {  // compact the per-system slots into CSR
    i64_array facet_offsets(n_sys + 1);
    std::int64_t* fo = facet_offsets.mutable_data();
    fo[0] = 0;
    for (std::int64_t s = 0; s < n_sys; ++s) fo[s + 1] = fo[s] + n_facets.data()[s];
    py::array_t<std::int32_t> facets(std::vector<py::ssize_t>{fo[n_sys], k});
    std::int32_t* dst = facets.mutable_data();
    for (std::int64_t s = 0; s < n_sys; ++s)
      std::copy_n(facet_slots.data() + hullpack::hull::facet_slot(k, offsets.data()[s], s), k * n_facets.data()[s], dst + k * fo[s]);
    result["facet_offsets"] = facet_offsets;
    result["facets"] = facets;
  }
  return result;
}

void bind_hull(py::module_& m) {
  m.def("hull_batch", &core_hull_batch, py::arg("fractions"), py::arg("energies"), py::arg("offsets") = py::none(),
        py::arg("tol") = 1e-9, py::arg("decomposition") = true, py::arg("facets") = false,
        py::arg("nonfinite") = "raise", py::arg("n_threads") = 0, py::arg("device") = "cpu",
        "Lower hulls of many binary/ternary systems with elemental references at 0 eV/atom. fractions float64 "
        "(N, k) with energies (N,) and CSR offsets (n_sys + 1,), or a shared grid (n_points, k) with energies "
        "(n_sys, n_points) and offsets None. Returns a dict of e_above_hull, is_vertex, n_vertices, status "
        "(0 computed, 1 non-finite energy) and optionally decomp_index/decomp_weight and facet_offsets/facets.");
}

// ---------------------------------------------------------------------------------------------
// compositions (csrc/include/hullpack/compositions.hpp)
// ---------------------------------------------------------------------------------------------

using i32_array = py::array_t<std::int32_t, py::array::c_style>;
constexpr std::int64_t kMaxGridPoints = std::int64_t{1} << 24;

int expect_order(const py::handle& obj) {
  const std::int64_t order = expect_int(obj, "order");
  if (order != 2 && order != 3) fail("order must be 2 (binary) or 3 (ternary), got ", order);
  return static_cast<int>(order);
}

int expect_min_elements(const py::handle& obj, int order) {
  const std::int64_t m = expect_int(obj, "min_elements");
  if (m < 1 || m > order) fail("min_elements must be in 1..", order, " (1: every point, ", order, ": interior points only), got ", m);
  return static_cast<int>(m);
}

i32_array core_systems(const py::handle& elements_obj, const py::handle& order_obj) {
  auto elements = expect_array<std::int32_t>(elements_obj, "elements", 1, 1);
  const int order = expect_order(order_obj);
  const std::int64_t n = elements.shape(0);
  const std::int32_t* el = elements.data();
  for (std::int64_t i = 0; i < n; ++i) {
    if (el[i] < 0) fail("elements[", i, "] = ", el[i], " is negative");
    if (i > 0 && el[i] <= el[i - 1]) fail("elements must be strictly ascending: elements[", i, "] = ", el[i], " after ", el[i - 1]);
  }
  if (n < order) fail("elements: ", n, " element(s) make no system of order ", order);
  const std::int64_t n_sys = hullpack::compositions::n_choose(n, order);
  if (n_sys < 0 || n_sys > (std::int64_t{1} << 31)) fail("elements: ", n, " elements make too many systems of order ", order);
  i32_array out(std::vector<py::ssize_t>{n_sys, order});
  std::int32_t* o = out.mutable_data();
  py::gil_scoped_release release;
  hullpack::compositions::systems(el, n, order, o);
  return out;
}

i32_array core_uniform_grid(const py::handle& order_obj, const py::handle& n_obj, const py::handle& min_obj) {
  const int order = expect_order(order_obj);
  const std::int64_t n = expect_int(n_obj, "n");
  const int min_elements = expect_min_elements(min_obj, order);
  const std::int64_t most = order == 2 ? kMaxGridPoints - 1 : 5000;
  if (n < 1 || n > most) fail("n (the grid step is 1/n) must be in 1..", most, " for order ", order, ", got ", n);
  const std::int64_t size = hullpack::compositions::uniform_grid_size(order, n, min_elements);
  i32_array out(std::vector<py::ssize_t>{size, order});
  std::int32_t* o = out.mutable_data();
  py::gil_scoped_release release;
  hullpack::compositions::uniform_grid(order, n, min_elements, o);
  return out;
}

i32_array core_reduced_grid(const py::handle& order_obj, const py::handle& max_den_obj, const py::handle& min_obj) {
  const int order = expect_order(order_obj);
  const std::int64_t max_den = expect_int(max_den_obj, "max_denominator");
  const int min_elements = expect_min_elements(min_obj, order);
  const std::int64_t most = order == 2 ? 10000 : 400;
  if (max_den < 1 || max_den > most) fail("max_denominator must be in 1..", most, " for order ", order, ", got ", max_den);
  std::int64_t size;
  {
    py::gil_scoped_release release;
    size = hullpack::compositions::reduced_grid_size(order, max_den, min_elements);
  }
  i32_array out(std::vector<py::ssize_t>{size, order});
  std::int32_t* o = out.mutable_data();
  py::gil_scoped_release release;
  hullpack::compositions::reduced_grid(order, max_den, min_elements, o);
  return out;
}

// The output rows of the layer kernels: a writeable C-contiguous (rows, cols) numpy array of
// float32, or of uint16 holding bfloat16 bits (second: true).
std::pair<py::array, bool> expect_rows_out(const py::handle& out_obj, std::int64_t rows, std::int64_t cols) {
  if (!py::isinstance<py::array>(out_obj)) fail("out: expected a numpy array");
  auto out = py::reinterpret_borrow<py::array>(out_obj);
  const bool bf16 = out.dtype().is(py::dtype::of<std::uint16_t>());
  if (!bf16 && !out.dtype().is(py::dtype::of<float>()))
    fail("out: expected dtype float32, or uint16 for bfloat16 bit patterns, got ", py::str(out.dtype()).cast<std::string>());
  if (!(out.flags() & py::array::c_style) || !out.writeable()) fail("out: must be C-contiguous and writeable");
  if (out.ndim() != 2 || out.shape(0) != rows || out.shape(1) != cols) fail("out: expected shape (", rows, ", ", cols, ")");
  return {out, bf16};
}

// The arrays the gather kernels read, checked: systems (n_sys, order 2 or 3), grid (n_pts, order),
// weight_t (n_in, h > 0) and bias (h).
struct GatherInputs {
  py::array_t<std::int32_t, py::array::c_style> systems, grid;
  py::array_t<float, py::array::c_style> wt, bias;
  int order;
  std::int64_t n_sys, n_pts, n_in, h;
};

GatherInputs expect_gather_inputs(const py::handle& systems_obj, const py::handle& grid_obj, const py::handle& wt_obj,
                                  const py::handle& bias_obj) {
  GatherInputs in{expect_array<std::int32_t>(systems_obj, "systems", 2, 2), expect_array<std::int32_t>(grid_obj, "grid", 2, 2),
                  expect_array<float>(wt_obj, "weight_t", 2, 2), expect_array<float>(bias_obj, "bias", 1, 1), 0, 0, 0, 0, 0};
  in.order = static_cast<int>(in.systems.shape(1));
  if (in.order != 2 && in.order != 3) fail("systems: expected 2 or 3 columns, got ", in.order);
  if (in.grid.shape(1) != in.order) fail("grid: expected ", in.order, " columns like systems, got ", in.grid.shape(1));
  in.n_sys = in.systems.shape(0), in.n_pts = in.grid.shape(0), in.n_in = in.wt.shape(0), in.h = in.wt.shape(1);
  if (in.h == 0) fail("weight_t: no output features (shape (", in.n_in, ", 0))");
  if (in.bias.shape(0) != in.h)
    fail("bias: expected ", in.h, " values (weight_t has shape (", in.n_in, ", ", in.h, ")), got ", in.bias.shape(0));
  return in;
}

py::array core_first_layer(const py::handle& systems_obj, const py::handle& grid_obj, const py::handle& wt_obj,
                           const py::handle& bias_obj, const py::handle& start_obj, const py::handle& count_obj,
                           const py::handle& out_obj, const py::handle& n_threads_obj) {
  auto [systems, grid, wt, bias, order, n_sys, n_pts, n_in, h] = expect_gather_inputs(systems_obj, grid_obj, wt_obj, bias_obj);
  if (n_pts == 0) fail("grid: no points");
  const std::int64_t start = expect_int(start_obj, "start"), count = expect_int(count_obj, "count");
  if (start < 0 || count < 0 || n_sys > INT64_MAX / n_pts || start > n_sys * n_pts - count)
    fail("start = ", start, ", count = ", count, ": pairs must lie in 0..", n_sys * n_pts, " (", n_sys, " systems x ", n_pts, " grid points)");
  const std::int64_t n_threads = expect_int(n_threads_obj, "n_threads");
  if (n_threads < 0 || n_threads > 4096) fail("n_threads must be in 0..4096 (0: the OpenMP default), got ", n_threads);
  auto [out, bf16] = expect_rows_out(out_obj, count, h);
  // validate only the rows this slice reads
  if (count > 0) {
    const std::int32_t* sy = systems.data();
    for (std::int64_t s = start / n_pts; s <= (start + count - 1) / n_pts; ++s)
      for (int e = 0; e < order; ++e)
        if (sy[s * order + e] < 0 || sy[s * order + e] >= n_in)
          fail("systems[", s, ", ", e, "] = ", sy[s * order + e], " is not a row of weight_t (0..", n_in - 1, ")");
    const std::int32_t* g = grid.data();
    for (std::int64_t q = 0; q < std::min(count, n_pts); ++q) {
      const std::int64_t pt = (start + q) % n_pts;
      std::int64_t sum = 0;
      for (int e = 0; e < order; ++e) {
        if (g[pt * order + e] < 0) fail("grid[", pt, ", ", e, "] = ", g[pt * order + e], " is negative");
        sum += g[pt * order + e];
      }
      if (sum == 0) fail("grid[", pt, "] is all zero: no composition");
    }
  }
  {
    py::gil_scoped_release release;
    if (bf16)
      hullpack::compositions::first_layer_bf16(systems.data(), grid.data(), n_pts, order, wt.data(), h, bias.data(),
                                               start, count, static_cast<std::uint16_t*>(out.mutable_data()),
                                               static_cast<int>(n_threads));
    else
      hullpack::compositions::first_layer(systems.data(), grid.data(), n_pts, order, wt.data(), h, bias.data(), start,
                                          count, static_cast<float*>(out.mutable_data()), static_cast<int>(n_threads));
  }
  return out;
}

py::array core_first_layer_pairs(const py::handle& systems_obj, const py::handle& grid_obj, const py::handle& wt_obj,
                                 const py::handle& bias_obj, const py::handle& sys_obj, const py::handle& pt_obj,
                                 const py::handle& out_obj, const py::handle& n_threads_obj) {
  auto [systems, grid, wt, bias, order, n_sys, n_pts, n_in, h] = expect_gather_inputs(systems_obj, grid_obj, wt_obj, bias_obj);
  auto sys_idx = expect_array<std::int64_t>(sys_obj, "systems_idx", 1, 1);
  auto pt_idx = expect_array<std::int64_t>(pt_obj, "points_idx", 1, 1);
  const std::int64_t count = sys_idx.shape(0);
  if (pt_idx.shape(0) != count) fail("points_idx: expected ", count, " indices like systems_idx, got ", pt_idx.shape(0));
  const std::int64_t n_threads = expect_int(n_threads_obj, "n_threads");
  if (n_threads < 0 || n_threads > 4096) fail("n_threads must be in 0..4096 (0: the OpenMP default), got ", n_threads);
  auto [out, bf16] = expect_rows_out(out_obj, count, h);
  const std::int64_t *si = sys_idx.data(), *pi = pt_idx.data();
  const std::int32_t *sy = systems.data(), *g = grid.data();
  for (std::int64_t q = 0; q < count; ++q) {
    if (si[q] < 0 || si[q] >= n_sys) fail("systems_idx[", q, "] = ", si[q], " is not a row of systems (0..", n_sys - 1, ")");
    if (pi[q] < 0 || pi[q] >= n_pts) fail("points_idx[", q, "] = ", pi[q], " is not a row of grid (0..", n_pts - 1, ")");
    std::int64_t sum = 0;
    for (int e = 0; e < order; ++e) {
      const std::int32_t el = sy[si[q] * order + e], num = g[pi[q] * order + e];
      if (el < 0 || el >= n_in) fail("systems[", si[q], ", ", e, "] = ", el, " is not a row of weight_t (0..", n_in - 1, ")");
      if (num < 0) fail("grid[", pi[q], ", ", e, "] = ", num, " is negative");
      sum += num;
    }
    if (sum == 0) fail("grid[", pi[q], "] is all zero: no composition");
  }
  {
    py::gil_scoped_release release;
    if (bf16)
      hullpack::compositions::first_layer_pairs_bf16(sy, g, order, wt.data(), h, bias.data(), si, pi, count,
                                                     static_cast<std::uint16_t*>(out.mutable_data()),
                                                     static_cast<int>(n_threads));
    else
      hullpack::compositions::first_layer_pairs(sy, g, order, wt.data(), h, bias.data(), si, pi, count,
                                                static_cast<float*>(out.mutable_data()), static_cast<int>(n_threads));
  }
  return out;
}

py::array core_line_layers(const py::handle& systems_obj, const py::handle& grid_obj, const py::handle& wt_obj,
                           const py::handle& bias_obj, const py::handle& tiles_obj, const py::handle& b2_obj,
                           const py::handle& start_obj, const py::handle& count_obj, const py::handle& out_obj,
                           const py::handle& n_threads_obj) {
  auto systems = expect_array<std::int32_t>(systems_obj, "systems", 2, 2);
  auto grid = expect_array<std::int32_t>(grid_obj, "grid", 2, 2);
  auto wt = expect_array<float>(wt_obj, "weight_t", 2, 2);
  auto bias = expect_array<float>(bias_obj, "bias", 1, 1);
  auto tiles = expect_array<float>(tiles_obj, "w2_tiles", 3, 3);
  auto b2 = expect_array<float>(b2_obj, "b2", 1, 1);
  if (systems.shape(1) != 2) fail("systems: expected 2 columns (binary systems), got ", systems.shape(1));
  if (grid.shape(1) != 2) fail("grid: expected 2 columns like systems, got ", grid.shape(1));
  const std::int64_t n_sys = systems.shape(0), n_pts = grid.shape(0), n_in = wt.shape(0), h = wt.shape(1);
  const std::int64_t tile = hullpack::compositions::LINE_TILE, h2 = b2.shape(0);
  if (n_pts == 0) fail("grid: no points");
  if (h == 0) fail("weight_t: no output features (shape (", n_in, ", 0))");
  if (bias.shape(0) != h) fail("bias: expected ", h, " values (weight_t has shape (", n_in, ", ", h, ")), got ", bias.shape(0));
  if (h2 == 0) fail("b2: no values");
  if (tiles.shape(0) != (h2 + tile - 1) / tile || tiles.shape(1) != h || tiles.shape(2) != tile)
    fail("w2_tiles: expected shape (", (h2 + tile - 1) / tile, ", ", h, ", ", tile, ") for ", h2, " outputs, got (",
         tiles.shape(0), ", ", tiles.shape(1), ", ", tiles.shape(2), ")");
  const std::int64_t start = expect_int(start_obj, "start"), count = expect_int(count_obj, "count");
  if (start < 0 || count < 0 || start > n_sys - count)
    fail("start = ", start, ", count = ", count, ": systems must lie in 0..", n_sys);
  const std::int64_t n_threads = expect_int(n_threads_obj, "n_threads");
  if (n_threads < 0 || n_threads > 4096) fail("n_threads must be in 0..4096 (0: the OpenMP default), got ", n_threads);
  auto [out, bf16] = expect_rows_out(out_obj, count * n_pts, h2);
  const std::int32_t* sy = systems.data();
  for (std::int64_t s = start; s < start + count; ++s)
    for (int e = 0; e < 2; ++e)
      if (sy[s * 2 + e] < 0 || sy[s * 2 + e] >= n_in)
        fail("systems[", s, ", ", e, "] = ", sy[s * 2 + e], " is not a row of weight_t (0..", n_in - 1, ")");
  const std::int32_t* g = grid.data();
  for (std::int64_t k = 0; k < n_pts; ++k) {
    if (g[2 * k] < 0 || g[2 * k + 1] < 0) fail("grid[", k, "] = (", g[2 * k], ", ", g[2 * k + 1], ") has a negative entry");
    if (g[2 * k] + std::int64_t(g[2 * k + 1]) == 0) fail("grid[", k, "] is all zero: no composition");
  }
  {
    py::gil_scoped_release release;
    if (bf16)
      hullpack::compositions::line_layers_bf16(sy, g, n_pts, wt.data(), h, bias.data(), tiles.data(), b2.data(), h2,
                                               start, count, static_cast<std::uint16_t*>(out.mutable_data()),
                                               static_cast<int>(n_threads));
    else
      hullpack::compositions::line_layers(sy, g, n_pts, wt.data(), h, bias.data(), tiles.data(), b2.data(), h2, start,
                                          count, static_cast<float*>(out.mutable_data()), static_cast<int>(n_threads));
  }
  return out;
}

#ifdef HULLPACK_WITH_CUDA
// A device array described by __cuda_array_interface__ (torch CUDA tensors, CuPy, Numba): C-contiguous,
// one of the accepted typestrs, on the current device. Nothing is read from the device here.
struct CudaArray {
  std::uintptr_t ptr = 0;
  std::vector<std::int64_t> shape;
  std::string typestr;
  bool readonly = false;
};

CudaArray expect_cuda_array(const py::handle& obj, const char* name, int ndim, std::initializer_list<const char*> typestrs) {
  if (!py::hasattr(obj, "__cuda_array_interface__")) fail(name, ": expected a CUDA array (e.g. a torch tensor on a CUDA device)");
  py::object cai_obj = obj.attr("__cuda_array_interface__");
  if (!py::isinstance<py::dict>(cai_obj)) fail(name, ": __cuda_array_interface__ is not a dict");
  auto cai = py::reinterpret_borrow<py::dict>(cai_obj);
  if (!cai.contains("shape") || !cai.contains("typestr") || !cai.contains("data")) fail(name, ": incomplete __cuda_array_interface__");
  CudaArray a;
  for (const auto& d : py::reinterpret_borrow<py::tuple>(cai["shape"])) a.shape.push_back(expect_int(d, name));
  if (static_cast<int>(a.shape.size()) != ndim) fail(name, ": expected a ", ndim, "-D array, got ", a.shape.size(), "-D");
  a.typestr = py::str(cai["typestr"]).cast<std::string>();
  bool ok = false;
  for (const char* t : typestrs) ok = ok || a.typestr == t;
  if (!ok) fail(name, ": unsupported dtype (typestr '", a.typestr, "')");
  auto data = py::reinterpret_borrow<py::tuple>(cai["data"]);
  if (data.size() != 2) fail(name, ": bad __cuda_array_interface__ data");
  a.ptr = static_cast<std::uintptr_t>(expect_int(data[0], name));
  a.readonly = py::bool_(data[1]).cast<bool>();
  const std::int64_t item = std::stoll(a.typestr.substr(2));
  if (cai.contains("strides") && !cai["strides"].is_none()) {  // must be C-contiguous anyway
    auto strides = py::reinterpret_borrow<py::tuple>(cai["strides"]);
    std::int64_t expected = item;
    for (int d = ndim - 1; d >= 0; --d) {
      if (a.shape[d] > 1 && expect_int(strides[d], name) != expected) fail(name, ": array must be C-contiguous");
      expected *= a.shape[d];
    }
  }
  std::int64_t size = 1;
  for (auto d : a.shape) size *= d;
  if (size > 0 && !hullpack::cuda::is_device_pointer(reinterpret_cast<const void*>(a.ptr)))
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
  if (start < 0 || count < 0 || n_sys > INT64_MAX / n_pts || start > n_sys * n_pts - count)
    fail("start = ", start, ", count = ", count, ": pairs must lie in 0..", n_sys * n_pts);
  if (out.readonly) fail("out: read-only");
  if (out.shape[0] != count || out.shape[1] != h) fail("out: expected shape (", count, ", ", h, ")");
  const std::uintptr_t stream = stream_obj.is_none() ? 0 : static_cast<std::uintptr_t>(expect_int(stream_obj, "stream"));
  if (count > 0) {  // the rows this slice reads, checked on the host: a bad index must not reach the device
    const std::int64_t s0 = start / n_pts, s1 = (start + count - 1) / n_pts;
    std::vector<std::int32_t> sy((s1 - s0 + 1) * order), g(n_pts * order);
    hullpack::cuda::copy_to_host(sy.data(), reinterpret_cast<const std::int32_t*>(systems.ptr) + s0 * order, sy.size() * 4);
    hullpack::cuda::copy_to_host(g.data(), reinterpret_cast<const void*>(grid.ptr), g.size() * 4);
    for (std::int64_t s = s0; s <= s1; ++s)
      for (int e = 0; e < order; ++e)
        if (sy[(s - s0) * order + e] < 0 || sy[(s - s0) * order + e] >= n_in)
          fail("systems[", s, ", ", e, "] = ", sy[(s - s0) * order + e], " is not a row of weight_t (0..", n_in - 1, ")");
    for (std::int64_t pt = 0; pt < n_pts; ++pt) {
      std::int64_t sum = 0;
      for (int e = 0; e < order; ++e) {
        if (g[pt * order + e] < 0) fail("grid[", pt, ", ", e, "] = ", g[pt * order + e], " is negative");
        sum += g[pt * order + e];
      }
      if (sum == 0) fail("grid[", pt, "] is all zero: no composition");
    }
  }
  {
    py::gil_scoped_release release;
    hullpack::cuda::first_layer(reinterpret_cast<const std::int32_t*>(systems.ptr), reinterpret_cast<const std::int32_t*>(grid.ptr),
                                n_pts, order, reinterpret_cast<const float*>(wt.ptr), h, reinterpret_cast<const float*>(bias.ptr),
                                start, count, reinterpret_cast<void*>(out.ptr), out.typestr != "<f4", stream);
  }
  return py::reinterpret_borrow<py::object>(out_obj);
#endif
}

void bind_compositions(py::module_& m) {
  m.def("first_layer_cuda", &core_first_layer_cuda, py::arg("systems"), py::arg("grid"), py::arg("weight_t"),
        py::arg("bias"), py::arg("start"), py::arg("count"), py::arg("out"), py::arg("stream") = py::none(),
        "first_layer on CUDA arrays (__cuda_array_interface__): out float32, or int16/uint16 holding bfloat16; "
        "queued on `stream` (an int handle; None: the default stream). Returns out.");
  m.def("systems", &core_systems, py::arg("elements"), py::arg("order"),
        "All order-subsets (2 or 3) of strictly ascending int32 element indices, lexicographic: int32 (n_sys, order).");
  m.def("uniform_grid", &core_uniform_grid, py::arg("order"), py::arg("n"), py::arg("min_elements") = 1,
        "Numerators (int32 (n_pts, order), rows summing to n) of the grid of step 1/n with >= min_elements non-zero.");
  m.def("reduced_grid", &core_reduced_grid, py::arg("order"), py::arg("max_denominator"), py::arg("min_elements") = 1,
        "Numerators (int32, rows summing to the reduced denominator) of all compositions with denominator <= max_denominator.");
  m.def("first_layer_pairs", &core_first_layer_pairs, py::arg("systems"), py::arg("grid"), py::arg("weight_t"),
        py::arg("bias"), py::arg("systems_idx"), py::arg("points_idx"), py::arg("out"), py::arg("n_threads") = 0,
        "first_layer for arbitrary pairs: out[q] is systems[systems_idx[q]] at grid[points_idx[q]] (int64 indices); "
        "out float32 or uint16 (bfloat16 bits), shape (len(systems_idx), h). Returns out.");
  m.def("line_layers", &core_line_layers, py::arg("systems"), py::arg("grid"), py::arg("weight_t"), py::arg("bias"),
        py::arg("w2_tiles"), py::arg("b2"), py::arg("start"), py::arg("count"), py::arg("out"), py::arg("n_threads") = 0,
        "relu(b2 + W2 relu(first layer)) of binary systems start..start+count-1 at every grid point, along each "
        "system's composition line; w2_tiles: W2^T as (n_tiles, h, 64) float32 tiles; out (count * n_pts, h2) "
        "float32 or uint16 (bfloat16 bits), row (s - start) * n_pts + k. Returns out.");
  m.def("first_layer", &core_first_layer, py::arg("systems"), py::arg("grid"), py::arg("weight_t"), py::arg("bias"),
        py::arg("start"), py::arg("count"), py::arg("out"), py::arg("n_threads") = 0,
        "out[q] = bias + sum_e fraction_e * weight_t[element_e] for pairs start..start+count-1 (system-major); "
        "out float32 or uint16 (bfloat16 bits), shape (count, h). Returns out.");
}

}  // namespace

void bind_stability(py::module_& m);  // bind_stability.cpp
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
  bind_stability(m);
}
