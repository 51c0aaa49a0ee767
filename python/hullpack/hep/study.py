"""The memory study: train the same model with different batching strategies and compare the peak
memory of a step, the mean, steps per epoch, epoch time and validation metrics.

Strategies (``STRATEGIES``, defined in :mod:`hullpack.hep.strategies`):

* ``random``: shuffled batches of ``batch_size`` graphs (the usual ``DataLoader(shuffle=True)``),
  the baseline;
* ``sorted``: bucketing, graphs sorted by cost and cut into batches, batch order shuffled;
* ``roundrobin``: as NuGraph does, the largest 10% of the graphs dealt round-robin over the batches,
  the rest shuffled in;
* ``balanced``: :class:`~hullpack.samplers.BalancedBatchSampler`, same batch size and step count,
  costs from the calibrated memory model;
* ``packed``: :class:`~hullpack.samplers.PackedBatchSampler` under the memory budget.

The datasets come by name from :mod:`hullpack.hep.datasets` (:func:`load_dataset`, also importable
from here). Costs come from a :class:`~hullpack.samplers.MemoryModel` calibrated on probe batches of the
very training step (see :mod:`hullpack.hep.memory`). The memory budget (``budget_bytes``, by default
``budget_factor`` times the predicted memory of an average batch, at least 1.1 times the largest
graph's) is where a GPU of that size would
run out of memory: the table counts the steps of every strategy that exceed it.

>>> from hullpack.hep import CollisionGraphs
>>> from hullpack.hep.study import StudyConfig, run_study
>>> ds = CollisionGraphs(preset="low", num_events=30, seed=0)
>>> cfg = StudyConfig(strategies=("random", "balanced"), batch_size=4, epochs=1, hidden=8, num_steps=1)
>>> table, details = run_study({"low": ds}, cfg)
>>> table["strategy"].tolist(), int(table["steps_per_epoch"].iloc[0]) == int(table["steps_per_epoch"].iloc[1])
(['random', 'balanced'], True)
"""
from __future__ import annotations

import copy
import logging
import math
import os
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..errors import InvalidSizesError
from ..samplers import MemoryModel
from .checks import check_graphs
from .datasets import DEFAULT_EVENTS, EXPECTED, as_graphs, load_dataset, repeated_datasets  # noqa: F401 (public here too)
from .distributed import compare_distributed
from .events import PRESETS
from .memory import calibrate, independent_columns, probe_counts, static_bytes
from .model import InteractionNetwork
from .strategies import STRATEGIES, check_budget, make_batch_sampler
from .train import loss_of, train

log = logging.getLogger(__name__)

#: the size columns of the study's memory model, in order
SIZE_COLUMNS = ("nodes", "edges")


