"""Balanced or packed batches for DDP: equal batch counts on every rank, near-equal cost in a step,
planned by every rank on its own (the ranks only check once that they plan from the same inputs)."""
from __future__ import annotations

import logging
from functools import partial
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import DistributedConfigError, InvalidSizesError
from ._base import Plan, PlanBatchSampler, check_int, read_sizes, reorder
from .budget import Budget, FixedCount, fill
from .cost import item_costs
from .partition import balanced_partition, drop_items
from .shape import partition_costs, resolve_batch_cost, shaped_partition
from .trainers import BatchSizeAttribute, one_process, unrepeated, world_of

log = logging.getLogger(__name__)


#: the most ranks a distributed sampler takes (2**20; the largest jobs run some 10**5 processes)
MAX_REPLICAS = 1 << 20


def resolve_world(num_replicas: int | None, rank: int | None, sampler: Any = None) -> tuple[int, int]:
    """``(num_replicas, rank)``: as given, else from ``sampler`` (a ``DistributedSampler``), else from
    the initialised ``torch.distributed`` default group. A ``SequentialSampler`` (what PyTorch
    Lightning passes back on one device) counts as no sampler."""
    if not one_process(sampler):
        R, r = world_of(sampler)
        if (num_replicas is not None and num_replicas != R) or (rank is not None and rank != r):
            raise DistributedConfigError(
                f"num_replicas = {num_replicas} and rank = {rank} disagree with sampler= (a "
                f"{type(sampler).__name__} for rank {r} of {R}); pass one or the other")
        return R, r
    if num_replicas is None or rank is None:
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            missing = [name for name, value in (("num_replicas", num_replicas), ("rank", rank)) if value is None]
            raise DistributedConfigError(
                f"{' and '.join(missing)} {'was' if len(missing) == 1 else 'were'} not given and torch.distributed "
                "is not initialised; call torch.distributed.init_process_group() first or pass num_replicas= and rank= (under "
                "PyTorch Lightning or HF accelerate, give the DataLoader a BalancedBatchSampler or "
                "PackedBatchSampler instead; under accelerate you may also build this one after Accelerator())"
            )
        num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
        rank = dist.get_rank() if rank is None else rank
    try:
        R = check_int(num_replicas, "num_replicas", 1)
        r = check_int(rank, "rank", 0)
    except ValueError as exc:
        raise DistributedConfigError(str(exc)) from None
    if R > MAX_REPLICAS:  # each rank's share is planned for every rank: a mistyped count would exhaust memory
        raise DistributedConfigError(f"num_replicas = {R}: more than {MAX_REPLICAS:,} ranks; give the job's world size")
    if r >= R:
        raise DistributedConfigError(f"rank = {r} must be < num_replicas = {R} (ranks are 0 .. {R - 1})")
    return R, r


def resolve_even(even: bool | None, sampler: Any, drop_last: bool) -> bool:
    """Whether every rank gets as many batches: ``even`` as given, else False for an unrepeated
    distributed sampler (what PyTorch Lightning passes to predict, see :func:`.trainers.unrepeated`)
    and True otherwise."""
    if even is None:
        even = not unrepeated(sampler)
    elif not isinstance(even, (bool, np.bool_)):
        raise ValueError(f"even: expected True, False or None, got {even!r}")
    elif even and unrepeated(sampler):
        raise DistributedConfigError(
            f"even=True, but sampler= is a {type(sampler).__name__}, which asks for every item once and "
            "lets the ranks' counts differ; leave even= unset (it follows the sampler) or pass even=False")
    if not even and drop_last:
        raise ValueError("even=False keeps every item once and lets ranks run different numbers of batches, "
                         "drop_last=True leaves items out to keep the ranks even: pass one or the other")
    return bool(even)


def balanced_costs(sizes: np.ndarray, batch_cost: Any, cost: Callable | None, weights: Sequence[float] | None,
                   bias: float | None) -> tuple[Any, np.ndarray, np.ndarray, Callable]:
    """What the balanced samplers split, from their cost arguments: ``(shape, lengths, costs,
    partition)``, the batch cost shape (None for a sum of item costs), each item's cost under the
    model, the costs the partition balances, and the function that splits an epoch's items."""
    model, shape = resolve_batch_cost(batch_cost, cost, weights, bias)
    lengths = item_costs(sizes, model)
    split = partial(balanced_partition, bound_cache={})
    return shape, lengths, partition_costs(shape, lengths), split if shape is None else partial(
        shaped_partition, shape, split)


