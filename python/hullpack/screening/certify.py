"""bf16 screens whose hull vertices are checked against fp32: the :class:`Certifier`.

Let ``delta`` bound ``|E_bf16 - E_fp32|`` (per system). The hull ``U`` of the points already
evaluated in fp32 (with the references) lies on or above the hull of an all-fp32 screen, since that
is the hull of a superset. A point not yet evaluated whose lowest possible fp32 energy
``E_bf16 - delta`` lies above ``U`` can neither be an fp32 vertex nor lower the hull. So: evaluate
the bf16 hull vertices in fp32, build ``U``, evaluate every point with ``E_bf16 - delta <= U``,
rebuild ``U``, and repeat until no point is selected; then, if ``delta`` holds, ``U`` is the fp32
hull and its vertices are an all-fp32 screen's. (This selects about the points within ``delta`` of
the hull, half the band of the simpler rule "within ``2 * delta`` of the bf16 hull", which needs no
iteration.) ``delta`` is estimated on a seeded calibration sample (the largest error seen, times a
safety factor, per element), not proven, and verified on every re-evaluated point: a system whose
points show an error above half its delta gets its delta doubled (until it is at least twice the
error) and the selection continues with it.
"""
from __future__ import annotations

import logging

import numpy as np

from .. import compositions
from ..elements import N_ELEMENTS
from ..hull import hull_batch
from .edges import EdgeEnergies
from .engine import InferenceEngine
from .hulls import HULL_TOL, LIFT, BlockHulls, corner_mask

log = logging.getLogger(__name__)

__all__ = ["Certifier", "SAFETY", "CALIBRATION_SHARE", "MARGIN"]

#: calibration delta = this factor x the largest |bf16 - fp32| seen on the calibration sample
SAFETY = 1.5
#: calibration pairs: one in this many of a screen's (at least ``Certifier.n_calibration``): the
#: largest error seen grows with the sample, and a large screen has more points that can be missed
CALIBRATION_SHARE = 256
#: verification: a system's delta must stay >= this factor x the largest error seen on its points
#: (1 would only catch outright failures; 2 also widens deltas that were nearly exceeded, at ~1% more
#: fp32 work on the binaries, and removed the rare misses that 1 left)
MARGIN = 2.0


