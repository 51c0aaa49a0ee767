// Argument checks shared by the binding files (bind_*.cpp), the only code that knows pybind11.
//
// The rule every binding follows: check every argument before any kernel runs or any output is
// allocated, and raise ValueError naming the argument (and the offending index or value) for
// anything the kernel would not handle exactly as documented. Nothing is converted: an array of
// the wrong dtype, a float where an integer is wanted, a bool (Python's or numpy's) where a number
// is wanted, a value beyond int64: each is an error, never a silently different input. Python
// wrappers convert friendly input (lists, other dtypes) before calling the core; the core still
// refuses what they might let through.
//
// Typical use in a binding:
//
//   namespace hb = hullpack::bind;
//   auto costs = hb::expect_array<double>(costs_obj, "costs", 1, 1);      // (n,) float64
//   hb::expect_finite_nonnegative(costs.data(), costs.shape(0), "costs");
//   const std::int64_t k = hb::expect_int_in(k_obj, "k", 1, 64);          // an integer in 1..64
//   const int n_threads = hb::expect_n_threads(n_threads_obj);            // 0..4096
//   auto out = hb::expect_out(out_obj, "out", rows, cols, {hb::dtype_of<float>()}, "float32");
//   { py::gil_scoped_release release; kernel(costs.data(), ...); }
//
// Messages are built with fail(parts...), without iostreams: an ostringstream here once crashed
// inside its number formatting in a process with PyTorch's CUDA build loaded.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

namespace hullpack::bind {

namespace py = pybind11;

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

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
  std::snprintf(buf, sizeof buf, "%.10g", static_cast<double>(v));  // 0.9999999 is not "1"
  s += buf;
}

// Throws ValueError with the concatenation of parts (strings, characters, integers, floats).
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::string msg;
  (append(msg, parts), ...);
  throw py::value_error(msg);
}

// The type name of obj for messages, e.g. "<class 'float'>".
inline std::string type_name(const py::handle& obj) { return py::str(py::type::of(obj)).cast<std::string>(); }

// ---------------------------------------------------------------------------------------------
// Scalars
// ---------------------------------------------------------------------------------------------

// Whether obj is a numpy bool scalar (numpy.bool, numpy.bool_ before numpy 2). Checked by type
// name, so that no numpy module state is needed; numpy's bool type cannot be subclassed.
inline bool is_numpy_bool(const py::handle& obj) {
  const char* name = Py_TYPE(obj.ptr())->tp_name;
  return std::strcmp(name, "numpy.bool") == 0 || std::strcmp(name, "numpy.bool_") == 0;
}

// Whether obj is a bool of either kind: never accepted where a number is meant (numpy < 2.3 lets
// numpy bools act as integers through __index__).
inline bool is_any_bool(const py::handle& obj) { return PyBool_Check(obj.ptr()) || is_numpy_bool(obj); }

// A Python int or numpy integer scalar (anything with __index__ except bools), within int64.
inline std::int64_t expect_int(const py::handle& obj, const char* name) {
  if (is_any_bool(obj) || !PyIndex_Check(obj.ptr())) fail(name, ": expected an integer, got ", type_name(obj));
  py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(obj.ptr()));
  if (!index) {
    PyErr_Clear();
    fail(name, ": expected an integer, got ", type_name(obj));
  }
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
  if (overflow != 0) fail(name, " = ", py::str(index).cast<std::string>(), " is out of range (beyond int64)");
  if (v == -1 && PyErr_Occurred()) {
    PyErr_Clear();
    fail(name, ": expected an integer, got ", type_name(obj));
  }
  return static_cast<std::int64_t>(v);
}

// expect_int, and lo <= value <= hi; `what` (optional) explains the range in the message.
inline std::int64_t expect_int_in(const py::handle& obj, const char* name, std::int64_t lo, std::int64_t hi,
                                  const char* what = nullptr) {
  const std::int64_t v = expect_int(obj, name);
  if (v < lo || v > hi) {
    if (what) fail(name, " must be in ", lo, "..", hi, " (", what, "), got ", v);
    fail(name, " must be in ", lo, "..", hi, ", got ", v);
  }
  return v;
}

