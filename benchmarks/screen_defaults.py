"""Which grid and depth threshold a screen should use by default: precision, recall and F1 of the
predicted stable compounds against the DFT-stable compounds of the shipped OQMD data.

* binaries: all 3,655 systems; grids ``uniform:100`` (step 0.01, the default before) and
  ``reduced:N`` (every composition whose fractions have denominators up to N) for N in 4, 6, 8, 10,
  12, 20;
* ternaries: the 1,140 systems of the 20 elements with the most DFT-stable ternary compounds in
  the data (computed here, listed in the output); grids ``uniform:20`` (step 0.05, the default
  before) and ``reduced:N`` for N in 6, 8, 10, 12;
* depth thresholds 0, 5, 10, 25, 50, 100 meV/atom: one screen per grid with ``min_depth=0`` (every
  hull vertex and its depth below the hull of the other points), then each threshold applied to
  those depths, which is what ``screen(min_depth=t)`` counts;
* the shipped model at the default precision (fp32 on CPU: ``config["precision"]`` is saved); the DFT side is
  :func:`hullpack.screening.dft.compare_block`, what a screen's summary reports: a predicted
  stable compound matches a DFT-stable one (a vertex of the DFT hull of all known compounds of its
  elements) when their fractions differ by at most ``TOL`` = 0.005, the same for every grid (the
  same stoichiometry, up to the 0.01 step of the finest grid); ``f1_own_tol`` is the F1 with the
  screen's own default ``match_tol`` (half the grid's smallest spacing: 0.025 for ``uniform:20``,
  0.042 for ``reduced:4``), which flatters the coarse grids.

Columns: ``reachable`` (share of the DFT-stable compounds that some grid point matches: the
recall a grid can reach), ``n_pred`` (predicted stable compounds), precision, recall, F1,
``recall_held_out`` (recall over the DFT-stable compounds in the test split, which the shipped
model never saw in training: the others were in its training data), ``stab_f1`` (the stability F1
over all known compounds, which the threshold does not change), and the screen's seconds.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/screen_defaults.py           # about 10 minutes on 2 cores
    OMP_WAIT_POLICY=PASSIVE python benchmarks/screen_defaults.py --quick   # a slice, to try the script

Writes benchmarks/results/screen_defaults.json and prints Markdown tables.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its threads

import numpy as np

from _common import save
from hullpack.compositions import grid_fractions, systems
from hullpack.elemnet import load_pretrained
from hullpack.elements import ELEMNET_ELEMENTS
from hullpack.screening import parse_shard, resolve_grid, screen
from hullpack.screening.dft import (DFTCompounds, compare_block, f1_score, load_dft, match_compositions,
                                    stable_compounds)
from hullpack.screening.engine import InferenceEngine
from hullpack.screening.hulls import corner_mask

GRIDS = {2: ["uniform:100", "reduced:4", "reduced:6", "reduced:8", "reduced:10", "reduced:12", "reduced:20"],
         3: ["uniform:20", "reduced:6", "reduced:8", "reduced:10", "reduced:12"]}
DEPTHS_MEV = (0, 5, 10, 25, 50, 100)
#: composition tolerance of a match, every grid alike
TOL = 0.005
N_TERNARY_ELEMENTS = 20


def ternary_elements(dft: DFTCompounds, n: int) -> list[str]:
    """The ``n`` elements that take part in the most DFT-stable ternary compounds (3 elements present)."""
    table = systems(3)
    s, f, _ = stable_compounds(table, dft)
    inner = (f > 1e-9).sum(axis=1) == 3
    count = np.bincount(table[s[inner]].ravel(), minlength=len(ELEMNET_ELEMENTS))
    return [ELEMNET_ELEMENTS[i] for i in np.argsort(-count, kind="stable")[:n]]


def held_out_rows(dft: DFTCompounds) -> np.ndarray:
    """Which rows of ``dft`` (all splits) are compositions of the test split."""
    test = load_dft(("test",))
    key = lambda d: {(*e, *np.round(f[:2], 6)) for e, f in zip(d.elements.tolist(), d.fractions)}  # noqa: E731
    test_keys = key(test)
    return np.array([(*e, *np.round(f[:2], 6)) in test_keys for e, f in zip(dft.elements.tolist(), dft.fractions)])


def evaluate(model, order: int, elements, spec: str, dft: DFTCompounds, held_out: np.ndarray, shard=None) -> list:
    """One screen of ``spec`` (every vertex), its metrics at each depth threshold."""
    t = time.perf_counter()
    r = screen(model, order=order, elements=elements, grid=spec, min_depth=0.0, points=True, compare_dft=False,
               progress=False, shard=shard)
    seconds = time.perf_counter() - t
    grid = resolve_grid(order, spec)
    fr = grid_fractions(grid)
    table = systems(order, elements)
    if shard is not None:  # the shard's systems, as screen() takes them
        i, k = parse_shard(shard)
        table = np.array_split(table, k)[i]
    n_sys, P = len(table), len(grid)
    energies = r.points["energy"].to_numpy().reshape(n_sys, P)
    vertex = r.points["is_vertex"].to_numpy().reshape(n_sys, P)
    depth = np.full((n_sys, P), np.nan)
    depth[vertex] = r.vertices["depth"].to_numpy()       # the vertices in np.nonzero order
    tol, own_tol = TOL, float(r.config["match_tol"])
    valid = ~r.systems["nonfinite"].to_numpy(dtype=bool)
    engine, cache = InferenceEngine(model), {}

    def model_at(rows, fractions):   # the same compositions at every threshold: predicted once
        key = (rows.tobytes(), fractions.tobytes())
        if key not in cache:
            cache[key] = engine.predict_fractions(rows, fractions)
        return cache[key]

    ds, dfr, drows = stable_compounds(table, dft)
    inner = ~corner_mask(grid)
    gs, gp = np.nonzero(np.broadcast_to(inner, (n_sys, P)))
    reachable = match_compositions(gs, fr[gp], ds, dfr, n_sys, tol)[1].mean()
    out = []
    for mev in DEPTHS_MEV:
        stable = vertex & (depth >= mev / 1000)
        c = compare_block(table, fr, energies, stable, valid, dft, model_at, match_tol=tol)
        n_pred = int(stable[valid].sum())
        precision = float(c["tp_pred"].sum() / n_pred) if n_pred else float("nan")
        recall = float(c["tp_dft"].sum() / c["n_dft_stable"].sum())
        ps, pp = np.nonzero(stable)
        matched_dft = match_compositions(ps, fr[pp], ds, dfr, n_sys, tol)[1]
        tp, fp, fn = (float(c[k].sum()) for k in ("stab_tp", "stab_fp", "stab_fn"))
        own = compare_block(table, fr, energies, stable, valid, dft, model_at, match_tol=own_tol)
        own_p = float(own["tp_pred"].sum() / max(n_pred, 1))
        own_r = float(own["tp_dft"].sum() / own["n_dft_stable"].sum())
        out.append({"order": order, "grid": spec, "screen_precision": r.config["precision"], "points": P,
                    "systems": n_sys, "match_tol": tol,
                    "own_match_tol": own_tol,
                    "f1_own_tol": 2 * own_p * own_r / (own_p + own_r) if own_p + own_r else float("nan"),
                    "reachable": float(reachable), "min_depth_mev": mev, "n_pred": n_pred,
                    "n_dft_stable": int(c["n_dft_stable"].sum()), "precision": precision, "recall": recall,
                    "f1": 2 * precision * recall / (precision + recall) if precision + recall else float("nan"),
                    "recall_held_out": float(matched_dft[held_out[drows]].mean()),
                    "n_dft_stable_held_out": int(held_out[drows].sum()),
                    "stab_f1": float(f1_score(tp, fp, fn)), "seconds_screen": seconds})
        print(f"{'binary' if order == 2 else 'ternary'} {spec} >= {mev} meV: P {precision:.3f} R {recall:.3f} "
              f"F1 {out[-1]['f1']:.3f} ({n_pred} predicted, screen {seconds:.1f} s)", flush=True)
    return out


def markdown(rows: list) -> str:
    lines = ["| order | grid | points | reachable | min depth (meV/atom) | predicted stable | precision | recall | F1 "
             "| recall, held out | F1, screen's own tolerance | stability F1 |", "|" + "---|" * 12]
    for r in rows:
        lines.append(f"| {'binary' if r['order'] == 2 else 'ternary'} | {r['grid']} | {r['points']} | "
                     f"{r['reachable']:.0%} | {r['min_depth_mev']} | {r['n_pred']:,} | {r['precision']:.3f} | "
                     f"{r['recall']:.3f} | **{r['f1']:.3f}** | {r['recall_held_out']:.3f} | {r['f1_own_tol']:.3f} | "
                     f"{r['stab_f1']:.3f} |")
    return "\n".join(lines)


def depth_bands(rows: list) -> str:
    """Precision of the predicted stable compounds by band of depth, from the cumulative counts."""
    lines = ["| order | grid | depth band (meV/atom) | compounds | matched a DFT-stable one |", "|---|---|---|---|---|"]
    for r0, r1 in zip(rows, rows[1:] + [None]):
        if r1 is not None and (r1["grid"], r1["order"]) != (r0["grid"], r0["order"]):
            r1 = None
        n0, tp0 = r0["n_pred"], r0["precision"] * r0["n_pred"]
        n1, tp1 = (r1["n_pred"], r1["precision"] * r1["n_pred"]) if r1 else (0, 0.0)
        band = f"{r0['min_depth_mev']}-{r1['min_depth_mev']}" if r1 else f">= {r0['min_depth_mev']}"
        if n0 - n1:
            lines.append(f"| {'binary' if r0['order'] == 2 else 'ternary'} | {r0['grid']} | {band} | {n0 - n1:,} | "
                         f"{(tp0 - tp1) / (n0 - n1):.0%} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a slice of the binaries and 8 ternary elements")
    args = ap.parse_args()
    model = load_pretrained()
    dft = load_dft()
    held_out = held_out_rows(dft)
    tern = ternary_elements(dft, 8 if args.quick else N_TERNARY_ELEMENTS)
    rows = []
    for spec in GRIDS[2]:
        rows += evaluate(model, 2, None, spec, dft, held_out, shard="0/8" if args.quick else None)
    for spec in GRIDS[3]:
        rows += evaluate(model, 3, tern, spec, dft, held_out)
    table, bands = markdown(rows), depth_bands(rows)
    path = save("screen_defaults", {"ternary_elements": tern, "depths_mev": list(DEPTHS_MEV), "rows": rows,
                                    "markdown": table, "markdown_depth_bands": bands, "quick": args.quick})
    print(table)
    print()
    print(bands)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
