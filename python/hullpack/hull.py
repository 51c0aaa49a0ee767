"""Lower convex hulls of systems of 2 to 8 elements (binaries, ternaries, quaternaries, ...), with
the elemental references at 0 eV/atom.

For one system, :func:`lower_hull` (everything) and :func:`e_above_hull` (just the energies above
hull); for many systems at once, :func:`hull_batch` (C++, OpenMP over systems; ``device="cuda"``
runs the same code on a GPU, for binaries and ternaries).

Binaries and ternaries have dedicated kernels (a monotone chain; an incremental triangulation with
edge flips). Order 4 and above run the N-dimensional kernel of the stability core
(:mod:`hullpack.stability`): the point deepest below the current hull is inserted until no point
lies more than ``tol`` below it, with one small linear program per point kept up to date, so the
results follow the same rules. It writes no facets (``facets=True`` is refused for them).

Conventions, as in pymatgen's ``PhaseDiagram`` with formation energies:

* ``fractions`` has one row per point and one column per element of the system (2 to 8), each row
  summing to 1. ``energies`` are formation energies in eV/atom.
* The hull is built from the elemental references at exactly 0 eV/atom and the points that are not
  pure elements. A point at a pure composition is never a vertex; its energy above hull is its own
  energy (so a model's non-zero prediction for an element shows).
* A point is a hull **vertex** (a predicted stable compound) when it lies more than ``tol`` below
  the lower hull of all other points. A point on the hull but not at a corner of it (on a facet or an
  edge) has energy above hull 0 and is not a vertex, as pymatgen decides too. Of duplicate
  compositions only the lowest energy can be a vertex (at equal energies, the first one).
* The **decomposition** of a point: the ``k`` vertices of the hull facet below it (a segment for
  binaries, a triangle for ternaries, a tetrahedron for quaternaries) and its barycentric weights,
  largest first; weights below 1e-12 are 0 (where the point lies on a lower-dimensional face, the
  ids of weight 0 are one choice among several). A vertex decomposes into itself with weight 1.
  Vertex ids are point indices within the system, or ``-1 - e`` for the elemental reference of the
  system's element ``e``.
* The **vertex depth** (``hull_batch(..., depth=True)``): how far a vertex lies below the lower hull
  of all the other points of its system (duplicates of it included), i.e. its decomposition energy
  with the sign flipped; NaN at the other points.

>>> import numpy as np
>>> x = np.array([0.25, 0.5, 0.75])                      # fraction of the second element
>>> h = lower_hull(x, [-0.1, -0.4, -0.1])
>>> h.vertices.tolist(), h.e_above_hull.round(3).tolist()
([1], [0.1, 0.0, 0.1])
>>> h.decomp_index[0].tolist(), h.decomp_weight[0].tolist()  # half A (-1), half the vertex 1
([-1, 1], [0.5, 0.5])
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ._core_loader import as_flag, as_float_array, as_int_array, as_real, as_threads, call
from .device import cuda_available
from ._core_loader import core as _core
from ._progress import progress
from .errors import HullInputError

__all__ = ["DEFAULT_TOL", "MAX_ORDER", "Hull", "HullBatch", "lower_hull", "e_above_hull", "hull_batch"]

log = logging.getLogger(__name__)

#: eV/atom: points closer than this to the hull of the others are on it, not vertices
DEFAULT_TOL = 1e-9
#: most elements per system
MAX_ORDER = 8

# systems per call of the compiled kernel when a progress bar is shown: binaries and ternaries,
# and higher orders (a quaternary grid of step 0.05 costs about as much as 100 ternaries)
_CHUNK = 8192
_CHUNK_ND = 64
_PER_SYSTEM = frozenset({"n_vertices", "status"})  # the core's outputs with one row a system in either layout


@dataclass(frozen=True)
class Hull:
    """The lower hull of one system (see the module docstring for the conventions)."""

    #: (n,) eV/atom above the hull; 0 on it
    e_above_hull: np.ndarray
    #: (n,) bool, the hull vertices: stable compositions
    is_vertex: np.ndarray
    #: (n, k) int32 ids of the facet vertices below each point (``-1 - e``: element ``e``)
    decomp_index: np.ndarray
    #: (n, k) float64 barycentric weights in that facet, largest first
    decomp_weight: np.ndarray
    #: (m, k) int32 the hull facets (segments or triangles) as vertex ids, elements included; None
    #: for order 4 and above
    facets: np.ndarray | None

    @property
    def vertices(self) -> np.ndarray:
        """Indices of the vertex points, ascending."""
        return np.flatnonzero(self.is_vertex)


@dataclass(frozen=True)
class HullBatch:
    """Hulls of many systems. Point arrays are flat ``(N, ...)`` (CSR input) or ``(n_systems,
    n_points, ...)`` (shared grid input), in the order of the input energies."""

    e_above_hull: np.ndarray
    is_vertex: np.ndarray
    #: (n_systems,) int32 number of vertex points per system
    n_vertices: np.ndarray
    #: (n_systems,) bool: False for systems with a non-finite energy (``nonfinite="nan"``), whose
    #: energies above hull and weights are NaN and which have no vertices (and, for order 4 and
    #: above, where a linear program hit its iteration limit: never seen)
    valid: np.ndarray
    decomp_index: np.ndarray | None = None
    decomp_weight: np.ndarray | None = None
    #: (with ``depth=True``) eV/atom, how far each vertex lies below the hull of the other points;
    #: NaN at the other points
    vertex_depth: np.ndarray | None = None
    #: (n_systems + 1,) int64 CSR offsets into ``facets`` (with ``facets=True``)
    facet_offsets: np.ndarray | None = None
    facets: np.ndarray | None = None

    @property
    def invalid_systems(self) -> np.ndarray:
        """Indices of the systems that were not computed because of non-finite energies."""
        return np.flatnonzero(~self.valid)


def _as_fractions(fractions) -> np.ndarray:
    f = as_float_array(fractions, "fractions", error=HullInputError)
    if f.ndim == 1:  # a binary given by the fraction of its second element
        f = np.stack([1.0 - f, f], axis=1)
    return np.ascontiguousarray(f)


def _as_energies(energies) -> np.ndarray:
    return as_float_array(energies, "energies", error=HullInputError)


def _options(tol, decomposition, facets=False, **kw) -> dict:
    """The core's keyword arguments, checked: no truthiness for flags, no bools for numbers."""
    return dict(tol=as_real(tol, "tol", error=HullInputError),
                decomposition=as_flag(decomposition, "decomposition", error=HullInputError),
                facets=as_flag(facets, "facets", error=HullInputError), **kw)


