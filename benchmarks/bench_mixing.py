"""How much packed epochs mix: the share of an item's batch-mates in epoch 0 that are still its
batch-mates in epoch 1, and the batch count, by ``granularity``.

``PackedBatchSampler`` takes items in the order of their costs rounded to a grid of relative step
``granularity`` (ties broken by the epoch's random order), so near-equal items trade places between
epochs; this measures how many batch-mates an item keeps at each step and what the steps cost in
batches. Items of ``distributions.py`` (``--n``, 10,000 by default) with budgets of 16 mean items a
batch (molecules 32), seed 0, items over the budget alone in a batch; ``BalancedBatchSampler`` at
the same number of batches as a reference. The table of docs/samplers.md ("Packed epochs may keep
many of the same groups") comes from this script.

    python benchmarks/bench_mixing.py              # 10,000 items, about a minute on 2 cores
    python benchmarks/bench_mixing.py --n 2000     # a quick look
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402
from distributions import sizes  # noqa: E402

from hullpack.samplers import BalancedBatchSampler, PackedBatchSampler  # noqa: E402

STEPS = (0.0, 0.01, 0.05, 0.1, 0.2)


def kept_mates(epoch0: list[list[int]], epoch1: list[list[int]], n: int) -> float:
    """The mean over items with batch-mates in epoch 0 of the share still batch-mates in epoch 1."""
    batch1 = np.empty(n, np.int64)
    for b, items in enumerate(epoch1):
        batch1[items] = b
    shares = []
    for items in epoch0:
        if len(items) < 2:
            continue
        where = batch1[np.asarray(items)]
        same = (where[:, None] == where[None, :]).sum(axis=1) - 1  # mates kept, per item
        shares.append(same / (len(items) - 1))
    return float(np.concatenate(shares).mean()) if shares else 0.0


def epochs(sampler) -> tuple[list[list[int]], list[list[int]]]:
    sampler.set_epoch(0)
    first = [list(b) for b in sampler]
    sampler.set_epoch(1)
    return first, [list(b) for b in sampler]


def cases(n: int) -> list[tuple[str, np.ndarray, object]]:
    nodes, edges = sizes("collider", n, seed=0)
    both = np.stack([nodes, edges], 1).astype(np.float64)
    mol_nodes, mol_edges = sizes("molecules", n, seed=0)
    mol = np.stack([mol_nodes, mol_edges], 1).astype(np.float64)
    floats = np.random.default_rng(0).lognormal(0.0, 1.0, n)
    return [
        ("collider nodes + edges, one budget on the sum", both, 16 * both.sum(axis=1).mean()),
        ("collider nodes + edges, a budget per column", both, list(16 * both.mean(axis=0))),
        ("collider nodes", nodes.astype(np.float64), 16 * nodes.mean()),
        ("molecules nodes + edges, a budget per column", mol, list(32 * mol.mean(axis=0))),
        ("lognormal float (sigma 1), one budget", floats, 16 * floats.mean()),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="items of each distribution (default 10,000)")
    n = parser.parse_args().n
    rows = []
    for name, s, cap in cases(n):
        row = {"sizes": name, "max_cost": cap, "kept": {}, "batches": {}}
        for g in STEPS:
            first, second = epochs(PackedBatchSampler(s, cap, seed=0, granularity=g, oversize="alone"))
            row["kept"][str(g)], row["batches"][str(g)] = kept_mates(first, second, n), len(first)
        costs = s if s.ndim == 1 else s.sum(axis=1)
        balanced = BalancedBatchSampler(costs, batch_size=-(-n // row["batches"]["0.01"]), seed=0)
        row["balanced_kept"] = kept_mates(*epochs(balanced), n)
        rows.append(row)
        cells = " | ".join(f"{row['kept'][str(g)]:.2f} / {row['batches'][str(g)]}" for g in STEPS)
        print(f"| {name} | {cells} | balanced {row['balanced_kept']:.2f}", flush=True)
    print("wrote", save("mixing", {"n": n, "granularity": list(STEPS), "rows": rows}))


if __name__ == "__main__":
    main()
