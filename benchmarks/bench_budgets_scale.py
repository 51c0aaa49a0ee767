"""Packed batches under two budgets (nodes and edges) at millions of graphs: the batch count of
``PackedBatchSampler(sizes, max_cost=[nodes, edges])`` over the lower bound, worst of its epochs,
and seconds per epoch, against first fit alone on the same sizes in the same run (``packing.pack``,
``method="ffd"``: what the samplers packed beyond 4M items before ``AUTO_SPREAD_MAX``). Sizes: every
distribution of ``distributions.py``, and independent lognormal node and edge counts (too many
distinct values for their ties alone to vary the epochs: the samplers round them to the epoch's
grid), budgets of about 64 mean graphs.

    python benchmarks/bench_budgets_scale.py             # 5M graphs, 2 epochs: about 10 minutes on 2 cores
    python benchmarks/bench_budgets_scale.py --n 1000000 --epochs 1

Writes benchmarks/results/budgets_scale.json and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from _common import save
from distributions import DISTRIBUTIONS
from hullpack import packing
from hullpack.samplers import PackedBatchSampler


def independent_lognormal(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return np.rint(rng.lognormal(3, 0.7, n)) + 1, np.rint(rng.lognormal(3, 0.7, n)) + 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=float, default=5e6, help="graphs per distribution")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--only", help="comma-separated distributions (default: all)")
    args = ap.parse_args()
    n = int(args.n)
    rows = []
    cases = {**DISTRIBUTIONS, "independent lognormal": independent_lognormal}
    if args.only:
        cases = {name: cases[name] for name in args.only.split(",")}
    for name, draw in cases.items():
        nodes, edges = draw(n, np.random.default_rng(0))
        sizes = np.column_stack([nodes, edges]).astype(float)
        cap = [float(max(nodes.max(), 64 * nodes.mean())), float(max(edges.max(), 64 * edges.mean()))]
        bound = packing.lower_bound(sizes, capacity=cap)
        t = time.perf_counter()
        first_fit = packing.pack(sizes, cap, method="ffd")[1]
        first_fit_s = time.perf_counter() - t
        sampler = PackedBatchSampler(sizes, max_cost=cap, seed=0)
        counts, seconds = [], []
        for epoch in range(args.epochs):
            sampler.set_epoch(epoch)
            t = time.perf_counter()
            counts.append(sum(1 for _ in sampler))
            seconds.append(time.perf_counter() - t)
        row = dict(distribution=name, n=n, max_cost=cap, lower_bound=bound, batches=counts,
                   sampler_over_bound=max(counts) / bound, epoch_s=seconds, first_fit_batches=first_fit,
                   first_fit_over_bound=first_fit / bound, first_fit_s=first_fit_s)
        rows.append(row)
        print(f"  {name}: sampler {row['sampler_over_bound']:.4f} of the bound ({max(seconds):.1f} s an epoch), "
              f"first fit {row['first_fit_over_bound']:.4f} ({first_fit_s:.1f} s)", flush=True)
    out = save("budgets_scale", {"n": n, "epochs": args.epochs, "rows": rows,
                                 "worst_sampler_over_bound": max(r["sampler_over_bound"] for r in rows)})
    print(f"\n| sizes ({n:,} graphs, 2 budgets) | sampler / bound (worst epoch) | s per epoch | "
          "first fit / bound | first fit s |\n|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['distribution']} | {r['sampler_over_bound']:.4f} | {max(r['epoch_s']):.1f} | "
              f"{r['first_fit_over_bound']:.4f} | {r['first_fit_s']:.1f} |")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
