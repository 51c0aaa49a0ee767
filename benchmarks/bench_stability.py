"""Stability of every shipped OQMD compound, and the model protocol for the shipped ElemNet, with
pymatgen measured in the same run.

1. **DFT stability of all compounds**: the 341,614 OQMD compositions (train + val + test, ElemNet's
   filter -20 < dH < 5 eV/atom) each against all the others with ``hullpack.stability.stability``,
   end to end from the formulas (parse, hulls, queries, result table), on all threads and on one;
   the compiled core's share; peak memory (RSS) of the process.
2. **Anchor: pymatgen**, one ``PhaseDiagram`` per chemical space (the entries whose elements are a
   subset of the space, elements at 0 eV/atom) with ``get_e_above_hull`` and
   ``get_decomp_and_phase_separation_energy`` for the space's own compounds, timed on a sample of
   spaces of every size and extrapolated by the number of spaces of each size; the sample is checked
   against hullpack (largest difference). ``PatchedPhaseDiagram`` on all compounds of a random set of
   elements, against hullpack on the same compounds.
3. **Candidates**: 100,000 random compositions of 2-4 elements (formulas) against the OQMD reference,
   the reference built once.
4. **The model protocol** (Bartel et al. 2020): the test split's energies replaced by the shipped
   ElemNet's predictions, train + val kept as DFT, all in one set; precision, recall, F1, accuracy of
   the stable class and the decomposition-energy MAE by number of elements, beside the all-stable
   baseline; also each test compound alone against train + val.
5. **The N-dimensional path on the hull kernels' workload** (bench_hull's binaries and a sample of
   its ternaries, interior grid points): time against ``hullpack.hull.hull_batch`` (decompositions
   on), the largest difference and whether the vertices are the same.

    python benchmarks/bench_stability.py            # about 5 minutes on 2 cores
    python benchmarks/bench_stability.py --quick    # smaller pymatgen samples, no one-thread run

Writes benchmarks/results/stability.json and prints Markdown tables.
"""
from __future__ import annotations

import argparse
import resource
import time
import warnings
from itertools import combinations

import numpy as np
import pandas as pd

from _common import save
from hullpack.elemnet import load_oqmd, load_pretrained
from hullpack.elements import ELEMNET_ELEMENTS
from hullpack.stability import Reference, model_protocol, parse, stability
from hullpack.stability.protocol import fractions_matrix


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def oqmd() -> pd.DataFrame:
    parts = []
    for split in ("train", "val", "test"):
        df = load_oqmd(split)
        df["split"] = split
        parts.append(df)
    return pd.concat(parts, ignore_index=True)


