"""The full screen (inference + hulls) against a plain PyTorch pipeline, measured in the same run.

* hullpack: ``hullpack.screening.screen`` on the shipped ElemNet over every binary of ElemNet's 86
  elements at step 0.01 (3,655 systems x 101 points): the default precision (``"auto"``: fp32 on
  CPU, whose layers skip their zero activations, ``hullpack.compositions.relu_mlp``), bf16
  certified in fp32 (calibration, re-evaluation near the hull and the audit of a random sample of
  the rest: the audit's points, exceedances, upper bound and share of the time) and uncertified
  bf16, without the DFT comparison (timed separately); on the same systems also fp32 through
  oneDNN's dense products (the fp32 path before ``relu_mlp``);
* the anchor, a plain pipeline: the 86-wide dense float32 inputs of every point, ``model(x)`` in fp32
  in batches of 16,384, and ``scipy.spatial.ConvexHull`` per system (lower facets, energy above hull
  and vertices), on ``--anchor-systems`` binaries, extrapolated per system to all 3,655;
* the rate of the hardware: bf16 and fp32 ``torch.matmul`` and oneDNN's linear with packed weights
  with the shapes of ElemNet's layers at the screen's batch size, in the same run;
* ternaries at step 0.05 (231 points): ``--ternary-systems`` of the 102,340 (all with ``--full``),
  extrapolated per system, default and certified bf16;
* peak memory (ru_maxrss of a fresh process) of binary screens of growing size.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_screen.py            # a few minutes on 2 cores
    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_screen.py --quick    # smaller samples
    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_screen.py --ternary-only --full   # all ternaries
    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_screen.py --ternary-only --full --certified

Writes benchmarks/results/screen.json and prints a Markdown table. On a CPU without bf16
arithmetic (neither AVX-512 BF16 nor AMX), where torch emulates bf16 and hullpack screens in fp32,
the bf16 screens are left out (their rate is still measured) and the results go to
screen_no_bf16.json (screen_ternary_no_bf16.json), beside the other CPU's.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its threads

import numpy as np
import torch

from _common import save
from hullpack.compositions import grid_fractions, systems, uniform_grid
from hullpack.elemnet import load_pretrained
from hullpack.screening import screen
from hullpack.screening.backend import cpu_bf16_native, onednn_unusable
from hullpack.screening.certify import Certifier
from hullpack.screening.engine import DEFAULT_CHUNK, InferenceEngine
from hullpack.screening.hulls import plain_hulls

ANCHOR_BATCH = 16384  # the plain pipeline's model(x) batch
#: whether the bf16 screens run: where torch emulates bf16 they take many times the fp32 screen's time
BF16 = cpu_bf16_native()
SUFFIX = "" if BF16 else "_no_bf16"

FLOP_PER_PREDICTION = 9.25e6


def gemm_rates(model, batch: int, repeat: int, device: str = "cpu") -> dict:
    """GFLOP/s of torch.matmul over ElemNet's layer shapes at ``batch`` rows, bf16 and fp32 (on a
    GPU: TF32 off, as in hullpack's fp32 path); on CPU also of oneDNN's linear with packed weights
    (``bf16_onednn``, ``fp32_onednn``: the kernels hullpack's engine runs)."""
    shapes = [(m.in_features, m.out_features) for m in model.net if isinstance(m, torch.nn.Linear)]
    sync = torch.cuda.synchronize if device != "cpu" else (lambda: None)
    flops = sum(2.0 * batch * i * o for i, o in shapes)

    def rate(products) -> float:
        best = np.inf
        for _ in range(repeat + (device != "cpu")):  # on a GPU the first pass warms up
            sync()
            t = time.perf_counter()
            for product in products:
                product()
            sync()
            best = min(best, time.perf_counter() - t)
        return flops / best / 1e9

    out = {}
    for name, dt in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        xs = [torch.randn(batch, i, device=device).to(dt) for i, _ in shapes]
        ws = [torch.randn(o, i, device=device).to(dt) for i, o in shapes]
        out[name] = rate([lambda x=x, w=w: torch.matmul(x, w.T) for x, w in zip(xs, ws)])
        if device == "cpu" and onednn_unusable(dt) is None:  # oneDNN's bf16 needs AVX-512
            packed = [torch.ops.mkldnn._reorder_linear_weight(w, None) for w in ws]
            out[f"{name}_onednn"] = rate([lambda x=x, w=w: torch.ops.mkldnn._linear_pointwise(x, w, None, "none", [], "")
                                          for x, w in zip(xs, packed)])
    return out


def best_bf16(rates: dict) -> float:
    """The faster of the two bf16 matrix-product rates ``gemm_rates`` measured."""
    return max(rates["bf16"], rates.get("bf16_onednn", 0.0))


def scipy_lower_hulls(grid_f: np.ndarray, e: np.ndarray):
    """Energies above hull and vertex masks per system with scipy ConvexHull (references at 0)."""
    from scipy.spatial import ConvexHull

    k = grid_f.shape[1]
    xy = grid_f[:, 1:]
    ref_xy = np.eye(k)[:, 1:]
    inner = grid_f.max(axis=1) < 1
    eah, vert = [], []
    for row in e:
        pts = np.vstack([np.c_[ref_xy, np.zeros(k)], np.c_[xy[inner], row[inner]]])
        hull = ConvexHull(pts)
        lower = hull.equations[:, -2] < -1e-12
        eq = hull.equations[lower]
        planes = -(eq[:, :-2] @ xy.T + eq[:, -1:]) / eq[:, -2:-1]
        eah.append(row - planes.max(axis=0))
        v = np.unique(hull.simplices[lower].ravel())
        mask = np.zeros(len(row), bool)
        mask[np.flatnonzero(inner)[v[v >= k] - k]] = True
        vert.append(mask)
    return np.array(eah), np.array(vert)


def differing(a, b) -> np.ndarray:
    """Rows (systems) whose stable sets differ between two screens of the same systems."""
    return np.flatnonzero(a.systems["stable"].to_numpy() != b.systems["stable"].to_numpy())


def same_vertices(a, b) -> bool:
    """Whether two screens of the same systems report the same stable compounds, in order."""
    return a.vertices[["system", "formula"]].values.tolist() == b.vertices[["system", "formula"]].values.tolist()


def plain_pipeline(model, table, grid, device: str = "cpu") -> tuple[float, np.ndarray]:
    """Seconds of dense inputs + model(x) fp32 (``model`` on ``device``) + scipy hulls for
    ``table``; its vertex masks."""
    fr = grid_fractions(grid)
    inner = fr.max(axis=1) < 1
    t = time.perf_counter()
    x = np.zeros((len(table) * int(inner.sum()), 86), np.float32)
    rows = np.arange(len(x))
    for j in range(table.shape[1]):
        x[rows, np.repeat(table[:, j], inner.sum())] = np.tile(fr[inner, j], len(table))
    xt = torch.from_numpy(x)
    with torch.no_grad():
        pred = torch.cat([model(xt[i:i + ANCHOR_BATCH].to(device)).cpu()
                          for i in range(0, len(xt), ANCHOR_BATCH)]).numpy()
    e = np.zeros((len(table), len(grid)))
    e[:, inner] = pred.reshape(len(table), -1)
    _, vert = scipy_lower_hulls(fr, e)
    return time.perf_counter() - t, vert


# The benchmark's grids (step 1/100 binaries, 1/20 ternaries) and every hull vertex kept: the
# figures stay comparable with earlier runs whatever the screen's defaults.
PINNED = {2: {"grid": "uniform:100", "min_depth": 0.0}, 3: {"grid": "uniform:20", "min_depth": 0.0}}


def timed_screen(model, **kw):
    t = time.perf_counter()
    r = screen(model, compare_dft=False, progress=False, **PINNED[kw.get("order", 2)], **kw)
    return time.perf_counter() - t, r


def interleaved(model, eng, dense, table, grid, calibrated, n_screen: int, repeat: int) -> dict:
    """Best-of-``repeat`` seconds on the same systems, the pipelines taking turns so that a change
    of load on the shared machine hits them alike: the anchor, fp32 (``eng``: the default), fp32
    through oneDNN's dense products (``dense``), certified bf16 and uncertified bf16. The certified
    run uses the deltas calibrated on the whole screen and audits at the whole screen's rate
    (``n_screen`` points). Without :data:`BF16`, the bf16 runs are left out (NaN)."""
    best = dict.fromkeys(("anchor", "fp32", "fp32_onednn", "bf16_certified", "bf16_uncertified", "audit"), np.inf)
    if not BF16:
        best.update(bf16_certified=np.nan, bf16_uncertified=np.nan, audit=np.nan)
    for _ in range(repeat):
        t = time.perf_counter()
        plain_pipeline(model, table, grid)
        best["anchor"] = min(best["anchor"], time.perf_counter() - t)
        if not BF16:
            for name, engine in (("fp32", eng), ("fp32_onednn", dense)):
                t = time.perf_counter()
                plain_hulls(engine, table, grid, "fp32")
                best[name] = min(best[name], time.perf_counter() - t)
            continue
        t = time.perf_counter()
        cert = Certifier(eng, delta=0.0)
        cert.delta_element = calibrated.copy()  # calibrated once per screen, as screen() does
        cert.n_screen = n_screen
        cert.run(table, grid)
        seconds = time.perf_counter() - t
        if seconds < best["bf16_certified"]:
            best["bf16_certified"], best["audit"] = seconds, cert.seconds_audit
        for name, engine, prec in (("fp32", eng, "fp32"), ("fp32_onednn", dense, "fp32"),
                                   ("bf16_uncertified", eng, "bf16")):
            t = time.perf_counter()
            plain_hulls(engine, table, grid, prec)
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def peak_rss(n_shards: int, order: int = 2) -> dict:
    """MiB: ru_maxrss of a fresh process that screens the first of ``n_shards`` slices of all
    systems of ``order`` (so its size grows as ``n_shards`` falls)."""
    # VmHWM of the new process (ru_maxrss would carry the parent's peak across fork + exec)
    code = (
        "import os, json\n"
        "os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'\n"
        "def hwm():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM'): return int(line.split()[1]) / 1024\n"
        "from hullpack.screening import screen\n"
        "before = hwm()\n"
        f"r = screen(order={order}, shard='0/{n_shards}', compare_dft=False, progress=False, **{PINNED[order]!r})\n"
        f"print(json.dumps({{'order': {order}, 'systems': len(r.systems), 'rss_mib': hwm(), "
        "'rss_after_imports_mib': before}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def extrapolated(r, seconds: float, n_all: int) -> float:
    """Seconds of a screen of all ``n_all`` systems from ``r``, a contiguous shard of it that took
    ``seconds``: per system, but its calibration (of the whole screen already) once."""
    cal = (r.config.get("certification") or {}).get("seconds_calibration", 0.0)
    return (seconds - cal) / len(r.systems) * n_all + cal


def time_split(r) -> dict:
    """Where the seconds of a screen ``r``'s blocks went: evaluating the model (the first-layer
    gather included), and the rest (hulls, depths, tables); set-up and shared edges come before."""
    st = r.stats
    return {"seconds_blocks": st["seconds_screen"], "seconds_evaluating": st["seconds_evaluating"],
            "seconds_rest_of_blocks": max(st["seconds_screen"] - st["seconds_evaluating"], 0.0)}


def audit_summary(r) -> dict:
    """The audit of a certified screen ``r``: points, exceedances, bound, seconds and their share."""
    c = r.config["certification"]
    return {"points": c["n_audited"], "exceeded": c["n_exceeded"], "bound95": c["exceedance_bound"],
            "rate": c["audit_rate"], "seconds": c["seconds_audit"],
            "share_of_screen": c["seconds_audit"] / r.stats["seconds_total"]}


def ternary_only(full: bool, n: int, certified: bool) -> None:
    model = load_pretrained()
    shard = None if full else f"0/{max(1, 102_340 // n)}"
    t = time.perf_counter()
    r = screen(model, order=3, compare_dft=False, progress=False, shard=shard, **PINNED[3])
    seconds = time.perf_counter() - t
    n_sys = len(r.systems)
    result = {"systems": n_sys, "points": 231, "precision": r.config["precision"],
              "fp32_kernel": r.config["fp32_kernel"], "seconds": seconds,
              "seconds_all_extrapolated": extrapolated(r, seconds, 102_340), "full_run": n_sys == 102_340,
              "points_per_s": r.stats["n_predictions"] / seconds, "model_evaluations": r.stats["n_evaluated"],
              "n_vertices": int(len(r.vertices)), "time_split": time_split(r)}
    if certified and not BF16:
        print("--certified left out: this CPU has no bf16 arithmetic (torch emulates it)", file=sys.stderr)
        certified = False
    if certified:  # the same systems in certified bf16: its time, audit, and are its vertices fp32's?
        t = time.perf_counter()
        r16 = screen(model, order=3, precision="bf16", compare_dft=False, progress=False, shard=shard,
                     **PINNED[3])
        t16 = time.perf_counter() - t
        result["bf16_certified"] = {
            "seconds": t16, "seconds_all_extrapolated": extrapolated(r16, t16, 102_340),
            "seconds_calibration": r16.config["certification"]["seconds_calibration"],
            "fp32_reevaluated_fraction": r16.stats["n_fp32"] / r16.stats["n_predictions"],
            "audit": audit_summary(r16), "vertices_equal_fp32": same_vertices(r16, r),
            "mismatch_systems": len(differing(r16, r))}
    path = save("screen_ternary" + SUFFIX, result)
    print("| measure | value |\n|---|---|")
    print(f"| {n_sys:,} ternaries x 231 points, screen() default ({result['precision']}, "
          f"{result['fp32_kernel']}) (s) | {seconds:.0f} |")
    print(f"| all 102,340 (extrapolated unless full) (s) | {result['seconds_all_extrapolated']:.0f} (target 300) |")
    split = result["time_split"]
    print(f"| the screen's blocks (s): evaluating the model; hulls, depths, tables | "
          f"{split['seconds_evaluating']:.1f}; {split['seconds_rest_of_blocks']:.1f} |")
    if certified:
        c = result["bf16_certified"]
        a = c["audit"]
        print(f"| same systems, certified bf16 (s); all, extrapolated unless full | {c['seconds']:.0f}; "
              f"{c['seconds_all_extrapolated']:.0f} |")
        print(f"| certified vertices == fp32 vertices | {c['vertices_equal_fp32']} ({c['mismatch_systems']} systems "
              "differ) |")
        print(f"| fp32 evaluated (picked near the hull, or audited) | {c['fp32_reevaluated_fraction']:.1%} |")
        print(f"| audit: points, exceeded, 95% bound; seconds (share) | {a['points']:,}, {a['exceeded']}, "
              f"{a['bound95']:.2g}; {a['seconds']:.1f} ({a['share_of_screen']:.1%}) |")
    print(f"\nwrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller samples")
    ap.add_argument("--anchor-systems", type=int, default=None, help="binaries run through the plain pipeline")
    ap.add_argument("--ternary-systems", type=int, default=None, help="ternaries screened (extrapolated)")
    ap.add_argument("--full", action="store_true", help="screen all 102,340 ternaries (minutes)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    ap.add_argument("--certified", action="store_true",
                    help="with --ternary-only: also screen the same ternaries in certified bf16 and compare the vertices")
    ap.add_argument("--ternary-only", action="store_true",
                    help="only the ternary screen (with --full: all of them, through screen()); "
                         "writes results/screen_ternary.json")
    args = ap.parse_args()
    if args.ternary_only:
        return ternary_only(args.full, args.ternary_systems or 5000, args.certified)
    n_anchor = args.anchor_systems or (100 if args.quick else 400)
    n_tern = 102_340 if args.full else (args.ternary_systems or (1000 if args.quick else 5000))

    model = load_pretrained()
    eng = InferenceEngine(model)
    dense = InferenceEngine(model, backend="onednn")
    rates = gemm_rates(model, DEFAULT_CHUNK, 3)
    all_bin = systems(2)
    grid2 = uniform_grid(2, 100)
    n_pred_bin = len(all_bin) * 99

    # same systems, taking turns: the plain pipeline against the engine (+ hulls, certification)
    pick = all_bin[:: max(1, len(all_bin) // n_anchor)][:n_anchor]
    calibrated, t_cal = None, 0.0
    if BF16:
        cal = Certifier(eng)
        calibrated = cal.calibrate(all_bin, grid2[1:-1])
        # what the calibration adds to a certified screen: its sample in fp32 (its bf16 energies come
        # from the screen's own pass, which screen() keeps for its blocks)
        q = np.random.default_rng(0).choice(n_pred_bin, cal.n_calibrated, replace=False)
        t = time.perf_counter()
        eng.predict_pairs(all_bin, grid2[1:-1], q // 99, q % 99, "fp32")
        t_cal = time.perf_counter() - t
    best = interleaved(model, eng, dense, pick, grid2, calibrated, n_pred_bin, 2 if args.quick else 3)
    per_system = {k: v / len(pick) for k, v in best.items() if k != "audit"}
    per_system["bf16_certified"] += t_cal / len(all_bin)  # the calibration, spread over a full screen
    speedup = {k: per_system["anchor"] / v for k, v in per_system.items() if k != "anchor"}

    # hullpack, all binaries, through screen() (tables included, DFT comparison off)
    t_def, r_def = timed_screen(model)
    if BF16:
        t_raw, r_raw = timed_screen(model, precision="bf16-uncertified")
        t_bf16, r_bf16 = timed_screen(model, precision="bf16")
        r_fp32 = r_def if r_def.config["precision"] == "fp32" else timed_screen(model, precision="fp32")[1]
        same = same_vertices(r_bf16, r_fp32)
        audit_bin = audit_summary(r_bf16)
    t0 = time.perf_counter()
    r_dft = screen(model, progress=False, **PINNED[2])
    t_with_dft = time.perf_counter() - t0

    # ternaries (a contiguous slice of the table unless --full, so sharing fewer edges than the
    # whole screen does), extrapolated per system: the default, then certified bf16
    shard3 = None if args.full else f"0/{max(1, 102_340 // n_tern)}"
    t = time.perf_counter()
    r3 = screen(model, order=3, compare_dft=False, progress=False, **PINNED[3], shard=shard3)
    t_tern = time.perf_counter() - t
    if BF16:
        t = time.perf_counter()
        r3c = screen(model, order=3, precision="bf16", compare_dft=False, progress=False, **PINNED[3], shard=shard3)
        t_tern_c = time.perf_counter() - t

    mem = []
    if not args.no_memory:
        for n in ((36, 4, 1) if not args.quick else (36, 1)):
            mem.append(peak_rss(n))
        for n in ((89, 20, 5) if not args.quick else (89,)):  # 1,150 / 5,117 / 20,468: whole blocks
            mem.append(peak_rss(n, order=3))

    anchor_all = per_system["anchor"] * len(all_bin)
    result = {
        "gemm_gflops": rates,
        "default": {"precision": r_def.config["precision"], "fp32_kernel": r_def.config["fp32_kernel"]},
        "same_systems": {"systems": int(len(pick)), "seconds_best": best, "calibration_fp32_seconds": t_cal,
                         "audit_share_of_certified": best["audit"] / best["bf16_certified"],
                         "seconds_per_system": per_system, "speedup_vs_anchor": speedup},
        "binaries": {"systems": int(len(all_bin)), "points": 101, "predictions": n_pred_bin,
                     "seconds_default": t_def, "seconds_default_with_dft": t_with_dft,
                     "anchor_seconds_extrapolated": anchor_all, "speedup_default": anchor_all / t_def,
                     "us_per_prediction": {"default": 1e6 * t_def / n_pred_bin}},
        "ternaries": {"systems_screened": int(len(r3.systems)), "points": 231, "full_run": bool(args.full),
                      "seconds_default": t_tern, "seconds_all_extrapolated": extrapolated(r3, t_tern, 102_340),
                      "time_split": time_split(r3)},
        "peak_rss": mem,
        "dft_summary": r_dft.summary(),
    }
    if BF16:
        result["binaries"].update({
            "seconds_bf16_certified": t_bf16, "seconds_bf16_uncertified": t_raw,
            "speedup_bf16_certified": anchor_all / t_bf16, "fp32_reevaluated": int(r_bf16.systems["n_fp32"].sum()),
            "audit": audit_bin, "certified_vertices_equal_fp32": bool(same),
            "uncertified_vertex_mismatch_systems": len(differing(r_raw, r_fp32))})
        result["binaries"]["us_per_prediction"]["bf16"] = 1e6 * t_raw / n_pred_bin
        result["ternaries"].update({
            "seconds_bf16_certified": t_tern_c, "bf16_certified_all_extrapolated": extrapolated(r3c, t_tern_c, 102_340),
            "fp32_reevaluated_fraction": r3c.stats["n_fp32"] / r3c.stats["n_predictions"],
            "audit": audit_summary(r3c), "certified_vertices_equal_fp32": same_vertices(r3c, r3)})
    else:
        result["bf16_screens"] = "left out: this CPU has no bf16 arithmetic (torch emulates it; see gemm_gflops)"
    path = save("screen" + SUFFIX, result)
    b, t3 = result["binaries"], result["ternaries"]
    d = result["default"]
    print(f"default precision here: {d['precision']} ({d['fp32_kernel']})\n")
    print("| measure | hullpack | anchor (same run) | ratio |\n|---|---|---|---|")
    print(f"| {len(pick)} binaries x 101 points, taking turns, best of runs (s) | default {best['fp32']:.2f} | "
          f"plain PyTorch fp32 + scipy {best['anchor']:.2f} | {speedup['fp32']:.1f}x |")
    if not BF16:
        print(f"| same systems: fp32 through oneDNN (s) | {best['fp32_onednn']:.2f} | | {speedup['fp32_onednn']:.1f}x |")
        print(f"| all 3,655 binaries x 101 points, screen() default (s) | {t_def:.2f} | "
              f"{anchor_all:.1f} (per-system, extrapolated) | {b['speedup_default']:.1f}x |")
        print(f"| all 102,340 ternaries x 231 points, default (s) | {t3['seconds_all_extrapolated']:.0f} "
              f"({'full run' if args.full else 'from ' + format(t3['systems_screened'], ',')}) | | target 300 |")
        print(f"| binaries with the DFT comparison, default (s) | {t_with_dft:.1f} | | |")
        print(f"| matmul of ElemNet's shapes (GFLOP/s): bf16 (emulated), fp32 (torch / oneDNN) | {best_bf16(rates):.0f}, "
              f"{rates['fp32']:.0f} / {rates['fp32_onednn']:.0f} | | |")
        print_memory(mem)
        print(f"\nbf16 screens left out: no bf16 arithmetic on this CPU\nwrote {path}")
        return
    print(f"| same systems: fp32 through oneDNN / certified bf16 / uncertified bf16 (s) | "
          f"{best['fp32_onednn']:.2f} / {best['bf16_certified']:.2f} / {best['bf16_uncertified']:.2f} | | "
          f"{speedup['fp32_onednn']:.1f}x / {speedup['bf16_certified']:.1f}x / {speedup['bf16_uncertified']:.1f}x |")
    print(f"| all 3,655 binaries x 101 points, screen() default (s) | {t_def:.2f} | "
          f"{anchor_all:.1f} (per-system, extrapolated) | {b['speedup_default']:.1f}x |")
    print(f"| same, certified bf16 / uncertified bf16 (s) | {t_bf16:.2f} / {t_raw:.2f} | | "
          f"{b['speedup_bf16_certified']:.1f}x / {anchor_all / t_raw:.1f}x |")
    print(f"| certified bf16: points evaluated in fp32 (near the hull, or audited) | {b['fp32_reevaluated']:,} of "
          f"{n_pred_bin:,} | | {b['fp32_reevaluated'] / n_pred_bin:.0%} |")
    print(f"| certified bf16 audit, all binaries: points, exceeded, 95% bound; seconds (share) | "
          f"{audit_bin['points']:,}, {audit_bin['exceeded']}, {audit_bin['bound95']:.2g}; "
          f"{audit_bin['seconds']:.2f} ({audit_bin['share_of_screen']:.1%}) | | |")
    print(f"| certified vertices == fp32 vertices | {b['certified_vertices_equal_fp32']} | uncertified bf16 differs "
          f"in {b['uncertified_vertex_mismatch_systems']} systems | |")
    print(f"| all 102,340 ternaries x 231 points, default (s) | {t3['seconds_all_extrapolated']:.0f} "
          f"({'full run' if args.full else 'from ' + format(t3['systems_screened'], ',')}) | | target 300 |")
    a3 = t3["audit"]
    print(f"| same, certified bf16 (s); audit points, exceeded, seconds (share) | "
          f"{t3['bf16_certified_all_extrapolated']:.0f}; {a3['points']:,}, {a3['exceeded']}, {a3['seconds']:.2f} "
          f"({a3['share_of_screen']:.1%}) | vertices == fp32: {t3['certified_vertices_equal_fp32']} | |")
    print(f"| binaries with the DFT comparison, default (s) | {t_with_dft:.1f} | | |")
    print(f"| matmul of ElemNet's shapes (GFLOP/s): bf16, fp32 (torch / oneDNN) | {best_bf16(rates):.0f}, "
          f"{rates['fp32']:.0f} / {rates['fp32_onednn']:.0f} | | |")
    print_memory(mem)
    print(f"\nwrote {path}")


def print_memory(mem: list) -> None:
    for m in mem:
        print(f"| peak RSS, {m['systems']:,} {'binaries' if m['order'] == 2 else 'ternaries'} (MiB) | "
              f"{m['rss_mib']:.0f} | after imports: {m['rss_after_imports_mib']:.0f} | |")


if __name__ == "__main__":
    main()
