// Python bindings of the packing kernels (hullpack/packing.hpp): pack (first/best fit and the
// histogram path), packing and cutting under batch cost shapes, balance, their lower bounds (and
// the parts of the balance bound), batch_costs and group. Arguments are checked with
// bind_checks.hpp before any kernel runs; the kernels then run without the GIL.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "bind_checks.hpp"
#include "hullpack/packing.hpp"

namespace hullpack::bind {

namespace {

// Item sizes as an (n,) or (n, k) float64 array with n >= 1, k >= 1, every entry finite and >= 0
// (that last check left to the caller when check_values is false).
struct Sizes {
  f64_array arr;
  std::int64_t n, k;
  const double* data() const { return arr.data(); }
};

Sizes expect_sizes(const py::handle& obj, const char* name, int ndim_max, bool check_values = true) {
  auto arr = expect_array<double>(obj, name, 1, ndim_max);
  const std::int64_t n = arr.shape(0), k = arr.ndim() == 2 ? arr.shape(1) : 1;
  if (n == 0) fail(name, ": no items (empty array)");
  if (k == 0) fail(name, ": items have no cost dimensions (shape (", n, ", 0))");
  if (check_values) expect_finite_nonnegative(arr.data(), n * k, name, arr.ndim() == 2 ? k : 1);
  return {arr, n, k};
}

// The capacity: float64 (k,), each finite and > 0.
f64_array expect_capacity(const py::handle& obj, std::int64_t k) {
  auto capacity = expect_array<double>(obj, "capacity", 1, 1);
  if (capacity.shape(0) != k) fail("capacity: expected ", k, " value(s), one per cost dimension, got ", capacity.shape(0));
  for (std::int64_t d = 0; d < k; ++d)
    if (!std::isfinite(capacity.data()[d]) || !(capacity.data()[d] > 0))
      fail("capacity[", d, "] must be finite and > 0, got ", capacity.data()[d]);
  return capacity;
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

// bin_of_item as int64 (n,) (any length when n < 0) with every value in 0..n_bins-1.
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

// Every item within the capacity in every dimension; names the first that fits no bin.
void expect_fits(const Sizes& sizes, const double* cap) {
  for (std::int64_t i = 0; i < sizes.n; ++i)
    for (std::int64_t d = 0; d < sizes.k; ++d)
      if (sizes.data()[i * sizes.k + d] > cap[d])
        fail("sizes[", i, sizes.k > 1 ? ", " + std::to_string(d) : std::string(), "] = ", sizes.data()[i * sizes.k + d],
             " exceeds the capacity ", cap[d], ": the item fits no bin");
}

// Optional sort keys, one finite value >= 0 per item: null for None (keep holds the array).
const double* expect_keys(const py::handle& obj, std::int64_t n, f64_array& keep) {
  if (obj.is_none()) return nullptr;
  keep = expect_array<double>(obj, "keys", 1, 1);
  if (keep.shape(0) != n) fail("keys: expected ", n, " entries (one per item), got ", keep.shape(0));
  expect_finite_nonnegative(keep.data(), n, "keys");
  return keep.data();
}

py::tuple core_pack(const py::handle& sizes_obj, const py::handle& capacity_obj, const py::handle& method_obj,
                    const py::handle& order_obj, const py::handle& keys_obj) {
  const Sizes sizes = expect_sizes(sizes_obj, "sizes", 2);
  const auto capacity = expect_capacity(capacity_obj, sizes.k);
  const double* cap = capacity.data();
  expect_fits(sizes, cap);
  const auto method = expect_choice(method_obj, "method", {"ffd", "bfd"}) == "ffd" ? packing::Method::first_fit
                                                                                  : packing::Method::best_fit;
  i64_array order_keep;
  const std::int64_t* order = expect_permutation(order_obj, sizes.n, "order", order_keep);
  f64_array keys_keep;
  const double* keys = expect_keys(keys_obj, sizes.n, keys_keep);

  i64_array bins(sizes.n);
  std::int64_t* out = bins.mutable_data();
  std::int64_t n_bins;
  {
    py::gil_scoped_release release;
    n_bins = packing::pack(sizes.data(), sizes.n, sizes.k, cap, order, method, out, keys);
  }
  return py::make_tuple(bins, n_bins);
}

// The batch cost terms: float64 (6,) = (sum, padded, square, padded_square, count, constant),
// each finite and >= 0.
packing::CostTerms expect_terms(const py::handle& obj) {
  auto arr = expect_array<double>(obj, "terms", 1, 1);
  if (arr.shape(0) != 6)
    fail("terms: expected 6 values (sum, padded, square, padded_square, count, constant), got ", arr.shape(0));
  const double* t = arr.data();
  static const char* names[6] = {"sum", "padded", "square", "padded_square", "count", "constant"};
  for (int j = 0; j < 6; ++j)
    if (!std::isfinite(t[j]) || t[j] < 0) fail("terms[", j, "] (", names[j], ") must be finite and >= 0, got ", t[j]);
  return {t[0], t[1], t[2], t[3], t[4], t[5]};
}

double expect_capacity_scalar(const py::handle& obj) {
  const double c = expect_real(obj, "capacity");
  if (!std::isfinite(c) || !(c > 0)) fail("capacity must be finite and > 0, got ", c);
  return c;
}

py::object core_pack_histogram(const py::handle& sizes_obj, const py::handle& capacity_obj, const py::handle& order_obj) {
  // The kernel takes every size only as an integer in 0..capacity (a NaN, infinite or negative
  // size makes it return -1, writing nothing), so the check for finite, non-negative sizes waits
  // for that answer: one pass over the items fewer. With an order, the sizes are checked first,
  // so that a bad size is named before a bad order, as everywhere else.
  const bool deferred = order_obj.is_none();
  const Sizes sizes = expect_sizes(sizes_obj, "sizes", 1, !deferred);
  double cap;
  try {
    cap = expect_capacity_scalar(capacity_obj);
  } catch (...) {
    if (deferred) expect_finite_nonnegative(sizes.data(), sizes.n, "sizes");
    throw;
  }
  i64_array order_keep;
  const std::int64_t* order = expect_permutation(order_obj, sizes.n, "order", order_keep);
  i64_array bins(sizes.n);
  std::int64_t* out = bins.mutable_data();
  std::int64_t n_bins;
  {
    py::gil_scoped_release release;
    n_bins = packing::pack_histogram(sizes.data(), sizes.n, cap, order, out);
  }
  if (n_bins < 0) {  // not applicable (the kernel checks every size): a bad or oversize item, or None
    if (deferred) expect_finite_nonnegative(sizes.data(), sizes.n, "sizes");
    for (std::int64_t i = 0; i < sizes.n; ++i) {
      const double s = sizes.data()[i];
      if (s != std::floor(s)) return py::none();  // found at once for most real sizes
      if (s > cap) fail("sizes[", i, "] = ", s, " exceeds the capacity ", cap, ": the item fits no bin");
    }
    return py::none();
  }
  return py::make_tuple(bins, n_bins);
}

py::tuple core_spread(const py::handle& sizes_obj, const py::handle& capacity_obj, const py::handle& n_bins_obj,
                      const py::handle& order_obj, const py::handle& keys_obj) {
  const Sizes sizes = expect_sizes(sizes_obj, "sizes", 2);
  const auto capacity = expect_capacity(capacity_obj, sizes.k);
  const std::int64_t n_bins = expect_int_in(n_bins_obj, "n_bins", 1, sizes.n, "one item per bin at least");
  i64_array order_keep;
  const std::int64_t* order = expect_permutation(order_obj, sizes.n, "order", order_keep);
  f64_array keys_keep;
  const double* keys = expect_keys(keys_obj, sizes.n, keys_keep);
  i64_array bins(sizes.n);
  std::int64_t* out = bins.mutable_data();
  std::int64_t n_total, set_aside;
  double peak;
  {
    py::gil_scoped_release release;
    n_total = packing::spread(sizes.data(), sizes.n, sizes.k, capacity.data(), n_bins, order, out, &peak,
                              &set_aside, keys);
  }
  return py::make_tuple(bins, n_total, set_aside, peak);
}

py::tuple core_pack_runs(const py::handle& lengths_obj, const py::handle& terms_obj, const py::handle& capacity_obj,
                         const py::handle& order_obj, const py::handle& keys_obj) {
  const Sizes lengths = expect_sizes(lengths_obj, "lengths", 1);
  const packing::CostTerms terms = expect_terms(terms_obj);
  const double cap = expect_capacity_scalar(capacity_obj);
  i64_array order_keep;
  const std::int64_t* order = expect_permutation(order_obj, lengths.n, "order", order_keep);
  f64_array keys_keep;
  const double* keys = expect_keys(keys_obj, lengths.n, keys_keep);
  i64_array bins(lengths.n);
  std::int64_t* out = bins.mutable_data();
  std::vector<double> costs;
  std::int64_t n_bins;
  {
    py::gil_scoped_release release;
    n_bins = packing::pack_runs(lengths.data(), lengths.n, terms, cap, order, out, &costs, keys);
  }
  py::array_t<double> cost_arr(static_cast<py::ssize_t>(costs.size()));
  std::copy(costs.begin(), costs.end(), cost_arr.mutable_data());
  return py::make_tuple(bins, n_bins, cost_arr);
}

i64_array core_cut_sorted(const py::handle& keys_obj, const py::handle& n_batches_obj, const py::handle& order_obj) {
  const Sizes keys = expect_sizes(keys_obj, "keys", 1);
  const std::int64_t n_batches = expect_int_in(n_batches_obj, "n_batches", 1, keys.n, "one item per batch at least");
  i64_array order_keep;
  const std::int64_t* order = expect_permutation(order_obj, keys.n, "order", order_keep);
  i64_array bins(keys.n);
  std::int64_t* out = bins.mutable_data();
  {
    py::gil_scoped_release release;
    packing::cut_sorted(keys.data(), keys.n, n_batches, order, out);
  }
  return bins;
}

py::array_t<double> core_run_costs(const py::handle& lengths_obj, const py::handle& bins_obj, const py::handle& n_bins_obj,
                                   const py::handle& terms_obj) {
  auto lengths = expect_array<double>(lengths_obj, "lengths", 1, 1);
  const std::int64_t n = lengths.shape(0);
  // A batch is priced by its longest item: a NaN or negative length would be left out of it.
  expect_finite_nonnegative(lengths.data(), n, "lengths");
  const std::int64_t n_bins = expect_n_bins(n_bins_obj, n);
  auto bins = expect_bins(bins_obj, n, n_bins);
  const packing::CostTerms terms = expect_terms(terms_obj);
  py::array_t<double> out(n_bins);
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    packing::run_costs(lengths.data(), n, bins.data(), n_bins, terms, o);
  }
  return out;
}

double core_lower_bound_runs(const py::handle& lengths_obj, const py::handle& terms_obj, const py::handle& capacity_obj) {
  const Sizes lengths = expect_sizes(lengths_obj, "lengths", 1);
  const packing::CostTerms terms = expect_terms(terms_obj);
  const double cap = expect_capacity_scalar(capacity_obj);
  for (std::int64_t i = 0; i < lengths.n; ++i) {
    const double l = lengths.data()[i];
    const double alone = packing::run_cost(terms, 1.0, l, l, l * l);
    if (!(alone <= cap)) fail("lengths[", i, "] = ", l, " alone costs ", alone, ", more than the capacity ", cap);
  }
  py::gil_scoped_release release;
  return packing::lower_bound_runs(lengths.data(), lengths.n, terms, cap);
}

// refine: a flag (True: "exchange", False: "none") or one of "none", "lightest", "exchange".
packing::Refine expect_refine(const py::handle& obj) {
  if (is_any_bool(obj)) return expect_flag(obj, "refine") ? packing::Refine::exchange : packing::Refine::none;
  if (!PyUnicode_Check(obj.ptr()))
    fail("refine: expected True, False, 'none', 'lightest' or 'exchange', got ", type_name(obj));
  const std::string name = expect_choice(obj, "refine", {"none", "lightest", "exchange"});
  return name == "none" ? packing::Refine::none : name == "lightest" ? packing::Refine::lightest : packing::Refine::exchange;
}

i64_array core_balance(const py::handle& costs_obj, const py::handle& n_batches_obj, const py::handle& batch_size_obj,
                       const py::handle& order_obj, const py::handle& refine_obj, const py::handle& keys_obj) {
  const Sizes costs = expect_sizes(costs_obj, "costs", 1);
  const std::int64_t n_batches = expect_int(n_batches_obj, "n_batches");
  expect_batches(costs.n, n_batches, expect_int(batch_size_obj, "batch_size"));
  i64_array order_keep;
  const std::int64_t* order = expect_permutation(order_obj, costs.n, "order", order_keep);
  const packing::Refine refine = expect_refine(refine_obj);
  f64_array keys_keep;
  const double* keys = expect_keys(keys_obj, costs.n, keys_keep);

  i64_array bins(costs.n);
  std::int64_t* out = bins.mutable_data();
  {
    py::gil_scoped_release release;
    packing::balance(costs.data(), costs.n, n_batches, order, refine, out, keys);
  }
  return bins;
}

double core_lower_bound_pack(const py::handle& sizes_obj, const py::handle& capacity_obj) {
  const Sizes sizes = expect_sizes(sizes_obj, "sizes", 2);
  const auto capacity = expect_capacity(capacity_obj, sizes.k);
  expect_fits(sizes, capacity.data());  // no number of bins holds an item larger than a bin
  py::gil_scoped_release release;
  return packing::lower_bound_pack(sizes.data(), sizes.n, sizes.k, capacity.data());
}

double core_lower_bound_balance(const py::handle& costs_obj, const py::handle& n_batches_obj) {
  const Sizes costs = expect_sizes(costs_obj, "costs", 1);
  const std::int64_t n_batches = expect_int_in(n_batches_obj, "n_batches", 1, costs.n, "one item per batch at least");
  py::gil_scoped_release release;
  return packing::lower_bound_balance(costs.data(), costs.n, n_batches);
}

py::dict core_lower_bounds_balance(const py::handle& costs_obj, const py::handle& n_batches_obj) {
  const Sizes costs = expect_sizes(costs_obj, "costs", 1);
  const std::int64_t n_batches = expect_int_in(n_batches_obj, "n_batches", 1, costs.n, "one item per batch at least");
  packing::BalanceBounds b;
  {
    py::gil_scoped_release release;
    b = packing::lower_bounds_balance(costs.data(), costs.n, n_batches);
  }
  py::dict out;
  out["mean"] = b.mean;
  out["top_items"] = b.top_items;
  out["pigeonhole"] = b.pigeonhole;
  out["light_batches"] = b.light_batches;
  out["exclusion"] = b.exclusion;
  out["full_batches"] = b.full_batches;
  out["integral"] = b.integral;
  out["best"] = b.best;
  return out;
}

py::array_t<double> core_batch_costs(const py::handle& costs_obj, const py::handle& bins_obj,
                                     const py::handle& n_bins_obj) {
  auto costs = expect_array<double>(costs_obj, "costs", 1, 2);
  const std::int64_t n = costs.shape(0), k = costs.ndim() == 2 ? costs.shape(1) : 1;
  expect_finite_nonnegative(costs.data(), n * k, "costs", costs.ndim() == 2 ? k : 1);
  const std::int64_t n_bins = expect_n_bins(n_bins_obj, n);
  auto bins = expect_bins(bins_obj, n, n_bins);
  py::array_t<double> out = costs.ndim() == 2 ? py::array_t<double>(std::vector<py::ssize_t>{n_bins, k})
                                               : py::array_t<double>(n_bins);
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    packing::batch_costs(costs.data(), n, k, bins.data(), n_bins, o);
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
    packing::group(bins.data(), n, n_bins, off, it);
  }
  return py::make_tuple(offsets, items);
}

}  // namespace

