"""A cost budget for packed batches: item costs checked against ``max_cost`` once (the oversize
policy applied), then packed by the C++ core epoch by epoch: first- or best-fit decreasing for
summed costs, sorted runs for padded batch cost shapes.

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
from .cost import item_costs
from .shape import (BatchCost, FunctionCost, alone_costs, pack_shaped, resolve_batch_cost, shaped_costs,
                    shaped_lower_bound)

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

    ``max_cost`` is a number (one budget on the batch cost: the item costs summed, or ``batch_cost``
    of their lengths) or a vector (one budget per size column, the costs summed). Item costs (or
    lengths) are the sizes, summed over columns, or ``cost(sizes)`` for a cost model. Items over
    budget on their own raise :class:`~hullpack.errors.OversizeItemError` (``oversize="error"``),
    get a batch of their own (``"alone"``) or are left out (``"skip"``), both with a warning.

    Summed costs are packed first/best fit (best fit over histograms for integer costs with
    ``method="auto"``); a :class:`~hullpack.samplers.BatchCost` without padding terms likewise, on
    its per-item costs, with ``const`` taken off the budget; padded shapes and functions of the
    lengths by sorted runs (:mod:`.shape`). With ``shuffle``, costs are rounded up to the epoch's
    ``granularity`` grid, except integer costs with at least 8 items per possible value
    (``n >= 8 * (max + 1)``): their ties alone vary the epochs, and they stay integers for the
    histogram path.

    >>> b = Budget(np.array([3.0, 9.0, 4.0, 5.0]), 10.0, None, None, None, "error", "auto")
    >>> offsets, items, costs = b.pack(np.random.default_rng(0), shuffle=False, granularity=0.0)
    >>> [items[offsets[i]:offsets[i + 1]].tolist() for i in range(len(costs))], costs.tolist()
    ([[1], [2, 3], [0]], [9.0, 9.0, 3.0])
    >>> b.min_batches
    3
    """

    def __init__(self, sizes: np.ndarray, max_cost: Any, cost: Any, weights: Any, bias: Any,
                 oversize: str, method: str, batch_cost: Any = None):
        model, shape = resolve_batch_cost(batch_cost, cost, weights, bias)
        cap = _as_budget(max_cost)
        if cap.ndim == 1 and cap.size == 1 and (sizes.ndim == 1 or model is not None or shape is not None):
            cap = cap.reshape(())
        if cap.ndim == 0:
            lengths = item_costs(sizes, model)
        elif cap.ndim == 1:
            if model is not None or shape is not None:
                raise ValueError("a vector max_cost budgets each size column separately; it cannot be "
                                 "combined with a cost model or a batch_cost other than 'sum' (use a scalar "
                                 "max_cost with cost= / batch_cost=)")
            if sizes.ndim != 2 or sizes.shape[1] != cap.size:
                raise InvalidSizesError(
                    f"max_cost has {cap.size} entries but sizes have "
                    f"{sizes.shape[1] if sizes.ndim == 2 else 1} column(s); give one budget per column"
                )
            lengths = sizes
        else:
            raise ValueError(f"max_cost: expected a number or a vector, got shape {cap.shape}")
        for i, c in enumerate(np.atleast_1d(cap)):
            if not np.isfinite(c) or c <= 0:
                raise ValueError(f"max_cost{'' if cap.ndim == 0 else f'[{i}]'} = {c}: must be finite and > 0")
        if oversize not in OVERSIZE_POLICIES:
            raise ValueError(f"oversize={oversize!r}: expected one of {OVERSIZE_POLICIES}")
        if method not in ("auto", "ffd", "bfd"):
            raise ValueError(f"method={method!r}: expected 'auto', 'ffd' (first fit) or 'bfd' (best fit)")
        self.lengths, self.max_cost, self.method, self.oversize, self.shape = lengths, cap, method, oversize, shape
        # What the packer sees: per-item costs under a budget less the fixed per-batch cost, or the
        # lengths themselves for sorted runs.
        self.runs = shape is not None and not (isinstance(shape, BatchCost) and shape.additive)
        self.const = shape.const if isinstance(shape, BatchCost) else 0.0
        self.costs = shape.item_costs(lengths) if shape is not None and not self.runs else lengths
        if cap.ndim == 0 and self.const >= cap:
            raise ValueError(f"max_cost = {float(cap)} is not above the fixed cost of a batch, const = {self.const}")
        room = cap - self.const

        over = alone_costs(shape, lengths, float(cap)) if self.runs else (
            self.costs > room if self.costs.ndim == 1 else (self.costs > room).any(axis=1))
        over_idx = np.flatnonzero(over)
        if over_idx.size:
            i = int(over_idx[0])
            alone = "alone " if shape is not None else ""
            kind = "length" if shape is not None else "cost"
            what = (f"{over_idx.size} item(s) cost more than max_cost={cap.tolist()} {alone}"
                    f"(first: item {i}, {kind} {np.round(lengths[i], 6).tolist()})")
            if oversize == "error":
                exc = OversizeItemError(
                    f"{what}: no batch can hold them. Raise max_cost, or pass oversize='alone' (own batch) "
                    "or oversize='skip' (left out)")
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
        fitting = self.costs[self.fit_idx]
        if not fitting.size:
            bound = 0.0
        elif self.runs:
            bound = shaped_lower_bound(shape, fitting, float(cap))
        else:
            bound = float(packing.lower_bound(fitting, capacity=room))
        self.lower_bound = bound + self.alone_idx.size
        # Integer costs with at least 8 items per possible value are not rounded: ties alone vary
        # the epochs, and the histogram path (method="auto") packs them. Fewer items per value are
        # rounded like any costs (to the grid, so no longer integers) and packed first fit.
        integral = (not self.runs and fitting.ndim == 1 and fitting.size > 0
                    and bool(np.array_equal(fitting, np.round(fitting))))
        self._round = not (integral and float(fitting.max()) + 1 <= fitting.size / 8)

    @property
    def min_batches(self) -> int:
        """The fewest batches any epoch can pack into (:attr:`lower_bound`, which holds for every
        epoch: the rounded-up costs packed with ``shuffle`` cannot need fewer batches)."""
        return int(round(self.lower_bound))

    def pack(self, rng: np.random.Generator, shuffle: bool, granularity: float
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One packing: CSR offsets, items and the real cost of every batch (oversize ones last)."""
        idx = self.fit_idx
        if idx.size and self.runs:
            bin_of, nb, costs = pack_shaped(self.shape, self.costs[idx], float(self.max_cost), rng, shuffle,
                                            granularity)
            offsets, local = packing.group(bin_of, nb)
            items = idx[local]
        elif idx.size:
            real = self.costs[idx] if idx.size < self.costs.shape[0] else self.costs
            room = self.max_cost - self.const
            order = rng.permutation(idx.size) if shuffle else None
            keys = coarsen(real, granularity, rng, up=True, cap=room) if shuffle and self._round else real
            bin_of, nb = packing.pack(np.ascontiguousarray(keys), room if room.ndim else float(room),
                                      method=self.method, order=order)
            offsets, local = packing.group(bin_of, nb)
            items = idx[local] if idx.size < self.costs.shape[0] else local
            costs = bin_totals(real, bin_of, nb) + self.const
        else:
            offsets, items = np.zeros(1, np.int64), np.empty(0, np.int64)
            costs = np.empty((0,) + self.costs.shape[1:])
        a = self.alone_idx
        if a.size:
            offsets = np.concatenate([offsets, offsets[-1] + np.arange(1, a.size + 1)])
            items = np.concatenate([items, a])
            alone = np.arange(a.size + 1, dtype=np.int64)
            costs = np.concatenate([costs, self.batch_costs(alone, a)])
        return offsets, items, costs

    def batch_costs(self, offsets: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The real cost of every batch of a CSR layout (after batches are split, say)."""
        if self.runs:
            return shaped_costs(self.shape, self.costs, offsets, items)
        nb = offsets.size - 1
        bins = np.repeat(np.arange(nb, dtype=np.int64), np.diff(offsets))
        return bin_totals(np.ascontiguousarray(self.costs[items]), bins, nb) + self.const

    def init_kwargs(self) -> dict:
        """The arguments that rebuild this budget from the lengths (``sizes=``)."""
        shape = "sum" if self.shape is None else self.shape
        return {"sizes": self.lengths, "max_cost": self.max_cost, "method": self.method, "oversize": self.oversize,
                "batch_cost": shape.fn if isinstance(shape, FunctionCost) else shape}

    def config(self) -> tuple:
        """What changes the batches, for a sampler's fingerprint."""
        return (self.max_cost.tolist(), self.method, self.oversize, repr(self.shape))

    def info(self) -> dict:
        # A function of the lengths has no known bound on the batch count beyond one batch.
        bound = None if isinstance(self.shape, FunctionCost) else self.lower_bound
        out = {"max_cost": self.max_cost.tolist(), "lower_bound": bound,
               "oversize_alone": int(self.alone_idx.size), "oversize_skipped": self.skipped}
        if self.shape is not None:
            out["batch_cost"] = repr(self.shape)
        return out
