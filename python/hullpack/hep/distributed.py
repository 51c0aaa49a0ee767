"""Stragglers under data-parallel training: torch's ``DistributedSampler`` against hullpack's
``DistributedBalancedBatchSampler``, measured on processes of one machine (gloo).

Every rank trains the same Interaction Network on its own batches. After forward and backward each
rank waits at a barrier until the slowest rank is done, then gradients are averaged
(``all_reduce``), which is what DDP does inside ``backward``; timing the barrier separately shows
how long ranks wait. Per step the predicted memory cost of every rank's batch is recorded, so the
cost imbalance across ranks (``(max - min) / max``) is measured too.

>>> from hullpack.hep import CollisionGraphs
>>> ds = CollisionGraphs(preset="low", num_events=24, seed=0)
>>> out = compare_distributed(ds, batch_size=4, hidden=8, num_steps=1)   # doctest: +SKIP
>>> sorted(out["summary"])                                               # doctest: +SKIP
['DistributedBalancedBatchSampler', 'DistributedSampler']
"""
from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import time
from typing import Any

import numpy as np
import torch

from .checks import check_graphs

log = logging.getLogger(__name__)

SAMPLERS = ("DistributedSampler", "DistributedBalancedBatchSampler")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rank_main(rank: int, world_size: int, port: int, dataset: Any, sizes: np.ndarray, memory: dict,
               cfg: dict, result_path: str) -> None:
    import torch.distributed as dist
    from torch.utils.data import BatchSampler, DistributedSampler, Sampler
    from torch_geometric.loader import DataLoader

    from ..samplers import DistributedBalancedBatchSampler, MemoryModel
    from .model import InteractionNetwork, feature_widths
    from .train import loss_of

    torch.set_num_threads(cfg["threads"])
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    mem = MemoryModel.from_dict(memory)
    # warm-up (lazy initialisation, first-call overheads) so that neither sampler pays for it
    torch.manual_seed(cfg["seed"])
    warm = InteractionNetwork(*feature_widths(dataset), hidden=cfg["hidden"],
                              num_steps=cfg["num_steps"])
    for batch in DataLoader(dataset, batch_size=cfg["batch_size"]):
        for _ in range(2):
            loss_of(warm, batch, cfg["pos_weight"], cfg["labels"]).backward()
        break
    dist.barrier()
    records = {}
    for name in SAMPLERS:
        if name == "DistributedSampler":
            # any sized sequence of indices will do; torch's stubs ask for a Dataset
            per_rank: DistributedSampler[int] = DistributedSampler(
                range(len(dataset)), num_replicas=world_size, rank=rank, shuffle=True,  # type: ignore[arg-type]
                seed=cfg["seed"])
            sampler: Sampler[list[int]] = BatchSampler(per_rank, cfg["batch_size"], drop_last=False)
            set_epoch = per_rank.set_epoch
        else:
            balanced = DistributedBalancedBatchSampler(sizes, batch_size=cfg["batch_size"], cost=mem,
                                                       num_replicas=world_size, rank=rank, seed=cfg["seed"])
            sampler, set_epoch = balanced, balanced.set_epoch
        torch.manual_seed(cfg["seed"])  # the same initial model on every rank and for both samplers
        model = InteractionNetwork(*feature_widths(dataset), hidden=cfg["hidden"], num_steps=cfg["num_steps"])
        opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"])
        rows = []
        for epoch in range(cfg["epochs"]):
            set_epoch(epoch)
            for batch in DataLoader(dataset, batch_sampler=sampler):
                t0 = time.perf_counter()
                opt.zero_grad(set_to_none=True)
                loss_of(model, batch, cfg["pos_weight"], cfg["labels"]).backward()
                t1 = time.perf_counter()
                dist.barrier()
                t2 = time.perf_counter()
                for p in model.parameters():
                    if p.grad is not None:
                        dist.all_reduce(p.grad)
                        p.grad /= world_size
                opt.step()
                cost = float(mem.predict([batch.num_nodes, batch.num_edges], batch.num_graphs))
                rows.append((cost, t1 - t0, t2 - t1, int(batch.num_edges)))
        records[name] = rows
    everything = [None] * world_size
    dist.all_gather_object(everything, records)
    if rank == 0:
        with open(result_path, "w") as f:
            json.dump(everything, f)
    dist.destroy_process_group()


