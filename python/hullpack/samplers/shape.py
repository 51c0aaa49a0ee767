"""Batch cost shapes: what a batch costs when that is not the sum of what its items cost.

A sampler's ``cost=`` turns each item's sizes into one number, its *length* (tokens, nodes, a
memory estimate); ``batch_cost=`` says how the lengths of a batch add up:

- ``"sum"`` (the default): the sum of the lengths (graphs concatenated into one big graph);
- ``"padded"``: ``count x longest`` (sequences or graph tensors padded to the longest item);
- ``"quadratic"``: the sum of squared lengths (attention within each item);
- ``"padded-quadratic"``: ``count x longest**2`` (dense attention over padded items);
- a :class:`BatchCost` mixing these with per-item and per-batch terms, fitted to measured memory
  with :meth:`BatchCost.fit` or taken from a :class:`~hullpack.samplers.MemoryModel`;
- any function of the lengths of a batch.

Sums (and other shapes without padding terms) are packed by first/best fit on per-item costs. A
padded cost depends on the longest item, so items are sorted by length and cut into contiguous
runs: for the padded family that packs into the fewest batches there are, and with a fixed number
of batches it gives the least peak there is, and the least total padding when all batches hold the
same count (:mod:`hullpack.packing_runs` says why).
"""
from __future__ import annotations

import math
from dataclasses import astuple, dataclass, fields
from typing import Any, Callable, Sequence

import numpy as np

from .. import packing, packing_runs
from ..errors import InvalidSizesError
from ._base import coarsen
from ._sizes import as_sizes
from .cost import LinearCost, MemoryModel, nnls_small, refuse_flat_fit, resolve_cost

__all__ = ["BatchCost", "NAMED", "FunctionCost", "resolve_batch_cost", "pack_shaped", "shaped_costs",
           "shaped_lower_bound", "alone_costs", "padding_fill", "shaped_partition", "partition_costs"]


@dataclass(frozen=True)
class BatchCost:
    """A batch of ``m`` items with lengths ``l`` (longest ``L``) costs

    ``sum * Σl + padded * m * L + square * Σl² + padded_square * m * L² + count * m + const``.

    Every term is finite and >= 0. ``BatchCost(padded=1)`` is ``batch_cost="padded"``; a fitted
    memory model of a padded transformer could be ``BatchCost(padded=3e4, padded_square=48, const=2e9)``
    in bytes, with ``max_cost`` the device memory.

    >>> BatchCost(padded=1)([5, 3, 2])           # 3 items padded to 5
    15.0
    >>> BatchCost(sum=1, count=4, const=100)([5, 3, 2])
    122.0
    """

    sum: float = 0.0
    padded: float = 0.0
    square: float = 0.0
    padded_square: float = 0.0
    count: float = 0.0
    const: float = 0.0

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise ValueError(f"BatchCost.{f.name}: expected a number, got {v!r}")
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"BatchCost.{f.name} = {v}: must be finite and >= 0")
            object.__setattr__(self, f.name, float(v))
        if not any((self.sum, self.padded, self.square, self.padded_square, self.count)):
            raise ValueError("BatchCost: every term that grows with the batch is 0 (sum, padded, square, "
                             "padded_square, count); a batch would cost the same whatever it holds")

    @property
    def terms(self) -> tuple[float, ...]:
        """The six terms in the order of :data:`hullpack.packing_runs.TERMS`."""
        return astuple(self)

    @property
    def additive(self) -> bool:
        """No padding terms: a batch costs the sum of per-item costs plus ``const``."""
        return self.padded == 0 and self.padded_square == 0

    def item_costs(self, lengths: np.ndarray) -> np.ndarray:
        """Per-item costs ``sum * l + square * l² + count`` (the whole cost less ``const`` when
        :attr:`additive`)."""
        lengths = np.asarray(lengths, dtype=np.float64)
        return self.sum * lengths + self.square * lengths * lengths + self.count

    def __call__(self, lengths: Any) -> float:
        """The cost of one batch with these lengths."""
        l = np.asarray(lengths, dtype=np.float64).reshape(-1)
        if l.size == 0:
            return 0.0
        m, L = float(l.size), float(l.max())
        # As the core computes it (hullpack.packing_runs.run_costs): terms that are 0 left out.
        per_item = ((self.padded * L if self.padded else 0.0)
                    + (self.padded_square * (L * L) if self.padded_square else 0.0))
        cost = self.const + (self.count * m if self.count else 0.0) + (m * per_item if per_item else 0.0)
        cost += self.sum * float(l.sum()) if self.sum else 0.0
        return float(cost + (self.square * float((l * l).sum()) if self.square else 0.0))

    @classmethod
    def fit(cls, batches: Sequence[Any], peak_bytes: Any,
            terms: Sequence[str] = ("padded", "padded_square", "count", "const")) -> "BatchCost":
        """Fit the given terms (all >= 0) to measured peaks by least squares: ``batches`` are the
        lengths of the items of each probe batch, ``peak_bytes`` their measured peak memory.

        >>> rng = np.random.default_rng(0)
        >>> probes = [rng.integers(10, 500, size=int(m)) for m in rng.integers(1, 64, 12)]
        >>> peaks = [2e8 + 3e4 * len(b) * b.max() + 48.0 * len(b) * b.max() ** 2 for b in probes]
        >>> fitted = BatchCost.fit(probes, peaks)
        >>> round(fitted.padded), round(fitted.padded_square), round(fitted.const / 1e6)
        (30000, 48, 200)
        """
        names = [f.name for f in fields(cls)]
        unknown = [t for t in terms if t not in names]
        if unknown or not terms:
            raise ValueError(f"terms: expected some of {names}, got {list(terms)}")
        y = as_sizes(peak_bytes, "peak_bytes").reshape(-1)
        if len(batches) != y.size:
            raise InvalidSizesError(f"batches ({len(batches)}) and peak_bytes ({y.size}) must have one entry per probe")
        unit = {name: cls(**{name: 1.0}) for name in terms if name != "const"}
        X = np.array([[1.0 if name == "const" else unit[name](b) for name in terms] for b in batches])
        if np.linalg.matrix_rank(X / np.maximum(np.linalg.norm(X, axis=0), 1e-300)) < len(terms):
            raise InvalidSizesError(f"the {y.size} probe batches cannot separate the terms {list(terms)}; "
                                    "probe batches of different counts and lengths")
        coef = nnls_small(X, y)
        grows = [name != "const" for name in terms]
        refuse_flat_fit(X[:, grows] @ coef[grows], y)
        return cls(**dict(zip(terms, coef.tolist())))