def _call(fractions, energies, offsets, **kw) -> dict:
    return call(_core.hull_batch, fractions, energies, offsets, error=HullInputError, **kw)


def lower_hull(fractions, energies, *, tol: float = DEFAULT_TOL) -> Hull:
    """The lower convex hull of one system of 2 to 8 elements.

    ``fractions``: (n, k) rows summing to 1, or (n,) fractions of the second element of a
    binary; ``energies``: (n,) formation energies in eV/atom. ``facets`` is None for ``k >= 4``. Raises
    :class:`~hullpack.errors.HullInputError` (a ``ValueError``) naming the offending point for
    fractions off the simplex, non-finite energies or mismatched shapes.

    >>> import numpy as np
    >>> f = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [1/3, 1/3, 1/3], [0.2, 0.2, 0.6]])
    >>> h = lower_hull(f, [-0.2, -0.1, -0.3, 0.05])
    >>> h.vertices.tolist()
    [0, 1, 2]
    >>> round(float(h.e_above_hull[3]), 4)
    0.23
    >>> h.decomp_index[3].tolist(), h.decomp_weight[3].round(6).tolist()  # 0.6 of point 2, 0.4 of element 2
    ([2, -3, 1], [0.6, 0.4, 0.0])
    >>> len(h.facets)                                      # triangles of the hull
    5
    >>> q = np.array([[0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0, 0], [0.4, 0.2, 0.2, 0.2]])
    >>> h4 = lower_hull(q, [-0.4, -0.1, -0.2])              # a quaternary
    >>> h4.vertices.tolist(), h4.e_above_hull.round(3).tolist(), h4.facets is None
    ([0, 1], [0.0, 0.0, 0.12], True)
    >>> h4.decomp_index[2].tolist(), h4.decomp_weight[2].round(3).tolist()  # weight 0: a face through it
    ([0, -1, 1, -4], [0.8, 0.2, 0.0, 0.0])
    """
    f = _as_fractions(fractions)
    e = _as_energies(energies)
    if e.ndim != 1:
        raise HullInputError(f"energies: expected a 1-D array for one system, got shape {e.shape}")
    with_facets = f.ndim == 2 and f.shape[1] <= 3
    r = _call(f, e, np.array([0, e.shape[0]], dtype=np.int64), **_options(tol, True, with_facets))
    return Hull(r["e_above_hull"], r["is_vertex"], r["decomp_index"], r["decomp_weight"], r.get("facets"))


