"""``hullpack stability``: the stability of the compositions of a CSV file (their own, or against a
reference set), with energies from the file or from an ElemNet model. Thin: it parses, calls
:mod:`hullpack.stability`, prints a summary and writes tables and plots.

"""
from __future__ import annotations

import argparse
import functools
import logging
import math
import re
import sys
from pathlib import Path

from .common import (COMPOSITION_COLUMNS, ENERGY_COLUMNS, TABLE_SUFFIXES, CommandError, add_threads, message, missing,
                     note, note_joined, plural, require)
from .stability_summary import bad_lines, header_line, summary_lines

log = logging.getLogger(__name__)



NAME = "stability"
HELP = "energy above hull, decomposition energy and products of any composition"
DESCRIPTION = ("Stability of every composition of FILE (a table with a formula column: CSV, TSV, Parquet, "
               "JSON, JSON lines; pymatgen entries; an OPTIMADE answer or JSON lines file, or optimade-get's "
               "--output-file): against "
               "each other, or each against a reference set (--reference). Energies (eV/atom) come from "
               "FILE's energy column (formation_energy_per_atom, e_form, delta_e, energy, ... or --energy-column), "
               "or from an ElemNet model (--model). Or formulas on the command line, each against the shipped "
               "OQMD compounds: hullpack stability Fe3O4 LiFePO4 (ElemNet's energies) or Fe3O4=-1.65 (your "
               "formation energy, eV/atom). Writes stability.parquet (or .csv), summary.txt and, with "
               "--plot, one chemical space to --out. The summary names a bad row by its number in FILE, the first "
               "row under the header being row 1, as hullpack predict --file does.")


EXAMPLES = ("hullpack stability Fe3O4 LiFePO4 NaMnO2",
            "hullpack stability Fe3O4=-1.65 LiFePO4=-2.60",
            "hullpack stability candidates.csv --reference oqmd --out stab",
            "hullpack stability candidates.csv --reference oqmd --out - > stability.csv")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="+", metavar="FILE|FORMULA[=ENERGY]",
                   help="a table (" + ", ".join(TABLE_SUFFIXES) + ") with a formula column (--column), or formulas such as "
                        "Fe3O4 LiFePO4, each with its formation energy in eV/atom if you have one (Fe3O4=-1.65)")
    p.add_argument("--reference", metavar="oqmd|FILE|none",
                   help="compare each composition with this set: 'oqmd' (the shipped 341,614 OQMD compounds), "
                        "a file like FILE with energies, or 'none' (the compositions' own stability, against each "
                        "other); default: none for a FILE, oqmd for formulas")
    p.add_argument("--model", metavar="default|PATH|none",
                   help="energies from this ElemNet model ('default': the shipped one) instead of FILE's "
                        "column (elements stay at 0 eV/atom); default: FILE's energy column if it has one, "
                        "else the shipped model for a FILE of compositions only")
    p.add_argument("--compare", action="store_true",
                   help="with --model and DFT energies (FILE's, or typed as FORMULA=ENERGY): the model protocol, "
                        "the DFT energies replaced by the model's (together with --reference) and the stable sets "
                        "compared")
    p.add_argument("--join", action="store_true",
                   help="with --reference: FILE's compositions also enter each other's hulls (with --compare "
                        "and no reference they always do)")
    p.add_argument("--column", metavar="NAME", help="the composition column of FILE and of a --reference FILE "
                   "(default: the first of "
                   + ", ".join(COMPOSITION_COLUMNS) + ")")
    p.add_argument("--energy-column", metavar="NAME", help="FILE's energy column, in eV/atom (default: the first of "
                   + ", ".join(ENERGY_COLUMNS) + ", whatever the case, spaces or a unit in brackets; else an "
                   "OPTIMADE provider's formation energy, such as _oqmd_delta_e)")
    p.add_argument("--reference-energy-column", metavar="NAME",
                   help="the energy column of the --reference FILE (default: as for FILE)")
    p.add_argument("--out", default="hullpack-stability",
                   help="output folder (default ./hullpack-stability); a run replaces the files the previous "
                        "stability run there listed in its manifest.json, and leaves other files alone; '-': the "
                        "table as CSV on stdout (> stability.csv), the summary on stderr, no files")
    p.add_argument("--format", choices=("parquet", "csv", "both"), default=None,
                   help="table format (default: parquet where pyarrow is installed, else csv, with a note; "
                        "csv needs no pyarrow)")
    p.add_argument("--plot", metavar="SPACE", help="draw one chemical space, e.g. Fe-O or Fe-Ni-O (4+ elements: "
                   "a table SPACE.csv)")
    p.add_argument("--tol", type=_tolerance, help="eV/atom below the hull of the other compositions to count as stable "
                   "(default 1e-9)")
    add_threads(p)


