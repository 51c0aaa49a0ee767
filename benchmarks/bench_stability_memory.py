"""Peak memory of ``hullpack.stability`` on a big table: a set's own stability of 1M and 3M rows.

Rows: formulas of 2-4 elements (a few of one element) drawn from 20,000 chemical systems of 60
common elements, so each system repeats, with integer amounts 1-6 and random formation energies,
as a DataFrame (``id``, ``formula``, ``energy``) the way a user's table arrives. Each size runs in
a child process of its own, which reports the peak resident memory (VmHWM, reset between phases)
above what the table itself holds, by phase as ``stability()`` runs them:

- **parse**: ``hullpack.stability.parse`` (formulas -> fractions, names);
- **hulls**: the reference's hulls built from the parsed rows;
- **query**: every row against the hulls, and the result table;

and the result table's own size, and the seconds of each phase. ``--source DIR`` measures the
``hullpack`` package under ``DIR`` (a checkout's ``python`` folder with the compiled core beside
it), e.g. an earlier commit from ``git worktree``; ``--label`` names the record (``before``,
``after``), which is merged into the results file beside the other labels.

    python benchmarks/bench_stability_memory.py --label after                 # about 2 minutes on 2 cores
    python benchmarks/bench_stability_memory.py --rows 200000 --label quick   # seconds

Writes benchmarks/results/stability_memory.json and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ELEMENTS = ("H Li Be B C N O F Na Mg Al Si P S Cl K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Rb Sr Y Zr Nb "
            "Mo Ru Rh Pd Ag Cd In Sn Sb Te I Cs Ba La Ce Nd Sm Gd Hf Ta W Pt Au Bi").split()
N_SYSTEMS = 20_000


def table(n: int, seed: int = 0):
    """``n`` rows: ``id``, ``formula`` (2-4 elements, 1% elements alone), ``energy`` (eV/atom)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    symbols = np.array(ELEMENTS, dtype=object)
    size = rng.choice([2, 3, 4], N_SYSTEMS, p=[0.3, 0.45, 0.25])
    systems = np.array([rng.choice(len(ELEMENTS), 4, replace=False) for _ in range(N_SYSTEMS)])
    pick = rng.integers(0, N_SYSTEMS, n)
    k = np.where(rng.random(n) < 0.01, 1, size[pick])
    amounts = rng.integers(1, 7, (n, 4))
    text = np.full(n, "", dtype=object)
    for j in range(4):
        part = symbols[systems[pick, j]] + np.where(amounts[:, j] == 1, "", amounts[:, j].astype(str)).astype(object)
        text = np.where(k > j, text + part, text)
    energy = np.where(k == 1, 0.0, rng.normal(-1.0, 0.7, n))
    return pd.DataFrame({"id": [f"row-{i}" for i in range(n)], "formula": text, "energy": energy})


def _status(key: str) -> int:
    """/proc/self/status's ``key`` (VmRSS, VmHWM) in bytes."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:  # 5: reset the peak resident set to the current one
        f.write("5")


def child(n: int) -> dict:
    """One size, in this process: the phases of ``stability()`` with their peaks (MB above the
    table's baseline) and seconds."""
    import gc

    import hullpack
    from hullpack.hull import DEFAULT_TOL
    from hullpack.stability import parse
    from hullpack.stability.hulls import Reference

    df = table(n)
    gc.collect()
    base = _status("VmRSS")
    out = {"n": n, "hullpack_from": os.path.dirname(hullpack.__file__), "baseline_mb": base / 2**20}
    mb = 2.0**-20

    def phase(name: str, run):
        """``run()`` as phase ``name``: its seconds, and its peak above the table's baseline and
        above what was held when it began."""
        _reset_peak()
        held = _status("VmRSS")
        t = time.perf_counter()
        result = run()
        out[f"seconds_{name}"] = time.perf_counter() - t
        peak = _status("VmHWM")
        out[f"{name}_peak_mb"] = (peak - base) * mb
        out[f"{name}_peak_above_held_mb"] = (peak - held) * mb
        return result

    parsed = phase("parse", lambda: parse(df))  # progress_bar as users leave it: no bar off a terminal
    parsed.report("input", "ignore")
    out["parsed_mb"] = (_status("VmRSS") - base) * mb
    ref = phase("hulls", lambda: Reference._from_parsed(parsed, DEFAULT_TOL, None))
    result = phase("query", ref.stability)
    out["table_mb"] = float(result.memory_usage(deep=True).sum()) * mb
    out["peak_mb"] = max(out["parse_peak_mb"], out["hulls_peak_mb"], out["query_peak_mb"])
    out["n_stable"] = int(result.stable.sum())
    out["n_unique_formulas"] = int(result.formula.nunique())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=float, nargs="+", default=[1e6, 3e6])
    ap.add_argument("--label", default="after", help="the record's name in the results file")
    ap.add_argument("--source", help="measure the hullpack package under this folder (a checkout's python/)")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return

    from _common import RESULTS, _cpu, save

    env = dict(os.environ)
    if args.source:
        env["HULLPACK_BENCH_SOURCE"] = os.path.abspath(args.source)
    runs = []
    for n in (int(r) for r in args.rows):
        done = subprocess.run([sys.executable, __file__, "--child", str(n)], env=env, check=True,
                              capture_output=True, text=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(runs[-1]), file=sys.stderr)
    path = RESULTS / "stability_memory.json"
    records = json.loads(path.read_text()).get("records", {}) if path.exists() else {}
    where = args.source or os.path.dirname(os.path.abspath(__file__))
    commit = subprocess.run(["git", "-C", where, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    records[args.label] = {"cpu": _cpu().get("cpu_model"), "source": args.source or "installed",
                           "commit": commit.stdout.strip() or None, "runs": runs}
    save("stability_memory", {"records": records})
    print("| record | rows | parse peak MB | hulls peak MB | query peak MB | table MB | seconds |")
    print("|---|---|---|---|---|---|---|")
    for label, rec in records.items():
        for r in rec["runs"]:
            seconds = r["seconds_parse"] + r["seconds_hulls"] + r["seconds_query"]
            print(f"| {label} | {r['n']:,} | {r['parse_peak_mb']:.0f} | {r['hulls_peak_mb']:.0f} | "
                  f"{r['query_peak_mb']:.0f} | {r['table_mb']:.0f} | {seconds:.0f} |")


def _use_source() -> None:
    """Import ``hullpack`` from ``$HULLPACK_BENCH_SOURCE`` rather than the installed package (an
    editable install's finder goes first otherwise)."""
    source = os.environ.get("HULLPACK_BENCH_SOURCE")
    if source:
        sys.meta_path[:] = [f for f in sys.meta_path if "ScikitBuild" not in type(f).__name__]
        sys.path.insert(0, source)


if __name__ == "__main__":
    _use_source()
    main()
