"""Type stubs of hullpack's compiled core (csrc/bind_*.cpp).

The core takes exact types only and converts nothing: arrays must already have the dtype shown and
be C-contiguous numpy arrays, integers must be ``int`` or numpy integers (never bools), flags
``bool`` or numpy bools. Anything else raises ``ValueError`` naming the argument, before any work.
The Python wrappers (:mod:`hullpack.packing`, :mod:`hullpack.hull`, :mod:`hullpack.compositions`)
convert friendly input and are the public API (:mod:`hullpack.stability` for StabilityHulls).
"""
from typing import Literal, TypedDict, type_check_only

import numpy as np
from numpy.typing import NDArray

from typing_extensions import NotRequired

_F64 = NDArray[np.float64]
_F32 = NDArray[np.float32]
_I64 = NDArray[np.int64]
_I32 = NDArray[np.int32]
_U16 = NDArray[np.uint16]
_Int = int | np.integer
_Flag = bool | np.bool_

#: whether the core was built with OpenMP (the kernels run on several threads)
with_openmp: bool
compiler: str  # the C++ compiler's id and version, e.g. "GNU 12.2.0"
cuda_compiler: str  # the CUDA compiler's, "" without the CUDA kernels
cuda_architectures: str  # the CUDA architectures built, e.g. "80;90"; "" without the CUDA kernels
#: whether the core was built with its CUDA kernels
with_cuda: bool

# ------------------------------------------------------------------------------------- packing

def pack(sizes: _F64, capacity: _F64, method: Literal["ffd", "bfd"] = "ffd",
         order: _I64 | None = None, keys: _F64 | None = None) -> tuple[_I64, int]:
    """First/best-fit-decreasing bin packing of sizes (n,) or (n, k) into bins of capacity (k,):
    (bin_of_item (n,), n_bins). order: None or a permutation of 0..n-1 that breaks ties; keys: None
    or (n,) values that order the items in place of their sizes (capacities checked on the sizes)."""

def pack_histogram(sizes: _F64, capacity: float, order: _I64 | None = None) -> tuple[_I64, int] | None:
    """Best-fit-decreasing over histograms of integer sizes (n,): (bin_of_item (n,), n_bins), or None
    where a size is not an integer or floor(capacity) exceeds 2**20."""

def spread(sizes: _F64, capacity: _F64, n_bins: _Int, order: _I64 | None = None,
           keys: _F64 | None = None) -> tuple[_I64, int, int, float]:
    """Items of sizes (n,) or (n, k) spread over n_bins bins (1 <= n_bins <= n), each in the candidate bin
    it fits (the least loaded along a few directions) whose loads best complement its costs, the others
    (set aside) placed after them by first fit, in new bins where none fits: (bin_of_item (n,), the
    number of bins, the number of items set aside, the largest load / capacity a chosen bin, or the
    candidate a set-aside item overflowed least, would have had). keys: as pack's."""

def pack_runs(lengths: _F64, terms: _F64, capacity: float,
              order: _I64 | None = None, keys: _F64 | None = None) -> tuple[_I64, int, _F64]:
    """Sorted-run packing of lengths (n,) under a batch cost shape, terms (6,) = (sum, padded, square,
    padded_square, count, constant): (bin_of_item (n,), n_bins, cost of each run (n_bins,)). keys:
    None or (n,) values that order the items in place of their lengths (runs priced on the lengths)."""

def cut_sorted(keys: _F64, n_batches: _Int, order: _I64 | None = None) -> _I64:
    """Items by decreasing key cut into n_batches runs (1 <= n_batches <= n), the shorter runs first:
    bin_of_item (n,)."""

def run_costs(lengths: _F64, bin_of_item: _I64, n_bins: _Int, terms: _F64) -> _F64:
    """The cost of every bin under the terms (6,) of a batch cost shape: (n_bins,)."""

def lower_bound_runs(lengths: _F64, terms: _F64, capacity: float) -> float:
    """A lower bound on the number of batches of cost <= capacity under a batch cost shape."""

def balance(costs: _F64, n_batches: _Int, batch_size: _Int, order: _I64 | None = None,
            refine: _Flag | Literal["none", "lightest", "exchange"] = True,
            keys: _F64 | None = None) -> _I64:
    """Largest-first split of costs (n,) into n_batches batches of n // n_batches or one more items
    (ceil(n / batch_size) <= n_batches <= n), dealt by keys (n,) (default: costs), then refined on
    costs (True: "exchange", False: "none"): bin_of_item (n,)."""

