"""The GNN memory study: synthetic collider events, an Interaction Network edge classifier and
peak-memory measurement of training with hullpack's batch samplers against common batching.

- :class:`CollisionGraphs`: events of a pile-up preset (``"low"``, ``"high"``) as a PyG dataset of
  Exa.TrkX-style hit graphs with cached sizes; :func:`generate_event`, :func:`build_graph`;
- :class:`InteractionNetwork` and :func:`train` (any batch sampler, DDP under torchrun);
- :class:`MemoryMeter` (peak memory per step, CPU and GPU) and :func:`calibrate` (a samplers'
  ``MemoryModel`` fitted on probe batches);
- :func:`check_graphs`: what the study needs of a dataset's graphs, checked on every graph;
- :func:`run_study` / :func:`bench_memory` (``hullpack bench-memory``) and
  :func:`compare_distributed` (two-process gloo run).

>>> from hullpack.hep import CollisionGraphs
>>> ds = CollisionGraphs(preset="low", num_events=2, seed=0)
>>> ds.sizes.shape
(2, 2)
"""
try:
    import torch_geometric  # noqa: F401  (the graphs are PyG Data; say so before a deep import fails)
except ImportError:
    raise ImportError('hullpack.hep needs torch_geometric: pip install "hullpack[hep]"') from None

from .checks import GraphFields, check_graphs
from .distributed import compare_distributed
from .events import PRESETS, EventConfig, generate_event
from .graphs import CollisionGraphs, GraphCuts, build_graph, event_graph
from .memory import MemoryMeter, calibrate, static_bytes
from .model import InteractionNetwork
from .datasets import load_dataset
from .study import STRATEGIES, StudyConfig, bench_memory, run_study
from .train import evaluate, train

__all__ = ["PRESETS", "EventConfig", "generate_event", "CollisionGraphs", "GraphCuts", "build_graph",
           "event_graph", "InteractionNetwork", "train", "evaluate", "MemoryMeter", "calibrate",
           "static_bytes", "STRATEGIES", "StudyConfig", "run_study", "bench_memory", "load_dataset",
           "compare_distributed", "check_graphs", "GraphFields"]
