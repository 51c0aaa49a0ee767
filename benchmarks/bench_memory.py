"""GNN memory study: peak step memory of Interaction Network training with hullpack's samplers
against random batching (the anchor, measured in the same run), bucketing and NuGraph-style
round-robin; plus a two-process gloo comparison of DistributedSampler and
DistributedBalancedBatchSampler.

Writes benchmarks/results/memory.json and memory.png and prints Markdown tables. On the CPU the
step peak is the bytes of tensors saved for backward plus parameters, gradients and AdamW state
(what a GPU would hold at the peak); on a GPU (``--device cuda``) torch.cuda.max_memory_allocated.

    python benchmarks/bench_memory.py --quick      # ~2 min on 2 cores
    python benchmarks/bench_memory.py              # ~6 min: 3 random seeds, distributed run
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared cores: do not spin

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import RESULTS, save  # noqa: E402

from hullpack.hep.strategies import STRATEGIES  # noqa: E402
from hullpack.hep.study import StudyConfig, bench_memory, distributed_markdown  # noqa: E402


def target(table: list[dict], noise: dict, seed: int) -> list[dict]:
    """Balanced vs random at equal batch size and step count: peak reduction against each random
    seed, and the validation metrics' gap against the random runs' own spread."""
    rows = []
    for name in dict.fromkeys(r["dataset"] for r in table):
        rnd = [r for r in table if r["dataset"] == name and r["strategy"] == "random"]
        bal = [r for r in table if r["dataset"] == name and r["strategy"] == "balanced"]
        if not rnd or not bal:
            continue
        b = bal[0]
        red = [1 - b["peak_mib"] / r["peak_mib"] for r in rnd]
        row = {"dataset": name, "random_runs": len(rnd), "reduction_min": min(red), "reduction_median":
               float(np.median(red)), "reduction_max": max(red), "same_steps": all(
                   r["steps_per_epoch"] == b["steps_per_epoch"] for r in rnd)}
        for m in ("val_auc", "val_precision", "val_recall"):
            vals = [r[m] for r in rnd if r[m] is not None]
            if vals and b[m] is not None:
                row[f"{m}_random_range"] = [min(vals), max(vals)]
                row[f"{m}_balanced"] = b[m]
        rows.append(row)
    return rows


def target_markdown(rows: list[dict]) -> str:
    lines = ["| dataset | random runs | peak reduction (min / median / max over random seeds) | equal steps | "
             "val AUC balanced | val AUC random (range) |", "|---|---|---|---|---|---|"]
    for r in rows:
        auc = r.get("val_auc_random_range")
        lines.append(f"| {r['dataset']} | {r['random_runs']} | {r['reduction_min']:.1%} / {r['reduction_median']:.1%}"
                     f" / {r['reduction_max']:.1%} | {r['same_steps']} | "
                     f"{r.get('val_auc_balanced', float('nan')):.4f} | "
                     f"{'n/a' if auc is None else f'{auc[0]:.4f} - {auc[1]:.4f}'} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="200 events, 1 extra random seed, no distributed run")
    ap.add_argument("--dataset", action="append", help="as for `hullpack bench-memory` (default: low and high)")
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--num-steps", type=int, default=3)
    ap.add_argument("--baseline-repeats", type=int, default=2, help="extra random-baseline seeds")
    ap.add_argument("--no-distributed", action="store_true")
    ap.add_argument("--no-allocator", action="store_true", help="skip the CPU allocator peak (torch.profiler)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.events, args.baseline_repeats, args.no_distributed = 200, 1, True
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cfg = StudyConfig(strategies=STRATEGIES, batch_size=args.batch_size, epochs=args.epochs, hidden=args.hidden,
                      num_steps=args.num_steps, seed=args.seed, baseline_repeats=args.baseline_repeats,
                      device=args.device, allocator=not args.no_allocator)
    RESULTS.mkdir(parents=True, exist_ok=True)
    png = str(RESULTS / "memory.png")
    out = bench_memory(args.dataset or ["low", "high"], cfg, num_events=args.events,
                       distributed=not args.no_distributed, plot_path=png)
    tgt = target(out["table"], out["noise"], args.seed)
    path = save("memory", {k: v for k, v in out.items() if k != "markdown"} | {"target": tgt})
    print("\n## Peak step memory by batching strategy (anchor: random, same run)\n")
    print(out["markdown"])
    print("\n## Balanced vs random at equal batch size and step count\n")
    print(target_markdown(tgt))
    if out["distributed"]:
        print(f"\n## Two processes (gloo), {out['distributed']['dataset']} preset\n")
        print(distributed_markdown(out["distributed"]))
    print(f"\nwrote {path} and {png}")


if __name__ == "__main__":
    main()