#: The named shapes a sampler's ``batch_cost=`` takes.
NAMED = {"sum": BatchCost(sum=1), "padded": BatchCost(padded=1), "quadratic": BatchCost(square=1),
         "padded-quadratic": BatchCost(padded_square=1)}


class FunctionCost:
    """A batch cost given as a function of the lengths of a batch (longest first); it must be
    monotone: adding an item, or lengthening one, never lowers the cost."""

    def __init__(self, fn: Callable[[np.ndarray], float]):
        self.fn = fn

    def __call__(self, lengths: Any) -> float:
        l = np.sort(np.asarray(lengths, dtype=np.float64).reshape(-1))[::-1]
        out = self.fn(np.ascontiguousarray(l))
        try:
            value = float(out)
        except (TypeError, ValueError):
            raise ValueError(f"batch_cost returned {out!r} for a batch; expected a number") from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"batch_cost returned {value} for a batch of {l.size} items; costs must be finite "
                             "and >= 0")
        return value

    def __repr__(self) -> str:
        return f"FunctionCost({getattr(self.fn, '__name__', self.fn)!r})"


def resolve_batch_cost(batch_cost: Any, cost: Any, weights: Any, bias: Any
                       ) -> tuple[Callable[[np.ndarray], np.ndarray] | None, BatchCost | FunctionCost | None]:
    """``(item model, shape)`` from a sampler's ``batch_cost=`` and ``cost=``/``weights=``/``bias=``:
    the model turns sizes into lengths (None: the sizes themselves, summed over columns), the shape
    adds lengths up into a batch cost (None: their sum, the samplers' plain path)."""
    if isinstance(batch_cost, MemoryModel):
        if cost is not None or weights is not None or bias is not None:
            raise ValueError("batch_cost=MemoryModel(...) brings its own per-item weights; drop cost=/weights=/bias=")
        # intercept + summed sizes @ weights + count * bias: lengths sizes @ weights, summed.
        return LinearCost(batch_cost.weights), BatchCost(sum=1, count=batch_cost.bias, const=batch_cost.intercept)
    model = resolve_cost(cost, weights, bias)
    if batch_cost is None:
        return model, None
    if isinstance(batch_cost, str):
        if batch_cost not in NAMED:
            raise ValueError(f"batch_cost={batch_cost!r}: expected one of {sorted(NAMED)}, a BatchCost, a "
                             "MemoryModel or a function of a batch's lengths")
        return model, (None if batch_cost == "sum" else NAMED[batch_cost])
    if isinstance(batch_cost, BatchCost):
        return model, (None if batch_cost == NAMED["sum"] else batch_cost)
    if isinstance(batch_cost, LinearCost):
        raise ValueError("batch_cost: a LinearCost turns sizes into item costs; pass it as cost= (and "
                         "batch_cost='padded' or another shape if a batch is not the sum of its items)")
    if callable(batch_cost):
        return model, batch_cost if isinstance(batch_cost, FunctionCost) else FunctionCost(batch_cost)
    raise ValueError(f"batch_cost: expected 'sum', 'padded', 'quadratic', 'padded-quadratic', a BatchCost, a "
                     f"MemoryModel or a function of a batch's lengths, got {type(batch_cost).__name__}")


