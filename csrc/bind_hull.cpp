// Python binding of the batched lower-hull kernels (hullpack/hull.hpp): hull_batch, on the CPU or,
// in a CUDA build and for binaries and ternaries, on the current CUDA device; vertex depths on the
// CPU. Arguments are checked with bind_checks.hpp before any kernel runs or any output is allocated.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "bind_checks.hpp"
#include "hullpack/cuda.hpp"
#include "hullpack/hull.hpp"

namespace hullpack::bind {

namespace {

constexpr std::int64_t kMaxHullPoints = 1000000;  // per system: scratch grows ~210 bytes a point

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

// CSR offsets (n_sys + 1,) int64: from 0, non-decreasing, ending at n_total, no system over
// kMaxHullPoints points.
i64_array expect_offsets(const py::handle& obj, std::int64_t n_total) {
  auto offsets = expect_array<std::int64_t>(obj, "offsets", 1, 1);
  if (offsets.shape(0) < 1) fail("offsets: expected n_systems + 1 >= 1 entries, got none");
  const std::int64_t n_sys = offsets.shape(0) - 1;
  const std::int64_t* o = offsets.data();
  if (o[0] != 0) fail("offsets[0] must be 0, got ", o[0]);
  for (std::int64_t s = 0; s < n_sys; ++s) {
    if (o[s + 1] < o[s]) fail("offsets must not decrease: offsets[", s + 1, "] = ", o[s + 1], " < offsets[", s, "] = ", o[s]);
    if (o[s + 1] - o[s] > kMaxHullPoints)
      fail("system ", s, " has ", o[s + 1] - o[s], " points; a system holds at most ", kMaxHullPoints);
  }
  if (o[n_sys] != n_total) fail("offsets[-1] = ", o[n_sys], " must equal the number of points, ", n_total);
  return offsets;
}

py::dict core_hull_batch(const py::handle& fractions_obj, const py::handle& energies_obj, const py::handle& offsets_obj,
                         const py::handle& tol_obj, const py::handle& decomposition_obj, const py::handle& facets_obj,
                         const py::handle& nonfinite_obj, const py::handle& n_threads_obj, const py::handle& device_obj,
                         const py::handle& depth_obj, const py::handle& general_obj) {
  auto fractions = expect_array<double>(fractions_obj, "fractions", 2, 2);
  const std::int64_t n_rows = fractions.shape(0);
  const int k = static_cast<int>(fractions.shape(1));
  if (k < 2 || k > hull::kMaxOrder)
    fail("fractions: expected 2 (binary), 3 (ternary), 4 (quaternary) .. ", hull::kMaxOrder, " columns, got ", k);
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
    n_total = energies.shape(0);
    if (n_rows != n_total) fail("fractions has ", n_rows, " rows but energies has ", n_total, " values: one row per energy");
    offsets = expect_offsets(offsets_obj, n_total);
    n_sys = offsets.shape(0) - 1;
    const std::int64_t* o = offsets.data();
    expect_simplex_rows(fractions.data(), n_rows, k, [&](std::int64_t r) { return hull_where(o, n_sys, r); });
  }
  const double tol = expect_real(tol_obj, "tol");
  if (!std::isfinite(tol) || tol < 0) fail("tol must be finite and >= 0, got ", tol);
  const bool want_decomp = expect_flag(decomposition_obj, "decomposition");
  const bool want_facets = expect_flag(facets_obj, "facets");
  const bool raise_nonfinite = expect_choice(nonfinite_obj, "nonfinite", {"raise", "nan"}) == "raise";
  const bool on_cuda = expect_choice(device_obj, "device", {"cpu", "cuda"}) == "cuda";
  const int n_threads = expect_n_threads(n_threads_obj);
  const bool want_depth = expect_flag(depth_obj, "depth");
  const bool general = expect_flag(general_obj, "general");
  if (want_facets && (k > 3 || general))
    fail("facets: the hull's facets are written for binaries and ternaries only (", k,
         " columns here); pass facets=False");
  if (on_cuda && (k > 3 || general))
    fail("device='cuda': the CUDA kernels cover binaries and ternaries only (", k, " columns here); use device='cpu'");
  const double* e = energies.data();
  if (raise_nonfinite)
    for (std::int64_t r = 0; r < n_total; ++r)
      if (!std::isfinite(e[r]))
        fail("energies: ", hull_where(offsets.data(), n_sys, r), " is not finite (", e[r],
             "); pass nonfinite='nan' to report such systems instead");
#ifndef HULLPACK_WITH_CUDA
  if (on_cuda) throw std::runtime_error("device='cuda': hullpack was built without CUDA");
#endif

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
  py::array_t<double> depth(want_depth ? shape(0) : std::vector<py::ssize_t>{0});
  std::vector<std::int32_t> facet_slots(want_facets ? hull::facet_capacity(k, n_total, n_sys) : 0);

