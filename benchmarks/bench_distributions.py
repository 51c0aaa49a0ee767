"""The samplers on size families they were not tuned on (``NEW_DISTRIBUTIONS`` of distributions.py:
proteins, point clouds, a power-law tail, molecular-dynamics frames of one size, a 95:5 mix of qm9
and proteins), beside the five of ``DISTRIBUTIONS`` for reference.

For every family, at ``--n`` graphs (100k by default):

* ``BalancedBatchSampler`` (batch size 32, cost nodes and nodes + edges): peak batch cost over the
  sampler's lower bound, and over the peak of random batching into as many batches;
* ``PackedBatchSampler`` (a budget of 64 mean graphs: nodes, nodes and edges as two budgets, and
  nodes, edges and angle triplets as three, as DimeNet-like models gather them; graphs over it get
  a batch of their own, ``oversize="alone"``; the two budgets also with ``method="ffd"``, first fit
  alone): batches over the lower bound,
  the fullest batch (cost / budget, the fullest column) and over random batching's fullest with as
  many batches, the budget held by every batch that is not an oversize graph alone;
* ``DistributedBalancedBatchSampler`` with 4 replicas (balanced at batch size 32, packed under the
  nodes budget): batches per rank (equal?), the worst rank's peak over the bound (balanced) or the
  budget (packed), every item once across the ranks;

and for each: seconds to plan an epoch (the slowest of ``--epochs``), every item exactly once in
every epoch (checked from the batches), and the same batches from a second sampler built alike
for the same seed and epoch. ``--pack-n`` repeats the packed samplers at a larger n (1M by default).

    python benchmarks/bench_distributions.py                 # about 2 minutes on 2 cores
    python benchmarks/bench_distributions.py --quick         # n = 20k, no large packing run

Writes benchmarks/results/distributions.json and prints a Markdown table with the worst value of
every metric in bold, and the worst case per metric with its family.
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from _common import save
from distributions import ALL_DISTRIBUTIONS, NEW_DISTRIBUTIONS
from hullpack.samplers import BalancedBatchSampler, DistributedBalancedBatchSampler, PackedBatchSampler

BATCH_SIZE = 32
MEAN_GRAPHS = 64  # the packed budget, in mean graphs
REPLICAS = 4
RANDOM_DRAWS = 3

#: metric -> (worse when higher?, shown in the worst-case table). Checks are booleans: False is worst.
METRICS = {
    "peak_over_bound": True, "peak_over_gcd_bound": True, "peak_over_random": True, "batches_over_bound": True,
    "rank_peak_over_bound": True, "rank_peak_over_gcd_bound": True, "plan_s": True,
    "budget_held": False, "every_item_once": False, "deterministic": False, "equal_rank_batches": False,
}


def batches_of(plan) -> list[np.ndarray]:
    return [plan.items[plan.offsets[b]:plan.offsets[b + 1]] for b in range(plan.num_batches)]


def sums(costs: np.ndarray, offsets: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Each batch's summed cost (one column per column of ``costs``), computed here, not by the sampler."""
    c = costs[items]
    if c.ndim == 1:
        c = c[:, None]
    csum = np.vstack([np.zeros((1, c.shape[1])), np.cumsum(c, axis=0)])
    return csum[offsets[1:]] - csum[offsets[:-1]]


def random_peak_fill(costs: np.ndarray, cap: np.ndarray, n_batches: int, seed: int) -> float:
    """The fullest batch (cost / budget, the fullest column) of random batching into ``n_batches``
    batches of near-equal item counts, the mean over a few draws."""
    n = costs.shape[0]
    peaks = []
    for d in range(RANDOM_DRAWS):
        perm = np.random.default_rng([seed, d]).permutation(n)
        offsets = np.linspace(0, n, n_batches + 1).round().astype(np.int64)
        peaks.append(float((sums(costs, offsets, perm) / cap).max(axis=1).max()))
    return float(np.mean(peaks))


def fitting(batch_costs: np.ndarray, offsets: np.ndarray, cap) -> np.ndarray:
    """The batch costs less those of oversize graphs alone (over ``cap``, one item: over budget by design)."""
    if cap is None:
        return batch_costs
    return batch_costs[~((np.diff(offsets) == 1) & (batch_costs > cap))]


def gcd_bound(costs: np.ndarray, bound: float) -> float:
    """``bound`` rounded up to a multiple of the costs' greatest common divisor where they are integers
    (every batch cost is one: 1,024-point clouds peak at a multiple of 1,024), else ``bound``."""
    if not np.array_equal(costs, np.round(costs)):
        return bound
    g = int(np.gcd.reduce(costs.astype(np.int64)))
    return float(np.ceil(bound / g - 1e-9) * g)


def once(items: np.ndarray, n: int) -> bool:
    return items.size == n and bool(np.array_equal(np.sort(items), np.arange(n)))