class Certifier:
    """bf16 screens whose hull vertices are checked against fp32 (see the module docstring).

    The bf16 error depends strongly on the elements (a few elements' weight columns amplify it), so
    ``delta`` is kept per element: ``SAFETY`` x the largest error seen on calibration pairs that
    contain the element, and a system's delta is the largest of its elements'. :meth:`calibrate`
    draws seeded random pairs of a whole screen (one in ``CALIBRATION_SHARE``, at least
    ``n_calibration``) and evaluates them both ways; :func:`hullpack.screening.screen` calls it on
    all its systems before the first block, and :meth:`run` calls it on its own block if nothing
    did, unless ``delta`` (eV/atom, the same for every element) is given. A system whose
    re-evaluated points show an error above ``delta / margin`` gets its delta doubled until it is at
    least ``margin`` times that error, and its selection goes on with it.
    """

    def __init__(self, engine: InferenceEngine, *, delta: float | None = None, n_calibration: int = 8192,
                 seed: int = 0, tol: float = HULL_TOL, safety: float = SAFETY, margin: float = MARGIN):
        self.engine, self.tol, self.seed = engine, float(tol), int(seed)
        self.safety, self.margin = float(safety), float(margin)
        self.n_calibration = int(n_calibration)
        self.delta_element = None if delta is None else np.full(N_ELEMENTS, float(delta))
        self.n_doublings = 0
        self.max_error_seen = 0.0

    def calibrate(self, table: np.ndarray, inner: np.ndarray) -> np.ndarray:
        """Per-element deltas from seeded random pairs of ``table x inner`` (all of a screen's
        systems: a sample of one block would see only the elements of its systems' first column)."""
        total = len(table) * len(inner)
        rng = np.random.default_rng(self.seed)
        size = min(total, max(self.n_calibration, total // CALIBRATION_SHARE))
        q = np.sort(rng.choice(total, size=size, replace=False))
        s, p = q // len(inner), q % len(inner)
        e16 = self.engine.predict_pairs(table, inner, s, p, "bf16")
        e32 = self.engine.predict_pairs(table, inner, s, p, "fp32")
        err = np.abs(e16.astype(np.float64) - e32)
        err[~np.isfinite(err)] = 0.0
        worst = float(err.max()) if err.size else 0.0
        self.max_error_seen = max(self.max_error_seen, worst)
        per = np.zeros(N_ELEMENTS)
        seen = np.zeros(N_ELEMENTS, dtype=bool)
        for j in range(table.shape[1]):
            np.maximum.at(per, table[s, j], err)
            seen[table[s, j]] = True
        per[~seen] = worst  # elements the sample missed: the global worst
        # a floor so a degenerate sample (a constant model) still leaves room for rounding
        self.delta_element = self.safety * np.maximum(per, 1e-4)
        log.info("bf16 certification: calibrated on %d pairs, max |bf16 - fp32| = %.3g eV/atom, "
                 "median element delta = %.3g", len(q), worst, float(np.median(self.delta_element)))
        return self.delta_element

    def run(self, table: np.ndarray, grid: np.ndarray, *, bar=None, threads: int | None = None,
            edges: EdgeEnergies | None = None) -> BlockHulls:
        """bf16 energies of ``table x grid``, then fp32 at every point the selection of the module
        docstring picks (about those within ``delta`` of the hull), and the hulls of the result.
        With ``edges``, the edge points of ternaries are fp32 from the start."""
        eng = self.engine
        table = np.ascontiguousarray(table, dtype=np.int32)
        grid = np.ascontiguousarray(grid, dtype=np.int32)
        corner = corner_mask(grid)
        inner_idx = np.flatnonzero(~corner)
        fr = compositions.grid_fractions(grid)
        e = eng.predict(table, grid, "bf16", bar=bar, edges=edges)
        e16 = e.copy()
        hb = hull_batch(fr, e, tol=self.tol, decomposition=False, nonfinite="nan", threads=threads)
        if self.delta_element is None and len(inner_idx) and len(table):
            self.calibrate(table, grid[inner_idx])
        delta = (self.delta_element[table].max(axis=1) if len(table) and self.delta_element is not None
                 else np.zeros(len(table)))
        exact = corner | (edges.mask if edges is not None else False)  # references, cached fp32 edges
        done = np.zeros(e.shape, dtype=bool)
        done[:, exact] = True
        # first the bf16 vertices, and every point of a system whose bf16 hull failed (NaN)
        pick = ~done & (hb.is_vertex | ~(hb.e_above_hull >= 0))
        rounds = 0
        while True:
            s, p = np.nonzero(pick)
            if len(s):
                e32 = eng.predict_pairs(table, grid, s, p, "fp32")
                err = np.abs(e16[s, p].astype(np.float64) - e32)
                err[~np.isfinite(err)] = 0.0
                e[s, p] = e32
                done[s, p] = True
                worst = np.zeros(len(table))
                np.maximum.at(worst, s, err)
                self.max_error_seen = max(self.max_error_seen, float(worst.max()))
                bad = np.flatnonzero(self.margin * worst > delta)
                for i in bad:  # the bound (nearly) failed on a point it covered: widen it for that system
                    delta[i] = max(delta[i], 1e-6)  # a zero delta cannot double
                    while delta[i] < self.margin * worst[i]:
                        delta[i] *= 2
                        self.n_doublings += 1
                if len(bad):
                    log.debug("bf16 certification: %d system(s) exceeded their delta; doubled", len(bad))
            rounds += 1
            # U: the hull of the fp32 points alone (the rest lifted out of the way) lies on or above
            # the fp32 hull; a point whose lowest possible fp32 energy E_bf16 - delta is above U can
            # neither be a vertex nor change the hull
            lifted = np.where(done, e, LIFT)
            hu = hull_batch(fr, lifted, tol=self.tol, decomposition=False, nonfinite="nan", threads=threads)
            upper = LIFT - hu.e_above_hull
            with np.errstate(invalid="ignore"):
                pick = ~done & ~(e16 - delta[:, None] > upper + self.tol)
            if not pick.any():
                break
        h = hull_batch(fr, e, tol=self.tol, decomposition=False, nonfinite="nan", threads=threads)
        n_fp32 = done[:, ~exact].sum(axis=1).astype(np.int32)
        return BlockHulls(e, h.e_above_hull, h.is_vertex, h.valid, n_fp32, delta,
                              {"n_fp32": int(n_fp32.sum()), "n_pred": int(len(table) * len(inner_idx)),
                               "rounds": rounds})