def best_of(fn, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


# -- 1. all compounds ---------------------------------------------------------------------------


def all_compounds(df, repeat, one_thread):
    rss0 = peak_rss_mb()
    t_all, table = best_of(lambda: stability(df, "target", progress_bar=False), repeat)
    rss1 = peak_rss_mb()
    t = time.perf_counter()
    parsed = parse(df, "target")
    t_parse = time.perf_counter() - t
    t_build, ref = best_of(lambda: Reference._from_parsed(parsed, 1e-9, 0), repeat)
    t_query, _ = best_of(lambda: ref._hulls.query_entries(None), repeat)
    t_table, _ = best_of(lambda: ref.stability(progress_bar=False), repeat)
    out = {"n": len(df), "n_spaces": ref.n_spaces, "seconds": t_all, "seconds_parse": t_parse,
           "seconds_build": t_build, "seconds_query": t_query, "seconds_queries_and_table": t_table,
           "peak_rss_mb_before": rss0, "peak_rss_mb_after": rss1,
           "n_stable": int(table.stable.sum()),
           "stable_by_n_elements": {int(k): [int(v.sum()), int(len(v))] for k, v in table.groupby("n_elements").stable}}
    if one_thread:
        out["seconds_one_thread"], _ = best_of(lambda: stability(df, "target", threads=1, progress_bar=False), 1)
        out["seconds_core_one_thread"] = (
            best_of(lambda: Reference._from_parsed(parsed, 1e-9, 1), 1)[0]
            + best_of(lambda: ref._hulls.query_entries(None, n_threads=1), 1)[0])
    return out, table, parsed


# -- 2. pymatgen ----------------------------------------------------------------------------------


def spaces_of(parsed):
    """Entries (row positions) per element set, and each row's element set."""
    off, el = parsed.offsets, parsed.elements
    keys = [frozenset(el[off[r]:off[r + 1]].tolist()) for r in range(len(parsed))]
    by_space: dict[frozenset, list[int]] = {}
    for r, k in enumerate(keys):
        by_space.setdefault(k, []).append(r)
    return by_space


def pd_entries(parsed, rows, energies):
    from pymatgen.analysis.phase_diagram import PDEntry
    from pymatgen.core import Composition

    off = parsed.offsets
    out = []
    for r in rows:
        comp = Composition({ELEMNET_ELEMENTS[e]: f for e, f in zip(parsed.elements[off[r]:off[r + 1]],
                                                                   parsed.fractions[off[r]:off[r + 1]])})
        out.append(PDEntry(comp, float(energies[r]), name=str(r)))
    return out


def exact_hull(parsed, key, by_space, row) -> float:
    """The lower hull of the other compositions at ``row``'s composition by scipy's HiGHS LP: the
    referee where pymatgen's SLSQP decomposition energy and hullpack differ."""
    from scipy.optimize import linprog

    off = parsed.offsets
    els = sorted(key)
    rows = [r for m in range(1, len(els) + 1) for sub in combinations(els, m) for r in by_space.get(frozenset(sub), [])
            if r != row]
    x = np.zeros((len(els) + len(rows), len(els)))
    x[np.arange(len(els)), np.arange(len(els))] = 1.0
    for j, r in enumerate(rows):
        for e, f in zip(parsed.elements[off[r]:off[r + 1]], parsed.fractions[off[r]:off[r + 1]]):
            x[len(els) + j, els.index(e)] = f
    target = np.zeros(len(els))
    for e, f in zip(parsed.elements[off[row]:off[row + 1]], parsed.fractions[off[row]:off[row + 1]]):
        target[els.index(e)] = f
    same = np.abs(x - target).max(axis=1) <= 1e-9  # the other compositions only
    c = np.r_[np.zeros(len(els)), parsed.energies[rows]]
    res = linprog(c[~same], A_eq=x[~same].T, b_eq=target, bounds=(0, None), method="highs")
    return float(res.fun)


def pymatgen_spaces(parsed, table, per_order, rng):
    """Seconds per space by size (PhaseDiagram + both methods for the space's own compounds), the
    extrapolation to every space, and the largest differences from hullpack on the sample (where a
    decomposition energy differs by more than 1e-6, scipy's exact LP decides)."""
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    by_space = spaces_of(parsed)
    energies = parsed.energies
    n_el = np.diff(parsed.offsets)
    sizes = pd.Series({k: len(k) for k in by_space})
    result = {}
    worst_e, worst_d, worst_exact, off_by, n_checked = 0.0, 0.0, 0.0, [], 0
    ours_e, ours_d = table.e_above_hull.to_numpy(), table.decomposition_energy.to_numpy()
    for m, n_spaces in sizes.value_counts().sort_index().items():
        keys = list(sizes[sizes == m].index)
        pick = [keys[i] for i in rng.choice(len(keys), min(per_order.get(m, 5), len(keys)), replace=False)]
        seconds = []
        for key in pick:
            rows = [r for sub_m in range(2, m + 1) for sub in combinations(sorted(key), sub_m)
                    for r in by_space.get(frozenset(sub), [])]
            entries = pd_entries(parsed, rows, energies)
            refs = [PDEntry(Composition(ELEMNET_ELEMENTS[e]), 0.0) for e in key]
            own = [(e, r) for e, r in zip(entries, rows) if n_el[r] == m]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = time.perf_counter()
                phase = PhaseDiagram(refs + entries)
                e_above = [phase.get_e_above_hull(e) for e, _ in own]
                d_energy = [phase.get_decomp_and_phase_separation_energy(e)[1] for e, _ in own]
                seconds.append(time.perf_counter() - t)
            for (_, r), ea, de in zip(own, e_above, d_energy):
                n_checked += 1
                worst_e = max(worst_e, abs(ea - ours_e[r]))
                worst_d = max(worst_d, abs(de - ours_d[r]))
                if abs(de - ours_d[r]) > 1e-6:
                    exact = energies[r] - exact_hull(parsed, key, by_space, r)
                    worst_exact = max(worst_exact, abs(exact - ours_d[r]))
                    off_by.append({"formula": str(table.formula.iloc[r]), "pymatgen": de, "hullpack": float(ours_d[r]),
                                   "exact_lp": exact})
        result[int(m)] = {"n_spaces": int(n_spaces), "sampled": len(pick), "seconds_per_space": float(np.mean(seconds)),
                          "extrapolated_seconds": float(np.mean(seconds) * n_spaces)}
    total = sum(v["extrapolated_seconds"] for v in result.values())
    return {"by_n_elements": result, "extrapolated_seconds": total, "n_compounds_checked": n_checked,
            "max_abs_difference_e_above_hull": worst_e, "max_abs_difference_decomposition_energy": worst_d,
            "decomposition_energy_over_1e-6": off_by, "max_abs_difference_from_exact_lp_there": worst_exact}


def patched(parsed, n_elements, rng):
    """PatchedPhaseDiagram on all compounds within a random set of elements, and hullpack on the same."""
    from pymatgen.analysis.phase_diagram import PatchedPhaseDiagram, PDEntry
    from pymatgen.core import Composition

    chosen = set(rng.choice(len(ELEMNET_ELEMENTS), n_elements, replace=False).tolist())
    off = parsed.offsets
    rows = [r for r in range(len(parsed)) if set(parsed.elements[off[r]:off[r + 1]].tolist()) <= chosen]
    entries = pd_entries(parsed, rows, parsed.energies)
    refs = [PDEntry(Composition(ELEMNET_ELEMENTS[e]), 0.0) for e in sorted(chosen)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        ppd = PatchedPhaseDiagram(refs + entries)
        e_above = np.array([ppd.get_e_above_hull(e) for e in entries])
        d_energy = np.array([ppd.get_decomp_and_phase_separation_energy(e)[1] for e in entries])
        t_pmg = time.perf_counter() - t
    sub = parsed.take(rows)
    t_ours, table = best_of(lambda: Reference._from_parsed(sub, 1e-9, 0).stability(progress_bar=False), 3)
    return {"elements": [ELEMNET_ELEMENTS[e] for e in sorted(chosen)], "n_compounds": len(rows),
            "n_spaces": len(ppd.pds), "seconds_pymatgen": t_pmg, "seconds_hullpack": t_ours,
            "speedup": t_pmg / t_ours,
            "max_abs_difference": float(max(np.abs(e_above - table.e_above_hull.to_numpy()).max(),
                                            np.abs(d_energy - table.decomposition_energy.to_numpy()).max()))}


# -- 3. candidates ----------------------------------------------------------------------------------


def candidates(parsed, n, rng):
    oqmd_t, _ = best_of(Reference.oqmd, 1)  # from the shipped files: read, parse, build
    ref_t, ref = best_of(lambda: Reference._from_parsed(parsed, 1e-9, 0), 1)
    counts = rng.integers(2, 5, n)
    formulas = []
    for m in counts:
        els = rng.choice(len(ELEMNET_ELEMENTS), m, replace=False)
        amounts = rng.integers(1, 7, m)
        formulas.append("".join(f"{ELEMNET_ELEMENTS[e]}{a}" for e, a in zip(els, amounts)))
    energies = rng.uniform(-3.0, 0.5, n)
    t_all, table = best_of(lambda: ref.evaluate(formulas, energies, progress_bar=False, errors="ignore"), 3)
    cand = parse(formulas, energies)
    arrays = cand.core_arrays(np.arange(n))
    t_core, _ = best_of(lambda: ref._hulls.query(*arrays), 3)
    return {"n": n, "seconds_reference_oqmd": oqmd_t, "seconds_reference_build": ref_t, "seconds": t_all,
            "seconds_core": t_core,
            "n_stable": int(table.stable.sum()), "n_bad": int(table.problem.notna().sum())}


# -- 4. the model protocol -----------------------------------------------------------------------------


def protocol(df, parsed):
    model = load_pretrained()
    test = np.flatnonzero(df["split"].to_numpy() == "test")
    t = time.perf_counter()
    predicted = model.predict(fractions_matrix(parsed, test))
    t_predict = time.perf_counter() - t
    out = {"model": {k: model.metadata.get(k) for k in ("epoch", "val_mae", "test_mae")},
           "seconds_predict": t_predict}
    for join in (True, False):
        t = time.perf_counter()
        r = model_protocol(parsed, predicted=predicted, subset=test, join=join, progress_bar=False)
        out["joined" if join else "alone"] = {"seconds": time.perf_counter() - t,
                                              "metrics": r.metrics.reset_index(names="n_elements")
                                              .astype({"n_elements": str}).to_dict(orient="records")}
    return out


# -- 5. the hull kernels' workload ----------------------------------------------------------------------


def kernels(quick, rng):
    """Interior grid points only (every element present): each system is then a chemical space of
    its own in the N-dimensional set too (edge points would be shared between ternary systems)."""
    from hullpack import _core
    from hullpack.compositions import grid_fractions, systems, uniform_grid
    from hullpack.hull import hull_batch

    from bench_hull import energies as bowl

    out = {}
    for order, step, n_sys in ((2, 100, None), (3, 20, 2000 if quick else 10000)):
        table = systems(order)
        if n_sys is not None:
            table = table[rng.choice(len(table), n_sys, replace=False)]
        grid = grid_fractions(uniform_grid(order, step))
        grid = np.ascontiguousarray(grid[(grid > 0).all(axis=1)])
        e = bowl(grid, len(table), rng)
        t_kernel, res = best_of(lambda: hull_batch(grid, e, decomposition=True, progress_bar=False), 3)
        n_pts = len(grid)
        offsets = np.arange(len(table) * n_pts + 1, dtype=np.int64) * order
        elements = np.ascontiguousarray(np.repeat(table, n_pts, axis=0).astype(np.int32).ravel())
        fractions = np.ascontiguousarray(np.tile(grid, (len(table), 1)).ravel())
        energies = np.ascontiguousarray(e.ravel())
        t_nd, r = best_of(lambda: _core.StabilityHulls(offsets, elements, fractions, energies).query_entries(None), 3)
        out[f"order_{order}"] = {
            "n_systems": len(table), "points_per_system": n_pts, "seconds_hull_batch": t_kernel, "seconds_nd": t_nd,
            "nd_over_kernel": t_nd / t_kernel,
            "max_abs_difference": float(np.abs(r["e_above_hull"] - res.e_above_hull.ravel()).max()),
            "same_vertices": bool((r["stable"] == res.is_vertex.ravel()).all())}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller pymatgen samples; no one-thread run")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    df = oqmd()
    repeat = 1 if args.quick else 2
    result = {}
    result["all"], table, parsed = all_compounds(df, repeat, one_thread=not args.quick)
    per_order = {2: 20, 3: 60, 4: 60, 5: 20, 6: 8, 7: 4} if args.quick else {2: 60, 3: 200, 4: 200, 5: 60, 6: 20, 7: 10}
    result["pymatgen"] = pymatgen_spaces(parsed, table, per_order, rng)
    result["pymatgen"]["speedup"] = result["pymatgen"]["extrapolated_seconds"] / result["all"]["seconds"]
    result["patched"] = patched(parsed, 12 if args.quick else 16, rng)
    result["candidates"] = candidates(parsed, 100_000, rng)
    result["protocol"] = protocol(df, parsed)
    result["kernels"] = kernels(args.quick, rng)
    path = save("stability", result)
    report(result)
    print(f"\nwrote {path}")


def report(r) -> None:
    a, p = r["all"], r["pymatgen"]
    print("\n| all 341,614 OQMD compounds, each against all | seconds |\n|---|---|")
    print(f"| hullpack `stability()` end to end (parse, hulls, queries, table) | {a['seconds']:.1f} |")
    print(f"| of which: parse {a['seconds_parse']:.1f}, build {a['seconds_build']:.2f}, queries "
          f"{a['seconds_query']:.2f} (core) | |")
    if "seconds_one_thread" in a:
        print(f"| hullpack, one thread | {a['seconds_one_thread']:.1f} (core {a['seconds_core_one_thread']:.2f}) |")
    print(f"| pymatgen, one PhaseDiagram per space (extrapolated from {sum(v['sampled'] for v in p['by_n_elements'].values())}"
          f" spaces) | {p['extrapolated_seconds']:.0f} ({p['speedup']:.0f}x hullpack) |")
    print(f"\npeak RSS {a['peak_rss_mb_after']:.0f} MiB (before: {a['peak_rss_mb_before']:.0f}); largest differences "
          f"from pymatgen over {p['n_compounds_checked']:,} compounds: energy above hull "
          f"{p['max_abs_difference_e_above_hull']:.1e}, decomposition energy "
          f"{p['max_abs_difference_decomposition_energy']:.1e} eV/atom ({len(p['decomposition_energy_over_1e-6'])} over "
          f"1e-6, where hullpack is {p['max_abs_difference_from_exact_lp_there']:.1e} from scipy's exact LP)")
    q = r["patched"]
    print(f"PatchedPhaseDiagram, {q['n_compounds']:,} compounds of {len(q['elements'])} elements: "
          f"{q['seconds_pymatgen']:.1f} s vs hullpack {q['seconds_hullpack']:.3f} s ({q['speedup']:.0f}x)")
    c = r["candidates"]
    print(f"100,000 candidates against OQMD: {c['seconds']:.2f} s end to end (core {c['seconds_core']:.2f} s; "
          f"the reference built once: Reference.oqmd() {c['seconds_reference_oqmd']:.1f} s, of which hulls "
          f"{c['seconds_reference_build']:.1f} s)")
    print("\n| model protocol (test split) | n | DFT-stable | precision | recall | F1 | accuracy | "
          "dH_d MAE | all-stable F1 |\n|---|---|---|---|---|---|---|---|---|")
    for m in r["protocol"]["joined"]["metrics"]:
        print(f"| {m['n_elements']} | {m['n']:,} | {m['n_stable_dft']:,} | {m['precision']:.3f} | {m['recall']:.3f} | "
              f"{m['f1']:.3f} | {m['accuracy']:.3f} | {m['mae_decomposition_energy']:.3f} | {m['baseline_f1']:.3f} |")
    for key, v in r["kernels"].items():
        print(f"{key}: N-d {v['seconds_nd']:.2f} s vs hull_batch {v['seconds_hull_batch']:.3f} s "
              f"({v['nd_over_kernel']:.0f}x slower), max difference {v['max_abs_difference']:.1e}")


if __name__ == "__main__":
    main()