def padding_mask(offsets: np.ndarray, items: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Which batches only repeat: single-item batches whose item a batch of several items holds, or
    a single-item batch earlier in ``order`` (the global batches step by step, rank by rank)."""
    counts = np.diff(offsets)
    single = order[counts[order] == 1]
    held = np.zeros(int(items.max()) + 1, dtype=bool)
    held[items[np.repeat(counts > 1, counts)]] = True
    alone = items[offsets[single]]
    first = np.zeros(single.size, dtype=bool)
    first[np.unique(alone, return_index=True)[1]] = True
    mask = np.zeros(counts.size, dtype=bool)
    mask[single[held[alone] | ~first]] = True
    return mask


class DistributedBalancedBatchSampler(PlanBatchSampler):
    """Batches for distributed data parallel training: the same number on every rank, and within
    each step the world-size batches cost nearly the same, so ranks hardly wait for each other (all
    steps with balanced summed costs; on average, ``stats()["step_cost_spread"]``, where batches vary
    in cost: packed, or under a padded ``batch_cost``).

    Every rank computes the same global plan from ``sizes``, ``seed`` and the epoch, without
    communication (beyond one check of those inputs at the first batch, below): all batches of the epoch are made at once (``mode="balanced"``:
    ``batch_size`` items per batch at most, balanced cost; ``mode="packed"``: cost within
    ``max_cost``), sorted by cost and grouped into steps of ``num_replicas`` consecutive batches;
    steps are shuffled (and the batches within a step dealt to ranks at random), and rank ``r``
    takes the ``r``-th batch of every step. ``mode`` defaults to ``"packed"`` when only
    ``max_cost`` is given, else ``"balanced"``.

    Every rank gets the same number of batches (DDP waits forever for a rank that runs out), and
    across ranks each index appears exactly once per epoch, except where that cannot be. Like
    ``DistributedSampler``, ``drop_last=False`` then repeats items and ``drop_last=True`` leaves
    items out, but only as many as the ranks need (``DistributedSampler`` pads every epoch whose
    ``n`` is not a multiple of ``num_replicas``):

    * ``mode="balanced"``, ``drop_last=False``: ``S = ceil(n / (num_replicas * batch_size))`` steps;
      batches hold ``n / (S * num_replicas)`` items (rounded), so nothing is repeated unless there
      are fewer items than batches (``n < num_replicas``, or ``batch_size=1`` with ``n`` not a
      multiple of ``num_replicas``): then ``S * num_replicas - n`` items, fewer than
      ``num_replicas``. ``drop_last=True``: ``n // (num_replicas * batch_size)`` steps of exactly
      ``batch_size`` items; the rest (random items with ``shuffle``) sit out the epoch; the
      constructor raises if that is no step.
    * ``mode="packed"``: every epoch has the same number of batches ``G`` (``stats()["global_batches"]``):
      the batch count of :class:`~hullpack.samplers.PackedBatchSampler` (the larger of epoch 0's and
      the unshuffled packing's), rounded up to a multiple of ``num_replicas`` (down with
      ``drop_last=True``, but never below ``num_replicas``). An epoch short of it splits the batches
      with the most items in two (the halves stay within budget and are never empty), again and
      again until it has ``G`` batches or every batch holds one item; only then are ``G - n`` items
      repeated (``n`` the items batched: fewer items than ranks, or nearly every item alone in its
      batch), fewer than ``num_replicas``. ``drop_last=True`` leaves out the lightest batches beyond
      ``G`` (with ``shuffle``, random items of about their cost instead of their own, as
      :class:`PackedBatchSampler` does) and never repeats an item; items that pack into fewer than ``num_replicas`` batches are
      split into ``num_replicas`` batches, none left out, and the constructor raises only if there
      are fewer items than ranks.

    A repeated item is a batch of its own. ``stats()["padded_items"]`` counts them (all ranks
    together; the same number in every epoch) and :meth:`padded_batches` gives their
    positions among this rank's batches, to leave out of validation metrics (repeated items weigh
    twice there, as with ``DistributedSampler``). The items repeated are the first of the epoch's
    order of the items (random with ``shuffle``, else the lowest indices), cycling through it when
    there are more repeats than items, so no item repeats more than ``ceil(padded_items / n)`` times.

    ``batch_cost`` (``"padded"``, ``"quadratic"``, a :class:`~hullpack.samplers.BatchCost`, ...) says
    what a batch costs when that is not the sum of its items, as for
    :class:`~hullpack.samplers.PackedBatchSampler` and :class:`~hullpack.samplers.BalancedBatchSampler`.

    ``even=False`` gives up the equal counts, for prediction and evaluation, where every item should
    count once: no item is ever repeated (``drop_last`` must be False). Where ``even=True`` repeats
    none it gives the same batches; where it would, the epoch has as many batches as items instead,
    dealt as above but with a short last step, so some ranks run one batch fewer (none, where there
    are fewer items than ranks). Run no collective operation per batch over such an epoch. The
    default, ``None``, is ``even=True`` unless ``sampler`` is PyTorch Lightning's
    ``UnrepeatedDistributedSampler``, which ``trainer.predict`` passes on several devices.

    Every rank must build it from the same sizes, in the same order, with the same settings: a rank
    built from others would give some items twice and others never. So the first batch taken by a
    sampler built for this process's rank of the initialised ``torch.distributed`` group gathers
    every rank's number of items, checksum of sizes, settings, seed and epoch once (through the
    group's key-value store) and raises :class:`~hullpack.errors.DistributedConfigError` on every
    rank, naming the ranks that differ, where they do. Every rank must then take a first batch: where
    some do not within the group's timeout, the others raise naming them (a sampler only some ranks
    iterate: ``check_ranks=False``). Plain samplers run on several processes by a trainer do the same.

    ``num_replicas`` and ``rank`` are read from ``sampler`` when given (a ``DistributedSampler``, as
    PyTorch Lightning passes when it re-creates batch samplers), else from the initialised
    ``torch.distributed`` default group.

    ``stats()`` describes this rank's batches (``num_batches``, ``num_items``, ``peak_cost``,
    ``mean_cost``) and the epoch's across all ranks: ``global_batches``, ``global_peak_cost``,
    ``lower_bound`` (of the epoch's peak batch cost over all ranks, balanced mode; of the batch count,
    packed mode) with ``global_peak_over_lower_bound`` (balanced mode), ``padded_items`` and
    ``dropped_items`` (and in packed mode ``split_batches``, the batches split in two), and
    ``step_cost_spread``: the mean over steps of (max - min) / max of the costs of a step's batches.

    >>> import numpy as np
    >>> sizes = np.random.default_rng(0).lognormal(3, 0.5, 1000)
    >>> ranks = [DistributedBalancedBatchSampler(sizes, batch_size=16, num_replicas=4, rank=r)
    ...          for r in range(4)]
    >>> [len(s) for s in ranks]
    [16, 16, 16, 16]
    >>> seen = sorted(i for s in ranks for b in s for i in b)
    >>> seen == list(range(1000))
    True
    >>> ranks[0].stats()["step_cost_spread"] < 0.02
    True
    """

    batch_size = BatchSizeAttribute()  # None to accelerate: batches may hold fewer items

    def __init__(self, sizes: Any, batch_size: int | None = None, max_cost: Any = None, *,
                 mode: str | None = None, num_replicas: int | None = None, rank: int | None = None,
                 cost: Callable | None = None, weights: Sequence[float] | None = None,
                 bias: float | None = None, batch_cost: Any = "sum", method: str = "auto", oversize: str = "error",
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False, granularity: float = 0.01,
                 fields: Sequence | None = None, sampler: Any = None, even: bool | None = None,
                 check_ranks: bool = True):
        super().__init__(shuffle=shuffle, seed=seed, drop_last=drop_last, granularity=granularity,
                         check_ranks=check_ranks)
        self.num_replicas, self.rank = resolve_world(num_replicas, rank, sampler)
        self._world = (self.num_replicas, self.rank)
        self._even = even  # as given, for init_kwargs: None decides again for the sampler a trainer passes
        self.even = resolve_even(even, sampler, self.drop_last)
        if mode is None:
            mode = "packed" if max_cost is not None and batch_size is None else "balanced"
        if mode not in ("balanced", "packed"):
            raise ValueError(f"mode={mode!r}: expected 'balanced' or 'packed'")
        self.mode = mode
        self.sizes = read_sizes(sizes, fields)
        n, R = self.sizes.shape[0], self.num_replicas
        if mode == "balanced":
            if batch_size is None:
                raise ValueError("mode='balanced' needs batch_size= (or use mode='packed' with max_cost=)")
            if max_cost is not None:
                raise ValueError("max_cost= applies to mode='packed'; mode='balanced' takes batch_size=")
            self.batch_size = check_int(batch_size, "batch_size", 1)
            self.shape, self.lengths, self.costs, self._split = balanced_costs(self.sizes, batch_cost, cost, weights,
                                                                               bias)
            if self.drop_last:
                self.num_steps = n // (R * self.batch_size)
                if self.num_steps == 0:
                    raise InvalidSizesError(
                        f"drop_last=True with {n} items cannot fill one step of {R} replicas x "
                        f"batch_size {self.batch_size}; " + (
                            f"lower batch_size to at most {n // R} or set drop_last=False" if n >= R else
                            f"no batch_size can with fewer items than replicas: set drop_last=False "
                            f"or use at most {n} replicas")
                    )
            else:
                self.num_steps = -(-n // (R * self.batch_size))
            self.budget = None
        else:
            if max_cost is None:
                raise ValueError("mode='packed' needs max_cost=")
            if batch_size is not None:
                raise ValueError("batch_size= applies to mode='balanced'; mode='packed' takes max_cost=")
            self.batch_size = None
            self.budget = Budget(self.sizes, max_cost, cost, weights, bias, oversize, method, batch_cost,
                                 source=sizes)
            self.costs, self.lengths, self.shape = self.budget.costs, self.budget.lengths, self.budget.shape
            self.num_steps = None  # known once the count is fixed (_count.target // num_replicas)
            self._count = FixedCount(self.budget, self.rng, shuffle=self.shuffle, granularity=self.granularity,
                                     drop_last=self.drop_last, replicas=R, pad=self.even)
            if self.drop_last:
                self._count.fix()  # raises now unless every epoch keeps a step
        self._set_fingerprint(self.lengths)

    def init_kwargs(self) -> dict:
        kwargs = {"mode": self.mode, "num_replicas": self.num_replicas, "rank": self.rank, "even": self._even,
                  **self._common_kwargs()}
        if self.budget is None:
            shape = self.shape
            kwargs.update(sizes=self.lengths, batch_size=self.batch_size,
                          batch_cost="sum" if shape is None else getattr(shape, "fn", shape))
        else:
            kwargs.update(self.budget.init_kwargs())
        return kwargs

    def _config(self) -> tuple:
        extra: tuple = (self.mode, self.num_replicas, self.batch_size)
        extra += (repr(self.shape),) if self.budget is None else self.budget.config()
        extra += () if self.even else ("uneven",)  # (settings of former versions keep their fingerprint)
        return super()._config() + extra

    # -- the global plan, shared by all ranks ----------------------------------------------------
    def _global(self, epoch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        n, R = self.sizes.shape[0], self.num_replicas
        if self.mode == "balanced":
            B = self.num_steps * R
            info: dict[str, Any] = {"padded_items": 0, "dropped_items": 0}
            if self.drop_last:
                keep = drop_items(n, n - B * self.batch_size, rng, self.shuffle)
                info["dropped_items"] = n - keep.size
            else:
                keep = np.arange(n, dtype=np.int64)
                if n < B and not self.even:  # no repeats: fewer batches, one item each
                    B = n
                elif n < B:  # some batch would be empty: repeat a few items (fewer than R)
                    extra = (rng.permutation(n) if self.shuffle else np.arange(n))[:B - n]
                    keep = np.concatenate([keep, np.resize(extra, B - n)]).astype(np.int64)
                    info["padded_items"] = B - n
            offsets, items, costs, info["lower_bound"] = self._split(
                self.costs, keep, B, self.batch_size, rng, self.shuffle, self.granularity)
            return offsets, items, costs, info

        return self._count.pack(epoch, rng)

    def _build(self, epoch: int) -> Plan:
        rng = self.rng(epoch)
        offsets, items, costs, info = self._global(epoch, rng)
        R, r = self.num_replicas, self.rank
        nb = costs.shape[0]
        S = -(-nb // R)  # nb is a multiple of R unless even=False
        # Heaviest first, R consecutive batches per step: a step's batches cost nearly the same. With
        # even=False the last step may be short: its missing batches are -1, no batch for that rank.
        if costs.ndim == 1:
            weight = costs
        else:  # a cost per budget: mode='packed' (balanced mode sums an item's sizes into one cost)
            assert self.budget is not None
            weight = fill(costs, self.budget.max_cost)
        by_cost = np.argsort(-weight, kind="stable")
        if S * R > nb:
            by_cost = np.concatenate([by_cost, np.full(S * R - nb, -1, dtype=by_cost.dtype)])
        by_cost = by_cost.reshape(S, R)
        if self.shuffle:
            by_cost = by_cost[rng.permutation(S)]
            by_cost = np.take_along_axis(by_cost, rng.permuted(np.tile(np.arange(R), (S, 1)), axis=1), axis=1)
        real = by_cost >= 0
        step_w = np.where(real, weight[by_cost], np.nan)
        top = np.nanmax(step_w, axis=1)
        spread = float(np.mean((top - np.nanmin(step_w, axis=1)) / np.maximum(top, 1e-300)))
        info.update(num_replicas=R, rank=r, num_steps=S, global_batches=nb,
                    global_peak_cost=costs.max(axis=0).tolist(),
                    step_cost_spread=spread)
        if self.mode == "balanced" and info.get("lower_bound"):  # a bound on the peak batch cost
            info["global_peak_over_lower_bound"] = float(costs.max()) / info["lower_bound"]
        mine = by_cost[:, r][real[:, r]]
        offsets_r, items_r = reorder(offsets, items, mine)
        padding = np.empty(0, dtype=np.int64)
        if info["padded_items"]:
            padding = np.flatnonzero(padding_mask(offsets, items, by_cost.ravel())[mine])
        return Plan(offsets_r, items_r, costs[mine], info, padding)