// Largest thread count accepted by the OpenMP kernels.
inline constexpr std::int64_t kMaxThreads = 4096;

// An OpenMP thread count argument: 0 (the OpenMP default) to kMaxThreads.
inline int expect_n_threads(const py::handle& obj, const char* name = "n_threads") {
  return static_cast<int>(expect_int_in(obj, name, 0, kMaxThreads, "0: the OpenMP default"));
}

// True or False: a Python bool or a numpy bool scalar.
inline bool expect_flag(const py::handle& obj, const char* name) {
  if (PyBool_Check(obj.ptr())) return obj.ptr() == Py_True;
  if (is_numpy_bool(obj)) return PyObject_IsTrue(obj.ptr()) == 1;
  fail(name, ": expected True or False, got ", type_name(obj));
}

// A real number: a Python float (numpy.float64 is one) or an integer as for expect_int, converted
// to double. Bools, strings and numpy float32 scalars are refused (wrappers convert the latter).
inline double expect_real(const py::handle& obj, const char* name) {
  if (is_any_bool(obj)) fail(name, ": expected a number, got ", type_name(obj));
  if (PyFloat_Check(obj.ptr())) return PyFloat_AsDouble(obj.ptr());
  if (PyIndex_Check(obj.ptr())) return static_cast<double>(expect_int(obj, name));
  fail(name, ": expected a number, got ", type_name(obj));
}

// One of `choices` (a str), e.g. expect_choice(obj, "method", {"ffd", "bfd"}).
inline std::string expect_choice(const py::handle& obj, const char* name, std::initializer_list<const char*> choices) {
  std::string list;
  for (const char* c : choices) list += (list.empty() ? "'" : ", '") + std::string(c) + "'";
  if (!py::isinstance<py::str>(obj)) fail(name, ": expected one of ", list, ", got ", type_name(obj));
  const auto value = obj.cast<std::string>();
  for (const char* c : choices)
    if (value == c) return value;
  fail(name, ": expected one of ", list, ", got '", value, "'");
}

// ---------------------------------------------------------------------------------------------
// Arrays
// ---------------------------------------------------------------------------------------------

template <typename T>
using c_array = py::array_t<T, py::array::c_style>;
using f64_array = c_array<double>;
using f32_array = c_array<float>;
using i64_array = c_array<std::int64_t>;
using i32_array = c_array<std::int32_t>;

template <typename T>
py::dtype dtype_of() {
  return py::dtype::of<T>();
}

// A numpy array of exactly dtype T, C-contiguous, with ndim_min <= ndim <= ndim_max, borrowed
// without a copy. Anything else (a list, another dtype, a strided view) is a ValueError naming
// `name`: the Python layer converts, so a mismatch here is a caller's bug to report.
template <typename T>
c_array<T> expect_array(const py::handle& obj, const char* name, int ndim_min, int ndim_max) {
  if (!py::isinstance<py::array>(obj)) fail(name, ": expected a numpy array, got ", type_name(obj));
  auto arr = py::reinterpret_borrow<py::array>(obj);
  if (!arr.dtype().is(py::dtype::of<T>()))
    fail(name, ": expected dtype ", py::str(py::dtype::of<T>()).cast<std::string>(), ", got ",
         py::str(arr.dtype()).cast<std::string>());
  if (!(arr.flags() & py::array::c_style)) fail(name, ": array must be C-contiguous");
  if (arr.ndim() < ndim_min || arr.ndim() > ndim_max) {
    if (ndim_min == ndim_max) fail(name, ": expected a ", ndim_min, "-D array, got ", arr.ndim(), "-D");
    fail(name, ": expected a ", ndim_min, "-D to ", ndim_max, "-D array, got ", arr.ndim(), "-D");
  }
  return py::reinterpret_borrow<c_array<T>>(arr);
}

