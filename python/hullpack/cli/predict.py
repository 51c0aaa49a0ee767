"""``hullpack predict``: ElemNet formation enthalpies of formulas, as CSV on stdout."""
from __future__ import annotations

import argparse
import csv
import os
import re
import sys
from typing import Any, Protocol

from .common import (COMPOSITION_COLUMNS, MODEL_HELP, TABLE_SUFFIXES, CommandError, input_file, note, note_joined,
                     plural, read_input_table)

NAME = "predict"
HELP = "ElemNet formation enthalpies (eV/atom) of formulas, as CSV"
DESCRIPTION = ("Predict the formation enthalpy (eV/atom) of each formula with ElemNet and print a CSV table on "
               "stdout (formula, dH_eV_per_atom, then --file's other columns); notes and the progress bar go to "
               "stderr. Notes name pure elements (0 eV/atom by definition) and, for a model learned from OQMD, the "
               "formulas its training data barely cover: with Kr or Xe (in 3 and 35 of its 239,121 training "
               "compositions), or of more than 7 elements.")
EXAMPLES = ("hullpack predict Fe2O3 NaCl LiFePO4",
            "hullpack predict Fe2O3 NaCl --json",
            "hullpack predict --file formulas.txt > energies.csv",
            "hullpack predict --file candidates.csv --column name --errors skip > energies.csv")
#: bad formulas named in a message before "and N more", and those of the rest named by their place alone
_SHOWN, _PLACES = 5, 200
#: the printed prediction's column
_ENERGY = "dH_eV_per_atom"
#: formulas predicted, then printed, at a time (ElemNet.predict's batch)
_BLOCK = 8192


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("formulas", nargs="*", help="formulas such as Fe2O3 NaCl (a bad one is named by its "
                   "place among them, from 1: formula 2)")
    p.add_argument("--file", help="more formulas: a table (" + ", ".join(TABLE_SUFFIXES) + ") with a formula "
                   "column (the file hullpack stability reads; the first of " + ", ".join(COMPOSITION_COLUMNS) + ", or "
                   "--column), "
                   "or a text file of one formula per line (blank lines, comments after a # and a first line "
                   "naming the column, such as formula, are skipped); "
                   "a table's other columns are printed after the prediction, as written (a column already named "
                   "formula or " + _ENERGY + " as input_formula, input_" + _ENERGY + "). A bad formula is named by "
                   "its row in a table, the first row under the header being row 1 (as hullpack stability numbers "
                   "them), or by its line in a text file")
    p.add_argument("--column", metavar="NAME", help="the formula column of a table --file (default: the first of "
                   + ", ".join(COMPOSITION_COLUMNS) + ")")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--errors", choices=("raise", "skip", "nan"), default="raise",
                   help="formulas that cannot be featurized: stop (raise, the default), leave them out "
                        "(skip) or print NaN (nan); skip and nan name them in a note on stderr")
    p.add_argument("--json", action="store_true",
                   help="print JSON lines instead of CSV: one object per formula, the CSV's columns as keys, the "
                        "prediction a number (null for NaN), --file's other columns as text, as written")
    p.add_argument("--bf16", action="store_true",
                   help="bf16 autocast (faster; ~2 meV/atom off on average, a few tens at most)")


def _describe(bad: list[tuple[int, str, str]], where: list[str]) -> str:
    """The bad formulas, each where it was given (``where``: argument index, --file row or line)."""
    total = len(where)
    shown = "; ".join(f"[{where[i]}] {text!r}: {reason}" for i, text, reason in bad[:_SHOWN])
    rest = bad[_SHOWN:]  # where they are, without their text: a reader can find each (skip leaves them out)
    places: dict[str, list[str]] = {}  # "--file row 7", "--file row 9" -> "--file rows 7, 9"
    for i, _, _ in rest[:_PLACES]:
        kind, number = where[i].rsplit(" ", 1)
        places.setdefault(kind, []).append(number)
    more = "; ".join(f"{kind}{'s' if len(numbers) > 1 else ''} {', '.join(numbers)}"
                     for kind, numbers in places.items())
    more = f"; and {len(rest):,} more: {more}" if rest else ""
    if len(rest) > _PLACES:
        more += f" and {len(rest) - _PLACES:,} after them"
    return f"{len(bad)} of {plural(total, 'formula')} cannot be featurized: {shown}{more}"