def _tolerance(text: str) -> float:
    """argparse type of --tol: a finite number of eV/atom >= 0 (a negative or NaN one reached the hulls and was
    reported as a problem of the energies)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected eV/atom >= 0, such as 0.001, got {text!r}") from None
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"expected eV/atom >= 0, such as 0.001, got {text!r}")
    return value


def _energy_column(df, name: str | None, where: str) -> str | None:
    """FILE's energy column: ``name`` (--energy-column), else the first known one present, else None."""
    from hullpack.columns import ENERGY_COLUMNS, find_column

    try:
        return find_column(df, name, ENERGY_COLUMNS, "energy", required=False, how="--energy-column")
    except ValueError as exc:
        raise ValueError(f"{'--energy-column: ' if name else ''}{where}: {exc}") from None


def _numeric_columns(df, column: str | None) -> list[str]:
    """Columns of non-integer numbers in ``df``: energies under another name? (Not the composition
    column, nor ids and counts, nor the index pandas saves as "Unnamed: 0".)"""
    return [str(c) for c in df.columns if c != column and df[c].dtype.kind == "f"
            and not str(c).startswith("Unnamed: ")]


def _formulas(items: list[str]):
    """The compositions given on the command line (``Fe3O4`` or ``Fe3O4=-1.65``) as a table: a
    formula column, and an energy column if any has one (then all must)."""
    import pandas as pd

    several = [item for item in items if item.count("=") > 1]
    if several:  # "Fe2O3=-1.7 NaCl=-2.1" in quotes: not one formula with an energy
        raise ValueError(f"{several[0]!r} has {several[0].count('=')} energies in one argument: give each "
                         "FORMULA=ENERGY as an argument of its own, without quotes around them")
    spaced = [item for item in items if item.strip().startswith("=") or item.strip().endswith("=")]
    if spaced:  # "Fe2O3 = -1.7": the shell made three arguments of it
        raise ValueError(f"{spaced[0]!r}: write each energy as one argument, FORMULA=ENERGY without spaces around '=' "
                         "(Fe2O3=-1.7)")
    other = [m for item in items if "=" not in item and (m := re.fullmatch(r"\s*(\S+?)\s*[:;]\s*([-+\u2212]?[\d.]+)\s*",
                                                                             item))]
    if other:  # "Fe2O3:-1.7", as a formula "cannot parse"
        raise ValueError(f"{other[0].group(0).strip()!r}: an energy is given as FORMULA=ENERGY "
                         f"({other[0].group(1)}={other[0].group(2)})")
    units = [item for item in items if _UNIT.fullmatch(item.strip())]
    if units:  # "Fe2O3=-1.7 eV": the unit read as a formula without an energy
        raise ValueError(f"{units[0]!r}: a unit alone; energies are typed in eV/atom, without a unit (Fe2O3=-1.7)")
    split = [item.rpartition("=") if "=" in item else ("", "", item) for item in items]
    formulas = [f.strip() if eq else e.strip() for f, eq, e in split]
    with_energy = [bool(eq) for _, eq, _ in split]
    if not any(with_energy):
        return pd.DataFrame({"formula": formulas})
    if not all(with_energy):
        bare = [f for f, given in zip(formulas, with_energy) if not given]
        raise ValueError(f"{', '.join(bare[:5])}: no energy given, where others have one (FORMULA=ENERGY, eV/atom): "
                         "give one to every formula, or to none (ElemNet's energies)")
    energies = []
    for formula, (_, _, text) in zip(formulas, split):
        try:
            energies.append(float(text))
        except ValueError:
            from hullpack.columns import number_hint

            hint = _unit_hint(formula, text) or number_hint(text)
            raise ValueError(f"{formula}={text}: the energy is not a number{hint} (FORMULA=ENERGY, eV/atom)") from None
        if not math.isfinite(energies[-1]):  # float() reads nan and inf: a typed energy is a number
            raise ValueError(f"{formula}={text}: the energy is not a finite number (FORMULA=ENERGY, eV/atom; "
                             "leave the formula out, or give no energies for ElemNet's)")
    return pd.DataFrame({"formula": formulas, "formation_energy_per_atom": energies})


