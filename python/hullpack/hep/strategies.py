"""The batching strategies the memory study compares, and what they share with the distributed
comparison: seeded baseline batch samplers (``random``, ``sorted``, ``roundrobin``), the batch
sampler of a strategy by name (:func:`make_batch_sampler`; ``balanced`` and ``packed`` are
hullpack's samplers), the memory-budget check, and the graph sizes of a dataset.

>>> sizes = np.array([[5.0, 9], [1, 1], [4, 8], [2, 2]])          # nodes, edges per graph
>>> sampler = make_batch_sampler("sorted", sizes, 2, MemoryModel([1.0, 0.0]))
>>> sorted(sorted(b) for b in sampler)                          # the two largest graphs together
[[0, 2], [1, 3]]
"""
from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np
import torch

from ..errors import OversizeItemError
from ..samplers import BalancedBatchSampler, MemoryModel, PackedBatchSampler, graph_sizes

__all__ = ["STRATEGIES", "RandomBatchSampler", "SortedBatchSampler", "RoundRobinBatchSampler",
           "make_batch_sampler", "check_budget", "dataset_sizes"]

STRATEGIES = ("random", "sorted", "roundrobin", "balanced", "packed")


class _SeededBatches(torch.utils.data.Sampler):
    """Base of the comparison samplers: fixed batch count, seeded by (seed, epoch)."""

    def __init__(self, costs: np.ndarray, batch_size: int, seed: int = 0):
        self.costs = np.asarray(costs, dtype=np.float64)
        self.batch_size, self.seed, self.epoch = int(batch_size), int(seed), 0
        self.num_batches = math.ceil(self.costs.size / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_batches

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch])

    def batches(self) -> list[np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __iter__(self) -> Iterator[list[int]]:
        return iter([[int(i) for i in b] for b in self.batches()])


class RandomBatchSampler(_SeededBatches):
    """Shuffled batches of ``batch_size`` items: what ``DataLoader(shuffle=True)`` does.

    >>> [len(b) for b in RandomBatchSampler(np.ones(10), 4)]
    [4, 4, 2]
    """

    def batches(self) -> list[np.ndarray]:
        perm = self._rng().permutation(self.costs.size)
        return [perm[i:i + self.batch_size] for i in range(0, perm.size, self.batch_size)]


class SortedBatchSampler(_SeededBatches):
    """Bucketing: items sorted by cost (random tie-break) and cut into batches; batch order shuffled.

    >>> sorted(sorted(b) for b in SortedBatchSampler(np.array([5., 1, 4, 2]), 2))
    [[0, 2], [1, 3]]
    """

    def batches(self) -> list[np.ndarray]:
        rng = self._rng()
        order = np.lexsort((rng.random(self.costs.size), self.costs))
        chunks = [order[i:i + self.batch_size] for i in range(0, order.size, self.batch_size)]
        return [chunks[i] for i in rng.permutation(len(chunks))]


class RoundRobinBatchSampler(_SeededBatches):
    """NuGraph-style: the largest ``top`` fraction of items dealt round-robin over the batches (one
    batch after another), then the remaining items shuffled into the free places.

    >>> b = RoundRobinBatchSampler(np.arange(20.0), 5, top=0.2).batches()
    >>> sorted(int(max(x)) for x in b)      # each batch got one of the 4 largest items
    [16, 17, 18, 19]
    """

    def __init__(self, costs: np.ndarray, batch_size: int, seed: int = 0, top: float = 0.1):
        super().__init__(costs, batch_size, seed)
        self.top = float(top)

    def batches(self) -> list[np.ndarray]:
        rng = self._rng()
        n, B = self.costs.size, self.num_batches
        order = np.argsort(-self.costs, kind="stable")
        k = int(round(self.top * n))
        big, rest = order[:k], rng.permutation(order[k:])
        # capacities as even as the batch count allows: the first n % B batches hold one more
        cap = np.full(B, n // B) + (np.arange(B) < n % B)
        out: list[list[int]] = [[] for _ in range(B)]
        start = int(rng.integers(B))
        for j, item in enumerate(big):
            out[(start + j) % B].append(int(item))
        pos = 0
        for b in range(B):
            take = cap[b] - len(out[b])
            out[b] += rest[pos:pos + take].tolist()
            pos += take
        return [np.asarray(x, dtype=np.int64) for x in (out[i] for i in rng.permutation(B))]


def dataset_sizes(dataset: Any) -> np.ndarray:
    """``(n, 2)`` nodes and edges per graph: cached ``sizes`` where present, else read once."""
    cached = getattr(dataset, "sizes", None)
    if isinstance(cached, np.ndarray) and cached.shape == (len(dataset), 2):
        return cached
    return graph_sizes(dataset, ("num_nodes", "num_edges"))


def make_batch_sampler(strategy: str, sizes: np.ndarray, batch_size: int, memory: MemoryModel, *,
                       budget_bytes: float | None = None, seed: int = 0):
    """The batch sampler of one strategy over graphs of ``sizes`` ``(n, 2)``, costs from ``memory``."""
    costs = memory(sizes)
    if strategy == "random":
        return RandomBatchSampler(costs, batch_size, seed)
    if strategy == "sorted":
        return SortedBatchSampler(costs, batch_size, seed)
    if strategy == "roundrobin":
        return RoundRobinBatchSampler(costs, batch_size, seed)
    if strategy == "balanced":
        return BalancedBatchSampler(sizes, batch_size, cost=memory, seed=seed)
    if strategy == "packed":
        if budget_bytes is None:
            raise ValueError("strategy 'packed' needs budget_bytes")
        check_budget(sizes, memory, budget_bytes)
        return PackedBatchSampler(sizes, memory.budget_to_max_cost(budget_bytes), cost=memory, seed=seed)
    raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")


def check_budget(sizes: np.ndarray, memory: MemoryModel, budget_bytes: float, first: int = 0,
                 index: np.ndarray | None = None) -> None:
    """Raise :class:`~hullpack.errors.OversizeItemError` if one graph alone needs more than the
    budget, naming it by its index in the dataset (``sizes`` row ``i`` is graph ``index[i]``, or
    ``first + i``).

    >>> check_budget(np.array([[100.0, 9], [2048, 90]]), MemoryModel([1024.0, 0.0]), 2**20, first=10)
    Traceback (most recent call last):
    ...
    hullpack.errors.OversizeItemError: memory budget 1.00 MiB is below what graph 11 needs on its own (2.00 MiB, 2048 nodes, 90 edges); raise the budget or leave such graphs out
    """
    need = memory.intercept + memory(sizes)
    worst = int(np.argmax(need))
    if need[worst] > budget_bytes:
        raise OversizeItemError(
            f"memory budget {budget_bytes / 2**20:.2f} MiB is below what graph "
            f"{first + worst if index is None else int(index[worst])} needs on its own "
            f"({need[worst] / 2**20:.2f} MiB, {int(sizes[worst, 0])} nodes, {int(sizes[worst, 1])} edges); "
            "raise the budget or leave such graphs out")
