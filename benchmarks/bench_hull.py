"""Speed of hullpack's hull kernels, with pymatgen and scipy measured in the same run.

Systems: every binary of ElemNet's 86 elements at step 0.01 (3,655 systems x 101 points), every
ternary at step 0.05 (102,340 systems x 231 points), and every quaternary of the ten elements
Li Fe Mn Co Ni O P S F Al at step 0.05 (210 systems x 1,771 points; the N-dimensional kernel), with
realistic formation energies: a regular-solution bowl per system (pair interaction parameters from
-2 to +0.5 eV/atom, so some systems have no compound below the references), an asymmetric term and
20 meV/atom of noise.

* hullpack: ``hull_batch`` over all systems of an order in one call (shared grid layout; energies
  above hull and vertices, no decompositions), with all threads and with one thread;
* anchor 1: pymatgen ``PhaseDiagram`` (references at 0 eV/atom) + ``get_e_above_hull`` for every
  point, on a sample of systems (entries built beforehand, outside the timing), per system;
* anchor 2: scipy ``ConvexHull`` of the lifted points with the references, lower facets, energy
  above hull as the largest lower-facet plane under each point (numpy), on a sample, per system.

The sampled systems are also checked against pymatgen (energy above hull, stable set). For the
quaternaries also the vertex depths (``depth=True``) against lifting each vertex out of the way and
reading its energy above hull (one hull per vertex, the screening's former way), on a sample.

Also the first-layer gather (``hullpack.compositions.first_layer``, ElemNet's first layer: 86 -> 1024)
for 65,536 ternary (system, grid point) pairs, fp32 and bf16 output, against the dense anchor: build
the 86-wide float32 inputs and run ``torch.addmm`` (bias + x @ W.T).

    python benchmarks/bench_hull.py              # all systems (a few minutes on 2 cores)
    python benchmarks/bench_hull.py --quick      # 10,000 ternaries, smaller samples

Writes benchmarks/results/hull.json and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

from _common import save
from hullpack.compositions import grid_fractions, systems, uniform_grid
from hullpack.hull import hull_batch

ELEMENTS = ("Fe", "Ni", "Al", "Cu")
QUATERNARY_ELEMENTS = "Li Fe Mn Co Ni O P S F Al"


def energies(fractions: np.ndarray, n_sys: int, rng) -> np.ndarray:
    """(n_sys, n_points) formation energies: a regular-solution bowl with noise per system."""
    k = fractions.shape[1]
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    mix = np.stack([fractions[:, i] * fractions[:, j] for i, j in pairs], axis=1)   # (n_pts, n_pairs)
    omega = rng.uniform(-2.0, 0.5, size=(n_sys, len(pairs)))
    asym = rng.uniform(-0.5, 0.5, size=(n_sys, 1)) * (fractions[:, 0] - fractions[:, 1])[None, :] * mix[:, 0][None, :]
    e = 4 * omega @ mix.T + asym
    e += rng.normal(0.0, 0.02, size=e.shape)
    e[:, fractions.max(axis=1) == 1] = 0.0  # the pure elements are the references
    return e


def time_hullpack(grid_f, e, threads, repeat):
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        out = hull_batch(grid_f, e, decomposition=False, threads=threads, progress_bar=False)
        best = min(best, time.perf_counter() - t)
    return best, out


def pymatgen_sample(grid_f, e_rows):
    """Seconds per system, and the pymatgen energies above hull / stable masks of the sample."""
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    k = grid_f.shape[1]
    inner = grid_f.max(axis=1) < 1
    comps = [Composition({ELEMENTS[j]: f[j] for j in range(k) if f[j] > 0}) for f in grid_f[inner]]
    refs = [PDEntry(Composition({el: 1}), 0.0) for el in ELEMENTS[:k]]
    samples = [[PDEntry(c, float(en) * c.num_atoms) for c, en in zip(comps, row[inner])] for row in e_rows]
    e_above, stable = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        for entries in samples:
            pd = PhaseDiagram(refs + entries)
            e_above.append([pd.get_e_above_hull(x) for x in entries])
            st = {id(x) for x in pd.stable_entries}
            stable.append([id(x) in st for x in entries])
        seconds = time.perf_counter() - t
    return seconds / len(samples), np.array(e_above), np.array(stable), inner


def scipy_sample(grid_f, e_rows):
    """Seconds per system of a scipy lower hull + energy above hull, and its energies above hull."""
    from scipy.spatial import ConvexHull

    k = grid_f.shape[1]
    xy = grid_f[:, 1:]
    ref_xy = np.eye(k)[:, 1:]
    out = []
    t = time.perf_counter()
    for row in e_rows:
        pts = np.vstack([np.c_[ref_xy, np.zeros(k)], np.c_[xy, row]])
        hull = ConvexHull(pts)
        eq = hull.equations[hull.equations[:, -2] < -1e-12]          # lower facets: normal points down
        planes = -(eq[:, :-2] @ xy.T + eq[:, -1:]) / eq[:, -2:-1]     # (facets, points) plane heights
        out.append(row - planes.max(axis=0))
    seconds = time.perf_counter() - t
    return seconds / len(e_rows), np.array(out)


def lifted_depth_sample(grid_f, e, is_vertex, rows):
    """Seconds per system of the vertex depths by lifting (one hull per vertex), and the depths."""
    lift = 1e3
    t = time.perf_counter()
    depth = np.full((len(rows), e.shape[1]), np.nan)
    for k, s in enumerate(rows):
        p = np.flatnonzero(is_vertex[s])
        lifted = np.repeat(e[s:s + 1], len(p), axis=0)
        lifted[np.arange(len(p)), p] = lift
        h = hull_batch(grid_f, lifted, decomposition=False, progress_bar=False)
        depth[k, p] = lift - h.e_above_hull[np.arange(len(p)), p] - e[s, p]
    return (time.perf_counter() - t) / len(rows), depth


def run(order, n_step, n_systems, sample, repeat, rng, elements=None):
    grid_f = grid_fractions(uniform_grid(order, n_step))
    table = systems(order, elements)[:n_systems]
    e = energies(grid_f, len(table), rng)
    threads = os.cpu_count()
    t_all, out = time_hullpack(grid_f, e, None, repeat)
    sub = e[: min(len(e), 20_000)]
    t_one, _ = time_hullpack(grid_f, sub, 1, repeat)
    pick = rng.choice(len(e), size=sample, replace=False)
    t_pmg, pmg_e, pmg_stable, inner = pymatgen_sample(grid_f, e[pick])
    t_scipy, scipy_e = scipy_sample(grid_f, e[pick])
    ours = out.e_above_hull[pick][:, inner]
    row = dict(
        order=order, systems=len(table), points=len(grid_f), threads=threads,
        hullpack_seconds=t_all, hullpack_us_per_system=1e6 * t_all / len(table),
        hullpack_1thread_us_per_system=1e6 * t_one / len(sub),
        pymatgen_us_per_system=1e6 * t_pmg, scipy_us_per_system=1e6 * t_scipy, sample=sample,
        mean_vertices=float(out.n_vertices.mean()),
        max_abs_diff_vs_pymatgen=float(np.abs(ours - pmg_e).max()),
        same_stable_sets_vs_pymatgen=int((out.is_vertex[pick][:, inner] == pmg_stable).all(axis=1).sum()),
        max_abs_diff_vs_scipy=float(np.abs(out.e_above_hull[pick] - np.maximum(scipy_e, 0)).max()),
    )
    if order >= 4:  # vertex depths: with the hulls (depth=True) against one lifted hull per vertex
        t = time.perf_counter()
        with_depth = hull_batch(grid_f, e, decomposition=False, depth=True, progress_bar=False)
        row["depth_extra_us_per_system"] = 1e6 * (time.perf_counter() - t - t_all) / len(table)
        t_lift, lift_depth = lifted_depth_sample(grid_f, e, out.is_vertex, pick)
        row["lifted_depth_us_per_system"] = 1e6 * t_lift
        got = with_depth.vertex_depth[pick]
        row["max_abs_diff_depth_vs_lifted"] = float(np.nanmax(np.abs(got - lift_depth)))
    row["speedup_vs_pymatgen"] = row["pymatgen_us_per_system"] / row["hullpack_us_per_system"]
    row["speedup_vs_pymatgen_1thread"] = row["pymatgen_us_per_system"] / row["hullpack_1thread_us_per_system"]
    row["speedup_vs_scipy"] = row["scipy_us_per_system"] / row["hullpack_us_per_system"]
    row["pymatgen_extrapolated_all_seconds"] = row["pymatgen_us_per_system"] * len(table) / 1e6
    return row


def gather(n_pairs, repeat, rng):
    """Seconds of the first-layer gather (fp32, bf16) and of dense inputs + torch.addmm."""
    import torch

    from hullpack.compositions import first_layer

    table_, grid = systems(3), uniform_grid(3, 20)
    w = torch.from_numpy(rng.normal(0, 0.1, size=(1024, 86)).astype(np.float32))
    b = torch.from_numpy(rng.normal(0, 0.1, size=1024).astype(np.float32))
    wt = w.T.contiguous().numpy()
    start = 1_000_003
    out32 = np.empty((n_pairs, 1024), np.float32)
    out16 = np.empty((n_pairs, 1024), np.uint16)
    frac = torch.from_numpy(grid_fractions(grid).astype(np.float32))

    def dense():
        q = torch.arange(start, start + n_pairs)
        s, p = q // len(grid), q % len(grid)
        x = torch.zeros(n_pairs, 86)
        x.scatter_(1, torch.from_numpy(table_)[s].long(), frac[p])
        return torch.addmm(b, x, w.T)

    def best(fn):
        t_best = np.inf
        for _ in range(repeat + 1):  # the first run warms up
            t = time.perf_counter()
            fn()
            t_best = min(t_best, time.perf_counter() - t)
        return t_best

    t32 = best(lambda: first_layer(table_, grid, wt, b.numpy(), start, n_pairs, out=out32))
    t16 = best(lambda: first_layer(table_, grid, wt, b.numpy(), start, n_pairs, out=out16, dtype="bfloat16"))
    with torch.no_grad():
        td = best(dense)
        err = float((dense() - torch.from_numpy(out32)).abs().max())
    return dict(pairs=n_pairs, width=1024, gather_fp32_seconds=t32, gather_bf16_seconds=t16,
                dense_addmm_seconds=td, speedup_fp32=td / t32, speedup_bf16=td / t16, max_abs_diff=err,
                torch_threads=torch.get_num_threads())


def gather_table(g):
    mp = g["pairs"] / 1e6
    return "\n".join([
        "| first layer, 65,536 pairs x 1024 | seconds | pairs/s | vs dense |",
        "|---|---:|---:|---:|",
        f"| dense 86-wide inputs + torch.addmm (anchor) | {g['dense_addmm_seconds']:.4f} | "
        f"{mp / g['dense_addmm_seconds']:.2f} M | 1.0× |",
        f"| hullpack gather, fp32 | {g['gather_fp32_seconds']:.4f} | {mp / g['gather_fp32_seconds']:.2f} M | "
        f"{g['speedup_fp32']:.1f}× |",
        f"| hullpack gather, bf16 | {g['gather_bf16_seconds']:.4f} | {mp / g['gather_bf16_seconds']:.2f} M | "
        f"{g['speedup_bf16']:.1f}× |",
        "",
        f"max |gather - dense| = {g['max_abs_diff']:.1e}",
    ])


def table(rows):
    lines = ["| systems | points | hullpack, all systems | per system | 1 thread | pymatgen per system | "
             "scipy per system | vs pymatgen | vs scipy | vertices | agree with pymatgen |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        name = {2: "binaries", 3: "ternaries", 4: "quaternaries"}[r["order"]]
        lines.append(
            f"| {r['systems']:,} {name} | {r['points']} | {r['hullpack_seconds']:.2f} s ({r['threads']} threads) | "
            f"{r['hullpack_us_per_system']:.1f} µs | {r['hullpack_1thread_us_per_system']:.1f} µs | "
            f"{r['pymatgen_us_per_system'] / 1e3:.1f} ms | {r['scipy_us_per_system']:.0f} µs | "
            f"{r['speedup_vs_pymatgen']:,.0f}× ({r['speedup_vs_pymatgen_1thread']:,.0f}× on 1 thread) | "
            f"{r['speedup_vs_scipy']:.1f}× | {r['mean_vertices']:.1f} | "
            f"{r['same_stable_sets_vs_pymatgen']}/{r['sample']} stable sets, max Δ {r['max_abs_diff_vs_pymatgen']:.1e} eV |")
    for r in rows:
        if "depth_extra_us_per_system" in r:
            lines += ["", f"Vertex depths of the {r['systems']} quaternaries: {r['depth_extra_us_per_system'] / 1e3:.1f} ms "
                      f"per system on top of the hulls with depth=True, against "
                      f"{r['lifted_depth_us_per_system'] / 1e3:.0f} ms per system by lifting each vertex "
                      f"({r['lifted_depth_us_per_system'] / max(r['depth_extra_us_per_system'], 1e-9):.0f}×; "
                      f"max Δ {r['max_abs_diff_depth_vs_lifted']:.1e} eV)."]
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="10,000 ternaries, 10-system anchor samples")
    ap.add_argument("--sample", type=int, default=20, help="systems timed with pymatgen and scipy per order")
    ap.add_argument("--sample4", type=int, default=6, help="quaternaries timed with pymatgen and scipy "
                    "(pymatgen takes seconds per system)")
    ap.add_argument("--repeat", type=int, default=1, help="hullpack timings keep the best of this many runs")
    args = ap.parse_args(argv)
    n_ternary = 10_000 if args.quick else None
    sample = 10 if args.quick else args.sample
    rng = np.random.default_rng(0)
    rows = []
    print("binaries ...", flush=True)
    rows.append(run(2, 100, None, sample, args.repeat, rng))
    print("ternaries ...", flush=True)
    rows.append(run(3, 20, n_ternary, sample, args.repeat, rng))
    print("quaternaries ...", flush=True)
    rows.append(run(4, 20, None, 3 if args.quick else args.sample4, args.repeat, rng, QUATERNARY_ELEMENTS))
    print("first-layer gather ...", flush=True)
    g = gather(65_536, max(args.repeat, 3), rng)
    out = save("hull", dict(rows=rows, first_layer_gather=g))
    print("\n## Hull kernels vs pymatgen PhaseDiagram and scipy ConvexHull\n")
    print(table(rows))
    print("\n## First-layer gather vs dense inputs\n")
    print(gather_table(g))
    print(f"\nload average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; wrote {out}")


if __name__ == "__main__":
    main()