def e_above_hull(fractions, energies, *, tol: float = DEFAULT_TOL) -> np.ndarray:
    """Energy above the lower hull (eV/atom) of every point of one system (2 to 8 elements).

    >>> e_above_hull([0.25, 0.5, 0.75], [-0.1, -0.4, 0.3]).round(3).tolist()
    [0.1, 0.0, 0.5]
    """
    f = _as_fractions(fractions)
    e = _as_energies(energies)
    if e.ndim != 1:
        raise HullInputError(f"energies: expected a 1-D array for one system, got shape {e.shape}")
    r = _call(f, e, np.array([0, e.shape[0]], dtype=np.int64), **_options(tol, False))
    return r["e_above_hull"]


def hull_batch(fractions, energies, offsets=None, *, tol: float = DEFAULT_TOL, decomposition: bool = True,
               facets: bool = False, depth: bool = False, nonfinite: str = "raise", threads: int | None = None,
               device: str = "cpu", progress_bar: bool | None = None) -> HullBatch:
    """Lower hulls of many systems of 2 to 8 elements in one call.

    Two layouts:

    * **shared grid** (``offsets=None``): ``fractions`` (n_points, k) used by every system and
      ``energies`` (n_systems, n_points), as a screen over a composition grid produces them;
    * **CSR**: ``fractions`` (N, k) and ``energies`` (N,) for all points, system after system, and
      ``offsets`` (n_systems + 1,) int64 with system ``s`` owning rows ``offsets[s]:offsets[s+1]``.

    ``nonfinite="raise"`` (default) raises :class:`~hullpack.errors.HullInputError` naming the
    system and point of a NaN or infinite energy; ``"nan"`` reports such systems instead of failing:
    ``valid[s]`` is False and their energies above hull are NaN. ``decomposition`` and ``facets``
    select the optional outputs (decompositions need 12 bytes a point for ternaries, facets about
    as much again; facets only for binaries and ternaries). ``depth=True`` adds ``vertex_depth``:
    how far each vertex lies below the hull of the other points of its system (eV/atom; NaN
    elsewhere), computed on the CPU. ``threads``: OpenMP threads (default: all). ``device="cuda"``
    runs the same kernels on the GPU for binaries and ternaries (see
    :func:`hullpack.cuda_available`). Batches of more than 8192 systems (64 of order 4 and above)
    show a progress bar on a terminal (``progress_bar=False``: never, ``True``: always).

    Cost: binaries and ternaries take microseconds per system. Order 4 and above cost about one
    small linear program per point and per hull vertex: a quaternary grid of step 0.05 (1,771
    points, about 200 vertices) took 23 ms per system on a busy 2-core machine, 220x less than
    pymatgen's ``PhaseDiagram`` in the same run (``benchmarks/bench_hull.py``); a system with many
    vertices costs more (all of n points on the hull: order n^2).

    >>> import numpy as np
    >>> grid = np.array([[0.75, 0.25], [0.5, 0.5], [0.25, 0.75]])
    >>> energies = np.array([[-0.1, -0.3, -0.1],      # system 0: the 50:50 compound is stable
    ...                      [ 0.2,  0.1,  0.3],      # system 1: nothing below the references
    ...                      [-0.2, np.nan, -0.1]])   # system 2: a failed prediction
    >>> b = hull_batch(grid, energies, nonfinite="nan")
    >>> b.n_vertices.tolist(), b.valid.tolist()
    ([1, 0, 0], [True, True, False])
    >>> b.e_above_hull[0].round(3).tolist(), b.invalid_systems.tolist()
    ([0.05, 0.0, 0.05], [2])
    >>> hull_batch(grid, energies[:1], depth=True).vertex_depth.round(3).tolist()
    [[nan, 0.2, nan]]
    """
    f = _as_fractions(fractions)
    e = _as_energies(energies)
    if device not in ("cpu", "cuda"):
        raise HullInputError(f"device: expected 'cpu' or 'cuda', got {device!r}")
    if device == "cuda" and not cuda_available():
        raise RuntimeError("device='cuda': hullpack's CUDA kernels were not built or no CUDA device is "
                           "usable (see hullpack.build_info()); use device='cpu'")
    kw = _options(tol, decomposition, facets, nonfinite=nonfinite,
                  n_threads=as_threads(threads, error=HullInputError), device=device,
                  depth=as_flag(depth, "depth", error=HullInputError))
    if progress_bar is not None:
        progress_bar = as_flag(progress_bar, "progress_bar", error=HullInputError)
    if offsets is not None:
        offsets = as_int_array(offsets, "offsets", error=HullInputError)
        n_sys = offsets.shape[0] - 1 if offsets.ndim == 1 else -1
    else:
        n_sys = e.shape[0] if e.ndim == 2 else -1
    log.debug("hull_batch: %d systems, %s layout, device %s", n_sys, "CSR" if offsets is not None else "grid", device)
    chunk = _CHUNK if f.ndim != 2 or f.shape[1] <= 3 else _CHUNK_ND
    if n_sys <= chunk or progress_bar is False or _has_problem(f, e, offsets, nonfinite):
        return _to_batch(_call(f, e, offsets, **kw))  # one call: validation names global indices

    # Chunks of systems behind a progress bar (input already checked as a whole), each written
    # into the whole batch's arrays as it ends: holding the chunks, then joining them, doubled the peak.
    merged: dict = {}
    facet_parts = []
    with progress(total=n_sys, desc="hulls", unit="system", show=progress_bar) as bar:
        for s0 in range(0, n_sys, chunk):
            s1 = min(n_sys, s0 + chunk)
            if offsets is None:
                rows, part = (s0, s1), _call(f, e[s0:s1], None, **kw)
            else:
                lo, hi = int(offsets[s0]), int(offsets[s1])
                rows, part = (lo, hi), _call(f[lo:hi], e[lo:hi], offsets[s0:s1 + 1] - lo, **kw)
            for key, value in part.items():
                if key in ("facets", "facet_offsets"):
                    continue
                # per system: n_vertices, status, and every output of the shared grid; else per point
                per_system = key in _PER_SYSTEM or offsets is None
                if key not in merged:
                    merged[key] = np.empty((n_sys if per_system else e.shape[0],) + value.shape[1:], value.dtype)
                start, stop = (s0, s1) if per_system else rows
                merged[key][start:stop] = value
            if "facets" in part:
                facet_parts.append((part["facets"], np.diff(part["facet_offsets"])))
            del part
            bar.update(s1 - s0)
    if facet_parts:
        merged["facets"] = np.concatenate([facets for facets, _ in facet_parts])
        sizes = np.concatenate([n for _, n in facet_parts])
        merged["facet_offsets"] = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return _to_batch(merged)


def _has_problem(f: np.ndarray, e: np.ndarray, offsets, nonfinite: str) -> bool:
    """A vectorised pre-check of what the core validates, so that chunked work fails before it starts."""
    if f.ndim != 2 or not 2 <= f.shape[1] <= MAX_ORDER or not np.isfinite(f).all() or (f < 0).any():
        return True
    if (np.abs(f.sum(axis=1) - 1.0) > 1e-9).any() or (nonfinite == "raise" and not np.isfinite(e).all()):
        return True
    if offsets is None:
        return e.ndim != 2 or e.shape[1] != f.shape[0]
    return (e.ndim != 1 or offsets.ndim != 1 or offsets[0] != 0 or offsets[-1] != e.shape[0]
            or f.shape[0] != e.shape[0] or (np.diff(offsets) < 0).any())


def _to_batch(r: dict) -> HullBatch:
    return HullBatch(
        e_above_hull=r["e_above_hull"], is_vertex=r["is_vertex"], n_vertices=r["n_vertices"],
        valid=r["status"] == 0, decomp_index=r.get("decomp_index"), decomp_weight=r.get("decomp_weight"),
        vertex_depth=r.get("vertex_depth"), facet_offsets=r.get("facet_offsets"), facets=r.get("facets"),
    )