def _file_formulas(path: str, column: str | None):
    """The formulas of --file: a table's formula column (a missing cell is an empty formula, which
    cannot be featurized), or a text file's lines that are neither blank, comments nor a first line
    naming the column (formula); where each stands, as a message names it ("line 12" of a text file,
    every line counted; "row 3" of a table,
    the first row under the header being row 1, as ``hullpack stability`` numbers its bad rows); and
    a table's other columns as text (a CSV's cells as written), else None; and a table's formula
    column among its columns, in words for a message, else None."""
    input_file(path, "--file")
    if not path.lower().endswith(TABLE_SUFFIXES):
        if column:
            raise CommandError(f"--column {column!r} names a column of a table --file; {path!r} is read as text "
                               "(one formula per line)")
        try:
            with open(path, encoding="utf-8-sig") as f:  # -sig: a byte-order mark (Windows editors) is not a formula
                # what follows a # is a comment, on a line of its own or after a formula (no formula holds a #)
                kept = [(t, f"line {n}") for n, t in enumerate((line.split("#", 1)[0].strip() for line in f), 1) if t]
        except UnicodeDecodeError:  # a spreadsheet (.xlsx), a binary file
            raise CommandError(f"--file {path}: not UTF-8 text (one formula per line) nor a table hullpack reads "
                               f"({', '.join(TABLE_SUFFIXES)}): save a spreadsheet as CSV, text as UTF-8") from None
        if kept and kept[0][0].lower() in COMPOSITION_COLUMNS:  # a header line ("formula"), not a formula
            kept = kept[1:]
        _columns_in_text(path, kept)
        return [t for t, _ in kept], [w for _, w in kept], None, None
    import pandas as pd

    from hullpack.columns import find_column, listed

    df = read_input_table(path, "--file", text=True)
    try:
        found = find_column(df, column, COMPOSITION_COLUMNS, "formula", how="--column")
    except ValueError as exc:
        from hullpack.elemnet import parse_formulas

        first = str(df.columns[0]) if len(df.columns) else ""
        if column is None and first and not parse_formulas([first])[1]:  # a formula where the header goes
            raise CommandError(f"--file {path}: its first line ({', '.join(map(str, df.columns))}) is data, not a "
                               "header naming the columns: add a header line (formula for the formulas), or give "
                               "the formulas as a .txt file, one per line") from None
        raise CommandError(f"--file {path}: {exc}") from None
    formulas = ["" if pd.isna(v) else str(v).strip() for v in df[found].tolist()]
    # rows, not lines, in every table format: a CSV's blank lines and cells spanning lines would shift
    # line numbers, a Parquet or JSON file has none, and hullpack stability names the same row alike
    where = [f"row {i}" for i in range(1, len(df) + 1)]
    others = df.drop(columns=[found])
    others = others.astype(object).where(others.notna(), "").astype(str)  # a missing cell prints empty
    return formulas, where, others.rename(columns=lambda c: f"input_{c}" if c in ("formula", _ENERGY) else c), \
        f"column {found!r} (of {listed(df.columns)})"


def _columns_in_text(path: str, kept: list[tuple[str, str]]) -> None:
    """Refuse a text file (``kept``: its formulas and their lines) that is a table: a first line naming
    columns (``formula,dH``: a CSV saved as .txt, whose header and rows were each a bad formula) or
    a line of tab-separated cells (pasted from a spreadsheet: ``Fe2O3<tab>P1`` read as Fe2O3P, the
    tab joining the cells as the spaces within a formula join its parts)."""
    if not kept:
        return
    first, line = kept[0]
    cells = [c.strip().lower() for c in re.split(r"[,;\t]", first)]
    if len(cells) > 1 and any(c in COMPOSITION_COLUMNS for c in cells):
        raise CommandError(f"--file {path}: its {line} ({first!r}) names the columns of a table: give the file a "
                           ".csv name (.tsv where tabs separate the columns) to read it as a table, or write one "
                           "formula per line")
    tabbed = next(((t, w) for t, w in kept if "\t" in t), None)
    if tabbed:
        raise CommandError(f"--file {path}: its {tabbed[1]} ({tabbed[0]!r}) holds cells separated by tabs, as a "
                           "spreadsheet copies them: write one formula per line, or save the table as .tsv or .csv "
                           "with a header line naming its columns (formula for the formulas)")


def _learned_from_oqmd(metadata: dict) -> bool:
    """Whether a model (its ``metadata``) learned from the shipped OQMD train split: the shipped
    model, a run of ``hullpack train`` on OQMD, or one fine-tuned from the shipped model."""
    from hullpack.elemnet.train import OQMD_SOURCE

    init = metadata.get("init")
    return metadata.get("trained_on") == OQMD_SOURCE or (
        isinstance(init, dict) and str(init.get("source", "")).startswith("the shipped default model"))


class _RowWriter(Protocol):
    """What the rows are written with: a CSV writer, or :class:`_JsonLines`."""

    def writerow(self, row: list[str], /) -> Any: ...