_UNIT = re.compile(r"(m?eV|kJ|kcal)(/(atom|mol))?", re.IGNORECASE)


def _unit_hint(formula: str, text: str) -> str:
    """How to write ``text``, an energy typed with its unit (``-1.7eV``, ``-170 meV/atom``, ``-824 kJ/mol``),
    in eV/atom without one; "" for other text. A molar energy is per mole of formula units, as tables
    of formation enthalpies give it: its conversion depends on the formula's atoms, so it is said, not done.

    >>> _unit_hint("Fe2O3", "-170meV/atom"), _unit_hint("Fe2O3", "abc")
    (' (a unit: write eV/atom without one, Fe2O3=-0.17)', '')
    """
    m = re.fullmatch(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(" + _UNIT.pattern + r")\s*", text,
                     re.IGNORECASE)
    if not m:
        return ""
    unit = m.group(3).lower()
    if unit in ("kj", "kcal"):
        return (f" (a unit: write eV/atom without one: {unit.replace('j', 'J')}/mol of formula units divided by "
                f"{96.485 if unit == 'kj' else 23.061} and by the atoms of the formula)")
    value = float(m.group(1)) / (1000.0 if unit == "mev" else 1.0)
    return f" (a unit: write eV/atom without one, {formula}={value:.6g})"


def _inputs(args):
    """The compositions (a DataFrame), what messages call them, and whether they are formulas on the
    command line rather than FILE."""
    from hullpack.columns import TABLE_SUFFIXES
    from hullpack.stability.inputs import read_table

    items = args.file
    files = [item for item in items if Path(item).exists() or item.lower().endswith(TABLE_SUFFIXES)]
    if len(items) == 1 and files:
        df = read_table(items[0])
        _header_is_data(df, items[0], args.column)
        return df, items[0], False
    if files:  # read as formulas, "cands.csv" was "cannot parse formula"
        raise ValueError(f"{' and '.join(files[:2])}: {'files' if len(files) > 1 else 'a file'} among "
                         f"{len(items)} arguments: give one FILE (another set to compare with goes to --reference "
                         "FILE), or formulas only")
    if args.column or args.energy_column:
        raise ValueError("--column and --energy-column name columns of a FILE; formulas on the command line are "
                         "FORMULA or FORMULA=ENERGY")
    return _formulas(items), "the command line", True


