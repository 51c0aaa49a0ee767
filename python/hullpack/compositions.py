"""Systems of an element set, composition grids on the simplex, and the first-layer gather.

A screen is the product of a **system table** (``(n_systems, order)`` int32 element indices in
ElemNet's order, see :mod:`hullpack.elements`) and a **grid** (``(n_points, order)`` int32
numerators whose row sum is the denominator). Pair ``q`` is system ``q // n_points`` at grid point
``q % n_points``; nothing 86 wide is ever stored for the whole screen.

Orders: every function takes systems of 2 to :data:`MAX_ORDER` (8) elements: binaries,
ternaries, quaternaries (``order=4``) and beyond, except :func:`line_layers` (binaries).

Grids:

* :func:`uniform_grid` ``(order, n)``: every composition with fractions ``i/n``: ``n + 1`` points
  for binaries, ``(n + 1)(n + 2) / 2`` for ternaries (step 0.05: 231), ``C(n + 3, 3)`` for
  quaternaries (step 0.05: 1,771), ``C(n + k - 1, k - 1)`` for order ``k``.
* :func:`reduced_grid` ``(order, N)``: every distinct composition whose reduced denominator is at
  most ``N``. ElemNet's 31-point binary grid is ``reduced_grid(2, 10, min_elements=2)``: the
  distinct fractions ``a/b`` with ``b <= 10`` in [0, 1] (the Farey sequence of order 10) number 33;
  without the two pure elements, 31.

``min_elements`` keeps the points with at least that many elements present: 1 keeps everything,
2 drops the pure elements (whose formation energy is 0 by definition), ``order`` keeps only the
interior.

Bad arguments raise :class:`~hullpack.errors.InvalidInputError` (a ``ValueError``) naming the
argument and the offending entry; nothing is converted in a way that changes a value (a float
index must be a whole number, an integer must fit int32, a bool is not an integer).

>>> systems(2).shape, systems(3).shape, systems(4, "Li Fe Mn Co Ni O P S F Al").shape
((3655, 2), (102340, 3), (210, 4))
>>> uniform_grid(3, 20).shape, uniform_grid(4, 20).shape, reduced_grid(2, 10, min_elements=2).shape
((231, 3), (1771, 4), (31, 2))
>>> reduced_grid(2, 4).tolist()                      # 0, 1/4, 1/3, 1/2, 2/3, 3/4, 1 of element B
[[1, 0], [3, 1], [2, 1], [1, 1], [1, 2], [1, 3], [0, 1]]
"""
from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from ._core_loader import as_int, as_int_array, as_threads
from ._core_loader import call as _core_call
from ._core_loader import core as _core
from .elements import (ALL_ELEMENT_INDEX, CHARGE_MESSAGE, ELEMENT_INDEX, ELEMNET_ELEMENTS, ELEMNET_LACKS, N_ELEMENTS,
                       OTHER_ELEMENTS, VACANCY_MESSAGE, not_an_element, not_in_elemnet)
from . import naming
from .errors import InvalidInputError

__all__ = ["MAX_ORDER", "systems", "system_names", "uniform_grid", "reduced_grid", "grid_fractions", "first_layer",
           "first_layer_pairs", "first_layer_cuda", "line_layers", "line_weight_tiles", "relu_mlp"]

#: most elements per system (the order of systems and grids)
MAX_ORDER = 8


_ELEMENT_SEPARATORS = re.compile("[\\s,;\\-\u2010-\u2015\u2212]+")


def _is_formula(text: str) -> bool:
    """Whether ``text`` is a formula of more than a symbol: ``Fe2O3``, ``FeO``, ``O2``."""
    tokens = re.findall(r"([A-Z][a-z]?)(\d*\.?\d*)", text)
    return ("".join(a + b for a, b in tokens) == text and (len(tokens) > 1 or bool(tokens and tokens[0][1]))
            and all(sym in ALL_ELEMENT_INDEX for sym, _ in tokens))


