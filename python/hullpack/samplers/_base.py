"""What every hullpack batch sampler shares: a per-epoch plan, seeding, resume and statistics.

A sampler computes the whole epoch's batches at once (a *plan*, stored as CSR offsets/items), from
its sizes, ``seed`` and ``epoch`` only, so any process computes the same plan and ``len()`` is exact
before iteration. A sampler built for one rank of a distributed job (``sampler=`` a
``DistributedSampler``) takes its plan from a :class:`~hullpack.samplers.DistributedBalancedBatchSampler`.
"""
from __future__ import annotations

import logging
import sys
import time
import warnings
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Context, Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np
from torch.utils.data import Sampler

from .._core_loader import as_flag, as_real
from ..errors import DistributedConfigError
from ._sizes import DEFAULT_FIELDS, as_sizes, graph_sizes, is_dataset
from .trainers import (EpochItems, Rank, accelerate_shard, check_dataset_length, check_same_plan_inputs,
                       one_process, recorded_for_trainers, recreate, refuse_rebatching, refuse_replicated,
                       unrepeated, world_of)

if TYPE_CHECKING:  # pragma: no cover
    from .distributed import DistributedBalancedBatchSampler

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """One epoch's batches: batch ``b`` is ``items[offsets[b]:offsets[b + 1]]``."""

    offsets: np.ndarray  # (n_batches + 1,) int64
    items: np.ndarray  # int64 item indices
    costs: np.ndarray  # (n_batches,) or (n_batches, k): the real (not rounded) cost of each batch
    info: dict = field(default_factory=dict)  # what the sampler reports in stats()
    # positions of the batches that only repeat an item to keep ranks in step (see padded_batches)
    padding: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @property
    def num_batches(self) -> int:
        return int(self.offsets.size - 1)

    def batch(self, b: int) -> list[int]:
        return self.items[self.offsets[b]:self.offsets[b + 1]].tolist()


