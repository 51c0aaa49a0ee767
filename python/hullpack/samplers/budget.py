"""A cost budget for packed batches: item costs checked against ``max_cost`` once (the oversize
policy applied), then packed by the C++ core epoch by epoch: first- or best-fit decreasing for
summed costs, sorted runs for padded batch cost shapes.

:class:`Budget` is shared by :class:`~hullpack.samplers.PackedBatchSampler` and the packed mode of
:class:`~hullpack.samplers.DistributedBalancedBatchSampler`.
"""
from __future__ import annotations

import logging
import warnings
from typing import Any, Callable, Literal, cast

import numpy as np

from .. import packing
from .._packing_inputs import check_missing
from ..errors import InvalidInputError, InvalidSizesError, OversizeItemError
from ._base import coarsen, reorder
from ._sizes import row_labels
from .cost import item_costs, labelled, refuse_non_numbers
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
    why = labelled(max_cost)
    if why:
        raise ValueError(f"max_cost: {why}; give a number, or a list with one budget per size column in the order "
                         "of the columns")
    if isinstance(max_cost, (bool, np.bool_, str, bytes)):
        raise ValueError(f"max_cost: expected a number or a vector of numbers, got {max_cost!r}")
    check_missing(max_cost, None, "max_cost", error=InvalidInputError,
                  fix="give the budget of one batch, a number or one per size column")
    refuse_non_numbers(max_cost, "max_cost", ValueError)
    try:
        return np.asarray(max_cost, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"max_cost: expected a number or a vector of numbers, got {max_cost!r}") from None