// Every value finite and >= 0; names the first bad flat index as name[i], or name[i, j] when
// cols > 1 (values stored row-major with `cols` per row).
inline void expect_finite_nonnegative(const double* v, std::int64_t n, const char* name, std::int64_t cols = 1) {
  for (std::int64_t i = 0; i < n; ++i) {
    if (std::isfinite(v[i]) && v[i] >= 0) continue;
    const std::string at = cols > 1 ? std::to_string(i / cols) + ", " + std::to_string(i % cols) : std::to_string(i);
    if (!std::isfinite(v[i])) fail(name, "[", at, "] is not finite (", v[i], ")");
    fail(name, "[", at, "] is negative (", v[i], ")");
  }
}

// None (returns null), or an int64 (n,) array holding a permutation of 0..n-1 (returns its data,
// kept alive by `keep`). Names the first out-of-range or repeated entry.
inline const std::int64_t* expect_permutation(const py::handle& obj, std::int64_t n, const char* name, i64_array& keep) {
  if (obj.is_none()) return nullptr;
  keep = expect_array<std::int64_t>(obj, name, 1, 1);
  if (keep.shape(0) != n) fail(name, ": expected ", n, " entries (one per item), got ", keep.shape(0));
  const std::int64_t* o = keep.data();
  std::vector<std::uint8_t> seen(static_cast<std::size_t>(n), 0);
  for (std::int64_t p = 0; p < n; ++p) {
    const std::int64_t v = o[p];
    if (v < 0 || v >= n) fail(name, "[", p, "] = ", v, " is out of range: ", name, " must be a permutation of 0..", n - 1);
    if (seen[v]) {
      std::int64_t first = 0;
      while (o[first] != v) ++first;  // only on the way to an error
      fail(name, "[", p, "] = ", v, " repeats ", name, "[", first, "]: ", name, " must be a permutation of 0..", n - 1);
    }
    seen[v] = 1;
  }
  return o;
}

// Fails if `out` shares bytes with `in`: the kernels read their inputs while they write `out`.
inline void expect_disjoint(const py::array& out, const char* out_name, const py::array& in, const char* in_name) {
  const char* o = static_cast<const char*>(out.data());
  const char* i = static_cast<const char*>(in.data());
  if (out.nbytes() > 0 && in.nbytes() > 0 && o < i + in.nbytes() && i < o + out.nbytes())
    fail(out_name, ": shares memory with ", in_name, ", which the kernel reads while it writes ", out_name);
}

// An output array the caller provides: a writeable, C-contiguous numpy array of shape
// (rows, cols) whose dtype is one of `dtypes` (described as `dtype_words` in messages). Returns
// the array and the position of its dtype in `dtypes`.
struct OutArray {
  py::array array;
  int dtype_index;
};

inline OutArray expect_out(const py::handle& obj, const char* name, std::int64_t rows, std::int64_t cols,
                           std::initializer_list<py::dtype> dtypes, const char* dtype_words) {
  if (!py::isinstance<py::array>(obj)) fail(name, ": expected a numpy array, got ", type_name(obj));
  auto arr = py::reinterpret_borrow<py::array>(obj);
  int index = -1, i = 0;
  for (const auto& d : dtypes) {
    if (arr.dtype().is(d)) index = i;
    ++i;
  }
  if (index < 0) fail(name, ": expected dtype ", dtype_words, ", got ", py::str(arr.dtype()).cast<std::string>());
  if (!(arr.flags() & py::array::c_style) || !arr.writeable()) fail(name, ": must be C-contiguous and writeable");
  if (arr.ndim() != 2 || arr.shape(0) != rows || arr.shape(1) != cols)
    fail(name, ": expected shape (", rows, ", ", cols, ")");
  return {arr, index};
}

// ---------------------------------------------------------------------------------------------
// Arithmetic on validated sizes
// ---------------------------------------------------------------------------------------------

// a * b for a, b >= 0, or -1 when the product overflows int64.
inline std::int64_t checked_product(std::int64_t a, std::int64_t b) {
  if (a < 0 || b < 0) return -1;
  if (a != 0 && b > INT64_MAX / a) return -1;
  return a * b;
}

}  // namespace hullpack::bind