@dataclass
class StudyConfig:
    """Settings of :func:`run_study`; the defaults finish in minutes on a laptop CPU."""

    strategies: Sequence[str] = STRATEGIES
    batch_size: int = 8
    epochs: int = 2
    hidden: int = 32
    num_steps: int = 3
    lr: float = 2e-3
    seed: int = 0
    #: fraction of each dataset held out for validation, drawn at random by seed (split_indices)
    val_fraction: float = 0.2
    #: memory budget in bytes; None: budget_factor x the predicted memory of an average batch (at
    #: least 1.1 x what the largest graph needs on its own)
    budget_bytes: float | None = None
    budget_factor: float = 1.25
    #: extra runs of the random baseline with other seeds, to show run-to-run noise of the metrics
    baseline_repeats: int = 0
    device: str = "cpu"
    #: on the CPU also record the allocator's peak of every step (torch.profiler; ~60 ms more a step)
    allocator: bool = False
    #: the graphs' field with one 0/1 label per edge, for the validation metrics: "auto" (edge_label,
    #: else y where its shape says it labels edges; see hullpack.hep.checks), a field name, or None
    #: (none: memory and time only)
    edge_labels: str | None = "auto"

    def __post_init__(self):
        unknown = [s for s in self.strategies if s not in STRATEGIES]
        if unknown or not self.strategies:
            what = f"unknown strategy {unknown[0]!r}" if unknown else "no strategy given"
            raise ValueError(f"{what}; choose from {', '.join(STRATEGIES)}")
        again = next((s for i, s in enumerate(self.strategies) if s in self.strategies[:i]), None)
        if again is not None:
            raise ValueError(f"strategy {again!r} is given twice; give each strategy once (--baseline-repeats "
                             "runs the random baseline with more seeds)")
        if self.batch_size < 1 or self.epochs < 1 or self.hidden < 1 or self.num_steps < 1:
            raise ValueError("batch_size, epochs, hidden and num_steps must be >= 1")
        if isinstance(self.baseline_repeats, bool) or not isinstance(self.baseline_repeats, (int, np.integer)) \
                or self.baseline_repeats < 0:
            raise ValueError(f"baseline_repeats = {self.baseline_repeats!r}: give the number of extra random-baseline "
                             "seeds, 0 or more (2 shows the run-to-run spread)")
        if self.baseline_repeats and "random" not in self.strategies:
            raise ValueError(f"baseline_repeats = {self.baseline_repeats} repeats the random baseline with other "
                             "seeds, but random is not among the strategies: add it (--strategies random,...), or "
                             "leave the repeats out")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed = {self.seed!r}: give a whole number, 0 or more (--seed; it seeds numpy's "
                             "random generators, which take no negative seeds)")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction = {self.val_fraction} must be in (0, 1)")
        if self.edge_labels is not None and not (isinstance(self.edge_labels, str) and self.edge_labels):
            raise ValueError(f"edge_labels = {self.edge_labels!r}: give 'auto', a field name such as 'y', or None")
        if self.budget_bytes is not None and not self.budget_bytes > 0:
            raise ValueError(f"budget_bytes = {self.budget_bytes} must be > 0")
        if not self.budget_factor > 0:
            raise ValueError(f"budget_factor = {self.budget_factor} must be > 0 (the budget is budget_factor x the "
                             "memory of an average batch)")
        if self.budget_bytes is not None and self.budget_factor != StudyConfig.budget_factor:
            raise ValueError(f"budget_factor = {self.budget_factor} (--budget-factor) sets the budget where none is "
                             f"given, but budget_bytes = {self.budget_bytes:.6g} (--budget-mib) is: give one of them")
        try:
            device = torch.device(self.device)
        except RuntimeError:
            raise ValueError(f"device {self.device!r} is not a torch device; give cpu or cuda") from None
        if device.type == "cuda" and self.allocator:  # said, not refused: scripts turn it on for every device
            warnings.warn("allocator = True (--allocator) adds the CPU allocator's peak beside the CPU's measured "
                          "peak; on cuda the peak already is the GPU allocator's (torch.cuda.max_memory_allocated), "
                          "so it is left out (the allocator peak column reads n/a)", stacklevel=3)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {self.device!r}: torch finds no CUDA GPU here (torch {torch.__version__}); "
                             "run on the CPU, which measures what a GPU would hold, or on a machine with a GPU")


def _summary(name: str, strategy: str, out: dict, budget: float, memory: MemoryModel) -> dict:
    steps = out["steps"]
    peaks = np.array([s["peak_bytes"] for s in steps], dtype=np.float64)
    pred = memory.predict(np.array([[s["num_nodes"], s["num_edges"]] for s in steps], dtype=np.float64),
                          np.array([s["num_graphs"] for s in steps], dtype=np.float64))
    val = out["val"]
    return {"dataset": name, "strategy": strategy,
            "peak_mib": peaks.max() / 2**20, "mean_mib": peaks.mean() / 2**20,
            "peak_over_mean": peaks.max() / peaks.mean(),
            "steps_per_epoch": len(steps) // max(len(out["epochs"]), 1),
            "epoch_s": float(np.min([e["seconds"] for e in out["epochs"]])),  # best: the machine may be shared
            "over_budget_steps": int((peaks > budget).sum()),
            "predicted_peak_mib": float(np.max(pred)) / 2**20,
            "rss_peak_mib": max(s["rss_peak_bytes"] for s in steps) / 2**20,
            "alloc_peak_mib": (max(s["alloc_peak_bytes"] for s in steps) / 2**20) or None,
            "val_precision": val.get("precision"), "val_recall": val.get("recall"), "val_auc": val.get("auc"),
            "train_loss": out["epochs"][-1]["loss"]}


