"""The ``hullpack`` command line. Thin: it parses, calls the library and prints.

Each subcommand has an ``_add_<name>`` function that declares its arguments and sets ``func``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys


def _cmd_info(args: argparse.Namespace) -> int:
    import hullpack

    info = hullpack.build_info()
    if args.json:
        print(json.dumps(info))
    else:
        for key, value in info.items():
            print(f"{key:>13}: {value}")
    return 0


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="show the version and what the compiled core was built with")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)


def _cmd_train(args: argparse.Namespace) -> int:
    from hullpack.elemnet import TrainConfig, export_default, train

    if args.export:
        meta = export_default(args.export, out=args.out)
        print(json.dumps({k: meta.get(k) for k in ("epoch", "val_mae", "test_mae", "n_test", "source_run")}))
        return 0
    if not args.run_dir:
        print("hullpack train: give RUN_DIR (or --export RUN_DIR)", file=sys.stderr)
        return 2
    names = ("epochs", "batch_size", "lr", "warmup_epochs", "schedule", "plateau_factor",
             "plateau_patience", "min_lr", "weight_decay", "grad_clip", "patience", "seed",
             "architecture", "dropout_epochs")
    settings = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    if args.dropout is not None:
        settings["dropout"] = tuple(float(p) for p in args.dropout.split(",") if p.strip())
    settings["bf16"] = {"auto": None, "on": True, "off": False}[args.bf16]
    out = train(args.run_dir, TrainConfig(**settings), device=args.device,
                num_threads=args.threads, stop_after=args.stop_after)
    out.pop("history"), out.pop("model")
    print(json.dumps(out))
    return 0


def _add_train(sub) -> None:
    # defaults live in hullpack.elemnet.TrainConfig (not imported here: it pulls in torch)
    p = sub.add_parser("train", help="train ElemNet on the shipped OQMD data (resumes RUN_DIR), or export a run",
                       description="Train ElemNet on the OQMD train split, selecting on val. Run it again "
                                   "with the same settings to resume. Under torchrun it trains with DDP. "
                                   "Defaults are those of hullpack.elemnet.TrainConfig.")
    p.add_argument("run_dir", nargs="?", help="checkpoints, best weights and metrics.jsonl go here")
    p.add_argument("--export", metavar="RUN_DIR", help="export RUN_DIR/best.pt as the shipped default "
                   "model (fp16) after measuring its test MAE, then exit")
    p.add_argument("--out", help="with --export: write here instead of the package's default file")
    p.add_argument("--epochs", type=int, help="most epochs in all (default 1000)")
    p.add_argument("--batch-size", type=int, help="default 256 (per process under DDP)")
    p.add_argument("--lr", type=float, help="peak learning rate, default 5e-4")
    p.add_argument("--warmup-epochs", type=float, help="linear warmup, default 1")
    p.add_argument("--schedule", choices=("plateau", "cosine", "constant"), help="default plateau")
    p.add_argument("--plateau-factor", type=float, help="default 0.5")
    p.add_argument("--plateau-patience", type=int, help="default 6")
    p.add_argument("--min-lr", type=float, help="default 1e-6")
    p.add_argument("--weight-decay", type=float, help="default 0")
    p.add_argument("--grad-clip", type=float, help="max gradient norm, default none")
    p.add_argument("--patience", type=int, help="early stopping on val MAE, default 40 epochs")
    p.add_argument("--seed", type=int, help="default 0")
    p.add_argument("--architecture", help="default 1024x4D-512x3D-256x3D-128x3D-64x2-32x1-1")
    p.add_argument("--dropout", help="comma-separated drop rates of the D blocks (default 0.2,0.1,0.3,0.2)")
    p.add_argument("--dropout-epochs", type=int,
                   help="train with dropout only in the first N epochs (default 8; 0: never)")
    p.add_argument("--bf16", choices=("auto", "on", "off"), default="auto")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--stop-after", type=int, help="return after this many epochs (resumable)")
    p.set_defaults(func=_cmd_train)


def _cmd_batches(args: argparse.Namespace) -> int:
    import numpy as np

    from hullpack import samplers

    path = args.sizes
    if path.endswith(".npy"):
        sizes = np.load(path)
    else:
        sizes = np.loadtxt(path, delimiter="," if path.endswith(".csv") else None, ndmin=1)
    common = dict(seed=args.seed, weights=args.weights, bias=args.bias)
    max_cost = args.max_cost[0] if args.max_cost and len(args.max_cost) == 1 else args.max_cost
    if args.num_replicas:
        sampler = samplers.DistributedBalancedBatchSampler(
            sizes, args.batch_size, max_cost, num_replicas=args.num_replicas, rank=0,
            oversize=args.oversize, **common)
    elif args.batch_size:
        sampler = samplers.BalancedBatchSampler(sizes, args.batch_size, **common)
    else:
        sampler = samplers.PackedBatchSampler(sizes, max_cost, oversize=args.oversize, **common)
    sampler.set_epoch(args.epoch)
    stats = sampler.stats()
    if args.batch_size and not args.num_replicas:
        # The anchor users compare with: random batches of the same size and count.
        costs = sampler.costs[np.random.default_rng([args.seed, args.epoch]).permutation(sampler.costs.size)]
        stats["random_batching_peak_cost"] = float(max(c.sum() for c in np.array_split(costs, len(sampler))))
    if args.json:
        print(json.dumps(stats))
    else:
        for key, value in stats.items():
            print(f"{key:>26}: {value:.6g}" if isinstance(value, float) else f"{key:>26}: {value}")
    return 0


def _add_batches(sub) -> None:
    p = sub.add_parser("batches", help="how well the samplers batch items of given sizes (one epoch's stats)",
                       description="Batch the items of SIZES (.npy, .csv or whitespace-separated text: "
                                   "one item a row, one column per size) with a hullpack sampler and "
                                   "print the epoch's quality: batch count, peak and mean cost, lower bound.")
    p.add_argument("sizes", help="file of item sizes")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--batch-size", type=int, help="BalancedBatchSampler with this batch size")
    how.add_argument("--max-cost", type=float, nargs="+", help="PackedBatchSampler with this budget "
                     "(one value, or one per size column)")
    p.add_argument("--num-replicas", type=int, help="DistributedBalancedBatchSampler over this many ranks")
    p.add_argument("--weights", type=float, nargs="+", help="cost = sizes @ weights + bias")
    p.add_argument("--bias", type=float, help="per-item cost added to sizes @ weights")
    p.add_argument("--oversize", choices=("error", "alone", "skip"), default="error")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epoch", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_batches)


def _cmd_predict(args: argparse.Namespace) -> int:
    from hullpack.elemnet import load_model, load_pretrained

    formulas = list(args.formulas)
    if args.file:
        with open(args.file) as f:
            formulas += [line.strip() for line in f if line.strip()]
    model = load_model(args.model) if args.model else load_pretrained()
    energies = model.predict(formulas, bf16=args.bf16, errors=args.errors)
    if args.errors == "skip":
        from hullpack.elemnet import parse_formulas

        bad = {i for i, _, _ in parse_formulas(formulas)[1]}
        formulas = [f for i, f in enumerate(formulas) if i not in bad]
    print("formula,dH_eV_per_atom")
    for formula, energy in zip(formulas, energies):
        print(f"{formula},{energy:.6f}")
    return 0


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="ElemNet formation enthalpies (eV/atom) of formulas, as CSV")
    p.add_argument("formulas", nargs="*", help="formulas such as Fe2O3 NaCl")
    p.add_argument("--file", help="a text file with one formula per line")
    p.add_argument("--model", help="a model file (default: the shipped default model)")
    p.add_argument("--errors", choices=("raise", "skip", "nan"), default="raise",
                   help="what to do with formulas that cannot be featurized")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (faster, ~1 meV/atom off)")
    p.set_defaults(func=_cmd_predict)


def _cmd_explain(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    from hullpack.xai import ExplainConfig, explain

    sizes = {"n_shap": args.n_shap, "n_background": args.n_background, "n_kernel": args.n_kernel,
             "n_importance": args.n_importance, "n_bootstrap": args.n_bootstrap,
             "n_surrogate": args.n_surrogate, "n_grid": args.grid, "hull_grid": args.hull_grid,
             "seed": args.seed}
    cfg = ExplainConfig(**{k: v for k, v in sizes.items() if v is not None})
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    only = [a for a in args.only.split(",") if a.strip()] if args.only else None
    numbers = explain(args.out, model_path=args.model, only=only, config=cfg, allow_untrained=args.allow_untrained)
    out = os.path.abspath(args.out)
    print(f"report: {os.path.join(out, 'report.html')} (and report.md, results.json, PNG figures)")
    print("seconds: " + ", ".join(f"{k} {v}" for k, v in numbers["seconds"].items()))
    return 0


def _add_explain(sub) -> None:
    # defaults live in hullpack.xai.ExplainConfig (not imported here: it pulls in torch)
    p = sub.add_parser("explain", help="XElemNet: explain an ElemNet model; figures and an HTML/Markdown report",
                       description="Run the XElemNet analyses (SHAP, occlusion importance, element-property "
                                   "alignment, surrogate tree, binary x_p vs x_e, binary hulls vs DFT, "
                                   "hidden-layer PCA) on the "
                                   "shipped model or a model file, writing PNG figures, CSV tables, "
                                   "report.md, a self-contained report.html and results.json into OUT. "
                                   "Defaults are those of hullpack.xai.ExplainConfig.")
    p.add_argument("--out", required=True, help="output folder (created if needed)")
    p.add_argument("--model", help="a model file from `hullpack train` (default: the shipped model)")
    p.add_argument("--only", help="comma-separated subset of: shap,importance,alignment,surrogate,binaries,hulls,projection")
    p.add_argument("--n-shap", type=int, help="test compositions explained with SHAP (default 500)")
    p.add_argument("--n-background", type=int,
                   help="train compositions in the comparison SHAP background (default 100)")
    p.add_argument("--n-kernel", type=int, help="compositions of the KernelExplainer check (default 3)")
    p.add_argument("--n-importance", type=int,
                   help="test compositions for occlusion importance (default: the whole split)")
    p.add_argument("--n-bootstrap", type=int, help="bootstrap resamples for intervals (default 200)")
    p.add_argument("--n-surrogate", type=int, help="test compositions for the surrogate tree (default 20000)")
    p.add_argument("--grid", type=int, help="points of each binary scan on [0, 1] (default 201)")
    p.add_argument("--hull-grid", type=int, help="grid intervals of the binary hull screen (default 100)")
    p.add_argument("--seed", type=int, help="default 0")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--allow-untrained", action="store_true", help="explain a model file that records no training")
    p.set_defaults(func=_cmd_explain)


def _cmd_bench_memory(args: argparse.Namespace) -> int:
    from hullpack.hep.study import StudyConfig, bench_memory, distributed_markdown

    cfg = StudyConfig(strategies=tuple(s.strip() for s in args.strategies.split(",") if s.strip()),
                      batch_size=args.batch_size, epochs=args.epochs, hidden=args.hidden,
                      num_steps=args.num_steps, seed=args.seed, device=args.device,
                      budget_bytes=args.budget_mib * 2**20 if args.budget_mib else None,
                      budget_factor=args.budget_factor, baseline_repeats=args.baseline_repeats,
                      allocator=args.allocator)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    out = bench_memory(args.dataset or ["low", "high"], cfg, num_events=args.events, root=args.root,
                       distributed=args.distributed, world_size=args.world_size,
                       plot_path=os.path.join(args.out, "memory.png") if args.out else None)
    if args.out:
        with open(os.path.join(args.out, "memory.json"), "w") as f:
            json.dump(out, f, indent=1, default=float)
    if args.json:
        print(json.dumps(out, default=float))
        return 0
    print(out["markdown"])
    for name, d in out["datasets"].items():
        print(f"\n{name}: memory budget {d['budget_bytes'] / 2**20:.2f} MiB; memory model {d['memory_model']}")
    if out["noise"]:
        print(f"\nrun-to-run spread of the random baseline's validation metrics: {out['noise']}")
    if out["distributed"]:
        print(f"\n{out['distributed']['world_size']} processes (gloo), dataset {out['distributed']['dataset']}:")
        print(distributed_markdown(out["distributed"]))
    if args.out:
        print(f"\nwrote {os.path.join(args.out, 'memory.json')} and {os.path.join(args.out, 'memory.png')}")
    return 0


def _add_bench_memory(sub) -> None:
    # defaults live in hullpack.hep.study.StudyConfig (not imported here: it pulls in torch)
    p = sub.add_parser("bench-memory", help="GNN memory study: peak memory of training with batching strategies",
                       description="Train an Interaction Network edge classifier on synthetic collider events "
                                   "(or your PyG dataset) with each batching strategy and compare peak and mean "
                                   "step memory, steps per epoch, epoch time and validation metrics; steps over "
                                   "the memory budget are those where a GPU of that size would run out of memory.")
    p.add_argument("--dataset", action="append", help="low, high (synthetic presets), a .pt file of PyG graphs, "
                   "or module:attribute; repeat for several (default: low and high)")
    p.add_argument("--events", type=int, default=300, help="events per synthetic preset (default 300)")
    p.add_argument("--root", help="cache generated events in this folder")
    p.add_argument("--strategies", default="random,sorted,roundrobin,balanced,packed",
                   help="comma-separated subset of random,sorted,roundrobin,balanced,packed")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--hidden", type=int, default=32, help="width of the Interaction Network's MLPs")
    p.add_argument("--num-steps", type=int, default=3, help="message-passing rounds")
    p.add_argument("--budget-mib", type=float, help="memory budget (default: --budget-factor x an average batch, "
                   "at least 1.1 x the largest graph)")
    p.add_argument("--budget-factor", type=float, default=1.25)
    p.add_argument("--baseline-repeats", type=int, default=0,
                   help="extra seeds of the random baseline, to show run-to-run noise of the metrics")
    p.add_argument("--allocator", action="store_true", help="on the CPU also record the allocator's peak "
                   "of every step (torch.profiler memory events; slower)")
    p.add_argument("--distributed", action="store_true",
                   help="also compare DistributedSampler with DistributedBalancedBatchSampler on local processes")
    p.add_argument("--world-size", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda (peak from torch.cuda.max_memory_allocated)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--out", help="write memory.json and memory.png into this folder")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_bench_memory)


def _cmd_screen(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    from hullpack.screening import ScreenResult, screen

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1 and args.shard:
        print("hullpack screen: --shard and torchrun both split the systems; use one", file=sys.stderr)
        return 2
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.plot and args.plot_only:
        result = screen(args.model, order=len(args.plot.split("-")), elements=args.plot.replace("-", " "),
                        grid=args.grid, precision=args.precision, compare_dft=False, progress=not args.quiet)
    else:
        result = screen(args.model, order=args.order, elements=args.elements, grid=args.grid,
                        precision=args.precision, points=args.points, compare_dft=not args.no_dft,
                        min_depth=args.min_depth, match_tol=args.match_tol, device=args.device,
                        shard=f"{rank}/{world}" if world > 1 else args.shard, progress=not args.quiet and rank == 0)
    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo")
        model, result.model = result.model, None  # not sent between processes
        parts = [None] * world if rank == 0 else None
        dist.gather_object(result, parts, dst=0)
        dist.destroy_process_group()
        if rank != 0:
            return 0
        result = ScreenResult.concat(parts)
        result.model = model
    out = args.out
    os.makedirs(out, exist_ok=True)
    files = []
    if not (args.plot and args.plot_only):
        files += result.to_parquet(out) + result.to_csv(out)
        if "stab_tp" in result.systems:
            groups = result.group_table()
            groups.to_csv(os.path.join(out, "groups.csv"), index=False)
            files += [os.path.join(out, "groups.csv")] + result.plot_groups(out)
        print(result.summary())
    if args.plot:
        path = os.path.join(out, f"{args.plot}.png")
        result.plot_system(args.plot, path)
        files.append(path)
    print(f"wrote {len(files)} files to {os.path.abspath(out)}")
    return 0


def _add_screen(sub) -> None:
    p = sub.add_parser("screen", help="screen binary/ternary systems for predicted stable compounds vs DFT",
                       description="Predict every composition of a grid in every binary (or ternary) system "
                                   "of ElemNet's elements with the shipped model (or --model), build the "
                                   "convex hulls, compare with the OQMD hulls, and write Parquet + CSV tables "
                                   "and group-pair heatmaps to --out. Under torchrun the systems are split "
                                   "across ranks and rank 0 writes the merged result.")
    p.add_argument("--order", type=int, default=2, help="2 (binaries, default) or 3 (ternaries)")
    p.add_argument("--elements", help='element symbols, e.g. "Fe Ni O" or Fe,Ni,O (default: all 86)')
    p.add_argument("--grid", type=int, help="grid intervals (default 100 for binaries: step 0.01; "
                   "20 for ternaries: step 0.05)")
    p.add_argument("--precision", choices=("bf16", "fp32", "bf16-uncertified"), default="bf16",
                   help="bf16 (default) is certified: the same hull vertices as fp32")
    p.add_argument("--model", help="a model file (default: the shipped model)")
    p.add_argument("--out", default="hullpack-screen", help="output folder (default ./hullpack-screen)")
    p.add_argument("--plot", metavar="SYSTEM", help="also draw one system, e.g. Fe-O or Fe-Ni-O")
    p.add_argument("--plot-only", action="store_true", help="with --plot: screen and draw only that system")
    p.add_argument("--shard", metavar="I/N", help="screen the I-th of N slices of the systems (0-based)")
    p.add_argument("--points", action="store_true", help="also write every grid point (large)")
    p.add_argument("--no-dft", action="store_true", help="skip the comparison with the OQMD hulls")
    p.add_argument("--min-depth", type=float, default=0.0, metavar="EV",
                   help="count a hull vertex as stable only if it lies this far (eV/atom) below the hull "
                        "of the other points (default 0: every vertex)")
    p.add_argument("--match-tol", type=float, metavar="DX",
                   help="composition tolerance when matching predicted and DFT stable compounds "
                        "(default: half the grid step)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.set_defaults(func=_cmd_screen)


def build_parser() -> argparse.ArgumentParser:
    from hullpack import __version__

    parser = argparse.ArgumentParser(
        prog="hullpack",
        description="Graph-size-aware batch samplers; ElemNet hull screening and explainability.",
    )
    parser.add_argument("--version", action="version", version=f"hullpack {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings only")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_info, _add_train, _add_predict, _add_batches, _add_explain, _add_bench_memory, _add_screen,):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.quiet:
        os.environ["HULLPACK_QUIET"] = "1"  # read by hullpack._progress
    if args.command is None:
        parser.print_help()
        return 0
    # OpenMP threads that spin while waiting are many times slower when another process shares the
    # cores; effective only before torch is first imported (every command imports it lazily)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        return int(args.func(args) or 0)
    except ValueError as exc:  # hullpack's errors name the bad input; no traceback for those
        print(f"hullpack {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
