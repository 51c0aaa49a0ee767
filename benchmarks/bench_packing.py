"""Speed and quality of hullpack's packing kernels, with their anchors measured in the same run.

Speed (lognormal sizes, sigma 1, clipped at the capacity of 64 = about 39 items per bin):

* ``hullpack.packing.pack`` (first-fit-decreasing, and best-fit-decreasing) at 1e5, 1e6 and 1e7
  items, against a numba first-fit-decreasing that scans the open bins linearly for every item (as
  axolotl's MultipackBatchSampler does) and against one epoch of
  ``torch_geometric.loader.DynamicBatchSampler`` (next fit in Python, reading each sample's
  ``num_nodes`` through the dataset: once from bare objects with a ``num_nodes`` attribute, once
  from a list of ``torch_geometric.data.Data``); ``hullpack.packing.balance`` at the same sizes,
  batch size 32.

Several budgets (k = 2 and 4 at 1e6 items, correlated node/edge-like sizes, integer node and edge
counts around the budgets' ratio, anti-correlated Dirichlet sizes, QM9-like small molecules): first fit, best fit and
"auto" (first fit, then spreading over fewer bins); time against 1-D first fit on the same number
of items in the same run, bins against the per-budget volume bound and the Martello-Toth L2 bound;
for k = 2 on the very sizes the former exact first fit was recorded on, its bin count beside
ours.

Padded cost (a batch costs count x longest): ``PackedBatchSampler(batch_cost="padded")`` against
sum packing (``PackedBatchSampler`` with the sum), a torch-style bucket batch sampler (random pools
of 100 batches sorted by length, cut into fixed-size batches; the size that holds the budget
whatever the lengths) and lhotse-style dynamic buckets (30 length buckets at quantiles, batches
filled up to the budget in total length, as lhotse's ``max_duration``): the largest padded
elements per batch over the budget, the fill (real / padded elements), the batch count.

Scale (--scale-n items, 1e8 by default, each in a subprocess to read its peak RSS): first fit on
lognormal float sizes, and integer sizes 1..500 through the histogram path, beside first fit on the
same integers; batches over the bound for each, wall and CPU time (all threads), beside numpy's sort
of the same sizes (and numpy's bincount of the integers) in the same process, and the peak RSS
against the process's RSS before packing (sizes drawn in chunks, so no temporary raises it).

Quality (graph-size distributions below, batch sizes 8 and 32):

* balanced batches: peak batch cost of ``balance`` vs random batching and vs NuGraph-style batching
  (the largest 10% dealt round-robin, the rest at random), and vs the lower bound;
* packed batches: bin count of FFD / BFD / "auto" vs the lower bound.

    python benchmarks/bench_packing.py            # full run (numba, 1e7 items, 1e8 at scale)
    python benchmarks/bench_packing.py --quick    # a minute: 1e5/1e6 items, 1e7 at scale
    python benchmarks/bench_packing.py --budgets-only   # the several-budgets section alone
    python benchmarks/bench_packing.py --padded-only    # the padded-cost section alone

Writes benchmarks/results/packing.json (``--budgets-only``: packing_budgets.json, ``--padded-only``:
packing_padded.json) and prints
Markdown tables.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from _common import save
from distributions import DISTRIBUTIONS
from hullpack import packing, packing_runs
from hullpack.samplers import PackedBatchSampler

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


# The former exact first fit (a pruned tree search, O(n x bins) at worst) on the k = 2 sizes below
# at 1e6 items, as recorded in benchmarks/results/packing.json before the search was bounded; the
# sizes are regenerated draw for draw (`legacy_2d_sizes`).
EXACT_FIRST_FIT_2D = {"correlated": {"bins": 6922, "seconds": 0.448}, "anti-correlated": {"bins": 53821, "seconds": 1.548}}


def legacy_2d_sizes(n):
    """The (n, 2) sizes of the former benchmark's two-budget section, from the same stream of draws:
    nodes & edges (edges = 1.5-4 x nodes) with budgets (4000, 12000), and (a, 1 - a) x 100 with
    budgets (1000, 1000)."""
    rng = np.random.default_rng(0)
    for m in (100_000, 1_000_000, 10_000_000):  # the former speed section's draws
        rng.lognormal(0.0, 1.0, m)
    for m in (100_000, n):
        nodes = np.minimum(rng.lognormal(3.0, 0.8, m), 2000.0)
        edges = nodes * rng.uniform(1.5, 4.0, m)
        a = rng.uniform(0, 1, m)
    return {"correlated": (np.stack([nodes, edges], 1), [4000.0, 12000.0]),
            "anti-correlated": (np.stack([a, 1 - a], 1) * 100, [1000.0, 1000.0])}


def budget_cases(n, rng):
    """k = 2 (the former benchmark's sizes) and k = 4: correlated (nodes, edges, ...) and
    anti-correlated (Dirichlet(1) x 100) sizes."""
    cases = {(2, name): v for name, v in legacy_2d_sizes(n).items()}
    nodes = np.minimum(rng.lognormal(3.0, 0.8, n), 2000.0)
    cols = [nodes] + [nodes * rng.uniform(1.5, 4.0, n) for _ in range(3)]
    counts = rng.integers(1, 500, n)  # integer nodes, edges 2-7 x nodes, around the budgets' ratio of 5
    cases[(2, "integer nodes & edges")] = (np.stack([counts, counts * rng.integers(2, 8, n)], 1).astype(float),
                                           [20_000.0, 100_000.0])
    cases[(4, "correlated")] = (np.stack(cols, 1), [4000.0, 12000.0, 12000.0, 12000.0])
    cases[(4, "anti-correlated")] = (rng.dirichlet(np.ones(4), n) * 100, [1000.0] * 4)
    # QM9-like molecules (3-29 atoms, 2-6 edges per atom), 8 and 32 mean molecules per budget: many
    # small items to a bin (their own generator, so the cases above keep their draws)
    mol = np.random.default_rng(9)
    atoms = mol.integers(3, 30, n)
    molecules = np.column_stack([atoms, np.round(atoms * mol.uniform(2, 6, n))]).astype(float)
    for per_batch in (8, 32):
        cases[(2, f"small molecules, {per_batch} per batch")] = (molecules, list(molecules.mean(axis=0) * per_batch))
    return cases


def volume_bound(sizes, cap):
    return float(np.max(np.ceil(sizes.sum(axis=0) / np.asarray(cap) * (1 - 1e-12))))


def budgets(n, repeat, rng):
    """Several budgets at once: time against 1-D first fit at the same n, bins against the bounds."""
    rows = []
    for (k, name), (sizes, cap) in budget_cases(n, rng).items():
        one_d = np.ascontiguousarray(sizes[:, 0])
        t_1d, _ = best_time(lambda: packing.pack(one_d, cap[0]), repeat)
        vol, best = volume_bound(sizes, cap), packing.lower_bound(sizes, capacity=cap)
        for method in ("ffd", "bfd", "auto"):
            t, (bins, n_bins) = best_time(lambda: packing.pack(sizes, cap, method), 1 if method == "auto" else repeat)
            assert (packing.batch_costs(sizes, bins, n_bins) <= np.asarray(cap)).all()
            row = dict(k=k, case=name, n=n, method=method, seconds=t, one_d_ffd_seconds=t_1d, vs_one_d=t / t_1d,
                       bins=n_bins, volume_bound=vol, best_bound=best, bins_over_best_bound=n_bins / best)
            if name in EXACT_FIRST_FIT_2D and k == 2 and method == "ffd" and n == 1_000_000:
                row["exact_first_fit_bins"] = EXACT_FIRST_FIT_2D[name]["bins"]
                row["exact_first_fit_seconds_recorded"] = EXACT_FIRST_FIT_2D[name]["seconds"]
            rows.append(row)
        print(f"  k={k} {name}: ffd {rows[-3]['seconds']:.3f} s ({rows[-3]['vs_one_d']:.1f}x 1-D), "
              f"{rows[-3]['bins_over_best_bound']:.4f} of the bound; auto {rows[-1]['bins_over_best_bound']:.4f}",
              flush=True)
    return rows


# ---------------------------------------------------------------------------------------------
# Padded cost: sorted runs against sum packing and length bucketing
# ---------------------------------------------------------------------------------------------

def torch_bucket_batches(lengths, budget, rng, multiplier=100):
    """torchnlp-style BucketBatchSampler: random pools of `multiplier` batches, each sorted by length
    and cut into batches of a fixed size; the size is the largest that holds the padded budget for
    any lengths (budget // longest), as a fixed batch size must."""
    bs = max(1, int(budget // lengths.max()))
    perm = rng.permutation(lengths.size)
    batches = []
    for lo in range(0, perm.size, bs * multiplier):
        pool = perm[lo:lo + bs * multiplier]
        pool = pool[np.argsort(lengths[pool], kind="stable")]
        batches += [pool[i:i + bs] for i in range(0, pool.size, bs)]
    return batches


def lhotse_bucket_batches(lengths, budget, rng, num_buckets=30):
    """lhotse-style DynamicBucketingSampler: bucket boundaries at length quantiles (equal counts),
    each bucket shuffled and cut into batches whose total length stays within the budget (lhotse's
    max_duration constrains the sum of durations, not the padded size)."""
    edges = np.quantile(lengths, np.linspace(0, 1, num_buckets + 1)[1:-1])
    which = np.searchsorted(edges, lengths, side="right")
    batches = []
    for b in range(num_buckets):
        members = rng.permutation(np.flatnonzero(which == b))
        batch, total = [], 0.0
        for i in members:
            if batch and total + lengths[i] > budget:
                batches.append(np.array(batch))
                batch, total = [], 0.0
            batch.append(i)
            total += lengths[i]
        if batch:
            batches.append(np.array(batch))
    return batches


def padded_stats(lengths, batches, budget):
    padded = np.array([len(b) * lengths[b].max() for b in batches], dtype=float)
    real = sum(float(lengths[b].sum()) for b in batches)
    return dict(batches=len(batches), max_padded_over_budget=float(padded.max() / budget),
                fill=real / float(padded.sum()), over_budget_batches=int((padded > budget).sum()))


def padded_cases(n, rng):
    """The docs' padded example (2,000 lengths 5..199, 4,096 padded elements), token lengths with a
    long tail, and node counts of molecules and collider events padded to dense graph tensors."""
    tokens = np.minimum(np.rint(rng.lognormal(5.0, 0.8, n)), 2048).clip(1, None)
    return {
        "docs example (2,000 lengths 5-199)": (np.random.default_rng(1).integers(5, 200, 2_000).astype(float), 4096.0),
        "token lengths (lognormal, <= 2048)": (tokens, 16_384.0),
        "molecules (nodes)": (DISTRIBUTIONS["molecules"](n, rng)[0].astype(float), 4_096.0),
        "collider events (hits)": (DISTRIBUTIONS["collider"](n // 10, rng)[0].astype(float), 200_000.0),
    }


def padded(n, rng):
    rows = []
    for name, (lengths, budget) in padded_cases(n, rng).items():
        bound = packing_runs.lower_bound_runs(lengths, budget, packing_terms("padded"))
        methods = {}
        t = time.perf_counter()
        runs = PackedBatchSampler(lengths, budget, batch_cost="padded", seed=0)
        methods["hullpack padded (sorted runs)"] = (list(runs), time.perf_counter() - t)
        t = time.perf_counter()
        summed = PackedBatchSampler(lengths, budget, seed=0)
        methods["hullpack sum packing"] = (list(summed), time.perf_counter() - t)
        for label, fn in (("torch-style buckets (fixed size)", torch_bucket_batches),
                          ("lhotse-style buckets (sum <= budget)", lhotse_bucket_batches)):
            t = time.perf_counter()
            methods[label] = (fn(lengths, budget, np.random.default_rng(0)), time.perf_counter() - t)
        for label, (batches, seconds) in methods.items():
            assert sorted(i for b in batches for i in b) == list(range(lengths.size))
            rows.append(dict(case=name, n=int(lengths.size), budget=budget, method=label, seconds=seconds,
                             batches_over_bound=len(batches) / bound, bound=bound, **padded_stats(lengths, batches, budget)))
            if label.startswith("hullpack padded"):  # the guarantee: no batch pads past the budget
                assert rows[-1]["max_padded_over_budget"] <= 1.0, rows[-1]
        print(f"  padded {name} done", flush=True)
    return rows


def packing_terms(name):
    return {"padded": (0, 1, 0, 0, 0, 0)}[name]


# ---------------------------------------------------------------------------------------------
# Scale: 1e8 items, each run in its own process for its peak RSS
# ---------------------------------------------------------------------------------------------

SCALE_CHILD = r"""
import json, resource, sys, time
import numpy as np
from hullpack import packing, packing_runs
n, kind, method = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rng = np.random.default_rng(0)
# Drawn in chunks into one array, so that no temporary copy of n values raises the peak RSS
# before the packing starts: the peak then measures the sizes plus what the packing holds.
sizes, cap, step = np.empty(n), 64.0 if kind == "float" else 2000.0, 1 << 22
for lo in range(0, n, step):
    m = min(step, n - lo)
    if kind == "float":
        np.minimum(rng.lognormal(0.0, 1.0, m), 64.0, out=sizes[lo:lo + m])
    else:
        sizes[lo:lo + m] = rng.integers(1, 501, m)
packing.pack(sizes[:1000], cap, method)  # first call: lazy binding, not timed


def timed(fn):
    u = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t
    v = resource.getrusage(resource.RUSAGE_SELF)
    return out, seconds, (v.ru_utime + v.ru_stime) - (u.ru_utime + u.ru_stime)



def rss_kib():  # the resident set now (ru_maxrss is the most so far, which imports may have raised)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


base = rss_kib()
(bins, n_bins), seconds, cpu = timed(lambda: packing.pack(sizes, cap, method))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
del bins
bound = packing.lower_bound(sizes, capacity=cap)
# Same-run anchors, after the peak was read: numpy's sort of the sizes (the floor of any sort-based
# packing) and, for integers, numpy's histogram of them (the floor of any histogram packing).
_, sort_s, _ = timed(lambda: np.sort(sizes))
anchors = dict(numpy_sort_s=sort_s)
if kind == "integer":
    ints = sizes.astype(np.int64)
    _, anchors["numpy_bincount_s"], _ = timed(lambda: np.bincount(ints))
print(json.dumps(dict(seconds=seconds, cpu_seconds=cpu, bins=int(n_bins), bound=bound,
                      rss_before_gib=base / 2**20, peak_rss_gib=peak / 2**20, **anchors)))
"""


def scale(n):
    rows = []
    for kind, method in (("float", "ffd"), ("integer", "hist"), ("integer", "ffd")):
        out = subprocess.run([sys.executable, "-c", SCALE_CHILD, str(n), kind, method], capture_output=True,
                             text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        r.update(n=n, sizes=kind, method=method, bins_over_bound=r["bins"] / r["bound"],
                 packing_bytes_per_item=(r["peak_rss_gib"] - r["rss_before_gib"]) * 2**30 / n)
        rows.append(r)
        print(f"  scale n={n:.0e} {kind} {method}: {r['seconds']:.2f} s (CPU {r['cpu_seconds']:.2f} s; numpy sort "
              f"{r['numpy_sort_s']:.2f} s), peak RSS {r['peak_rss_gib']:.2f} GiB "
              f"(before packing {r['rss_before_gib']:.2f}: {r['packing_bytes_per_item']:.0f} bytes per item more), "
              f"{r['bins_over_bound']:.5f} of the bound", flush=True)
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


def budgets_table(rows):
    lines = ["| k | sizes | items | method | time | vs 1-D FFD, same n | bins / best bound | best bound (L2) "
             "/ volume bound | former exact first fit: bins |", "|---:|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        exact = f"{r['exact_first_fit_bins']} ({r['exact_first_fit_bins'] / r['best_bound']:.4f}); ours {r['bins']}" \
            if "exact_first_fit_bins" in r else "–"
        lines.append(f"| {r['k']} | {r['case']} | {r['n']:.0e} | {r['method']} | {r['seconds']:.3f} s | "
                     f"{r['vs_one_d']:.1f}× | {r['bins_over_best_bound']:.4f} | {r['best_bound'] / r['volume_bound']:.4f} | "
                     f"{exact} |")
    return "\n".join(lines)


def padded_table(rows):
    lines = ["| lengths | items | budget | method | batches / bound | max padded / budget | batches over "
             "budget | fill (real / padded) |", "|---|---:|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['n']:,} | {r['budget']:,.0f} | {r['method']} | {r['batches_over_bound']:.3f} | "
                     f"{r['max_padded_over_budget']:.3f} | {r['over_budget_batches']} | {r['fill']:.3f} |")
    return "\n".join(lines)


def scale_table(rows):
    lines = ["| sizes | items | method | time (CPU time, all threads) | same run: numpy sort / bincount "
             "| peak RSS (before packing: the process with its sizes) | packing's bytes per item | bins / bound |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        anchor = f"{r['numpy_sort_s']:.2f} s" + (f" / {r['numpy_bincount_s']:.2f} s" if "numpy_bincount_s" in r else "")
        lines.append(f"| {r['sizes']} | {r['n']:.0e} | {r['method']} | {r['seconds']:.2f} s ({r['cpu_seconds']:.2f} s) | "
                     f"{anchor} | {r['peak_rss_gib']:.2f} GiB ({r['rss_before_gib']:.2f}) | {r['packing_bytes_per_item']:.0f} | "
                     f"{r['bins_over_bound']:.5f} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1e5/1e6 items, smaller quality sets, 1e7 at scale")
    ap.add_argument("--sizes", type=float, nargs="+", help="item counts for the speed table (default 1e5 1e6 1e7)")
    ap.add_argument("--numba-max", type=float, default=1e6, help="largest n for the numba anchor (0: skip it)")
    ap.add_argument("--pyg-n", type=float, default=1e5, help="largest n for the PyG anchor (0: skip it)")
    ap.add_argument("--budgets-n", type=float, default=1e6, help="items for the several-budgets section")
    ap.add_argument("--budgets-only", action="store_true",
                    help="run the several-budgets section alone (writes results/packing_budgets.json)")
    ap.add_argument("--padded-n", type=int, default=100_000, help="items per padded-cost case")
    ap.add_argument("--padded-only", action="store_true",
                    help="run the padded-cost section alone (writes results/packing_padded.json)")
    ap.add_argument("--scale-n", type=float, default=1e8, help="items for the scale section (0: skip it)")
    ap.add_argument("--quality-n", type=int, default=100_000, help="items per quality case")
    ap.add_argument("--seeds", type=int, default=5, help="seeds for random and round-robin batching")
    ap.add_argument("--repeat", type=int, default=3, help="timings keep the best of this many runs")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes = args.sizes or [1e5, 1e6]
        args.quality_n, args.seeds, args.repeat, args.padded_n = 20_000, 3, 2, 20_000
        args.scale_n = min(args.scale_n, 1e7)
    ns = [int(n) for n in (args.sizes or [1e5, 1e6, 1e7])]

    load_start = list(os.getloadavg())  # the machine is shared: its load at the start, beside save()'s at the end
    if args.budgets_only:
        budget_rows = budgets(int(args.budgets_n), args.repeat, np.random.default_rng(1))
        out = save("packing_budgets", dict(load_average_start=load_start, budgets=budget_rows))
        print(budgets_table(budget_rows) + f"\n\nwrote {out}")
        return
    if args.padded_only:
        padded_rows = padded(args.padded_n, np.random.default_rng(2))
        out = save("packing_padded", dict(load_average_start=load_start, padded=padded_rows))
        print(padded_table(padded_rows) + f"\n\nwrote {out}")
        return
    rng = np.random.default_rng(0)
    print("speed ...", flush=True)
    speed_rows = speed(ns, int(args.numba_max), int(args.pyg_n), args.repeat, rng)
    print("several budgets ...", flush=True)
    budget_rows = budgets(int(args.budgets_n), args.repeat, np.random.default_rng(1))
    print("padded cost ...", flush=True)
    padded_rows = padded(args.padded_n, np.random.default_rng(2))
    print("scale ...", flush=True)
    scale_rows = scale(int(args.scale_n)) if args.scale_n else []
    print("quality ...", flush=True)
    quality_rows = quality(args.quality_n, args.seeds, rng)

    out = save("packing", dict(load_average_start=load_start, capacity=CAPACITY, speed=speed_rows, budgets=budget_rows, padded=padded_rows,
                               scale=scale_rows, quality=quality_rows))
    print("\n## Speed (lognormal sizes, sigma 1, capacity 64; best of runs)\n")
    print(speed_table(speed_rows))
    print("\n## Several budgets at once\n")
    print(budgets_table(budget_rows))
    print("\n## Padded cost (count x longest)\n")
    print(padded_table(padded_rows))
    if scale_rows:
        print("\n## Scale\n")
        print(scale_table(scale_rows))
    print("\n## Quality (peak batch cost)\n")
    print(quality_table(quality_rows))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
