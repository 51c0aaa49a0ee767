"""Variable-size batches packed up to a cost budget (first- or best-fit decreasing in the C++ core)."""
from __future__ import annotations

import logging
import warnings
from typing import Any, Callable, Sequence

import numpy as np

from .. import packing
from ..errors import InvalidSizesError, OversizeItemError
from ._base import Plan, PlanBatchSampler, coarsen, read_sizes, reorder
from .cost import item_costs, resolve_cost

log = logging.getLogger(__name__)

OVERSIZE_POLICIES = ("error", "alone", "skip")


def bin_totals(costs: np.ndarray, bin_of_item: np.ndarray, n_bins: int) -> np.ndarray:
    """Per-batch cost totals, ``(n_bins,)`` or ``(n_bins, k)`` for multi-column costs."""
    if costs.ndim == 1:
        return np.asarray(packing.batch_costs(costs, bin_of_item, n_bins), dtype=np.float64)
    return np.column_stack([packing.batch_costs(np.ascontiguousarray(costs[:, j]), bin_of_item, n_bins)
                            for j in range(costs.shape[1])])


def fill(costs: np.ndarray, max_cost: np.ndarray) -> np.ndarray:
    """How full each batch is: cost / budget, the fullest column for multi-column budgets."""
    f = costs / max_cost
    return f if f.ndim == 1 else f.max(axis=1)


