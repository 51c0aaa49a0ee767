"""Systems of an element set, composition grids on the simplex, and the first-layer gather.

A screen is the product of a **system table** (``(n_systems, order)`` int32 element indices in
ElemNet's order, see :mod:`hullpack.elements`) and a **grid** (``(n_points, order)`` int32
numerators whose row sum is the denominator). Pair ``q`` is system ``q // n_points`` at grid point
``q % n_points``; nothing 86 wide is ever stored for the whole screen.

Grids:

* :func:`uniform_grid` ``(order, n)``: every composition with fractions ``i/n``: ``n + 1`` points
  for binaries, ``(n + 1)(n + 2) / 2`` for ternaries (step 0.05: 231).
* :func:`reduced_grid` ``(order, N)``: every distinct composition whose reduced denominator is at
  most ``N``. ElemNet's 31-point binary grid is ``reduced_grid(2, 10, min_elements=2)``: the
  distinct fractions ``a/b`` with ``b <= 10`` in [0, 1] (the Farey sequence of order 10) number 33;
  without the two pure elements, 31.

``min_elements`` keeps the points with at least that many elements present: 1 keeps everything,
2 drops the pure elements (whose formation energy is 0 by definition), ``order`` keeps only the
interior.

>>> systems(2).shape, systems(3).shape
((3655, 2), (102340, 3))
>>> uniform_grid(3, 20).shape, reduced_grid(2, 10, min_elements=2).shape
((231, 3), (31, 2))
>>> reduced_grid(2, 4).tolist()                      # 0, 1/4, 1/3, 1/2, 2/3, 3/4, 1 of element B
[[1, 0], [3, 1], [2, 1], [1, 1], [1, 2], [1, 3], [0, 1]]
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ._core_loader import core as _core
from .elements import ELEMENT_INDEX, ELEMNET_ELEMENTS, N_ELEMENTS
from .errors import ScreeningError

__all__ = ["systems", "system_names", "uniform_grid", "reduced_grid", "grid_fractions", "first_layer",
           "first_layer_pairs", "first_layer_cuda", "line_layers", "line_weight_tiles"]


def _core_call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ValueError as exc:
        raise ScreeningError(str(exc)) from None


def _element_indices(elements) -> np.ndarray:
    if elements is None:
        return np.arange(N_ELEMENTS, dtype=np.int32)
    if isinstance(elements, str):
        elements = elements.replace(",", " ").replace("-", " ").split()
    idx, unknown = [], []
    for e in elements:
        if isinstance(e, str):
            if e not in ELEMENT_INDEX:
                unknown.append(e)
                continue
            idx.append(ELEMENT_INDEX[e])
        else:
            i = int(e)
            if not 0 <= i < N_ELEMENTS:
                raise ScreeningError(f"element index {i} is outside 0..{N_ELEMENTS - 1} (ElemNet's elements)")
            idx.append(i)
    if unknown:
        raise ScreeningError(f"unknown element(s) {', '.join(map(repr, unknown))}: ElemNet knows {N_ELEMENTS} "
                             "elements (not He, Ne, Ar, Po, At, Rn, Fr, Ra); see hullpack.elements")
    if len(set(idx)) != len(idx):
        dup = sorted({ELEMNET_ELEMENTS[i] for i in idx if idx.count(i) > 1})
        raise ScreeningError(f"element(s) given more than once: {', '.join(dup)}")
    return np.array(sorted(idx), dtype=np.int32)


def systems(order: int = 2, elements: Iterable[str | int] | str | None = None) -> np.ndarray:
    """All binary (``order=2``) or ternary (``order=3``) systems of an element set.

    ``elements``: symbols or ElemNet indices (a string like ``"Fe Ni Al"`` works too); default all 86.
    Returns int32 ``(n_systems, order)`` element indices, ascending in ElemNet's order within a row,
    rows in lexicographic order.

    >>> systems(3, ["Fe", "Ni", "Al", "Cu"]).tolist()
    [[10, 22, 24], [10, 22, 25], [10, 24, 25], [22, 24, 25]]
    >>> system_names(systems(2, "O H Li"))
    ['H-Li', 'H-O', 'Li-O']
    """
    return _core_call(_core.systems, _element_indices(elements), order)


def system_names(table: np.ndarray) -> list[str]:
    """``"A-B"`` / ``"A-B-C"`` names of the rows of a system table (elements in ElemNet's order)."""
    return ["-".join(ELEMNET_ELEMENTS[i] for i in row) for row in np.asarray(table).tolist()]


def uniform_grid(order: int, n: int, *, min_elements: int = 1) -> np.ndarray:
    """Numerators of the grid of step ``1/n`` (rows sum to ``n``), in lexicographic order of the
    fractions of the second (and third) element.

    >>> uniform_grid(2, 4).tolist()
    [[4, 0], [3, 1], [2, 2], [1, 3], [0, 4]]
    >>> uniform_grid(3, 2, min_elements=2).tolist()    # no pure elements
    [[1, 0, 1], [1, 1, 0], [0, 1, 1]]
    """
    return _core_call(_core.uniform_grid, order, n, min_elements)


def reduced_grid(order: int, max_denominator: int, *, min_elements: int = 1) -> np.ndarray:
    """Numerators (in lowest terms; rows sum to the denominator) of every distinct composition whose
    denominator is at most ``max_denominator``, sorted by the fractions of the second (and third)
    element.

    >>> g = reduced_grid(2, 10, min_elements=2)         # ElemNet's 31-point binary grid
    >>> len(g), grid_fractions(g)[:3, 1].round(4).tolist()
    (31, [0.1, 0.1111, 0.125])
    >>> len(reduced_grid(3, 10))
    205
    """
    return _core_call(_core.reduced_grid, order, max_denominator, min_elements)


def grid_fractions(grid: np.ndarray) -> np.ndarray:
    """Fractions (float64, rows summing to 1) of a grid of numerators.

    >>> grid_fractions(np.array([[2, 1, 1]])).tolist()
    [[0.5, 0.25, 0.25]]
    """
    g = np.asarray(grid)
    return g / g.sum(axis=1, keepdims=True, dtype=np.float64)


def first_layer(system_table: np.ndarray, grid: np.ndarray, weight_t: np.ndarray, bias: np.ndarray,
                start: int = 0, count: int | None = None, *, out: np.ndarray | None = None,
                dtype: str = "float32", threads: int | None = None) -> np.ndarray:
    """First-layer pre-activations of pairs ``start .. start + count - 1`` of a screen, without
    building its 86-wide inputs: ``out[q] = bias + sum_e fraction_e * weight_t[element_e]``.

    ``weight_t`` is the first ``torch.nn.Linear``'s weight transposed, ``(86, h)`` float32 and
    C-contiguous (``layer.weight.detach().T.contiguous().numpy()``); ``bias`` ``(h,)`` float32.
    ``dtype="bfloat16"`` writes bfloat16 bit patterns into a uint16 array (round to nearest even);
    view them with ``torch.from_numpy(out).view(torch.bfloat16)``. ``out`` (optional) is written in
    place, e.g. a pinned buffer reused across calls or the numpy view of a torch tensor.
    Equals ``x @ weight_t + bias`` for the dense 86-wide inputs ``x`` up to float32 rounding.

    >>> rng = np.random.default_rng(0)
    >>> wt = rng.normal(size=(86, 8)).astype(np.float32); b = np.zeros(8, np.float32)
    >>> table, grid = systems(2, ["Fe", "Ni"]), uniform_grid(2, 4)
    >>> h = first_layer(table, grid, wt, b)                 # 1 system x 5 points
    >>> h.shape, bool(np.allclose(h[2], 0.5 * wt[22] + 0.5 * wt[24]))
    ((5, 8), True)
    """
    table, g, wt = _layer_inputs(system_table, grid, weight_t, dtype)
    if count is None:
        count = table.shape[0] * g.shape[0] - start
    out = _rows_out(out, count, wt.shape[1] if wt.ndim == 2 else 0, dtype)
    return _core_call(_core.first_layer, table, g, wt, np.ascontiguousarray(bias, dtype=np.float32), start, count,
                      out, 0 if threads is None else threads)


def _layer_inputs(system_table, grid, weight_t, dtype: str):
    """The checked (table, grid, weight_t) of the layer kernels."""
    table = np.ascontiguousarray(system_table, dtype=np.int32)
    g = np.ascontiguousarray(grid, dtype=np.int32)
    if table.ndim != 2 or g.ndim != 2:
        raise ScreeningError(f"system_table and grid must be 2-D, got shapes {table.shape} and {g.shape}")
    wt = np.asarray(weight_t)
    if wt.dtype != np.float32 or not wt.flags.c_contiguous:
        raise ScreeningError("weight_t: expected a C-contiguous float32 array (86, h), e.g. "
                             "layer.weight.detach().T.contiguous().numpy()")
    if dtype not in ("float32", "bfloat16"):
        raise ScreeningError(f"dtype: expected 'float32' or 'bfloat16', got {dtype!r}")
    return table, g, wt


def _rows_out(out, rows: int, cols: int, dtype: str) -> np.ndarray:
    """``out``, or a new (rows, cols) array: float32, or uint16 for bfloat16 bits."""
    if out is None:
        return np.empty((max(int(rows), 0), cols), dtype=np.float32 if dtype == "float32" else np.uint16)
    if (out.dtype == np.float32) != (dtype == "float32"):
        raise ScreeningError(f"out: dtype {out.dtype} does not match dtype={dtype!r} (float32 or uint16)")
    return out


def first_layer_pairs(system_table: np.ndarray, grid: np.ndarray, systems_idx: np.ndarray, points_idx: np.ndarray,
                      weight_t: np.ndarray, bias: np.ndarray, *, out: np.ndarray | None = None,
                      dtype: str = "float32", threads: int | None = None) -> np.ndarray:
    """:func:`first_layer` of arbitrary pairs: ``out[q]`` is system ``systems_idx[q]`` at grid
    point ``points_idx[q]``, with the same float32 operations (so the same bits).

    >>> rng = np.random.default_rng(0)
    >>> wt = rng.normal(size=(86, 8)).astype(np.float32); b = np.zeros(8, np.float32)
    >>> table, grid = systems(2, ["Fe", "Ni", "O"]), uniform_grid(2, 4)
    >>> h = first_layer_pairs(table, grid, [2, 0], [1, 3], wt, b)
    >>> bool(np.array_equal(h, first_layer(table, grid, wt, b)[[2 * 5 + 1, 3]]))
    True
    """
    table, g, wt = _layer_inputs(system_table, grid, weight_t, dtype)
    s = np.ascontiguousarray(systems_idx, dtype=np.int64)
    p = np.ascontiguousarray(points_idx, dtype=np.int64)
    out = _rows_out(out, len(s), wt.shape[1] if wt.ndim == 2 else 0, dtype)
    return _core_call(_core.first_layer_pairs, table, g, wt, np.ascontiguousarray(bias, dtype=np.float32), s, p,
                      out, 0 if threads is None else threads)


#: outputs per tile of :func:`line_weight_tiles`
LINE_TILE = 64


def line_weight_tiles(weight: np.ndarray) -> np.ndarray:
    """A second layer's weight ``(h2, h)`` (a ``torch.nn.Linear``'s) in the layout
    :func:`line_layers` reads: its transpose in tiles of ``LINE_TILE`` outputs,
    ``(ceil(h2 / 64), h, 64)`` float32, zero-padded past ``h2``."""
    w = np.asarray(weight, dtype=np.float32)
    if w.ndim != 2:
        raise ScreeningError(f"weight: expected a 2-D (h2, h) array, got shape {w.shape}")
    n = -(-w.shape[0] // LINE_TILE)
    padded = np.zeros((n * LINE_TILE, w.shape[1]), dtype=np.float32)
    padded[:w.shape[0]] = w
    return np.ascontiguousarray(padded.reshape(n, LINE_TILE, w.shape[1]).transpose(0, 2, 1))


def line_layers(system_table: np.ndarray, grid: np.ndarray, weight_t: np.ndarray, bias: np.ndarray,
                w2_tiles: np.ndarray, b2: np.ndarray, start: int = 0, count: int | None = None, *,
                out: np.ndarray | None = None, dtype: str = "float32", threads: int | None = None) -> np.ndarray:
    """The first two layers, ``relu(b2 + W2 relu(first layer))``, of binary systems
    ``start .. start + count - 1`` at every point of ``grid``, computed along each system's
    composition line: row ``(s - start) * len(grid) + k`` is system ``s`` at ``grid[k]``.

    On the line of a binary system the first layer is ``a + x c`` (``x`` the first element's
    fraction), and each unit's ReLU is active on one interval of ``x``. So the second layer is
    ``b2 + P(x) + x Q(x)``, where ``P`` and ``Q`` change by one scaled row of ``W2^T`` where a unit
    switches: one pass over ``W2`` per system instead of one matrix row per point, in float32 (no
    bfloat16 rounding before the output). Equals the layer-by-layer float32 products up to
    rounding. ``weight_t``, ``bias`` as in :func:`first_layer`; ``w2_tiles`` from
    :func:`line_weight_tiles`; ``b2`` ``(h2,)``; ``dtype="bfloat16"`` writes bfloat16 bits into
    uint16. The parameters must be finite (a NaN unit would not propagate as in the products).

    >>> rng = np.random.default_rng(0)
    >>> wt, b = rng.normal(size=(86, 16)).astype(np.float32), np.zeros(16, np.float32)
    >>> w2, b2 = rng.normal(size=(8, 16)).astype(np.float32), np.zeros(8, np.float32)
    >>> table, grid = systems(2, ["Fe", "Ni", "O"]), uniform_grid(2, 10)
    >>> z = line_layers(table, grid, wt, b, line_weight_tiles(w2), b2)       # 3 systems x 11 points
    >>> ref = np.maximum(np.maximum(first_layer(table, grid, wt, b), 0) @ w2.T + b2, 0)
    >>> z.shape, bool(np.allclose(z, ref, atol=1e-4))
    ((33, 8), True)
    """
    table, g, wt = _layer_inputs(system_table, grid, weight_t, dtype)
    if count is None:
        count = table.shape[0] - start
    tiles = np.asarray(w2_tiles)
    if tiles.dtype != np.float32 or not tiles.flags.c_contiguous:
        raise ScreeningError("w2_tiles: expected a C-contiguous float32 array from line_weight_tiles()")
    b2 = np.ascontiguousarray(b2, dtype=np.float32)
    out = _rows_out(out, max(int(count), 0) * g.shape[0], b2.shape[0] if b2.ndim == 1 else 0, dtype)
    return _core_call(_core.line_layers, table, g, wt, np.ascontiguousarray(bias, dtype=np.float32), tiles, b2,
                      start, count, out, 0 if threads is None else threads)


def first_layer_cuda(system_table, grid, weight_t, bias, start: int, count: int, out, *, stream=None):
    """The GPU twin of :func:`first_layer`, on torch CUDA tensors (any ``__cuda_array_interface__``
    arrays work): ``system_table`` and ``grid`` int32, ``weight_t`` ``(86, h)`` and ``bias`` float32,
    ``out`` a ``(count, h)`` float32 or bfloat16 tensor written in place. Queued on ``stream`` (a
    ``torch.cuda.Stream``; default: the current stream of ``out``'s device) without waiting, so it
    overlaps like any torch kernel. Indices are checked on the host before the launch (a copy of the
    rows the slice reads). Requires a CUDA build and device (:func:`hullpack.cuda_available`).
    """
    import torch

    if not isinstance(out, torch.Tensor) or not out.is_cuda:
        raise ScreeningError("out: expected a torch tensor on a CUDA device")
    if out.dtype not in (torch.float32, torch.bfloat16):
        raise ScreeningError(f"out: expected float32 or bfloat16, got {out.dtype}")
    bits = out.view(torch.int16) if out.dtype == torch.bfloat16 else out  # bf16 has no array-interface type
    with torch.cuda.device(out.device):
        s = stream if stream is not None else torch.cuda.current_stream(out.device)
        _core_call(_core.first_layer_cuda, system_table, grid, weight_t, bias, start, count, bits, s.cuda_stream)
    return out
