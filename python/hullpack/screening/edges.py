"""Shared ternary edges: the fp32 energies of a ternary screen's edge points (binary compositions),
predicted once per pair of elements for the whole screen and written into every system that
contains the pair.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..elements import N_ELEMENTS
from ..errors import ScreeningError

if TYPE_CHECKING:  # annotations only: the engine takes an EdgeEnergies, never imports this module
    from .engine import InferenceEngine

__all__ = ["EdgeEnergies", "edge_sharing"]


_SIDES = ((0, 1), (0, 2), (1, 2))


def _edge_pairs(table: np.ndarray) -> np.ndarray:
    """The distinct pairs of elements on the edges of ``table``'s ternaries."""
    return np.unique(np.vstack([table[:, [i, j]] for i, j in _SIDES]), axis=0)


def _edge_points(grid: np.ndarray):
    """A ternary grid's edge points: their mask; per side ``(i, j, points, column)``, with
    ``column`` the index of each point's composition in the distinct binary compositions (reduced
    numerators, so an edge's point equals the same fraction on any other edge); those compositions."""
    nonzero = grid != 0
    mask = nonzero.sum(axis=1) == 2
    points, numerators = [], []
    for i, j in _SIDES:
        pts = np.flatnonzero(mask & nonzero[:, i] & nonzero[:, j])
        num = grid[pts][:, [i, j]]
        points.append(pts)
        numerators.append(num // np.gcd(num[:, 0], num[:, 1])[:, None])
    binary, column = np.unique(np.vstack(numerators), axis=0, return_inverse=True)
    column = column.reshape(-1)
    bounds = np.cumsum([0] + [len(p) for p in points])
    sides = [(i, j, pts, column[bounds[k]:bounds[k + 1]]) for k, ((i, j), pts) in enumerate(zip(_SIDES, points))]
    return mask, sides, binary


def edge_sharing(table: np.ndarray, grid: np.ndarray) -> float:
    """Edge points of ``table``'s ternaries per pair composition a shared evaluation predicts (what
    sharing saves): :attr:`EdgeEnergies.sharing` without building the rest.

    >>> from hullpack.compositions import systems, uniform_grid
    >>> edge_sharing(systems(3, "Fe Ni O Al"), uniform_grid(3, 10))   # 4 systems x 27 / (6 pairs x 9)
    2.0
    """
    table = np.asarray(table, dtype=np.int32)
    mask, _, binary = _edge_points(np.ascontiguousarray(grid, dtype=np.int32))
    if not len(table):
        return 0.0
    return len(table) * int(mask.sum()) / max(1, len(_edge_pairs(table)) * len(binary))


class EdgeEnergies:
    """fp32 energies at the edge points of a ternary grid (compositions of two of a system's three
    elements), computed once per pair of elements for a whole screen: every ternary that contains a
    pair shares its edge, so at step 0.05, 57 of a system's 228 predicted points come from 19 per
    pair. They enter the hulls as exact fp32 energies, which the certification never re-evaluates.

    >>> import torch
    >>> from hullpack.screening.engine import InferenceEngine
    >>> from hullpack.compositions import systems, uniform_grid
    >>> from hullpack.elemnet import ElemNet
    >>> torch.manual_seed(0) and None
    >>> engine = InferenceEngine(ElemNet("32x2-16x1-1", dropout=()))
    >>> table, grid = systems(3, "Fe Ni O Al"), uniform_grid(3, 10)
    >>> edges = EdgeEnergies(table, grid).evaluate(engine)
    >>> int(edges.mask.sum()), edges.energies.shape, edges.sharing   # 27 edge points; 6 pairs x 9
    (27, (6, 9), 2.0)
    >>> e = engine.predict(table, grid, "fp32", edges=edges)
    >>> bool(np.allclose(e, engine.predict(table, grid, "fp32"), atol=1e-6))
    True
    """

    def __init__(self, table: np.ndarray, grid: np.ndarray):
        table = np.asarray(table, dtype=np.int32)
        grid = np.ascontiguousarray(grid, dtype=np.int32)
        if table.ndim != 2 or table.shape[1] != 3 or grid.ndim != 2 or grid.shape[1] != 3:
            raise ScreeningError("EdgeEnergies: expected a ternary system table and grid (3 columns)")
        self.mask, self._sides, self._binary = _edge_points(grid)
        self.pairs = _edge_pairs(table)
        self._row = np.full((N_ELEMENTS, N_ELEMENTS), -1, dtype=np.int64)
        self._row[self.pairs[:, 0], self.pairs[:, 1]] = np.arange(len(self.pairs))
        #: edge points of the systems per pair composition evaluated: what sharing saves (a
        #: contiguous slice of a screen shares less than the whole)
        self.sharing = len(table) * int(self.mask.sum()) / max(1, len(self.pairs) * len(self._binary))
        #: (n_pairs, n_compositions) fp32 energies of every pair at every distinct edge composition
        self.energies = None

    def evaluate(self, engine: InferenceEngine) -> EdgeEnergies:
        """Predicts the edge energies in fp32; returns self."""
        self.energies = engine.predict_flat(self.pairs, self._binary, "fp32").reshape(len(self.pairs), -1)
        return self

    def fill(self, table: np.ndarray, e: np.ndarray) -> None:
        """Writes the edge energies of ``table``'s systems into ``e`` (n_systems, n_points)."""
        table = np.asarray(table)
        for i, j, pts, cols in self._sides:
            rows = self._row[table[:, i], table[:, j]]
            if len(rows) and rows.min() < 0:
                raise ScreeningError("EdgeEnergies.fill: a system has a pair of elements not in this screen's table")
            e[:, pts] = self.energies[rows][:, cols]