def _header_is_data(df, source: str, column: str | None) -> None:
    """Refuse a table without a header line, whose first row was read as its column names: where no
    composition column is found, a first column named by a formula (``Fe2O3,-1.7`` as the first line)
    is data, not a header (the table's columns were named ``['Fe2O3', '-1.7']``, "no energy column
    hullpack knows, but columns of numbers ['-1.7']"), as ``hullpack predict --file`` says."""
    from hullpack.columns import COMPOSITION_COLUMNS, find_column
    from hullpack.elemnet import parse_formulas

    if column is not None or not len(df.columns) or find_column(df, None, COMPOSITION_COLUMNS, "formula",
                                                                 required=False) is not None:
        return
    first = str(df.columns[0])
    if not parse_formulas([first])[1]:  # a formula where the header goes
        raise ValueError(f"{source}: its first line ({', '.join(map(str, df.columns))}) is data, not a header naming "
                         "the columns: add a header line, such as "
                         + ("formula" if len(df.columns) == 1 else "formula,formation_energy_per_atom (in eV/atom)"))


def _model_error(model) -> str:
    """What a reader needs to weigh margins of predicted energies: the model's test MAE, if its
    file records one."""
    from hullpack.elemnet.pretrained import errors_apart, model_test_errors

    mae = (getattr(model, "metadata", None) or {}).get("test_mae")
    if not mae:
        return ""
    binaries = errors_apart(model_test_errors(model), 2, mae)  # binaries' errors have a long tail
    on_binaries = f" ({1000 * binaries[0]:.0f} on binary compounds, median {1000 * binaries[1]:.0f})" if binaries else ""
    return f"; the model's test MAE is {1000 * mae:.0f} meV/atom{on_binaries}, so margins smaller than that are within its error"


def _reference(spec: str, args):
    from hullpack.columns import ENERGY_COLUMNS, find_column
    from hullpack.stability import Reference
    from hullpack.stability.inputs import read_table

    if spec == "oqmd":
        return Reference.oqmd(tol=args.tol, threads=args.threads), "the shipped OQMD set"
    import pandas as pd

    try:
        df = read_table(spec)
        # its bad rows numbered as FILE's are, the first under the header being row 1
        df.index = pd.Index([f"row {i}" for i in range(1, len(df) + 1)])
        e_col = find_column(df, args.reference_energy_column, ENERGY_COLUMNS, "energy",
                            how="--reference-energy-column")
        return Reference(df, e_col, column=args.column, tol=args.tol, threads=args.threads), spec
    except ValueError as exc:
        raise ValueError(f"--reference {spec}: {exc}") from None


_ARROW_ERRORS = ("ArrowInvalid", "ArrowTypeError", "ArrowNotImplementedError")


