"""Batch quality and epoch cost of hullpack's samplers, against the usual ways of batching graphs.

Measured in one run, on the same sizes:

* balanced quality (fixed batch size): the worst peak batch cost over epochs of
  ``BalancedBatchSampler`` over the tightest lower bound (``stats()["lower_bound"]``), on every
  size distribution of ``distributions.py`` (node counts, and nodes + edges), batch sizes 4, 8,
  16, 32, 128, at n = 5,000 and ``--n``; beside it, in the same epochs, the previous algorithm
  (largest first on coarsened costs, then swaps between the heaviest and the lightest batch:
  ``packing.balance(..., refine="lightest")``) and that followed by a plain swap search in numba
  (the heaviest batch against every other, lightest first, the best swap once 64 were tried);
* balanced batches vs the usual ways (fixed batch size, node counts of the same distributions):
  peak batch cost of ``BalancedBatchSampler`` vs random batching and vs round-robin dealing of the
  largest 10% (as NuGraph's BalanceSampler does), and vs the lower bound, for batch sizes 8 and 32;
* DDP: how much the heaviest rank of a step exceeds the step's mean (the straggler), for
  ``DistributedBalancedBatchSampler`` vs ``DistributedSampler`` + ``BatchSampler``;
* packed batches (node budget): batch count vs the lower bound and time per epoch, for
  ``PackedBatchSampler`` vs ``torch_geometric.loader.DynamicBatchSampler``;
* with ``--scale N``: ``packing.balance`` (batch 32, molecule-like node counts, coarsened keys and a
  random tie order as the samplers deal them) and one ``BalancedBatchSampler`` epoch at N items,
  each in a fresh process: seconds and peak RSS, beside the previous algorithm at the same N;
* with ``--lightning``: a PyTorch Lightning DDP fit (``ddp_spawn``, 2 gloo processes, the Trainer's
  defaults) on items whose work grows with their size: seconds per epoch, steps per rank, items
  seen twice and whether epochs differ, for ``BalancedBatchSampler`` vs Lightning's own
  ``DistributedSampler`` (``DataLoader(batch_size=..., shuffle=True)``).

    python benchmarks/bench_samplers.py [--n 100000] [--epochs 3] [--scale 1e8] [--lightning]

Writes benchmarks/results/samplers.json and prints Markdown tables.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
import torch

from _common import save
from distributions import DISTRIBUTIONS
from hullpack import packing
from hullpack.samplers import BalancedBatchSampler, DistributedBalancedBatchSampler, PackedBatchSampler
from hullpack.samplers._base import coarsen  # the samplers' grid, as the previous algorithm used it


def distributions(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Node counts of every size distribution of ``distributions.py``, as float costs."""
    return {name: make(n, rng)[0].astype(np.float64) for name, make in DISTRIBUTIONS.items()}


# ---------------------------------------------------------------------------------------------
# Balanced quality: the sampler vs the previous algorithm and a plain swap search, worst epochs
# ---------------------------------------------------------------------------------------------

QUALITY_BATCH_SIZES = (4, 8, 16, 32, 128)


