"""The hulls of a block of screened systems: the screen's hull tolerance, which grid points are the
pure-element references, each vertex's depth below the hull of the other points, and the
uncertified hulls of one precision (:func:`plain_hulls`). Both :func:`plain_hulls` and the bf16
certification (:mod:`hullpack.screening.certify`) return a :class:`BlockHulls`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import compositions
from ..hull import hull_batch

__all__ = ["HULL_TOL", "LIFT", "BlockHulls", "corner_mask", "vertex_depth", "plain_hulls"]

#: eV/atom: hull tolerance for fp32 model energies (their rounding noise is ~1e-7)
HULL_TOL = 1e-6
#: eV/atom: an energy far above any prediction; a point lifted there is out of the way of a hull
LIFT = 1e3


def corner_mask(grid: np.ndarray) -> np.ndarray:
    """True for the grid points that are pure elements (one non-zero numerator).

    >>> corner_mask(np.array([[2, 0], [1, 1], [0, 2]])).tolist()
    [True, False, True]
    """
    return (np.asarray(grid) != 0).sum(axis=1) == 1


@dataclass
class BlockHulls:
    """Energies and hulls of a block of systems, certified (:meth:`Certifier.run
    <hullpack.screening.certify.Certifier.run>`) or not (:func:`plain_hulls`)."""

    #: (n_systems, n_points) float32; fp32 at every re-evaluated point
    energies: np.ndarray
    e_above_hull: np.ndarray
    is_vertex: np.ndarray
    valid: np.ndarray
    #: (n_systems,) how many points were evaluated in fp32 (all of them in an fp32 screen)
    n_fp32: np.ndarray
    #: (n_systems,) the delta (eV/atom) each system's selection finally used (NaN: uncertified)
    delta: np.ndarray | None = None
    stats: dict = field(default_factory=dict)
    #: (n_systems, n_points) True where an energy is a bf16 prediction, not evaluated in fp32 (None:
    #: none is)
    bf16: np.ndarray | None = None


def vertex_depth(fractions: np.ndarray, energies: np.ndarray, is_vertex: np.ndarray, *,
                 threads: int | None = None, tol: float = HULL_TOL) -> np.ndarray:
    """How far each hull vertex lies below the hull of all the other points of its system (eV/atom,
    > 0): its decomposition energy with the sign flipped, the margin by which it is predicted
    stable. NaN where ``is_vertex`` is False. ``fractions`` (n_points, k) is the shared grid,
    ``energies`` / ``is_vertex`` (n_systems, n_points).

    >>> grid = np.array([[0.75, 0.25], [0.5, 0.5], [0.25, 0.75]])
    >>> e = np.array([[-0.10, -0.30, -0.20]])           # vertices: the last two points
    >>> vertex_depth(grid, e, np.array([[False, True, True]])).round(3).tolist()
    [[nan, 0.15, 0.05]]
    """
    depth = np.full(energies.shape, np.nan)
    is_vertex = np.asarray(is_vertex, dtype=bool)
    if np.asarray(fractions).shape[1] >= 4 and is_vertex.any():
        # quaternaries and above: the kernel's own depths (one linear program per vertex, far
        # cheaper there than a hull per vertex); the hull of the same energies has the same vertices
        h = hull_batch(fractions, energies, tol=tol, decomposition=False, depth=True, nonfinite="nan",
                       threads=threads, progress_bar=False)
        same = is_vertex & h.is_vertex
        assert h.vertex_depth is not None  # depth=True
        depth[same] = h.vertex_depth[same]
        is_vertex = is_vertex & ~same  # any other vertex (none from a screen's hulls): lifted below
    s, p = np.nonzero(is_vertex)
    if len(s):
        # one system per vertex: its own energies with the vertex lifted out of the way, so the
        # lifted point's energy above hull measures the hull of the others at its composition
        lifted = np.asarray(energies, dtype=np.float64)[s]  # fancy indexing copies
        lifted[np.arange(len(s)), p] = LIFT
        h = hull_batch(fractions, lifted, tol=tol, decomposition=False, nonfinite="nan", threads=threads,
                       progress_bar=False)
        depth[s, p] = (LIFT - h.e_above_hull[np.arange(len(s)), p]) - energies[s, p]
    return depth


def plain_hulls(engine, table: np.ndarray, grid: np.ndarray, precision: str, *,
                bar=None, threads: int | None = None, tol: float = HULL_TOL, edges=None) -> BlockHulls:
    """Energies (from ``engine``, an :class:`~hullpack.screening.engine.InferenceEngine`) and hulls
    of one precision, without certification (edge points from ``edges``, an
    :class:`~hullpack.screening.edges.EdgeEnergies`, fp32, where given)."""
    e = engine.predict(table, grid, precision, bar=bar, edges=edges)
    h = hull_batch(compositions.grid_fractions(grid), e, tol=tol, decomposition=False, nonfinite="nan",
                   threads=threads)
    n = np.zeros(len(table), np.int32) if precision == "bf16" else np.full(
        len(table), int((~corner_mask(grid)).sum()), np.int32)
    # the pure elements are the references (0) and the shared face points fp32: the rest is bf16
    bf16 = (np.broadcast_to(~(corner_mask(grid) | (edges.mask if edges is not None else False)), e.shape)
            if precision == "bf16" else None)
    return BlockHulls(e, h.e_above_hull, h.is_vertex, h.valid, n, np.full(len(table), math.nan), bf16=bf16)
