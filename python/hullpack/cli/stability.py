"""``hullpack stability``: the stability of the compositions of a CSV file (their own, or against a
reference set), with energies from the file or from an ElemNet model. Thin: it parses, calls
:mod:`hullpack.stability`, prints a summary and writes tables and plots.

"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .common import positive_int

log = logging.getLogger(__name__)

_TOP = 10  # most stable compositions listed in the summary


NAME = "stability"
HELP = "energy above hull, decomposition energy and products of any composition"
DESCRIPTION = ("Stability of every composition of FILE (CSV or Parquet with a 'formula' column): against "
               "each other, or each against a reference set (--reference). Energies (eV/atom) come from "
               "FILE's energy/energy_per_atom/target column, or from an ElemNet model (--model). Writes "
               "stability.parquet (or .csv), summary.txt and, with --plot, one chemical space to --out.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="CSV (.csv, .csv.gz) or Parquet file with a 'formula' column")
    p.add_argument("--reference", metavar="oqmd|FILE|none", default="none",
                   help="compare each composition with this set: 'oqmd' (the shipped 341,614 OQMD compounds), "
                        "a file like FILE with energies, or 'none' (default: FILE's own stability)")
    p.add_argument("--model", metavar="default|PATH|none",
                   help="energies from this ElemNet model ('default': the shipped one) instead of FILE's "
                        "column; default: FILE's energy column if it has one, else the shipped model")
    p.add_argument("--compare", action="store_true",
                   help="with --model and FILE energies: the model protocol, FILE's DFT energies replaced by the "
                        "model's (together with --reference) and the stable sets compared")
    p.add_argument("--join", action="store_true",
                   help="with --reference: FILE's compositions also enter each other's hulls (with --compare "
                        "and no reference they always do)")
    p.add_argument("--column", help="the composition column (default 'formula' or 'composition')")
    p.add_argument("--energy-column", help="the energy column (default energy, energy_per_atom or target)")
    p.add_argument("--out", default="hullpack-stability", help="output folder (default ./hullpack-stability)")
    p.add_argument("--format", choices=("parquet", "csv", "both"), default="parquet",
                   help="table format (default parquet; csv needs no pyarrow)")
    p.add_argument("--plot", metavar="SPACE", help="draw one chemical space, e.g. Fe-O or Fe-Ni-O (4+ elements: "
                   "a table SPACE.csv)")
    p.add_argument("--tol", type=float, help="eV/atom below the hull of the other compositions to count as stable "
                   "(default 1e-9)")
    p.add_argument("--threads", type=positive_int, help="OpenMP threads (default: all cores)")


def _energy_column(df, name: str | None, what: str) -> str | None:
    from hullpack.stability.inputs import ENERGY_COLUMNS

    if name is not None:
        if name not in df.columns:
            raise ValueError(f"--energy-column {name!r}: {what} has no such column ({list(df.columns)})")
        return name
    return next((c for c in ENERGY_COLUMNS if c in df.columns), None)


def _load_model(spec: str):
    from hullpack.elemnet import load_model, load_pretrained

    return load_pretrained() if spec == "default" else load_model(spec)


def _reference(spec: str, args):
    from hullpack.stability import Reference
    from hullpack.stability.inputs import read_table

    if spec == "oqmd":
        return Reference.oqmd(tol=args.tol, threads=args.threads), "the shipped OQMD set"
    df = read_table(spec)
    return Reference(df, _energy_column(df, None, spec), column=args.column, tol=args.tol,
                     threads=args.threads), spec


def _summary_lines(table, what: str, energies: str, against: str) -> list[str]:
    ok = table["problem"].isna()
    t = table[ok]
    stable = t["stable"].astype(bool)
    lines = [f"hullpack stability: {len(table):,} compositions from {what}"
             + (f" ({int((~ok).sum()):,} bad rows, see the 'problem' column)" if (~ok).any() else ""),
             f"energies: {energies}", f"against: {against}"]
    if len(t):
        near = int((t["e_above_hull"] <= 0.025).sum())
        lines.append(f"stable: {int(stable.sum()):,} of {len(t):,} ({stable.mean():.1%}); within 25 meV/atom of the "
                     f"hull: {near:,}; median energy above hull {t['e_above_hull'].median():.3f} eV/atom")
        by = t.groupby("n_elements")["stable"].agg(["sum", "size"])
        lines.append("stable by number of elements: " + ", ".join(
            f"{k}: {int(r['sum']):,}/{int(r['size']):,}" for k, r in by.iterrows()))
        top = t.sort_values("decomposition_energy").head(_TOP)
        lines.append("lowest decomposition energies (eV/atom; negative = stable by that much):")
        width = max(7, int(top["formula"].str.len().max()))
        for _, r in top.iterrows():
            lines.append(f"  {r['formula']:<{width}} {r['chemsys']:<14} {r['decomposition_energy']:+.4f}  "
                         f"{'stable' if r['stable'] else 'above hull by %.4f' % r['e_above_hull']}  "
                         f"vs {r['decomposition']}")
    bad = table[~ok].head(5)
    for idx, r in bad.iterrows():
        lines.append(f"  bad row {idx}: {r['problem']}")
    return lines


def _write(table, out: Path, fmt: str, name: str) -> list[Path]:
    files = []
    if fmt in ("parquet", "both"):
        table.to_parquet(out / f"{name}.parquet")
        files.append(out / f"{name}.parquet")
    if fmt in ("csv", "both"):
        table.to_csv(out / f"{name}.csv")
        files.append(out / f"{name}.csv")
    return files


def run(args: argparse.Namespace) -> int:
    from hullpack.stability import parse, stability
    from hullpack.stability.inputs import read_table
    from hullpack.stability.protocol import fractions_matrix

    quiet = bool(getattr(args, "quiet", False))
    bar = False if quiet else None
    df = read_table(args.file)
    e_col = _energy_column(df, args.energy_column, args.file)
    model_spec = args.model or ("none" if e_col is not None else "default")
    if args.compare and (model_spec == "none" or e_col is None):
        raise ValueError("--compare needs DFT energies in FILE and a --model (default or PATH)")
    if model_spec == "none" and e_col is None:
        raise ValueError(f"{args.file} has no energy column (energy, energy_per_atom, target): name one with "
                         "--energy-column, or predict energies with --model default")
    if args.join and args.reference == "none":
        raise ValueError("--join needs --reference")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    reference, against = (None, "each other") if args.reference == "none" else _reference(args.reference, args)
    if reference is not None:
        against = (f"{against}: {len(reference):,} compounds in {reference.n_spaces:,} chemical spaces"
                   f" ({'together with each other' if args.join else 'each composition alone'})")
    model = None if model_spec == "none" else _load_model(model_spec)
    energies_note = f"column '{e_col}'" if model is None else f"ElemNet predictions ({model_spec})"
    files: list[Path] = []
    if args.compare:
        result = _compare(df, e_col, model, reference, args, bar)
        print(result.summary())
        files += _write(result.table, out, args.format, "protocol")
        result.metrics.to_csv(out / "metrics.csv")
        files.append(out / "metrics.csv")
        (out / "summary.txt").write_text(result.summary() + "\n")
        files.append(out / "summary.txt")
        table = None
    else:
        energies = e_col
        if model is not None:
            energies = _predict(model, parse(df, None, column=args.column, require_energies=False), fractions_matrix)
        # bad rows are listed in the summary and named in the table's 'problem' column
        table = stability(df, energies, reference=reference, join=args.join, column=args.column, tol=args.tol,
                          threads=args.threads, errors="ignore", progress_bar=bar)
        text = "\n".join(_summary_lines(table, args.file, energies_note, against))
        print(text)
        (out / "summary.txt").write_text(text + "\n")
        files += _write(table, out, args.format, "stability") + [out / "summary.txt"]
    if args.plot:
        files += _plot(args.plot, reference, df if reference is None else None, table, args, out)
    print(f"wrote {len(files)} files to {out.resolve()}")
    return 0


def _predict(model, parsed, fractions_matrix):
    import numpy as np

    rows = np.flatnonzero(parsed.valid)
    e = np.full(len(parsed), np.nan)
    if len(rows):
        e[rows] = model.predict(fractions_matrix(parsed, rows))
    return e


def _compare(df, e_col, model, reference, args, bar):
    """The model protocol: FILE's rows get the model's energies, the reference (if any) keeps its own."""
    import numpy as np

    from hullpack.stability import Parsed, model_protocol, parse

    own = parse(df, e_col, column=args.column)
    common = dict(model=model, tol=args.tol, threads=args.threads, errors="ignore", progress_bar=bar)
    if reference is None:
        return model_protocol(own, join=True, **common)
    both = Parsed.join([reference.parsed.take(reference.rows), own])
    return model_protocol(both, subset=np.arange(len(reference.rows), len(both)), join=args.join, **common)


def _plot(space: str, reference, own_df, table, args, out: Path) -> list[Path]:
    from hullpack.stability import Reference
    from hullpack.stability.plot import parse_space, plot_space, space_table

    symbols = parse_space(space)
    name = "-".join(symbols)
    if reference is None:  # FILE's own stability: FILE is the set drawn
        e_col = _energy_column(own_df, args.energy_column, args.file)
        energies = table["energy"].to_numpy() if table is not None else e_col
        reference = Reference(own_df, energies, column=args.column, tol=args.tol, errors="ignore")
        candidates = None
    else:
        candidates = table
    if len(symbols) in (2, 3):
        path = out / f"{name}.png"
        plot_space(reference, name, path, candidates=candidates)
        return [path]
    path = out / f"{name}.csv"
    space_table(reference, name).to_csv(path)
    print(f"{name}: {len(symbols)} elements, listed in {path.name} (binaries and ternaries are drawn)")
    return [path]
