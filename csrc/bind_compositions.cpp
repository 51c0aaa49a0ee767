// Python bindings of the composition kernels (hullpack/compositions.hpp): system tables, grids,
// and the first-layer gathers on the CPU. Arguments are checked with bind_checks.hpp before any
// kernel runs; indices are validated only where the kernel reads them.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "bind_checks.hpp"
#include "hullpack/compositions.hpp"
#include "hullpack/relu_mlp.hpp"

namespace hullpack::bind {

namespace {

constexpr std::int64_t kMaxGridPoints = std::int64_t{1} << 24;

// The order of a system or grid: 2 (binary), 3 (ternary), 4 (quaternary), .. up to kMaxOrder.
int expect_system_order(const py::handle& obj) {
  const std::int64_t order = expect_int(obj, "order");
  if (order < 2 || order > compositions::kMaxOrder)
    fail("order must be 2 to ", compositions::kMaxOrder, " (elements per system: 2 binaries, 3 ternaries, 4 quaternaries, ..), got ",
         order);
  return static_cast<int>(order);
}

// Points of the uniform grid of step 1/n and order k (all of them, min_elements 1): C(n + k - 1, k - 1).
std::int64_t uniform_points(int order, std::int64_t n) { return compositions::n_choose(n + order - 1, order - 1); }

// The largest n (or max_denominator) of a grid of order k: binaries and ternaries keep their long-standing
// limits; higher orders, the largest value whose grid enumerates at most kMaxGridPoints numerator tuples:
// C(n + k - 1, k - 1) for a uniform grid, C(N + k, k) - 1 (all denominators 1..N) for a reduced one.
std::int64_t most_intervals(int order, bool reduced) {
  if (order == 2) return reduced ? 10000 : kMaxGridPoints - 1;
  if (order == 3) return reduced ? 400 : 5000;
  std::int64_t n = 1;
  auto tuples = [&](std::int64_t v) { return reduced ? compositions::n_choose(v + order, order) : uniform_points(order, v); };
  while (tuples(n + 1) >= 0 && tuples(n + 1) <= kMaxGridPoints) ++n;
  return n;
}

int expect_min_elements(const py::handle& obj, int order) {
  const std::int64_t m = expect_int(obj, "min_elements");
  if (m < 1 || m > order) fail("min_elements must be in 1..", order, " (1: every point, ", order, ": interior points only), got ", m);
  return static_cast<int>(m);
}

i32_array core_systems(const py::handle& elements_obj, const py::handle& order_obj) {
  auto elements = expect_array<std::int32_t>(elements_obj, "elements", 1, 1);
  const int order = expect_system_order(order_obj);
  const std::int64_t n = elements.shape(0);
  const std::int32_t* el = elements.data();
  for (std::int64_t i = 0; i < n; ++i) {
    if (el[i] < 0) fail("elements[", i, "] = ", el[i], " is negative");
    if (i > 0 && el[i] <= el[i - 1]) fail("elements must be strictly ascending: elements[", i, "] = ", el[i], " after ", el[i - 1]);
  }
  if (n < order) fail("elements: ", n, " element(s) make no system of order ", order);
  const std::int64_t n_sys = compositions::n_choose(n, order);
  // at most 2^31 int32 entries (8 GiB), checked before anything is allocated
  if (n_sys < 0 || n_sys > (std::int64_t{1} << 31) / order)
    fail("elements: ", n, " elements make too many systems of order ", order, " (", n_sys < 0 ? std::string("beyond int64") : std::to_string(n_sys),
         "; at most ", (std::int64_t{1} << 31) / order, ")");
  i32_array out(std::vector<py::ssize_t>{n_sys, order});
  std::int32_t* o = out.mutable_data();
  py::gil_scoped_release release;
  compositions::systems(el, n, order, o);
  return out;
}

// A grid of `order` columns: its number of rows, then its rows, both computed without the GIL.
template <typename Size, typename Fill>
i32_array make_grid(int order, Size size, Fill fill) {
  std::int64_t rows;
  {
    py::gil_scoped_release release;
    rows = size();
  }
  i32_array out(std::vector<py::ssize_t>{rows, order});
  std::int32_t* o = out.mutable_data();
  py::gil_scoped_release release;
  fill(o);
  return out;
}

i32_array core_uniform_grid(const py::handle& order_obj, const py::handle& n_obj, const py::handle& min_obj) {
  const int order = expect_system_order(order_obj);
  const std::int64_t n = expect_int(n_obj, "n");
  const int min_elements = expect_min_elements(min_obj, order);
  const std::int64_t most = most_intervals(order, false);
  if (n < 1 || n > most) fail("n (the grid step is 1/n) must be in 1..", most, " for order ", order, ", got ", n);
  return make_grid(
      order, [&] { return compositions::uniform_grid_size(order, n, min_elements); },
      [&](std::int32_t* o) { compositions::uniform_grid(order, n, min_elements, o); });
}

i32_array core_reduced_grid(const py::handle& order_obj, const py::handle& max_den_obj, const py::handle& min_obj) {
  const int order = expect_system_order(order_obj);
  const std::int64_t max_den = expect_int(max_den_obj, "max_denominator");
  const int min_elements = expect_min_elements(min_obj, order);
  const std::int64_t most = most_intervals(order, true);
  if (max_den < 1 || max_den > most) fail("max_denominator must be in 1..", most, " for order ", order, ", got ", max_den);
  return make_grid(
      order, [&] { return compositions::reduced_grid_size(order, max_den, min_elements); },
      [&](std::int32_t* o) { compositions::reduced_grid(order, max_den, min_elements, o); });
}

// The output rows of the layer kernels: float32, or uint16 holding bfloat16 bits (bf16: true).
struct RowsOut {
  py::array array;
  bool bf16;
};

RowsOut expect_rows_out(const py::handle& obj, std::int64_t rows, std::int64_t cols) {
  auto out = expect_out(obj, "out", rows, cols, {dtype_of<float>(), dtype_of<std::uint16_t>()},
                        "float32, or uint16 for bfloat16 bit patterns");
  return {out.array, out.dtype_index == 1};
}

// The arrays the gather kernels read: systems (n_sys, order 2..kMaxOrder) and grid (n_pts, order)
// int32, weight_t (n_in, h > 0) and bias (h,) float32.
struct GatherInputs {
  i32_array systems, grid;
  f32_array wt, bias;
  int order;
  std::int64_t n_sys, n_pts, n_in, h;
};

GatherInputs expect_gather_inputs(const py::handle& systems_obj, const py::handle& grid_obj, const py::handle& wt_obj,
                                  const py::handle& bias_obj, int order_required = 0) {
  GatherInputs in{expect_array<std::int32_t>(systems_obj, "systems", 2, 2), expect_array<std::int32_t>(grid_obj, "grid", 2, 2),
                  expect_array<float>(wt_obj, "weight_t", 2, 2), expect_array<float>(bias_obj, "bias", 1, 1), 0, 0, 0, 0, 0};
  in.order = static_cast<int>(in.systems.shape(1));
  if (order_required && in.order != order_required)
    fail("systems: expected ", order_required, " columns (binary systems), got ", in.order);
  if (in.order < 2 || in.order > compositions::kMaxOrder)
    fail("systems: expected 2 to ", compositions::kMaxOrder, " columns (elements per system), got ", in.order);
  if (in.grid.shape(1) != in.order) fail("grid: expected ", in.order, " columns like systems, got ", in.grid.shape(1));
  in.n_sys = in.systems.shape(0), in.n_pts = in.grid.shape(0), in.n_in = in.wt.shape(0), in.h = in.wt.shape(1);
  if (in.h == 0) fail("weight_t: no output features (shape (", in.n_in, ", 0))");
  if (in.bias.shape(0) != in.h)
    fail("bias: expected ", in.h, " values (weight_t has shape (", in.n_in, ", ", in.h, ")), got ", in.bias.shape(0));
  return in;
}

// out shares no memory with the gather's inputs.
void expect_disjoint_from(const py::array& out, const GatherInputs& in) {
  expect_disjoint(out, "out", in.systems, "systems");
  expect_disjoint(out, "out", in.grid, "grid");
  expect_disjoint(out, "out", in.wt, "weight_t");
  expect_disjoint(out, "out", in.bias, "bias");
}

// Every element of systems rows s0..s1-1 is a row of weight_t.
void expect_system_rows(const GatherInputs& in, std::int64_t s0, std::int64_t s1) {
  const std::int32_t* sy = in.systems.data();
  for (std::int64_t s = s0; s < s1; ++s)
    for (int e = 0; e < in.order; ++e)
      if (sy[s * in.order + e] < 0 || sy[s * in.order + e] >= in.n_in)
        fail("systems[", s, ", ", e, "] = ", sy[s * in.order + e], " is not a row of weight_t (0..", in.n_in - 1, ")");
}

// Grid row pt has non-negative numerators with a positive sum.
void expect_grid_row(const GatherInputs& in, std::int64_t pt) {
  const std::int32_t* g = in.grid.data() + pt * in.order;
  std::int64_t sum = 0;
  for (int e = 0; e < in.order; ++e) {
    if (g[e] < 0) fail("grid[", pt, ", ", e, "] = ", g[e], " is negative");
    sum += g[e];
  }
  if (sum == 0) fail("grid[", pt, "] is all zero: no composition");
}

py::array core_first_layer(const py::handle& systems_obj, const py::handle& grid_obj, const py::handle& wt_obj,
                           const py::handle& bias_obj, const py::handle& start_obj, const py::handle& count_obj,
                           const py::handle& out_obj, const py::handle& n_threads_obj) {
  const GatherInputs in = expect_gather_inputs(systems_obj, grid_obj, wt_obj, bias_obj);
  if (in.n_pts == 0) fail("grid: no points");
  const std::int64_t start = expect_int(start_obj, "start"), count = expect_int(count_obj, "count");
  const std::int64_t n_pairs = checked_product(in.n_sys, in.n_pts);
  if (start < 0 || count < 0 || n_pairs < 0 || start > n_pairs - count)
    fail("start = ", start, ", count = ", count, ": pairs must lie in 0..", n_pairs, " (", in.n_sys, " systems x ", in.n_pts,
         " grid points)");
  const int n_threads = expect_n_threads(n_threads_obj);
  RowsOut out = expect_rows_out(out_obj, count, in.h);
  expect_disjoint_from(out.array, in);
  if (count > 0) {  // only the rows this slice reads
    expect_system_rows(in, start / in.n_pts, (start + count - 1) / in.n_pts + 1);
    for (std::int64_t q = 0; q < std::min(count, in.n_pts); ++q) expect_grid_row(in, (start + q) % in.n_pts);
  }
  {
    py::gil_scoped_release release;
    if (out.bf16)
      compositions::first_layer_bf16(in.systems.data(), in.grid.data(), in.n_pts, in.order, in.wt.data(), in.h,
                                     in.bias.data(), start, count, static_cast<std::uint16_t*>(out.array.mutable_data()),
                                     n_threads);
    else
      compositions::first_layer(in.systems.data(), in.grid.data(), in.n_pts, in.order, in.wt.data(), in.h, in.bias.data(),
                                start, count, static_cast<float*>(out.array.mutable_data()), n_threads);
  }
  return out.array;
}

py::array core_first_layer_pairs(const py::handle& systems_obj, const py::handle& grid_obj, const py::handle& wt_obj,
                                 const py::handle& bias_obj, const py::handle& sys_obj, const py::handle& pt_obj,
                                 const py::handle& out_obj, const py::handle& n_threads_obj) {
  const GatherInputs in = expect_gather_inputs(systems_obj, grid_obj, wt_obj, bias_obj);
  auto sys_idx = expect_array<std::int64_t>(sys_obj, "systems_idx", 1, 1);
  auto pt_idx = expect_array<std::int64_t>(pt_obj, "points_idx", 1, 1);
  const std::int64_t count = sys_idx.shape(0);
  if (pt_idx.shape(0) != count) fail("points_idx: expected ", count, " indices like systems_idx, got ", pt_idx.shape(0));
  const int n_threads = expect_n_threads(n_threads_obj);
  RowsOut out = expect_rows_out(out_obj, count, in.h);
  expect_disjoint_from(out.array, in);
  expect_disjoint(out.array, "out", sys_idx, "systems_idx");
  expect_disjoint(out.array, "out", pt_idx, "points_idx");
  const std::int64_t *si = sys_idx.data(), *pi = pt_idx.data();
  for (std::int64_t q = 0; q < count; ++q) {
    if (si[q] < 0 || si[q] >= in.n_sys)
      fail("systems_idx[", q, "] = ", si[q], " is not a row of systems (0..", in.n_sys - 1, ")");
    if (pi[q] < 0 || pi[q] >= in.n_pts) fail("points_idx[", q, "] = ", pi[q], " is not a row of grid (0..", in.n_pts - 1, ")");
    expect_system_rows(in, si[q], si[q] + 1);
    expect_grid_row(in, pi[q]);
  }
  {
    py::gil_scoped_release release;
    if (out.bf16)
      compositions::first_layer_pairs_bf16(in.systems.data(), in.grid.data(), in.order, in.wt.data(), in.h, in.bias.data(),
                                           si, pi, count, static_cast<std::uint16_t*>(out.array.mutable_data()), n_threads);
    else
      compositions::first_layer_pairs(in.systems.data(), in.grid.data(), in.order, in.wt.data(), in.h, in.bias.data(), si,
                                      pi, count, static_cast<float*>(out.array.mutable_data()), n_threads);
  }
  return out.array;
}

py::array core_line_layers(const py::handle& systems_obj, const py::handle& grid_obj, const py::handle& wt_obj,
                           const py::handle& bias_obj, const py::handle& tiles_obj, const py::handle& b2_obj,
                           const py::handle& start_obj, const py::handle& count_obj, const py::handle& out_obj,
                           const py::handle& n_threads_obj) {
  const GatherInputs in = expect_gather_inputs(systems_obj, grid_obj, wt_obj, bias_obj, 2);
  auto tiles = expect_array<float>(tiles_obj, "w2_tiles", 3, 3);
  auto b2 = expect_array<float>(b2_obj, "b2", 1, 1);
  const std::int64_t tile = compositions::LINE_TILE, h2 = b2.shape(0);
  if (in.n_pts == 0) fail("grid: no points");
  if (h2 == 0) fail("b2: no values");
  if (tiles.shape(0) != (h2 + tile - 1) / tile || tiles.shape(1) != in.h || tiles.shape(2) != tile)
    fail("w2_tiles: expected shape (", (h2 + tile - 1) / tile, ", ", in.h, ", ", tile, ") for ", h2, " outputs, got (",
         tiles.shape(0), ", ", tiles.shape(1), ", ", tiles.shape(2), ")");
  const std::int64_t start = expect_int(start_obj, "start"), count = expect_int(count_obj, "count");
  if (start < 0 || count < 0 || start > in.n_sys - count)
    fail("start = ", start, ", count = ", count, ": systems must lie in 0..", in.n_sys);
  const int n_threads = expect_n_threads(n_threads_obj);
  const std::int64_t rows = checked_product(count, in.n_pts);
  if (rows < 0) fail("count = ", count, ": count x ", in.n_pts, " grid points overflows int64");
  RowsOut out = expect_rows_out(out_obj, rows, h2);
  expect_disjoint_from(out.array, in);
  expect_disjoint(out.array, "out", tiles, "w2_tiles");
  expect_disjoint(out.array, "out", b2, "b2");
  expect_system_rows(in, start, start + count);
  const std::int32_t* g = in.grid.data();
  for (std::int64_t k = 0; k < in.n_pts; ++k) {
    if (g[2 * k] < 0 || g[2 * k + 1] < 0) fail("grid[", k, "] = (", g[2 * k], ", ", g[2 * k + 1], ") has a negative entry");
    if (g[2 * k] + std::int64_t(g[2 * k + 1]) == 0) fail("grid[", k, "] is all zero: no composition");
  }
  {
    py::gil_scoped_release release;
    if (out.bf16)
      compositions::line_layers_bf16(in.systems.data(), g, in.n_pts, in.wt.data(), in.h, in.bias.data(), tiles.data(),
                                     b2.data(), h2, start, count, static_cast<std::uint16_t*>(out.array.mutable_data()),
                                     n_threads);
    else
      compositions::line_layers(in.systems.data(), g, in.n_pts, in.wt.data(), in.h, in.bias.data(), tiles.data(), b2.data(),
                                h2, start, count, static_cast<float*>(out.array.mutable_data()), n_threads);
  }
  return out.array;
}

// layers: a list of (tiles (ceil(out / 64), in, 64), bias (out,)) float32 pairs whose widths chain
// from x's columns; out (n, last out) float32.
py::array core_relu_mlp(const py::handle& x_obj, const py::handle& layers_obj, const py::handle& out_obj,
                        const py::handle& n_threads_obj) {
  auto x = expect_array<float>(x_obj, "x", 2, 2);
  if (!py::isinstance<py::list>(layers_obj) && !py::isinstance<py::tuple>(layers_obj))
    fail("layers: expected a list of (tiles, bias) pairs, got ", type_name(layers_obj));
  auto items = py::reinterpret_borrow<py::sequence>(layers_obj);
  const std::int64_t n_layers = static_cast<std::int64_t>(py::len(items));
  if (n_layers == 0) fail("layers: no layers");
  std::vector<f32_array> keep;
  std::vector<relu_mlp::Layer> layers;
  std::int64_t width = x.shape(1);
  const std::int64_t tile = relu_mlp::TILE;
  for (std::int64_t l = 0; l < n_layers; ++l) {
    py::handle item = items[static_cast<std::size_t>(l)];
    if (!py::isinstance<py::tuple>(item) || py::len(item) != 2) fail("layers[", l, "]: expected a (tiles, bias) pair");
    const std::string tn = "layers[" + std::to_string(l) + "] tiles", bn = "layers[" + std::to_string(l) + "] bias";
    auto tiles = expect_array<float>(item[py::int_(0)], tn.c_str(), 3, 3);
    auto bias = expect_array<float>(item[py::int_(1)], bn.c_str(), 1, 1);
    const std::int64_t out_w = bias.shape(0);
    if (out_w == 0) fail(bn, ": no values");
    if (tiles.shape(0) != (out_w + tile - 1) / tile || tiles.shape(1) != width || tiles.shape(2) != tile)
      fail(tn, ": expected shape (", (out_w + tile - 1) / tile, ", ", width, ", ", tile, ") for ", width, " inputs and ",
           out_w, " outputs, got (", tiles.shape(0), ", ", tiles.shape(1), ", ", tiles.shape(2), ")");
    if (width > INT32_MAX) fail(tn, ": ", width, " inputs: at most 2147483647");  // the kernel's int32 indices
    layers.push_back({tiles.data(), bias.data(), width, out_w});
    keep.push_back(tiles), keep.push_back(bias);
    width = out_w;
  }
  const int n_threads = expect_n_threads(n_threads_obj);
  auto out = expect_out(out_obj, "out", x.shape(0), width, {dtype_of<float>()}, "float32");
  expect_disjoint(out.array, "out", x, "x");
  for (std::size_t k = 0; k < keep.size(); ++k)
    expect_disjoint(out.array, "out", keep[k], ("layers[" + std::to_string(k / 2) + (k % 2 ? "] bias" : "] tiles")).c_str());
  {
    py::gil_scoped_release release;
    relu_mlp::run(x.data(), x.shape(0), layers.data(), static_cast<int>(n_layers),
                  static_cast<float*>(out.array.mutable_data()), n_threads);
  }
  return out.array;
}

}  // namespace

void bind_compositions(py::module_& m) {
  m.def("systems", &core_systems, py::arg("elements"), py::arg("order"),
        "All order-subsets (order 2..8) of strictly ascending int32 element indices, lexicographic: int32 (n_sys, order).");
  m.def("uniform_grid", &core_uniform_grid, py::arg("order"), py::arg("n"), py::arg("min_elements") = 1,
        "Numerators (int32 (n_pts, order), rows summing to n) of the grid of step 1/n with >= min_elements non-zero.");
  m.def("reduced_grid", &core_reduced_grid, py::arg("order"), py::arg("max_denominator"), py::arg("min_elements") = 1,
        "Numerators (int32, rows summing to the reduced denominator) of all compositions with denominator <= max_denominator.");
  m.def("first_layer", &core_first_layer, py::arg("systems"), py::arg("grid"), py::arg("weight_t"), py::arg("bias"),
        py::arg("start"), py::arg("count"), py::arg("out"), py::arg("n_threads") = 0,
        "out[q] = bias + sum_e fraction_e * weight_t[element_e] for pairs start..start+count-1 (system-major); "
        "out float32 or uint16 (bfloat16 bits), shape (count, h). Returns out.");
  m.def("first_layer_pairs", &core_first_layer_pairs, py::arg("systems"), py::arg("grid"), py::arg("weight_t"),
        py::arg("bias"), py::arg("systems_idx"), py::arg("points_idx"), py::arg("out"), py::arg("n_threads") = 0,
        "first_layer for arbitrary pairs: out[q] is systems[systems_idx[q]] at grid[points_idx[q]] (int64 indices); "
        "out float32 or uint16 (bfloat16 bits), shape (len(systems_idx), h). Returns out.");
  m.def("line_layers", &core_line_layers, py::arg("systems"), py::arg("grid"), py::arg("weight_t"), py::arg("bias"),
        py::arg("w2_tiles"), py::arg("b2"), py::arg("start"), py::arg("count"), py::arg("out"), py::arg("n_threads") = 0,
        "relu(b2 + W2 relu(first layer)) of binary systems start..start+count-1 at every grid point, along each "
        "system's composition line; w2_tiles: W2^T as (n_tiles, h, 64) float32 tiles; out (count * n_pts, h2) "
        "float32 or uint16 (bfloat16 bits), row (s - start) * n_pts + k. Returns out.");
  m.attr("relu_mlp_version") = relu_mlp::version();
  m.def("relu_mlp", &core_relu_mlp, py::arg("x"), py::arg("layers"), py::arg("out"), py::arg("n_threads") = 0,
        "Linear layers on the rows of x (n, in) float32 with a ReLU after each but the last, skipping zero inputs: "
        "layers a list of (tiles (ceil(out / 64), in, 64), bias (out,)) float32; out (n, last out) float32. Returns out.");
}

}  // namespace hullpack::bind
