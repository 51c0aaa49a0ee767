"""The composition grids of a screen: the defaults, the grids a name stands for (``"uniform:N"``,
``"reduced:N"``), the checks an array of numerators gets, and the spacing that sets the tolerance of
the comparison with DFT."""
from __future__ import annotations

import numpy as np

from .. import compositions
from ..errors import ScreeningError
from .hulls import corner_mask

__all__ = ["DEFAULT_GRID", "MAX_INTERVALS", "grid_label", "resolve_grid", "grid_spacing", "default_match_tol"]

#: default grids: every composition whose fractions have denominators up to 10 (binaries 33 points,
#: ternaries 205), the coarsest reduced-fraction grid that can write at least 90% of the DFT-stable
#: OQMD compounds of both orders; chosen with the screen's DEFAULT_MIN_DEPTH from benchmarks/screen_defaults.py
#: (docs/screening.md, "Defaults"). ``"uniform:100"`` / ``"uniform:20"`` were the defaults before.
#: Quaternaries take the same rule of fractions (831 points, 205 of them inside the tetrahedron): it
#: writes 59% of the DFT-stable OQMD quaternaries exactly (``reduced:12``: 72%, 1,537 points;
#: ``reduced:20``: 93%, 9,373 points), at a cost per system of about four ternaries.
DEFAULT_GRID = {2: "reduced:10", 3: "reduced:10", 4: "reduced:10"}
#: finest grids accepted: beyond these the grid step is far below the model's accuracy and a full
#: screen's cost grows as n (binaries), n^2 / 2 (ternaries) or n^3 / 6 (quaternaries: 12,341 points
#: at 40) per system
MAX_INTERVALS = {2: 1000, 3: 200, 4: 40}


def _grid_spec(order: int, grid):
    """``(kind, n)`` of a grid given by name (``"uniform:N"``, ``"reduced:N"``, an int ``N`` or
    ``"N"`` for ``uniform:N``, None for the default), or None for an array of numerators."""
    if grid is None:
        grid = DEFAULT_GRID[order]
    if isinstance(grid, (int, np.integer)) and not isinstance(grid, bool):
        return "uniform", int(grid)
    if isinstance(grid, str) and grid.strip().isdigit():   # "100", as a command line gives it
        return "uniform", int(grid)
    if isinstance(grid, str):
        kind, _, text = grid.strip().partition(":")
        try:
            n = int(text) if kind in ("uniform", "reduced") else None
        except ValueError:
            n = None
        if n is None:
            raise ScreeningError(f"grid={grid!r}: expected 'uniform:N' (step 1/N), 'reduced:N' (every fraction with "
                                 "denominator up to N), an int N or an integer array of numerators")
        return kind, n
    return None


def grid_label(order: int, grid=None) -> str:
    """How a grid is written in a result's ``config["grid"]`` and summary.

    >>> grid_label(2), grid_label(3, 20), grid_label(2, "reduced:6"), grid_label(2, np.array([[1, 1], [2, 0], [0, 2]]))
    ('reduced:10', 'uniform:20', 'reduced:6', '3 points')
    """
    spec = _grid_spec(order, grid)
    return f"{spec[0]}:{spec[1]}" if spec else f"{len(np.asarray(grid))} points"  # an array of numerators


def resolve_grid(order: int, grid=None) -> np.ndarray:
    """The grid of numerators a screen uses: ``None`` (the default for ``order``,
    :data:`DEFAULT_GRID`), ``"uniform:N"`` or an int ``N`` (step ``1/N``), ``"reduced:N"`` (every
    distinct composition whose fractions have denominators up to ``N``,
    :func:`hullpack.compositions.reduced_grid`), or an ``(n_points, order)`` array of non-negative
    integer numerators.

    >>> resolve_grid(2).shape, resolve_grid(3).shape, resolve_grid(2, 10).shape, resolve_grid(2, "uniform:100").shape
    ((33, 2), (205, 3), (11, 2), (101, 2))
    """
    spec = _grid_spec(order, grid)
    finest = compositions.uniform_grid(order, MAX_INTERVALS[order]).shape[0]
    if spec is not None:
        kind, n = spec
        if n < 2:
            raise ScreeningError(f"grid={grid!r}: too coarse; at least 2 intervals (step 1/2) are needed for a "
                                 "composition between the pure elements")
        if n > MAX_INTERVALS[order]:
            raise ScreeningError(f"grid={grid!r}: too fine for order {order}; at most {MAX_INTERVALS[order]} "
                                 f"intervals (step {1 / MAX_INTERVALS[order]:g}): finer steps are far below ElemNet's "
                                 "accuracy (~0.04 eV/atom) and multiply the cost; screen a subset of elements "
                                 "or use hullpack.hull on your own points")
        if kind == "uniform":
            return compositions.uniform_grid(order, n)
        spec_text, grid = f"reduced:{n}", compositions.reduced_grid(order, n)
        if len(grid) > finest:
            raise ScreeningError(f"grid={spec_text!r}: {len(grid):,} points is more than the finest accepted grid "
                                 f"(uniform:{MAX_INTERVALS[order]}, {finest:,} points)")
        return grid
    g = np.asarray(grid)
    if g.ndim != 2 or g.shape[1] != order or g.dtype.kind not in "iu":
        raise ScreeningError(f"grid: expected an int n or an integer array (n_points, {order}) of numerators, "
                             f"got {g.dtype} with shape {g.shape}")
    if (g < 0).any() or (g.sum(axis=1) <= 0).any():
        raise ScreeningError("grid: numerators must be >= 0 with a positive sum in every row")
    den = np.lcm.reduce(g.sum(axis=1).astype(np.int64))
    if den < 2 or int((~corner_mask(g)).sum()) == 0:
        raise ScreeningError("grid: too coarse; it has no composition between the pure elements")
    if len(g) > finest:
        raise ScreeningError(f"grid: {len(g)} points is more than the finest accepted uniform grid "
                             f"({MAX_INTERVALS[order]} intervals)")
    return np.ascontiguousarray(g, dtype=np.int32)


def grid_spacing(grid: np.ndarray) -> float:
    """The smallest distance between two distinct compositions of a grid, in the largest
    difference of a fraction (the step ``1/N`` of a uniform grid; the default ``match_tol`` is
    half of it).

    >>> grid_spacing(compositions.uniform_grid(3, 20)), round(grid_spacing(compositions.reduced_grid(2, 10)), 5)
    (0.05, 0.01111)
    """
    fr = np.unique(compositions.grid_fractions(grid).round(12), axis=0)
    if len(fr) < 2:
        return float("inf")
    if fr.shape[1] == 2:
        return round(float(np.diff(np.sort(fr[:, 1])).min()), 12)
    best = np.inf
    for i in range(0, len(fr) - 1, 64):  # all pairs, 64 rows at a time
        d = np.abs(fr[i:i + 64, None, :] - fr[None, :, :]).max(axis=2)
        d[d == 0] = np.inf
        best = min(best, float(d.min()))
    return round(best, 12)


def default_match_tol(order: int, grid, g: np.ndarray) -> float:
    """The composition tolerance of the comparison with DFT when none is given: half the step of a
    uniform grid, else half the smallest spacing of the grid's numerators ``g``
    (:func:`grid_spacing`).

    >>> default_match_tol(2, "uniform:100", resolve_grid(2, "uniform:100")), round(default_match_tol(2, None, resolve_grid(2)), 6)
    (0.005, 0.005556)
    """
    spec = _grid_spec(order, grid)
    return 0.5 / spec[1] if spec and spec[0] == "uniform" else 0.5 * grid_spacing(g)
