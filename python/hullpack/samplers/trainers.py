"""What trainers that manage samplers themselves look for, so that the samplers work under their
defaults, and the guards against every process of a DDP job getting the same batches and against a
``DataLoader`` given a batch sampler as ``sampler=``.

* PyTorch Lightning (``Trainer(use_distributed_sampler=True)``, its default) re-creates the batch
  sampler of a DataLoader under DDP, passing a ``DistributedSampler`` as ``sampler=`` and the other
  constructor arguments it finds recorded on the batch sampler; and it calls ``set_epoch`` only on
  ``dataloader.sampler`` and ``dataloader.batch_sampler.sampler``. To predict it re-creates it with
  ``drop_last=False`` and, as ``sampler=``, its ``UnrepeatedDistributedSampler`` on several devices
  (:func:`unrepeated`: every item once, ranks' counts may differ) or the DataLoader's own
  ``SequentialSampler`` on one (:func:`one_process`).
* HF accelerate calls ``batch_sampler.set_epoch`` and ``batch_sampler.sampler.set_epoch``. With
  several processes ``prepare()`` wraps the batch sampler in its ``BatchSamplerShard``, which
  iterates it whole in every process and keeps the batches at positions ``process_index``,
  ``process_index + num_processes``, ... ; given a ``batch_size`` attribute it also takes every
  batch to hold exactly that many items, and drops or repeats batches that do not.

So every hullpack batch sampler takes ``sampler=`` (:func:`world_of` reads its ``num_replicas`` and
``rank``), records its constructor arguments where Lightning reads them (:func:`recorded_for_trainers`),
and has a ``.sampler`` (:class:`EpochItems`) whose ``set_epoch`` moves the batch sampler to that epoch.
Under accelerate it recognises the ``BatchSamplerShard`` that iterates it (:func:`accelerate_shard`)
and feeds it so that each process keeps exactly its rank's batches (see ``PlanBatchSampler``), and
its ``batch_size`` reads as None to that shard (:class:`BatchSizeAttribute`), since balanced
batches may hold a few items fewer than ``batch_size``.
"""
from __future__ import annotations

import functools
import inspect
import os
import sys
import warnings
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable, Iterator, NamedTuple, TypeVar

from torch.utils.data import BatchSampler, Sampler, SequentialSampler

from ..errors import DistributedConfigError, InvalidInputError, InvalidSizesError

if TYPE_CHECKING:  # pragma: no cover
    from ._base import PlanBatchSampler

_C = TypeVar("_C", bound=type)


class EpochItems(Sampler[int]):
    """The items of a batch sampler's current epoch in batch order; ``set_epoch`` sets the batch
    sampler's epoch.

    It is what ``batch_sampler.sampler`` returns, so that trainers which call
    ``batch_sampler.sampler.set_epoch(epoch)`` at every epoch (PyTorch Lightning, accelerate) give
    the batch sampler a new epoch, as ``DistributedSampler.set_epoch`` does.

    >>> from hullpack.samplers import BalancedBatchSampler
    >>> batches = BalancedBatchSampler([5, 1, 4, 2, 3, 3], batch_size=2, seed=0)
    >>> batches.sampler.set_epoch(3)
    >>> batches.epoch
    3
    >>> list(batches.sampler) == [i for b in batches for i in b]
    True
    """

    def __init__(self, batch_sampler: "PlanBatchSampler"):
        self.batch_sampler = batch_sampler

    def set_epoch(self, epoch: int) -> None:
        self.batch_sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[int]:
        return iter(self.batch_sampler.plan().items.tolist())

    def __len__(self) -> int:
        return int(self.batch_sampler.plan().items.size)


class Rank(NamedTuple):
    """A rank of a group of processes, read by :func:`world_of` like a ``DistributedSampler``."""
    num_replicas: int
    rank: int


