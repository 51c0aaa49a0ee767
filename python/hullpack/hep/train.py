"""Training and validation of the Interaction Network with any batch sampler, single process or DDP.

``train`` runs AdamW on the edge BCE loss (true edges weighted by ``pos_weight``, by default the
ratio of false to true edges in the training set) with the batches of ``batch_sampler`` (any
``Sampler[list[int]]``: hullpack's samplers, a ``BatchSampler``, a list of index lists), and
measures the peak memory of every step with :class:`~hullpack.hep.memory.MemoryMeter`.

>>> import torch
>>> from hullpack.hep import CollisionGraphs
>>> from hullpack.hep.model import InteractionNetwork
>>> from hullpack.samplers import BalancedBatchSampler
>>> ds = CollisionGraphs(preset="low", num_events=12, seed=0)
>>> torch.manual_seed(0)  # doctest: +ELLIPSIS
<torch._C.Generator object at ...>
>>> model = InteractionNetwork(hidden=8, num_steps=1)
>>> out = train(model, ds, BalancedBatchSampler(ds.sizes, batch_size=4), epochs=2, val_dataset=ds)
>>> len(out["steps"]), sorted(out["val"])
(6, ['auc', 'loss', 'precision', 'recall'])

Under ``torchrun`` (DDP over gloo on CPUs, NCCL on GPUs)::

    torchrun --nproc-per-node=2 -m hullpack.hep --preset low --events 200 --epochs 2
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import time
import warnings
from typing import Any, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch_geometric.loader import DataLoader

from .._progress import progress
from .checks import flat_labels, pos_weight_from_counts
from .memory import MemoryMeter, held_bytes, static_bytes

log = logging.getLogger(__name__)


def label_field(dataset: Any, labels: str | None = "auto") -> str | None:
    """The field of ``dataset``'s graphs with one 0/1 label per edge (None: none), decided once for
    the whole dataset by :func:`~hullpack.hep.checks.check_graphs` where ``labels`` is ``"auto"``,
    else ``labels`` as given."""
    if labels != "auto":
        return labels
    from .checks import check_graphs

    return check_graphs(dataset, show_progress=False).edge_labels


def edge_labels(dataset: Any, labels: str | None = "auto") -> torch.Tensor | None:
    """All edge labels of a dataset in one tensor (read from the collated store when possible);
    None where the graphs have no label per edge (no ``y``, or graph or node labels). ``labels``
    as in :func:`label_field`."""
    field = label_field(dataset, labels)
    if field is None:
        return None
    data = getattr(dataset, "_data", None)
    if data is not None and getattr(dataset, "_indices", None) is None and getattr(data, field, None) is not None:
        return flat_labels(data[field])
    return torch.cat([flat_labels(dataset[i][field]) for i in range(len(dataset))])


def pos_weight_of(dataset: Any, labels: str | None = "auto") -> float:
    """False-to-true edge ratio of a dataset: the BCE weight that balances the two classes (1.0
    where the graphs have no edge labels). ``labels`` as in :func:`label_field`; ``"auto"`` reads
    the graphs once, in :func:`~hullpack.hep.checks.check_graphs`, whose
    :meth:`~hullpack.hep.checks.GraphFields.pos_weight` is this weight (use that where the graphs
    were checked already).

    >>> from hullpack.hep import CollisionGraphs
    >>> ds = CollisionGraphs(preset="low", num_events=5, seed=0)
    >>> y = torch.cat([g.y for g in ds])
    >>> pos_weight_of(ds) == float((y == 0).sum()) / float(y.sum())
    True
    """
    if labels == "auto":
        from .checks import check_graphs

        return check_graphs(dataset, show_progress=False).pos_weight()
    y = edge_labels(dataset, labels)
    if y is None:
        return 1.0
    return pos_weight_from_counts(float(y.sum()), y.numel())


def _targets(batch, labels: str | None) -> torch.Tensor | None:
    y = None if labels is None else getattr(batch, labels, None)
    if y is None:
        return None  # no per-edge labels: memory and time only
    flat = flat_labels(y)
    if flat.numel() != batch.num_edges:
        raise ValueError(f"the batch's {labels} has shape {tuple(y.shape)}, not one label per edge "
                         f"({batch.num_edges} edges); hullpack.hep.checks.check_graphs says which graph, "
                         "and labels=None trains without labels")
    return flat.float()


def loss_of(model: torch.nn.Module, batch, pos_weight: float, labels: str | None = "y") -> torch.Tensor:
    """Weighted BCE of the edge logits against the batch's field ``labels`` (one 0/1 label per
    edge); a stand-in target of zeros where ``labels`` is None or the graphs lack it (such a run
    measures memory and time, not accuracy). A batch without edges has a loss of 0."""
    logits = model(batch)
    y = _targets(batch, labels)
    if y is None:
        y = torch.zeros_like(logits)
    pw = torch.tensor(pos_weight, dtype=logits.dtype, device=logits.device)
    # the mean over no edges is NaN, their sum 0 (and the same tensors are saved for backward)
    return F.binary_cross_entropy_with_logits(logits, y, pos_weight=pw, reduction="mean" if y.numel() else "sum")


def auc_score(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (the Mann-Whitney statistic, ties counted half); NaN with one class.

    >>> auc_score(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    s = np.asarray(score)[order]
    ranks = np.empty(s.size)
    # average ranks over ties
    _, start, counts = np.unique(s, return_index=True, return_counts=True)
    avg = start + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@torch.no_grad()
def evaluate(model: torch.nn.Module, dataset: Any, *, batch_size: int = 16, pos_weight: float = 1.0,
             threshold: float = 0.5, device: torch.device | str = "cpu", labels: str | None = "auto") -> dict:
    """Edge precision, recall (at ``threshold`` on the sigmoid), ROC AUC and mean loss on ``dataset``
    against its edge labels (``labels`` as in :func:`label_field`); all None without edge labels.
    Precision is NaN where no edge is predicted true, recall and AUC where no edge is true."""
    labels = label_field(dataset, labels)
    if labels is None:
        return {"precision": None, "recall": None, "auc": None, "loss": None}
    model.eval()
    ys, ps, losses, weights = [], [], [], []
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        batch = batch.to(device)
        logits = model(batch)
        y = _targets(batch, labels)
        if y is None or not y.numel():
            continue
        pw = torch.tensor(pos_weight, dtype=logits.dtype, device=logits.device)
        losses.append(float(F.binary_cross_entropy_with_logits(logits, y, pos_weight=pw)) * y.numel())
        weights.append(y.numel())
        ys.append(y.cpu().numpy())
        ps.append(torch.sigmoid(logits).cpu().numpy())
    model.train()
    if not ys:  # validation graphs without a single edge
        return {"precision": None, "recall": None, "auc": None, "loss": None}
    truth, prob = np.concatenate(ys).astype(bool), np.concatenate(ps)
    pred = prob >= threshold
    tp = int((pred & truth).sum())
    # undefined (NaN, n/a in the study's table) where no edge is predicted true, or none is true: 0 would
    # read as every prediction wrong
    return {"precision": tp / int(pred.sum()) if pred.any() else float("nan"),
            "recall": tp / int(truth.sum()) if truth.any() else float("nan"),
            "auc": auc_score(truth, prob), "loss": sum(losses) / max(sum(weights), 1)}


def train(model: torch.nn.Module, dataset: Any, batch_sampler: Iterable[Sequence[int]], *, epochs: int = 1,
          lr: float = 2e-3, weight_decay: float = 1e-4, pos_weight: float | None = None,
          val_dataset: Any = None, device: torch.device | str = "cpu", seed: int = 0,
          eval_batch_size: int = 16, allocator: bool = False, desc: str = "training",
          labels: str | None = "auto") -> dict:
    """Train ``model`` in place; returns ``{"steps": [...], "epochs": [...], "val": {...}}``.

    Every step record has its batch's ``num_graphs``, ``num_nodes``, ``num_edges``, ``seconds``
    and memory (``peak_bytes``, ``saved_bytes``, ``rss_peak_bytes``, ``rss_growth_bytes``); every epoch record its
    ``seconds``, ``steps`` and mean ``loss``. ``set_epoch`` is called on samplers that have it.
    ``allocator=True`` also records the CPU allocator's peak of every step (``alloc_peak_bytes``).
    Under an initialised ``torch.distributed`` the model is wrapped in DDP (give a distributed
    sampler, which hands each rank its own batches). ``labels`` names the field with one 0/1 label
    per edge, None for none; ``"auto"`` decides it once from the whole dataset
    (:func:`label_field`). The epoch's loss is the mean over its steps with at least one edge.
    """
    device = torch.device(device)
    torch.manual_seed(seed)
    model.to(device).train()
    if labels == "auto" or pos_weight is None:  # one pass decides the labels and counts the true edges
        from .checks import check_graphs

        fields = check_graphs(dataset, edge_labels=labels, show_progress=False)
        labels = fields.edge_labels
        if pos_weight is None:  # from the edge labels, whichever field holds them
            pos_weight = fields.pos_weight()
            note = fields.class_balance_note()
            if note is not None:  # all (or almost all) edges of one class: the weight is not their ratio
                warnings.warn(f"{desc}: {note}", stacklevel=2)
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    net = model
    if distributed:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    meter = MemoryMeter(device, allocator=allocator)
    loader = DataLoader(dataset, batch_sampler=batch_sampler)
    steps, epochs_out = [], []
    for epoch in range(int(epochs)):
        if hasattr(batch_sampler, "set_epoch"):
            batch_sampler.set_epoch(epoch)
        t_epoch, losses = time.perf_counter(), []
        for batch in progress(loader, total=len(loader), desc=f"{desc} epoch {epoch}", unit="step"):
            batch = batch.to(device)
            t0 = time.perf_counter()
            with meter.step(held_bytes(model, opt) if allocator else 0) as m:
                opt.zero_grad(set_to_none=True)
                loss = loss_of(net, batch, pos_weight, labels)
                loss.backward()
            opt.step()
            if meter.fixed_bytes == 0 and not meter.cuda:  # optimizer state exists after the first step
                meter.fixed_bytes = static_bytes(model, opt)
                m.peak_bytes += meter.fixed_bytes
                m.static_bytes = meter.fixed_bytes
            value = float(loss.detach()) if batch.num_edges else None  # no edges: no loss to average
            if value is not None:
                losses.append(value)
            steps.append({"epoch": epoch, "num_graphs": int(batch.num_graphs), "num_nodes": int(batch.num_nodes),
                          "num_edges": int(batch.num_edges), "seconds": time.perf_counter() - t0,
                          "peak_bytes": m.peak_bytes, "saved_bytes": m.saved_bytes,
                          "rss_growth_bytes": m.rss_growth_bytes, "rss_peak_bytes": m.rss_peak_bytes,
                          "alloc_peak_bytes": m.alloc_peak_bytes,
                          "loss": value})
        epochs_out.append({"epoch": epoch, "seconds": time.perf_counter() - t_epoch,
                           "steps": sum(1 for s in steps if s["epoch"] == epoch),
                           "loss": float(np.mean(losses)) if losses else float("nan")})
        log.info("%s epoch %d: %d steps, loss %.4f, %.1f s", desc, epoch, epochs_out[-1]["steps"],
                 epochs_out[-1]["loss"], epochs_out[-1]["seconds"])
    val = evaluate(model, val_dataset, batch_size=eval_batch_size, pos_weight=pos_weight, device=device,
                   labels=labels) \
        if val_dataset is not None else {}
    return {"steps": steps, "epochs": epochs_out, "val": val}


def main(argv: list[str] | None = None) -> int:
    """Train on a preset under torchrun (DDP) or in one process; prints rank 0's results as JSON."""
    from ..samplers import DistributedBalancedBatchSampler, BalancedBatchSampler
    from .graphs import CollisionGraphs
    from .model import InteractionNetwork
    from .study import StudyConfig, finite, split, split_indices, val_count  # study imports this module

    from ..cli.common import positive_int
    from .events import PRESETS

    p = argparse.ArgumentParser(prog="python -m hullpack.hep", description=main.__doc__)
    p.add_argument("--preset", default="low", choices=sorted(PRESETS))
    p.add_argument("--events", type=positive_int, default=200)
    p.add_argument("--batch-size", type=positive_int, default=8)
    p.add_argument("--epochs", type=positive_int, default=2)
    p.add_argument("--hidden", type=positive_int, default=32)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.seed < 0:  # numpy's generators take no negative seeds
        p.error(f"argument --seed: expected an integer >= 0, got {args.seed}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    distributed = "RANK" in os.environ
    device = torch.device("cpu")
    if distributed:
        cuda = torch.cuda.is_available()
        if cuda:
            device = torch.device(f"cuda:{os.environ.get('LOCAL_RANK', '0')}")
            torch.cuda.set_device(device)
        torch.distributed.init_process_group("nccl" if cuda else "gloo")
    full = CollisionGraphs(preset=args.preset, num_events=args.events, seed=args.seed)
    # the study's split: validation graphs drawn at random by seed, not the first ones
    val_index, train_index = split_indices(len(full), val_count(len(full), StudyConfig.val_fraction), args.seed)
    val_set, train_set = split(full, val_index, train_index)
    sizes = full.sizes[train_index]
    sampler = (DistributedBalancedBatchSampler(sizes, batch_size=args.batch_size, seed=args.seed) if distributed
               else BalancedBatchSampler(sizes, batch_size=args.batch_size, seed=args.seed))
    torch.manual_seed(args.seed)  # the same initial model on every rank
    model = InteractionNetwork(hidden=args.hidden)
    out = train(model, train_set, sampler, epochs=args.epochs, val_dataset=val_set, device=device, seed=args.seed)
    if not distributed or torch.distributed.get_rank() == 0:
        # a metric that could not be computed (NaN) is null: strict JSON readers refuse NaN
        print(json.dumps(finite({"epochs": out["epochs"], "val": out["val"],
                                 "peak_bytes": max(s["peak_bytes"] for s in out["steps"]),
                                 "split": f"random, seed {args.seed}", "val_indices": val_index.tolist()}),
                         allow_nan=False))
    if distributed:
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":  # pragma: no cover  (python -m hullpack.hep runs it without Python's warning)
    raise SystemExit(main())