def _element_indices(elements) -> np.ndarray:
    if elements is None:
        return np.arange(N_ELEMENTS, dtype=np.int32)
    if isinstance(elements, str):  # "Fe Ni", "Fe,Ni", "Fe;Ni", "Fe-Ni" (also with a typeset dash)
        elements = _ELEMENT_SEPARATORS.sub(" ", "".join(c for c in elements if c.isprintable() or c.isspace())).split()
    elif isinstance(elements, np.ndarray) and elements.dtype.kind in "biuf":
        elements = as_int_array(elements, "elements").tolist()  # whole numbers only, no bools
    idx, unknown = [], []
    for j, e in enumerate(elements):
        if isinstance(e, str):
            if e not in ELEMENT_INDEX:
                unknown.append(e)
                continue
            idx.append(ELEMENT_INDEX[e])
            continue
        if isinstance(e, (float, np.floating)) and float(e).is_integer():
            e = int(e)  # a whole number given as a float: the same index
        i = as_int(e, f"elements[{j}]")
        if not 0 <= i < N_ELEMENTS:
            raise InvalidInputError(f"elements[{j}]: element index {i} is outside 0..{N_ELEMENTS - 1} "
                                    "(ElemNet's elements)")
        idx.append(i)
    lacking = [e for e in unknown if e in OTHER_ELEMENTS]
    if lacking and len(lacking) == len(unknown):  # elements all, but not ElemNet's: the message says which it lacks
        raise InvalidInputError(f"elements: {not_in_elemnet(lacking)}; see hullpack.elements")
    if unknown:
        capitalised = [e.capitalize() for e in unknown if e.capitalize() in ELEMENT_INDEX]
        hint = f" (symbols start with a capital letter: {', '.join(capitalised)})" if capitalised else ""
        formulas = [e for e in unknown if _is_formula(e)]
        if formulas:
            symbols = ", ".join(dict.fromkeys(re.findall(r"[A-Z][a-z]?", formulas[0])))
            hint += f" (formulas, not elements: give the elements of {formulas[0]!r}: {symbols})"
        why = {not_an_element(e) for e in unknown}
        if CHARGE_MESSAGE in why:
            hint += " (symbols without charges: 'Fe', not 'Fe3+')"
        if VACANCY_MESSAGE in why:
            hint += " (Va is CALPHAD's vacancy, not an element: leave it out)"
        if lacking:
            hint += f" ({', '.join(lacking)}: elements ElemNet lacks)"
        raise InvalidInputError(f"elements: unknown element(s) {', '.join(map(repr, unknown))}{hint}: ElemNet knows "
                                f"{N_ELEMENTS} elements ({ELEMNET_LACKS}); see hullpack.elements")
    if len(set(idx)) != len(idx):
        dup = sorted({ELEMNET_ELEMENTS[i] for i in idx if idx.count(i) > 1})
        raise InvalidInputError(f"elements: element(s) given more than once: {', '.join(dup)}")
    return np.array(sorted(idx), dtype=np.int32)


def systems(order: int = 2, elements: Iterable[str | int] | str | None = None) -> np.ndarray:
    """All systems of ``order`` elements (2 binaries, 3 ternaries, 4 quaternaries, .. up to
    :data:`MAX_ORDER`) of an element set: ``C(n, order)`` of ``n`` elements.

    ``elements``: symbols or ElemNet indices (positions in ``ELEMNET_ELEMENTS``, not atomic
    numbers; a string like ``"Fe Ni Al"`` works too); default all 86.
    Returns int32 ``(n_systems, order)`` element indices, ascending in ElemNet's order within a row,
    rows in lexicographic order. A request for more than ``2**31`` table entries is refused before
    anything is allocated (``systems(4)``, all 86 elements, is 2,123,555 rows).

    >>> systems(3, ["Fe", "Ni", "Al", "Cu"]).tolist()
    [[10, 22, 24], [10, 22, 25], [10, 24, 25], [22, 24, 25]]
    >>> system_names(systems(4, "Li Fe Mn O P"))
    ['Li-Mn-O-P', 'Fe-Li-O-P', 'Fe-Li-Mn-O', 'Fe-Li-Mn-P', 'Fe-Mn-O-P']
    >>> system_names(systems(2, "O H Li"))
    ['H-Li', 'H-O', 'Li-O']
    """
    return _core_call(_core.systems, _element_indices(elements), order)


