"""Time for SHAP attributions of ElemNet on 1,000 compositions on CPU, against the plain forward pass
of the same 1,000 compositions (the anchor), measured in the same run:

* hullpack's batched DeepLIFT (the ``method="deep"`` default for Linear/ReLU networks such as
  ElemNet), with the per-composition elemental reference and with a 100-row OQMD background;
* ``shap.DeepExplainer`` (same numbers, one composition at a time) and ``shap.GradientExplainer``
  (200 samples per composition), both on a 100-row background. These are slow, so by default they
  run on ``--n-slow`` compositions and their time is scaled to 1,000 (marked "scaled"); ``--full``
  runs them on all 1,000.

The largest difference between the batched DeepLIFT and shap.DeepExplainer on the compositions both
ran is reported too (they compute the same quantity).

    python benchmarks/bench_shap.py [--n 1000] [--n-slow 50] [--full] [--model PATH] [--threads N]

Writes benchmarks/results/shap.json and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from _common import save
from hullpack.xai import predict, shap_values
from hullpack.xai.base import oqmd_split



def load(path: str | None):
    from hullpack.elemnet import ElemNet, load_model, load_pretrained
    from hullpack.errors import ModelFileError

    if path:
        return load_model(path), path
    try:
        return load_pretrained(), "shipped default"
    except ModelFileError:
        torch.manual_seed(0)  # timings do not depend on the weights
        return ElemNet().eval(), "untrained default ElemNet (no shipped model file yet)"


def timed(fn, repeats: int = 1) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="compositions explained")
    ap.add_argument("--n-background", type=int, default=100)
    ap.add_argument("--n-slow", type=int, default=50, help="compositions for shap's own explainers")
    ap.add_argument("--full", action="store_true", help="run shap's explainers on all --n compositions")
    ap.add_argument("--model", help="model file (default: the shipped model)")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, source = load(args.model)
    x, _ = oqmd_split("test", n=args.n, seed=0)
    bg, _ = oqmd_split("train", n=args.n_background, seed=1)
    n_slow = args.n if args.full else min(args.n_slow, args.n)
    quiet = dict(show_progress=False)

    # warm-up: first calls pay for lazy imports, thread pools and the chain check
    predict(model, x[:64])
    shap_values(model, x[:8], "elements", **quiet)
    shap_values(model, x[:8], bg[:4], **quiet)
    t_fwd, _ = timed(lambda: predict(model, x), repeats=5)
    rows = []

    def add(name: str, n: int, seconds: float) -> None:
        per_n = seconds * args.n / n
        rows.append({"method": name, "compositions_timed": n, "seconds": seconds,
                     f"seconds_per_{args.n}": per_n, "scaled": n != args.n, "x_forward": per_n / t_fwd})

    t, ex_el = timed(lambda: shap_values(model, x, "elements", **quiet))
    add("hullpack DeepLIFT, elemental reference", args.n, t)
    t, ex_bg = timed(lambda: shap_values(model, x, bg, n_background=args.n_background, **quiet))
    add(f"hullpack DeepLIFT, {len(bg)}-row background", args.n, t)
    xs = x[:n_slow]
    t, ex_deep = timed(lambda: shap_values(model, xs, bg, n_background=args.n_background, fast=False, **quiet))
    add(f"shap.DeepExplainer, {len(bg)}-row background", n_slow, t)
    t, _ = timed(lambda: shap_values(model, xs, bg, n_background=args.n_background, method="gradient",
                                     nsamples=200, **quiet))
    add(f"shap.GradientExplainer (200 samples), {len(bg)}-row background", n_slow, t)
    agreement = float(np.abs(ex_bg.values[:n_slow] - ex_deep.values).max())
    additivity = float(np.abs(ex_el.values.sum(1) + ex_el.base_values - predict(model, x)).max())

    out = {"n": args.n, "n_background": len(bg), "n_slow": n_slow, "model": source,
           "architecture": getattr(model, "architecture", type(model).__name__),
           "forward_seconds": t_fwd,
           "max_abs_diff_batched_vs_shap_deep": agreement, "additivity_max_error": additivity, "rows": rows}
    save("shap", out)

    print(f"### SHAP on {args.n} OQMD test compositions, ElemNet ({source}), CPU, "
          f"{torch.get_num_threads()} torch threads\n")
    print(f"| method | compositions timed | s per {args.n} | × forward |")
    print("|---|---|---|---|")
    print(f"| plain forward pass (anchor) | {args.n} | {t_fwd:.4f} | 1 |")
    for r in rows:
        mark = " (scaled)" if r["scaled"] else ""
        print(f"| {r['method']} | {r['compositions_timed']} | {r[f'seconds_per_{args.n}']:.2f}{mark} | "
              f"{r['x_forward']:,.0f} |")
    print(f"\nbatched DeepLIFT vs shap.DeepExplainer on the same {n_slow} compositions: max |difference| "
          f"{agreement:.1e} eV/atom; additivity (elemental reference): max error {additivity:.1e} eV/atom")


if __name__ == "__main__":
    main()