def run_study(datasets: dict[str, Any], config: StudyConfig = StudyConfig()):
    """Train one Interaction Network per (dataset, strategy) from the same initial weights.

    Returns ``(table, details)``: a pandas DataFrame with one row per pair (peak and mean memory
    in MiB, steps per epoch, epoch seconds, steps over the memory budget, validation precision,
    recall and AUC, and ``peak_reduction`` against ``random``), and a dict per dataset with the
    memory model, the budget and every step's measurements.
    """
    import pandas as pd

    rows, details = [], {}
    for name, dataset in datasets.items():
        fields = check_graphs(dataset, name, config.edge_labels)  # every graph, before any training
        labels, sizes_all = fields.edge_labels, fields.sizes   # sizes read in the same pass
        assert sizes_all is not None
        if not sizes_all[:, 1].any():
            raise InvalidSizesError(f"{name!r}: none of its {len(sizes_all)} graphs has an edge (every edge_index is "
                                    "(2, 0)); the Interaction Network classifies edges, so there would be nothing to "
                                    "train or measure but node encodings: give the graphs' edges in edge_index")
        n = len(dataset)
        n_val = val_count(n, config.val_fraction)
        if n - n_val < config.batch_size:
            raise ValueError(f"dataset {name!r}: {n} graph{'s' * (n != 1)}, {n_val} held out for validation "
                             f"(val_fraction = {config.val_fraction}), leave {n - n_val} to train on, fewer than "
                             f"batch_size = {config.batch_size}: give more graphs or a smaller batch size")
        val_index, train_index = split_indices(n, n_val, config.seed)
        val_set, train_set = split(dataset, val_index, train_index)
        sizes = sizes_all[train_index]
        pos_weight = fields.pos_weight(train_index)  # counted in the check's pass, not read again
        balance = fields.class_balance_note(train_index)  # edges all (or almost all) of one class
        if balance is not None:
            log.warning("%s: %s", name, balance)
        torch.manual_seed(config.seed)
        init = InteractionNetwork(fields.node_features, fields.edge_features, hidden=config.hidden,
                                  num_steps=config.num_steps)
        fixed = static_bytes(init) + 2 * sum(p.numel() * p.element_size() for p in init.parameters())  # + AdamW moments
        probe_model = copy.deepcopy(init).to(config.device)

        def step(batch, _m=probe_model):
            _m.zero_grad()
            loss_of(_m, batch.to(config.device), pos_weight, labels).backward()

        memory = calibrate(step, train_set, sizes=sizes, device=config.device, fixed_bytes=fixed, seed=config.seed,
                           batch_sizes=probe_counts(config.batch_size))
        avg_batch = float(memory.predict(sizes.mean(axis=0) * config.batch_size, config.batch_size))
        largest = float(memory.intercept + memory(sizes).max())
        # by default: budget_factor x an average batch, but room for the largest graph on its own
        budget = float(config.budget_bytes) if config.budget_bytes else \
            max(config.budget_factor * avg_batch, 1.1 * largest)
        if "packed" in config.strategies:
            check_budget(sizes, memory, budget, index=train_index)   # graphs named by their index in the dataset
        log.info("%s: %d train / %d val graphs, %r (max rel. error %.3f), budget %.2f MiB", name, n - n_val,
                 n_val, memory, memory.max_rel_error_, budget / 2**20)
        runs = [(s, config.seed) for s in config.strategies]
        if "random" in config.strategies:
            runs += [("random", config.seed + 1 + r) for r in range(config.baseline_repeats)]
        det = {"edge_labels": labels, "edge_labels_one_hot": fields.one_hot, "pos_weight": pos_weight,
               "class_balance": balance, "memory_model": memory.to_dict(),
               "memory_model_max_rel_error": memory.max_rel_error_,
               # sizes that follow linearly from the others here (edges = k x nodes): their cost is in the
               # other terms, and their weight reads 0
               "memory_model_folded": [c for j, c in enumerate(SIZE_COLUMNS) if j not in independent_columns(sizes)],
               "budget_bytes": budget,
               # what the budget stands against: a step of the largest training graph alone (no batching can
               # go below it) and an average batch of batch_size graphs, both as the memory model predicts
               "largest_graph_bytes": largest, "average_batch_bytes": avg_batch,
               "budget_from": "given" if config.budget_bytes else
               "average batch" if config.budget_factor * avg_batch >= 1.1 * largest else "largest graph",
               "num_train": n - n_val, "num_val": n_val,
               "split": f"random, seed {config.seed}", "val_indices": val_index.tolist(),
               "sizes": {"nodes_min_median_max": np.percentile(sizes_all[:, 0], [0, 50, 100]).tolist(),
                         "edges_min_median_max": np.percentile(sizes_all[:, 1], [0, 50, 100]).tolist()},
               "runs": {}}
        for strategy, seed in runs:
            sampler = make_batch_sampler(strategy, sizes, config.batch_size, memory, budget_bytes=budget, seed=seed)
            model = copy.deepcopy(init)
            out = train(model, train_set, sampler, epochs=config.epochs, lr=config.lr, pos_weight=pos_weight,
                        val_dataset=val_set, device=config.device, seed=seed, allocator=config.allocator,
                        desc=f"{name}/{strategy}", labels=labels)
            row = _summary(name, strategy, out, budget, memory)
            row["seed"] = seed
            row["budget_mib"] = budget / 2**20
            rows.append(row)
            det["runs"][f"{strategy}/{seed}"] = {
                "peak_bytes": [s["peak_bytes"] for s in out["steps"]],
                "num_edges": [s["num_edges"] for s in out["steps"]], "epochs": out["epochs"], "val": out["val"]}
        details[name] = det
    table = pd.DataFrame(rows)
    base = table[(table.strategy == "random") & (table.seed == config.seed)].set_index("dataset")["peak_mib"]
    table["peak_reduction"] = [1.0 - p / base[d] if d in base.index else float("nan")
                               for d, p in zip(table.dataset, table.peak_mib)]
    return table, details