# ---------------------------------------------------------------------------------------------
# Packing under a budget (PackedBatchSampler, packed DDP): shapes with padding terms, functions
# ---------------------------------------------------------------------------------------------

def alone_costs(shape: BatchCost | FunctionCost, lengths: np.ndarray, max_cost: float) -> np.ndarray:
    """Which items cost more than ``max_cost`` on their own, as a boolean mask."""
    if isinstance(shape, BatchCost):
        return packing_runs.alone_cost(lengths, shape.terms) > max_cost
    # A monotone function: the longest length that fits alone, by bisection over the distinct ones.
    distinct = np.unique(lengths)
    lo, hi = -1, distinct.size  # distinct[lo] fits (or none), distinct[hi] does not (or none left)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if shape(distinct[mid:mid + 1]) <= max_cost:
            lo = mid
        else:
            hi = mid
    return lengths > distinct[lo] if lo >= 0 else np.ones(lengths.shape, dtype=bool)


def _keys(real: np.ndarray, rng: np.random.Generator, shuffle: bool, granularity: float) -> np.ndarray | None:
    """Lengths rounded up to the epoch's grid, which order the items (near-equal ones tie and trade
    places; runs are priced on the real lengths); None where the lengths order them themselves."""
    if not shuffle or granularity <= 0:
        return None
    return np.ascontiguousarray(coarsen(real, granularity, rng, up=True))