def lower_bound_pack(sizes: _F64, capacity: _F64) -> float:
    """A lower bound on the number of bins any packing of sizes (n,) or (n, k) needs."""

def lower_bound_balance(costs: _F64, n_batches: _Int) -> float:
    """A lower bound on the peak batch cost of any split of costs (n,) into n_batches batches."""

@type_check_only
class BalanceBounds(TypedDict):
    mean: float
    top_items: float
    pigeonhole: float
    light_batches: float
    exclusion: float
    full_batches: float
    integral: bool
    best: float

def lower_bounds_balance(costs: _F64, n_batches: _Int) -> BalanceBounds:
    """The parts of lower_bound_balance, each a lower bound on its own, and their maximum (best,
    rounded up when every cost is an integer: integral)."""

def batch_costs(costs: _F64, bin_of_item: _I64, n_bins: _Int) -> _F64:
    """Per-bin totals of costs (n,) or (n, k): (n_bins,) or (n_bins, k)."""

def group(bin_of_item: _I64, n_bins: _Int) -> tuple[_I64, _I64]:
    """CSR grouping: (offsets (n_bins + 1,), items (n,)), each bin's items ascending."""

# ---------------------------------------------------------------------------------------- hull

@type_check_only
class HullBatchResult(TypedDict):
    """What hull_batch returns (a dict at runtime)."""

    e_above_hull: _F64                # (N,) CSR or (n_sys, n_points) shared grid
    is_vertex: NDArray[np.bool_]      # same shape
    n_vertices: _I32                  # (n_sys,)
    status: NDArray[np.uint8]         # (n_sys,): 0 computed, 1 non-finite energy, 2 not converged (k >= 4)
    decomp_index: NotRequired[_I32]   # (..., k) with decomposition=True
    decomp_weight: NotRequired[_F64]  # (..., k) with decomposition=True
    vertex_depth: NotRequired[_F64]   # like e_above_hull, with depth=True (NaN except at vertices)
    facet_offsets: NotRequired[_I64]  # (n_sys + 1,) with facets=True (k <= 3)
    facets: NotRequired[_I32]         # (n_facets, k) with facets=True (k <= 3)

def hull_batch(fractions: _F64, energies: _F64, offsets: _I64 | None = None, tol: float | _Int = 1e-9,
               decomposition: _Flag = True, facets: _Flag = False,
               nonfinite: Literal["raise", "nan"] = "raise", n_threads: _Int = 0,
               device: Literal["cpu", "cuda"] = "cpu", depth: _Flag = False,
               general: _Flag = False) -> HullBatchResult:
    """Lower hulls of systems of k = 2..8 elements with elemental references at 0 eV/atom:
    fractions (N, k) with energies (N,) and offsets (n_sys + 1,), or a shared grid (n_points, k)
    with energies (n_sys, n_points) and offsets None. k >= 4 (and general=True): the N-dimensional
    kernel, CPU only, no facets. depth=True: vertex_depth, how far each vertex lies below the hull
    of the other points."""

# ----------------------------------------------------------------------------------- stability

@type_check_only
class StabilityResult(TypedDict):
    """What StabilityHulls.query and query_entries return (a dict at runtime), one row per query."""

    e_above_hull: _F64                # (n,) eV/atom above the lower hull of its chemical space
    decomposition_energy: _F64        # (n,) eV/atom against the hull of the other compositions
    stable: NDArray[np.bool_]         # (n,)
    status: NDArray[np.uint8]         # (n,) bits: 1 an element no entry contains, 2 not converged
    n_products: _I32                  # (n,) products used of each query's slots
    product_offsets: _I64             # (n + 1,) query i owns slots product_offsets[i] .. [i + 1]
    product_id: _I64                  # (product_offsets[-1],) entry index, -1 - e for element e's
                                      # implicit reference, INT64_MIN in an unused slot
    product_weight: _F64              # (product_offsets[-1],) 0 in an unused slot