def val_count(n: int, fraction: float) -> int:
    """How many of ``n`` graphs a ``fraction`` held out for validation is: at least one.

    >>> val_count(200, 0.2), val_count(8, 0.2), val_count(3, 0.2)
    (40, 2, 1)
    """
    return max(1, int(round(fraction * n)))


def split_indices(n: int, n_val: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``n_val`` validation graphs, drawn at random from ``n`` by ``seed``, and of
    the rest, each in dataset order. Random, not the first graphs: a dataset sorted by size (files
    listed by event size, a sorted PyG dataset) would otherwise validate on its smallest graphs.

    >>> split_indices(10, 3, seed=0)
    (array([2, 4, 6]), array([0, 1, 3, 5, 7, 8, 9]))
    """
    val = np.sort(np.random.default_rng(seed).permutation(n)[:n_val])
    return val, np.setdiff1d(np.arange(n), val)


def split(dataset: Any, *parts: np.ndarray) -> tuple[Any, ...]:
    """``dataset`` restricted to each array of indices in ``parts``: a list of a list, an indexed
    copy of a PyG dataset, else ``torch.utils.data.Subset`` views (a ``torch`` ``Dataset`` need
    only take integers).

    >>> val, rest = split(torch.utils.data.TensorDataset(torch.arange(5)), np.array([1, 3]), np.array([0, 2, 4]))
    >>> len(val), int(rest[1][0])
    (2, 2)
    """
    from torch_geometric.data import Dataset as PygDataset

    if isinstance(dataset, (list, tuple)):
        return tuple([dataset[int(i)] for i in idx] for idx in parts)
    if isinstance(dataset, PygDataset):
        return tuple(dataset[torch.as_tensor(idx, dtype=torch.long)] for idx in parts)
    return tuple(torch.utils.data.Subset(dataset, [int(i) for i in idx]) for idx in parts)


def noise(table) -> dict:
    """Run-to-run spread (max - min) of the random baseline's validation metrics per dataset, in the
    study's order of datasets (as the table and the other lines give them)."""
    out = {}
    for name, g in table[table.strategy == "random"].groupby("dataset", sort=False):
        spread = {m: float(g[m].max() - g[m].min()) for m in ("val_precision", "val_recall", "val_auc")
                  if g[m].notna().all()}
        if len(g) > 1 and spread:  # graphs without edge labels have no metrics to spread
            out[name] = spread
    return out


def mib_text(value: float) -> str:
    """MiB with two decimals, and with three significant digits below 10 MiB, so that small peaks that
    differ (by the percentage printed beside them) do not read the same.

    >>> mib_text(187.4521), mib_text(0.1294), mib_text(0.1363), mib_text(0.0012345)
    ('187.45', '0.129', '0.136', '0.00123')
    """
    if not value > 0 or not math.isfinite(value):
        return f"{value:.2f}"
    return f"{value:.{max(2, 2 - math.floor(math.log10(value)))}f}"


def to_markdown(table) -> str:
    """The study's table as Markdown (one row per dataset and strategy)."""
    # (column, header, format: a str.format pattern or a function)
    cols: list[tuple[str, str, str | Callable[[float], str]]] = [
        ("dataset", "dataset", "{}"), ("strategy", "strategy", "{}"), ("seed", "seed", "{}"),
        ("peak_mib", "peak MiB", mib_text), ("mean_mib", "mean MiB", mib_text),
        ("peak_change", "peak vs random", "{:+.1%}"), ("steps_per_epoch", "steps/epoch", "{}"),
        ("alloc_peak_mib", "allocator peak MiB", mib_text), ("epoch_s", "epoch s (best)", "{:.2f}"),
        ("over_budget_steps", "steps > budget", "{}"),
        ("val_precision", "val precision", "{:.3f}"), ("val_recall", "val recall", "{:.3f}"),
        ("val_auc", "val AUC", "{:.4f}")]
    lines = ["| " + " | ".join(c[1] for c in cols) + " |", "|" + "---|" * len(cols)]
    # the peak's change, signed as a reader expects: -25% is a peak a quarter lower than random's
    for _, r in table.assign(peak_change=0.0 - table["peak_reduction"]).iterrows():
        cells = []
        for key, _, fmt in cols:
            v = r[key]
            cells.append("n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else
                         fmt(v) if callable(fmt) else fmt.format(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(table, details: dict, path: str, device: str = "cpu") -> None:
    """Bar chart of peak and mean memory per strategy and dataset, and the per-step memory of the
    largest dataset against its budget, under a line saying what was measured on ``device``;
    written to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(table.dataset))
    main = table.groupby("dataset")["peak_mib"].max().idxmax()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    ax = axes[0]
    first = table.drop_duplicates(["dataset", "strategy"])
    strategies = list(dict.fromkeys(first.strategy))
    w = 0.8 / len(strategies)
    top = 0.0
    for j, s in enumerate(strategies):
        sub = first[first.strategy == s].set_index("dataset").reindex(names)
        # against random's peak; without a random run, in MiB (each strategy over its own peak read 1.0)
        base = first[first.strategy == "random"].set_index("dataset").reindex(names)["peak_mib"] \
            if "random" in strategies else 1.0
        x = np.arange(len(names)) + j * w
        ax.bar(x, sub["peak_mib"] / base, w, label=f"{s} peak")
        top = max(top, float(np.nanmax(sub["peak_mib"] / base)))
        ax.scatter(x, sub["mean_mib"] / base, color="k", marker="_", s=80, zorder=3)
    ax.set_xticks(np.arange(len(names)) + 0.4 - w / 2, names)
    ax.set_ylabel("memory / peak of random batching" if "random" in strategies else "step memory (MiB)")
    ax.set_xlabel("bars: peak step, dashes: mean step")
    ax.set_ylim(0, 1.3 * top)  # room above the bars for the legend, which hid the tallest ones
    ax.legend(fontsize=8, loc="upper center", ncol=min(len(strategies), 3))
    ax.set_title("peak memory per training step")
    ax = axes[1]
    det = details[main]
    for key, run in det["runs"].items():
        if key.split("/")[0] in strategies and key.endswith(f"/{int(first.seed.iloc[0])}"):
            ax.plot(np.array(run["peak_bytes"]) / 2**20, label=key.split("/")[0], lw=1)
    # black: red is the default colour cycle's fourth, balanced's line with all five strategies
    # behind the steps: packed batches fill the budget, and their line ran hidden under it
    ax.axhline(det["budget_bytes"] / 2**20, color="k", ls="--", label="budget", zorder=1)
    ax.axhline(det["largest_graph_bytes"] / 2**20, color="0.4", ls=":", label="largest graph alone (predicted)",
               zorder=1)
    ax.set_xlabel("training step")
    ax.set_ylabel("step peak memory (MiB)")
    ax.set_title(f"{main}: every step")
    ax.xaxis.get_major_locator().set_params(integer=True)  # steps are whole numbers
    ax.set_ylim(0, ax.get_ylim()[1] * 1.35)  # room above the lines for the legend, which hid the highest peaks
    ax.legend(fontsize=8, loc="upper center", ncol=3)
    fig.suptitle("GPU allocator's peak per step (torch.cuda.max_memory_allocated)" if torch.device(device).type == "cuda"
                 else "measured on the CPU: tensors saved for backward + parameters, gradients, optimizer state "
                      "(a GPU's end of the forward pass + gradients and saved weights), not the process RSS",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def bench_memory(datasets: Sequence[str] = ("low", "high"), config: StudyConfig = StudyConfig(), *,
                 num_events: int | None = None, root: str | None = None, distributed: bool = False,
                 world_size: int | None = None, threads: int | None = None, plot_path: str | None = None) -> dict:
    """Everything ``hullpack bench-memory`` does: load the datasets, :func:`run_study`, optionally
    :func:`~hullpack.hep.distributed.compare_distributed` on the last dataset, and a plot.

    ``num_events`` (default :data:`DEFAULT_EVENTS`) and ``root`` set the synthetic presets, ``world_size``
    (default 2) the processes of ``distributed``: given where they would be ignored (no preset among
    ``datasets``; ``distributed`` off) they are refused (:func:`check_bench_options`). ``threads``: the
    CPU threads the ``distributed`` processes share, each running ``threads // world_size`` (at least
    1; None: 1 each, :func:`distributed_threads`).

    Returns ``{"config", "measured" (what the peak is, in words), "table" (list of row dicts),
    "markdown", "noise", "versus_random" (:func:`versus_random`), "datasets", "distributed"}``, with
    every value that could not be computed (NaN) as None.
    """
    check_bench_options(datasets, distributed=distributed, num_events=num_events, root=root, world_size=world_size)
    repeated = repeated_datasets(datasets)
    if repeated:
        _, again, first = repeated[0]
        same = f" (the same {'folder' if os.path.isdir(again) else 'file'})" if again != first else ""
        raise ValueError(f"dataset {again!r} is {first!r} again{same}: give each dataset once")
    num_events = DEFAULT_EVENTS if num_events is None else num_events
    loaded = {name: load_dataset(name, num_events=num_events, seed=config.seed, root=root) for name in datasets}
    table, details = run_study(loaded, config)
    records = table.to_dict(orient="records")
    presets = any(d in PRESETS for d in datasets)  # events per preset; None where none was generated
    out = {"config": asdict(config) | {"strategies": list(config.strategies),
                                       "num_events": num_events if presets else None},
           "measured": measured(config.device, config.allocator), "table": records, "markdown": to_markdown(table),
           "noise": noise(table), "versus_random": versus_random(records), "datasets": details, "distributed": None}
    if distributed:
        name = list(loaded)[-1]
        train_index = np.setdiff1d(np.arange(len(loaded[name])), details[name]["val_indices"])
        world_size = 2 if world_size is None else world_size
        res = compare_distributed(split(loaded[name], train_index)[0], batch_size=config.batch_size,
                                  world_size=world_size, threads=distributed_threads(threads, world_size),
                                  hidden=config.hidden, num_steps=config.num_steps, seed=config.seed,
                                  memory=MemoryModel.from_dict(details[name]["memory_model"]),
                                  labels=details[name]["edge_labels"])
        out["distributed"] = {"dataset": name, **{k: v for k, v in res.items() if k != "steps"}}
    if plot_path:
        plot(table, details, plot_path, config.device)
        out["plot"] = plot_path
    return finite(out)


def distributed_threads(threads: int | None, world_size: int) -> int:
    """The torch threads of each of ``world_size`` processes sharing ``threads`` CPU threads (``--threads``):
    an equal share, at least 1; 1 where no number is given (a process a core, as the study's tables were
    measured).

    >>> distributed_threads(8, 2), distributed_threads(3, 2), distributed_threads(1, 4), distributed_threads(None, 2)
    (4, 1, 1, 1)
    """
    return 1 if threads is None else max(1, threads // world_size)


def check_bench_options(datasets: Sequence[str], *, distributed: bool = False, num_events: int | None = None,
                        root: str | None = None, world_size: int | None = None,
                        spelled: dict[str, str] | None = None) -> None:
    """Refuse the options of :func:`bench_memory` that would be ignored (None: not given): ``num_events``
    and ``root``, which only the synthetic presets use, where no preset is among ``datasets`` (a user's
    own graphs are used whole, and nothing would be generated or cached), and ``world_size`` without
    ``distributed``. ``spelled`` names the options as the caller writes them (the CLI: ``--events``).

    >>> check_bench_options(["g.pt"], num_events=50)
    Traceback (most recent call last):
    ...
    ValueError: num_events only applies to the synthetic presets (high, low: num_events sets how many events are generated, root where they are cached), and none is studied here; your datasets (g.pt) are used whole: leave num_events out, or add the preset high or low to the datasets
    """
    say = {"num_events": "num_events", "root": "root", "world_size": "world_size",
           "distributed": "distributed=True"} | (spelled or {})
    dataset = say.get("dataset")  # how the caller names a dataset argument, if it does
    if world_size is not None and not distributed:
        raise ValueError(f"{say['world_size']} sets the processes of {say['distributed']}: add {say['distributed']}, "
                         f"or leave {say['world_size']} out")
    given = [say[k] for k, v in (("num_events", num_events), ("root", root)) if v is not None]
    if not given or any(d in PRESETS for d in datasets):
        return
    these = " and ".join(given)
    presets = sorted(PRESETS)
    add = f"add the preset {' or '.join(presets)} to the datasets" if dataset is None else \
        "add " + " or ".join(f"{dataset} {p}" for p in presets)
    raise ValueError(f"{these} only appl{'y' if len(given) > 1 else 'ies'} to the synthetic presets "
                     f"({', '.join(presets)}: {say['num_events']} sets how many events are generated, {say['root']} "
                     f"where they are cached), and none is studied here; your datasets ({', '.join(datasets)}) are "
                     f"used whole: leave {these} out, or {add}")


def finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float replaced by None, so that it is valid JSON (a
    metric that could not be computed reads null, not NaN, which strict JSON readers refuse).

    >>> finite({"auc": float("nan"), "peak": [1.5, float("inf")]})
    {'auc': None, 'peak': [1.5, None]}
    """
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)) and not math.isfinite(obj):
        return None
    return obj


