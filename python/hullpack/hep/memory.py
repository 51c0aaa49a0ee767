"""Peak memory of a training step, on the CPU and on a GPU, and calibration of a MemoryModel.

On a GPU the peak is ``torch.cuda.max_memory_allocated`` (reset at the start of every step). On
the CPU torch keeps no peak statistic, so the meter counts what a GPU holds at the end of the
forward pass, where the peak comes: the bytes of every tensor saved for backward (the activations;
counted once per storage, as several ops save the same tensor) plus the fixed bytes of parameters,
gradients and optimizer state. Two of its terms a GPU does not hold then, both fixed, so that
strategies compare alike: the gradients (``zero_grad(set_to_none=True)`` frees them before the
forward pass) and the weights a layer saves for backward, which are the parameters counted again;
the temporaries freed during the forward pass are left out. It also records the process's resident set
size (RSS) during the step, and with ``allocator=True`` the CPU allocator's own peak (from
``torch.profiler`` memory events: the highest bytes allocated minus bytes freed since the step
began, plus the bytes held when it began, :func:`held_bytes`: parameters, the last step's gradients,
optimizer state), an independent check of the saved-tensor count that counts what
``torch.cuda.max_memory_allocated`` does on a GPU; it adds a little time per step.

>>> import torch
>>> meter = MemoryMeter(torch.device("cpu"))
>>> w = torch.ones(1000, requires_grad=True)
>>> with meter.step() as m:
...     (w * w).sum().backward()     # w is saved twice (as both factors): counted once
>>> m.saved_bytes
4000
"""
from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import torch

from ..samplers.cost import SavedTensorBytes

log = logging.getLogger(__name__)

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Resident set size of this process in bytes (0 where /proc is not available)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:  # pragma: no cover - not Linux
        return 0


def static_bytes(model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None) -> int:
    """Bytes of parameters, their gradients and the optimizer state (AdamW: two moments).

    >>> static_bytes(torch.nn.Linear(10, 10))            # 110 float32 parameters and gradients
    880
    """
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    return int(2 * params + _optimizer_bytes(optimizer))


def held_bytes(model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None) -> int:
    """Bytes a training step finds allocated when it begins: parameters, the gradients still held
    from the last step (none before the first) and the optimizer state (AdamW: two moments, after
    its first step).

    >>> layer = torch.nn.Linear(10, 10)
    >>> held_bytes(layer)                                  # 110 float32 parameters, no gradients yet
    440
    """
    params = list(model.parameters())
    total = sum(p.numel() * p.element_size() for p in params)
    total += sum(p.grad.numel() * p.grad.element_size() for p in params if p.grad is not None)
    return int(total + _optimizer_bytes(optimizer))


def _optimizer_bytes(optimizer: torch.optim.Optimizer | None) -> int:
    """Bytes of the optimizer's state tensors (AdamW: two moments; its scalar step counts not)."""
    if optimizer is None:
        return 0
    return sum(v.numel() * v.element_size() for state in optimizer.state.values() for v in state.values()
               if torch.is_tensor(v) and v.dim() > 0)


@dataclass
class StepReading:
    """What :meth:`MemoryMeter.step` measured: ``peak_bytes`` is the figure to compare."""

    peak_bytes: int = 0
    saved_bytes: int = 0
    static_bytes: int = 0
    rss_growth_bytes: int = 0
    #: highest resident set size of the process seen during the step (forward and after backward)
    rss_peak_bytes: int = 0
    #: CPU allocator peak during the step (``allocator=True``): the peak above what was allocated
    #: when it began, plus the ``held_bytes`` given to :meth:`MemoryMeter.step` (parameters, last
    #: gradients, optimizer state), so that it counts what ``torch.cuda.max_memory_allocated`` does
    alloc_peak_bytes: int = 0
    cuda: bool = False


