"""The samplers on sequence lengths (tokens, residues) rather than graph sizes: the figures of
docs/samplers.md that are not in the graph-size benchmarks.

Four length families: ``lognormal`` (protein-like, median ~270, 20-4,000), ``pareto`` (text-like,
tail index 1.2 above 5, capped at 2,048), ``bimodal`` (90% of 8-63, 10% of 500-1,023) and
``uniform`` (16-511). Sections:

* ``random``: random batching's heaviest batch over the mean batch (the anchor, median over
  ``--seeds`` shuffles) beside ``BalancedBatchSampler``'s worst epoch over its lower bound, at batch
  sizes 8, 32 and 128 (20,000 items);
* ``ddp``: ``DistributedBalancedBatchSampler`` on 2-4 ranks (10,007 items; balanced batches of 32
  and packed ones under 16,384, summed and padded costs): the worst step's lightest batch over its
  heaviest, ``stats()["step_cost_spread"]``, and the share of each step's time the ranks spend on
  work (a step takes as long as its heaviest batch, time taken as the batch cost) beside
  ``DistributedSampler`` + ``BatchSampler`` with as many steps (the anchor, same costs);
* ``epoch``: seconds per epoch at 1,000,000 lognormal lengths (construction, the first epoch with
  ``len()``, the best later epoch), beside numpy's ``argsort`` of the same lengths in the same run.

    python benchmarks/bench_sequences.py            # under a minute on 2 shared cores
    python benchmarks/bench_sequences.py --quick    # smaller sets, 2 epochs

Writes benchmarks/results/sequences.json and prints Markdown tables.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from _common import save
from hullpack.samplers import BalancedBatchSampler, DistributedBalancedBatchSampler, PackedBatchSampler

LENGTHS = {
    "lognormal": lambda n, rng: np.clip(np.rint(rng.lognormal(5.6, 0.6, n)), 20, 4000),
    "pareto": lambda n, rng: np.clip(np.rint(rng.pareto(1.2, n) * 30 + 5), 5, 2048),
    "bimodal": lambda n, rng: np.where(rng.random(n) < 0.9, rng.integers(8, 64, n),
                                       rng.integers(500, 1024, n)).astype(float),
    "uniform": lambda n, rng: rng.integers(16, 512, n).astype(float),
}


def lengths(name: str, n: int, seed: int = 0) -> np.ndarray:
    return LENGTHS[name](n, np.random.default_rng(seed))


def batch_cost(l: np.ndarray, batch, shape: str) -> float:
    return float(len(batch) * l[batch].max()) if shape == "padded" else float(l[batch].sum())


def random_section(n: int, batch_sizes, seeds: int, epochs: int) -> list[dict]:
    rows = []
    for name in LENGTHS:
        l = lengths(name, n)
        for bs in batch_sizes:
            ratios = []
            for seed in range(seeds):
                costs = np.add.reduceat(l[np.random.default_rng(seed).permutation(n)], np.arange(0, n, bs))
                ratios.append(costs.max() / costs.mean())
            sampler = BalancedBatchSampler(l, batch_size=bs, seed=0)
            worst, worst_mean = 0.0, 0.0
            for epoch in range(epochs):
                sampler.set_epoch(epoch)
                list(sampler)
                st = sampler.stats()
                worst = max(worst, st["peak_over_lower_bound"])
                worst_mean = max(worst_mean, st["peak_cost"] / st["mean_cost"])
            rows.append(dict(lengths=name, n=n, batch_size=bs, random_peak_over_mean_min=min(ratios),
                             random_peak_over_mean_median=float(np.median(ratios)),
                             random_peak_over_mean_max=max(ratios), balanced_worst_peak_over_bound=worst,
                             balanced_worst_peak_over_mean=worst_mean))
            print(f"  {name}, batch {bs}: random peak/mean {np.median(ratios):.3f} (median of {seeds}), "
                  f"balanced {worst_mean:.4f} (bound {worst:.5f})", flush=True)
    return rows


DDP_CASES = {
    "balanced 32, sum": dict(batch_size=32),
    "packed 16384, sum": dict(max_cost=16384),
    "packed 16384, padded": dict(max_cost=16384, batch_cost="padded"),
    "balanced 32, padded": dict(batch_size=32, batch_cost="padded"),
}


def busy(costs: np.ndarray) -> float:
    """The share of the ranks' time spent on work when every step waits for its heaviest batch
    (``costs``: steps x ranks)."""
    return float(costs.sum() / (costs.shape[1] * costs.max(axis=1).sum()))


def ddp_section(n: int, ranks, epochs: int) -> list[dict]:
    rows = []
    for name in ("lognormal", "pareto", "bimodal"):
        l = lengths(name, n)
        for case, kw in DDP_CASES.items():
            shape = kw.get("batch_cost", "sum")
            for world in ranks:
                samplers = [DistributedBalancedBatchSampler(l, num_replicas=world, rank=r, seed=1, **kw)
                            for r in range(world)]
                worst_step, spreads, measured, ours, theirs, steps, anchor_steps = 1.0, [], [], [], [], 0, 0
                for epoch in range(epochs):
                    for s in samplers:
                        s.set_epoch(epoch)
                    per_rank = [list(s) for s in samplers]
                    steps = len(per_rank[0])
                    assert all(len(b) == steps for b in per_rank), (name, case, world)
                    c = np.array([[batch_cost(l, per_rank[r][k], shape) for r in range(world)] for k in range(steps)])
                    worst_step = min(worst_step, float((c.min(axis=1) / c.max(axis=1)).min()))
                    spreads.append(samplers[0].stats()["step_cost_spread"])
                    measured.append(float(np.mean(1 - c.min(axis=1) / c.max(axis=1))))  # the same, from the batches
                    ours.append(busy(c))
                    # the anchor: DistributedSampler + BatchSampler, a fixed batch size giving as many steps
                    per_rank_items = -(-n // world)
                    bs = -(-per_rank_items // steps)
                    rnd = []
                    for r in range(world):
                        ds = torch.utils.data.DistributedSampler(range(n), num_replicas=world, rank=r, seed=1)
                        ds.set_epoch(epoch)
                        rnd.append([np.array(b) for b in torch.utils.data.BatchSampler(ds, bs, drop_last=False)])
                    anchor_steps = len(rnd[0])
                    theirs.append(busy(np.array([[batch_cost(l, rnd[r][k], shape) for r in range(world)]
                                                 for k in range(anchor_steps)])))
                rows.append(dict(lengths=name, n=n, case=case, ranks=world, steps=steps,
                                 worst_step_lightest_over_heaviest=worst_step,
                                 step_cost_spread_mean=float(np.mean(spreads)), step_cost_spread_max=max(spreads),
                                 step_cost_spread_from_batches=float(np.mean(measured)),
                                 busy=float(np.mean(ours)), random_steps=anchor_steps, random_busy=float(np.mean(theirs))))
                print(f"  {name}, {case}, {world} ranks: worst step {worst_step:.3f}, spread {np.mean(spreads):.4f}, "
                      f"busy {np.mean(ours):.3f} vs random {np.mean(theirs):.3f}", flush=True)
    return rows


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def epoch_section(n: int, epochs: int) -> list[dict]:
    big = np.rint(np.random.default_rng(0).lognormal(5, 0.8, n)).clip(1, 8000)
    sort_s = best(lambda: np.argsort(big, kind="stable"), 3)
    cases = {
        "packed, one budget (16,384)": lambda: PackedBatchSampler(big, 16384, seed=0),
        "packed, padded (16,384)": lambda: PackedBatchSampler(big, 16384, batch_cost="padded", seed=0),
        "packed, two columns (16,384 and 50,000)": lambda: PackedBatchSampler(np.column_stack([big, 3 * big]),
                                                                              [16384, 50000], seed=0),
        "balanced, batch size 64": lambda: BalancedBatchSampler(big, 64, seed=0),
    }
    rows = []
    for case, make in cases.items():
        t = time.perf_counter()
        s = make()
        built = time.perf_counter() - t
        t = time.perf_counter()
        num = len(s)
        list(s)
        first = time.perf_counter() - t

        def later(e):
            s.set_epoch(e)
            list(s)
        later_s = min(best(lambda: later(e), 1) for e in range(1, epochs))
        rows.append(dict(case=case, n=n, batches=num, construct_s=built, first_epoch_s=first, epoch_s=later_s,
                         argsort_s=sort_s, epoch_over_argsort=later_s / sort_s))
        print(f"  {case}: build {built:.2f} s, first epoch {first:.2f} s, later epochs {later_s:.2f} s "
              f"({later_s / sort_s:.1f}x argsort), {num} batches", flush=True)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="5,000/2,003/100,000 items, 2 seeds, 2 epochs")
    ap.add_argument("--seeds", type=int, default=5, help="random shuffles per case")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--epoch-n", type=int, default=1_000_000, help="items of the epoch-time section (0: skip it)")
    args = ap.parse_args(argv)
    seeds, epochs = (2, 2) if args.quick else (args.seeds, args.epochs)
    print("random batching and balanced batches:", flush=True)
    rnd = random_section(5_000 if args.quick else 20_000, (8, 32, 128), seeds, epochs)
    print("DDP steps:", flush=True)
    ddp = ddp_section(2_003 if args.quick else 10_007, (2, 3, 4), epochs)
    n_epoch = 100_000 if args.quick else args.epoch_n
    print("epoch time:", flush=True)
    ep = epoch_section(n_epoch, max(epochs, 2)) if n_epoch else []
    out = save("sequences", dict(random=rnd, ddp=ddp, epoch=ep))

    print("\n## Random batching's heaviest batch over the mean (median over seeds) and balanced batches\n")
    print("| lengths | batch size | random: peak / mean | balanced: worst peak / mean | balanced: worst peak / bound |")
    print("|---|---:|---:|---:|---:|")
    for r in rnd:
        print(f"| {r['lengths']} | {r['batch_size']} | {r['random_peak_over_mean_median']:.3f} | "
              f"{r['balanced_worst_peak_over_mean']:.4f} | {r['balanced_worst_peak_over_bound']:.5f} |")
    for bs in (8, 32, 128):
        sel = [r["random_peak_over_mean_median"] - 1 for r in rnd if r["batch_size"] == bs]
        print(f"batch {bs}: random peaks {min(sel):.0%}-{max(sel):.0%} above the mean")

    print("\n## DDP steps (busy: the ranks' share of each step's time on work; anchor: DistributedSampler + BatchSampler)\n")
    print("| lengths | batches | ranks | steps | worst step: lightest / heaviest | step_cost_spread (mean; from the "
          "batches) | busy | random: steps | random: busy |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in ddp:
        print(f"| {r['lengths']} | {r['case']} | {r['ranks']} | {r['steps']} | {r['worst_step_lightest_over_heaviest']:.3f} | "
              f"{r['step_cost_spread_mean']:.4f}; {r['step_cost_spread_from_batches']:.4f} | {r['busy']:.3f} | "
              f"{r['random_steps']} | {r['random_busy']:.3f} |")
    bal = [r for r in ddp if r["case"] == "balanced 32, sum"]
    var = [r for r in ddp if r["case"] != "balanced 32, sum"]
    print(f"balanced summed: worst step {min(r['worst_step_lightest_over_heaviest'] for r in bal):.4f}; "
          f"packed and padded: worst step {min(r['worst_step_lightest_over_heaviest'] for r in var):.2f}, "
          f"mean spread {min(r['step_cost_spread_mean'] for r in var):.1%}-{max(r['step_cost_spread_mean'] for r in var):.1%}, "
          f"busy {min(r['busy'] for r in ddp):.0%}-{max(r['busy'] for r in ddp):.0%} "
          f"(random {min(r['random_busy'] for r in ddp):.0%}-{max(r['random_busy'] for r in ddp):.0%})")
    if ep:
        print(f"\n## Seconds per epoch, {n_epoch:,} lognormal lengths (anchor: numpy argsort, {ep[0]['argsort_s']:.3f} s)\n")
        print("| sampler | batches | construct s | first epoch s (with len) | later epoch s (best) | later / argsort |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in ep:
            print(f"| {r['case']} | {r['batches']:,} | {r['construct_s']:.2f} | {r['first_epoch_s']:.2f} | "
                  f"{r['epoch_s']:.2f} | {r['epoch_over_argsort']:.1f} |")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