def measured(device: str, allocator: bool = False) -> str:
    """What the study's peak memory of a step is on ``device`` (and, with ``allocator``, the
    allocator's figure beside it), in words."""
    if torch.device(device).type == "cuda":
        return "peak of a training step: torch.cuda.max_memory_allocated, reset at the start of every step"
    text = ("peak of a training step, measured on the CPU: the bytes of the tensors saved for backward (each "
            "storage once) plus parameters, gradients and AdamW state (4x the parameters' bytes). That is what a "
            "GPU holds at the end of the forward pass, plus the gradients (zero_grad(set_to_none=True) frees "
            "them before it) and the weights layers save for backward (the parameters again): about 2x the "
            "parameters' bytes more, the same in every step and strategy; it leaves out temporaries freed "
            "during the forward pass (not the process RSS; --device cuda measures the GPU allocator)")
    if allocator:
        text += ("; allocator peak: the CPU allocator's highest allocated bytes during the step (torch.profiler), "
                 "parameters, the last step's gradients and AdamW state included, as torch.cuda.max_memory_allocated "
                 "counts them; it adds the temporaries the saved-tensor figure leaves out")
    return text


def versus_random(table: list[dict]) -> list[dict]:
    """Balanced against random batching per dataset (at equal batch size and step count): the peak
    reduction against each random seed's run (min, median, max) and the validation metrics of
    balanced next to the random runs' range; datasets without both strategies are left out."""
    rows = []
    for name in dict.fromkeys(r["dataset"] for r in table):
        rnd = [r for r in table if r["dataset"] == name and r["strategy"] == "random"]
        bal = [r for r in table if r["dataset"] == name and r["strategy"] == "balanced"]
        if not rnd or not bal:
            continue
        b = bal[0]
        red = [1 - b["peak_mib"] / r["peak_mib"] for r in rnd]
        row = {"dataset": name, "random_runs": len(rnd), "reduction_min": min(red),
               "reduction_median": float(np.median(red)), "reduction_max": max(red),
               "peak_mib_balanced": b["peak_mib"], "peak_mib_random": [min(r["peak_mib"] for r in rnd),
                                                                        max(r["peak_mib"] for r in rnd)],
               "steps_per_epoch": b["steps_per_epoch"],
               "same_steps": all(r["steps_per_epoch"] == b["steps_per_epoch"] for r in rnd)}
        for m in ("val_auc", "val_precision", "val_recall"):
            vals = [r[m] for r in rnd if r[m] is not None and not math.isnan(r[m])]
            if vals and b[m] is not None and not math.isnan(b[m]):
                row[f"{m}_random_range"] = [min(vals), max(vals)]
                row[f"{m}_balanced"] = b[m]
        rows.append(row)
    return rows


