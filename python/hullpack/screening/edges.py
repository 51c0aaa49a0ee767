"""Shared edges and faces: the fp32 energies of the points of a screen's grid that lie on a face of
its systems (compositions of some but not all of a system's elements: a ternary's binary edges; a
quaternary's ternary faces and binary edges), predicted once per subset of elements for the whole
screen and written into every system that contains the subset.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np

from ..elements import N_ELEMENTS
from ..errors import ScreeningError

if TYPE_CHECKING:  # annotations only: the engine takes an EdgeEnergies, never imports this module
    from .engine import EngineBase

__all__ = ["EdgeEnergies", "edge_sharing", "system_key"]


def _sides(order: int) -> list[tuple[int, ...]]:
    """The faces of a system of ``order`` elements that hold screened points: every subset of 2 to
    ``order - 1`` of its columns, smaller subsets first (a ternary: its three edges)."""
    return [side for k in range(2, order) for side in itertools.combinations(range(order), k)]


def _subsystems(table: np.ndarray) -> dict[int, np.ndarray]:
    """Per size k, the distinct k-subsets of elements on the faces of ``table``'s systems (rows
    ascending, as the table's; in lexicographic order)."""
    out: dict[int, list] = {}
    for side in _sides(table.shape[1]):
        out.setdefault(len(side), []).append(table[:, list(side)])
    return {k: np.unique(np.vstack(parts), axis=0) for k, parts in out.items()}


def system_key(rows: np.ndarray) -> np.ndarray:
    """One int64 per row of element indices (a system table), increasing with the rows'
    lexicographic order."""
    rows = np.asarray(rows, dtype=np.int64)
    key = np.zeros(len(rows), dtype=np.int64)
    for j in range(rows.shape[1] if rows.ndim == 2 else 0):
        key = key * N_ELEMENTS + rows[:, j]
    return key