def _shown(values: Any) -> Any:
    """Costs as a message shows them: rounded to 6 decimals, except where that overflows (1e308)."""
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = np.round(values, 6)
    return np.where(np.isfinite(rounded), rounded, values).tolist()


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
    get a batch of their own (``"alone"``) or are left out (``"skip"``), both with a warning that
    names the first by its position (and, for ``source`` a pandas Series or DataFrame, its row label).

    Summed costs are packed first/best fit (best fit over histograms for integer costs with
    ``method="auto"``); a :class:`~hullpack.samplers.BatchCost` without padding terms likewise, on
    its per-item costs, with ``const`` taken off the budget; padded shapes and functions of the
    lengths by sorted runs (:mod:`.shape`). With ``shuffle``, items are taken in the order of their
    costs rounded up to the epoch's ``granularity`` grid (near-equal ones tie and trade places; the
    budget holds their real costs), except integer costs with at least 8 items per possible value
    (``n >= 8 * (max + 1)``): their ties alone vary the epochs, and they pack by the histogram path.

    An epoch that must have more batches than its packing made (:class:`FixedCount`) gets them from
    :meth:`split`, one rule for one process and for the ranks of a distributed job: batches split in
    two, again and again, and items repeated only once every batch holds one.

    >>> b = Budget(np.array([3.0, 9.0, 4.0, 5.0]), 10.0, None, None, None, "error", "auto")
    >>> offsets, items, costs = b.pack(np.random.default_rng(0), shuffle=False, granularity=0.0)
    >>> [items[offsets[i]:offsets[i + 1]].tolist() for i in range(len(costs))], costs.tolist()
    ([[1], [2, 3], [0]], [9.0, 9.0, 3.0])
    >>> b.lower_bound
    3.0
    """

    def __init__(self, sizes: np.ndarray, max_cost: Any, cost: Any, weights: Any, bias: Any,
                 oversize: str, method: str, batch_cost: Any = None, source: Any = None):
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
                # (k, n) sizes, np.vstack([nodes, edges]) say, with as many rows as budgets
                transposed = (f" (sizes of shape {sizes.shape} have a row per budget: pass them transposed, "
                              f"one row per item, sizes.T)" if sizes.ndim == 2 and sizes.shape[0] == cap.size else "")
                raise InvalidSizesError(
                    f"max_cost has {cap.size} entries but sizes have "
                    f"{sizes.shape[1] if sizes.ndim == 2 else 1} column(s); give one budget per column{transposed}"
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
        self.lengths, self.max_cost, self.oversize, self.shape = lengths, cap, oversize, shape
        self.method = cast(Literal["auto", "ffd", "bfd"], method)  # checked above
        # What the packer sees: per-item costs under a budget less the fixed per-batch cost, or the
        # lengths themselves for sorted runs.
        self.runs = shape is not None and not (isinstance(shape, BatchCost) and shape.additive)
        self.const = shape.const if isinstance(shape, BatchCost) else 0.0
        self.costs = shape.item_costs(lengths) if isinstance(shape, BatchCost) and not self.runs else lengths
        if cap.ndim == 0 and self.const >= cap:
            raise ValueError(f"max_cost = {float(cap)} is not above the fixed cost of a batch, const = {self.const}, "
                             "so no batch fits; raise max_cost above const (in the units of batch_cost)")
        room = cap - self.const

        over = alone_costs(self._run_shape, lengths, float(cap)) if self.runs else (
            self.costs > room if self.costs.ndim == 1 else (self.costs > room).any(axis=1))
        over_idx = np.flatnonzero(over)
        if over_idx.size:
            i = int(over_idx[0])
            what = (f"{over_idx.size} item(s) cost more than max_cost={cap.tolist()} {'alone ' if shape is not None else ''}"
                    f"(first: item {i}{row_labels(source, (i,))}, {self._first_cost(i, room)})")
            if oversize == "error":
                exc = OversizeItemError(
                    f"{what}: no batch can hold them. Raise max_cost, or pass oversize='alone' (own batch) "
                    "or oversize='skip' (left out), or drop them from the sizes")
                exc.items, exc.max_cost = over_idx, cap.tolist()  # for callers that word it their own way
                raise exc
            warnings.warn(f"{what}: {'each gets a batch of its own' if oversize == 'alone' else 'left out'}"
                          f" (oversize={oversize!r})", stacklevel=3)
        self.fit_idx = np.flatnonzero(~over).astype(np.int64)
        self.alone_idx = over_idx.astype(np.int64) if oversize == "alone" else np.empty(0, np.int64)
        self.skipped = int(over_idx.size) if oversize == "skip" else 0
        if self.fit_idx.size == 0 and self.alone_idx.size == 0:
            raise OversizeItemError(
                f"every item costs more than max_cost={cap.tolist()} and oversize='skip': nothing to batch; "
                f"raise max_cost (the least item {'length' if shape is not None else 'cost'} is "
                f"{_shown(lengths.min(axis=0))})")
        fitting = self.costs[self.fit_idx]
        self.lower_bound = self._bound(fitting) + self.alone_idx.size
        # Integer costs with at least 8 items per possible value are not rounded: ties alone vary
        # the epochs, and the histogram path (method="auto") packs them. Fewer items per value are
        # rounded like any costs (to the grid, so no longer integers) and packed first fit.
        integral = (not self.runs and fitting.ndim == 1 and fitting.size > 0
                    and bool(np.array_equal(fitting, np.round(fitting))))
        self._round = not (integral and float(fitting.max()) + 1 <= fitting.size / 8)

    def _first_cost(self, i: int, room: np.ndarray) -> str:
        """What oversize item ``i`` costs, as its message names it: its length and the cost of a batch
        of it alone under a batch cost shape, else its cost (with a vector budget, the column over)."""
        if self.shape is not None:
            alone = float(self.shape(self.lengths[i:i + 1]))
            return f"length {_shown(self.lengths[i])}, alone costing {_shown(alone)}"
        if room.ndim == 0:
            return f"cost {_shown(self.costs[i])}"
        col = int(np.argmax(self.costs[i] > room))
        return f"cost {_shown(self.costs[i])}, {_shown(self.costs[i, col])} > " \
               f"{room[col].tolist()} in column {col}"

    @property
    def _run_shape(self) -> BatchCost | FunctionCost:
        """The batch cost shape packed by sorted runs (``self.runs``: there is one)."""
        assert self.shape is not None, "sorted runs only pack under a batch cost shape"
        return self.shape

    def _bound(self, fitting: np.ndarray) -> float:
        """A lower bound on the batches that the items of costs ``fitting`` (none oversize) need."""
        if not fitting.size:
            return 0.0
        if self.runs:
            return shaped_lower_bound(self._run_shape, fitting, float(self.max_cost))
        return float(packing.lower_bound(fitting, capacity=self.max_cost - self.const))

    def bound_of(self, items: np.ndarray) -> float | None:
        """The lower bound on the batch count of the items ``items`` only (those an epoch keeps),
        None for a function of the lengths (no bound known beyond one batch)."""
        if isinstance(self.shape, FunctionCost):
            return None
        alone = np.isin(items, self.alone_idx)
        return self._bound(self.costs[items[~alone]]) + int(alone.sum())

    def pack(self, rng: np.random.Generator, shuffle: bool, granularity: float
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One packing: CSR offsets, items and the real cost of every batch (oversize ones last)."""
        idx = self.fit_idx
        if idx.size and self.runs:
            bin_of, nb, costs = pack_shaped(self._run_shape, self.costs[idx], float(self.max_cost), rng, shuffle,
                                            granularity)
            offsets, local = packing.group(bin_of, nb)
            items = idx[local]
        elif idx.size:
            real = self.costs[idx] if idx.size < self.costs.shape[0] else self.costs
            room = self.max_cost - self.const
            order = rng.permutation(idx.size) if shuffle else None
            # Rounded costs only order the items (near-equal ones tie and trade places from epoch to
            # epoch); the budget holds the real costs, so no batch loses the room rounding up adds.
            keys = None
            if shuffle and self._round and granularity > 0:
                rounded = coarsen(real, granularity, rng, up=True, cap=room, one_offset=True)
                keys = np.ascontiguousarray(rounded if rounded.ndim == 1 else (rounded / room).max(axis=1))
            bin_of, nb = packing.pack(real, room if room.ndim else float(room),
                                      method=self.method, order=order, keys=keys)
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
            return shaped_costs(self._run_shape, self.costs, offsets, items)
        nb = offsets.size - 1
        bins = np.repeat(np.arange(nb, dtype=np.int64), np.diff(offsets))
        return bin_totals(np.ascontiguousarray(self.costs[items]), bins, nb) + self.const

    def dissolve(self, offsets: np.ndarray, items: np.ndarray, costs: np.ndarray, sources: np.ndarray,
                 targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The batches ``sources`` emptied into the room the batches ``targets`` have left: each item,
        the largest first, goes to the target with the most room (relative to the budget, in its
        fullest column) that still fits it, on the real costs; the other batches keep their order.
        None where an item fits nowhere, and for sorted runs (a batch cost that is not a sum)."""
        if self.runs or not targets.size:
            return None
        cap, nb = self.max_cost, costs.shape[0]
        room = (cap - costs[targets]) / cap  # (t,) or (t, k)
        pos = np.concatenate([np.arange(offsets[b], offsets[b + 1]) for b in sources])
        need = self.costs[items[pos]] / cap
        bins = np.repeat(np.arange(nb, dtype=np.int64), np.diff(offsets))
        for p in np.argsort(-(need if need.ndim == 1 else need.max(axis=1)), kind="stable"):
            fits = room >= need[p] if room.ndim == 1 else (room >= need[p]).all(axis=1)
            if not fits.any():
                return None
            j = int(np.argmax(np.where(fits, room if room.ndim == 1 else room.min(axis=1), -np.inf)))
            room[j] -= need[p]
            bins[pos[p]] = targets[j]
        keep = np.setdiff1d(np.arange(nb), sources)
        number = np.full(nb, -1, dtype=np.int64)
        number[keep] = np.arange(keep.size)
        offsets, local = packing.group(number[bins], keep.size)
        items = items[local]
        costs = self.batch_costs(offsets, items)
        return None if np.any(costs > cap) else (offsets, items, costs)  # rounding of the sums: checked

    def leave_out_random(self, offsets: np.ndarray, items: np.ndarray, drop: np.ndarray,
                         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
        """The batches ``drop`` left out without leaving out their items: those (the smallest, as
        first/best fit and sorted runs pack them last) go, largest first, into the room the other
        batches have left, and where that is not enough, items of the kept batches taken in a random
        order (``rng``) are left out one at a time, each batch that loses one refilled from the items
        still waiting. So the items an epoch leaves out are random ones, about the cost of the
        batches dropped, not the same smallest items every epoch. Oversize items alone in their batch
        stay. Returns the kept batches (in their order), their real costs and how many items are left
        out; None where a sum's running room drifted by rounding past the budget."""
        nb = offsets.size - 1
        keep = np.setdiff1d(np.arange(nb), drop)
        bins = np.repeat(np.arange(nb, dtype=np.int64), np.diff(offsets))
        costs = self.batch_costs(offsets, items)
        room = _RunRoom(self, offsets, items, costs) if self.runs else _SumRoom(self, items, costs)
        waiting = np.flatnonzero(np.isin(bins, drop))
        waiting = waiting[np.argsort(-room.size(waiting), kind="stable")]  # largest first
        bins[waiting] = -1

        def refill(b: int) -> None:
            nonlocal waiting
            while waiting.size:
                j = room.largest_fitting(b, waiting)
                if j < 0:
                    return
                room.add(b, waiting[j])
                bins[waiting[j]] = b
                waiting = np.delete(waiting, j)

        for b in keep[np.argsort(-room.slack(keep), kind="stable")]:  # the most room first
            refill(int(b))
        alone = np.isin(items, self.alone_idx)
        for p in rng.permutation(np.flatnonzero(np.isin(bins, keep) & ~alone)):
            if not waiting.size:
                break
            b = int(bins[p])
            room.remove(b, p)
            bins[p] = -1
            refill(b)
        number = np.full(nb, -1, dtype=np.int64)
        number[keep] = np.arange(keep.size)
        kept = bins >= 0
        offsets, local = packing.group(number[bins[kept]], keep.size)
        items = items[kept][local]
        costs = self.batch_costs(offsets, items)
        over = costs > self.max_cost
        if np.any((over if over.ndim == 1 else over.any(axis=1)) & (np.diff(offsets) > 1)):  # oversize alone: over
            return None
        return offsets, items, costs, int((~kept).sum())

    def split(self, offsets: np.ndarray, items: np.ndarray, need: int, rng: np.random.Generator,
              shuffle: bool, pad: bool) -> tuple[np.ndarray, np.ndarray, int]:
        """``need`` more batches: the batches with the most items split in two halves of near-equal
        cost (neither empty; a half never costs more than its batch under a monotone batch cost), the
        second halves appended in the order split, again and again until there are ``need`` more or
        every batch holds one item. Only the batches still missing then (fewer items than batches
        wanted) are, with ``pad``, single-item batches that repeat the first items of the epoch's
        order of the items (a permutation drawn from ``rng`` with ``shuffle``, else by index), cycling
        through it when there are more of them than items; without ``pad`` they stay missing.
        Returns the layout and the number of repeated items. O(n) plus the split batches per round.

        >>> b = Budget(np.array([1.0, 2.0, 3.0]), 10.0, None, None, None, "error", "auto")
        >>> # one batch of three items, three more batches wanted: two splits, then item 0 repeats
        >>> offsets, items, repeated = b.split(np.array([0, 3]), np.arange(3), 3, None, False, pad=True)
        >>> [items[offsets[i]:offsets[i + 1]].tolist() for i in range(offsets.size - 1)], repeated
        ([[2], [1], [0], [0]], 1)
        """
        while need:
            counts = np.diff(offsets)
            split = np.argsort(-counts, kind="stable")[:need]
            split = split[counts[split] >= 2]  # counts fall along `split`: a prefix of it
            if not split.size:  # every batch holds one item
                break
            offsets, items = self._halve(offsets, items, split)
            need -= int(split.size)
        items = items.astype(np.int64)
        if not (need and pad):
            return offsets, items, 0
        n = self.costs.shape[0]
        pool = rng.permutation(n) if shuffle else np.arange(n)
        copies = np.resize(pool[np.isin(pool, items)][:need], need).astype(np.int64)
        offsets = np.concatenate([offsets, offsets[-1] + np.arange(1, need + 1)])
        return offsets, np.concatenate([items, copies]), need

    def _halve(self, offsets: np.ndarray, items: np.ndarray, split: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        counts = np.diff(offsets)
        nb = counts.size
        items = items.copy()
        first = counts.copy()  # items in the first piece of each batch
        for b in split:
            members = items[offsets[b]:offsets[b + 1]]
            # Deal members, heaviest first, to the lighter half (of equal loads, the one with fewer
            # items, so that zero-cost items are shared too): both halves near half the cost.
            c = self.costs[members]
            c = c if c.ndim == 1 else (c / self.max_cost).max(axis=1)
            halves: list[list[int]] = [[], []]
            load = [0.0, 0.0]
            for i in np.argsort(-c, kind="stable"):
                h = 0 if (load[0], len(halves[0])) <= (load[1], len(halves[1])) else 1
                halves[h].append(int(members[i]))
                load[h] += float(c[i])
            items[offsets[b]:offsets[b + 1]] = sorted(halves[0]) + sorted(halves[1])
            first[b] = len(halves[0])
        # Pieces in item order: batch b's first piece, then (if split) its second; batches keep their
        # numbers and the second pieces follow them in the order they were split.
        is_split = np.zeros(nb, dtype=bool)
        is_split[split] = True
        at = np.arange(nb) + np.cumsum(is_split) - is_split  # position of b's first piece
        pieces = np.zeros(nb + split.size, dtype=np.int64)
        pieces[at] = first
        pieces[at[split] + 1] = counts[split] - first[split]
        piece_offsets = np.zeros(pieces.size + 1, dtype=np.int64)
        np.cumsum(pieces, out=piece_offsets[1:])
        return reorder(piece_offsets, items, np.concatenate([at, at[split] + 1]))

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


class FixedCount:
    """Packings of a :class:`Budget`, one per epoch, all with the same number of batches, so that
    ``len()`` of a sampler never changes from epoch to epoch (trainers read it once; learning-rate
    schedules count on it).

    The count is fixed on first use: ``most``, the larger of the batches of epoch 0's packing and of
    the unshuffled packing (the batches at least half full with ``drop_last`` and one replica),
    rounded to a multiple of ``replicas`` (down with ``drop_last``, else up) as ``target``; with
    ``drop_last`` and several replicas a ``most`` below ``replicas`` gives ``target = replicas``
    instead (the items batched must be at least as many: else it raises). ``limit`` is ``target``
    (with ``drop_last`` and several replicas, ``target + replicas - 1``: any count that rounds down
    to it, unless ``most`` was below ``replicas``). Every epoch packs as the seed and epoch say; a
    packing with more than ``limit`` batches that count has its lightest such batches emptied into
    the others' room (:meth:`Budget.dissolve`); where that fails the epoch packs again with the
    generator's next draws (``repacked``), and after ``ATTEMPTS - 1`` such tries the unshuffled
    packing takes its place (``repacked_unshuffled``: ``most`` or fewer batches by construction; the
    epoch's batch order stays shuffled). Then ``drop_last`` leaves out the lightest batches beyond
    ``target`` (shuffled, random items of about their cost in place of theirs:
    :meth:`Budget.leave_out_random`), and an epoch with fewer splits batches until it has ``target`` or every batch holds
    one item (:meth:`Budget.split`; splitting never raises a batch's cost); with ``pad`` the batches
    still missing repeat items (``padded_items``), without it the epoch keeps fewer batches.
    """

    ATTEMPTS = 3  # packings tried per epoch, the last one unshuffled

    def __init__(self, budget: Budget, rng: Callable[[int], np.random.Generator], *, shuffle: bool,
                 granularity: float, drop_last: bool, replicas: int = 1, pad: bool = False):
        self.budget, self._rng, self.shuffle, self.granularity = budget, rng, shuffle, granularity
        self.drop_last, self.replicas, self.pad = drop_last, replicas, pad
        self.under_half = drop_last and replicas == 1  # only batches at least half full count
        self._fixed: tuple[int, int] | None = None  # (limit, target)
        self._first: tuple | None = None  # epoch 0's packing, made to fix the count, for its plan

    def _counted(self, costs: np.ndarray) -> np.ndarray:
        return fill(costs, self.budget.max_cost) >= 0.5 if self.under_half else np.ones(costs.shape[0], bool)

    @property
    def target(self) -> int:
        """The number of batches of every epoch (all ranks together)."""
        return self.fix()[1]

    def fix(self) -> tuple[int, int]:
        if self._fixed is None:
            rng = self._rng(0)
            first = self.budget.pack(rng, self.shuffle, self.granularity)
            self._first = first + (rng.bit_generator.state,)
            most = int(self._counted(first[2]).sum())
            if self.shuffle:
                most = max(most, int(self._counted(self.budget.pack(rng, False, self.granularity)[2]).sum()))
            R = self.replicas
            target = most // R * R if self.drop_last else -(-most // R) * R
            # Packings of up to `limit` batches reach `target` by splitting or dropping alone: under
            # DDP that is every count that rounds to `target`, as it did before the count was fixed.
            limit = target + R - 1 if self.drop_last else target
            if target == 0 and R > 1:
                # Fewer batches than ranks: split up to one batch per rank, nothing dropped (limit: the
                # epochs that pack into more merge or repack down to it), if there are items enough.
                n = int(self.budget.fit_idx.size + self.budget.alone_idx.size)
                if n < R:
                    skipped = f" ({self.budget.skipped} more left out as oversize)" if self.budget.skipped else ""
                    raise InvalidSizesError(
                        f"drop_last=True with {n} item(s){skipped} on {R} replicas: some rank would get no "
                        f"batch, since drop_last never repeats an item; set drop_last=False ({R - n} item(s) "
                        f"repeated, see padded_batches()) or use at most {n} replicas")
                target = limit = R
            elif target == 0:
                cap = self.budget.max_cost.tolist()
                raise InvalidSizesError(f"drop_last=True leaves no batches: no batch reaches half of max_cost={cap} "
                                        "(drop_last drops the batches below half); lower max_cost or set "
                                        "drop_last=False")
            self._fixed = (limit, target)
        return self._fixed

    def pack(self, epoch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """Epoch ``epoch``'s packing with :attr:`target` batches (``rng`` is the epoch's generator,
        left as after packing), and what ``stats()`` says of it."""
        limit, target = self.fix()
        budget, first, self._first = self.budget, self._first, None
        if first is not None and epoch == 0:
            offsets, items, costs, state = first
            rng.bit_generator.state = state
        else:
            offsets, items, costs = budget.pack(rng, self.shuffle, self.granularity)
        info = budget.info()
        info.update(padded_items=0, dropped_items=0, split_batches=0, merged_batches=0, repacked=False,
                    repacked_unshuffled=False)
        for attempt in range(1, self.ATTEMPTS + 1):
            counted = np.flatnonzero(self._counted(costs))
            extra = counted.size - limit
            if extra <= 0:
                break
            lightest = np.argsort(fill(costs[counted], budget.max_cost), kind="stable")[:extra]
            merged = budget.dissolve(offsets, items, costs, counted[lightest], np.delete(counted, lightest))
            if merged is not None:
                offsets, items, costs = merged
                info["merged_batches"] = int(extra)
                break
            shuffled = attempt < self.ATTEMPTS and self.shuffle
            offsets, items, costs = budget.pack(rng, shuffled, self.granularity)
            info["repacked" if shuffled else "repacked_unshuffled"] = True
        nb = costs.shape[0]
        if nb > target:
            lightest = np.argsort(fill(costs, budget.max_cost), kind="stable")[:nb - target]
            # Shuffled epochs leave out random items in place of the lightest batches' (the smallest
            # items every epoch); unshuffled ones the lightest batches, the same every epoch.
            traded = budget.leave_out_random(offsets, items, lightest, rng) if self.shuffle else None
            if traded is not None:
                offsets, items, costs, info["dropped_items"] = traded
            else:
                keep = np.setdiff1d(np.arange(nb), lightest)
                info["dropped_items"] = int(np.diff(offsets)[lightest].sum())
                offsets, items = reorder(offsets, items, keep)
                costs = costs[keep]
            info["lower_bound"] = budget.bound_of(items)  # of the items kept
        elif nb < target:
            offsets, items, padded = budget.split(offsets, items, target - nb, rng, self.shuffle, self.pad)
            costs = budget.batch_costs(offsets, items)
            info.update(padded_items=padded, split_batches=costs.shape[0] - nb - padded)
        return offsets, items, costs, info


class _SumRoom:
    """The room each batch has left under summed costs, column by column, on the real costs (for
    :meth:`Budget.leave_out_random`; positions index the layout's ``items``)."""

    def __init__(self, budget: Budget, items: np.ndarray, costs: np.ndarray):
        self.cap = budget.max_cost.reshape(-1)
        self.need = budget.costs[items].reshape(items.size, -1)  # (m, k)
        self.room = self.cap - costs.reshape(costs.shape[0], -1)  # costs include the batch's const

    def size(self, positions: np.ndarray) -> np.ndarray:
        return (self.need[positions] / self.cap).max(axis=1)

    def slack(self, batches: np.ndarray) -> np.ndarray:
        return (self.room[batches] / self.cap).min(axis=1)

    def largest_fitting(self, b: int, waiting: np.ndarray) -> int:
        fits = np.flatnonzero((self.need[waiting] <= self.room[b]).all(axis=1))
        return int(fits[0]) if fits.size else -1

    def add(self, b: int, p: int) -> None:
        self.room[b] -= self.need[p]

    def remove(self, b: int, p: int) -> None:
        self.room[b] += self.need[p]


class _RunRoom:
    """Batches under a batch cost shape that is not a sum: each batch's members, priced by the shape
    on their lengths (for :meth:`Budget.leave_out_random`)."""

    def __init__(self, budget: Budget, offsets: np.ndarray, items: np.ndarray, costs: np.ndarray):
        self.shape, self.cap = budget._run_shape, float(budget.max_cost)
        self.length = budget.costs[items]
        self.offsets, self.costs = offsets, costs
        self.members: dict[int, list[int]] = {}  # positions of a batch, listed once it changes

    def _of(self, b: int) -> list[int]:
        if b not in self.members:
            self.members[b] = list(range(int(self.offsets[b]), int(self.offsets[b + 1])))
        return self.members[b]

    def _fits(self, b: int, p: int) -> bool:
        lengths = self.length[self._of(b) + [int(p)]]
        return float(self.shape(np.sort(lengths)[::-1])) <= self.cap

    def size(self, positions: np.ndarray) -> np.ndarray:
        return self.length[positions]

    def slack(self, batches: np.ndarray) -> np.ndarray:
        return self.cap - self.costs[batches]

    def largest_fitting(self, b: int, waiting: np.ndarray) -> int:
        # waiting is longest first and a batch never costs less for a longer item, so the items
        # that fit are a suffix of it: the shortest first (most batches have no room), then halving
        if not self._fits(b, waiting[-1]):
            return -1
        lo, hi = 0, waiting.size - 1
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if self._fits(b, waiting[mid]) else (mid + 1, hi)
        return lo

    def add(self, b: int, p: int) -> None:
        self._of(b).append(int(p))

    def remove(self, b: int, p: int) -> None:
        self._of(b).remove(int(p))

