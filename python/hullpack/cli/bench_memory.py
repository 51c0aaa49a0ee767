"""``hullpack bench-memory``: the GNN memory study, peak memory of training with each batching
strategy (and, with ``--distributed``, the straggler comparison over local processes)."""
from __future__ import annotations

import argparse
import json
import os

from .common import THREADS_HELP, CommandError, missing, note, positive_float, positive_int, require

NAME = "bench-memory"
HELP = "GNN memory study: peak memory of training with batching strategies"
DESCRIPTION = ("Train an Interaction Network edge classifier on synthetic collider events (or your PyG dataset) "
               "with each batching strategy and compare peak and mean step memory, steps per epoch, epoch time "
               "and validation metrics; steps over the memory budget are those where a GPU of that size would "
               'run out of memory. Needs the hep extra (pip install "hullpack[hep]").')

EXAMPLES = ("hullpack bench-memory --events 100 --epochs 1",
            "hullpack bench-memory --dataset graphs.pt --batch-size 16 --out memory",
            "hullpack bench-memory --dataset low --events 100 --distributed --world-size 2 --json > memory.json")

#: bench_memory's arguments as this command spells them, for its messages
OPTIONS = {"num_events": "--events", "root": "--root", "world_size": "--world-size", "distributed": "--distributed",
           "dataset": "--dataset"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    # defaults live in hullpack.hep.study.StudyConfig (not imported here: it pulls in torch)
    p.add_argument("--dataset", action="append", help="low, high (synthetic presets), a .pt file of PyG graphs, a "
                   "folder of graphs saved one per file, or module:attribute (a dataset, a dataset class or a "
                   "function making one); repeat for several (default: low and high)")
    p.add_argument("--events", type=positive_int, help="events per synthetic preset (default 300; your own datasets "
                   "are used whole)")
    p.add_argument("--root", help="cache the synthetic presets' generated events in this folder")
    p.add_argument("--strategies", default="random,sorted,roundrobin,balanced,packed",
                   help="comma-separated subset of random,sorted,roundrobin,balanced,packed")
    p.add_argument("--batch-size", type=positive_int, default=8, help="graphs per batch (packed: as many as the "
                   "memory budget holds)")
    p.add_argument("--epochs", type=positive_int, default=2, help="training epochs of each strategy")
    p.add_argument("--hidden", type=positive_int, default=32, help="width of the Interaction Network's MLPs")
    p.add_argument("--num-steps", type=positive_int, default=3, help="message-passing rounds")
    p.add_argument("--budget-mib", type=positive_float, help="memory budget in MiB (default: --budget-factor x an average batch, "
                   "at least 1.1 x the largest graph)")
    p.add_argument("--budget-factor", type=positive_float, help="the default budget's multiple of an average "
                   "batch (default 1.25); not with --budget-mib")
    p.add_argument("--baseline-repeats", type=int, default=0,
                   help="extra seeds of the random baseline, to show run-to-run noise of the metrics")
    p.add_argument("--edge-labels", default="auto", metavar="FIELD",
                   help="your graphs' field with one 0/1 label per edge, for the validation metrics: auto "
                   "(edge_label, else y where its shape says it labels edges), a field name such as y, or "
                   "none (memory and time only)")
    p.add_argument("--allocator", action="store_true", help="on the CPU also record the allocator's peak "
                   "of every step (torch.profiler memory events, plus the parameters, gradients and AdamW state "
                   "held when the step began: what torch.cuda.max_memory_allocated counts; slower)")
    p.add_argument("--distributed", action="store_true",
                   help="also compare DistributedSampler with DistributedBalancedBatchSampler on local processes")
    p.add_argument("--world-size", type=positive_int, help="processes of --distributed (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic events, the validation split, the "
                   "model's weights and the batches")
    p.add_argument("--device", default="cpu", help="cpu (peak: tensors saved for backward + parameters, gradients "
                   "and AdamW state; the output's first line says exactly what) or cuda (peak from "
                   "torch.cuda.max_memory_allocated)")
    p.add_argument("--threads", type=positive_int, help=THREADS_HELP + "; the --distributed processes share them, "
                   "each running --threads divided by --world-size (at least 1; without --threads, 1 each)")
    p.add_argument("--out", help="write memory.json and memory.png into this folder")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    require("hep", "torch_geometric")
    from hullpack.hep.study import (StudyConfig, bench_memory, check_bench_options, distributed_markdown,
                                    repeated_datasets)

    datasets = args.dataset or ["low", "high"]
    check_bench_options(datasets, distributed=args.distributed, num_events=args.events, root=args.root,
                        world_size=args.world_size, spelled=OPTIONS)
    cfg = StudyConfig(strategies=tuple(s.strip() for s in args.strategies.split(",") if s.strip()),
                      batch_size=args.batch_size, epochs=args.epochs, hidden=args.hidden,
                      num_steps=args.num_steps, seed=args.seed, device=args.device,
                      budget_bytes=None if args.budget_mib is None else args.budget_mib * 2**20,
                      baseline_repeats=args.baseline_repeats,
                      allocator=args.allocator,
                      edge_labels=None if args.edge_labels.lower() == "none" else args.edge_labels,
                      **({} if args.budget_factor is None else {"budget_factor": args.budget_factor}))
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    plot = bool(args.out) and not missing("matplotlib")
    if args.out:
        try:  # before any training: a run's results are not lost to a folder that cannot be written
            os.makedirs(args.out, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"--out {args.out}: cannot make a folder there ({exc.strerror}); give a folder to "
                               "write memory.json and memory.png into") from None
        if not os.access(args.out, os.W_OK):
            raise CommandError(f"--out {args.out}: this folder cannot be written to; give one where memory.json and "
                               "memory.png can be written")
        if not plot:
            note(NAME, 'memory.png skipped, matplotlib is not installed (pip install "hullpack[plot]")')
    repeated = repeated_datasets(datasets)
    for _, again, first in repeated:
        same = "" if again == first else f" (the same {'folder' if os.path.isdir(again) else 'file'})"
        note(NAME, f"--dataset {again} is {first} again{same}: studied once")
    datasets = [d for i, d in enumerate(datasets) if i not in {j for j, _, _ in repeated}]
    out = bench_memory(datasets, cfg, num_events=args.events, root=args.root,
                       distributed=args.distributed, world_size=args.world_size, threads=args.threads,
                       plot_path=os.path.join(args.out, "memory.png") if plot else None)
    written = []
    if args.out:
        written.append(os.path.join(args.out, "memory.json"))
        with open(written[0], "w") as f:
            json.dump(out, f, indent=1, default=float, allow_nan=False)
        if plot:
            written.append(os.path.join(args.out, "memory.png"))
    if args.json:
        print(json.dumps(out, default=float, allow_nan=False))
        return 0
    print(out["measured"] + ".\n")
    print(out["markdown"])
    for name, d in out["datasets"].items():
        print(f"\n{name}: {_budget_text(d, cfg.budget_factor)}; {_memory_model_text(d)}")
        if d.get("edge_labels") is None:
            print(f"{name}: no edge labels (--edge-labels names the field): validation metrics n/a, "
                  "memory and time only")
        elif d.get("edge_labels_one_hot"):
            print(f"{name}: edge labels {d['edge_labels']} are one-hot (num_edges, 2): [0, 1] read as a true edge, "
                  "[1, 0] as a false one")
        if d.get("class_balance"):  # training edges all (or almost all) of one class
            print(f"{name}: {d['class_balance']}")
    for row in out["versus_random"]:
        print("\n" + _versus_random_text(row, cfg.batch_size))
    if out["noise"]:
        spread = "; ".join(f"{name}: " + ", ".join(f"{m.removeprefix('val_')} {v:.4f}" for m, v in d.items())
                           for name, d in out["noise"].items())
        print(f"\nrun-to-run spread (max - min) of the random baseline's validation metrics: {spread}")
    if out["distributed"]:
        d = out["distributed"]
        print(f"\n{d['world_size']} processes (gloo), {d['threads']} thread{'s' if d['threads'] > 1 else ''} each, "
              f"dataset {d['dataset']}:")
        print(distributed_markdown(out["distributed"]))
    if written:
        print(f"\nwrote {' and '.join(written)}")
    return 0


def _budget_text(details: dict, factor: float) -> str:
    """The memory budget and what it came from, beside the floor no batching goes below: a step of
    the largest training graph on its own (both as the memory model predicts them), in MiB as the
    table writes them (:func:`~hullpack.hep.study.mib_text`).

    >>> _budget_text({"budget_bytes": 2.2 * 2**20, "budget_from": "largest graph",
    ...               "largest_graph_bytes": 2**21, "average_batch_bytes": 2**19}, 1.25)  # doctest: +NORMALIZE_WHITESPACE
    'memory budget 2.20 MiB (1.1 x a step of the largest training graph alone, 2.00 MiB, which no batching
     goes below; 1.25 x an average batch of 0.500 MiB is less)'
    """
    from hullpack.hep.study import mib_text

    mib = 2**20
    budget = f"memory budget {mib_text(details['budget_bytes'] / mib)} MiB"
    largest, average = details.get("largest_graph_bytes"), details.get("average_batch_bytes")
    if largest is None or average is None:
        return budget
    floor = f"a step of the largest training graph alone, {mib_text(largest / mib)} MiB, which no batching goes below"
    source = details.get("budget_from")
    if source == "largest graph":
        return f"{budget} (1.1 x {floor}; {factor:g} x an average batch of {mib_text(average / mib)} MiB is less)"
    if source == "average batch":
        return f"{budget} ({factor:g} x an average batch of {mib_text(average / mib)} MiB; {floor})"
    below = "" if details["budget_bytes"] >= largest else \
        ": the budget is below it, so every strategy goes over it in the steps holding that graph"
    return f"{budget} (--budget-mib; an average batch {mib_text(average / mib)} MiB; {floor}{below})"


def _memory_model_text(details: dict) -> str:
    """The fitted memory model in words: bytes per node and per edge (the study's size columns),
    per graph and per step, and how far it missed the probes. A column that follows linearly from
    the others in every graph (``memory_model_folded``: edges = k x nodes) is said so, not read as free.

    >>> _memory_model_text({"memory_model": {"weights": [2532.0, 0.0], "bias": 0.0, "intercept": 23988.0},
    ...                     "memory_model_folded": ["edges"]})  # doctest: +NORMALIZE_WHITESPACE
    'memory model: 2,532 bytes per node + 0 per graph + 23,988 per step (edges follow linearly from the other
     sizes in every graph, so their cost is inside these figures and cannot be told apart)'
    """
    m = details["memory_model"]
    folded = details.get("memory_model_folded") or []
    per = [f"{w:,.0f} bytes per {unit}" for w, unit, col in zip(m["weights"], ("node", "edge"), ("nodes", "edges"))
           if col not in folded]
    per += [f"{m['bias']:,.0f} per graph", f"{m['intercept']:,.0f} per step"]
    miss = details.get("memory_model_max_rel_error")
    notes = [] if miss is None else [f"largest miss on the probes {miss:.1%}"]
    if folded:
        notes.append(f"{' and '.join(folded)} follow linearly from the other sizes in "
                     "every graph, so their cost is inside these figures and cannot be told apart")
    return "memory model: " + " + ".join(per) + (f" ({'; '.join(notes)})" if notes else "")


def _versus_random_text(row: dict, batch_size: int | None = None) -> str:
    """What the study found on one dataset, in a sentence: balanced against random batching.
    A reduction below 0 is a peak above random's, and is said so; batches of one graph (``batch_size``
    1), or one batch of every graph, leave nothing to compare, and are said so.

    >>> _versus_random_text({"dataset": "d", "random_runs": 1, "reduction_min": -0.05, "reduction_max": -0.05,
    ...                      "peak_mib_balanced": 10.5, "peak_mib_random": [10.0, 10.0],
    ...                      "steps_per_epoch": 4, "same_steps": True})  # doctest: +NORMALIZE_WHITESPACE
    'd: balanced batches peak 5.0% above random batching (10.50 vs 10.00 MiB; one random seed,
     --baseline-repeats 2 shows the spread), at the same 4 steps per epoch.'
    """
    from hullpack.hep.study import mib_text

    lo, hi = (mib_text(v) for v in row["peak_mib_random"])
    balanced = mib_text(row["peak_mib_balanced"])
    runs = row["random_runs"]
    low, high = row["reduction_min"], row["reduction_max"]
    if runs == 1:
        cut = f"{_below_or_above(low)} random batching ({balanced} vs {hi} MiB; " \
              "one random seed, --baseline-repeats 2 shows the spread)"
    else:
        spread = (f"{low:.1%}-{high:.1%} below" if low >= 0 else f"{-high:.1%}-{-low:.1%} above" if high <= 0
                  else f"from {-low:.1%} above to {high:.1%} below")
        cut = f"{spread} random batching over {runs} seeds ({balanced} vs {lo}-{hi} MiB)"
    k = row["steps_per_epoch"]
    steps = f"at the same {k} step{'s' * (k != 1)} per epoch" if row["same_steps"] else \
        "(at another number of steps per epoch)"
    if row["same_steps"] and k == 1:  # every training graph in the one batch: no strategy can differ
        steps += (": one batch holds every training graph, so both strategies train on the same batch and "
                  "this compares nothing; give more graphs or a smaller --batch-size")
    elif row["same_steps"] and batch_size == 1:  # one graph a batch: the same batches in another order
        steps += (": with --batch-size 1 every batch is one graph, so both strategies train on the same batches "
                  "in another order and this compares nothing; give a larger --batch-size")
    return f"{row['dataset']}: balanced batches peak {cut}, {steps}."


def _below_or_above(reduction: float) -> str:
    """``"12.0% below"`` for a peak cut by 12%, ``"5.0% above"`` for one 5% higher."""
    return f"{reduction:.1%} below" if reduction >= 0 else f"{-reduction:.1%} above"
