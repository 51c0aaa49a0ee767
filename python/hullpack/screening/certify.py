"""bf16 screens checked against fp32: the :class:`Certifier` (selection, calibration, audit).

Let ``delta`` bound ``|E_bf16 - E_fp32|`` (per system). The hull ``U`` of the points already
evaluated in fp32 (with the references) lies on or above the hull of an all-fp32 screen, since that
is the hull of a superset. A point not yet evaluated whose lowest possible fp32 energy
``E_bf16 - delta`` lies above ``U`` can neither be an fp32 vertex nor lower the hull. So: evaluate
the bf16 hull vertices in fp32, build ``U``, evaluate every point with ``E_bf16 - delta <= U``,
rebuild ``U``, and repeat until no point is selected. (This selects about the points within
``delta`` of the hull, half the band of the simpler rule "within ``2 * delta`` of the bf16 hull".)

What is guaranteed: every reported hull vertex, and every point the selection picked, carries its
fp32 energy, computed by the kernels of an fp32 screen (bit for bit on CPU, with ``relu_mlp`` or
the oneDNN backend; the calibration sample's points enter the hulls with theirs too); and *if* ``E_bf16 - E_fp32 <= delta`` holds at every point that was not evaluated in
fp32, the hull vertices are an all-fp32 screen's. That condition is not proven: ``delta`` is
estimated, and then checked, in three ways.

* Calibration: ``delta`` per element is ``SAFETY`` x the largest ``|E_bf16 - E_fp32|`` on a seeded
  random sample of the whole screen's points (one in ``CALIBRATION_SHARE``, at least
  ``n_calibration``) that contain the element; a system takes the largest of its elements'. The
  sample's bf16 energies come from the kernel the screen runs (the line layers for bf16 binaries
  on CPU, the gather and products otherwise, the CUDA path on a GPU).
* Verification: a system whose fp32-evaluated points show an error above ``delta / margin`` has
  its delta doubled (until it is at least ``margin`` times that error) and its selection goes on.
* Audit: a seeded random sample of the points left without an fp32 energy (neither sampled nor
  picked; each point of the screen is drawn with probability ``max(AUDIT_MIN / N, AUDIT_SHARE)``,
  N the screen's predicted points, by a hash of its system's elements and its grid index, so the
  same points in any block or shard) is evaluated in fp32. A screen of at most ``n_calibration``
  points has them all in its calibration sample and needs no audit. Points whose error exceeds their system's delta are counted and
  widen that delta as above, and the selection runs again. The count gives a one-sided 95% upper
  bound on the share of those points whose error exceeds their delta
  (:func:`exceedance_bound`): about 3/m when none of the m audited points does.

A point that exceeds its delta can hide an fp32 vertex only if it also lies within that excess of
the hull, so the share of missed vertices is smaller still; it is not bounded separately.
"""
from __future__ import annotations

import logging
import math
import time

import numpy as np

from .. import compositions
from ..elements import N_ELEMENTS
from ..hull import hull_batch
from .edges import EdgeEnergies, system_key
from .engine import EngineBase
from .hulls import HULL_TOL, LIFT, BlockHulls, corner_mask

log = logging.getLogger(__name__)

__all__ = ["Certifier", "SAFETY", "CALIBRATION_SHARE", "MARGIN", "AUDIT_MIN", "AUDIT_SHARE", "CONFIDENCE",
           "exceedance_bound", "audit_draw", "merge_certification", "certification_lines"]

#: calibration delta = this factor x the largest |bf16 - fp32| seen on the calibration sample
SAFETY = 1.5
#: calibration pairs: one in this many of a screen's (at least ``Certifier.n_calibration``): the
#: largest error seen grows with the sample, and a large screen has more points that can be missed
CALIBRATION_SHARE = 256
#: verification: a system's delta must stay >= this factor x the largest error seen on its points
#: (1 would only catch outright failures; 2 also widens deltas that were nearly exceeded, at ~1% more
#: fp32 work on the binaries, and removed the rare misses that 1 left)
MARGIN = 2.0
#: audit: each point of a screen of N predicted points is drawn with probability
#: max(AUDIT_MIN / N, AUDIT_SHARE) (all of them when N <= AUDIT_MIN)
AUDIT_MIN = 4096
AUDIT_SHARE = 0.005
#: the confidence of the audit's upper bound on the exceedance rate
CONFIDENCE = 0.95


