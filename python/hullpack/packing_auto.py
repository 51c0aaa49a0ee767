"""What ``pack(method="auto")`` tries after first fit (or best fit over histograms), to pack into
fewer bins where that strands a little room in every bin: balanced partitions for one cost
dimension, spreading for several. Each takes the sizes, capacity, ``order`` and ``keys`` as
:func:`hullpack.packing.pack` checked them, and the bins it has so far, and returns fewer bins or
those unchanged.
"""
from __future__ import annotations

import numpy as np

from ._core_loader import core as _core

__all__ = ["fewer_bins_by_balancing", "fewer_bins_by_spreading"]

#: Spreads tried at most by :func:`fewer_bins_by_spreading`, bisecting the bin count.
SPREAD_TRIES = 3


def fewer_bins_by_balancing(costs: np.ndarray, capacity: float, order, bins: np.ndarray,
                             n_bins: int, keys: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """The fewest bins, between the lower bound and ``n_bins``, into which :func:`balance` splits
    the items with no bin over ``capacity``; ``(bins, n_bins)`` unchanged when none is found.

    Balanced partitions also balance item counts, so this finds little where sizes are heavy-tailed
    (first fit is at the bound there anyway) and much where many similar items share a bin. It
    tries ``n_bins - 1`` first (one pass when balancing cannot help) and then bisects, taking
    feasibility as monotone in the bin count, which holds closely in practice.
    """
    n = costs.shape[0]
    lo = int(_core.lower_bound_pack(costs, np.array([capacity]))) - 1  # largest count known infeasible

    def split(m: int):
        b = _core.balance(costs, m, -(-n // m), order, True, keys)
        return b if _core.batch_costs(costs, b, m).max() <= capacity else None

    hi = n_bins - 1
    if hi <= lo or (best := split(hi)) is None:
        return bins, n_bins
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (b := split(mid)) is None:
            lo = mid
        else:
            hi, best = mid, b
    return best, hi


def fewer_bins_by_spreading(sizes: np.ndarray, cap: np.ndarray, order, bins: np.ndarray,
                             n_bins: int, keys: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Several cost dimensions: spread the items over as many bins as the lower bound, each in the
    candidate bin it fits whose loads best complement its costs, and first fit the items that fit
    none of its candidates (:func:`hullpack._core.spread`); while items were set aside, bisect the
    bin count between the most bins known to set items aside and the fewest bins found, until they
    are within 0.1% of each other, :data:`SPREAD_TRIES` tries at most. Keeps the try with the fewest
    bins (on a tie, the one that set nothing aside) if it uses fewer than ``n_bins``, else
    ``(bins, n_bins)`` unchanged.

    First fit fills bins one after another and leaves room in one dimension of a bin that is full
    in another; with many items per bin, spreading keeps every bin near the overall mix instead:
    node and edge counts whose ratio varies 2-8x between graphs lose 4-10% of the bins to first fit
    and about 0.1% to spreading (``benchmarks/bench_distributions.py``). Where a few dozen small
    items share a bin, no spread into the lower bound's count fits, but the items it sets aside
    fill the room left: QM9-like molecules (3-29 atoms, 2-6 edges per atom) under node and edge
    budgets of 8, 16, 32 and 64 mean molecules pack at most 2.0%, 0.7%, 0.8% and 0.3% above the
    bound (20,000 molecules, 8 seeds), against first fit's 11-12%.
    """
    m = int(_core.lower_bound_pack(sizes, cap))
    best, crowded = None, None  # the try with the fewest bins; the most bins known to set items aside
    for _ in range(SPREAD_TRIES):
        if m >= (n_bins if best is None else best[1]) or (crowded is not None and m <= crowded):
            break
        spread_bins, total, set_aside, peak = _core.spread(sizes, cap, m, order, keys)
        used = np.flatnonzero(np.bincount(spread_bins, minlength=total))  # drop bins left empty
        if used.size < total:
            renumber = np.full(total, -1, np.int64)
            renumber[used] = np.arange(used.size)
            spread_bins = renumber[spread_bins]
        if best is None or used.size < best[1] or (used.size == best[1] and not set_aside):
            best = spread_bins, int(used.size)
        if not np.isfinite(peak):  # a load overflowed the double range: no better spread to look for
            break
        if set_aside:
            crowded = m
        elif crowded is None:  # a spread into the lower bound's count
            break
        if best[1] - crowded <= max(1, best[1] // 1000):  # within 0.1% of a count known too few
            break
        m = (crowded + best[1]) // 2
    return best if best is not None and best[1] < n_bins else (bins, n_bins)