def system_names(table: np.ndarray) -> list[str]:
    """Chemical-system names (``"Fe-O"``, ``"Fe-Li-O"``: symbols in alphabetical order, as pymatgen's
    ``chemical_system`` and hullpack's result tables write them) of the rows of a system table,
    whose columns are in ElemNet's order."""
    t = np.asarray(table, dtype=np.int64)
    if t.size == 0:
        return []
    return naming.systems(np.arange(len(t) + 1) * t.shape[1], t.reshape(-1)).tolist()


def uniform_grid(order: int, n: int, *, min_elements: int = 1) -> np.ndarray:
    """Numerators of the grid of step ``1/n`` (rows sum to ``n``), in lexicographic order of the
    fractions of the second, third, .. element. ``n`` is at most ``2**24 - 1`` for binaries, 5000
    for ternaries and, for higher orders, the largest ``n`` whose grid has at most ``2**24``
    points (463 for quaternaries).

    >>> uniform_grid(2, 4).tolist()
    [[4, 0], [3, 1], [2, 2], [1, 3], [0, 4]]
    >>> uniform_grid(3, 2, min_elements=2).tolist()    # no pure elements
    [[1, 0, 1], [1, 1, 0], [0, 1, 1]]
    >>> uniform_grid(4, 2, min_elements=2)[:3].tolist()
    [[1, 0, 0, 1], [1, 0, 1, 0], [0, 0, 1, 1]]
    >>> len(uniform_grid(4, 20, min_elements=4))       # quaternary interior at step 0.05
    969
    """
    return _core_call(_core.uniform_grid, order, n, min_elements)


def reduced_grid(order: int, max_denominator: int, *, min_elements: int = 1) -> np.ndarray:
    """Numerators (in lowest terms; rows sum to the denominator) of every distinct composition whose
    denominator is at most ``max_denominator``, sorted by the fractions of the second, third, ..
    element. ``max_denominator`` is at most 10000 for binaries, 400 for ternaries and, for higher
    orders, the largest value for which at most ``2**24`` numerator tuples are enumerated.

    >>> g = reduced_grid(2, 10, min_elements=2)         # ElemNet's 31-point binary grid
    >>> len(g), grid_fractions(g)[:3, 1].round(4).tolist()
    (31, [0.1, 0.1111, 0.125])
    >>> len(reduced_grid(3, 10)), len(reduced_grid(4, 6, min_elements=4))
    (205, 15)
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
    C-contiguous (``layer.weight.detach().T.contiguous().numpy()``); ``bias`` ``(h,)`` float32
    values. ``dtype="bfloat16"`` writes bfloat16 bit patterns into a uint16 array (round to nearest
    even); view them with ``torch.from_numpy(out).view(torch.bfloat16)``. ``out`` (optional) is
    written in place, e.g. a pinned buffer reused across calls or the numpy view of a torch tensor.
    Equals ``x @ weight_t + bias`` for the dense 86-wide inputs ``x`` up to float32 rounding; the
    float32 operations are the same on every machine, so are the bits (docs/numerics.md).

    Raises :class:`~hullpack.errors.InvalidInputError` naming the argument: tables and grids of
    whole numbers that fit int32 (no bools), ``start``/``count`` integers inside the screen
    (checked before ``out`` is allocated), indices that are rows of ``weight_t``.

    >>> rng = np.random.default_rng(0)
    >>> wt = rng.normal(size=(86, 8)).astype(np.float32); b = np.zeros(8, np.float32)
    >>> table, grid = systems(2, ["Fe", "Ni"]), uniform_grid(2, 4)
    >>> h = first_layer(table, grid, wt, b)                 # 1 system x 5 points
    >>> h.shape, bool(np.allclose(h[2], 0.5 * wt[22] + 0.5 * wt[24]))
    ((5, 8), True)
    """
    table, g, wt = _layer_inputs(system_table, grid, weight_t, dtype)
    n_pairs = table.shape[0] * g.shape[0]
    start, count = _slice(start, count, n_pairs, f"pairs must lie in 0..{n_pairs} ({table.shape[0]} systems x "
                                                 f"{g.shape[0]} grid points)")
    out = _rows_out(out, count, wt.shape[1], dtype)
    return _core_call(_core.first_layer, table, g, wt, _as_float32(bias, "bias"), start, count, out,
                      as_threads(threads))