def _face_points(grid: np.ndarray):
    """A grid's face points: their mask; per side ``(side, points, column)``, with ``column`` the
    index of each point's composition among the distinct compositions of its size (reduced
    numerators, so a face's point equals the same fractions on any other face of that size); those
    compositions per size."""
    nonzero = grid != 0
    count = nonzero.sum(axis=1)
    mask = (count >= 2) & (count < grid.shape[1])
    sides: list[tuple[tuple[int, ...], np.ndarray]] = []
    numerators: dict[int, list[np.ndarray]] = {}
    for side in _sides(grid.shape[1]):
        on = mask & nonzero[:, list(side)].all(axis=1) & (count == len(side))
        pts = np.flatnonzero(on)
        num = grid[pts][:, list(side)]
        sides.append((side, pts))
        numerators.setdefault(len(side), []).append(num // np.gcd.reduce(num, axis=1)[:, None])
    compositions, columns = {}, {}
    for k, parts in numerators.items():
        uniq, column = np.unique(np.vstack(parts), axis=0, return_inverse=True)
        compositions[k] = uniq
        columns[k] = np.split(column.reshape(-1), np.cumsum([len(p) for p in parts])[:-1])
    taken = {k: 0 for k in numerators}
    out = []
    for side, pts in sides:
        out.append((side, pts, columns[len(side)][taken[len(side)]]))
        taken[len(side)] += 1
    return mask, out, compositions


def _sharing(n_systems: int, mask: np.ndarray, subsystems: dict, compositions: dict) -> float:
    evaluated = sum(len(subsystems[k]) * len(compositions[k]) for k in compositions)
    return n_systems * int(mask.sum()) / max(1, evaluated)


def edge_sharing(table: np.ndarray, grid: np.ndarray) -> float:
    """Face points of ``table``'s systems per (subset of elements, composition) a shared evaluation
    predicts (what sharing saves): :attr:`EdgeEnergies.sharing` without building the rest.

    >>> from hullpack.compositions import systems, uniform_grid
    >>> edge_sharing(systems(3, "Fe Ni O Al"), uniform_grid(3, 10))   # 4 systems x 27 / (6 pairs x 9)
    2.0
    >>> edge_sharing(systems(4, "Fe Ni O Al Cu"), uniform_grid(4, 10))  # 5 x 198 / (10 x 36 + 10 x 9)
    2.2
    """
    table = np.asarray(table, dtype=np.int32)
    if not len(table) or table.ndim != 2 or table.shape[1] < 3:
        return 0.0
    mask, _, compositions = _face_points(np.ascontiguousarray(grid, dtype=np.int32))
    return _sharing(len(table), mask, _subsystems(table), compositions)


class EdgeEnergies:
    """fp32 energies at the face points of a grid (compositions of some but not all of a system's
    elements), computed once per subset of elements for a whole screen: every system that contains
    a subset shares its face, so at step 0.05, 57 of a ternary's 228 predicted points come from 19
    per pair of elements, and on the ``reduced:10`` grid 622 of a quaternary's 827 from 109 per
    triple and 31 per pair. They enter the hulls as exact fp32 energies, which the certification
    never re-evaluates.

    >>> import torch
    >>> from hullpack.screening.engine import InferenceEngine
    >>> from hullpack.compositions import systems, uniform_grid
    >>> from hullpack.elemnet import ElemNet
    >>> torch.manual_seed(0) and None
    >>> engine = InferenceEngine(ElemNet("32x2-16x1-1", dropout=()))
    >>> table, grid = systems(3, "Fe Ni O Al"), uniform_grid(3, 10)
    >>> edges = EdgeEnergies(table, grid).evaluate(engine)
    >>> int(edges.mask.sum()), edges.energies[2].shape, edges.sharing   # 27 edge points; 6 pairs x 9
    (27, (6, 9), 2.0)
    >>> e = engine.predict(table, grid, "fp32", edges=edges)
    >>> bool(np.allclose(e, engine.predict(table, grid, "fp32"), atol=1e-6))
    True
    """

    def __init__(self, table: np.ndarray, grid: np.ndarray):
        table = np.asarray(table, dtype=np.int32)
        grid = np.ascontiguousarray(grid, dtype=np.int32)
        if table.ndim != 2 or grid.ndim != 2 or table.shape[1] != grid.shape[1] or table.shape[1] < 3:
            raise ScreeningError("EdgeEnergies: expected a system table and a grid of the same order, 3 or more "
                                 f"columns; got {table.shape} and {grid.shape}")
        self.mask, self._sides, self._compositions = _face_points(grid)
        #: per size k, the distinct k-subsets of elements on the systems' faces (pairs: edges)
        self.subsystems = _subsystems(table)
        self._keys = {k: system_key(rows) for k, rows in self.subsystems.items()}
        #: face points of the systems per (subset, composition) evaluated: what sharing saves (a
        #: contiguous slice of a screen shares less than the whole)
        self.sharing = _sharing(len(table), self.mask, self.subsystems, self._compositions)
        #: per size k, ``(n_subsets, n_compositions)`` fp32 energies of every k-subset of elements
        #: at every distinct composition of a face of that size (None until :meth:`evaluate`)
        self.energies: dict[int, np.ndarray] | None = None

    def evaluate(self, engine: EngineBase) -> EdgeEnergies:
        """Predicts the face energies in fp32; returns self."""
        self.energies = {}
        for k, rows in self.subsystems.items():
            comps = self._compositions[k]
            self.energies[k] = (engine.predict_flat(rows, comps, "fp32").reshape(len(rows), len(comps)) if len(comps)
                                else np.zeros((len(rows), 0), dtype=np.float32))
        return self

    def fill(self, table: np.ndarray, e: np.ndarray) -> None:
        """Writes the face energies of ``table``'s systems into ``e`` (n_systems, n_points)."""
        table = np.asarray(table)
        for side, pts, cols in self._sides:
            if not len(pts):
                continue
            keys = self._keys[len(side)]
            want = system_key(table[:, list(side)])
            rows = np.searchsorted(keys, want)
            if len(rows) and ((rows >= len(keys)).any() or (keys[np.minimum(rows, len(keys) - 1)] != want).any()):
                raise ScreeningError("EdgeEnergies.fill: a system has a subset of elements not in this screen's table")
            assert self.energies is not None, "EdgeEnergies.fill before evaluate()"
            e[:, pts] = self.energies[len(side)][rows][:, cols]
