"""Balanced partitions: items split into a fixed number of batches of bounded cardinality whose
costs are as equal as possible (C++ core), and the choice of items left out with ``drop_last``.

Shared by :class:`~hullpack.samplers.BalancedBatchSampler` and the balanced mode of
:class:`~hullpack.samplers.DistributedBalancedBatchSampler`.
"""
from __future__ import annotations

import numpy as np

from .. import packing
from ._base import coarsen


def balanced_partition(costs: np.ndarray, keep: np.ndarray, n_batches: int, max_batch_size: int,
                       rng: np.random.Generator, shuffle: bool, granularity: float,
                       bound_cache: dict | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Split the items ``keep`` into ``n_batches`` batches of at most ``max_batch_size`` items with
    near-equal cost; returns CSR offsets, items, the real cost of every batch and a lower bound on
    the peak batch cost. The bound depends only on the costs kept and the batch shape: while every
    item of ``costs`` is kept, ``bound_cache`` (a sampler's dict) keeps it from epoch to epoch.

    With ``shuffle``, the largest-first pass deals items by their costs on a grid of relative step
    ``granularity`` (:func:`~hullpack.samplers._base.coarsen`) with ties in a random order, so every
    epoch starts from other batches; the refinement then balances the real costs, so the grid costs
    no balance. O(m log m) for m kept items, all in the compiled core but for O(m) numpy passes."""
    m, B = int(keep.size), int(n_batches)
    # keep ascends (drop_items), so n items from 0 to n - 1 are all of them: no gathers through it
    every = m == costs.shape[0] and m > 0 and keep[0] == 0 and keep[-1] == m - 1
    real = costs if every else costs[keep]
    order = rng.permutation(m).astype(np.int64, copy=False) if shuffle else None
    keys = coarsen(real, granularity, rng, up=False) if shuffle and granularity > 0 else None
    # The core wants (B-1)*bs < m <= B*bs, i.e. exactly B batches at that batch size.
    bs = max_batch_size if (B - 1) * max_batch_size < m else -(-m // B)

    def lower_bound(values: np.ndarray) -> float:
        cache = bound_cache if every else None
        if cache is not None and cache.get("costs") is costs and cache.get("shape") == (B, bs):
            return cache["bound"]
        bound = packing.lower_bound(values, n_batches=B, batch_size=bs)
        if cache is not None:
            cache.update(costs=costs, shape=(B, bs), bound=bound)
        return bound

    if (B - 1) * bs < m:
        bin_of = np.asarray(packing.balance(real, B, bs, order=order, keys=keys), np.int64)
        bound = lower_bound(real)
    else:
        # Few items per batch (e.g. many ranks): pad with zero-cost placeholders to B*bs items,
        # ordered after every real item, and drop them again; batches then hold <= bs items.
        pad = B * bs - m
        padded = np.concatenate([real, np.zeros(pad)])
        keys = None if keys is None else np.concatenate([keys, np.zeros(pad)])
        order = np.concatenate([np.arange(m) if order is None else order, np.arange(m, m + pad)])
        bin_of = np.asarray(packing.balance(padded, B, bs, order=order.astype(np.int64), keys=keys),
                            np.int64)[:m]
        bin_of = _fill_empty(bin_of, B, real)
        bound = lower_bound(padded)
    offsets, local = packing.group(bin_of, B)
    costs_b = np.asarray(packing.batch_costs(real, bin_of, B), dtype=np.float64)
    local = np.asarray(local, np.int64)
    return np.asarray(offsets, np.int64), local if every else keep[local], costs_b, float(bound)


def _fill_empty(bin_of: np.ndarray, n_batches: int, costs: np.ndarray) -> np.ndarray:
    # Only reachable when placeholders tie with zero-cost items: give every empty batch the
    # cheapest item of the batch with the most items, so no batch is empty.
    counts = np.bincount(bin_of, minlength=n_batches)
    for b in np.flatnonzero(counts == 0):
        donor = int(np.argmax(counts))
        members = np.flatnonzero(bin_of == donor)
        moved = members[np.argmin(costs[members])]
        bin_of[moved] = b
        counts[donor] -= 1
        counts[b] += 1
    return bin_of


def drop_items(n: int, n_drop: int, rng: np.random.Generator, shuffle: bool) -> np.ndarray:
    """Indices kept when ``n_drop`` items must go: random ones with shuffle, else the last ones."""
    if n_drop <= 0:
        return np.arange(n, dtype=np.int64)
    if not shuffle:
        return np.arange(n - n_drop, dtype=np.int64)
    keep = np.ones(n, dtype=bool)
    keep[rng.choice(n, size=n_drop, replace=False)] = False
    return np.flatnonzero(keep).astype(np.int64)