def world_of(sampler: Any) -> tuple[int, int]:
    """``(num_replicas, rank)`` of a ``DistributedSampler`` (or anything with those attributes)."""
    R, r = getattr(sampler, "num_replicas", None), getattr(sampler, "rank", None)
    if isinstance(R, bool) or isinstance(r, bool) or not isinstance(R, int) or not isinstance(r, int):
        raise DistributedConfigError(
            f"sampler: expected a DistributedSampler (integer num_replicas and rank), got {type(sampler).__name__}")
    if R < 1 or not 0 <= r < R:
        raise DistributedConfigError(f"sampler: rank = {r} and num_replicas = {R} do not fit (0 <= rank < num_replicas)")
    return R, r


def one_process(sampler: Any) -> bool:
    """Whether ``sampler=`` stands for a single process: None, or torch's ``SequentialSampler``, which
    a ``DataLoader`` given a batch sampler holds as ``.sampler`` and which PyTorch Lightning passes
    back when it re-creates the batch sampler to predict on one device."""
    return sampler is None or type(sampler) is SequentialSampler


def unrepeated(sampler: Any) -> bool:
    """Whether ``sampler`` is an unrepeated distributed sampler: PyTorch Lightning's
    ``UnrepeatedDistributedSampler`` (or a subclass), which it passes when it re-creates a batch
    sampler to predict on several devices. It gives every item to one rank, none twice, so ranks may
    get different counts; found by class name, so that Lightning need not be imported."""
    return any(cls.__name__ == "UnrepeatedDistributedSampler" for cls in type(sampler).__mro__)


