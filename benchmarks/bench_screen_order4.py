"""Quaternary screens of the shipped ElemNet against a plain pipeline, measured in the same run.

* hullpack: ``hullpack.screening.screen(order=4)`` over every quaternary of ten elements (210
  systems) on the default grid (``reduced:10``: 831 points, 827 predicted), precision bf16
  certified in fp32 and plain fp32, without the DFT comparison, then the default screen with it;
  the certified vertices are compared with the fp32 screen's;
* the anchor, a plain pipeline: the 86-wide dense float32 inputs of every point, ``model(x)`` in
  fp32, and pymatgen's ``PhaseDiagram`` per system (its stable entries), on ``--anchor-systems``
  systems, extrapolated per system to all of them; its stable sets are checked against the fp32
  screen's vertices (all vertices: ``min_depth=0``, pymatgen's vertices more than the screen's
  hull tolerance below the hull of the others).

    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_screen_order4.py          # about two minutes on 2 cores
    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_screen_order4.py --quick  # 5 elements, 5 systems

Writes benchmarks/results/screen_order4.json and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its threads

import numpy as np
import torch

from _common import save
from hullpack.compositions import grid_fractions, systems
from hullpack.elemnet import load_pretrained
from hullpack.elements import ELEMNET_ELEMENTS
from hullpack.screening import resolve_grid, screen
from hullpack.screening.hulls import HULL_TOL, corner_mask
from hullpack.screening.names import formulas, system_names

ELEMENTS = "Li Fe Mn Co Ni O P S F Al"


def anchor(model, table, grid, vertices: set):
    """Seconds per system of the plain pipeline (predictions, ``PhaseDiagram``, its stable
    entries), and whether its stable sets equal ``vertices`` {(system, formula)}: every vertex is
    stable in pymatgen, and pymatgen's other stable entries lie within the screen's hull tolerance
    of the hull of the others (checked outside the timing: one more phase diagram per entry)."""
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    fr = grid_fractions(grid)
    inner = np.flatnonzero(~corner_mask(grid))
    names = system_names(table)
    same = True
    seconds = 0.0
    for s, els in enumerate(table):
        t = time.perf_counter()
        x = np.zeros((len(inner), 86), np.float32)
        x[:, els] = fr[inner]
        with torch.no_grad():
            e = model(torch.from_numpy(x)).numpy().astype(np.float64).reshape(-1)
        symbols = [ELEMNET_ELEMENTS[i] for i in els]
        entries = [PDEntry(Composition({el: 1}), 0.0) for el in symbols]
        for k, p in enumerate(inner):
            comp = Composition({el: int(n) for el, n in zip(symbols, grid[p]) if n})
            entries.append(PDEntry(comp, float(e[k]) * comp.num_atoms, name=str(p)))
        pd_ = PhaseDiagram(entries)
        stable = [e for e in pd_.stable_entries if len(e.composition.elements) > 1]
        seconds += time.perf_counter() - t
        found = {(names[s], formulas(table, grid, [s], [int(e.name)])[0]): e for e in stable}
        ours = {v for v in vertices if v[0] == names[s]}
        same = same and ours <= set(found) and all(
            pd_.get_phase_separation_energy(e) >= -HULL_TOL for k, e in found.items() if k not in ours)
    return seconds / len(table), same


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 elements (5 systems), 2 anchor systems")
    ap.add_argument("--anchor-systems", type=int, default=6, help="systems run through the plain pipeline")
    args = ap.parse_args(argv)
    elements = "Li Fe Mn P O" if args.quick else ELEMENTS
    n_anchor = 2 if args.quick else args.anchor_systems
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # pymatgen's, per call
    warnings.filterwarnings("ignore", category=FutureWarning)
    model = load_pretrained()
    table, grid = systems(4, elements), resolve_grid(4)
    kw = dict(order=4, elements=elements, progress=False, min_depth=0)
    screen(model, **{**kw, "elements": "Li Fe P O"}, compare_dft=False)  # warm-up: kernels, caches
    runs = {}
    for name, extra in (("bf16", {"precision": "bf16"}), ("fp32", {"precision": "fp32"})):
        t = time.perf_counter()
        runs[name] = screen(model, **kw, compare_dft=False, **extra)
        runs[name].stats["wall"] = time.perf_counter() - t
    t = time.perf_counter()
    with_dft = screen(model, **kw)
    t_dft = time.perf_counter() - t
    r16, r32 = runs["bf16"], runs["fp32"]
    pick = np.linspace(0, len(table) - 1, n_anchor).round().astype(int)
    t_anchor, anchor_same = anchor(model, table[pick], grid, set(zip(r32.vertices["system"], r32.vertices["formula"])))
    n_inner = int((~corner_mask(grid)).sum())
    row = dict(
        elements=elements, systems=int(len(table)), points=int(len(grid)), predictions=int(len(table) * n_inner),
        bf16_certified_seconds=r16.stats["wall"], fp32_seconds=r32.stats["wall"],
        bf16_inference_hull_seconds=r16.stats["seconds_screen"],
        fp32_inference_hull_seconds=r32.stats["seconds_screen"],
        with_dft_seconds=t_dft, with_dft_precision=with_dft.config["precision"], dft_seconds=with_dft.stats["seconds_dft"],
        fp32_share_certified=float(r16.stats["n_fp32"] / max(r16.stats["n_predictions"], 1)),
        certified_vertices_equal_fp32=bool(r16.vertices[["system", "formula"]].equals(r32.vertices[["system", "formula"]])),
        vertices=int(len(r32.vertices)), stable_min_depth_10mev=int((r32.vertices["depth"] >= 0.01).sum()),
        anchor_systems=int(len(pick)), anchor_seconds_per_system=t_anchor,
        anchor_seconds_extrapolated=t_anchor * len(table),
        anchor_stable_sets_equal=anchor_same,
        dft_precision=with_dft.dft_metrics()["precision"], dft_recall=with_dft.dft_metrics()["recall"],
        dft_stability_f1=with_dft.dft_metrics()["stability_f1"],
    )
    row["speedup_certified_vs_anchor"] = row["anchor_seconds_extrapolated"] / row["bf16_certified_seconds"]
    row["speedup_fp32_vs_anchor"] = row["anchor_seconds_extrapolated"] / row["fp32_seconds"]
    out = save("screen_order4", dict(rows=[row]))
    print(table_md(row))
    print(f"\nwrote {out}")


def table_md(r) -> str:
    return "\n".join([
        f"## Quaternary screen: {r['systems']} systems of {r['elements']}, {r['points']} points each "
        f"({r['predictions']:,} predictions)", "",
        "| measure | hullpack | anchor, same run | ratio |", "|---|---|---|---|",
        f"| screen, no DFT (s) | bf16 certified {r['bf16_certified_seconds']:.1f} (inference + hulls "
        f"{r['bf16_inference_hull_seconds']:.1f}; {r['fp32_share_certified']:.0%} re-evaluated in fp32) / fp32 "
        f"{r['fp32_seconds']:.1f} | dense fp32 model + pymatgen PhaseDiagram {r['anchor_seconds_extrapolated']:.0f} "
        f"({r['anchor_seconds_per_system']:.2f} s per system on {r['anchor_systems']}, extrapolated) | "
        f"{r['speedup_certified_vs_anchor']:.0f}x / {r['speedup_fp32_vs_anchor']:.0f}x |",
        f"| the default screen ({r['with_dft_precision']}) with the DFT comparison (s) | {r['with_dft_seconds']:.1f} (DFT side "
        f"{r['dft_seconds']:.1f}) | | |",
        f"| certified vertices equal to the fp32 screen's | {r['certified_vertices_equal_fp32']} "
        f"({r['vertices']:,} vertices, {r['stable_min_depth_10mev']:,} at least 10 meV deep) | stable sets equal "
        f"pymatgen's on the anchor systems: {r['anchor_stable_sets_equal']} | |",
        f"| DFT: precision / recall / stability F1 (all vertices) | {r['dft_precision']:.3f} / {r['dft_recall']:.3f} / "
        f"{r['dft_stability_f1']:.3f} | | |",
    ])


if __name__ == "__main__":
    main()