def previous_balanced(costs: np.ndarray, bs: int, seed: int, epoch: int) -> np.ndarray:
    """The balanced sampler's split before the exchange refinement: largest first on costs snapped
    to a geometric grid of relative step 1% (random offset), ties in a random order, then swaps
    between the heaviest and the lightest batch on those snapped costs. The same random draws as
    the sampler's epoch (its generator, then permutation and grid offset)."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(costs.size).astype(np.int64)
    keys = coarsen(costs.astype(np.float64), 0.01, rng, up=False)
    return packing.balance(keys, -(-costs.size // bs), bs, order=order, refine="lightest")


def _swap_search_kernel():
    """The plain swap search, compiled with numba (None without numba): repeatedly, the heaviest
    batch against every other batch from the lightest up, the swap that lowers the heaviest the
    most, taken once 64 batches were tried; until no swap lowers it or `max_rounds`."""
    try:
        import numba
    except ImportError:  # pragma: no cover
        return None

    @numba.njit(cache=True)
    def reposition(by_load, where, load, b):
        """Moves batch b to its place in by_load (ascending load) after its load changed."""
        i = where[b]
        while i > 0 and load[by_load[i - 1]] > load[b]:
            by_load[i] = by_load[i - 1]
            where[by_load[i]] = i
            i -= 1
        while i + 1 < by_load.size and load[by_load[i + 1]] < load[b]:
            by_load[i] = by_load[i + 1]
            where[by_load[i]] = i
            i += 1
        by_load[i] = b
        where[b] = i

    @numba.njit(cache=True)
    def search(c, bins, n_batches, max_rounds):
        n = c.size
        load = np.zeros(n_batches)
        for i in range(n):
            load[bins[i]] += c[i]
        members = np.argsort(bins, kind="mergesort")
        start = np.zeros(n_batches + 1, np.int64)
        for i in range(n):
            start[bins[i] + 1] += 1
        for b in range(n_batches):
            start[b + 1] += start[b]
        by_load = np.argsort(load, kind="mergesort")  # kept sorted as loads change
        where = np.empty(n_batches, np.int64)
        for i in range(n_batches):
            where[by_load[i]] = i
        rounds = 0
        while rounds < max_rounds:
            rounds += 1
            h = by_load[n_batches - 1]
            H = load[h]
            best, best_a, best_b, best_x = H, -1, -1, -1
            for idx in range(n_batches):
                b = by_load[idx]
                if b == h:
                    continue
                g = H - load[b]
                if g <= 0:
                    break
                for pa in range(start[h], start[h + 1]):
                    for px in range(start[b], start[b + 1]):
                        d = c[members[pa]] - c[members[px]]
                        if 0 < d < g:
                            pk = max(H - d, load[b] + d)
                            if pk < best:
                                best, best_a, best_b, best_x = pk, pa, b, px
                if best_a >= 0 and idx >= 64:
                    break
            if best_a < 0:
                break
            a, x = members[best_a], members[best_x]
            members[best_a], members[best_x] = x, a
            bins[a], bins[x] = best_b, h
            load[h] += c[x] - c[a]
            load[best_b] += c[a] - c[x]
            reposition(by_load, where, load, h)
            reposition(by_load, where, load, best_b)
        return bins, rounds

    return search


def bench_balanced_quality(ns: tuple[int, ...], epochs: int, max_rounds: int = 20_000) -> list[dict]:
    """Worst peak / lower bound over epochs, per distribution, cost, n and batch size."""
    search = _swap_search_kernel()
    rows = []
    for n in ns:
        for name, make in DISTRIBUTIONS.items():
            nodes, edges = make(n, np.random.default_rng(0))
            for cost_name, costs in (("nodes", nodes), ("nodes+edges", nodes + edges)):
                costs = costs.astype(np.float64)
                for bs in QUALITY_BATCH_SIZES:
                    B = -(-n // bs)
                    sampler = BalancedBatchSampler(costs, bs, seed=0)
                    row = {"n": n, "sizes": name, "cost": cost_name, "batch_size": bs, "epochs": epochs}
                    ours, prev, swap, seconds, rounds = [], [], [], [], []
                    for e in range(epochs):
                        sampler.set_epoch(e)
                        t0 = time.perf_counter()
                        stats = sampler.stats()
                        seconds.append(time.perf_counter() - t0)
                        lb = stats["lower_bound"]
                        ours.append(stats["peak_cost"] / lb)
                        before = previous_balanced(costs, bs, 0, e)
                        prev.append(packing.batch_costs(costs, before, B).max() / lb)
                        if search is not None:
                            after, r = search(costs, before.copy(), B, max_rounds)
                            swap.append(packing.batch_costs(costs, after, B).max() / lb)
                            rounds.append(int(r))
                    row.update({"lower_bound": lb, "hullpack balanced": max(ours), "previous": max(prev),
                                "previous + swap search": max(swap) if swap else None,
                                "swap search rounds (max)": max(rounds) if rounds else None,
                                "epoch_seconds": float(np.median(seconds))})
                    rows.append(row)
                    print(f"  {n} {name} {cost_name} {bs}: {row['hullpack balanced']:.4f} "
                          f"(previous {row['previous']:.4f})", file=sys.stderr, flush=True)
    return rows


def quality_summary(rows: list[dict]) -> list[dict]:
    """The worst row per n and batch size, for each of the three."""
    out = []
    for n in sorted({r["n"] for r in rows}):
        for bs in QUALITY_BATCH_SIZES:
            sel = [r for r in rows if r["n"] == n and r["batch_size"] == bs]
            entry = {"n": n, "batch_size": bs}
            for key in ("hullpack balanced", "previous", "previous + swap search"):
                vals = [(r[key], f"{r['sizes']} {r['cost']}") for r in sel if r[key] is not None]
                if vals:
                    entry[key], entry[f"{key} worst at"] = max(vals)
            out.append(entry)
    return out


# ---------------------------------------------------------------------------------------------
# Scale: packing.balance and a sampler epoch at N items, each in a fresh process
# ---------------------------------------------------------------------------------------------

_SCALE_CHILD = r"""
import json, resource, sys, time
import numpy as np
sys.path.insert(0, {bench!r})
from distributions import DISTRIBUTIONS
from hullpack import packing
from hullpack.samplers._base import coarsen
n, what = {n}, {what!r}
costs = np.empty(n)
for i, at in enumerate(range(0, n, 10**7)):  # in chunks: the generator's temporaries stay small
    costs[at:at + 10**7] = DISTRIBUTIONS["molecules"](min(10**7, n - at), np.random.default_rng([0, i]))[0]