def process_group_size() -> int:
    """Number of processes of the initialised default ``torch.distributed`` group, else 1."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def refuse_replicated(name: str, arguments: str) -> None:
    """Raise when a sampler that yields the same batches in every process runs in a process group of
    more than one process (each rank would train on every batch)."""
    size = process_group_size()
    if size > 1:
        raise DistributedConfigError(
            f"{name} gives all {size} processes of this torch.distributed group the same batches; use "
            f"DistributedBalancedBatchSampler(sizes, {arguments}) for data-parallel training, or "
            f"DistributedBalancedBatchSampler(sizes, {arguments}, num_replicas=1, rank=0) where a process "
            "should see every batch (evaluating on rank 0 only, say)")


def check_same_plan_inputs(summary: dict, world: tuple[int, int], name: str) -> None:
    """Raise, on every rank at once, where the ranks of a ``torch.distributed`` group would plan their
    epochs from different inputs: ``summary`` (this rank's number of items, a checksum of their
    costs in order, a checksum of the settings, the seed and the epoch) is gathered from every rank
    once (:func:`gather_summaries`) and compared.

    Each rank plans the epoch on its own, so sizes that differ between ranks (a dataset drawn with
    unseeded randomness, files listed in another order, a split made in each process) would give
    some items twice and others never, with no error. It runs only where ``world`` (the sampler's
    ``(num_replicas, rank)``) is this process's place in the initialised default group, so every
    process of the group reaches the one exchange with its own sampler; elsewhere (and in a
    DataLoader worker) it does nothing.
    """
    import torch.distributed as dist
    from torch.utils.data import get_worker_info

    # a DataLoader worker (a sampler iterated inside an IterableDataset) inherits the group's state
    # but must not take part in the exchange
    if not (dist.is_available() and dist.is_initialized()) or get_worker_info() is not None:
        return
    R, r = world
    if R < 2 or dist.get_world_size() != R or dist.get_rank() != r:
        return
    gathered = gather_summaries(summary, R, r, name)
    groups: dict = {}
    for rank, s in enumerate(gathered):
        groups.setdefault(tuple(sorted(s.items())), []).append(rank)
    if len(groups) == 1:
        return
    ref = gathered[0]
    lines = []
    for ranks in groups.values():
        if ranks[0] == 0:
            continue
        s = gathered[ranks[0]]
        who = f"rank{'s' if len(ranks) > 1 else ''} {', '.join(map(str, ranks))}"
        if s["items"] != ref["items"]:
            what = f"{s['items']} items, rank 0 {ref['items']}"
        elif s["costs"] != ref["costs"]:
            what = (f"as many items ({s['items']}) of other costs: other sizes, the same sizes in another order, or "
                    "another cost model")
        elif s["seed"] != ref["seed"]:
            what = f"seed {s['seed']}, rank 0 seed {ref['seed']}"
        elif s["epoch"] != ref["epoch"]:
            what = f"epoch {s['epoch']}, rank 0 epoch {ref['epoch']} (call set_epoch on every rank)"
        else:
            what = "other settings (the sampler's class, batch_size or max_cost, shuffle, drop_last, cost, ...)"
        lines.append(f"{who}: {what}")
    raise DistributedConfigError(
        f"{name}: the ranks of this torch.distributed group built their samplers from different inputs "
        f"({'; '.join(lines)}), so their batches would give some items twice and others never. Build the "
        "sampler from the same sizes, in the same order, with the same settings on every rank (seed a "
        "randomly drawn dataset on every rank, sort file lists, make splits once with a fixed seed); "
        "check_ranks=False turns this check off")


_CHECKS = "hullpack/check_ranks"  # the keys of the exchange in the group's store


def gather_summaries(summary: dict, R: int, r: int, name: str) -> list[dict]:
    """Every rank's ``summary`` (plain JSON values), exchanged through the key-value store of the
    initialised default group rather than a collective, so that a rank that never takes part leaves
    neither the others waiting for ever nor the group's collectives out of step.

    A rank's ``k``-th check writes its summary under turn ``k`` and waits for the others' as long as
    the store's timeout (the group's, ``init_process_group(timeout=)``); the last rank to read them
    removes the turn's keys. A rank that times out marks the turn abandoned unless every rank had
    arrived by then, and raises naming the ranks that did not answer; a rank arriving at an
    abandoned turn raises too, so no rank goes on alone. A group without a store (the MPI
    backend's) gathers them with ``all_gather_object``.
    """
    import datetime
    import json

    import torch.distributed as dist

    store = getattr(dist.distributed_c10d, "_get_default_store", lambda: None)()
    if store is None:  # a group without a store (MPI's): the one collective, waited on as collectives are
        gathered: list = [None] * R
        dist.all_gather_object(gathered, summary)
        return gathered
    timeout = getattr(store, "timeout", None) or datetime.timedelta(minutes=30)
    turn = store.add(f"{_CHECKS}/rank{r}", 1)
    arrived, keys = f"{_CHECKS}/{turn}/arrived", [f"{_CHECKS}/{turn}/{q}" for q in range(R)]
    gave_up = R + 1  # what a rank that times out adds to ``arrived``: more than all arrivals together
    fix = ("where only some ranks iterate this sampler (an evaluation loop on rank 0 alone, a loader one rank "
           "never iterates), build it with check_ranks=False; else raise the group's timeout "
           "(init_process_group(timeout=)) if a rank is this much slower to take its first batch")
    if store.add(arrived, 1) > R:
        raise DistributedConfigError(
            f"{name}: the other ranks of this torch.distributed group stopped waiting for rank {r} to take its "
            f"first batch (after {timeout}) and raised, so the ranks cannot check that they build the same "
            f"batches; {fix}")
    store.set(keys[r], json.dumps(summary, default=str))
    try:
        store.wait(keys, timeout)
    except RuntimeError:  # (DistStoreError) the timeout
        if store.add(arrived, gave_up) % gave_up < R or not _waited(store, keys, timeout):
            missing = [q for q in range(R) if not store.check([keys[q]])]
            raise DistributedConfigError(
                f"{name}: rank{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))} of this "
                f"torch.distributed group did not take a first batch from this sampler within the group's "
                f"timeout ({timeout}), so the ranks cannot check that they build the same batches; {fix}") from None
    gathered = [json.loads(store.get(k)) for k in keys]
    # the last rank to read removes the turn's keys: a job that builds a sampler every epoch leaves
    # only the ranks' turn counters in the store
    read = f"{_CHECKS}/{turn}/read"
    if store.add(read, 1) == R:
        try:
            for key in (*keys, arrived, read):
                store.delete_key(key)
        except (RuntimeError, NotImplementedError):  # a store that cannot delete keys keeps them
            pass
    return gathered


def _waited(store: Any, keys: list, timeout: Any) -> bool:
    """Whether ``keys`` are all set within ``timeout``: every rank had arrived, their summaries are on
    their way."""
    try:
        store.wait(keys, timeout)
    except RuntimeError:
        return False
    return True


class Call(NamedTuple):
    """The arguments a constructor was called with, as PyTorch Lightning records them for the
    ``BatchSampler`` subclasses it re-creates: positional ``args`` and the names they bind to,
    ``kwargs`` given by name, and the defaults of the other named parameters."""
    args: tuple
    kwargs: dict
    arg_names: tuple
    default_kwargs: dict


def _recording(init: Callable) -> Callable:
    """``init`` (a subclass's own ``__init__``), recording the arguments of the outermost constructor
    call on the instance, those that build it again. A ``**kwargs`` constructor is taken to pass
    ``sampler=`` on to the hullpack sampler's."""
    params = list(inspect.signature(init).parameters.values())[1:]
    named = [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    forwards = any(p.kind is p.VAR_KEYWORD for p in params) and "sampler" not in {p.name for p in named}

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        if "_trainer_call" not in self.__dict__:  # the outermost: the class a trainer instantiates
            names = tuple(p.name for p in named)[:len(args)]
            defaults = {p.name: p.default for p in named
                        if p.name not in kwargs and p.name not in names and p.default is not p.empty}
            if forwards and "sampler" not in kwargs:
                defaults["sampler"] = None
            self.__dict__["_trainer_call"] = Call(args, dict(kwargs), names, defaults)
        init(self, *args, **kwargs)

    return wrapper


def _saved(self: Any) -> Call:
    """The arguments that re-create ``self``: its own constructor's, where a subclass outside hullpack
    has one, else ``init_kwargs()`` (with ``sampler=`` for the trainer to set). New dicts each time:
    Lightning sets ``sampler`` in them."""
    call = self.__dict__.get("_trainer_call")
    if call is None:
        return Call((), self.init_kwargs(), (), {})
    return call._replace(kwargs=dict(call.kwargs), default_kwargs=dict(call.default_kwargs))


def recreate(instance: Any, sampler: Any) -> Any:
    """``instance`` built again with ``sampler=`` (a rank to build for), as a trainer re-creates it:
    from its own constructor's arguments, where a subclass outside hullpack has one (it must take a
    ``sampler`` argument, or pass ``**kwargs`` on), else from ``init_kwargs()``."""
    call = _saved(instance)
    if "sampler" in call.arg_names:  # given by position
        at = call.arg_names.index("sampler")
        return type(instance)(*call.args[:at], sampler, *call.args[at + 1:], **call.kwargs)
    if "sampler" not in call.kwargs and "sampler" not in call.default_kwargs:
        raise DistributedConfigError(
            f"{type(instance).__name__}.__init__ takes no 'sampler' argument, so it cannot be built again for "
            "each process; add `sampler=None` to it and pass it on to the hullpack sampler's constructor")
    return type(instance)(*call.args, **{**call.kwargs, "sampler": sampler})


def recorded_for_trainers(cls: _C) -> _C:
    """Class decorator: PyTorch Lightning finds the arguments that re-create an instance under the
    attribute names its own capture of ``BatchSampler`` constructor arguments uses, wherever the
    instance was built: ``instance.init_kwargs()`` (with ``sampler=`` for it to set), or for a
    subclass with a constructor of its own, the arguments that constructor was given (Lightning then
    sets its ``sampler`` argument, and says to add one where there is none)."""
    setattr(cls, "__pl_saved_args", property(lambda self: _saved(self).args))
    setattr(cls, "__pl_saved_arg_names", property(lambda self: _saved(self).arg_names))
    setattr(cls, "__pl_saved_kwargs", property(lambda self: _saved(self).kwargs))
    setattr(cls, "__pl_saved_default_kwargs", property(lambda self: _saved(self).default_kwargs))

    def init_subclass(sub: type, **kwargs: Any) -> None:
        # cls is the decorated class; mypy takes a class held in a variable for no type object
        super(cls, sub).__init_subclass__(**kwargs)  # type: ignore[arg-type]
        if "__init__" in vars(sub) and not sub.__module__.startswith(_PACKAGE):
            setattr(sub, "__init__", _recording(vars(sub)["__init__"]))

    setattr(cls, "__init_subclass__", classmethod(init_subclass))
    return cls


_PACKAGE = __name__.split(".")[0] + "."


def refuse_rebatching(frame: FrameType | None, batch_sampler: Any) -> None:
    """Raise when ``frame`` (the caller of ``iter()`` or ``len()`` on ``batch_sampler``) is torch's
    ``BatchSampler`` over it: a ``DataLoader`` given a batch sampler as ``sampler=`` would batch its
    lists of indices again, and ``dataset[list]`` often runs (tensors index with lists) with the
    wrong shapes."""
    if frame is None or not frame.f_code.co_filename.endswith(_TORCH_SAMPLER_FILE):
        return
    owner = frame.f_locals.get("self")
    if isinstance(owner, BatchSampler) and owner.sampler is batch_sampler:
        name = type(batch_sampler).__name__
        raise InvalidInputError(
            f"{name} yields whole batches: pass it as DataLoader(dataset, batch_sampler=...), not sampler= "
            f"(the DataLoader would group its batches into batches of batch_size={owner.batch_size})")


def check_dataset_length(frame: FrameType | None, batch_sampler: Any, n_items: int) -> None:
    """Raise when ``frame`` (the caller of ``iter()`` on ``batch_sampler``) is a ``DataLoader``'s (or
    torchdata ``StatefulDataLoader``'s) iterator over a dataset with fewer items than the sampler has
    sizes (its batches would index items the dataset lacks: an ``IndexError`` from deep in the
    loader, or in a worker); warn when it has more (the items beyond the sizes would never be
    loaded). Sizes of one split and a loader over another, or over the whole data set, are the
    usual cause."""
    if frame is None or not frame.f_code.co_filename.endswith(_DATALOADER_FILES):
        return
    owner = frame.f_locals.get("self")
    dataset = getattr(owner, "_dataset", None)
    try:
        n_data = len(dataset)  # type: ignore[arg-type]
    except TypeError:  # no dataset found, or one without a length
        return
    if n_data == n_items:
        return
    name = type(batch_sampler).__name__
    said = (f"{name} was built from {n_items} sizes but the DataLoader's dataset "
            f"({type(dataset).__name__}) has {n_data} items")
    fix = ("build the sampler from the sizes of this dataset, one per item in the dataset's order "
           "(the same split, the same filtering)")
    if n_data < n_items:
        if owner is not None and not hasattr(owner, "_shutdown"):
            # raised while the iterator is built, before it starts workers: its __del__ would report
            # the attribute it has not set yet ("Exception ignored ... no attribute '_shutdown'")
            owner._shutdown = True
        raise InvalidSizesError(f"{said}: its batches would ask for items {n_data}..{n_items - 1}, which "
                                f"the dataset does not have; {fix}")
    warnings.warn(f"{said}: items {n_items}..{n_data - 1} will never be loaded; {fix}", stacklevel=2)


_TORCH_SAMPLER_FILE = os.path.join("torch", "utils", "data", "sampler.py")
# the DataLoaders whose iterators call iter() on a batch sampler: torch's (PyG's subclasses it), torchdata's
_DATALOADER_FILES = (os.path.join("torch", "utils", "data", "dataloader.py"),
                     os.path.join("torchdata", "stateful_dataloader", "stateful_dataloader.py"))
_ACCELERATE_FILE = os.path.join("accelerate", "data_loader.py")
_DISPATCHER_DEPTH = 8  # frames from the DataLoader's call of iter()/len() up to the dispatcher's


def _shard_running(frame: FrameType | None) -> Any:
    """The accelerate ``BatchSamplerShard`` whose method ``frame`` is, else None."""
    if frame is None or not frame.f_code.co_filename.endswith(_ACCELERATE_FILE):
        return None
    owner = frame.f_locals.get("self")
    return owner if type(owner).__name__ == "BatchSamplerShard" else None


def _dispatcher_running(frame: FrameType | None) -> Any:
    """The accelerate ``DataLoaderDispatcher`` of several processes whose ``__iter__`` or ``__len__``
    runs somewhere up the callers from ``frame`` (through the ``DataLoader`` it wraps), else None."""
    for _ in range(_DISPATCHER_DEPTH):
        if frame is None:
            return None
        if frame.f_code.co_filename.endswith(_ACCELERATE_FILE):
            owner = frame.f_locals.get("self")
            if type(owner).__name__ == "DataLoaderDispatcher":
                return owner if getattr(getattr(owner, "state", None), "num_processes", 1) > 1 else None
        frame = frame.f_back
    return None


def accelerate_shard(frame: FrameType | None, batch_sampler: Any) -> tuple[int, int] | None:
    """``(num_processes, process_index)`` when ``frame`` (the caller of ``iter()`` or ``len()`` on
    ``batch_sampler``) is HF accelerate's ``BatchSamplerShard`` dealing ``batch_sampler``'s batches to
    several processes, else None. Raises on the shard settings that would cut or drop batches, and
    under accelerate's ``dispatch_batches=True``, whose first process runs the batch sampler for all
    and cuts what it gathers by position."""
    name = type(batch_sampler).__name__
    shard = _shard_running(frame)
    if shard is None or getattr(shard, "batch_sampler", None) is not batch_sampler:
        if _dispatcher_running(frame) is not None:
            raise DistributedConfigError(
                f"accelerate's dispatch_batches=True runs {name} in the first process alone, joins as many of "
                "its batches as there are processes and cuts them by position, which undoes the balancing (a "
                "sampler built for one rank would also leave the other ranks' items out); leave "
                "dispatch_batches off, DataLoaderConfiguration(dispatch_batches=False), the default for a "
                "map-style dataset: each process then gets whole batches of its own")
        return None
    if getattr(shard, "split_batches", False):
        raise DistributedConfigError(
            f"accelerate's split_batches=True cuts every batch of {name} into num_processes pieces by "
            "position, which undoes the balancing; leave split_batches off (the default): each process "
            "then gets whole batches")
    if getattr(shard, "batch_size", None) is not None:
        raise DistributedConfigError(
            f"accelerate's BatchSamplerShard took batch_size = {shard.batch_size} from {name}, whose "
            "batches may hold fewer items, and would drop those; let accelerator.prepare() wrap the "
            "hullpack batch sampler itself")
    return int(shard.num_processes), int(shard.process_index)


class BatchSizeAttribute:
    """The ``batch_size`` attribute of a batch sampler whose batches may hold fewer items than that:
    the number set, except to accelerate's ``BatchSamplerShard`` reading it, which takes a
    ``batch_size`` to mean that every batch holds exactly that many items (it drops the others and
    truncates gathered metrics on that assumption) and None to mean batches of any length."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        shard = _shard_running(sys._getframe(1))
        if shard is not None and not getattr(shard, "split_batches", False):  # split: refused when iterated
            return None
        return getattr(obj, self.slot)

    def __set__(self, obj: Any, value: Any) -> None:
        setattr(obj, self.slot, value)