  hull::BatchInput in;
  in.order = k;
  in.fractions = fractions.data();
  in.shared_grid = shared;
  in.energies = e;
  in.offsets = offsets.data();
  in.n_sys = n_sys;
  in.tol = tol;
  in.general = general;
  hull::BatchOutput out;
  out.e_above_hull = e_above.mutable_data();
  out.is_vertex = reinterpret_cast<std::uint8_t*>(is_vertex.mutable_data());
  out.decomp_index = want_decomp ? decomp_index.mutable_data() : nullptr;
  out.decomp_weight = want_decomp ? decomp_weight.mutable_data() : nullptr;
  out.facets = want_facets ? facet_slots.data() : nullptr;
  out.n_facets = n_facets.mutable_data();
  out.n_vertices = n_vertices.mutable_data();
  out.status = status.mutable_data();
  {
    py::gil_scoped_release release;
#ifdef HULLPACK_WITH_CUDA
    if (on_cuda)
      cuda::hull_batch(in, out);
    else
#endif
      hull::hull_batch(in, out, n_threads);
    if (want_depth) hull::vertex_depths(in, out.is_vertex, out.status, depth.mutable_data(), n_threads);
  }

  py::dict result;
  result["e_above_hull"] = e_above;
  result["is_vertex"] = is_vertex;
  result["n_vertices"] = n_vertices;
  result["status"] = status;
  if (want_depth) result["vertex_depth"] = depth;
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
      std::copy_n(facet_slots.data() + hull::facet_slot(k, offsets.data()[s], s), k * n_facets.data()[s], dst + k * fo[s]);
    result["facet_offsets"] = facet_offsets;
    result["facets"] = facets;
  }
  return result;
}

}  // namespace

void bind_hull(py::module_& m) {
  m.def("hull_batch", &core_hull_batch, py::arg("fractions"), py::arg("energies"), py::arg("offsets") = py::none(),
        py::arg("tol") = 1e-9, py::arg("decomposition") = true, py::arg("facets") = false,
        py::arg("nonfinite") = "raise", py::arg("n_threads") = 0, py::arg("device") = "cpu", py::arg("depth") = false,
        py::arg("general") = false,
        "Lower hulls of many systems of k = 2..8 elements with elemental references at 0 eV/atom. fractions "
        "float64 (N, k) with energies (N,) and CSR offsets (n_sys + 1,), or a shared grid (n_points, k) with "
        "energies (n_sys, n_points) and offsets None. Returns a dict of e_above_hull, is_vertex, n_vertices, "
        "status (0 computed, 1 non-finite energy, 2 a linear program did not converge) and optionally "
        "decomp_index/decomp_weight, facet_offsets/facets (k <= 3) and vertex_depth (depth=True: how far each "
        "vertex lies below the hull of the other points, NaN elsewhere). general=True runs binaries and "
        "ternaries through the N-dimensional kernel of k >= 4 (for tests and benchmarks; CPU, no facets).");
}

}  // namespace hullpack::bind