def exceedance_bound(m: int, k: int, confidence: float = CONFIDENCE) -> float:
    """The exact one-sided (Clopper-Pearson) upper confidence bound on a rate from ``k`` events in
    ``m`` independent draws: the ``p`` with ``P(Binomial(m, p) <= k) = 1 - confidence``. For
    ``k = 0`` it is ``1 - (1 - confidence)^(1/m)``, about ``3/m`` at 95%. NaN for ``m = 0``.

    >>> round(exceedance_bound(4096, 0) * 4096, 1), round(exceedance_bound(100, 3), 4)
    (3.0, 0.0757)
    """
    m, k = int(m), int(k)
    if m <= 0:
        return math.nan
    if not 0 <= k <= m:
        raise ValueError(f"k = {k}: expected 0 <= k <= m = {m}")
    alpha = 1.0 - float(confidence)
    if k == m:
        return 1.0
    if k == 0:
        return -math.expm1(math.log(alpha) / m)
    i = np.arange(k + 1, dtype=np.float64)
    log_choose = np.array([math.lgamma(m + 1) - math.lgamma(j + 1) - math.lgamma(m - j + 1) for j in range(k + 1)])

    def cdf(p: float) -> float:  # P(Binomial(m, p) <= k)
        return float(np.exp(log_choose + i * math.log(p) + (m - i) * math.log1p(-p)).sum())

    lo, hi = k / m, 1.0
    for _ in range(100):  # the cdf falls as p rises
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if cdf(mid) > alpha else (lo, mid)
    return hi


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a well-mixed uint64 from a uint64 (arrays wrap modulo 2**64)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def audit_draw(table: np.ndarray, n_points: int, rate: float, seed: int = 0) -> np.ndarray:
    """``(n_systems, n_points)`` bool: which (system, grid point) pairs the audit draws, each with
    probability ``rate``, from a hash of the seed, the system's elements and the point's index, so
    a pair is drawn or not whatever block or shard it is screened in.

    >>> from hullpack.compositions import systems
    >>> t = systems(2)
    >>> d = audit_draw(t, 101, 0.01)
    >>> round(float(d.mean()), 3), bool((audit_draw(t[7:9], 101, 0.01) == d[7:9]).all())
    (0.01, True)
    """
    if rate >= 1:
        return np.ones((len(table), n_points), dtype=bool)
    key = system_key(table).astype(np.uint64)  # below 86**8 < 2**63: the same value in either type
    key = key[:, None] * np.uint64(n_points) + np.arange(n_points, dtype=np.uint64)[None, :]
    u = _mix64(key ^ _mix64(np.full(1, seed, dtype=np.uint64)))
    return u < np.uint64(min(max(rate, 0.0) * 2.0 ** 64, 2.0 ** 64 - 2048))


def merge_certification(records: list[dict | None]) -> dict | None:
    """The certification record of a screen merged from its shards' (counts summed, the largest
    error and the bound recomputed); None when no part has one."""
    given = [r for r in records if r]
    if not given:
        return None
    largest = max(given, key=lambda r: r.get("screen_points", 0))  # an empty shard calibrated nothing
    out = dict(largest)
    for key in ("n_audited", "n_exceeded", "delta_doublings"):
        out[key] = int(sum(r.get(key, 0) for r in given))
    out["max_error_seen"] = max(float(r.get("max_error_seen", 0.0)) for r in given)
    for key in ("seconds_audit", "seconds_calibration"):  # shards run side by side
        out[key] = max(float(r.get(key, 0.0)) for r in given)
    out["exceedance_bound"] = exceedance_bound(out["n_audited"], out["n_exceeded"], out.get("confidence", CONFIDENCE))
    return out