def _parquet_refuses(column) -> bool:
    """Whether Parquet cannot hold ``column`` (a Series) as it is: cells of different kinds (a
    JARVIS-DFT column of lists with ``na`` among them), or mappings it cannot store (a pymatgen
    structure's empty ``properties``)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pq.write_table(pa.table({"c": pa.array(column, from_pandas=True)}), io.BytesIO())
    except tuple(getattr(pa, e) for e in _ARROW_ERRORS):
        return True
    return False


def _as_text(value):
    """A cell as text: lists and mappings as JSON; missing stays missing, text stays text."""
    import json

    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value != value:
        return None
    return json.dumps(value, default=str)


def _write(table, out: Path, fmt: str, name: str) -> list[Path]:
    files = []
    if fmt in ("parquet", "both"):
        import pyarrow as pa

        try:
            table.to_parquet(out / f"{name}.parquet")
        except tuple(getattr(pa, e) for e in _ARROW_ERRORS):  # an input column Parquet cannot hold: as text
            refused = [c for c in table.columns if table[c].dtype.kind == "O" and _parquet_refuses(table[c])]
            print(f"{name}.parquet: column{'s' if len(refused) > 1 else ''} {', '.join(repr(str(c)) for c in refused)} "
                  "written as text (lists and mappings as JSON): Parquet cannot hold "
                  f"{'them' if len(refused) > 1 else 'it'} as it is")
            table.assign(**{c: table[c].map(_as_text) for c in refused}).to_parquet(out / f"{name}.parquet")
        files.append(out / f"{name}.parquet")
    if fmt in ("csv", "both"):
        table.to_csv(out / f"{name}.csv", index=False)  # the rows are FILE's, in its order: no index column
        files.append(out / f"{name}.csv")
    return files


def run(args: argparse.Namespace) -> int:
    import uuid

    from hullpack.elemnet import resolve_model
    from hullpack.errors import HullInputError, ScreeningError
    from hullpack.screening.outputs import MANIFEST, check_folder, write_outputs
    from hullpack.stability import parse, stability

    quiet = bool(getattr(args, "quiet", False))
    bar = False if quiet else None
    to_stdout = args.out == "-"  # the table on stdout, the summary on stderr
    if to_stdout and args.format not in (None, "csv"):
        raise CommandError(f"--out - writes the table as CSV on stdout, not --format {args.format}: leave --format "
                           "out, or give --out a folder")
    if to_stdout and args.plot:
        raise CommandError(f"--plot {args.plot} draws into the --out folder: give --out a folder, not -")
    if to_stdout:
        args.format = "csv"
    # the outputs' libraries are checked before any work, not when the results are written
    csv_for_parquet = args.format is None and bool(missing("pyarrow"))  # the default where Parquet cannot be
    if args.format is None:
        args.format = "csv" if csv_for_parquet else "parquet"
    elif args.format != "csv":
        require("parquet", "pyarrow", what=f"--format {args.format}", instead="--format csv")
    if args.plot:
        from hullpack.stability.plot import parse_space

        if len(parse_space(args.plot)) in (2, 3):  # a bad space stops before any work; 4+ elements: a table
            require("plot", "matplotlib", what="--plot")
    df, source, typed = _inputs(args)
    # a few formulas typed in ask about known materials: against OQMD unless another set is named
    reference_spec = args.reference or ("oqmd" if typed else "none")
    e_col = _energy_column(df, args.energy_column, source)
    if e_col is None and args.model is None:
        numbers = _numeric_columns(df, args.column)
        if numbers:  # energies under a name not known: never replace them by a model's silently
            from hullpack.columns import is_hull_distance

            hull = [c for c in numbers if is_hull_distance(c)]  # energies above a hull, marked as such
            others = [c for c in numbers if c not in hull]
            found = " and ".join(([f"columns of numbers {others[:8]}"] if others else [])
                                 + ([f"hull distances {hull[:8]} (energies above a hull, not formation energies)"]
                                    if hull else []))
            raise ValueError(f"{source} has no energy column hullpack knows, but {found}: name the energy column "
                             "with --energy-column, or predict energies with --model default")
    model_spec = args.model or ("none" if e_col is not None else "default")
    if args.compare and e_col is None:
        raise ValueError(f"--compare needs DFT energies to compare the model's with: {source} has none ("
                         + ("give each formula its own, FORMULA=ENERGY" if typed else "name FILE's energy column with "
                            "--energy-column") + ")")
    if args.compare and model_spec == "none":
        raise ValueError("--compare needs a model whose energies replace the DFT energies: add --model default "
                         "(the shipped ElemNet) or --model PATH")
    if model_spec == "none" and e_col is None:
        raise ValueError(f"{source} has no energy column: name one with --energy-column, or predict energies "
                         "with --model default")
    if args.join and reference_spec == "none":
        raise ValueError("--join needs --reference")
    # a folder of the previous stability run: its listed files are replaced, nothing else
    try:
        if not to_stdout:
            check_folder(args.out, None, overwrite=True, kind="stability")
    except ScreeningError as exc:
        raise ValueError(re.sub(r"^out\b", "--out", str(exc))) from None
    model = None if model_spec == "none" else resolve_model(model_spec)  # a bad --model refused before the header
    # the summary's first line before the work (the shipped OQMD set alone loads for seconds), the rest after it
    header = ("hullpack stability --compare: " + ("the formulas given on the command line" if typed
                                                   else f"the compounds of {source}")
              if args.compare else header_line(len(df), source))
    say = message if to_stdout else functools.partial(print, flush=True)
    say(header)
    reference, against = (None, "each other") if reference_spec == "none" else _reference(reference_spec, args)
    if reference is not None:
        left_out = len(reference.parsed) - len(reference)  # its bad rows, listed in a note
        against = (f"{against}: {plural(len(reference), 'compound')} in {plural(reference.n_spaces, 'chemical space')}"
                   + (f" ({plural(left_out, 'bad row')} left out)" if left_out else "")
                   + f" ({'together with each other' if args.join else 'each composition alone'})")
    energies_note = (("formation energies given on the command line" if typed else f"column '{e_col}'")
                     if model is None else f"ElemNet predictions ({model_spec}"
                     + (f", as {'none were given' if typed else 'FILE has no energy column'}"
                        if e_col is None and args.model is None else "")
                     + "); elements at 0 eV/atom, their formation energy by definition"
                     + _model_error(model))
    if args.compare:
        result = _compare(df, e_col, model, reference, args, bar)
        bad = result.table["problem"].notna().to_numpy()
        # what was compared with what, before the protocol's numbers
        own = "the formulas given" if typed else f"{source}'s compounds"
        text = "\n".join([header,
                          f"DFT energies: {'given on the command line' if typed else f'column {e_col!r}'}; model "
                          f"energies: ElemNet predictions ({model_spec}) of the compounds, elements keeping their DFT "
                          f"energies{_model_error(model)}",
                          f"against: {against if reference is not None else 'each other'}",
                          result.summary(subset=own, rest="the reference")]
                         # FILE's rows by their number in FILE (the protocol table's index is FILE's), and their ids
                         # (the table keeps FILE's columns)
                         + bad_lines(df.index.get_indexer(result.table.index[bad]) + 1, result.table[bad], typed))
        table = None
        shown = result.table  # the table written to stdout: the protocol's
    else:
        energies, unpredictable = e_col, {}
        if model is not None:
            energies, unpredictable = _predict(model, parse(df, None, column=args.column, require_energies=False))
        # bad rows are listed in the summary and named in the table's 'problem' column
        try:
            table = stability(df, energies, reference=reference, join=args.join, column=args.column, tol=args.tol,
                              threads=args.threads, errors="ignore", progress_bar=bar)
        except HullInputError as exc:  # say where the energies come from: the model, or which column
            from hullpack.stability.inputs import total_energy_signs, unit_signs

            where = (f"--model {model_spec} gives the energies" if model is not None
                     else f"{source}: energies from column '{e_col}'" if not typed else "the energies given")
            # the library's "candidates" are FILE's rows or the formulas typed, named above
            why = str(exc).removeprefix("energies: ").removeprefix("candidates: ")
            given = parse(df, e_col, require_energies=False) if typed and model is None else None  # no unit check
            if (given is not None and reference is not None and unit_signs(given) is None
                    and total_energy_signs(given) is not None):
                # a chemist's own total energies, each element's typed too: a hull of their own
                why += ("; or, with each element's total energy given too (Fe=-8.47), compare the formulas with each "
                        "other: --reference none")
            raise HullInputError(f"{where}: {why}") from None
        for r, reason in unpredictable.items():  # a row the model cannot take: why, not "energy is not finite"
            table.iat[r, table.columns.get_loc("problem")] = reason
        if typed:  # spaces join a formula's parts ("Fe2 O3"): an argument that looks like several says how it was read
            read = table["formula"].notna().to_numpy()
            note_joined("stability", {i: f for i, f in enumerate(df["formula"]) if read[i]},
                        [f"formula {i}" for i in range(1, len(df) + 1)])
        text = "\n".join(summary_lines(table, source, energies_note, against,
                                         "OQMD" if reference_spec == "oqmd" else "the reference",
                                         "the given energy" if model is None else "the model's energy", typed,
                                         None if reference is None else reference.id_column, given=model is None,
                                         competing=None if reference is None else reference.competing_phases))
        shown = table
    say(text.partition("\n")[2])  # the header was said before the work
    if to_stdout:
        shown.to_csv(sys.stdout, index=False)
        return 0

    def write(stage: Path) -> list[Path]:
        (stage / "summary.txt").write_text(text + "\n", encoding="utf-8")  # formulas as written: Fe₂O₃, CuSO4·5H2O
        files = [stage / "summary.txt"]
        if args.compare:
            files += _write(result.table, stage, args.format, "protocol")
            result.metrics.to_csv(stage / "metrics.csv", index_label="n_elements")  # "all", then 2, 3, ...
            files.append(stage / "metrics.csv")
        else:
            files += _write(table, stage, args.format, "stability")
        if args.plot:
            files += _plot(args.plot, reference, df if reference is None else None, table, args, stage, source,
                           given=model is None)
        return files

    files = write_outputs(args.out, uuid.uuid4().hex, [write], overwrite=True, kind="stability",
                          record={"command": "hullpack stability", "file": source})
    if csv_for_parquet:
        note(NAME, 'wrote CSV, not Parquet (pyarrow not installed): pip install "hullpack[parquet]"')
    print(f"wrote {plural(len(files), 'file')} and {MANIFEST} to {Path(args.out).resolve()}")
    return 0


def _predict(model, parsed):
    """The model's energies of the valid compounds (elements get 0, their formation energy by
    definition), and why the model cannot take the compounds it cannot (an element ElemNet lacks)."""
    import numpy as np

    from hullpack.stability.protocol import model_energies

    rows = np.flatnonzero(parsed.valid & (parsed.n_elements > 1))
    e = np.full(len(parsed), np.nan)
    e[parsed.valid & (parsed.n_elements == 1)] = 0.0
    e[rows], unpredictable = model_energies(model, parsed, rows)
    return e, unpredictable


def _compare(df, e_col, model, reference, args, bar):
    """The model protocol: FILE's rows get the model's energies, the reference (if any) keeps its own
    but for its copies of FILE's compounds, FILE's rows standing for them (``model_protocol``)."""
    import numpy as np

    from hullpack.stability import Parsed, model_protocol, parse
    from hullpack.stability.hulls import with_input_columns

    own = parse(df, e_col, column=args.column)
    common = dict(model=model, tol=args.tol, threads=args.threads, errors="ignore", progress_bar=bar)
    if reference is None:
        result = model_protocol(own, join=True, **common)
    else:
        n = len(reference.rows)
        both = Parsed.join([reference.parsed.take(reference.rows), own])
        result = model_protocol(both, subset=np.arange(n, len(both)), join=args.join, **common)
        result.table.index = own.index[result.table.index - n]  # FILE's rows, as without a reference
    # FILE's other columns (ids, labels), row by row, as the stability table keeps them
    result.table = with_input_columns(result.table, df.loc[result.table.index], e_col, args.column)
    return result


def _plot(space: str, reference, own_df, table, args, out: Path, source: str, given: bool) -> list[Path]:
    from hullpack.stability import Reference
    from hullpack.stability.plot import parse_space, plot_space, space_table

    symbols = parse_space(space)
    name = "-".join(symbols)
    if reference is None:  # FILE's own stability: FILE is the set drawn
        e_col = _energy_column(own_df, args.energy_column, source)
        energies = table["energy"].to_numpy() if table is not None else e_col
        reference = Reference(own_df, energies, column=args.column, tol=args.tol, errors="ignore")
        candidates = None
    else:
        candidates = table
    if len(symbols) in (2, 3):
        path = out / f"{name}.png"
        try:
            plot_space(reference, name, path, candidates=candidates, given=given)
        except ValueError as exc:  # an empty space: the other outputs stand
            print(f"--plot {space}: {exc}")
            return []
        return [path]
    path = out / f"{name}.csv"
    space_table(reference, name).to_csv(path)
    print(f"{name}: {len(symbols)} elements, listed in {path.name} (binaries and ternaries are drawn)")
    return [path]
