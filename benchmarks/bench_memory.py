"""GNN memory study: peak step memory of Interaction Network training with hullpack's samplers
against random batching (the anchor, measured in the same run), bucketing and NuGraph-style
round-robin; plus a two-process gloo comparison of DistributedSampler and
DistributedBalancedBatchSampler.

Writes benchmarks/results/memory.json and memory.png and prints Markdown tables. On the CPU the
step peak is the bytes of tensors saved for backward plus parameters, gradients and AdamW state
(what a GPU would hold at the peak); on a GPU (``--device cuda``) torch.cuda.max_memory_allocated.

    python benchmarks/bench_memory.py --quick      # ~2 min on 2 cores
    python benchmarks/bench_memory.py              # ~3 min: 3 random seeds, distributed run
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
                                versus_random_markdown)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="200 events, 1 extra random seed, no distributed run")
    ap.add_argument("--dataset", action="append", help="as for `hullpack bench-memory` (default: low and high)")
    ap.add_argument("--events", type=int, help="events per preset (default: the presets' own, 300; 200 with --quick)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--num-steps", type=int, default=3)
    ap.add_argument("--baseline-repeats", type=int, default=2, help="extra random-baseline seeds")
    ap.add_argument("--no-distributed", action="store_true")
    ap.add_argument("--no-allocator", action="store_true", help="skip the CPU allocator peak (torch.profiler; measured on cpu only)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.baseline_repeats, args.no_distributed = 1, True
        if args.events is None and any(d in ("low", "high") for d in args.dataset or ["low"]):
            args.events = 200
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
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