bs, B = 32, -(-n // 32)
out = {{"n": n, "what": what, "costs_gib": costs.nbytes / 2**30}}

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

if what == "sampler epoch":
    from hullpack.samplers import BalancedBatchSampler
    sampler = BalancedBatchSampler(costs, bs, seed=0)
    out["rss_before_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    t0, c0 = time.perf_counter(), cpu()
    sampler.plan(0)
    out["seconds"], out["cpu_seconds"] = time.perf_counter() - t0, cpu() - c0
    out["peak_over_lower_bound"] = sampler.stats(0)["peak_over_lower_bound"]
else:
    rng = np.random.default_rng([0, 0])
    order = rng.permutation(n).astype(np.int64)
    keys = coarsen(np.asarray(costs, np.float64), 0.01, rng, up=False)
    out["rss_before_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    t0, c0 = time.perf_counter(), cpu()
    if what == "balance":
        bins = packing.balance(costs, B, bs, order=order, keys=keys)
    else:
        bins = packing.balance(keys, B, bs, order=order, refine="lightest")
    out["seconds"], out["cpu_seconds"] = time.perf_counter() - t0, cpu() - c0
    t0 = time.perf_counter()
    lb = packing.lower_bound(costs, n_batches=B, batch_size=bs)
    out["lower_bound_seconds"] = time.perf_counter() - t0
    out["peak_over_lower_bound"] = float(packing.batch_costs(costs, bins, B).max()) / lb
out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps(out))
"""


def bench_scale(n: int) -> list[dict]:
    """packing.balance (and the previous algorithm) and one sampler epoch at n items, each in a
    fresh process so that its peak RSS is its own."""
    import os

    rows = []
    for what in ("balance", "previous", "sampler epoch"):
        code = _SCALE_CHILD.format(bench=os.path.dirname(os.path.abspath(__file__)), n=n, what=what)
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if res.returncode != 0:
            rows.append({"n": n, "what": what, "error": res.stderr.strip().splitlines()[-1:]})
        else:
            rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        print(f"  scale {n:.0e} {what}: {rows[-1]}", file=sys.stderr, flush=True)
    return rows



def random_batches(n: int, bs: int, rng: np.random.Generator) -> list[np.ndarray]:
    return np.array_split(rng.permutation(n), -(-n // bs))


def round_robin_top10(sizes: np.ndarray, bs: int, rng: np.random.Generator) -> list[np.ndarray]:
    """NuGraph style: deal the largest 10% round-robin over the batches, fill the rest at random."""
    n = sizes.size
    B = -(-n // bs)
    order = np.argsort(-sizes, kind="stable")
    top, rest = order[: n // 10], rng.permutation(order[n // 10:])
    batches = [list(top[b::B]) for b in range(B)]
    room = [bs - len(b) for b in batches]
    fill = np.split(rest, np.cumsum(room)[:-1])
    return [np.array(b + list(f), dtype=np.int64) for b, f in zip(batches, fill)]


def bench_balanced(dists: dict, epochs: int, rng: np.random.Generator) -> list[dict]:
    rows = []
    for name, sizes in dists.items():
        for bs in (8, 32):
            n = sizes.size
            sampler = BalancedBatchSampler(sizes, bs, seed=0)
            peaks = {"hullpack balanced": [], "random": [], "round-robin top 10%": []}
            t = []
            for e in range(epochs):
                sampler.set_epoch(e)
                t0 = time.perf_counter()
                batches = list(sampler)
                t.append(time.perf_counter() - t0)
                peaks["hullpack balanced"].append(max(sizes[b].sum() for b in batches))
                peaks["random"].append(max(sizes[b].sum() for b in random_batches(n, bs, rng)))
                peaks["round-robin top 10%"].append(max(sizes[b].sum() for b in round_robin_top10(sizes, bs, rng)))
            lb = packing.lower_bound(sizes, batch_size=bs)
            mean = sizes.sum() / -(-n // bs)
            row = {"sizes": name, "batch_size": bs, "n": n, "lower_bound": lb, "mean_batch": mean,
                   "epoch_seconds": float(np.median(t))}
            for k, v in peaks.items():
                row[k] = float(np.mean(v))
            rows.append(row)
    return rows


def bench_ddp(dists: dict, epochs: int, world: int = 4, bs: int = 32) -> list[dict]:
    from torch.utils.data import BatchSampler, DistributedSampler

    rows = []
    for name, sizes in dists.items():
        n = sizes.size
        res = {}
        # anchor: what a DDP script usually does
        strag, worst = [], []
        for e in range(epochs):
            per_rank = []
            for r in range(world):
                ds = DistributedSampler(range(n), num_replicas=world, rank=r, shuffle=True, seed=0)
                ds.set_epoch(e)
                per_rank.append([sizes[b].sum() for b in BatchSampler(ds, bs, drop_last=False)])
            c = np.array(per_rank)  # (world, steps)
            strag.append(np.mean(c.max(0) / c.mean(0)))
            worst.append(c.max() / c.mean())
        res["DistributedSampler"] = (float(np.mean(strag)), float(np.mean(worst)), c.shape[1])
        strag, worst, t = [], [], []
        samplers = [DistributedBalancedBatchSampler(sizes, bs, num_replicas=world, rank=r, seed=0)
                    for r in range(world)]
        for e in range(epochs):
            t0 = time.perf_counter()
            for s in samplers:
                s.set_epoch(e)
            c = np.array([[sizes[b].sum() for b in s] for s in samplers])
            t.append((time.perf_counter() - t0) / world)
            strag.append(np.mean(c.max(0) / c.mean(0)))
            worst.append(c.max() / c.mean())
        res["hullpack distributed"] = (float(np.mean(strag)), float(np.mean(worst)), c.shape[1])
        rows.append({"sizes": name, "world": world, "batch_size": bs, "n": n,
                     "rank_epoch_seconds": float(np.median(t)),
                     **{f"{k} step max/mean": v[0] for k, v in res.items()},
                     **{f"{k} peak/mean": v[1] for k, v in res.items()},
                     **{f"{k} steps": v[2] for k, v in res.items()}})
    return rows


class _Graph:
    """A bare object with the one attribute DynamicBatchSampler reads: times the sampler alone."""

    __slots__ = ("num_nodes",)

    def __init__(self, num_nodes: int):
        self.num_nodes = num_nodes


def _in_memory_dataset(sizes: np.ndarray):
    from torch_geometric.data import Data, InMemoryDataset

    class Graphs(InMemoryDataset):
        def __init__(self):
            super().__init__(None)
            empty = torch.empty(2, 0, dtype=torch.long)  # PyG counts graphs by their sliced attributes
            self.data, self.slices = self.collate([Data(num_nodes=int(s), edge_index=empty) for s in sizes])

    return Graphs()


def _time_epochs(make_iter, epochs: int) -> tuple[float, float]:
    t, counts = [], []
    for e in range(epochs):
        t0 = time.perf_counter()
        counts.append(sum(1 for _ in make_iter(e)))
        t.append(time.perf_counter() - t0)
    return float(np.median(t)), float(np.mean(counts))


def bench_packed(dists: dict, epochs: int) -> list[dict]:
    from torch_geometric.loader import DynamicBatchSampler

    rows = []
    for name, sizes in dists.items():
        budget = float(np.ceil(max(64 * np.median(sizes), sizes.max())))
        row = {"sizes": name, "n": sizes.size, "max_cost": budget}
        for source, data in (("InMemoryDataset", _in_memory_dataset(sizes)),
                             ("bare objects", [_Graph(int(s)) for s in sizes])):
            t0 = time.perf_counter()
            sampler = PackedBatchSampler(data, budget, fields=("num_nodes",), seed=0)
            row[f"hullpack read_sizes_seconds ({source})"] = time.perf_counter() - t0

            def ours(e):
                sampler.set_epoch(e)
                return iter(sampler)

            t, c = _time_epochs(ours, epochs)
            row[f"hullpack epoch_seconds ({source})"], row["hullpack batches"] = t, c
            row["lower_bound"] = sampler.stats()["lower_bound"]
            torch.manual_seed(0)
            dyn = DynamicBatchSampler(data, max_num=int(budget), mode="node", shuffle=True)
            t, c = _time_epochs(lambda e: iter(dyn), epochs)
            row[f"DynamicBatchSampler epoch_seconds ({source})"], row["DynamicBatchSampler batches"] = t, c
        rows.append(row)
    return rows


class _Rows(torch.utils.data.Dataset):
    """Item i: ``size_i`` feature rows (a stand-in for a graph's nodes), and its index."""

    def __init__(self, sizes: np.ndarray):
        g = torch.Generator().manual_seed(0)
        self.x = [torch.randn(int(s), 16, generator=g) for s in sizes]

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], i


def _collate_rows(items):
    xs, idx = zip(*items)
    seg = torch.cat([torch.full((x.shape[0],), j) for j, x in enumerate(xs)])
    return torch.cat(xs), seg, list(idx)


try:  # the Lightning benchmark only: ddp_spawn pickles the module, so its class lives up here
    import lightning as L
except ImportError:  # pragma: no cover
    L = None

if L is not None:
    class _RowsModel(L.LightningModule):
        """Work per item grows with its rows; records each rank's steps and epoch seconds."""

        def __init__(self, out_dir: str):
            super().__init__()
            # wide enough that a step's time is its batch's rows, not the loop's or gloo's overhead
            self.net = torch.nn.Sequential(torch.nn.Linear(16, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024),
                                           torch.nn.ReLU(), torch.nn.Linear(1024, 1))
            self.out_dir, self.steps, self.seconds, self.t0 = out_dir, {}, [], 0.0

        def on_train_epoch_start(self):
            self.t0 = time.perf_counter()

        def on_train_epoch_end(self):
            self.seconds.append(time.perf_counter() - self.t0)

        def training_step(self, batch, batch_idx):
            x, seg, idx = batch
            self.steps.setdefault(self.current_epoch, []).append(idx)
            per_item = torch.zeros(len(idx)).index_add(0, seg, self.net(x).squeeze(1))
            return per_item.pow(2).mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=1e-3)

        def on_train_end(self):
            with open(f"{self.out_dir}/rank{self.global_rank}.json", "w") as f:
                json.dump({"steps": self.steps, "seconds": self.seconds}, f)


def _lightning_fit(out_dir: str, sizes: np.ndarray, kind: str, bs: int, epochs: int) -> None:
    data = _Rows(sizes)
    loader = (torch.utils.data.DataLoader(data, batch_sampler=BalancedBatchSampler(sizes, bs, seed=0),
                                          collate_fn=_collate_rows) if kind == "hullpack"
              else torch.utils.data.DataLoader(data, batch_size=bs, shuffle=True, collate_fn=_collate_rows))
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", max_epochs=epochs, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(_RowsModel(out_dir), loader)


def bench_lightning(n: int, epochs: int, bs: int = 16) -> list[dict]:
    import tempfile
    import warnings

    sizes = np.random.default_rng(0).lognormal(3.0, 1.0, n).round() + 1
    rows = []
    for kind in ("hullpack", "Lightning DistributedSampler"):
        with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            _lightning_fit(out, sizes, kind, bs, epochs)
            fit = time.perf_counter() - t0
            ranks = [json.load(open(f"{out}/rank{r}.json")) for r in (0, 1)]
        steps = [[r["steps"][str(e)] for r in ranks] for e in range(epochs)]
        seen = [sorted(i for rank in ep for b in rank for i in b) for ep in steps]
        step_rows = np.array([[sizes[b].sum() for b in rank] for rank in steps[0]])  # (ranks, steps)
        rows.append({"sampler": kind, "n": n, "batch_size": bs, "fit_seconds": fit,
                     "epoch_seconds": float(np.median(ranks[0]["seconds"])),
                     "steps_per_rank": [len(rank) for rank in steps[0]],
                     "items_twice": int(np.mean([len(s) - len(set(s)) for s in seen])),
                     "items_missing": int(np.mean([n - len(set(s)) for s in seen])),
                     "epochs_differ": all(steps[e] != steps[e + 1] for e in range(epochs - 1)),
                     "step max/mean rows": float(np.mean(step_rows.max(0) / step_rows.mean(0)))})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="number of graphs")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--quality-n", type=int, nargs="*", default=None,
                    help="item counts of the balanced-quality table (default: 5000 and --n)")
    ap.add_argument("--scale", type=float, default=0, help="also time balance and a sampler epoch at this n")
    ap.add_argument("--lightning", action="store_true", help="also time a Lightning DDP fit (2 processes)")
    ap.add_argument("--lightning-n", type=int, default=2000, help="items in the Lightning fit")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    dists = distributions(args.n, rng)
    quality_n = tuple(args.quality_n) if args.quality_n is not None else tuple(sorted({5000, args.n}))
    quality = bench_balanced_quality(quality_n, args.epochs)
    out = {"n": args.n, "epochs": args.epochs,
           "balanced_quality": quality, "balanced_quality_worst": quality_summary(quality),
           "balanced": bench_balanced(dists, args.epochs, rng),
           "ddp": bench_ddp(dists, args.epochs),
           "packed": bench_packed(dists, args.epochs)}
    if args.scale:
        out["scale"] = bench_scale(int(args.scale))
    if args.lightning:
        out["lightning"] = bench_lightning(args.lightning_n, args.epochs)
    save("samplers", out)

    print(f"### Balanced: worst peak batch cost / lower bound over {args.epochs} epochs, all distributions "
          "(nodes and nodes + edges)\n")
    print("| n | batch | hullpack balanced | worst at | previous algorithm | previous + swap search |")
    print("|---|---|---|---|---|---|")
    for r in out["balanced_quality_worst"]:
        swap = r.get("previous + swap search")
        print(f"| {r['n']} | {r['batch_size']} | {r['hullpack balanced']:.4f} | {r['hullpack balanced worst at']} | "
              f"{r['previous']:.4f} | {'n/a' if swap is None else f'{swap:.4f}'} |")
    print("\n### Peak batch cost / lower bound, by distribution (worst epoch)\n")
    print("| n | sizes | cost | " + " | ".join(f"batch {b}" for b in QUALITY_BATCH_SIZES) + " |")
    print("|---|---|---|" + "---|" * len(QUALITY_BATCH_SIZES))
    for n in quality_n:
        for name in DISTRIBUTIONS:
            for cost in ("nodes", "nodes+edges"):
                cells = [next(r for r in quality if (r["n"], r["sizes"], r["cost"], r["batch_size"]) == (n, name, cost, b))
                         for b in QUALITY_BATCH_SIZES]
                print(f"| {n} | {name} | {cost} | " + " | ".join(
                    f"{c['hullpack balanced']:.4f} ({c['previous']:.4f})" for c in cells) + " |")
    if args.scale:
        print(f"\n### Scale: {int(args.scale):,} molecule-like node counts, batch 32, each in a fresh process\n")
        print("| what | seconds (CPU) | lower bound seconds | peak / lower bound | peak RSS GiB (before the call) |")
        print("|---|---|---|---|---|")
        for r in out["scale"]:
            if "error" in r:
                print(f"| {r['what']} | failed: {r['error']} | | | |")
                continue
            print(f"| {r['what']} | {r['seconds']:.1f} ({r['cpu_seconds']:.1f}) | "
                  f"{r.get('lower_bound_seconds', float('nan')):.1f} | {r['peak_over_lower_bound']:.5f} | "
                  f"{r['peak_rss_gib']:.2f} ({r['rss_before_gib']:.2f}) |")

    print(f"\n### Peak batch cost / lower bound ({args.n} graphs, mean of {args.epochs} epochs)\n")
    print("| sizes | batch | hullpack balanced | random | round-robin top 10% | peak cut vs random | vs round-robin | s/epoch |")
    print("|---|---|---|---|---|---|---|---|")
    for r in out["balanced"]:
        lb = r["lower_bound"]
        h, rnd, rr = r["hullpack balanced"], r["random"], r["round-robin top 10%"]
        print(f"| {r['sizes']} | {r['batch_size']} | {h / lb:.4f} | {rnd / lb:.3f} | {rr / lb:.3f} | "
              f"{1 - h / rnd:.1%} | {1 - h / rr:.1%} | {r['epoch_seconds']:.3f} |")
    print("\n### DDP, 4 ranks, batch 32: heaviest rank / step mean (mean over steps), and epoch peak / mean\n")
    print("| sizes | DistributedSampler step | hullpack step | DistributedSampler peak | hullpack peak | steps (both) |")
    print("|---|---|---|---|---|---|")
    for r in out["ddp"]:
        print(f"| {r['sizes']} | {r['DistributedSampler step max/mean']:.3f} | {r['hullpack distributed step max/mean']:.4f} | "
              f"{r['DistributedSampler peak/mean']:.3f} | {r['hullpack distributed peak/mean']:.4f} | "
              f"{r['DistributedSampler steps']} / {r['hullpack distributed steps']} |")
    print("\n### Packed batches under a node budget (64 x median size), shuffled epochs\n")
    print("| sizes | lower bound | hullpack batches (ratio) | DynamicBatchSampler batches (ratio) "
          "| s/epoch on an InMemoryDataset: hullpack / DynamicBatchSampler (speed-up) "
          "| s/epoch on bare objects: hullpack / DynamicBatchSampler (speed-up) |")
    print("|---|---|---|---|---|---|")
    for r in out["packed"]:
        lb = r["lower_bound"]
        cells = []
        for source in ("InMemoryDataset", "bare objects"):
            h, d = r[f"hullpack epoch_seconds ({source})"], r[f"DynamicBatchSampler epoch_seconds ({source})"]
            cells.append(f"{h:.3f} / {d:.3f} ({d / h:.1f}x)")
        print(f"| {r['sizes']} | {lb:.0f} | {r['hullpack batches']:.0f} ({r['hullpack batches'] / lb:.4f}) | "
              f"{r['DynamicBatchSampler batches']:.0f} ({r['DynamicBatchSampler batches'] / lb:.3f}) | "
              f"{cells[0]} | {cells[1]} |")
    r = out["packed"][0]
    print(f"\n(hullpack reads sizes once, not counted per epoch: {r['hullpack read_sizes_seconds (InMemoryDataset)']:.3f} s"
          f" from an InMemoryDataset's slices, {r['hullpack read_sizes_seconds (bare objects)']:.3f} s by iterating"
          f" {args.n} objects)")
    if args.lightning:
        print(f"\n### PyTorch Lightning, ddp_spawn on 2 gloo processes, default Trainer arguments, "
              f"{args.lightning_n} items, batch 16\n")
        print("| sampler | s/epoch | steps per rank | items twice | items missing | epochs differ "
              "| heaviest rank / step mean |")
        print("|---|---|---|---|---|---|---|")
        for r in out["lightning"]:
            print(f"| {r['sampler']} | {r['epoch_seconds']:.2f} | {r['steps_per_rank']} | {r['items_twice']} | "
                  f"{r['items_missing']} | {r['epochs_differ']} | {r['step max/mean rows']:.3f} |")

if __name__ == "__main__":
    main()