def _layer_inputs(system_table, grid, weight_t, dtype: str):
    """The checked (table, grid, weight_t) of the layer kernels."""
    table = as_int_array(system_table, "system_table", np.int32)
    g = as_int_array(grid, "grid", np.int32)
    if table.ndim != 2 or g.ndim != 2:
        raise InvalidInputError(f"system_table and grid must be 2-D, got shapes {table.shape} and {g.shape}")
    wt = np.asarray(weight_t)
    if wt.dtype != np.float32 or not wt.flags.c_contiguous or wt.ndim != 2:
        raise InvalidInputError("weight_t: expected a C-contiguous float32 array (86, h), e.g. "
                                "layer.weight.detach().T.contiguous().numpy()")
    if dtype not in ("float32", "bfloat16"):
        raise InvalidInputError(f"dtype: expected 'float32' or 'bfloat16', got {dtype!r}")
    return table, g, wt


def _slice(start, count, total: int, where: str) -> tuple[int, int]:
    """Checked ``(start, count)`` of a slice of ``total`` rows (``count=None``: to the end)."""
    start = as_int(start, "start")
    count = total - start if count is None else as_int(count, "count")
    if start < 0 or count < 0 or start + count > total:
        raise InvalidInputError(f"start = {start}, count = {count}: {where}")
    return start, count


def _as_float32(values, name: str) -> np.ndarray:
    """``values`` as a C-contiguous float32 array, refusing values that float32 would round."""
    arr = np.asarray(values)
    if arr.dtype == np.float32:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind not in "fiu":
        raise InvalidInputError(f"{name}: expected float32 values, got dtype {arr.dtype}")
    f32 = np.ascontiguousarray(arr, dtype=np.float32)
    changed = np.flatnonzero(~((f32 == arr) | (np.isnan(f32) & np.isnan(arr))))
    if changed.size:
        j = int(changed[0])
        raise InvalidInputError(f"{name}[{j}] = {arr.reshape(-1)[j]!s} is not a float32 value: pass "
                                f"{name}.astype(np.float32) to round it")
    return f32


def _rows_out(out, rows: int, cols: int, dtype: str) -> np.ndarray:
    """``out``, or a new (rows, cols) array: float32, or uint16 for bfloat16 bits."""
    if out is None:
        return np.empty((rows, cols), dtype=np.float32 if dtype == "float32" else np.uint16)
    if not isinstance(out, np.ndarray):
        raise InvalidInputError(f"out: expected a numpy array (float32, or uint16 for bfloat16 bits), got "
                                f"{type(out).__name__}")
    if (out.dtype == np.float32) != (dtype == "float32"):
        raise InvalidInputError(f"out: dtype {out.dtype} does not match dtype={dtype!r} (float32 or uint16)")
    return out


