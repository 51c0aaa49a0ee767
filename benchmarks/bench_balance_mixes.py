"""Balanced batches on size distributions outside the samplers benchmark: bimodal mixes of small and
large graphs, a Pareto tail, a flat distribution and heavy tails cut at a cap (as datasets filter
graphs by size). For each: the heaviest batch of ``packing.balance`` and the worst epoch of
``BalancedBatchSampler`` over the proven lower bound, the bound's parts and which binds
(``light_batches`` on the bimodal mixes, ``exclusion`` on the capped tails).

    python benchmarks/bench_balance_mixes.py            # about a minute on 2 cores
    python benchmarks/bench_balance_mixes.py --quick

Writes benchmarks/results/balance_mixes.json and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from _common import save
import hullpack
from hullpack import packing
from hullpack.samplers import BalancedBatchSampler


def bimodal(large_fraction: float):
    def draw(n, rng):
        large = rng.random(n) < large_fraction
        return np.where(large, rng.integers(800, 3000, n), rng.integers(5, 30, n)).astype(float)
    return draw


MIXES = {
    "bimodal 2% large": bimodal(0.02),
    "bimodal 5% large": bimodal(0.05),
    "bimodal 20% large": bimodal(0.20),
    "pareto a=1.5": lambda n, rng: np.floor(5 * (1 + rng.pareto(1.5, n))),
    "uniform 1-64": lambda n, rng: rng.integers(1, 65, n).astype(float),
    "zipf a=1.3 capped at 1e5": lambda n, rng: np.minimum(rng.zipf(1.3, n), 100_000).astype(float),
    "zipf a=1.1 capped at 1e4": lambda n, rng: np.minimum(rng.zipf(1.1, n), 10_000).astype(float),
    "lognormal s=1.5 capped at 500": lambda n, rng: np.minimum(np.round(rng.lognormal(3, 1.5, n)) + 1, 500),
}
PARTS = ("mean", "top_items", "pigeonhole", "light_batches", "exclusion")


def run(ns, batch_sizes, epochs):
    rows = []
    for name, draw in MIXES.items():
        for n in ns:
            costs = draw(n, np.random.default_rng(n))
            for bs in batch_sizes:
                B = -(-n // bs)
                parts = hullpack._core.lower_bounds_balance(costs, B)
                t = time.perf_counter()
                bins = packing.balance(costs, B, bs)
                seconds = time.perf_counter() - t
                peak = float(packing.batch_costs(costs, bins, B).max())
                sampler = BalancedBatchSampler(costs, batch_size=bs, seed=0)
                worst = 0.0
                for epoch in range(epochs):
                    sampler.set_epoch(epoch)
                    list(sampler)
                    worst = max(worst, sampler.stats()["peak_over_lower_bound"])
                earlier = max(parts["mean"], parts["top_items"], parts["pigeonhole"])
                if parts["integral"]:
                    earlier = float(np.ceil(earlier - 1e-9))
                binds = max(PARTS, key=lambda p: parts[p])
                rows.append(dict(distribution=name, n=n, batch_size=bs, balance_seconds=seconds,
                                 balance_over_bound=peak / parts["best"], sampler_worst_over_bound=worst,
                                 balance_over_bound_without_light_batches_or_exclusion=peak / earlier,
                                 binding_part=binds, bound_parts=parts))
                print(f"  {name}, n={n}, batch {bs}: balance {peak / parts['best']:.5f}, sampler {worst:.5f}, "
                      f"{binds} binds (without light batches and exclusion: {peak / earlier:.4f})", flush=True)
    return rows


def table(rows):
    lines = ["| sizes | items | batch size | balance / bound | sampler, worst epoch / bound | bound's binding part | "
             "balance / bound without light batches and exclusion |",
             "|---|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        lines.append(f"| {r['distribution']} | {r['n']:,} | {r['batch_size']} | {r['balance_over_bound']:.5f} | "
                     f"{r['sampler_worst_over_bound']:.5f} | {r['binding_part']} | "
                     f"{r['balance_over_bound_without_light_batches_or_exclusion']:.4f} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="20,000 items only, 2 epochs")
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args(argv)
    ns = [20_000] if args.quick else [20_000, 1_000_000]
    rows = run(ns, [8, 32, 128], 2 if args.quick else args.epochs)
    out = save("balance_mixes", dict(rows=rows, worst_balance_over_bound=max(r["balance_over_bound"] for r in rows),
                                     worst_sampler_over_bound=max(r["sampler_worst_over_bound"] for r in rows)))
    print()
    print(table(rows))
    print(f"\nworst: balance {max(r['balance_over_bound'] for r in rows):.5f}, "
          f"sampler {max(r['sampler_worst_over_bound'] for r in rows):.5f}\nwrote {out}")


if __name__ == "__main__":
    main()
