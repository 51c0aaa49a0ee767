"""Graph-size-aware batch samplers for PyTorch and PyG training loops, single process and DDP.

Each sampler is a ``torch.utils.data.Sampler[list[int]]`` to pass as ``batch_sampler=`` to a
``torch.utils.data.DataLoader`` or ``torch_geometric.loader.DataLoader``:

- :class:`PackedBatchSampler`: variable batch size, every batch's cost within ``max_cost``;
- :class:`BalancedBatchSampler`: fixed number of batches (as random batching), balanced cost;
- :class:`DistributedBalancedBatchSampler`: either of the above for DDP, with equal batch counts on
  all ranks and near-equal cost within a step, planned by every rank on its own.

Sizes come as an ``(n,)`` or ``(n, k)`` array or are read once from a PyG dataset
(:func:`graph_sizes`); :class:`LinearCost` and :class:`MemoryModel` turn sizes into costs, and
``batch_cost=`` (``"padded"``, ``"quadratic"``, a :class:`BatchCost`, ...) says how costs add up into
a batch's when that is not their sum (padded tensors, attention).

Trainers that manage samplers themselves need no hook: PyTorch Lightning (one process or DDP, its
default settings) and accelerate move the samplers through their epochs, and under DDP Lightning
re-creates a balanced or packed sampler as that rank's share (see :mod:`.trainers`).

>>> import numpy as np
>>> from hullpack.samplers import BalancedBatchSampler
>>> sizes = np.arange(1, 11)
>>> sampler = BalancedBatchSampler(sizes, batch_size=5, shuffle=False)
>>> [sorted(b) for b in sampler]
[[1, 2, 5, 6, 9], [0, 3, 4, 7, 8]]
>>> [int(sizes[b].sum()) for b in sampler]      # a random split of 1..10 often gives 35 and 20
[28, 27]
"""
from ._sizes import DEFAULT_FIELDS, as_sizes, graph_sizes
from .balanced import BalancedBatchSampler
from .cost import LinearCost, MemoryModel
from .distributed import DistributedBalancedBatchSampler
from .packed import PackedBatchSampler
from .shape import BatchCost

__all__ = [
    "PackedBatchSampler",
    "BalancedBatchSampler",
    "DistributedBalancedBatchSampler",
    "LinearCost",
    "MemoryModel",
    "BatchCost",
    "graph_sizes",
    "as_sizes",
    "DEFAULT_FIELDS",
]
