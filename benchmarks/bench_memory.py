"""GNN memory study: peak step memory of Interaction Network training with hullpack's samplers
against random batching (the anchor, measured in the same run), bucketing and NuGraph-style
round-robin; plus a two-process gloo comparison of DistributedSampler and
DistributedBalancedBatchSampler.

Writes benchmarks/results/memory.json and memory.png and prints Markdown tables. On the CPU the
step peak is the bytes of tensors saved for backward plus parameters, gradients and AdamW state
(what a GPU would hold at the peak); on a GPU (``--device cuda``) torch.cuda.max_memory_allocated.

    python benchmarks/bench_memory.py --quick      # ~2 min on 2 cores
    python benchmarks/bench_memory.py              # ~3 min: 3 random seeds, distributed run
    python benchmarks/bench_memory.py --families   # other size distributions instead, ~1.5 min

``--families`` runs instead the section "On other size distributions" of docs/memory-study.md: two
samples of 200 events built here (``pileup``: a heavy tail of rare large events; ``mixture``:
80% minimum-bias and 20% signal events), random, balanced and packed batching at batch sizes 4, 8
and 32, with ``--baseline-repeats`` extra random seeds (default 4 there), one epoch; it writes
benchmarks/results/memory_families.json and leaves memory.json and memory.png alone.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared cores: do not spin

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import RESULTS, save  # noqa: E402

from hullpack.hep.strategies import STRATEGIES  # noqa: E402
from hullpack.hep.study import (StudyConfig, bench_memory, distributed_markdown,  # noqa: E402
                                run_study, versus_random, versus_random_markdown)


def _event(rng, n_particles, dr=0.8):
    """One event: ``n_particles`` tracks of 6-11 hits on consecutive layers (spread 0.01 in eta and
    phi, |eta| < 2.5), edges between hits on adjacent layers within dR < ``dr``, true when both hits
    are of one particle."""
    import numpy as np
    import torch
    from torch_geometric.data import Data

    eta = rng.uniform(-2.5, 2.5, n_particles)
    phi = rng.uniform(-np.pi, np.pi, n_particles)
    hits = rng.integers(6, 12, n_particles)
    pid = np.repeat(np.arange(n_particles), hits)
    layer = np.concatenate([np.arange(k) for k in hits]) if n_particles else np.zeros(0, int)
    e = eta[pid] + rng.normal(0, 0.01, pid.size)
    p = phi[pid] + rng.normal(0, 0.01, pid.size)
    r = 30.0 + 100.0 * layer
    d_phi = np.angle(np.exp(1j * (p[:, None] - p[None, :])))
    near = ((e[:, None] - e[None, :]) ** 2 + d_phi ** 2 < dr ** 2) & (layer[None, :] == layer[:, None] + 1)
    src, dst = np.nonzero(near)
    x = np.stack([r / 1000, p / np.pi, e / 2.5], 1).astype(np.float32)
    attr = np.stack([r[dst] - r[src], e[dst] - e[src], p[dst] - p[src]], 1).astype(np.float32)
    return Data(x=torch.from_numpy(x), edge_index=torch.from_numpy(np.stack([src, dst])).long(),
                edge_attr=torch.from_numpy(attr), y=torch.from_numpy((pid[src] == pid[dst]).astype(np.float32)))


def pileup_events(n, seed=1):
    """Hits Poisson of mean 200, in 5% of events of mean 400 + 200 x Pareto(1.5); hits // 9 tracks."""
    import numpy as np
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        mean = 200 if rng.random() > 0.05 else 200 * rng.pareto(1.5) + 400
        out.append(_event(rng, rng.poisson(mean) // 9))
    return out


def mixture_events(n, seed=2):
    """80% minimum-bias events (hits Poisson of mean 150) and 20% signal events (mean 900)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    return [_event(rng, rng.poisson(900 if rng.random() < 0.2 else 150) // 9) for _ in range(n)]


def families(args) -> None:
    """The section "On other size distributions" of docs/memory-study.md (see the module docstring)."""
    import numpy as np

    samples = {"pileup": pileup_events(args.events or 200), "mixture": mixture_events(args.events or 200)}
    described = {}
    for name, graphs in samples.items():
        nodes = np.array([g.num_nodes for g in graphs])
        edges = np.array([g.num_edges for g in graphs])
        slope = float(np.polyfit(np.log(nodes + 1), np.log(edges + 1), 1)[0])  # edges ~ nodes^slope
        described[name] = dict(events=len(graphs), hits_min=int(nodes.min()), hits_median=float(np.median(nodes)),
                               hits_max=int(nodes.max()), edges_over_nodes_exponent=slope)
        print(f"{name}: {len(graphs)} events, {nodes.min()}-{nodes.max()} hits (median {np.median(nodes):.0f}), "
              f"edges ~ hits^{slope:.2f}", flush=True)
    repeats = 4 if args.baseline_repeats is None else args.baseline_repeats
    rows, runs = [], []
    for bs in args.family_batch_sizes:
        cfg = StudyConfig(strategies=("random", "balanced", "packed"), batch_size=bs, epochs=1, hidden=args.hidden,
                          num_steps=args.num_steps, seed=args.seed, baseline_repeats=repeats, device=args.device,
                          allocator=not args.no_allocator and args.device == "cpu")
        table, details = run_study(samples, cfg)
        records = table.to_dict(orient="records")
        for vs in versus_random(records):
            name, d = vs["dataset"], details[vs["dataset"]]
            mine = [r for r in records if r["dataset"] == name]
            bal = next(r for r in mine if r["strategy"] == "balanced")
            packed = next(r for r in mine if r["strategy"] == "packed")
            rnd = [r for r in mine if r["strategy"] == "random"]
            steps = np.array(d["runs"]["balanced/0"]["peak_bytes"]) / 2**20
            alloc = [r["alloc_peak_mib"] / r["peak_mib"] for r in mine if r.get("alloc_peak_mib")]
            # the reductions read on the allocator's peak instead, minus the reductions above
            on_alloc = [(1 - bal["alloc_peak_mib"] / r["alloc_peak_mib"]) - (1 - bal["peak_mib"] / r["peak_mib"])
                        for r in rnd if r.get("alloc_peak_mib") and bal.get("alloc_peak_mib")]
            rows.append(dict(dataset=name, batch_size=bs, random_runs=vs["random_runs"],
                             reduction_min=vs["reduction_min"], reduction_median=vs["reduction_median"],
                             reduction_max=vs["reduction_max"], balanced_peak_over_mean=bal["peak_over_mean"],
                             balanced_peak_mib=bal["peak_mib"], balanced_step_mib_min=float(steps.min()),
                             balanced_step_mib_median=float(np.median(steps)),
                             largest_graph_alone_mib=d["largest_graph_bytes"] / 2**20, budget_mib=bal["budget_mib"],
                             budget_from=d["budget_from"], steps_per_epoch=bal["steps_per_epoch"],
                             balanced_over_budget_steps=bal["over_budget_steps"],
                             random_over_budget_steps=[min(r["over_budget_steps"] for r in rnd),
                                                       max(r["over_budget_steps"] for r in rnd)],
                             packed_peak_mib=packed["peak_mib"], packed_over_budget_steps=packed["over_budget_steps"],
                             allocator_over_peak=[min(alloc), max(alloc)] if alloc else None,
                             allocator_reduction_minus_reduction=[min(on_alloc), max(on_alloc)] if on_alloc else None))
        runs.append(dict(batch_size=bs, table=records, versus_random=versus_random(records)))
    path = save("memory_families", dict(samples=described, baseline_repeats=repeats,
                                        rows=rows, runs=runs))
    print("\n## Balanced against random on other size distributions (min / median / max over random seeds)\n")
    print("| batch size | pile-up: reduction | pile-up: balanced peak/mean | mixture: reduction | "
          "mixture: balanced peak/mean |\n|---|---|---|---|---|")
    for bs in args.family_batch_sizes:
        cells = []
        for name in samples:
            r = next(r for r in rows if r["dataset"] == name and r["batch_size"] == bs)
            cells += [f"{r['reduction_min']:.1%} / {r['reduction_median']:.1%} / {r['reduction_max']:.1%}",
                      f"{r['balanced_peak_over_mean']:.2f}"]
        print(f"| {bs} | " + " | ".join(cells) + " |")
    print("\n| sample | batch size | balanced peak MiB | balanced steps MiB (least / median) | largest event alone MiB "
          "| budget MiB (from) | steps | steps > budget: balanced / random / packed | packed peak MiB "
          "| allocator peak / peak | reduction on allocator peak minus reduction (pp) |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        alloc = "n/a" if r["allocator_over_peak"] is None else "{:.3f}-{:.3f}".format(*r["allocator_over_peak"])
        diff = ("n/a" if r["allocator_reduction_minus_reduction"] is None
                else "{:+.2f} to {:+.2f}".format(*(100 * x for x in r["allocator_reduction_minus_reduction"])))
        print(f"| {r['dataset']} | {r['batch_size']} | {r['balanced_peak_mib']:.1f} | "
              f"{r['balanced_step_mib_min']:.1f} / {r['balanced_step_mib_median']:.1f} | "
              f"{r['largest_graph_alone_mib']:.1f} | {r['budget_mib']:.1f} ({r['budget_from']}) | {r['steps_per_epoch']} | "
              f"{r['balanced_over_budget_steps']} / {r['random_over_budget_steps'][0]}-{r['random_over_budget_steps'][1]}"
              f" / {r['packed_over_budget_steps']} | {r['packed_peak_mib']:.1f} | {alloc} | {diff} |")
    print(f"\nwrote {path}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="200 events, 1 extra random seed, no distributed run")
    ap.add_argument("--dataset", action="append", help="as for `hullpack bench-memory` (default: low and high)")
    ap.add_argument("--events", type=int, help="events per preset (default: the presets' own, 300; 200 with --quick)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--num-steps", type=int, default=3)
    ap.add_argument("--baseline-repeats", type=int, help="extra random-baseline seeds (default 2; 4 with --families)")
    ap.add_argument("--no-distributed", action="store_true")
    ap.add_argument("--no-allocator", action="store_true", help="skip the CPU allocator peak (torch.profiler; measured on cpu only)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--families", action="store_true",
                    help="the pile-up and signal/minimum-bias samples instead of the presets (memory_families.json)")
    ap.add_argument("--family-batch-sizes", type=int, nargs="+", default=[4, 8, 32], help="with --families")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.families:
        if args.dataset or args.quick:
            ap.error("--families builds its own two samples (--events each) at --family-batch-sizes: "
                     "leave out --dataset and --quick")
        return families(args)
    if args.baseline_repeats is None:
        args.baseline_repeats = 2
    if args.quick:
        args.baseline_repeats, args.no_distributed = 1, True
        if args.events is None and any(d in ("low", "high") for d in args.dataset or ["low"]):
            args.events = 200
    cfg = StudyConfig(strategies=STRATEGIES, batch_size=args.batch_size, epochs=args.epochs, hidden=args.hidden,
                      num_steps=args.num_steps, seed=args.seed, baseline_repeats=args.baseline_repeats,
                      device=args.device, allocator=not args.no_allocator and args.device == "cpu")
    RESULTS.mkdir(parents=True, exist_ok=True)
    png = str(RESULTS / "memory.png")
    out = bench_memory(args.dataset or ["low", "high"], cfg, num_events=args.events,
                       distributed=not args.no_distributed, plot_path=png)
    tgt = out["versus_random"]
    path = save("memory", {k: v for k, v in out.items() if k != "markdown"})
    print("\n## Peak step memory by batching strategy (anchor: random, same run)\n")
    print(out["markdown"])
    print("\n## Balanced vs random at equal batch size and step count\n")
    print(versus_random_markdown(tgt))
    if out["distributed"]:
        print(f"\n## Two processes (gloo), {out['distributed']['dataset']} preset\n")
        print(distributed_markdown(out["distributed"]))
    print(f"\nwrote {path} and {png}")


if __name__ == "__main__":
    main()
