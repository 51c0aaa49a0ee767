"""Fixed-count batches of balanced cost: as many steps as random batching, the smallest peak."""
from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

import numpy as np

from .. import packing
from ..errors import InvalidSizesError
from ._base import Plan, PlanBatchSampler, check_int, coarsen, read_sizes, reorder
from .cost import item_costs, resolve_cost

log = logging.getLogger(__name__)


def balanced_partition(costs: np.ndarray, keep: np.ndarray, n_batches: int, max_batch_size: int,
                       rng: np.random.Generator, shuffle: bool, granularity: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Split the items ``keep`` into ``n_batches`` batches of at most ``max_batch_size`` items with
    near-equal cost; returns CSR offsets, items, the real cost of every batch and a lower bound on
    the peak batch cost."""
    m, B = int(keep.size), int(n_batches)
    real = costs[keep]
    order = rng.permutation(m).astype(np.int64) if shuffle else None
    keys = coarsen(real, granularity, rng, up=False) if shuffle else real
    # The core wants (B-1)*bs < m <= B*bs, i.e. exactly B batches at that batch size.
    bs = max_batch_size if (B - 1) * max_batch_size < m else -(-m // B)
    if (B - 1) * bs < m:
        bin_of = np.asarray(packing.balance(np.ascontiguousarray(keys), B, bs, order=order), np.int64)
        lb = packing.lower_bound(real, n_batches=B, batch_size=bs)
    else:
        # Few items per batch (e.g. many ranks): pad with zero-cost placeholders to B*bs items,
        # ordered after every real item, and drop them again; batches then hold <= bs items.
        pad = B * bs - m
        keys = np.concatenate([keys, np.zeros(pad)])
        order = np.concatenate([np.arange(m) if order is None else order, np.arange(m, m + pad)])
        bin_of = np.asarray(packing.balance(keys, B, bs, order=order.astype(np.int64)), np.int64)[:m]
        bin_of = _fill_empty(bin_of, B, real)
        lb = packing.lower_bound(np.concatenate([real, np.zeros(pad)]), n_batches=B, batch_size=bs)
    offsets, local = packing.group(bin_of, B)
    costs_b = np.asarray(packing.batch_costs(real, bin_of, B), dtype=np.float64)
    return np.asarray(offsets, np.int64), keep[np.asarray(local, np.int64)], costs_b, float(lb)


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


class BalancedBatchSampler(PlanBatchSampler):
    """Batches of (at most) ``batch_size`` items whose costs are as equal as possible.

    The epoch has as many batches as random batching: ``ceil(n / batch_size)``, or
    ``n // batch_size`` with ``drop_last``. Items are dealt largest-first to the lightest batch
    that still has room, then swapped between the heaviest and lightest batches (C++ core), which
    minimises the peak batch cost, the one that decides peak memory. Cardinalities are as even as
    possible: with ``n=100, batch_size=32`` the 4 batches hold 25 items each. With ``drop_last``
    ``n % batch_size`` items sit out the epoch (random ones with ``shuffle``, else the last ones)
    and every batch holds exactly ``batch_size`` items.

    The cost of an item is ``cost(sizes)`` for a :class:`~hullpack.samplers.LinearCost` or
    :class:`~hullpack.samplers.MemoryModel` (or ``weights=``/``bias=``), else its size summed over
    columns. With ``shuffle`` each epoch (see :meth:`set_epoch`) has other batches, in another
    order, all still balanced (``granularity`` as for :class:`PackedBatchSampler`).

    >>> import numpy as np
    >>> sizes = np.random.default_rng(0).lognormal(3, 0.5, 1000)
    >>> sampler = BalancedBatchSampler(sizes, batch_size=32, seed=0)
    >>> len(sampler)
    32
    >>> batches = list(sampler)
    >>> sorted(i for b in batches for i in b) == list(range(1000))
    True
    >>> s = sampler.stats()
    >>> s["peak_cost"] <= 1.02 * s["lower_bound"]
    True
    """

    def __init__(self, sizes: Any, batch_size: int, *, cost: Callable | None = None,
                 weights: Sequence[float] | None = None, bias: float | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False, granularity: float = 0.01,
                 fields: Sequence | None = None):
        super().__init__(shuffle=shuffle, seed=seed, drop_last=drop_last, granularity=granularity)
        self.sizes = read_sizes(sizes, fields)
        self.costs = item_costs(self.sizes, resolve_cost(cost, weights, bias))
        n = self.costs.size
        self.batch_size = check_int(batch_size, "batch_size", 1)
        if self.batch_size > n:
            raise InvalidSizesError(f"batch_size = {batch_size} is larger than the number of items ({n})")
        self.num_batches = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        self._set_fingerprint(self.costs)

    def _config(self) -> tuple:
        return super()._config() + (self.batch_size,)

    def _build(self, epoch: int) -> Plan:
        rng = self.rng(epoch)
        n, B = self.costs.size, self.num_batches
        keep = drop_items(n, n - B * self.batch_size if self.drop_last else 0, rng, self.shuffle)
        offsets, items, costs, lb = balanced_partition(self.costs, keep, B, self.batch_size, rng,
                                                       self.shuffle, self.granularity)
        if self.shuffle:
            perm = rng.permutation(B)
            offsets, items = reorder(offsets, items, perm)
            costs = costs[perm]
        ratio = float(costs.max()) / lb if lb > 0 else 1.0
        return Plan(offsets, items, costs, {"lower_bound": lb, "peak_over_lower_bound": ratio,
                                            "dropped_items": int(n - keep.size)})