def reorder(offsets: np.ndarray, items: np.ndarray, perm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batches of a CSR layout put in the order ``perm`` (new batch j = old batch perm[j])."""
    lengths = np.diff(offsets)[perm]
    new_offsets = np.zeros(perm.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    shift = np.repeat(offsets[:-1][perm] - new_offsets[:-1], lengths)
    return new_offsets, items[np.arange(new_offsets[-1], dtype=np.int64) + shift]


def coarsen(costs: np.ndarray, granularity: float, rng: np.random.Generator, *, up: bool,
            cap: Any = None, one_offset: bool = False) -> np.ndarray:
    """Costs snapped to a geometric grid of relative step ``granularity`` with a random offset.

    Items whose costs fall in one grid cell tie, and the packing kernels break ties by the seeded
    ``order``; so near-equal items trade places from epoch to epoch even when no two costs are
    exactly equal, while every batch stays within ``granularity`` of its balanced cost. ``up``
    rounds up to the next grid value (never below the real cost), else to the nearest one in ratio;
    ``cap`` bounds the rounded values (the packed samplers' keys: items within a grid step of the
    budget tie at it; the budget itself is checked on the real costs). ``one_offset``: the columns of ``(n, k)`` costs share one grid
    offset, as packing several budgets needs (first fit orders items by their fullest normalised
    column: columns on grids offset apart set items heavy in one column systematically before those
    heavy in another, and batches fill one budget long before the other, 27-36% more of them).

    The same on every machine: the grid values are computed in decimal arithmetic (correctly
    rounded) or IEEE multiplications, and a cost near a cell's edge finds its cell by exact
    comparisons with them, so no value depends on a CPU's ``log`` or ``exp``, whose last bits
    differ between numpy's SIMD implementations (they decided batches: machines with and without
    AVX-512 planned different epochs for some seeds).
    """
    if granularity <= 0:
        return costs
    offset = rng.random(costs.shape[1] if costs.ndim == 2 and not one_offset else None)
    if costs.ndim == 2:
        offsets = np.broadcast_to(offset, costs.shape[1])  # one offset for every column, or one each
        out = np.column_stack([_snap(costs[:, j], granularity, offsets[j], up) for j in range(costs.shape[1])])
    else:
        out = _snap(costs, granularity, float(offset), up)
    if up and cap is not None:
        np.minimum(out, cap, out=out)
    return out


def _snap(costs: np.ndarray, granularity: float, offset: float, up: bool) -> np.ndarray:
    """One column of :func:`coarsen`: each cost > 0 as the grid value of its cell, zeros as 0. Cell
    ``k``'s value is ``exp((k + offset) * step)``, ``step = log1p(granularity)``, correctly rounded
    (the values of a libm whose exp and log are, as glibc's nearly always are); where the costs span
    more than about 8,000 cells, ``r**offset * r**k`` (``r = 1 + granularity``) in IEEE
    multiplications."""
    out = np.zeros_like(costs, dtype=np.float64)
    positive = costs > 0
    c = costs[positive]
    if not c.size:
        return out
    ctx = Context(prec=40)
    # the cells the costs span, about (in decimal: the choice must not hang on a libm's last bit)
    table = ctx.ln(Decimal(float(c.max()))) - ctx.ln(Decimal(float(c.min()))) < 8000 * Decimal(granularity)
    # the grid's ratio: 1 + granularity exactly for the table, the float r for the IEEE powers
    r = Decimal(1) + Decimal(granularity) if table else Decimal(1.0 + granularity)
    step = float(ctx.ln(r))
    # each cost's cell from log: exact where it lies clear of a cell edge, checked below elsewhere
    x = np.log(c)
    x /= step
    x -= offset
    if not up:  # the nearest value in ratio: the edges lie halfway between grid values
        x += 0.5
    k = (np.ceil(x) if up else np.floor(x)).astype(np.int64)
    if table:
        value = _cell_table(k, offset, step, ctx)
    else:
        base = float(ctx.exp(ctx.multiply(Decimal(offset), ctx.ln(r))))

        def value(cell):
            return _powers(cell, base, 1.0 + granularity)
    # log and the values' own rounding move an edge by far less than this share of a cell
    tol = 1e-6 + 1e-12 / step
    near = np.flatnonzero(np.abs(x - np.rint(x)) < tol)
    if near.size:
        kn, cn = k[near], c[near]
        half = 1.0 if up else float(np.sqrt(1.0 + granularity))  # sqrt: IEEE, correctly rounded
        for _ in range(4):  # a cell off by one at most: settles in a pass or two
            below = value(kn - 1) * half >= cn if up else value(kn - 1) * half > cn
            above = value(kn) < cn if up else value(kn) * half <= cn
            if not (below.any() or above.any()):
                break
            kn = kn - below + above
        k[near] = kn
    out[positive] = value(k)
    if up:
        np.maximum(out, costs, out=out)  # never below the real cost, whatever the rounding
    return out


def _cell_table(k: np.ndarray, offset: float, step: float, ctx: Context):
    """The grid value of a cell, ``exp((cell + offset) * step)`` in decimal, as a function of an
    array of cells: a table of every cell from ``k``'s lowest to its highest (and two beyond) where
    the costs fill them, else of the cells asked for, each computed once (a few costs spread over
    thousands of cells, as a small data set's are, need not pay for every cell between)."""
    def exact(cell: int) -> float:
        return float(ctx.exp(Decimal((float(cell) + offset) * step)))

    lo, hi = int(k.min()) - 2, int(k.max()) + 3
    if hi - lo <= 2 * k.size:
        values = np.array([exact(j) for j in range(lo, hi)])
        return lambda cells: values[cells - lo]
    known: dict[int, float] = {}

    def value(cells):
        distinct, at = np.unique(cells, return_inverse=True)
        found = np.array([known[j] if j in known else known.setdefault(j, exact(j)) for j in distinct.tolist()])
        return found[at].reshape(np.shape(cells))
    return value


def _powers(cells: np.ndarray, base: float, r: float) -> np.ndarray:
    """``base * r**cells`` by repeated squaring in IEEE multiplications (no pow: the same bits on
    every machine), within a few ulps of the exact value."""
    square = np.where(cells < 0, 1.0 / r, r)
    n = np.abs(cells)
    power = np.ones(cells.shape)
    with np.errstate(over="ignore"):  # squares past the last bit an item uses may overflow, unused
        while n.any():
            np.multiply(power, square, out=power, where=(n & 1).astype(bool))
            square *= square
            n >>= 1
    return base * power


def check_int(value: Any, name: str, minimum: int) -> int:
    """``value`` as an int >= ``minimum``: a Python or numpy integer, or a 0-d integer array or
    tensor (``torch.tensor(8)``); never a bool or a float."""
    if getattr(value, "ndim", None) == 0 and not isinstance(value, np.generic) and hasattr(value, "item"):
        item = value.item()  # a 0-d array or tensor: its one number, judged as that number
        value = item if isinstance(item, int) and not isinstance(item, bool) else value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} = {value}: must be >= {minimum}")
    return int(value)


def read_sizes(sizes: Any, fields: Any) -> np.ndarray:
    """Sizes as a validated float64 array, read once from a graph dataset when given one."""
    if isinstance(sizes, Sampler):
        raise DistributedConfigError(
            f"sizes: got a {type(sizes).__name__}, not sizes: a trainer re-created this batch sampler "
            "around its own sampler without the sizes; build DistributedBalancedBatchSampler(sizes, ...) "
            "yourself and turn the trainer's distributed sampler off (Lightning: use_distributed_sampler=False)")
    if is_dataset(sizes):
        return graph_sizes(sizes, DEFAULT_FIELDS if fields is None else fields)
    if fields is not None:
        raise ValueError("fields= only applies when sizes is a dataset of graphs")
    return as_sizes(sizes)


@recorded_for_trainers
class PlanBatchSampler(Sampler[list[int]]):
    """Base of the hullpack batch samplers: subclasses implement ``_build(epoch) -> Plan`` and
    ``init_kwargs()``; one built for a rank (``sampler=``) sets ``_world`` and, if it delegates its
    plan to a distributed sampler, ``_shard``."""

    def __init__(self, *, shuffle: bool, seed: int, drop_last: bool, granularity: float, check_ranks: bool = True):
        super().__init__()
        self.check_ranks = as_flag(check_ranks, "check_ranks", error=ValueError)
        self._ranks_checked = False
        self.shuffle = as_flag(shuffle, "shuffle", error=ValueError)  # shuffle="no" is no False
        self.seed = check_int(seed, "seed", 0)
        self.drop_last = as_flag(drop_last, "drop_last", error=ValueError)
        g = as_real(granularity, "granularity", error=ValueError)
        if not (0.0 <= g < 1.0):
            raise ValueError(f"granularity = {granularity}: must be in [0, 1)")
        self.granularity = g
        self.epoch = 0
        self._plan_cache: tuple[int, Plan] | None = None
        self._resume: tuple[int, int] | None = None  # (epoch, batches already done)
        self._done = 0  # batches handed out so far in the current epoch
        self._fingerprint = ""
        self._world: tuple[int, int] | None = None  # (num_replicas, rank) when built for one rank
        self._shard: DistributedBalancedBatchSampler | None = None  # the sampler this one's plan comes from
        self._ranked: PlanBatchSampler | None = None  # this one built for a rank, when accelerate deals it

    # -- to be provided by subclasses -----------------------------------------------------------
    def _build(self, epoch: int) -> Plan:  # pragma: no cover - abstract
        raise NotImplementedError

    def init_kwargs(self) -> dict:  # pragma: no cover - abstract
        """Keyword arguments that build an equal sampler (the same batches for every seed and epoch)
        from the costs already computed, with ``sampler=None`` for a trainer to replace by its
        ``DistributedSampler``: PyTorch Lightning re-creates batch samplers from them under DDP."""
        raise NotImplementedError

    def _for_rank(self, sampler: Any, make_shard: Callable[..., DistributedBalancedBatchSampler]) -> None:
        """Given ``sampler=`` (a ``DistributedSampler``): yield its rank's share of the batches, planned
        by ``make_shard(num_replicas=, rank=, **settings)`` when there is more than one replica (with
        ``even=False`` for an unrepeated sampler: every item once, see :func:`.trainers.unrepeated`).
        None or a ``SequentialSampler`` (:func:`.trainers.one_process`) is one process."""
        if one_process(sampler):
            return
        R, r = world_of(sampler)
        self._world = (R, r)
        if R > 1:
            settings = self._common_kwargs()
            del settings["sampler"]
            if unrepeated(sampler):
                settings["even"] = False
            with warnings.catch_warnings():  # oversize items: this sampler has warned already
                warnings.simplefilter("ignore")
                self._shard = make_shard(num_replicas=R, rank=r, **settings)

    def _common_kwargs(self) -> dict:
        return {"shuffle": self.shuffle, "seed": self.seed, "drop_last": self.drop_last,
                "granularity": self.granularity, "check_ranks": self.check_ranks, "sampler": None}

    def _config(self) -> tuple:
        """Settings that change the plan; a state saved under other settings cannot be loaded. The
        rank is not one of them: every rank has as many batches, so one rank's state (the one a
        trainer saves) resumes every rank."""
        shard = () if self._shard is None else (
            ("shard", self._shard.num_replicas) + (() if self._shard.even else ("uneven",)))
        return (type(self).__name__, self.shuffle, self.drop_last, self.granularity) + shard

    @property
    def sampler(self) -> EpochItems:
        """The current epoch's items in batch order; ``sampler.set_epoch(e)`` is ``set_epoch(e)``.

        Trainers call ``batch_sampler.sampler.set_epoch(epoch)`` at every epoch (PyTorch Lightning,
        accelerate): so they move this sampler to the next epoch without a hook of yours."""
        return EpochItems(self)

    def _plan_inputs(self) -> dict:
        """What the plan of the current epoch is made from, as the ranks of a job compare it (see
        :func:`.trainers.check_same_plan_inputs`)."""
        settings, costs, items = self._fingerprint.split("-")
        return {"items": int(items), "costs": costs, "settings": settings, "seed": self.seed, "epoch": self.epoch}

    def _set_fingerprint(self, costs: np.ndarray) -> None:
        # an ndarray is a buffer; numpy's stubs say so only from Python 3.12 (PEP 688)
        crc = zlib.crc32(np.ascontiguousarray(costs).view(np.uint8))  # type: ignore[arg-type]
        self._fingerprint = f"{zlib.crc32(repr(self._config()).encode()):08x}-{crc:08x}-{costs.shape[0]}"

    # -- the epoch's plan ------------------------------------------------------------------------
    def rng(self, epoch: int) -> np.random.Generator:
        """The generator of one epoch: the same on every process for equal ``seed`` and ``epoch``."""
        return np.random.default_rng([self.seed, epoch])

    def plan(self, epoch: int | None = None) -> Plan:
        """The batches of ``epoch`` (default: the current one), computed once and cached."""
        epoch = self.epoch if epoch is None else check_int(epoch, "epoch", 0)
        if self._plan_cache is not None and self._plan_cache[0] == epoch:
            return self._plan_cache[1]
        t0 = time.perf_counter()
        plan = self._build(epoch) if self._shard is None else self._shard.plan(epoch)
        log.debug("%s: planned %d batches for epoch %d in %.3f s", type(self).__name__,
                  plan.num_batches, epoch, time.perf_counter() - t0)
        if epoch == self.epoch:
            self._plan_cache = (epoch, plan)
        return plan

    def set_epoch(self, epoch: int) -> None:
        """Use the batches of ``epoch`` from now on; call it before every epoch, like
        ``DistributedSampler.set_epoch``. Epochs differ when ``shuffle`` is on."""
        epoch = check_int(epoch, "epoch", 0)
        if epoch != self.epoch:
            self._done = 0
            if self._resume is not None and self._resume[0] != epoch:
                self._resume = None
        self.epoch = epoch

    def _replicated_hint(self) -> str:
        """The arguments of the DistributedBalancedBatchSampler to use instead, for error messages."""
        return "..."

    def _start(self) -> int:
        return self._resume[1] if self._resume is not None and self._resume[0] == self.epoch else 0

    def __len__(self) -> int:
        """Number of batches of the current epoch. After :meth:`load_state_dict` it stays the whole
        epoch's, as trainers that count an epoch's batches themselves expect (PyTorch Lightning,
        torchdata's ``StatefulDataLoader``), while the next iteration yields the batches left."""
        refuse_rebatching(sys._getframe(1), self)
        world = accelerate_shard(sys._getframe(1), self)
        if world is not None:
            return world[0] * self._dealt_plan(*world).num_batches
        return self.plan().num_batches

    def __iter__(self) -> Iterator[list[int]]:
        """The batches of the epoch set when the first batch is taken, not when ``iter()`` is called:
        trainers that resume from a checkpoint (PyTorch Lightning) create the iterator first and
        set the epoch after, as ``BatchSampler`` over a ``DistributedSampler`` allows."""
        refuse_rebatching(sys._getframe(1), self)
        check_dataset_length(sys._getframe(1), self, self._plan_inputs()["items"])
        world = accelerate_shard(sys._getframe(1), self)
        if world is not None:
            return self._batches(lambda: self._dealt_plan(*world), world[0], world)
        if self._world is None:
            refuse_replicated(type(self).__name__, self._replicated_hint())
        return self._batches(self.plan, 1, self._world)

    def _batches(self, plan_of: Callable[[], Plan], copies: int,
                 world: tuple[int, int] | None) -> Iterator[list[int]]:
        # a generator: runs at the first next(), where every rank of a DDP job takes its first batch
        if world is not None and self.check_ranks and not self._ranks_checked:
            self._ranks_checked = True
            check_same_plan_inputs(self._plan_inputs(), world, type(self).__name__)
        plan = plan_of()
        start = self._start()
        self._resume = None
        self._done = start
        for b in range(start, plan.num_batches):
            self._done = b + 1
            batch = plan.batch(b)
            for _ in range(copies):
                yield batch

    def _dealt_plan(self, num_processes: int, process_index: int) -> Plan:
        """The batches of process ``process_index`` this epoch, for accelerate's BatchSamplerShard. It
        keeps every ``num_processes``-th batch from ``process_index`` on, so each is yielded
        ``num_processes`` times over."""
        ranked = self._for_world(num_processes, process_index)
        ranked.set_epoch(self.epoch)
        return ranked.plan()

    def _for_world(self, num_replicas: int, rank: int) -> "PlanBatchSampler":
        """This sampler as built for ``rank`` of ``num_replicas`` (itself when it was built so), with
        the same batches as under DDP (a DistributedBalancedBatchSampler's)."""
        if self._world is not None:
            if self._world != (num_replicas, rank):
                raise DistributedConfigError(
                    f"{type(self).__name__} was built for rank {self._world[1]} of {self._world[0]}, but "
                    f"accelerate runs it as process {rank} of {num_replicas}; build it after Accelerator() "
                    "without num_replicas and rank, or give accelerator.prepare() a BalancedBatchSampler or "
                    "PackedBatchSampler")
            return self
        if self._ranked is None or self._ranked._world != (num_replicas, rank):
            with warnings.catch_warnings():  # oversize items: this sampler has warned already
                warnings.simplefilter("ignore")
                self._ranked = recreate(self, Rank(num_replicas, rank))
        return self._ranked

    # -- resume ----------------------------------------------------------------------------------
    def state_dict(self, batches_done: int | None = None) -> dict:
        """Where the sampler is: epoch and batches done, to resume the rest of the epoch later.

        By default it counts the batches this sampler handed out. A ``DataLoader`` with workers
        fetches a few batches ahead of your loop: then pass the number of batches your loop
        finished as ``batches_done``.
        """
        done = self._done if batches_done is None else check_int(batches_done, "batches_done", 0)
        total = self.plan().num_batches
        if done > total:
            raise ValueError(f"batches_done = {done}: the epoch has only {total} batches")
        return {"epoch": self.epoch, "batches_done": done, "num_batches": total, "seed": self.seed,
                "fingerprint": self._fingerprint, "num_replicas": self._replicas()}

    def _replicas(self) -> int:
        return 1 if self._world is None else self._world[0]

    def _difference(self, state: dict) -> str:
        """What differs between the sampler that saved ``state`` and this one, in words."""
        if state["seed"] != self.seed:
            return f"seed {state['seed']}, this one seed {self.seed}"
        saved, mine = str(state["fingerprint"]).split("-"), self._fingerprint.split("-")
        if len(saved) == 3 and saved[2] != mine[2]:
            return f"{saved[2]} items, this one {mine[2]} (the sizes of another data set or split)"
        if len(saved) == 3 and saved[1] != mine[1]:
            return f"as many items ({mine[2]}) of other costs (other sizes or another cost model)"
        replicas = state.get("num_replicas")
        if replicas is not None and replicas != self._replicas():
            return (f"{replicas} processes (num_replicas), this one {self._replicas()}: a mid-epoch state resumes "
                    "only on as many processes")
        return ("other settings (the sampler's class, or one of shuffle, drop_last, granularity, batch_size or max_cost, batch_cost, "
                "cost, method, oversize, even)")

    def load_state_dict(self, state: dict) -> None:
        """Resume: the next iteration yields the rest of the saved epoch (same batches)."""
        if not isinstance(state, Mapping):
            raise ValueError(f"state_dict: expected the dict that state_dict() returned, got "
                             f"{type(state).__name__} {state!r:.60}")
        missing = {"epoch", "batches_done", "seed", "fingerprint"} - set(state)
        if missing:
            raise ValueError(f"state_dict is missing {sorted(missing)}; pass what state_dict() returned")
        if state["seed"] != self.seed or state["fingerprint"] != self._fingerprint:
            raise ValueError(
                f"state_dict was saved by a sampler with other sizes, seed or settings: {self._difference(state)}; "
                f"build the sampler as it was before loading (fingerprint of sizes and settings "
                f"{state['fingerprint']} vs {self._fingerprint})")
        self.set_epoch(check_int(state["epoch"], "epoch", 0))
        done = check_int(state["batches_done"], "batches_done", 0)
        if done > self.plan().num_batches:
            raise ValueError(f"batches_done = {done}: the epoch has only {self.plan().num_batches} batches")
        self._resume = (self.epoch, done)
        self._done = done

    # -- quality ---------------------------------------------------------------------------------
    def stats(self, epoch: int | None = None) -> dict:
        """Quality of an epoch's batches: count, peak and mean batch cost, and the lower bound."""
        plan = self.plan(epoch)
        counts = np.diff(plan.offsets)
        costs = plan.costs
        out: dict[str, Any] = {
            "epoch": self.epoch if epoch is None else epoch,
            "num_batches": plan.num_batches,
            "num_items": int(plan.offsets[-1]),
            "batch_size_min": int(counts.min()) if counts.size else 0,
            "batch_size_max": int(counts.max()) if counts.size else 0,
        }
        if costs.size:
            peak, mean = costs.max(axis=0), costs.mean(axis=0)
            out["peak_cost"] = float(peak) if costs.ndim == 1 else peak.tolist()
            out["mean_cost"] = float(mean) if costs.ndim == 1 else mean.tolist()
        out.update(plan.info)
        return out

    def padded_batches(self, epoch: int | None = None) -> list[int]:
        """Positions, among this sampler's batches of ``epoch`` (default: the current one), of the
        batches that repeat an item only to keep the ranks of a distributed job in step.

        Each such batch holds one item that another batch of the epoch (on this rank or another)
        holds too; all ranks together have ``stats()["padded_items"]`` of them. There are none with
        ``drop_last=True``, none for a single process, and none unless the epoch has fewer items than
        the batches the ranks need (see :class:`~hullpack.samplers.DistributedBalancedBatchSampler`).
        Train on them like any batch (DDP needs every rank in every step); skip them where every
        item should count once, as in validation metrics.

        >>> import numpy as np
        >>> from hullpack.samplers import DistributedBalancedBatchSampler
        >>> ranks = [DistributedBalancedBatchSampler([5.0, 3.0, 4.0], batch_size=2, num_replicas=4, rank=r)
        ...          for r in range(4)]
        >>> [list(s) for s in ranks]                     # 3 items, 4 ranks: one item twice
        [[[0]], [[2]], [[1]], [[2]]]
        >>> [s.padded_batches() for s in ranks], ranks[0].stats()["padded_items"]
        ([[], [], [], [0]], 1)
        """
        return self.plan(epoch).padding.tolist()

