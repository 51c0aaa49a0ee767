"""PackedBatchSampler: variable-size batches, each within a cost budget, as few as possible."""
from __future__ import annotations

import logging
from functools import partial
from typing import Any, Callable, Sequence

import numpy as np

from ._base import Plan, PlanBatchSampler, read_sizes, reorder
from .budget import Budget, FixedCount, fill
from .distributed import DistributedBalancedBatchSampler
from .shape import padding_fill

log = logging.getLogger(__name__)


class PackedBatchSampler(PlanBatchSampler):
    """Batches of varying size whose cost stays within ``max_cost``, in as few batches as possible.

    Items are packed first-fit (``method="ffd"``) or best-fit (``"bfd"``) decreasing by the C++ core
    in O(n log n); the default ``"auto"`` packs integer costs best fit over histograms (O(n)) and
    others first fit, and also tries balanced partitions into fewer batches where that stays above
    the lower bound (see :func:`hullpack.packing.pack`). The cost of an item is its size; with
    ``(n, k)`` sizes and a vector ``max_cost`` every column has its own budget (say nodes and
    edges); with a scalar ``max_cost`` the cost is ``cost(sizes)`` for a
    :class:`~hullpack.samplers.LinearCost` or :class:`~hullpack.samplers.MemoryModel` (or
    ``weights=``/``bias=``), else the sizes summed over columns.

    A batch costs the sum of its items' costs unless ``batch_cost`` says otherwise: with
    ``batch_cost="padded"`` it costs ``count x longest`` (padded sequences: ``max_cost`` bounds the
    padded elements of every batch), ``"quadratic"`` the sum of squares, ``"padded-quadratic"``
    ``count x longest**2``, or any :class:`~hullpack.samplers.BatchCost`, a
    :class:`~hullpack.samplers.MemoryModel` (``max_cost`` then the memory in bytes) or a monotone
    function of a batch's lengths. Padded shapes are packed by sorting items by length and cutting
    the longest runs within budget: the fewest batches any packing needs under a padded cost.

    Args:
        sizes: ``(n,)`` or ``(n, k)`` item sizes, or a graph dataset (sizes read once, see
            :func:`~hullpack.samplers.graph_sizes`; ``fields`` picks the columns).
        max_cost: budget of one batch (scalar, or one per column).
        batch_cost: how item costs add up into a batch's: ``"sum"`` (default), ``"padded"``,
            ``"quadratic"``, ``"padded-quadratic"``, a :class:`~hullpack.samplers.BatchCost`, a
            :class:`~hullpack.samplers.MemoryModel` or a function of a batch's lengths (longest
            first) that never drops when an item is added or lengthened (see :mod:`.shape`).
        oversize: an item over budget raises (``"error"``), gets a batch of its own (``"alone"``,
            warned) or is left out (``"skip"``, warned); ``stats()`` counts them.
        shuffle: a different packing and batch order every epoch (seeded by ``seed`` and the epoch
            set by :meth:`set_epoch`); off, every epoch yields the same batches, heaviest first.
            Every epoch has the same number of batches, ``len()``: the larger of epoch 0's count
            and the unshuffled packing's. An epoch whose packing needs more empties its lightest
            batches into the others' room, else packs again (twice at most), else takes the
            unshuffled packing's batches; one that needs fewer splits the batches with the most
            items in two (``stats()``: ``merged_batches``, ``repacked``, ``repacked_unshuffled``,
            ``split_batches``).
        drop_last: leave out the epoch's under-filled remainder: batches below half the budget
            (first/best fit leaves at most one such batch for a scalar budget). The number kept is
            the same every epoch, fixed as above from the batches at least half full; the
            constructor raises if that is none. With ``shuffle`` the items left out are random ones
            of about the remainder's cost: the remainder's items (the smallest, which first/best
            fit and sorted runs pack last) take the room the kept batches have, and random items of
            the kept batches make more (``stats()["dropped_items"]`` counts those left out).
            Without ``shuffle`` the remainder is left out, the same smallest items every epoch.
        granularity: with ``shuffle``, items are taken in the order of their costs rounded up to
            a geometric grid of this relative step, so near-equal items trade places between epochs;
            the budget holds the real costs (under a padded ``batch_cost``, runs in that order are
            priced on the real lengths, a few tenths of a percent more batches than the
            unshuffled runs). Larger steps mix batches more from epoch to epoch (docs/samplers.md);
            ``0`` varies only the order of equal costs (none: the same batches every epoch, in
            another order).
        sampler: under DDP, a ``DistributedSampler``: yield that rank's share of the batches,
            exactly as :class:`DistributedBalancedBatchSampler` with ``max_cost=`` and the same
            arguments (items repeated only where there are fewer than the batches the ranks need:
            :meth:`padded_batches` names them). PyTorch Lightning passes one when it re-creates the
            batch sampler (``use_distributed_sampler=True``, its default), so the sampler works
            unchanged in a Lightning ``Trainer`` on any number of devices (for ``trainer.predict``
            an unrepeated one: every item once, see ``even=False`` there); HF accelerate's
            ``prepare()`` with several processes gets each process the same share. Iterated in a
            ``torch.distributed`` group of several processes otherwise, the sampler raises
            :class:`~hullpack.errors.DistributedConfigError` rather than give every process the
            same batches.
        check_ranks: under DDP (a ``DistributedSampler`` given, or several processes of accelerate),
            the first batch compares the sizes, settings, seed and epoch of every rank's sampler once
            and raises :class:`~hullpack.errors.DistributedConfigError` where they differ (every rank
            must then take a first batch: the others raise after the group's timeout, naming the
            ranks that did not); ``False`` skips that.

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
                 weights: Sequence[float] | None = None, bias: float | None = None, batch_cost: Any = "sum",
                 method: str = "auto", shuffle: bool = True, seed: int = 0, oversize: str = "error",
                 drop_last: bool = False, granularity: float = 0.01, fields: Sequence | None = None,
                 sampler: Any = None, check_ranks: bool = True):
        super().__init__(shuffle=shuffle, seed=seed, drop_last=drop_last, granularity=granularity,
                         check_ranks=check_ranks)
        self.sizes = read_sizes(sizes, fields)
        self.budget = Budget(self.sizes, max_cost, cost, weights, bias, oversize, method, batch_cost,
                             source=sizes)
        self.max_cost = self.budget.max_cost
        rebuild = self.budget.init_kwargs()
        self._for_rank(sampler, partial(DistributedBalancedBatchSampler, rebuild.pop("sizes"), **rebuild))
        self._count = FixedCount(self.budget, self.rng, shuffle=self.shuffle, granularity=self.granularity,
                                 drop_last=self.drop_last)
        if self.drop_last and self._shard is None:
            self._count.fix()  # raises now if every batch would be dropped
        self._set_fingerprint(self.budget.lengths)

    def init_kwargs(self) -> dict:
        return {**self.budget.init_kwargs(), **self._common_kwargs()}

    def _replicated_hint(self) -> str:
        shape = "" if self.budget.shape is None else ", batch_cost=..."
        return f"max_cost={self.max_cost.tolist()}{shape}"

    def _config(self) -> tuple:
        return super()._config() + self.budget.config()

    def _build(self, epoch: int) -> Plan:
        rng = self.rng(epoch)
        offsets, items, costs, info = self._count.pack(epoch, rng)
        # Shuffled, or heaviest first so that a batch too large for the device fails at once.
        perm = rng.permutation(costs.shape[0]) if self.shuffle else np.argsort(-fill(costs, self.max_cost),
                                                                               kind="stable")
        offsets, items = reorder(offsets, items, perm)
        costs = costs[perm]
        info["fill_mean"] = float(fill(costs, self.max_cost).mean()) if costs.shape[0] else 0.0
        if self.budget.runs:
            info["padding_fill"] = padding_fill(self.budget.lengths, offsets, items)
        if info["lower_bound"] is not None:
            info["batches_over_lower_bound"] = costs.shape[0] / max(info["lower_bound"], 1.0)
        return Plan(offsets, items, costs, info)
