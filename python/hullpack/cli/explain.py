"""``hullpack explain``: the XElemNet analyses of a model, written as figures, tables and a report."""
from __future__ import annotations

import argparse
import os
import sys

from .common import MODEL_HELP, CommandError, add_threads, require

NAME = "explain"
HELP = "XElemNet: explain an ElemNet model; figures and an HTML/Markdown report"
DESCRIPTION = ("Run the XElemNet analyses (SHAP, occlusion importance, element-property alignment, surrogate tree, "
               "binary x_p vs x_e, binary hulls vs DFT, hidden-layer PCA) on the shipped model or a model file, "
               "writing PNG figures, CSV tables, report.md, a self-contained report.html and results.json into "
               "OUT. Defaults are those of hullpack.xai.ExplainConfig. A sample size larger than its OQMD split "
               "(test: 51,251 compositions, train: 239,121) takes the whole split, and the report and a warning "
               'say so. Needs the xai extra (pip install "hullpack[xai]").')
EXAMPLES = ("hullpack explain --out xai-report",
            "hullpack explain --out xai-quick --only shap,importance --n-shap 100 --n-importance 2000",
            "hullpack explain --model runs/mine --out xai-mine")
#: what the analyses import (the xai extra)
NEEDS = ("shap", "sklearn", "scipy", "matplotlib", "pymatgen")


def add_arguments(p: argparse.ArgumentParser) -> None:
    # defaults live in hullpack.xai.ExplainConfig (not imported here: it pulls in torch)
    p.add_argument("--out", required=True, help="output folder (created if needed)")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--only", help="comma-separated subset of: shap,importance,alignment,surrogate,binaries,hulls,projection")
    p.add_argument("--n-shap", type=int, help="test compositions explained with SHAP (default 500)")
    p.add_argument("--n-background", type=int,
                   help="train compositions in the comparison SHAP background (default 100)")
    p.add_argument("--n-kernel", type=int, help="compositions of the KernelExplainer check (default 3)")
    p.add_argument("--n-importance", type=int,
                   help="test compositions for occlusion importance (default: the whole split)")
    p.add_argument("--n-bootstrap", type=int, help="bootstrap resamples for intervals (default 200)")
    p.add_argument("--n-surrogate", type=int, help="test compositions for the surrogate tree (default 20,000)")
    p.add_argument("--grid", type=int, help="points of each binary scan on [0, 1] (default 201)")
    p.add_argument("--hull-grid", metavar="SPEC", help="grid of the binary hull screen, as hullpack screen --grid "
                   "takes it: reduced:N, uniform:N or N (default: the screen's, reduced:10)")
    p.add_argument("--seed", type=int, help="default 0")
    add_threads(p)
    p.add_argument("--allow-untrained", action="store_true", help="explain a model file that records no training")


def run(args: argparse.Namespace) -> int:
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CommandError(f"--out {args.out!r} is a file; give a folder for the report (it is created if missing)")
    require("xai", *NEEDS)  # its deprecation warnings (shap calls matplotlib's) are left out by warnings_as_notes
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    from hullpack.xai import ExplainConfig, explain

    # ExplainConfig's fields and the options that set them
    options = {"n_shap": "n_shap", "n_background": "n_background", "n_kernel": "n_kernel",
               "n_importance": "n_importance", "n_bootstrap": "n_bootstrap", "n_surrogate": "n_surrogate",
               "n_grid": "grid", "hull_grid": "hull_grid", "seed": "seed"}
    try:
        cfg = ExplainConfig(**{k: getattr(args, o) for k, o in options.items() if getattr(args, o) is not None})
    except ValueError as exc:  # "n_grid = 2 must be >= 3": named as the option the user gave
        field, _, rest = str(exc).partition(" ")
        raise CommandError(f"--{options[field].replace('_', '-')} {rest}" if field in options else str(exc)) from None
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    only = [a.strip() for a in args.only.split(",") if a.strip()] if args.only is not None else None
    if only == []:
        raise CommandError(f"--only {args.only!r} names no analysis; give a comma-separated subset of "
                           "shap,importance,alignment,surrogate,binaries,hulls,projection")
    numbers = explain(args.out, model_path=args.model, only=only, config=cfg, allow_untrained=args.allow_untrained)
    out = os.path.abspath(args.out)
    print(f"report: {os.path.join(out, 'report.html')} (and report.md, results.json, PNG figures)")
    print("seconds: " + ", ".join(f"{k} {v}" for k, v in numbers["seconds"].items()))
    failed = numbers.get("failed", {})
    for name, error in failed.items():
        print(f"hullpack explain: {name} failed ({error}); the report has the other analyses", file=sys.stderr)
    return 1 if failed else 0