def certification_lines(record: dict | None, n_fp32: int, n_pred: int, *, shared: int = 0) -> list[str]:
    """The summary lines of a certified screen: its fp32 work (``n_fp32`` of its ``n_pred``
    points, ``shared`` of them on edges or faces shared between systems, fp32 from the start) and
    its audit; one line where no point was left in bf16.

    >>> certification_lines({"calibration_pairs": 186, "screen_points": 186}, 186, 186)[0][-77:]
    '(the calibration sample was every point): none left in bf16, nothing to audit'
    >>> first, audit = certification_lines({"calibration_pairs": 8192, "screen_points": 9000}, 6000, 9000, shared=4000)
    >>> first[:108]
    'bf16 certification: 6,000 of 9,000 points evaluated in fp32 (4,000 on edges or faces shared between systems;'
    >>> audit
    'audit: every point it drew had an fp32 energy already; nothing to check'
    """
    sources = "calibration sample, near the hull, audit"
    if shared:
        sources = f"{shared:,} on edges or faces shared between systems; {sources}"
    if n_fp32 >= n_pred:
        if record and record.get("calibration_pairs", 0) >= record.get("screen_points", math.inf):
            sources = "the calibration sample was every point"
        return [f"bf16 certification: all {n_pred:,} points evaluated in fp32 ({sources}): none left in bf16, "
                "nothing to audit"]
    lines = [f"bf16 certification: {n_fp32:,} of {n_pred:,} points evaluated in fp32 ({sources}), validated "
             "against fp32 by calibration and audit"]
    if record:
        m, k = int(record.get("n_audited", 0)), int(record.get("n_exceeded", 0))
        if not m:
            return lines + ["audit: every point it drew had an fp32 energy already; nothing to check"]
        bound = exceedance_bound(m, k, record.get("confidence", CONFIDENCE))
        exceeded = ("none exceeded its system's delta" if k == 0 else
                    "1 exceeded its system's delta, which was widened and the selection run again" if k == 1 else
                    f"{k:,} exceeded their systems' deltas, which were widened and the selection run again")
        lines.append(f"audit: {m:,} random points left in bf16, checked in fp32; {exceeded}; "
                     f"{record.get('confidence', CONFIDENCE):.0%} upper bound on the share of the points left in "
                     f"bf16 that exceed their delta: {bound:.2g}")
    return lines