def epochs_of(make, epochs: int):
    """A sampler from ``make()``, its plans of epochs 0..epochs-1 with the slowest planning time, the
    seconds to build it, and whether a second one built alike gives the same batches in epoch 1."""
    t = time.perf_counter()
    sampler = make()
    build_s = time.perf_counter() - t
    plans, plan_s = [], 0.0
    for e in range(epochs):
        sampler.set_epoch(e)
        t = time.perf_counter()
        plans.append(sampler.plan())
        plan_s = max(plan_s, time.perf_counter() - t)
    again = make()
    again.set_epoch(1)
    p, q = plans[min(1, epochs - 1)], again.plan(min(1, epochs - 1))
    deterministic = bool(np.array_equal(p.offsets, q.offsets) and np.array_equal(p.items, q.items))
    return sampler, plans, build_s, plan_s, deterministic


def balanced(name, cost_name, costs, epochs):
    n = costs.size
    sampler, plans, build_s, plan_s, det = epochs_of(lambda: BalancedBatchSampler(costs, BATCH_SIZE, seed=0), epochs)
    bound = sampler.stats(0)["lower_bound"]
    B = plans[0].num_batches
    peak = max(float(sums(costs, p.offsets, p.items).max()) for p in plans)
    rand = random_peak_fill(costs, np.ones(1), B, seed=n)
    return dict(family=name, sampler="balanced", cost=cost_name, n=n, batches=B, lower_bound=bound,
                peak_over_bound=peak / bound, peak_over_gcd_bound=peak / gcd_bound(costs, bound),
                peak_over_random=peak / rand, build_s=build_s, plan_s=plan_s,
                every_item_once=all(once(p.items, n) for p in plans), deterministic=det)


def packed(name, cost_name, costs, cap, epochs, method="auto"):
    n = costs.shape[0]
    cap = np.atleast_1d(np.asarray(cap, np.float64))
    arg = float(cap[0]) if costs.ndim == 1 else cap.tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # oversize graphs alone: counted below
        sampler, plans, build_s, plan_s, det = epochs_of(
            lambda: PackedBatchSampler(costs, arg, seed=0, oversize="alone", method=method), epochs)
    stats = sampler.stats(0)
    counts = [p.num_batches for p in plans]
    held, peak_fill = True, 0.0
    for p in plans:
        fill = (sums(costs, p.offsets, p.items) / cap).max(axis=1)
        alone = (np.diff(p.offsets) == 1) & (fill > 1)
        held &= bool((fill[~alone] <= 1 + 1e-12).all())
        peak_fill = max(peak_fill, float(fill[~alone].max()))
    rand = random_peak_fill(costs, cap, counts[0], seed=n)
    return dict(family=name, sampler="packed" if method == "auto" else f"packed, method={method}", cost=cost_name,
                n=n, max_cost=cap.tolist(), batches=max(counts),
                lower_bound=stats["lower_bound"], oversize_alone=stats["oversize_alone"],
                batches_over_bound=max(counts) / stats["lower_bound"], peak_fill=peak_fill,
                peak_over_random=peak_fill / rand, budget_held=bool(held), build_s=build_s, plan_s=plan_s,
                every_item_once=all(once(p.items, n) for p in plans), deterministic=det,
                same_count_every_epoch=len(set(counts)) == 1)


def distributed(name, mode, costs, epochs, cap=None):
    n = costs.size
    kwargs = dict(batch_size=BATCH_SIZE) if mode == "balanced" else dict(max_cost=float(cap), oversize="alone")
    runs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(REPLICAS):
            runs.append(epochs_of(lambda: DistributedBalancedBatchSampler(costs, num_replicas=REPLICAS, rank=r,
                                                                          seed=0, **kwargs), epochs))
    equal = all(len({runs[r][1][e].num_batches for r in range(REPLICAS)}) == 1 for e in range(epochs))
    every = all(once(np.concatenate([runs[r][1][e].items for r in range(REPLICAS)]), n) for e in range(epochs))
    # each rank's heaviest batch; packed: an oversize graph alone is over budget by design, left out
    peaks = [max(float(fitting(sums(costs, p.offsets, p.items)[:, 0], p.offsets, cap).max()) for p in plans)
             for _, plans, *_ in runs]
    stats = runs[0][0].stats(0)
    row = dict(family=name, sampler=f"distributed x{REPLICAS}", cost=f"nodes, {mode}", n=n,
               batches=runs[0][1][0].num_batches, equal_rank_batches=equal, every_item_once=every,
               deterministic=all(run[4] for run in runs), plan_s=max(run[3] for run in runs),
               build_s=max(run[2] for run in runs), step_cost_spread=stats.get("step_cost_spread"),
               rank_peaks=peaks)
    if mode == "balanced":
        row["lower_bound"] = stats["lower_bound"]
        row["rank_peak_over_bound"] = max(peaks) / stats["lower_bound"]
        row["rank_peak_over_gcd_bound"] = max(peaks) / gcd_bound(costs, stats["lower_bound"])
    else:
        row["max_cost"] = [float(cap)]
        row["peak_fill"] = max(peaks) / cap
        row["budget_held"] = bool(max(peaks) <= cap * (1 + 1e-12))
    return row