class StabilityHulls:
    """Lower convex hulls of every chemical space of a set of entries (compositions with energies
    per atom), built once; see hullpack.stability for the conventions. Compositions are CSR: row r
    owns elements/fractions[offsets[r]:offsets[r + 1]], element ids strictly ascending in [0, 128),
    fractions finite, > 0 and summing to 1 within 1e-9, energies finite."""

    def __init__(self, offsets: _I64, elements: _I32, fractions: _F64, energies: _F64,
                 tol: float | int = 1e-9, n_threads: _Int = 0) -> None:
        """Entries: offsets int64 (n + 1,), elements int32 and fractions float64 (offsets[-1],),
        energies float64 (n,) in eV/atom; tol (eV/atom, >= 0): how far below the hull of the other
        compositions a compound must lie to be stable."""

    def query(self, offsets: _I64, elements: _I32, fractions: _F64, energies: _F64,
              n_threads: _Int = 0) -> StabilityResult:
        """Outside compositions (CSR as the entries) against the hulls."""

    def query_entries(self, indices: _I64 | None = None, n_threads: _Int = 0) -> StabilityResult:
        """Entries (indices (m,) in [0, n_entries), or None: all, in order) against the hulls they
        belong to."""

    @property
    def n_entries(self) -> int: ...
    @property
    def n_spaces(self) -> int: ...
    @property
    def n_hull_points(self) -> int:
        """Representatives that span the hulls (vertices, and points within 1e-10 eV/atom of a hull)."""
    @property
    def max_elements(self) -> int:
        """Most elements of one entry."""
    @property
    def tol(self) -> float: ...
    def knows_element(self, element: _Int) -> bool:
        """Whether some entry contains element id ``element``."""

# -------------------------------------------------------------------------------- compositions

def systems(elements: _I32, order: _Int) -> _I32:
    """All order-subsets (order 2..8) of strictly ascending element indices: (n_sys, order)."""

def uniform_grid(order: _Int, n: _Int, min_elements: _Int = 1) -> _I32:
    """Numerators (n_pts, order), rows summing to n, of the grid of step 1/n (order 2..8)."""

def reduced_grid(order: _Int, max_denominator: _Int, min_elements: _Int = 1) -> _I32:
    """Numerators in lowest terms of every composition with denominator <= max_denominator."""

def first_layer(systems: _I32, grid: _I32, weight_t: _F32, bias: _F32, start: _Int, count: _Int,
                out: _F32 | _U16, n_threads: _Int = 0) -> _F32 | _U16:
    """out[q] = bias + sum_e fraction_e * weight_t[element_e] for pairs start..start+count-1
    (system-major); out (count, h) float32, or uint16 holding bfloat16 bits. Returns out."""

def first_layer_pairs(systems: _I32, grid: _I32, weight_t: _F32, bias: _F32, systems_idx: _I64,
                      points_idx: _I64, out: _F32 | _U16, n_threads: _Int = 0) -> _F32 | _U16:
    """first_layer of pairs (systems_idx[q], points_idx[q]); out (len(systems_idx), h). Returns out."""

def line_layers(systems: _I32, grid: _I32, weight_t: _F32, bias: _F32, w2_tiles: _F32, b2: _F32,
                start: _Int, count: _Int, out: _F32 | _U16, n_threads: _Int = 0) -> _F32 | _U16:
    """relu(b2 + W2 relu(first layer)) of binary systems start..start+count-1 at every grid point;
    w2_tiles (ceil(h2 / 64), h, 64); out (count * n_pts, h2). Returns out."""

relu_mlp_version: str  # "avx512", "avx2" or "portable": the relu_mlp version this CPU runs

def relu_mlp(x: _F32, layers: list[tuple[_F32, _F32]], out: _F32, n_threads: _Int = 0) -> _F32:
    """Linear layers (tiles (ceil(out / 64), in, 64), bias (out,)) on the rows of x, a ReLU after each
    but the last, skipping zero inputs; out (n, last out). Returns out."""

# ---------------------------------------------------------------------------------------- CUDA

def cuda_device_count() -> int:
    """Number of CUDA devices the kernels can run on: compute capability at least the lowest architecture
    built (0 without a driver, such a device or a CUDA build)."""

def first_layer_cuda(systems: object, grid: object, weight_t: object, bias: object, start: _Int, count: _Int,
                     out: object, stream: _Int | None = None) -> object:
    """first_layer on arrays exposing __cuda_array_interface__ (int32 systems/grid, float32
    weight_t/bias; out float32 or int16/uint16 holding bfloat16), on the current device. The
    indices are checked on `stream` first (the call waits for that check), then the gather is
    queued there. Returns out. RuntimeError without a CUDA build."""
