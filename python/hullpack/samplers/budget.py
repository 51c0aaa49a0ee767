"""A cost budget for packed batches: item costs checked against ``max_cost`` once (the oversize
policy applied), then packed first- or best-fit decreasing by the C++ core, epoch by epoch.

:class:`Budget` is shared by :class:`~hullpack.samplers.PackedBatchSampler` and the packed mode of
:class:`~hullpack.samplers.DistributedBalancedBatchSampler`.
"""
from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from .. import packing
from ..errors import InvalidSizesError, OversizeItemError
from ._base import coarsen
from .cost import item_costs, resolve_cost

log = logging.getLogger(__name__)

OVERSIZE_POLICIES = ("error", "alone", "skip")


def bin_totals(costs: np.ndarray, bin_of_item: np.ndarray, n_bins: int) -> np.ndarray:
    """Per-batch cost totals, ``(n_bins,)`` or ``(n_bins, k)`` for multi-column costs."""
    if costs.ndim == 1:
        return np.asarray(packing.batch_costs(costs, bin_of_item, n_bins), dtype=np.float64)
    return np.column_stack([packing.batch_costs(np.ascontiguousarray(costs[:, j]), bin_of_item, n_bins)
                            for j in range(costs.shape[1])])


def _as_budget(max_cost: Any) -> np.ndarray:
    if isinstance(max_cost, (bool, np.bool_, str, bytes)):
        raise ValueError(f"max_cost: expected a number or a vector of numbers, got {max_cost!r}")
    try:
        return np.asarray(max_cost, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"max_cost: expected a number or a vector of numbers, got {max_cost!r}") from None


def fill(costs: np.ndarray, max_cost: np.ndarray) -> np.ndarray:
    """How full each batch is: cost / budget, the fullest column for multi-column budgets."""
    f = costs / max_cost
    return f if f.ndim == 1 else f.max(axis=1)


class Budget:
    """Item costs checked against a budget once, with the oversize policy applied.

    ``max_cost`` is a number (one budget on the item costs: the sizes, summed over columns, or
    ``cost(sizes)`` for a cost model) or a vector (one budget per size column). Items over budget
    raise :class:`~hullpack.errors.OversizeItemError` (``oversize="error"``), get a batch of their
    own (``"alone"``) or are left out (``"skip"``), both with a warning.

    >>> b = Budget(np.array([3.0, 9.0, 4.0, 5.0]), 10.0, None, None, None, "error", "auto")
    >>> offsets, items, costs = b.pack(np.random.default_rng(0), shuffle=False, granularity=0.0)
    >>> [items[offsets[i]:offsets[i + 1]].tolist() for i in range(len(costs))], costs.tolist()
    ([[1], [2, 3], [0]], [9.0, 9.0, 3.0])
    >>> b.min_batches
    3
    """

    def __init__(self, sizes: np.ndarray, max_cost: Any, cost: Any, weights: Any, bias: Any,
                 oversize: str, method: str):
        model = resolve_cost(cost, weights, bias)
        cap = _as_budget(max_cost)
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
                exc = OversizeItemError(
                    f"{what}: no batch can hold them. Raise max_cost, or pass oversize='alone' to give "
                    "each of them a batch of its own, or oversize='skip' to leave them out")
                exc.items, exc.max_cost = over_idx, cap.tolist()  # for callers that word it their own way
                raise exc
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

    @property
    def min_batches(self) -> int:
        """The fewest batches any epoch can pack into (:attr:`lower_bound`, which holds for every
        epoch: the rounded-up costs packed with ``shuffle`` cannot need fewer batches)."""
        return int(round(self.lower_bound))

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