def first_layer_pairs(system_table: np.ndarray, grid: np.ndarray, systems_idx: np.ndarray, points_idx: np.ndarray,
                      weight_t: np.ndarray, bias: np.ndarray, *, out: np.ndarray | None = None,
                      dtype: str = "float32", threads: int | None = None) -> np.ndarray:
    """:func:`first_layer` of arbitrary pairs: ``out[q]`` is system ``systems_idx[q]`` at grid
    point ``points_idx[q]``, with the same float32 operations (so the same bits). The indices are
    whole numbers (any integer dtype, no bools), each a row of its table.

    >>> rng = np.random.default_rng(0)
    >>> wt = rng.normal(size=(86, 8)).astype(np.float32); b = np.zeros(8, np.float32)
    >>> table, grid = systems(2, ["Fe", "Ni", "O"]), uniform_grid(2, 4)
    >>> h = first_layer_pairs(table, grid, [2, 0], [1, 3], wt, b)
    >>> bool(np.array_equal(h, first_layer(table, grid, wt, b)[[2 * 5 + 1, 3]]))
    True
    """
    table, g, wt = _layer_inputs(system_table, grid, weight_t, dtype)
    s = as_int_array(systems_idx, "systems_idx")
    p = as_int_array(points_idx, "points_idx")
    out = _rows_out(out, len(s) if s.ndim else 0, wt.shape[1], dtype)
    return _core_call(_core.first_layer_pairs, table, g, wt, _as_float32(bias, "bias"), s, p, out,
                      as_threads(threads))


#: outputs per tile of :func:`line_weight_tiles`
LINE_TILE = 64