class Certifier:
    """bf16 screens checked against fp32 (see the module docstring for what that guarantees).

    The bf16 error depends strongly on the elements (a few elements' weight columns amplify it), so
    ``delta`` is kept per element: ``safety`` x the largest error seen on calibration pairs that
    contain the element, and a system's delta is the largest of its elements'. :meth:`calibrate`
    draws seeded random pairs of a whole screen (one in ``CALIBRATION_SHARE``, at least
    ``n_calibration``) and evaluates them both ways; :func:`hullpack.screening.screen` calls it on
    all its systems (all of the screen's, in a shard too) before the first block, and :meth:`run`
    calls it on its own block if nothing did, unless ``delta`` (eV/atom, the same for every
    element) is given. A system whose fp32-evaluated points show an error above ``delta / margin``
    gets its delta doubled until it is at least ``margin`` times that error, and its selection goes
    on with it. The audit draws each point with probability ``max(audit_min / N, audit_share)`` (N:
    the points of the screen :meth:`calibrate` saw, else of the first block; 0 and 0 turn it off).
    :meth:`report` gives the record a screen keeps in ``config["certification"]``.
    """

    def __init__(self, engine: EngineBase, *, delta: float | None = None, n_calibration: int = 8192,
                 seed: int = 0, tol: float = HULL_TOL, safety: float = SAFETY, margin: float = MARGIN,
                 audit_min: int = AUDIT_MIN, audit_share: float = AUDIT_SHARE):
        self.engine, self.tol, self.seed = engine, float(tol), int(seed)
        self.safety, self.margin = float(safety), float(margin)
        self.n_calibration = int(n_calibration)
        self.audit_min, self.audit_share = int(audit_min), float(audit_share)
        self.delta_element = None if delta is None else np.full(N_ELEMENTS, float(delta))
        self.n_doublings = 0
        self.max_error_seen = 0.0
        #: the points of the screen the audit rate is set from, and the calibration's pairs
        self.n_screen = self.n_calibrated = 0
        #: the kernel the calibration's bf16 energies came from
        self.kernel = None
        self.n_audited = self.n_exceeded = 0
        #: seconds spent on the audit (its fp32 evaluations and any selection it restarted), and on
        #: the calibration (with the screen's bf16 pass where it keeps it for the blocks)
        self.seconds_audit = self.seconds_calibration = 0.0
        # (inner grid, row of each binary system, bf16 energies) of calibrate()
        self._kept: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        # (inner grid, system keys, points, fp32 energies) of the calibration sample
        self._sample: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def audit_rate(self) -> float:
        """The probability with which the audit draws each point of the screen."""
        if self.n_screen <= 0:
            return 0.0
        return min(1.0, max(self.audit_min / self.n_screen, self.audit_share))

    def calibrate(self, table: np.ndarray, inner: np.ndarray, *, screened: np.ndarray | None = None) -> np.ndarray:
        """Per-element deltas from seeded random pairs of ``table x inner`` (all of a screen's
        systems: a sample of one block would see only the elements of its systems' first column;
        ``inner``: the grid points the screen predicts, pure elements left out, as its kernel sees
        them). Also sets the screen size the audit rate follows. ``screened``: the systems this
        process will screen (a shard's, or all of ``table``): where their bf16 kernel is the line
        layers (binaries on CPU), which run whole systems, their bf16 energies are predicted here
        once, the sample's are taken from them, and :meth:`run` uses them."""
        t_start = time.perf_counter()
        total = len(table) * len(inner)
        self.n_screen = total
        rng = np.random.default_rng(self.seed)
        size = min(total, max(self.n_calibration, total // CALIBRATION_SHARE))
        q = np.sort(rng.choice(total, size=size, replace=False))
        s, p = q // len(inner), q % len(inner)
        kernel = getattr(self.engine, "kernel", None)
        self.kernel = kernel(table) if kernel is not None else None
        e16 = self._sample_bf16(table, inner, s, p, screened)
        e32 = self.engine.predict_pairs(table, inner, s, p, "fp32")
        self.n_calibrated = len(q)
        key = system_key(table[s])
        order = np.argsort(key, kind="stable")
        self._sample = (np.array(inner), key[order], p[order], e32[order])
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
        self.seconds_calibration = time.perf_counter() - t_start
        log.info("bf16 certification: calibrated on %d pairs (%s), max |bf16 - fp32| = %.3g eV/atom, "
                 "median element delta = %.3g", len(q), self.kernel, worst, float(np.median(self.delta_element)))
        return self.delta_element

    def _sample_bf16(self, table, inner, s, p, screened) -> np.ndarray:
        """The calibration sample's bf16 energies, through the screen's kernel; with the line
        layers and ``screened``, from the screen's own bf16 pass, kept for :meth:`run`."""
        self._kept = None
        if self.kernel != "line layers" or screened is None or not len(screened):
            return self.engine.predict_pairs(table, inner, s, p, "bf16")
        screened = np.ascontiguousarray(screened, dtype=np.int32)
        own = self.engine.predict_flat(screened, inner, "bf16").reshape(len(screened), len(inner))
        row = np.full(N_ELEMENTS * N_ELEMENTS, -1, dtype=np.int64)
        row[system_key(screened)] = np.arange(len(screened))
        self._kept = (np.array(inner), row, own)
        at = row[system_key(table[s])]
        out = np.empty(len(s), dtype=np.float32)
        out[at >= 0] = own[at[at >= 0], p[at >= 0]]
        if (at < 0).any():  # pairs of other shards' systems
            out[at < 0] = self.engine.predict_pairs(table, inner, s[at < 0], p[at < 0], "bf16")
        return out

    def _kept_bf16(self, table: np.ndarray, grid: np.ndarray) -> np.ndarray | None:
        """``table``'s bf16 energies on ``grid`` (pure elements at 0) from the calibration's bf16
        pass, or None where it did not predict them all."""
        if self._kept is None or table.shape[1] != 2:
            return None
        inner, row, own = self._kept
        corner = corner_mask(grid)
        at = row[system_key(table)]
        if (at < 0).any() or not np.array_equal(grid[~corner], inner):
            return None
        e = np.zeros((len(table), len(grid)), dtype=np.float32)
        e[:, ~corner] = own[at]
        return e

    def _sample_fp32(self, table: np.ndarray, grid: np.ndarray):
        """The calibration sample's pairs among ``table``'s systems on ``grid``: ``(systems,
        points, fp32 energies)``, the same numbers the selection would compute for them."""
        none = (np.zeros(0, np.int64),) * 2 + (np.zeros(0, np.float32),)
        if self._sample is None:
            return none
        inner, keys, pts, e32 = self._sample
        inner_idx = np.flatnonzero(~corner_mask(grid))
        if len(inner_idx) != len(inner) or not np.array_equal(grid[inner_idx], inner):
            return none
        own = system_key(table)
        lo, hi = np.searchsorted(keys, own, "left"), np.searchsorted(keys, own, "right")
        n = hi - lo
        rows = np.repeat(np.arange(len(table)), n)
        at = np.repeat(lo - np.cumsum(n) + n, n) + np.arange(len(rows))  # lo[i], lo[i] + 1, .. hi[i] - 1
        return rows, inner_idx[pts[at]], e32[at]

    def report(self) -> dict:
        """The certification record: the screen's points, calibration (seed, pairs, kernel, safety,
        margin), audit (rate,
        points, exceedances, upper bound on the exceedance rate at :data:`CONFIDENCE`, seconds), and
        the doublings of deltas and the largest error seen."""
        return {"screen_points": self.n_screen, "calibration_seed": self.seed, "calibration_pairs": self.n_calibrated,
                "kernel": self.kernel, "safety": self.safety, "margin": self.margin, "audit_rate": self.audit_rate,
                "n_audited": self.n_audited, "n_exceeded": self.n_exceeded, "confidence": CONFIDENCE,
                "exceedance_bound": exceedance_bound(self.n_audited, self.n_exceeded),
                "delta_doublings": self.n_doublings, "max_error_seen": self.max_error_seen,
                "seconds_audit": self.seconds_audit, "seconds_calibration": self.seconds_calibration}

    def _widen(self, delta: np.ndarray, s: np.ndarray, err: np.ndarray) -> int:
        """Doubles the delta of each system whose errors ``err`` (at its points ``s``) show it
        (nearly) failed, until it is at least ``margin`` times its largest; returns how many."""
        worst = np.zeros(len(delta))
        np.maximum.at(worst, s, err)
        self.max_error_seen = max(self.max_error_seen, float(worst.max(initial=0.0)))
        bad = np.flatnonzero(self.margin * worst > delta)
        for i in bad:
            delta[i] = max(delta[i], 1e-6)  # a zero delta cannot double
            while delta[i] < self.margin * worst[i]:
                delta[i] *= 2
                self.n_doublings += 1
        if len(bad):
            log.debug("bf16 certification: %d system(s) exceeded their delta; doubled", len(bad))
        return len(bad)

    def _errors(self, table, grid, e, e16, done, s, p) -> np.ndarray:
        """Evaluates pairs ``(s, p)`` in fp32 into ``e`` (marking them done); their |bf16 - fp32|
        (0 where either is not finite)."""
        e32 = self.engine.predict_pairs(table, grid, s, p, "fp32")
        err = np.abs(e16[s, p].astype(np.float64) - e32)
        err[~np.isfinite(err)] = 0.0
        e[s, p] = e32
        done[s, p] = True
        return err

    def _settle(self, table, grid, fr, e, e16, done, delta, pick, threads) -> int:
        """Evaluates ``pick`` in fp32, then every point the selection rule picks, until none is
        left; returns the rounds."""
        rounds = 0
        while True:
            s, p = np.nonzero(pick)
            if len(s):
                self._widen(delta, s, self._errors(table, grid, e, e16, done, s, p))
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
                return rounds

    def run(self, table: np.ndarray, grid: np.ndarray, *, bar=None, threads: int | None = None,
            edges: EdgeEnergies | None = None) -> BlockHulls:
        """bf16 energies of ``table x grid``, then fp32 at every point the selection of the module
        docstring picks (about those within ``delta`` of the hull) and at the audit's draw of the
        rest, and the hulls of the result. The calibration sample's points among these systems
        enter with the fp32 energies the calibration computed; with ``edges``, the edge points of
        ternaries are fp32 from the start."""
        eng = self.engine
        table = np.ascontiguousarray(table, dtype=np.int32)
        grid = np.ascontiguousarray(grid, dtype=np.int32)
        corner = corner_mask(grid)
        inner_idx = np.flatnonzero(~corner)
        fr = compositions.grid_fractions(grid)
        e16 = self._kept_bf16(table, grid) if edges is None else None
        if e16 is None:
            e16 = eng.predict(table, grid, "bf16", bar=bar, edges=edges)
        elif bar is not None:
            bar.update(len(table) * len(inner_idx))
        e = e16.copy()
        hb = hull_batch(fr, e, tol=self.tol, decomposition=False, nonfinite="nan", threads=threads)
        if self.delta_element is None and len(inner_idx) and len(table):
            self.calibrate(table, grid[inner_idx])
        if self.n_screen == 0:
            self.n_screen = len(table) * len(inner_idx)
        delta = (self.delta_element[table].max(axis=1) if len(table) and self.delta_element is not None
                 else np.zeros(len(table)))
        exact = corner | (edges.mask if edges is not None else False)  # references, cached fp32 edges
        done = np.zeros(e.shape, dtype=bool)
        done[:, exact] = True
        s, p, e32 = self._sample_fp32(table, grid)  # the calibration's fp32 energies: no need to repeat them
        keep = ~exact[p]
        e[s[keep], p[keep]] = e32[keep]
        done[s[keep], p[keep]] = True
        # first the bf16 vertices, and every point of a system whose bf16 hull failed (NaN)
        pick = ~done & (hb.is_vertex | ~(hb.e_above_hull >= 0))
        rounds = self._settle(table, grid, fr, e, e16, done, delta, pick, threads)
        # the audit: a seeded random draw of the points left in bf16, in fp32
        t_audit = time.perf_counter()
        s, p = np.nonzero(audit_draw(table, len(grid), self.audit_rate, self.seed) & ~done)
        n_exceeded = 0
        if len(s):
            err = self._errors(table, grid, e, e16, done, s, p)
            n_exceeded = int((err > delta[s]).sum())
            self.n_audited += len(s)
            self.n_exceeded += n_exceeded
            if self._widen(delta, s, err):
                rounds += self._settle(table, grid, fr, e, e16, done, delta, np.zeros_like(done), threads)
        self.seconds_audit += time.perf_counter() - t_audit
        if n_exceeded:  # reported in the screen's summary too
            log.info("bf16 certification: %d of %d audited points exceeded their delta; their systems' "
                     "deltas were widened and their selection repeated", n_exceeded, len(s))
        h = hull_batch(fr, e, tol=self.tol, decomposition=False, nonfinite="nan", threads=threads)
        n_fp32 = done[:, ~exact].sum(axis=1).astype(np.int32)
        return BlockHulls(e, h.e_above_hull, h.is_vertex, h.valid, n_fp32, delta,
                          {"n_fp32": int(n_fp32.sum()), "n_pred": int(len(table) * len(inner_idx)),
                           "rounds": rounds, "n_audited": int(len(s)), "n_exceeded": n_exceeded}, bf16=~done)
