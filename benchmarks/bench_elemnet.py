"""ElemNet throughput on this machine, each figure next to its anchor measured in the same run:

- training (Adam step, MAE loss, batch 256) and inference (batch 8192), fp32 and bf16 autocast,
  as samples/s, achieved GFLOP/s and the fraction of a 4096^2 GEMM's rate in the same precision
  (forward 2 x 4.62 M multiply-adds = 9.25 MFLOP per composition, a training step ~3x that);
- featurizing formulas with hullpack's regex parser against pymatgen's Composition.

    python benchmarks/bench_elemnet.py [--threads 2] [--seconds 4]

Writes benchmarks/results/elemnet.json and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from _common import save
from hullpack.elemnet import ElemNet, featurize, load_oqmd

FWD_FLOP = 2 * sum(p.numel() for n, p in ElemNet().named_parameters() if n.endswith("weight"))


def timed(fn, seconds: float, min_reps: int = 3) -> float:
    """Seconds per call: one warm-up call, then repeat until ``seconds`` have passed."""
    fn()
    reps, t0 = 0, time.perf_counter()
    while reps < min_reps or time.perf_counter() - t0 < seconds:
        fn()
        reps += 1
    return (time.perf_counter() - t0) / reps


def gemm_gflops(dtype: torch.dtype, seconds: float, n: int = 4096) -> float:
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    return 2 * n**3 / timed(lambda: torch.mm(a, b), seconds) / 1e9


def train_rate(bf16: bool, seconds: float, batch: int = 256) -> float:
    torch.manual_seed(0)
    model = ElemNet().train()
    opt = torch.optim.Adam(model.parameters(), 5e-4)
    x = torch.from_numpy(np.random.default_rng(0).dirichlet(np.ones(86), batch).astype(np.float32))
    y = torch.zeros(batch)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            pred = model(x)
        loss = F.l1_loss(pred.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return batch / timed(step, seconds)


def infer_rate(bf16: bool, seconds: float, batch: int = 8192) -> float:
    model = ElemNet().eval()
    x = torch.from_numpy(np.random.default_rng(0).dirichlet(np.ones(86), batch).astype(np.float32))

    @torch.no_grad()
    def run():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model(x)

    return batch / timed(run, seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=4.0, help="timing per measurement")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    s = args.seconds

    gemm = {"fp32": gemm_gflops(torch.float32, s), "bf16": gemm_gflops(torch.bfloat16, s)}
    rows = []
    for kind, rate_fn, flop in (("training, batch 256", train_rate, 3 * FWD_FLOP),
                                ("inference, batch 8192", infer_rate, FWD_FLOP)):
        for prec in ("fp32", "bf16"):
            rate = rate_fn(prec == "bf16", s)
            gflops = rate * flop / 1e9
            rows.append({"what": kind, "precision": prec, "samples_per_s": rate, "gflops": gflops,
                         "gemm_gflops": gemm[prec], "fraction_of_gemm": gflops / gemm[prec]})

    formulas = [f for split in ("train", "val", "test") for f in load_oqmd(split)["formula"]]
    t0 = time.perf_counter()
    featurize(formulas)
    regex_s = time.perf_counter() - t0
    sample = formulas[:2000]
    from pymatgen.core import Composition

    t0 = time.perf_counter()
    [Composition(f).fractional_composition for f in sample]
    pmg_rate = len(sample) / (time.perf_counter() - t0)
    feat = {"n_formulas": len(formulas), "regex_s": regex_s, "regex_per_s": len(formulas) / regex_s,
            "pymatgen_per_s": pmg_rate, "speedup": len(formulas) / regex_s / pmg_rate}

    save("elemnet", {"gemm_4096_gflops": gemm, "fwd_mflop_per_sample": FWD_FLOP / 1e6,
                           "throughput": rows, "featurize": feat})

    print(f"ElemNet throughput ({args.threads} threads, torch {torch.__version__}, load avg "
          f"{os.getloadavg()[0]:.1f}); anchor: 4096^2 GEMM fp32 {gemm['fp32']:.0f}, "
          f"bf16 {gemm['bf16']:.0f} GFLOP/s\n")
    print("| what | precision | samples/s | GFLOP/s | GEMM GFLOP/s | fraction of GEMM |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['what']} | {r['precision']} | {r['samples_per_s']:,.0f} | {r['gflops']:,.0f} | "
              f"{r['gemm_gflops']:,.0f} | {r['fraction_of_gemm']:.2f} |")
    bf = {r["what"]: r["samples_per_s"] for r in rows if r["precision"] == "bf16"}
    fp = {r["what"]: r["samples_per_s"] for r in rows if r["precision"] == "fp32"}
    print("\nbf16 / fp32 speed-up: " + ", ".join(f"{k} {bf[k] / fp[k]:.2f}x" for k in bf))
    print(f"\nfeaturizing {feat['n_formulas']:,} formulas: {feat['regex_s']:.2f} s "
          f"({feat['regex_per_s']:,.0f}/s); pymatgen Composition {feat['pymatgen_per_s']:,.0f}/s "
          f"-> {feat['speedup']:.0f}x")


if __name__ == "__main__":
    main()