def pack_shaped(shape: BatchCost | FunctionCost, real: np.ndarray, max_cost: float, rng: np.random.Generator,
                shuffle: bool, granularity: float) -> tuple[np.ndarray, int, np.ndarray]:
    """Sorted-run packing of lengths ``real`` under ``shape``: ``(bin_of_item, n_bins, batch costs)``."""
    order = rng.permutation(real.size) if shuffle else None
    keys = _keys(real, rng, shuffle, granularity)
    if isinstance(shape, BatchCost):
        bins, n_bins = packing_runs.pack_runs(real, max_cost, shape.terms, order=order, keys=keys)
        return bins, n_bins, packing_runs.run_costs(real, bins, n_bins, shape.terms)
    seq = np.arange(real.size) if order is None else order
    by = real if keys is None else keys
    seq = seq[np.argsort(-by[seq], kind="stable")]  # longest first, ties in the epoch's order
    ordered = real[seq]  # in the keys' order; FunctionCost hands each run to the function longest first
    starts, p, n = [], 0, real.size
    while p < n:  # the longest run from p within budget: gallop, then bisect
        good, step = p + 1, 1
        while good < n and shape(ordered[p:min(n, good + step)]) <= max_cost:
            good, step = min(n, good + step), 2 * step
        bad = min(n + 1, good + step)
        while bad - good > 1:
            mid = (good + bad) // 2
            if mid <= n and shape(ordered[p:mid]) <= max_cost:
                good = mid
            else:
                bad = mid
        starts.append(p)
        p = good
    bounds = np.append(starts, n)
    bins = np.empty(n, dtype=np.int64)
    bins[seq] = np.repeat(np.arange(len(starts)), np.diff(bounds))
    costs = np.array([shape(ordered[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])
    return bins, len(starts), costs


def shaped_costs(shape: BatchCost | FunctionCost, lengths: np.ndarray, offsets: np.ndarray,
                 items: np.ndarray) -> np.ndarray:
    """The cost of every batch of a CSR layout under ``shape``."""
    nb = offsets.size - 1
    if isinstance(shape, BatchCost):
        bins = np.repeat(np.arange(nb, dtype=np.int64), np.diff(offsets))
        return packing_runs.run_costs(np.ascontiguousarray(lengths[items]), bins, nb, shape.terms)
    return np.array([shape(lengths[items[offsets[b]:offsets[b + 1]]]) for b in range(nb)])


def padding_fill(lengths: np.ndarray, offsets: np.ndarray, items: np.ndarray) -> float:
    """Mean over batches of real / padded elements: sum of lengths / (count x longest)."""
    counts = np.diff(offsets)
    full = counts > 0
    if not full.any():
        return 1.0
    l = lengths[items]
    starts = offsets[:-1][full]
    longest = np.maximum.reduceat(l, starts)
    padded = counts[full] * longest
    real = np.add.reduceat(l, starts)
    return float(np.mean(np.where(padded > 0, real / np.where(padded > 0, padded, 1), 1.0)))


def shaped_lower_bound(shape: BatchCost | FunctionCost, lengths: np.ndarray, max_cost: float) -> float:
    """A lower bound on the batch count (for a function: 1, the only one known)."""
    if isinstance(shape, BatchCost):
        return packing_runs.lower_bound_runs(lengths, max_cost, shape.terms)
    return 1.0


# ---------------------------------------------------------------------------------------------
# Splitting into a fixed number of batches (BalancedBatchSampler, balanced DDP)
# ---------------------------------------------------------------------------------------------

def partition_costs(shape: BatchCost | FunctionCost | None, lengths: np.ndarray) -> np.ndarray:
    """What :func:`shaped_partition` takes as ``costs``: per-item costs for an additive shape (so the
    balanced split of sums applies), the lengths otherwise."""
    if isinstance(shape, BatchCost) and shape.additive:
        return shape.item_costs(lengths)
    return lengths


def shaped_partition(shape: BatchCost | FunctionCost, partition: Callable, costs: np.ndarray, keep: np.ndarray,
                     n_batches: int, max_batch_size: int, rng: np.random.Generator, shuffle: bool,
                     granularity: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``partition`` (the balanced split of summed costs) adapted to ``shape``: CSR offsets, items, the
    cost of every batch and a lower bound on the peak.

    An additive shape balances its per-item costs (``costs`` holds them) and adds ``const``. A
    shape with padding terms, or a function, sorts the lengths (``costs`` holds them) and cuts
    them into runs, the shorter runs first: for the padded family the least peak there is
    (:func:`hullpack.packing_runs.cut_sorted`)."""
    if isinstance(shape, BatchCost) and shape.additive:
        offsets, items, batch, lb = partition(costs, keep, n_batches, max_batch_size, rng, shuffle, granularity)
        return offsets, items, batch + shape.const, lb + shape.const
    real = costs[keep]
    m, B = int(keep.size), int(n_batches)
    order = rng.permutation(m) if shuffle else None
    keys = coarsen(real, granularity, rng, up=False) if shuffle else real
    bins = packing_runs.cut_sorted(np.ascontiguousarray(keys), B, order=order)
    offsets, local = packing.group(bins, B)
    items = keep[local]
    batch = shaped_costs(shape, costs, offsets, items)
    # cut_sorted makes r = m % B batches of q + 1 items and the others of q = m // B. The batch
    # holding the longest item has at least q items: at best the shortest others. The batches of
    # q + 1 items hold r (q + 1) distinct items, so the longest of them is at least the
    # r (q + 1)-th shortest item, and its batch holds q others, at best the q shortest (distinct
    # from it, as r (q + 1) > q). A shape never costs less for longer or more items.
    q, r = divmod(m, B)
    by_length = np.sort(real)
    lb = shape(np.concatenate([by_length[-1:], by_length[:q - 1]]))
    if r:
        k = r * (q + 1)
        lb = max(lb, shape(np.concatenate([by_length[k - 1:k], by_length[:q]])))
    if isinstance(shape, BatchCost):  # and on average: every item as if it were its batch's longest
        t = shape
        per_item = t.count + (t.sum + t.padded) * real + (t.square + t.padded_square) * real * real
        lb = max(lb, t.const + float(per_item.sum()) / B)
    return offsets, items, batch, float(lb)