def compare_distributed(dataset: Any, *, batch_size: int = 8, world_size: int = 2, epochs: int = 1,
                        hidden: int = 16, num_steps: int = 2, lr: float = 2e-3, seed: int = 0,
                        memory: Any = None, threads: int = 1, labels: str | None = "auto") -> dict:
    """Train on ``world_size`` local processes with each sampler; per-step cost imbalance and wait.

    Returns ``{"summary": {sampler: {...}}, "steps": {sampler: [[rank0 step...], ...]}}`` where the
    summary has ``steps`` (per rank), ``mean_cost_spread`` (mean over steps of (max - min) / max of
    the ranks' predicted batch memory), ``max_cost_ratio`` (worst step's max / mean over ranks),
    ``wait_s`` (seconds the ranks spent at the barrier, summed over ranks), ``compute_s`` and
    ``wait_fraction`` = wait / (wait + compute), and ``threads``, the torch threads of each process
    (``threads``). ``memory`` is a calibrated
    :class:`~hullpack.samplers.MemoryModel` (default: calibrated here on this model); ``labels``
    the field with one 0/1 label per edge (see :func:`~hullpack.hep.train.label_field`).
    """
    import torch.multiprocessing as mp

    from .memory import calibrate, probe_counts, static_bytes
    from .model import InteractionNetwork, feature_widths
    from .train import loss_of

    # one pass over the graphs checks them, decides the labels (where "auto"), reads the sizes and
    # counts the true edges for the positive-class weight
    fields = check_graphs(dataset, edge_labels=labels, show_progress=False)
    labels, sizes, pos_weight = fields.edge_labels, fields.sizes, fields.pos_weight()
    assert sizes is not None  # check_graphs reads them
    if memory is None:
        torch.manual_seed(seed)
        probe = InteractionNetwork(*feature_widths(dataset), hidden=hidden,
                                   num_steps=num_steps)

        def step(batch):
            probe.zero_grad()
            loss_of(probe, batch, pos_weight, labels).backward()

        memory = calibrate(step, dataset, sizes=sizes, fixed_bytes=2 * static_bytes(probe), seed=seed,
                           batch_sizes=probe_counts(batch_size))
    cfg = {"batch_size": batch_size, "epochs": epochs, "hidden": hidden, "num_steps": num_steps, "lr": lr,
           "seed": seed, "pos_weight": pos_weight, "threads": threads, "labels": labels}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "result.json")
        mp.spawn(_rank_main, args=(world_size, _free_port(), dataset, sizes, memory.to_dict(), cfg, path),
                 nprocs=world_size, join=True)
        with open(path) as f:
            per_rank = json.load(f)
    summary, steps = {}, {}
    for name in SAMPLERS:
        arr = np.array([r[name] for r in per_rank], dtype=np.float64)  # (ranks, steps, 4)
        cost, compute, wait = arr[:, :, 0], arr[:, :, 1], arr[:, :, 2]
        summary[name] = {
            "steps": int(arr.shape[1]),
            "peak_cost_mib": float(cost.max() / 2**20),
            "mean_cost_spread": float(np.mean((cost.max(0) - cost.min(0)) / cost.max(0))),
            "max_cost_ratio": float(np.max(cost.max(0) / cost.mean(0))),
            "compute_s": float(compute.sum()), "wait_s": float(wait.sum()),
            "wait_fraction": float(wait.sum() / max(wait.sum() + compute.sum(), 1e-12)),
            "step_time_s": float(np.sum(compute.max(0))),
        }
        steps[name] = arr.tolist()
    return {"summary": summary, "steps": steps, "world_size": world_size, "threads": threads, "batch_size": batch_size,
            "memory_model": memory.to_dict()}