class _Budget:
    """Item costs checked against a budget, with the oversize policy applied once."""

    def __init__(self, sizes: np.ndarray, max_cost: Any, cost: Any, weights: Any, bias: Any,
                 oversize: str, method: str):
        model = resolve_cost(cost, weights, bias)
        cap = np.asarray(max_cost, dtype=np.float64)
        if cap.ndim == 1 and cap.size == 1 and (sizes.ndim == 1 or model is not None):
            cap = cap.reshape(())
        if cap.ndim == 0:
            costs = item_costs(sizes, model)
        elif cap.ndim == 1:
            if model is not None:
                raise ValueError("a vector max_cost budgets each size column separately; it cannot be "
                                 "combined with a cost model (use a scalar max_cost with cost=)")
            if sizes.ndim != 2 or sizes.shape[1] != cap.size:
                raise InvalidSizesError(
                    f"max_cost has {cap.size} entries but sizes have "
                    f"{sizes.shape[1] if sizes.ndim == 2 else 1} column(s); give one budget per column"
                )
            costs = sizes
        else:
            raise ValueError(f"max_cost: expected a number or a vector, got shape {cap.shape}")
        for i, c in enumerate(np.atleast_1d(cap)):
            if not np.isfinite(c) or c <= 0:
                raise ValueError(f"max_cost{'' if cap.ndim == 0 else f'[{i}]'} = {c}: must be finite and > 0")
        if oversize not in OVERSIZE_POLICIES:
            raise ValueError(f"oversize={oversize!r}: expected one of {OVERSIZE_POLICIES}")
        if method not in ("auto", "ffd", "bfd"):
            raise ValueError(f"method={method!r}: expected 'auto', 'ffd' (first fit) or 'bfd' (best fit)")
        self.costs, self.max_cost, self.method, self.oversize = costs, cap, method, oversize

        over = costs > cap if costs.ndim == 1 else (costs > cap).any(axis=1)
        over_idx = np.flatnonzero(over)
        if over_idx.size:
            i = int(over_idx[0])
            what = (f"{over_idx.size} item(s) cost more than max_cost={cap.tolist()} "
                    f"(first: item {i}, cost {np.round(costs[i], 6).tolist()})")
            if oversize == "error":
                raise OversizeItemError(f"{what}; raise max_cost, or pass oversize='alone' (own batch) "
                                        "or oversize='skip' (left out)")
            warnings.warn(f"{what}: {'each gets a batch of its own' if oversize == 'alone' else 'left out'}"
                          f" (oversize={oversize!r})", stacklevel=3)
        self.fit_idx = np.flatnonzero(~over).astype(np.int64)
        self.alone_idx = over_idx.astype(np.int64) if oversize == "alone" else np.empty(0, np.int64)
        self.skipped = int(over_idx.size) if oversize == "skip" else 0
        if self.fit_idx.size == 0 and self.alone_idx.size == 0:
            raise OversizeItemError(
                "every item costs more than max_cost and oversize='skip': nothing to batch")
        fitting = costs[self.fit_idx]
        self.lower_bound = (float(packing.lower_bound(fitting, capacity=cap)) if fitting.size else 0.0) \
            + self.alone_idx.size

    def pack(self, rng: np.random.Generator, shuffle: bool, granularity: float
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One packing: CSR offsets, items and the real cost of every batch (oversize ones last)."""
        idx = self.fit_idx
        if idx.size:
            real = self.costs[idx]
            order = rng.permutation(idx.size).astype(np.int64) if shuffle else None
            keys = coarsen(real, granularity, rng, up=True, cap=self.max_cost) if shuffle else real
            bin_of, nb = packing.pack(np.ascontiguousarray(keys), self.max_cost if self.max_cost.ndim else
                                      float(self.max_cost), method=self.method, order=order)
            bin_of = np.asarray(bin_of, dtype=np.int64)
            offsets, local = packing.group(bin_of, int(nb))
            offsets, items = np.asarray(offsets, np.int64), idx[np.asarray(local, np.int64)]
            costs = bin_totals(real, bin_of, int(nb))
        else:
            offsets, items = np.zeros(1, np.int64), np.empty(0, np.int64)
            costs = np.empty((0,) + self.costs.shape[1:])
        a = self.alone_idx
        if a.size:
            offsets = np.concatenate([offsets, offsets[-1] + np.arange(1, a.size + 1)])
            items = np.concatenate([items, a])
            costs = np.concatenate([costs, self.costs[a]])
        return offsets, items, costs

    def info(self) -> dict:
        return {"max_cost": self.max_cost.tolist(), "lower_bound": self.lower_bound,
                "oversize_alone": int(self.alone_idx.size), "oversize_skipped": self.skipped}


class PackedBatchSampler(PlanBatchSampler):
    """Batches of varying size whose cost stays within ``max_cost``, in as few batches as possible.

    Items are packed first-fit (``method="ffd"``) or best-fit (``"bfd"``) decreasing by the C++ core
    in O(n log n); the default ``"auto"`` also tries balanced partitions into fewer batches where
    first fit stays above the lower bound (see :func:`hullpack.packing.pack`). The cost of an item is its size; with ``(n, k)`` sizes and a vector ``max_cost``
    every column has its own budget (say nodes and edges); with a scalar ``max_cost`` the cost is
    ``cost(sizes)`` for a :class:`~hullpack.samplers.LinearCost` or
    :class:`~hullpack.samplers.MemoryModel` (or ``weights=``/``bias=``), else the sizes summed over
    columns.

    Args:
        sizes: ``(n,)`` or ``(n, k)`` item sizes, or a graph dataset (sizes read once, see
            :func:`~hullpack.samplers.graph_sizes`; ``fields`` picks the columns).
        max_cost: budget of one batch (scalar, or one per column).
        oversize: an item over budget raises (``"error"``), gets a batch of its own (``"alone"``,
            warned) or is left out (``"skip"``, warned); ``stats()`` counts them.
        shuffle: a different packing and batch order every epoch (seeded by ``seed`` and the epoch
            set by :meth:`set_epoch`); off, every epoch yields the same batches, heaviest first.
        drop_last: leave out the epoch's under-filled remainder: batches below half the budget
            (first/best fit leaves at most one such batch for a scalar budget).
        granularity: with ``shuffle``, costs are rounded up to a geometric grid of this relative
            step before packing, so near-equal items trade places between epochs; the real batch
            cost never exceeds ``max_cost``, the count may grow by about this fraction.

    >>> import numpy as np
    >>> sizes = np.random.default_rng(0).lognormal(3, 1, 1000).round()
    >>> sampler = PackedBatchSampler(sizes, max_cost=2000, seed=0)
    >>> batches = list(sampler)
    >>> len(batches) == len(sampler)
    True
    >>> sorted(i for b in batches for i in b) == list(range(1000))
    True
    >>> bool(max(sizes[b].sum() for b in batches) <= 2000)
    True
    >>> s = sampler.stats()
    >>> s["num_batches"] <= 1.03 * s["lower_bound"]
    True
    """

    def __init__(self, sizes: Any, max_cost: Any, *, cost: Callable | None = None,
                 weights: Sequence[float] | None = None, bias: float | None = None, method: str = "auto",
                 shuffle: bool = True, seed: int = 0, oversize: str = "error", drop_last: bool = False,
                 granularity: float = 0.01, fields: Sequence | None = None):
        super().__init__(shuffle=shuffle, seed=seed, drop_last=drop_last, granularity=granularity)
        self.sizes = read_sizes(sizes, fields)
        self.budget = _Budget(self.sizes, max_cost, cost, weights, bias, oversize, method)
        self.max_cost = self.budget.max_cost
        self._set_fingerprint(self.budget.costs)

    def _config(self) -> tuple:
        b = self.budget
        return super()._config() + (b.max_cost.tolist(), b.method, b.oversize)

    def _build(self, epoch: int) -> Plan:
        rng = self.rng(epoch)
        offsets, items, costs = self.budget.pack(rng, self.shuffle, self.granularity)
        info = self.budget.info()
        info["dropped_items"] = 0
        if self.drop_last:
            keep = np.flatnonzero(fill(costs, self.max_cost) >= 0.5)
            if keep.size < costs.shape[0]:
                info["dropped_items"] = int(np.diff(offsets).sum() - np.diff(offsets)[keep].sum())
                offsets, items = reorder(offsets, items, keep)
                costs = costs[keep]
        # Shuffled, or heaviest first so that a batch too large for the device fails at once.
        perm = rng.permutation(costs.shape[0]) if self.shuffle else np.argsort(-fill(costs, self.max_cost),
                                                                               kind="stable")
        offsets, items = reorder(offsets, items, perm)
        costs = costs[perm]
        info["fill_mean"] = float(fill(costs, self.max_cost).mean()) if costs.shape[0] else 0.0
        info["batches_over_lower_bound"] = costs.shape[0] / max(info["lower_bound"], 1.0)
        return Plan(offsets, items, costs, info)