void bind_packing(py::module_& m) {
  m.def("pack", &core_pack, py::arg("sizes"), py::arg("capacity"), py::arg("method") = "ffd",
        py::arg("order") = py::none(), py::arg("keys") = py::none(),
        "First/best-fit-decreasing bin packing: (bin_of_item int64 (n,), n_bins). sizes float64 (n,) or (n, k), "
        "capacity float64 (k,), order None or an int64 permutation (the tie order), keys None or float64 (n,) "
        "values that order the items in place of their sizes (capacities are checked on the sizes).");
  m.def("pack_histogram", &core_pack_histogram, py::arg("sizes"), py::arg("capacity"), py::arg("order") = py::none(),
        "Best-fit-decreasing over histograms of integer sizes (n,): (bin_of_item int64 (n,), n_bins), or None "
        "where the sizes are not all integers or floor(capacity) exceeds 2**20.");
  m.def("spread", &core_spread, py::arg("sizes"), py::arg("capacity"), py::arg("n_bins"), py::arg("order") = py::none(),
        py::arg("keys") = py::none(),
        "Items spread over n_bins bins, each in the candidate bin it fits whose loads best complement its costs, "
        "the others (set aside) placed after them by first fit, in new bins where none fits: (bin_of_item int64 "
        "(n,), the number of bins, the number of items set aside, the largest load / capacity a chosen bin would "
        "have had). keys: as pack's.");
  m.def("pack_runs", &core_pack_runs, py::arg("lengths"), py::arg("terms"), py::arg("capacity"),
        py::arg("order") = py::none(), py::arg("keys") = py::none(),
        "Sorted-run packing under a batch cost shape: (bin_of_item int64 (n,), n_bins, run costs float64 (n_bins,)). "
        "terms float64 (6,) = (sum, padded, square, padded_square, count, constant); keys None or float64 (n,) "
        "values that order the items in place of their lengths (runs priced on the lengths).");
  m.def("cut_sorted", &core_cut_sorted, py::arg("keys"), py::arg("n_batches"), py::arg("order") = py::none(),
        "Items by decreasing key cut into n_batches runs, the shorter runs first: bin_of_item int64 (n,).");
  m.def("run_costs", &core_run_costs, py::arg("lengths"), py::arg("bin_of_item"), py::arg("n_bins"), py::arg("terms"),
        "Per-bin cost of finite, non-negative lengths under the terms of a batch cost shape: (n_bins,).");
  m.def("lower_bound_runs", &core_lower_bound_runs, py::arg("lengths"), py::arg("terms"), py::arg("capacity"),
        "Lower bound on the number of batches of cost <= capacity under a batch cost shape.");
  m.def("balance", &core_balance, py::arg("costs"), py::arg("n_batches"), py::arg("batch_size"),
        py::arg("order") = py::none(), py::arg("refine") = true, py::arg("keys") = py::none(),
        "Largest-first balanced split into n_batches batches of near-equal cardinality, dealt by keys (default: "
        "costs), refined on costs: bin_of_item int64 (n,). refine: a flag or 'none', 'lightest', 'exchange'.");
  m.def("lower_bound_pack", &core_lower_bound_pack, py::arg("sizes"), py::arg("capacity"),
        "Lower bound on the number of bins any packing needs; an item larger than the capacity is refused.");
  m.def("lower_bound_balance", &core_lower_bound_balance, py::arg("costs"), py::arg("n_batches"),
        "Lower bound on the peak batch cost of any split into n_batches batches of near-equal cardinality.");
  m.def("lower_bounds_balance", &core_lower_bounds_balance, py::arg("costs"), py::arg("n_batches"),
        "The parts of lower_bound_balance, each a lower bound on its own: a dict with mean, top_items, "
        "pigeonhole, light_batches, exclusion, full_batches (floats), integral (bool) and best (their maximum, rounded up when integral).");
  m.def("batch_costs", &core_batch_costs, py::arg("costs"), py::arg("bin_of_item"), py::arg("n_bins"),
        "Per-bin totals of finite, non-negative costs (n,) or (n, k): (n_bins,) or (n_bins, k).");
  m.def("group", &core_group, py::arg("bin_of_item"), py::arg("n_bins"),
        "CSR grouping (offsets (n_bins + 1,), items (n,)), items of a bin in ascending order.");
}

}  // namespace hullpack::bind