class _JsonLines:
    """``hullpack predict --json``'s writer: each row ``writerow`` is given, as the CSV writer takes it,
    printed as a JSON object of ``header``'s keys, the prediction a number (null for NaN)."""

    def __init__(self, header: list[str]):
        self.header = header

    def writerow(self, row: list[str]) -> None:
        import json

        energy = float(row[1])
        record = dict(zip(self.header, [row[0], round(energy, 6) if energy == energy else None, *row[2:]]))
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    formulas = [f.strip() for f in args.formulas]  # printed as given, without the blanks a shell quote kept
    files = [f for f in formulas if os.path.isfile(f) or f.lower().endswith((*TABLE_SUFFIXES, ".txt"))]
    if files:  # a file where formulas go: say where files go
        raise CommandError(f"{files[0]!r} is a file, not a formula: give it with --file {files[0]}")
    where = [f"formula {i}" for i in range(1, len(formulas) + 1)]  # counted as typed, from 1, as stability counts them
    if args.column and not args.file:
        raise CommandError("--column names the formula column of --file: give --file too")
    others = read_column = None
    if args.file:
        more, lines, others, read_column = _file_formulas(args.file, args.column)
        formulas += more
        where += [f"--file {line}" for line in lines]
    if not formulas:
        raise CommandError("no formulas: give them as arguments (hullpack predict Fe2O3 NaCl) or with --file")
    from hullpack._progress import progress
    from hullpack.columns import composition_cell
    from hullpack.elemnet import parse_formulas, resolve_model
    from hullpack.elemnet.data import sparse_training_note
    from hullpack.naming import amounts_formula

    cells = [composition_cell(f, keep_bad=True) for f in formulas]
    x, bad = parse_formulas(cells)
    from_file, bad_column = len(formulas) - len(args.formulas), ""
    if read_column and from_file > 1 and sum(i >= len(args.formulas) for i, _, _ in bad) == from_file:
        # not one formula: the column is likely another's (names of minerals)
        bad_column = (f"; no row of --file's {read_column} reads as a formula: is it the formula column? --column "
                      "names another")
    if bad and args.errors == "raise":
        raise CommandError(_describe(bad, where) + bad_column + " (--errors skip or nan to go on without them)")
    if bad:
        note(NAME, f"{_describe(bad, where)}{bad_column} ({'left out' if args.errors == 'skip' else 'printed as null' if args.json else 'printed as nan'})")
    ok = np.ones(len(formulas), dtype=bool)
    ok[[i for i, _, _ in bad]] = False
    # spaces join a formula's parts ("Fe2 O3"): an argument that looks like several formulas says how it was read
    typed = {i: cells[i] for i in range(len(args.formulas)) if ok[i] and isinstance(cells[i], str)}
    note_joined("predict", typed, where)
    note_joined("predict", {i: cells[i] for i in range(len(args.formulas), len(formulas))
                            if ok[i] and isinstance(cells[i], str)}, where, grouped="--file")
    for i in np.flatnonzero(ok):  # a mapping ({'Fe': 2.0, 'O': 3.0}) printed as the formula it is (Fe2O3)
        if isinstance(cells[i], dict):
            formulas[i] = amounts_formula(list(cells[i]), [float(a) for a in cells[i].values()])
    model = resolve_model(args.model)
    elements = [f for f, row, keep in zip(formulas, x, ok) if keep and np.count_nonzero(row) == 1]
    if elements:  # ElemNet learned compounds; an element's formation enthalpy is 0 by definition
        note(NAME, f"{plural(len(elements), 'pure element')} ({', '.join(elements[:_SHOWN])}"
             f"{' ...' if len(elements) > _SHOWN else ''}): an element's formation enthalpy is 0 eV/atom by definition; "
             "the model was trained on compounds and its value there means nothing")
    if _learned_from_oqmd(model.metadata):  # where the shipped training data are thin, a prediction is a guess
        sparse = sparse_training_note(x[ok], [f for f, keep in zip(formulas, ok) if keep])
        if sparse:
            note(NAME, sparse)
    # the arguments' rows leave a table's other columns empty
    extra = [[]] * len(formulas) if others is None else \
        [[""] * len(others.columns)] * (len(formulas) - len(others)) + others.to_numpy().tolist()
    header = ["formula", _ENERGY, *([] if others is None else map(str, others.columns))]
    out: _RowWriter
    if args.json:  # a row as an object: {"formula": "Fe2O3", "dH_eV_per_atom": -1.657043, ...}, NaN as null
        out = _JsonLines(header)
    else:
        out = csv.writer(sys.stdout, lineterminator="\n")  # quotes a formula holding a comma or a quote
        out.writerow(header)
    # written a block at a time as it is predicted: a reader has the first rows in seconds, and one
    # that stops early (| head) ends the command without predicting the rest
    bar = progress(total=int(ok.sum()), desc="predict", unit="formula")
    for start in range(0, len(formulas), _BLOCK):
        block = slice(start, start + _BLOCK)
        keep = ok[block]
        energies = np.full(len(keep), np.nan)
        if keep.any():
            energies[keep] = model.predict(x[block][keep], bf16=args.bf16)
        for formula, energy, kept, cells in zip(formulas[block], energies, keep, extra[block]):
            if kept or args.errors == "nan":
                out.writerow([formula, f"{energy:.6f}", *cells])
        sys.stdout.flush()
        bar.update(int(keep.sum()))
    bar.close()
    return 0