def triplets(nodes: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Angle triplets (pairs of edges sharing a node) of graphs with these node and directed edge
    counts, at a uniform degree: edges x (edges per node - 1)."""
    return np.rint(edges * np.maximum(edges / np.maximum(nodes, 1.0) - 1.0, 0.0))


def family_rows(name, n, epochs, pack_only=False):
    nodes, edges = (a.astype(np.float64) for a in ALL_DISTRIBUTIONS[name](n, np.random.default_rng(0)))
    both = np.column_stack([nodes, edges])
    three = np.column_stack([nodes, edges, triplets(nodes, edges)])
    cap_nodes, cap_both = MEAN_GRAPHS * nodes.mean(), [MEAN_GRAPHS * nodes.mean(), MEAN_GRAPHS * edges.mean()]
    rows = []
    if not pack_only:
        rows += [balanced(name, "nodes", nodes, epochs), balanced(name, "nodes+edges", nodes + edges, epochs)]
    rows += [packed(name, "nodes", nodes, cap_nodes, epochs), packed(name, "nodes, edges", both, cap_both, epochs),
             packed(name, "nodes, edges, triplets", three, list(MEAN_GRAPHS * three.mean(axis=0)), epochs)]
    if not pack_only:
        rows.append(packed(name, "nodes, edges", both, cap_both, epochs, method="ffd"))
        rows += [distributed(name, "balanced", nodes, epochs), distributed(name, "packed", nodes, epochs, cap_nodes)]
    for r in rows:
        r["new_family"] = name in NEW_DISTRIBUTIONS
    return rows


def fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "**NO**"
    if value is None:
        return ""
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def worst_cases(rows) -> dict:
    """The worst row of every metric: the highest ratio or time, a failed check first."""
    out = {}
    for metric, higher in METRICS.items():
        have = [r for r in rows if r.get(metric) is not None]
        if not have:
            continue
        pick = max(have, key=lambda r: r[metric]) if higher else min(have, key=lambda r: r[metric])
        out[metric] = dict(value=pick[metric], family=pick["family"], sampler=pick["sampler"], cost=pick["cost"],
                           n=pick["n"])
    return out


def table(rows, worst) -> str:
    cols = ["peak_over_bound", "peak_over_gcd_bound", "peak_over_random", "batches_over_bound", "peak_fill",
            "rank_peak_over_bound", "rank_peak_over_gcd_bound", "plan_s", "every_item_once", "deterministic",
            "budget_held", "equal_rank_batches"]
    lines = ["| family | n | sampler | cost | " + " | ".join(cols) + " |",
             "|---|---:|---|---|" + "---:|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c)
            text = fmt(v)
            if v is not None and c in worst and worst[c]["value"] == v and not isinstance(v, bool):
                text = f"**{text}** (worst)"
            cells.append(text)
        fam = r["family"] + (" (new)" if r["new_family"] else "")
        lines.append(f"| {fam} | {r['n']:,} | {r['sampler']} | {r['cost']} | " + " | ".join(cells) + " |")
    lines += ["", "| metric | worst | family | sampler | cost | n |", "|---|---:|---|---|---|---:|"]
    for metric, w in worst.items():
        lines.append(f"| {metric} | {fmt(w['value'])} | {w['family']} | {w['sampler']} | {w['cost']} | {w['n']:,} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=float, default=1e5, help="graphs per family")
    ap.add_argument("--pack-n", type=float, default=1e6,
                    help="graphs per family for the packed samplers again (0: not)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--only", help="comma-separated families (default: all ten)")
    ap.add_argument("--quick", action="store_true", help="n = 20k, 2 epochs, no larger packing run")
    args = ap.parse_args()
    if args.quick:
        args.n, args.pack_n, args.epochs = 2e4, 0, 2
    names = args.only.split(",") if args.only else list(ALL_DISTRIBUTIONS)
    rows = []
    for name in names:
        t = time.perf_counter()
        rows += family_rows(name, int(args.n), args.epochs)
        if args.pack_n:
            rows += family_rows(name, int(args.pack_n), 1 if args.pack_n > args.n else args.epochs, pack_only=True)
        print(f"  {name}: {time.perf_counter() - t:.1f} s", flush=True)
    worst = worst_cases(rows)
    worst_new = worst_cases([r for r in rows if r["new_family"]])
    text = table(rows, worst)
    print(text)
    out = save("distributions", dict(batch_size=BATCH_SIZE, budget_mean_graphs=MEAN_GRAPHS, replicas=REPLICAS,
                                     epochs=args.epochs, random_draws=RANDOM_DRAWS, rows=rows, worst=worst,
                                     worst_new_families=worst_new))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