class MemoryMeter:
    """Measures the peak memory of each training step (see the module docstring).

    ``fixed_bytes`` is added to the saved-tensor bytes on the CPU (set it with
    :func:`static_bytes` once the optimizer has state).
    """

    def __init__(self, device: torch.device | str = "cpu", fixed_bytes: int = 0, allocator: bool = False):
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.fixed_bytes = int(fixed_bytes)
        self.allocator = bool(allocator)

    @contextlib.contextmanager
    def step(self, held_bytes: int = 0) -> Iterator[StepReading]:
        """Measure one step; ``held_bytes`` (:func:`held_bytes`) is what was allocated before it,
        added to the allocator's peak during it."""
        reading = StepReading(static_bytes=self.fixed_bytes, cuda=self.cuda)
        if self.cuda:
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            yield reading
            torch.cuda.synchronize(self.device)
            reading.peak_bytes = int(torch.cuda.max_memory_allocated(self.device))
            return
        start = rss_bytes()
        top = [start]

        def sample_rss() -> None:
            top[0] = max(top[0], rss_bytes())

        prof = None
        if self.allocator:
            from torch.profiler import ProfilerActivity, profile

            prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
            with _quiet_stderr():
                prof.__enter__()
        try:
            with SavedTensorBytes(on_save=sample_rss) as saved:
                yield reading
        finally:
            if prof is not None:
                with _quiet_stderr():
                    prof.__exit__(None, None, None)
        if prof is not None:
            reading.alloc_peak_bytes = _allocator_peak(prof) + int(held_bytes)
        top[0] = max(top[0], rss_bytes())
        reading.rss_peak_bytes = int(top[0])
        reading.saved_bytes = saved.nbytes
        reading.peak_bytes = reading.saved_bytes + self.fixed_bytes
        reading.rss_growth_bytes = int(top[0] - start)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    # the profiler's C++ side prints a line to fd 2 at every start and stop
    try:
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except OSError:  # pragma: no cover - no file descriptors to juggle
        yield
        return
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _allocator_peak(prof) -> int:
    """Peak of the running sum of allocations (+) and frees (-) in a profile's memory events."""
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    if not events:
        return 0
    events.sort(key=lambda e: e.start_ns())
    return int(max(0, np.cumsum([e.nbytes() for e in events]).max()))


def calibrate(step_fn: Callable[[Any], Any], dataset: Any, *, sizes: np.ndarray | None = None,
              device: torch.device | str = "cpu", fixed_bytes: int = 0,
              batch_sizes=(1, 2, 4, 8, 16), seed: int = 0):
    """Fit the samplers' :class:`~hullpack.samplers.MemoryModel` to this step on this device.

    Runs :meth:`MemoryModel.probe` (largest, median and random graphs at each of ``batch_sizes``),
    measuring the CUDA peak on a GPU, else the saved-tensor bytes, to which ``fixed_bytes``
    (parameters, gradients, optimizer state) is added as the model's intercept, so the model
    predicts what :class:`MemoryMeter` measures.
    """
    from ..samplers import MemoryModel

    from ..samplers import graph_sizes

    device = torch.device(device)
    measure = "cuda" if device.type == "cuda" else "saved_tensors"
    S = np.asarray(graph_sizes(dataset) if sizes is None else sizes, dtype=np.float64)
    S2 = S[:, None] if S.ndim == 1 else S
    keep = independent_columns(S2)
    fitted = MemoryModel.probe(step_fn, dataset, sizes=S2[:, keep], batch_sizes=batch_sizes, measure=measure,
                               seed=seed)
    weights = np.zeros(S2.shape[1])
    weights[keep] = fitted.weights  # a size column that follows from the others costs nothing extra
    extra = fixed_bytes if measure == "saved_tensors" else 0
    model = MemoryModel(weights, fitted.bias, fitted.intercept + extra)
    model.probes_, model.max_rel_error_ = fitted.probes_, fitted.max_rel_error_
    return model


def probe_counts(batch_size: int) -> tuple[int, ...]:
    """Graphs per probe batch of :func:`calibrate` for training at ``batch_size``: powers of two up
    to it (at least 2, to tell the per-graph cost from the per-step one; at most 16). A probe of the
    largest graphs then holds no more of them than a training batch can, where probing 16 of them
    for batches of 2 could run out of the memory the study is about.

    >>> probe_counts(8), probe_counts(1), probe_counts(12), probe_counts(64)
    ((1, 2, 4, 8), (1, 2), (1, 2, 4, 8), (1, 2, 4, 8, 16))
    """
    top = max(2, min(16, int(batch_size)))
    return tuple(c for c in (1, 2, 4, 8, 16) if c <= top)


def independent_columns(sizes: np.ndarray) -> list[int]:
    """Size columns that are not a linear function of the earlier ones (e.g. ``num_edges = k *
    num_nodes`` for k-nearest-neighbour graphs): a memory model cannot tell such columns apart.

    >>> nodes = np.array([3.0, 5.0, 9.0, 4.0])
    >>> independent_columns(np.column_stack([nodes, 4 * nodes]))
    [0]
    >>> independent_columns(np.column_stack([nodes, [7.0, 2.0, 5.0, 5.0]]))
    [0, 1]
    """
    keep: list[int] = []
    base = np.ones((sizes.shape[0], 1))
    for j in range(sizes.shape[1]):
        trial = np.column_stack([base] + [sizes[:, i] for i in keep + [j]])
        scaled = trial / np.maximum(np.linalg.norm(trial, axis=0), 1e-300)
        if np.linalg.matrix_rank(scaled, tol=1e-9) == trial.shape[1]:
            keep.append(j)
    if not keep:
        size = ", ".join(f"{v:g}" for v in sizes[0])
        raise ValueError(f"every graph has the same size ({size}): a batch of k graphs costs k times one, whichever "
                         "graphs it holds, so there is no memory model to fit and no batching to compare; "
                         "the study needs graphs of different sizes")
    return keep
