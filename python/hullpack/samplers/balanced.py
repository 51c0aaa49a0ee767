"""Fixed-count batches of balanced cost: as many steps as random batching, the smallest peak."""
from __future__ import annotations

import logging
from functools import partial
from typing import Any, Callable, Sequence


from ..errors import InvalidSizesError
from ._base import Plan, PlanBatchSampler, check_int, read_sizes, reorder
from .distributed import DistributedBalancedBatchSampler, balanced_costs
from .partition import drop_items
from .trainers import BatchSizeAttribute

log = logging.getLogger(__name__)


class BalancedBatchSampler(PlanBatchSampler):
    """Batches of (at most) ``batch_size`` items whose costs are as equal as possible.

    The epoch has as many batches as random batching: ``ceil(n / batch_size)``, or
    ``n // batch_size`` with ``drop_last``. Items are dealt largest first, each to the batch with
    room whose cost plus its free slots at the mean remaining cost is least, then exchanged between
    the heaviest batch and the others while that lowers it (C++ core, :func:`hullpack.packing.balance`):
    the peak batch cost, the one that decides peak memory, ends within a few tenths of a percent of
    its lower bound on typical graph sizes (``stats()`` reports both). Cardinalities are as even as
    possible: with ``n=100, batch_size=32`` the 4 batches hold 25 items each. With ``drop_last``
    ``n % batch_size`` items sit out the epoch (random ones with ``shuffle``, else the last ones)
    and every batch holds exactly ``batch_size`` items.

    The cost of an item is ``cost(sizes)`` for a :class:`~hullpack.samplers.LinearCost` or
    :class:`~hullpack.samplers.MemoryModel` (or ``weights=``/``bias=``), else its size summed over
    columns. A batch costs the sum of its items' costs unless ``batch_cost`` says otherwise (as for
    :class:`~hullpack.samplers.PackedBatchSampler`): shapes without padding terms (``"quadratic"``,
    a :class:`~hullpack.samplers.BatchCost` of sums and counts) are balanced as sums of per-item
    costs; padded ones (``"padded"``: ``count x longest``, ``"padded-quadratic"``) and functions
    sort the items by length and cut them into runs, the shorter runs holding the longest items,
    which under a padded cost gives the least peak there is (the batch of the longest item costs
    its count times that length whatever else it holds) and, when all batches hold the same
    number of items, the least total padding (with ``shuffle``, lengths within ``granularity`` of
    each other trade places, which may cost up to that fraction). With ``shuffle`` each epoch (see
    :meth:`set_epoch`) has other batches, in another order, all still balanced (``granularity`` as
    for :class:`PackedBatchSampler`).

    Under DDP, ``sampler=`` a ``DistributedSampler`` makes it yield that rank's share of the
    batches, exactly as :class:`DistributedBalancedBatchSampler` with the same arguments. Like
    ``DistributedSampler``, it repeats items where there are fewer items than the batches the ranks
    need (fewer than ranks, or ``batch_size=1`` with ``n`` not a multiple of them), each repeat a
    batch of its own that :meth:`padded_batches` names, to leave out of validation metrics. PyTorch
    Lightning passes one when it re-creates the batch sampler (``use_distributed_sampler=True``, its
    default), so the sampler works unchanged in a Lightning ``Trainer`` on any number of devices;
    for ``trainer.predict`` it passes an unrepeated one, and every item is then predicted once.
    HF accelerate's ``prepare()`` with several processes gets each process the same share; there the
    first batch checks once that every rank built its sampler from the same sizes and settings
    (``check_ranks=False`` skips it, see :class:`DistributedBalancedBatchSampler`). Iterated
    in a ``torch.distributed`` group of several processes otherwise, it raises
    :class:`~hullpack.errors.DistributedConfigError` rather than give every process the same batches.

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

    batch_size = BatchSizeAttribute()  # None to accelerate: batches may hold fewer items

    def __init__(self, sizes: Any, batch_size: int, *, cost: Callable | None = None,
                 weights: Sequence[float] | None = None, bias: float | None = None, batch_cost: Any = "sum",
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False, granularity: float = 0.01,
                 fields: Sequence | None = None, sampler: Any = None, check_ranks: bool = True):
        super().__init__(shuffle=shuffle, seed=seed, drop_last=drop_last, granularity=granularity,
                         check_ranks=check_ranks)
        self.sizes = read_sizes(sizes, fields)
        self.shape, self.lengths, self.costs, self._partition = balanced_costs(self.sizes, batch_cost, cost, weights,
                                                                               bias)
        n = self.costs.size
        self.batch_size = check_int(batch_size, "batch_size", 1)
        self.num_batches = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.num_batches == 0:  # drop_last would drop every item
            raise InvalidSizesError(f"drop_last=True with {n} items cannot fill one batch of batch_size "
                                    f"{self.batch_size}; lower batch_size to at most {n} or set drop_last=False")
        self._for_rank(sampler, partial(DistributedBalancedBatchSampler, self.lengths, self.batch_size,
                                        batch_cost=self._batch_cost_arg()))
        if self._shard is not None:
            self.num_batches = self._shard.num_steps  # this rank's
        self._set_fingerprint(self.lengths)

    def _batch_cost_arg(self) -> Any:
        return "sum" if self.shape is None else getattr(self.shape, "fn", self.shape)

    def init_kwargs(self) -> dict:
        return {"sizes": self.lengths, "batch_size": self.batch_size, "batch_cost": self._batch_cost_arg(),
                **self._common_kwargs()}

    def _replicated_hint(self) -> str:
        return f"batch_size={self.batch_size}"

    def _config(self) -> tuple:
        return super()._config() + (self.batch_size,) + (() if self.shape is None else (repr(self.shape),))

    def _build(self, epoch: int) -> Plan:
        rng = self.rng(epoch)
        n, B = self.costs.size, self.num_batches
        keep = drop_items(n, n - B * self.batch_size if self.drop_last else 0, rng, self.shuffle)
        offsets, items, costs, lb = self._partition(self.costs, keep, B, self.batch_size, rng,
                                                    self.shuffle, self.granularity)
        if self.shuffle:
            perm = rng.permutation(B)
            offsets, items = reorder(offsets, items, perm)
            costs = costs[perm]
        ratio = float(costs.max()) / lb if lb > 0 else 1.0
        return Plan(offsets, items, costs, {"lower_bound": lb, "peak_over_lower_bound": ratio,
                                            "dropped_items": int(n - keep.size)})
