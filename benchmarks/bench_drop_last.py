"""Which items packed epochs leave out with ``drop_last=True``: random ones, or the same smallest
ones every epoch.

First/best fit and sorted runs pack the smallest items last, so the under-filled batches that
``drop_last`` leaves out hold them. Shuffled epochs of ``PackedBatchSampler`` leave out random items
of about those batches' cost instead (``Budget.leave_out_random``); the anchor, measured in the same
run, is the lightest batches themselves (what the sampler did before, and still does unshuffled).
On every family of ``distributions.py`` (``--n`` graphs, 20,000 by default), under a node budget and
under node and edge budgets of 64 mean graphs, items over budget alone in a batch, seed 0,
``--epochs`` epochs (10): items left out per epoch, items left out in every epoch, the most epochs
any item sat out, the left-out items' median node count over the set's, seconds per epoch.

    python benchmarks/bench_drop_last.py              # 20,000 graphs, about 2 minutes on 2 cores
    python benchmarks/bench_drop_last.py --n 5000     # a quick look
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402
from distributions import ALL_DISTRIBUTIONS, sizes  # noqa: E402

from hullpack.samplers import PackedBatchSampler  # noqa: E402
from hullpack.samplers.budget import Budget  # noqa: E402


def left_out(x: np.ndarray, cap, nodes: np.ndarray, epochs: int) -> dict:
    """What ``epochs`` shuffled epochs with ``drop_last`` leave out, and how long an epoch takes."""
    n = len(nodes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # items over budget, each alone: warned once, expected here
        sampler = PackedBatchSampler(x, max_cost=cap, drop_last=True, seed=0, oversize="alone")
    times = np.zeros(n, np.int64)
    per_epoch, seconds = [], []
    for epoch in range(epochs):
        t = time.perf_counter()
        sampler.set_epoch(epoch)
        batches = list(sampler)
        seconds.append(time.perf_counter() - t)
        out = np.setdiff1d(np.arange(n), np.concatenate(batches))
        times[out] += 1
        per_epoch.append(int(out.size))
    ever = times > 0
    return {"batches": len(sampler), "left_out_per_epoch": [min(per_epoch), max(per_epoch)],
            "left_out_every_epoch": int((times == epochs).sum()), "most_epochs_left_out": int(times.max()),
            "median_size_ratio": float(np.median(nodes[ever]) / np.median(nodes)) if ever.any() else None,
            "seconds_per_epoch": float(np.median(seconds))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="graphs of each distribution (default 20,000)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs (default 10)")
    args = parser.parse_args()
    rows = []
    print("| sizes | budgets | left out an epoch | in every epoch | most epochs | median size / set's | s/epoch |")
    print("|---|---|---|---|---|---|---|")
    for name in ALL_DISTRIBUTIONS:
        nodes, edges = sizes(name, args.n, seed=0)
        both = np.column_stack([nodes, edges]).astype(np.float64)
        for budgets, x, cap in (("nodes", both[:, 0], 64 * nodes.mean()),
                                ("nodes, edges", both, [64 * nodes.mean(), 64 * edges.mean()])):
            row: dict[str, Any] = {"sizes": name, "budgets": budgets, "random": left_out(x, cap, nodes, args.epochs)}
            with mock.patch.object(Budget, "leave_out_random", lambda *a: None):  # the anchor: the batches
                row["lightest_batches"] = left_out(x, cap, nodes, args.epochs)
            rows.append(row)
            for how in ("random", "lightest_batches"):
                r = row[how]
                ratio = "-" if r["median_size_ratio"] is None else f"{r['median_size_ratio']:.2f}"
                print(f"| {name} | {budgets} ({how.replace('_', ' ')}) | {r['left_out_per_epoch'][0]}-"
                      f"{r['left_out_per_epoch'][1]} | {r['left_out_every_epoch']} | {r['most_epochs_left_out']} | "
                      f"{ratio} | {r['seconds_per_epoch']:.3f} |", flush=True)
    dropping = [r for r in rows if r["lightest_batches"]["left_out_per_epoch"][1] > 0]
    worst = {"most_epochs_left_out": max((r["random"]["most_epochs_left_out"] for r in dropping), default=0),
             "left_out_every_epoch": max((r["random"]["left_out_every_epoch"] for r in dropping), default=0),
             "median_size_ratio_min": min((r["random"]["median_size_ratio"] for r in dropping
                                           if r["random"]["median_size_ratio"] is not None), default=None),
             "anchor_left_out_every_epoch": max((r["lightest_batches"]["left_out_every_epoch"] for r in dropping),
                                                default=0)}
    print(f"worst over the settings that leave items out: {worst}")
    print("wrote", save("drop_last", {"n": args.n, "epochs": args.epochs, "rows": rows, "worst": worst}))


if __name__ == "__main__":
    main()
