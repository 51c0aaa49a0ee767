"""Speed and quality of hullpack's packing kernels, with their anchors measured in the same run.

Speed (lognormal sizes, sigma 1, clipped at the capacity of 64 = about 39 items per bin):

* ``hullpack.packing.pack`` (first-fit-decreasing, and best-fit-decreasing) at 1e5, 1e6 and 1e7
  items, against a numba first-fit-decreasing that scans the open bins linearly for every item (as
  axolotl's MultipackBatchSampler does) and against one epoch of
  ``torch_geometric.loader.DynamicBatchSampler`` (next fit in Python, reading each sample's
  ``num_nodes`` through the dataset: once from bare objects with a ``num_nodes`` attribute, once
  from a list of ``torch_geometric.data.Data``); ``hullpack.packing.balance`` at the same sizes,
  batch size 32.

Quality (graph-size distributions below, batch sizes 8 and 32):

* balanced batches: peak batch cost of ``balance`` vs random batching and vs NuGraph-style batching
  (the largest 10% dealt round-robin, the rest at random), and vs the lower bound;
* packed batches: bin count of FFD / BFD / "auto" (FFD, then balanced partitions into fewer bins) vs the lower bound;
* two budgets at once (nodes and edges): time and bin count of FFD / BFD on (n, 2) sizes.

    python benchmarks/bench_packing.py            # full run (about a minute of numba, 1e7 items)
    python benchmarks/bench_packing.py --quick    # a few seconds: 1e5/1e6 items, smaller quality sets

Writes benchmarks/results/packing.json and prints Markdown tables.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from _common import save
from hullpack import packing

CAPACITY = 64.0


# ---------------------------------------------------------------------------------------------
# Anchors
# ---------------------------------------------------------------------------------------------

def numba_ffd():
    """First-fit-decreasing scanning every open bin for each item, compiled with numba."""
    import numba

    @numba.njit(cache=False)
    def ffd(sizes, capacity):
        order = np.argsort(sizes)[::-1]
        remaining = np.empty(sizes.size)
        bin_of_item = np.empty(sizes.size, np.int64)
        n_bins = 0
        for i in order:
            s = sizes[i]
            b = 0
            while b < n_bins and remaining[b] < s:  # the linear scan
                b += 1
            if b == n_bins:
                remaining[b] = capacity
                n_bins += 1
            remaining[b] -= s
            bin_of_item[i] = b
        return bin_of_item, n_bins

    ffd(np.ones(10), 4.0)  # compile outside the timings
    return ffd


class _Graph:
    __slots__ = ("num_nodes",)

    def __init__(self, num_nodes):
        self.num_nodes = num_nodes


class _SizesDataset:
    """A dataset whose items expose only ``num_nodes``: the cheapest case for DynamicBatchSampler."""

    def __init__(self, sizes):
        self.sizes = sizes.tolist()

    def __len__(self):
        return len(self.sizes)

    def __getitem__(self, i):
        return _Graph(self.sizes[i])


def pyg_data_list(sizes):
    """The same sizes as a list of torch_geometric Data objects (what an in-memory dataset holds)."""
    from torch_geometric.data import Data

    return [Data(num_nodes=int(round(s))) for s in sizes]


def pyg_epoch(dataset, capacity):
    """One epoch of DynamicBatchSampler over `dataset` (imported before: the import is not timed)."""
    from torch_geometric.loader import DynamicBatchSampler

    sampler = DynamicBatchSampler(dataset, max_num=capacity, mode="node", shuffle=False)
    return sum(1 for _ in sampler)


def random_peak(costs, bs, rng):
    return packing.batch_costs(costs, rng.permutation(costs.size) // bs, -(-costs.size // bs)).max()


def round_robin_peak(costs, bs, rng):
    """NuGraph's BalanceSampler: the largest 10% shuffled and dealt round-robin over the batches,
    the rest shuffled and dealt on where that stopped (n is a multiple of bs here, so every batch
    ends with bs items and nothing is dropped)."""
    n = costs.size
    n_batches = n // bs
    by_size = np.argsort(-costs, kind="stable")
    dealt = np.concatenate([rng.permutation(by_size[: n // 10]), rng.permutation(by_size[n // 10:])])
    bins = np.empty(n, np.int64)
    bins[dealt] = np.arange(n) % n_batches
    return packing.batch_costs(costs, bins, n_batches).max()


# ---------------------------------------------------------------------------------------------
# Graph-size distributions (node counts)
# ---------------------------------------------------------------------------------------------

def distributions(n, rng):
    """Heavy-tailed lognormals, small molecules, and collider events with pile-up."""
    # Collider events: a hard scatter plus mu pile-up vertices, mu drawn around the fill's mean
    # (it decays during a fill), each vertex leaving a negative-binomial number of hits.
    mu = rng.poisson(rng.uniform(20, 70, n))
    hits = rng.negative_binomial(1, 1 / 41, size=mu.sum())  # mean 40, heavy tail
    pileup = np.add.reduceat(np.concatenate([hits, [0]]), np.concatenate([[0], np.cumsum(mu)[:-1]]))
    pileup[mu == 0] = 0
    return {
        "lognormal s=0.5": rng.lognormal(3.0, 0.5, n),
        "lognormal s=1.0": rng.lognormal(3.0, 1.0, n),
        "molecules (heavy atoms)": np.clip(rng.normal(23, 4.5, n), 4, None).round(),
        "pile-up (hits)": (pileup + rng.lognormal(6.0, 0.6, n)).round(),
    }


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------

def best_time(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def speed(ns, numba_max, pyg_n, repeat, rng):
    rows = []
    ffd_numba = numba_ffd() if numba_max else None
    if pyg_n:
        import torch_geometric.loader  # noqa: F401  (seconds of import time, kept out of the timing)
    packing.pack(np.ones(1000), 4.0)  # first call: page faults and lazy binding, not timed
    for n in ns:
        sizes = np.minimum(rng.lognormal(0.0, 1.0, n), CAPACITY)
        lb = packing.lower_bound(sizes, capacity=CAPACITY)
        r = repeat if n < 5_000_000 else 1
        t_ffd, (bins, n_bins) = best_time(lambda: packing.pack(sizes, CAPACITY), r)
        t_bfd, (_, n_bins_bfd) = best_time(lambda: packing.pack(sizes, CAPACITY, "bfd"), r)
        t_bal, _ = best_time(lambda: packing.balance(sizes, -(-n // 32), 32), r)
        row = dict(n=n, hullpack_ffd_s=t_ffd, ffd_bins=n_bins, hullpack_bfd_s=t_bfd, bfd_bins=n_bins_bfd,
                   hullpack_balance32_s=t_bal, lower_bound_bins=lb)
        if ffd_numba is not None and n <= numba_max:
            row["numba_linear_ffd_s"], (_, row["numba_bins"]) = best_time(lambda: ffd_numba(sizes, CAPACITY), 1)
            row["speedup_vs_numba"] = row["numba_linear_ffd_s"] / t_ffd
        if n <= pyg_n:
            row["pyg_dynamic_epoch_s"], row["pyg_batches"] = best_time(
                lambda: pyg_epoch(_SizesDataset(sizes), CAPACITY), 1)
            row["speedup_vs_pyg"] = row["pyg_dynamic_epoch_s"] / t_ffd
            data = pyg_data_list(sizes)
            row["pyg_dynamic_epoch_data_s"], _ = best_time(lambda: pyg_epoch(data, CAPACITY), 1)
            row["speedup_vs_pyg_data"] = row["pyg_dynamic_epoch_data_s"] / t_ffd
        rows.append(row)
        print(f"  speed n={n:.0e}: ffd {t_ffd:.3f} s, bfd {t_bfd:.3f} s, balance {t_bal:.3f} s"
              + (f", numba {row['numba_linear_ffd_s']:.2f} s" if "numba_linear_ffd_s" in row else "")
              + (f", pyg {row['pyg_dynamic_epoch_s']:.2f} s" if "pyg_dynamic_epoch_s" in row else ""), flush=True)
    # The linear scan is quadratic (bins grow with n): extrapolate it where it was not run.
    measured = [r for r in rows if "numba_linear_ffd_s" in r]
    if measured:
        ref = measured[-1]
        for r in rows:
            if "numba_linear_ffd_s" not in r and r["n"] > ref["n"]:
                r["numba_linear_ffd_s_extrapolated"] = ref["numba_linear_ffd_s"] * (r["n"] / ref["n"]) ** 2
                r["speedup_vs_numba_extrapolated"] = r["numba_linear_ffd_s_extrapolated"] / r["hullpack_ffd_s"]
    return rows


def speed_2d(ns, repeat, rng):
    """Two budgets at once (nodes, edges): correlated sizes, and sizes that fill bins unevenly."""
    rows = []
    for n in ns:
        nodes = np.minimum(rng.lognormal(3.0, 0.8, n), 2000.0)
        edges = nodes * rng.uniform(1.5, 4.0, n)
        a = rng.uniform(0, 1, n)
        cases = {
            "nodes & edges (edges = 1.5-4 x nodes)": (np.stack([nodes, edges], 1), [4000.0, 12000.0]),
            "anti-correlated (a, 1 - a) x 100": (np.stack([a, 1 - a], 1) * 100, [1000.0, 1000.0]),
        }
        for name, (sizes, cap) in cases.items():
            lb = packing.lower_bound(sizes, capacity=cap)
            for method in ("ffd", "bfd"):
                t, (_, n_bins) = best_time(lambda: packing.pack(sizes, cap, method), repeat)
                rows.append(dict(case=name, n=n, method=method, seconds=t, bins=n_bins, bins_over_bound=n_bins / lb))
        print(f"  2-D n={n:.0e} done", flush=True)
    return rows


def quality(n_per_batch_size, seeds, rng):
    rows = []
    for bs in (8, 32):
        n = n_per_batch_size - n_per_batch_size % bs  # whole batches: every method has n / bs of them
        for name, costs in distributions(n, rng).items():
            B = n // bs
            order = rng.permutation(n)
            bins = packing.balance(costs, B, bs, order=order)
            ours = packing.batch_costs(costs, bins, B).max()
            lpt = packing.batch_costs(costs, packing.balance(costs, B, bs, order=order, refine=False), B).max()
            lb = packing.lower_bound(costs, n_batches=B, batch_size=bs)
            rnd = np.mean([random_peak(costs, bs, np.random.default_rng(s)) for s in range(seeds)])
            rr = np.mean([round_robin_peak(costs, bs, np.random.default_rng(s)) for s in range(seeds)])
            cap = max(float(costs.max()), bs * float(costs.mean()))  # about bs items per bin
            ffd_bins = packing.pack(costs, cap)[1]
            bfd_bins = packing.pack(costs, cap, "bfd")[1]
            t0 = time.perf_counter()
            auto_bins = packing.pack(costs, cap, "auto")[1]
            auto_s = time.perf_counter() - t0
            lb_bins = packing.lower_bound(costs, capacity=cap)
            rows.append(dict(
                distribution=name, batch_size=bs, n=n, mean_batch_cost=float(costs.sum() / B),
                peak_random=float(rnd), peak_round_robin=float(rr), peak_lpt=float(lpt), peak_balanced=float(ours),
                peak_lower_bound=lb, balanced_over_bound=float(ours / lb),
                reduction_vs_random=float(1 - ours / rnd), reduction_vs_round_robin=float(1 - ours / rr),
                capacity=cap, ffd_bins=ffd_bins, bfd_bins=bfd_bins, auto_bins=auto_bins, auto_seconds=auto_s,
                bins_lower_bound=lb_bins, ffd_over_bound=ffd_bins / lb_bins, bfd_over_bound=bfd_bins / lb_bins,
                auto_over_bound=auto_bins / lb_bins))
    return rows


def speed_table(rows):
    lines = ["| items | hullpack FFD | hullpack BFD | balance (bs 32) | numba linear-scan FFD | vs numba "
             "| PyG DynamicBatchSampler epoch: num_nodes objects / Data objects (batches) | vs PyG | "
             "FFD bins / bound |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "numba_linear_ffd_s" in r:
            numba, ratio = f"{r['numba_linear_ffd_s']:.2f} s", f"{r['speedup_vs_numba']:.0f}×"
        elif "numba_linear_ffd_s_extrapolated" in r:
            numba = f"≈{r['numba_linear_ffd_s_extrapolated']:.0f} s (extrapolated n²)"
            ratio = f"≈{r['speedup_vs_numba_extrapolated']:.0f}×"
        else:
            numba = ratio = "–"
        pyg = (f"{r['pyg_dynamic_epoch_s']:.3f} s / {r['pyg_dynamic_epoch_data_s']:.2f} s "
               f"({r['pyg_batches'] / r['lower_bound_bins']:.3f}× bound)" if "pyg_dynamic_epoch_s" in r else "–")
        pyg_ratio = (f"{r['speedup_vs_pyg']:.0f}× / {r['speedup_vs_pyg_data']:.0f}×"
                     if "speedup_vs_pyg" in r else "–")
        lines.append(f"| {r['n']:.0e} | {r['hullpack_ffd_s']:.3f} s | {r['hullpack_bfd_s']:.3f} s | "
                     f"{r['hullpack_balance32_s']:.3f} s | {numba} | {ratio} | {pyg} | {pyg_ratio} | "
                     f"{r['ffd_bins'] / r['lower_bound_bins']:.4f} |")
    return "\n".join(lines)


def quality_table(rows):
    lines = ["| distribution | bs | peak: random | round-robin top 10% | hullpack balance | lower bound "
             "| balance / bound | reduction vs random | vs round-robin | FFD / BFD / auto bins vs bound |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        m = r["mean_batch_cost"]
        lines.append(
            f"| {r['distribution']} | {r['batch_size']} | {r['peak_random'] / m:.3f} | {r['peak_round_robin'] / m:.3f} | "
            f"{r['peak_balanced'] / m:.3f} | {r['peak_lower_bound'] / m:.3f} | {r['balanced_over_bound']:.4f} | "
            f"{100 * r['reduction_vs_random']:.1f}% | {100 * r['reduction_vs_round_robin']:.1f}% | "
            f"{r['ffd_over_bound']:.4f} / {r['bfd_over_bound']:.4f} / {r['auto_over_bound']:.4f} |")
    return "\n".join(lines) + "\n\nPeaks are in units of the mean batch cost (random and round-robin: mean of the seeds)."


def table_2d(rows):
    lines = ["| sizes | items | method | time | bins / bound |", "|---|---:|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['n']:.0e} | {r['method']} | {r['seconds']:.3f} s | {r['bins_over_bound']:.4f} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1e5/1e6 items, smaller quality sets, one repeat")
    ap.add_argument("--sizes", type=float, nargs="+", help="item counts for the speed table (default 1e5 1e6 1e7)")
    ap.add_argument("--numba-max", type=float, default=1e6, help="largest n for the numba anchor (0: skip it)")
    ap.add_argument("--pyg-n", type=float, default=1e5, help="largest n for the PyG anchor (0: skip it)")
    ap.add_argument("--quality-n", type=int, default=100_000, help="items per quality case")
    ap.add_argument("--seeds", type=int, default=5, help="seeds for random and round-robin batching")
    ap.add_argument("--repeat", type=int, default=3, help="timings keep the best of this many runs")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes = args.sizes or [1e5, 1e6]
        args.quality_n, args.seeds, args.repeat = 20_000, 3, 2
    ns = [int(n) for n in (args.sizes or [1e5, 1e6, 1e7])]

    rng = np.random.default_rng(0)
    print("speed ...", flush=True)
    speed_rows = speed(ns, int(args.numba_max), int(args.pyg_n), args.repeat, rng)
    print("two budgets ...", flush=True)
    rows_2d = speed_2d([n for n in ns if n <= 1_000_000], args.repeat, rng)
    print("quality ...", flush=True)
    quality_rows = quality(args.quality_n, args.seeds, rng)

    out = save("packing", dict(capacity=CAPACITY, speed=speed_rows, two_budgets=rows_2d, quality=quality_rows))
    print("\n## Speed (lognormal sizes, sigma 1, capacity 64; best of runs)\n")
    print(speed_table(speed_rows))
    print("\n## Two budgets at once (FFD/BFD on (n, 2) sizes)\n")
    print(table_2d(rows_2d))
    print("\n## Quality (peak batch cost)\n")
    print(quality_table(quality_rows))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