def line_weight_tiles(weight: np.ndarray) -> np.ndarray:
    """A second layer's weight ``(h2, h)`` (a ``torch.nn.Linear``'s) in the layout
    :func:`line_layers` reads: its transpose in tiles of ``LINE_TILE`` outputs,
    ``(ceil(h2 / 64), h, 64)`` float32 (other float dtypes are rounded to float32), zero-padded
    past ``h2``."""
    w = np.asarray(weight, dtype=np.float32)
    if w.ndim != 2:
        raise InvalidInputError(f"weight: expected a 2-D (h2, h) array, got shape {w.shape}")
    n = -(-w.shape[0] // LINE_TILE)
    padded = np.zeros((n * LINE_TILE, w.shape[1]), dtype=np.float32)
    padded[:w.shape[0]] = w
    return np.ascontiguousarray(padded.reshape(n, LINE_TILE, w.shape[1]).transpose(0, 2, 1))


def _weight_tiles(tiles, name: str) -> np.ndarray:
    """``tiles`` (from :func:`line_weight_tiles`) as it is, or an error naming ``name``."""
    tiles = np.asarray(tiles)
    if tiles.dtype != np.float32 or not tiles.flags.c_contiguous:
        raise InvalidInputError(f"{name}: expected a C-contiguous float32 array from line_weight_tiles()")
    return tiles


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
    rounding, and gives the same bits on every x86-64 CPU (docs/numerics.md). ``weight_t``, ``bias``
    as in :func:`first_layer`; ``w2_tiles`` from :func:`line_weight_tiles`; ``b2`` ``(h2,)``
    float32 values; ``dtype="bfloat16"`` writes bfloat16 bits into uint16. The parameters must be
    finite (a NaN unit would not propagate as in the products).

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
    start, count = _slice(start, count, table.shape[0], f"systems must lie in 0..{table.shape[0]}")
    tiles = _weight_tiles(w2_tiles, "w2_tiles")
    b2 = _as_float32(b2, "b2")
    out = _rows_out(out, count * g.shape[0], b2.shape[0] if b2.ndim == 1 else 0, dtype)
    return _core_call(_core.line_layers, table, g, wt, _as_float32(bias, "bias"), tiles, b2, start, count, out,
                      as_threads(threads))


def relu_mlp(x: np.ndarray, layers: list, *, out: np.ndarray | None = None, threads: int | None = None) -> np.ndarray:
    """Linear layers on the rows of ``x`` ``(n, in)`` float32, a ReLU after each but the last, in
    float32, skipping the inputs that are exactly zero: ``layers`` is a list of ``(tiles, bias)``,
    ``tiles`` a layer's weight in :func:`line_weight_tiles`' layout and ``bias`` its ``(out,)``
    float32 values; returns ``(n, out)`` of the last layer.

    Each output is a chain of fused multiply-adds over its row's non-zero inputs in ascending
    order, from +0, then ``+ 0 + bias``, in round-to-nearest without flush-to-zero (set on each
    thread for the call, whatever the caller set). With finite weights that is the same bits as the
    chain over every input (a zero input adds a zero product), so a row's result does not depend on
    the rows it runs with, the threads or the CPU (docs/numerics.md: checked bit for bit against
    such a chain, across thread counts and across the AVX-512, AVX2+FMA and portable versions).
    Rows run in blocks of four over the inputs non-zero in any of them; after ReLUs that is a
    small share of a wide layer (ElemNet: about a tenth), which is what makes this faster than the
    dense product. Weights must be finite: an infinite one gives a row NaN or not depending on
    whether a neighbour in its block needs that input (the screening engine passes finite ones
    only). ``out`` may not overlap ``x`` or the layers.

    >>> rng = np.random.default_rng(0)
    >>> w1, b1 = rng.normal(size=(32, 16)).astype(np.float32), rng.normal(size=32).astype(np.float32)
    >>> w2, b2 = rng.normal(size=(1, 32)).astype(np.float32), np.zeros(1, np.float32)
    >>> x = np.maximum(rng.normal(size=(10, 16)), 0).astype(np.float32)
    >>> y = relu_mlp(x, [(line_weight_tiles(w1), b1), (line_weight_tiles(w2), b2)])
    >>> ref = np.maximum(x @ w1.T + b1, 0) @ w2.T + b2
    >>> y.shape, bool(np.allclose(y, ref, atol=1e-4))
    ((10, 1), True)
    """
    x = np.asarray(x)
    if x.dtype != np.float32 or x.ndim != 2:
        raise InvalidInputError(f"x: expected a 2-D float32 array, got {x.dtype} with shape {x.shape}")
    if not isinstance(layers, (list, tuple)) or not layers:
        raise InvalidInputError("layers: expected a non-empty list of (tiles, bias) pairs")
    pairs = []
    for i, pair in enumerate(layers):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise InvalidInputError(f"layers[{i}]: expected a (tiles, bias) pair")
        pairs.append((_weight_tiles(pair[0], f"layers[{i}] tiles"), _as_float32(pair[1], f"layers[{i}] bias")))
    if out is None:
        last = pairs[-1][1]
        out = np.empty((x.shape[0], last.shape[0] if last.ndim == 1 else 0), dtype=np.float32)
    return _core_call(_core.relu_mlp, np.ascontiguousarray(x), pairs, out, as_threads(threads))


def first_layer_cuda(system_table, grid, weight_t, bias, start: int, count: int, out, *, stream=None):
    """The GPU twin of :func:`first_layer`, on torch CUDA tensors (any ``__cuda_array_interface__``
    arrays work): ``system_table`` and ``grid`` int32, ``weight_t`` ``(86, h)`` and ``bias`` float32,
    ``out`` a ``(count, h)`` float32 or bfloat16 tensor written in place, with the CPU kernel's bits.

    Work is queued on ``stream`` (a ``torch.cuda.Stream``; default: the current stream of ``out``'s
    device). First the indices the slice reads are checked by a small kernel on that stream, so it
    sees what earlier work on the stream wrote; the call waits for that check (without holding the
    GIL) and raises :class:`~hullpack.errors.InvalidInputError` naming a bad entry, leaving ``out``
    untouched. Then the gather is queued and the call returns without waiting for it. Requires a
    CUDA build and device (:func:`hullpack.cuda_available`).
    """
    import torch

    if not isinstance(out, torch.Tensor) or not out.is_cuda:
        raise InvalidInputError("out: expected a torch tensor on a CUDA device")
    if out.dtype not in (torch.float32, torch.bfloat16):
        raise InvalidInputError(f"out: expected float32 or bfloat16, got {out.dtype}")
    start, count = as_int(start, "start"), as_int(count, "count")
    bits = out.view(torch.int16) if out.dtype == torch.bfloat16 else out  # bf16 has no array-interface type
    with torch.cuda.device(out.device):
        s = stream if stream is not None else torch.cuda.current_stream(out.device)
        _core_call(_core.first_layer_cuda, system_table, grid, weight_t, bias, start, count, bits, s.cuda_stream)
    return out
