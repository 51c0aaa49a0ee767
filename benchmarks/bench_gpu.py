"""The screen and the hull kernels on a CUDA GPU, with the anchors measured in the same run.

* the GPU's rate: bf16 and fp32 ``torch.matmul`` with ElemNet's layer shapes at the engine's chunk
  (16,384 rows; TF32 off, as in hullpack's fp32 path); the screens' achieved rate counts 9.25 MFLOP
  per prediction;
* hull kernels: ``hull_batch(device="cuda")`` against ``hull_batch`` on the host's CPUs (all
  threads) and scipy ``ConvexHull`` (a sample, per system, extrapolated), on every binary at step
  0.01 and every ternary at step 0.05 with bench_hull's synthetic energies; GPU and CPU must agree;
* the first-layer gather on the GPU (``first_layer_cuda``) against dense 86-wide inputs +
  ``torch.addmm`` on the GPU;
* ``screen(device="cuda")`` of the shipped ElemNet over all 3,655 binaries at 101 points and all
  102,340 ternaries at 231 points: bf16 certified (the default, with its audit: points,
  exceedances, bound, seconds), fp32, bf16 uncertified; the certified hull vertices against the
  fp32 screen's, and the floor of that comparison: fp32 against
  fp32 with another chunk size (cuBLAS rounds differently for another number of rows);
* the anchor, a plain pipeline on the same GPU: dense 86-wide float32 inputs, ``model(x)`` in fp32,
  ``scipy.spatial.ConvexHull`` per system; all binaries, and ``--anchor-ternaries`` ternaries
  extrapolated per system.

    python benchmarks/bench_gpu.py            # about three minutes on one H100/H200
    python benchmarks/bench_gpu.py --quick    # 3,000 ternaries, smaller samples

Writes benchmarks/results/gpu.json and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import copy
import os
import time
import traceback

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its threads

import numpy as np
import torch

import hullpack
from _common import save
from bench_hull import energies, scipy_sample
from bench_screen import FLOP_PER_PREDICTION, differing, gemm_rates, plain_pipeline, same_vertices
from hullpack.compositions import first_layer_cuda, grid_fractions, systems, uniform_grid
from hullpack.elemnet import load_pretrained
from hullpack.hull import hull_batch
from hullpack.screening import screen
from hullpack.screening.engine import DEFAULT_CHUNK_CUDA, InferenceEngine
from hullpack.screening.hulls import corner_mask
from hullpack.screening.result import formula_of

N_TERNARIES = 102_340
# the benchmark's grids (step 1/100 binaries, 1/20 ternaries), every hull vertex kept, whatever the
# screen's defaults
PINNED = {2: {"grid": "uniform:100", "min_depth": 0.0}, 3: {"grid": "uniform:20", "min_depth": 0.0}}
DEVICE = "cuda"


def best_of(fn, repeat: int):
    """Best seconds of ``repeat`` calls of ``fn`` (GPU work synchronized), and the last result."""
    best, out = np.inf, None
    for _ in range(repeat):
        torch.cuda.synchronize()
        t = time.perf_counter()
        out = fn()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best, out


def hull_kernels(order: int, n_step: int, n_systems: int | None, sample: int, rng) -> dict:
    fr = grid_fractions(uniform_grid(order, n_step))
    table = systems(order)[:n_systems]
    e = energies(fr, len(table), rng)
    t_gpu, g = best_of(lambda: hull_batch(fr, e, decomposition=False, device=DEVICE, progress_bar=False), 3)
    t_cpu, c = best_of(lambda: hull_batch(fr, e, decomposition=False, progress_bar=False), 3)
    pick = rng.choice(len(e), size=sample, replace=False)
    t_scipy, scipy_e = scipy_sample(fr, e[pick])
    return {"order": order, "systems": len(table), "points": len(fr), "gpu_seconds": t_gpu,
            "cpu_seconds": t_cpu, "cpu_threads": os.cpu_count(), "speedup_vs_cpu": t_cpu / t_gpu,
            "scipy_us_per_system": 1e6 * t_scipy, "speedup_vs_scipy": t_scipy * len(table) / t_gpu,
            "max_abs_diff_gpu_cpu": float(np.abs(g.e_above_hull - c.e_above_hull).max()),
            "same_vertices_gpu_cpu": bool((g.is_vertex == c.is_vertex).all()),
            "max_abs_diff_vs_scipy": float(np.abs(g.e_above_hull[pick] - np.maximum(scipy_e, 0)).max())}


def gather(n_pairs: int, rng) -> dict:
    """Seconds of the first-layer gather on the GPU (fp32, bf16) and of dense inputs + addmm."""
    dev = torch.device(DEVICE)
    table, grid = systems(3), uniform_grid(3, 20)
    w = torch.from_numpy(rng.normal(0, 0.1, size=(1024, 86)).astype(np.float32)).to(dev)
    b = torch.from_numpy(rng.normal(0, 0.1, size=1024).astype(np.float32)).to(dev)
    wt = w.T.contiguous()
    t_dev, g_dev = torch.from_numpy(table).to(dev), torch.from_numpy(grid).to(dev)
    frac = torch.from_numpy(grid_fractions(grid).astype(np.float32)).to(dev)
    out32 = torch.empty((n_pairs, 1024), device=dev)
    out16 = torch.empty((n_pairs, 1024), device=dev, dtype=torch.bfloat16)
    start = 1_000_003

    def dense():
        q = torch.arange(start, start + n_pairs, device=dev)
        s, p = q // len(grid), q % len(grid)
        x = torch.zeros(n_pairs, 86, device=dev)
        x.scatter_(1, t_dev[s].long(), frac[p])
        return torch.addmm(b, x, w.T)

    t32, _ = best_of(lambda: first_layer_cuda(t_dev, g_dev, wt, b, start, n_pairs, out32), 5)
    t16, _ = best_of(lambda: first_layer_cuda(t_dev, g_dev, wt, b, start, n_pairs, out16), 5)
    with torch.no_grad():
        td, ref = best_of(dense, 5)
    return {"pairs": n_pairs, "width": 1024, "gather_fp32_seconds": t32, "gather_bf16_seconds": t16,
            "dense_addmm_seconds": td, "speedup_fp32": td / t32, "speedup_bf16": td / t16,
            "gather_fp32_gb_per_s": n_pairs * 1024 * 4 / t32 / 1e9,
            "max_abs_diff": float((ref - out32).abs().max())}


def mismatch_details(model, r16, r32, order: int, limit: int = 10) -> list:
    """For systems whose certified and fp32 stable sets differ: the compositions on one side only,
    the system's delta, and how far the fp32 energies of the two fp32 paths (the screen's streamed
    chunks and the certification's scattered pairs) differ, with the energies above hull of the
    differing compositions under each."""
    bad = differing(r16, r32)[:limit]
    if not len(bad):
        return []
    grid = r16.config["grid_array"]
    tab = systems(order)[bad]  # both screens list the systems in table order from the first
    eng = InferenceEngine(model, device=DEVICE)
    e_flat = eng.predict(tab, grid, "fp32")
    s_idx, p_idx = np.nonzero(np.ones(e_flat.shape, bool))
    e_pairs = eng.predict_pairs(tab, grid, s_idx, p_idx, "fp32").reshape(e_flat.shape)
    e_pairs[:, corner_mask(grid)] = 0.0
    fr = grid_fractions(grid)
    h_flat = hull_batch(fr, e_flat, decomposition=False, progress_bar=False)
    h_pairs = hull_batch(fr, e_pairs, decomposition=False, progress_bar=False)
    out = []
    for i, b in enumerate(bad):
        a16, a32 = (set(filter(None, r.systems["stable"].iloc[b].split(";"))) for r in (r16, r32))
        formulas = [formula_of(tab[i], g) for g in grid]
        at = [formulas.index(f) for f in sorted(a16 ^ a32)]
        out.append({"system": r16.systems["system"].iloc[b], "only_certified": sorted(a16 - a32),
                    "only_fp32": sorted(a32 - a16), "delta": float(r16.systems["delta"].iloc[b]),
                    "n_fp32": int(r16.systems["n_fp32"].iloc[b]),
                    "max_abs_fp32_chunks_vs_pairs": float(np.abs(e_flat[i] - e_pairs[i]).max()),
                    "e_above_hull_chunks": [float(h_flat.e_above_hull[i, p]) for p in at],
                    "e_above_hull_pairs": [float(h_pairs.e_above_hull[i, p]) for p in at]})
    return out


def screens(model, order: int, shard: str | None, fp32_floor: bool) -> dict:
    """screen(device="cuda") in the three precisions; certified vs fp32 vertices, and with
    ``fp32_floor`` fp32 vs fp32 with another chunk size (the floor of that comparison: cuBLAS picks
    its kernels by the number of rows, so fp32 itself may round differently)."""
    out, res = {}, {}
    runs = [("bf16", DEFAULT_CHUNK_CUDA), ("fp32", DEFAULT_CHUNK_CUDA), ("bf16-uncertified", DEFAULT_CHUNK_CUDA)]
    for prec, chunk in runs + ([("fp32", 4096)] if fp32_floor else []):
        name = prec if chunk == DEFAULT_CHUNK_CUDA else f"{prec}-chunk{chunk}"
        torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        res[name] = screen(model, order=order, precision=prec, device=DEVICE, compare_dft=False,
                           progress=False, shard=shard, chunk=chunk, **PINNED[order])
        out[name] = {"seconds": time.perf_counter() - t,
                     "gpu_peak_mib": torch.cuda.max_memory_allocated() / 2**20}
    r16, r32, raw = res["bf16"], res["fp32"], res["bf16-uncertified"]
    n_pred = r16.stats["n_predictions"]
    return {"order": order, "systems": int(len(r16.systems)), "points": int(r16.config["n_points"]),
            "predictions": int(n_pred), "seconds": {k: v["seconds"] for k, v in out.items()},
            "gpu_peak_mib": {k: v["gpu_peak_mib"] for k, v in out.items()},
            "fp32_reevaluated_fraction": r16.stats["n_fp32"] / n_pred,
            "certified_vertices_equal_fp32": same_vertices(r16, r32),
            "certified_mismatch_systems": len(differing(r16, r32)),
            "fp32_chunk4096_mismatch_systems": len(differing(res["fp32-chunk4096"], r32)) if fp32_floor else None,
            "uncertified_mismatch_systems": len(differing(raw, r32)),
            "mismatches": mismatch_details(model, r16, r32, order),
            "n_vertices": int(len(r16.vertices)), "model_evaluations_certified": r16.stats["n_evaluated"],
            "certification": r16.config["certification"],
            "points_per_s_certified": n_pred / out["bf16"]["seconds"],
            # the FLOPs of the model evaluations made (shared edges, calibration, fp32 included)
            "achieved_tflops_certified": sum(r16.stats["n_evaluated"].values()) * FLOP_PER_PREDICTION
            / out["bf16"]["seconds"] / 1e12}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3,000 ternaries, smaller samples")
    ap.add_argument("--fp32-floor", action="store_true",
                    help="also screen in fp32 with chunks of 4,096 and compare with fp32 at 16,384")
    ap.add_argument("--anchor-ternaries", type=int, default=None, help="ternaries through the plain pipeline")
    args = ap.parse_args()
    if not hullpack.cuda_available():
        raise SystemExit(f"bench_gpu: needs a CUDA GPU and a CUDA build of hullpack ({hullpack.build_info()})")
    rng = np.random.default_rng(0)
    sample = 20 if args.quick else 100
    n_anchor3 = args.anchor_ternaries or (300 if args.quick else 3000)
    tern_shard = f"0/{N_TERNARIES // 3000}" if args.quick else None

    model = load_pretrained()
    rates = gemm_rates(model, DEFAULT_CHUNK_CUDA, 3, device=DEVICE)
    errors, done = {}, {}

    def section(name, fn):
        """Run one part; a failure is recorded and printed, and the other parts still run."""
        print(f"{name} ...", flush=True)
        try:
            out = fn()
        except Exception as exc:  # noqa: BLE001 - a benchmark run reports what broke and goes on
            traceback.print_exc()
            errors[name] = f"{type(exc).__name__}: {exc}"
            out = None
        done[name] = out
        save("gpu", {"partial": done, "errors": errors})  # kept if the run is cut short
        return out

    def run_anchors():
        gpu_model = copy.deepcopy(model).to(DEVICE).eval()
        plain_pipeline(gpu_model, systems(2)[:50], uniform_grid(2, 100), device=DEVICE)  # warm-up
        t2, _ = plain_pipeline(gpu_model, systems(2), uniform_grid(2, 100), device=DEVICE)
        pick3 = systems(3)[:: N_TERNARIES // n_anchor3][:n_anchor3]
        t3, _ = plain_pipeline(gpu_model, pick3, uniform_grid(3, 20), device=DEVICE)
        return {"binaries_seconds": t2, "ternaries_sample": len(pick3),
                "ternaries_seconds_all_extrapolated": t3 / len(pick3) * N_TERNARIES}

    # the screens first: they are what the GPU is for
    screen(model, order=2, elements="Fe Ni O Al", device=DEVICE, compare_dft=False, progress=False)  # warm-up
    scr = [s for s in (section("binary screens", lambda: screens(model, 2, None, args.fp32_floor)),
                       section("ternary screens", lambda: screens(model, 3, tern_shard, args.fp32_floor))) if s]
    g = section("first-layer gather", lambda: gather(1 << 20, rng))
    hulls = [h for h in (section("binary hulls", lambda: hull_kernels(2, 100, None, sample, rng)),
                         section("ternary hulls", lambda: hull_kernels(3, 20, 10_000 if args.quick else None,
                                                                        sample, rng))) if h]
    anchors = section("anchors", run_anchors)
    for s in scr if anchors else []:
        a = (anchors["binaries_seconds"] if s["order"] == 2
             else anchors["ternaries_seconds_all_extrapolated"] / N_TERNARIES * s["systems"])
        s["anchor_seconds"] = a
        s["speedup_vs_anchor"] = {k: a / v for k, v in s["seconds"].items()}
    after = section("matmul rates after", lambda: gemm_rates(model, DEFAULT_CHUNK_CUDA, 3, device=DEVICE)) or rates
    path = save("gpu", {"gemm_gflops": rates, "gemm_gflops_after": after, "hull_kernels": hulls,
                        "first_layer_gather": g, "screens": scr, "anchors": anchors, "errors": errors})

    print("\n| measure | hullpack (GPU) | anchor, same run | ratio |\n|---|---|---|---|")
    for h in hulls:
        name = "binaries" if h["order"] == 2 else "ternaries"
        print(f"| hulls of {h['systems']:,} {name} x {h['points']} (s) | {h['gpu_seconds']:.3f} | "
              f"CPU kernels, {h['cpu_threads']} threads {h['cpu_seconds']:.3f}; scipy "
              f"{h['scipy_us_per_system'] * h['systems'] / 1e6:.1f} (extrapolated) | "
              f"{h['speedup_vs_cpu']:.1f}x / {h['speedup_vs_scipy']:,.0f}x; GPU == CPU: "
              f"{h['same_vertices_gpu_cpu']} (max diff {h['max_abs_diff_gpu_cpu']:.1e}) |")
    if g:
        print(f"| first-layer gather, {g['pairs']:,} pairs x 1024 fp32 / bf16 (ms) | "
              f"{1e3 * g['gather_fp32_seconds']:.2f} / {1e3 * g['gather_bf16_seconds']:.2f} "
              f"({g['gather_fp32_gb_per_s']:.0f} GB/s) | dense + addmm {1e3 * g['dense_addmm_seconds']:.2f} | {g['speedup_fp32']:.1f}x / {g['speedup_bf16']:.1f}x |")
    for s in scr:
        name = "binaries" if s["order"] == 2 else "ternaries"
        sec = s["seconds"]
        sp = s.get("speedup_vs_anchor")
        print(f"| screen(), {s['systems']:,} {name} x {s['points']}: bf16 certified / fp32 / uncertified (s) | "
              f"{sec['bf16']:.2f} / {sec['fp32']:.2f} / {sec['bf16-uncertified']:.2f} | plain PyTorch fp32 + scipy "
              + (f"{s['anchor_seconds']:.1f}{' (extrapolated)' if s['order'] == 3 else ''} | "
                 f"{sp['bf16']:.1f}x / {sp['fp32']:.1f}x / {sp['bf16-uncertified']:.1f}x |" if sp else "(failed) | |"))
        print(f"| {name}: certified vertices == fp32; re-evaluated in fp32; GPU peak (MiB) | "
              f"{s['certified_vertices_equal_fp32']} ({s['n_vertices']:,} vertices); "
              f"{s['fp32_reevaluated_fraction']:.1%}; {s['gpu_peak_mib']['bf16']:.0f} | uncertified bf16 differs in "
              f"{s['uncertified_mismatch_systems']:,} systems | |")
        c = s["certification"]
        print(f"| {name}: audit points, exceeded, 95% bound; seconds | {c['n_audited']:,}, {c['n_exceeded']}, "
              f"{c['exceedance_bound']:.2g}; {c['seconds_audit']:.2f} of {sec['bf16']:.2f} | | |")
    print(f"| bf16 / fp32 matmul, ElemNet's shapes (TFLOP/s) | {rates['bf16'] / 1e3:.0f} / {rates['fp32'] / 1e3:.0f} "
          f"(after: {after['bf16'] / 1e3:.0f} / {after['fp32'] / 1e3:.0f}) | | |")
    for s in scr:
        floor = s["fp32_chunk4096_mismatch_systems"]
        print(f"order {s['order']}: certified vs fp32 differ in {s['certified_mismatch_systems']} systems"
              + (f"; fp32 (chunk 4,096) vs fp32 (chunk 16,384) in {floor}" if floor is not None else ""))
        for m in s["mismatches"]:
            print(f"  {m}")
    for name, err in errors.items():
        print(f"FAILED {name}: {err}")
    print(f"\nGPU: {torch.cuda.get_device_name(0)}; wrote {path}")


if __name__ == "__main__":
    main()