def versus_random_markdown(rows: list[dict]) -> str:
    """:func:`versus_random` as a Markdown table."""
    lines = ["| dataset | random runs | peak reduction (min / median / max over random seeds) | equal steps | "
             "val AUC balanced | val AUC random (range) |", "|---|---|---|---|---|---|"]
    for r in rows:
        auc = r.get("val_auc_random_range")
        lines.append(f"| {r['dataset']} | {r['random_runs']} | {r['reduction_min']:.1%} / {r['reduction_median']:.1%}"
                     f" / {r['reduction_max']:.1%} | {r['same_steps']} | "
                     f"{'n/a' if auc is None else format(r['val_auc_balanced'], '.4f')} | "
                     f"{'n/a' if auc is None else f'{auc[0]:.4f} - {auc[1]:.4f}'} |")
    return "\n".join(lines)


def distributed_markdown(result: dict) -> str:
    """The distributed comparison as a Markdown table (peaks in MiB as :func:`to_markdown` writes them:
    :func:`mib_text`)."""
    lines = ["| sampler | steps/rank | peak MiB (predicted) | mean step cost spread | worst step max/mean | "
             "compute s | wait s | wait fraction |", "|---|---|---|---|---|---|---|---|"]
    for name, s in result["summary"].items():
        lines.append(f"| {name} | {s['steps']} | {mib_text(s['peak_cost_mib'])} | {s['mean_cost_spread']:.1%} | "
                     f"{s['max_cost_ratio']:.3f} | {s['compute_s']:.2f} | {s['wait_s']:.2f} | "
                     f"{s['wait_fraction']:.1%} |")
    return "\n".join(lines)
