"""The OQMD formation-enthalpy set ElemNet trained on, shipped in ``hullpack/data/oqmd`` (CC BY 4.0;
see its SOURCE.md), with ElemNet's filter -20 < dH < 5 eV/atom."""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..naming import plural

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
#: ElemNet's filter on the target (eV/atom), open interval
TARGET_RANGE = (-20.0, 5.0)
#: how :func:`table_columns` tells to name the formula and the energy column
COLUMN_OPTIONS = ("formula_column= (--formula-column)", "energy_column= (--energy-column)")


def data_dir() -> Path:
    """The folder of hullpack's shipped data."""
    return Path(__file__).resolve().parent.parent / "data"


def oqmd_file(split: str) -> Path:
    """The shipped file of one OQMD split."""
    return data_dir() / "oqmd" / f"{split}.csv.gz"


def load_oqmd(split: str, *, filter: bool = True) -> pd.DataFrame:
    """One OQMD split as a DataFrame with columns ``formula`` and ``target`` (eV/atom).

    With ``filter`` (default) rows outside ElemNet's -20 < dH < 5 eV/atom are removed; how many is
    logged and kept in ``df.attrs["n_removed"]``.

    >>> df = load_oqmd("val")
    >>> list(df.columns), len(df) + df.attrs["n_removed"]
    (['formula', 'target'], 51255)
    """
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: expected one of {SPLITS}")
    path = oqmd_file(split)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the package data was not installed")
    df = pd.read_csv(path, dtype={"formula": str, "target": np.float64}, keep_default_na=False)
    n_removed = 0
    if filter:
        lo, hi = TARGET_RANGE
        keep = (df["target"] > lo) & (df["target"] < hi)
        n_removed = int((~keep).sum())
        df = df[keep].reset_index(drop=True)
        log.debug("OQMD %s: %d rows, removed %d outside %g < dH < %g eV/atom",
                 split, len(df), n_removed, lo, hi)
    df.attrs["n_removed"] = n_removed
    df.attrs["split"] = split
    return df


def oqmd_arrays(split: str, *, filter: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)``: the ``(n, 86)`` float32 fractions and float32 targets of one split.

    >>> x, y = oqmd_arrays("test")
    >>> x.shape[1], x.dtype.name, y.dtype.name, len(x) == len(y)
    (86, 'float32', 'float32', True)
    """
    from .featurize import featurize

    df = load_oqmd(split, filter=filter)
    return featurize(df["formula"].tolist()), df["target"].to_numpy(np.float32)


def table_arrays(table: pd.DataFrame, *, formula_column: str | None = None, energy_column: str | None = None,
                 errors: str = "raise", how: tuple[str, str] = COLUMN_OPTIONS) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` to train on from a table of formulas and formation energies (eV/atom): the columns
    named, else the first of :data:`hullpack.columns.COMPOSITION_COLUMNS` (``formula``,
    ``formula_pretty``, ...) and of :data:`hullpack.columns.ENERGY_COLUMNS`
    (``formation_energy_per_atom``, ...); :func:`table_columns` says which.

    Rows whose formula cannot be featurized, or whose energy is missing, not a finite number or
    outside ElemNet's range (:data:`TARGET_RANGE`, the filter of its OQMD data) raise
    :class:`hullpack.errors.CompositionError` naming them by row and formula (``errors="raise"``),
    or are left out with a warning naming them (``errors="skip"``; the error still, where no row
    is left). A warning names compositions that fill several rows (polymorphs, repeated entries),
    of which ElemNet learns one energy, after the rows left out. Rows are counted from 1, the
    first under the header, as ``hullpack stability`` and ``hullpack predict --file`` count them;
    the error's ``.bad`` holds their positions from 0. Energies
    whose median says they are not formation energies in eV/atom (total energies, such as Materials
    Project's ``energy_per_atom``, or another unit) raise ValueError. ``how``: how a message tells
    to name the formula and the energy column (:func:`table_columns`).

    >>> df = pd.DataFrame({"formula_pretty": ["Fe2O3", "NaCl"], "formation_energy_per_atom": [-1.65, -2.1]})
    >>> x, y = table_arrays(df)
    >>> x.shape, y.tolist()
    ((2, 86), [-1.649999976158142, -2.0999999046325684])
    """
    from ..columns import composition_cell, is_missing_text, listed, number_hint
    from ..errors import CompositionError
    from .featurize import describe_bad, parse_formulas

    if errors not in ("raise", "skip"):
        raise ValueError(f"errors={errors!r}: expected 'raise' or 'skip'")
    formula_column, energy_column = table_columns(table, formula_column=formula_column,
                                                  energy_column=energy_column, how=how)
    # a missing cell (None, NaN, pd.NA; a mapping or a list is none) is an empty formula, named '' as
    # hullpack predict --file names it, not 'nan'
    cells = table[formula_column]
    missing = cells.isna().to_numpy()
    x, bad = parse_formulas(["" if m else composition_cell(v, keep_bad=True) for v, m in zip(cells, missing)])
    y = pd.to_numeric(table[energy_column], errors="coerce").to_numpy(np.float64)
    _check_formation_energies(y, energy_column, how[1])
    bad_rows = {i for i, _, _ in bad}
    raw = table[energy_column].tolist()
    lo, hi = TARGET_RANGE
    for i in np.flatnonzero(~((y > lo) & (y < hi))):
        if int(i) not in bad_rows:
            if pd.isna(raw[i]) or is_missing_text(raw[i]):
                reason = "missing"
            elif not np.isfinite(y[i]):
                reason = f"{raw[i]!r}, not a finite number{number_hint(raw[i])}"
            else:
                reason = f"{y[i]:g} eV/atom, outside ElemNet's range {lo:g}..{hi:g}"
            bad.append((int(i), "" if missing[i] else str(cells.iloc[i]), f"{energy_column} is {reason}"))
    texts = ["" if m else str(v) for v, m in zip(cells, missing)]
    if not bad:
        _note_repeats(x, texts, np.arange(len(table)))
        return x, y.astype(np.float32)
    bad.sort()
    message = (f"{len(bad)} of {len(table)} rows cannot be used (columns {formula_column!r}, {energy_column!r}):\n"
               f"{describe_bad(bad, rows=True)}")
    for column, option, kind, holds, none in (
            (formula_column, how[0], "formula", "reads as a formula", len(bad_rows) == len(table)),
            (energy_column, how[1], "energy", "holds a number", not np.isfinite(y).any())):
        if none and len(table) > 1:  # not one: the column is likely another's (names of minerals, notes)
            message += (f"\n(no row of column {column!r} {holds}: is it the {kind} column? {option} names another "
                        f"of the table's columns {listed(table.columns)})")
    if errors == "raise" or len(bad) == len(table):  # skipping them all leaves nothing to train on
        raise CompositionError(message, bad)
    warnings.warn(message + "\n(left out)", stacklevel=2)
    keep = np.ones(len(table), dtype=bool)
    keep[[i for i, _, _ in bad]] = False
    _note_repeats(x[keep], texts, np.flatnonzero(keep))  # after the rows left out: the notes in reading order
    return x[keep], y[keep].astype(np.float32)


#: compositions, and rows of each, that the note on repeated compositions names
_REPEATS_NAMED, _REPEAT_ROWS_NAMED = 3, 5


def _note_repeats(x: np.ndarray, texts: list[str], rows: np.ndarray) -> None:
    """Warns of compositions that fill more than one row (polymorphs, repeated entries), naming
    the first few by the formula of their first row and their rows: ElemNet maps a composition to
    one energy, where the shipped OQMD set keeps one row per composition. ``rows``: the table's
    rows of ``x`` (from 0; named from 1, as bad rows are); ``texts``: the formula of every row.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _note_repeats(np.array([[1.0], [0.5], [1.0]]), ["NaCl", "KCl", "HeO", "Na2Cl2"], np.array([0, 1, 3]))
    >>> str(caught[0].message).split(". ElemNet")[0]
    "1 composition fills 2 rows (polymorphs or repeated entries): 'NaCl' in rows 1, 4"
    """
    if len(x) < 2:
        return
    _, first, group, counts = np.unique(x, axis=0, return_index=True, return_inverse=True, return_counts=True)
    group = group.reshape(-1)
    repeated = np.flatnonzero(counts > 1)
    if not len(repeated):
        return
    repeated = repeated[np.argsort(first[repeated])]  # in the order of their first row

    def where(g: int) -> str:
        at = rows[group == g] + 1
        more = f" and {len(at) - _REPEAT_ROWS_NAMED:,} more" if len(at) > _REPEAT_ROWS_NAMED else ""
        return f"{texts[at[0] - 1]!r} in rows {', '.join(str(r) for r in at[:_REPEAT_ROWS_NAMED])}{more}"

    n = len(repeated)
    named = "; ".join(where(g) for g in repeated[:_REPEATS_NAMED])
    more = f"; and {n - _REPEATS_NAMED:,} more" if n > _REPEATS_NAMED else ""
    warnings.warn(f"{plural(n, 'composition')} {'fills' if n == 1 else 'fill'} {plural(int(counts[repeated].sum()), 'row')} "
                  f"(polymorphs or repeated entries): {named}{more}. ElemNet learns one energy per composition (their "
                  "median, under its L1 loss): keep the lowest-energy row of each for ground states", stacklevel=3)


def _check_formation_energies(y: np.ndarray, column: str, how: str) -> None:
    """ValueError if the median of ``y`` says they are not formation energies in eV/atom."""
    from ..stability.inputs import looks_total

    finite = y[np.isfinite(y)]
    if not finite.size:
        return
    median = float(np.median(finite))
    if TARGET_RANGE[0] < median and looks_total(finite):
        why: str | None = ("total energies (such as Materials Project's energy_per_atom), not formation energies? Or "
                              "formation energies per formula unit, not per atom?")
    else:
        why = other_unit(median)
        if why is None:
            return
    raise ValueError(f"energy column {column!r}: the median is {median:.4g} eV/atom: {why} Give formation "
                     f"energies in eV/atom ({how} names their column)")


def other_unit(median: float, *, elemnet: bool = True) -> str | None:
    """Why energies of this median (read as eV/atom) seem to be in another unit, as a message; None
    when it lies within :data:`TARGET_RANGE`, where formation energies in eV/atom lie. ``elemnet``:
    the energies are ElemNet's to train on, and the message says the range is its; else (a user's
    DFT energies, where no model is involved) it names the range alone.

    >>> other_unit(-1399.0)
    "another unit (meV/atom, kJ/mol)? ElemNet's formation energies lie within -20..5 eV/atom."
    >>> other_unit(-1399.0, elemnet=False)
    'another unit (meV/atom, kJ/mol)? Formation energies lie within -20..5 eV/atom.'
    """
    lo, hi = TARGET_RANGE
    whose = "ElemNet's formation energies" if elemnet else "Formation energies"
    return None if lo < median < hi else \
        f"another unit (meV/atom, kJ/mol)? {whose} lie within {lo:g}..{hi:g} eV/atom."


def table_columns(table: pd.DataFrame, *, formula_column: str | None = None,
                  energy_column: str | None = None, how: tuple[str, str] = COLUMN_OPTIONS) -> tuple[str, str]:
    """The formula and energy columns :func:`table_arrays` reads: those named (checked), else the
    first present of :data:`hullpack.columns.COMPOSITION_COLUMNS` and
    :data:`hullpack.columns.ENERGY_COLUMNS`, passing over one that holds no value at all for a later
    name with values (a Materials Project document's ``composition``, None where it was not asked
    for, before ``formula_pretty``), as ``hullpack stability`` does; ValueError naming the table's
    columns if one is missing, saying how to name it (``how``: for the formula and the energy column,
    such as ``--val-formula-column`` where a command reads a second table).

    >>> table_columns(pd.DataFrame(columns=["material_id", "formula_pretty", "formation_energy_per_atom"]))
    ('formula_pretty', 'formation_energy_per_atom')
    """
    from ..columns import COMPOSITION_COLUMNS, ENERGY_COLUMNS, find_column, one_database

    formula = find_column(table, formula_column, COMPOSITION_COLUMNS, "formula", how=how[0])
    energy = find_column(table, energy_column, ENERGY_COLUMNS, "energy", how=how[1])
    one_database(table, energy)
    return formula, energy


def hold_out(x: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(train, val)``, both sorted, that hold out about ``fraction`` of the rows of
    fractions ``x`` for validation, drawn at random by ``seed`` **a composition at a time**: rows of
    the same composition (polymorphs, repeated entries) all land on one side, so that validation
    measures compositions the model has not seen: of those drawn first, the ones that fit the share
    (the smallest composition where none does, so that one of 100 rows in 110 is not the validation
    set of a 0.1 share). ValueError if ``x`` has too few compositions.

    >>> x = np.array([[1, 0], [1, 0], [0.5, 0.5], [0, 1]], dtype=np.float32)
    >>> train, val = hold_out(x, 0.25, seed=1)
    >>> sorted(train.tolist() + val.tolist()), len(val) >= 1, {0, 1} <= set(train) or {0, 1} <= set(val)
    ([0, 1, 2, 3], True, True)
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction {fraction}: expected a share between 0 and 1")
    _, group = np.unique(np.asarray(x), axis=0, return_inverse=True)
    group = group.reshape(-1)
    n_groups = int(group.max()) + 1 if len(group) else 0
    if n_groups < 2:
        raise ValueError(f"{len(group)} row{'' if len(group) == 1 else 's'} of {n_groups} composition"
                         f"{'' if n_groups == 1 else 's'}: too few to hold "
                         "some out for validation and train on the rest")
    # whole compositions in a random order until the share is reached; at least one on each side
    sizes = np.bincount(group, minlength=n_groups)
    order = np.random.default_rng(seed).permutation(n_groups)
    target = fraction * len(group)
    if sizes[order[0]] <= target:
        taken = order[:-1][np.cumsum(sizes[order[:-1]]) <= target]  # the last drawn always trains
    else:  # the first composition drawn alone fills more than the share (100 rows of NaCl of 110): those that fit,
        fits = order[sizes[order] <= target]  # in the same order, else the smallest one (the first drawn trains)
        taken = fits[np.cumsum(sizes[fits]) <= target] if len(fits) else order[[np.argmin(sizes[order])]]
    is_val = np.isin(group, taken)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def shared_compositions(x_train: np.ndarray, x_val: np.ndarray) -> tuple[int, int]:
    """``(shared, total)``: how many of the distinct compositions of the fractions ``x_val`` are
    also among those of ``x_train``, and how many there are: a validation set of compositions the
    model trains on measures what it has seen, not how it does on new ones.

    >>> x = np.array([[1, 0], [0.5, 0.5], [0, 1]], dtype=np.float32)
    >>> shared_compositions(x[:2], x[1:])
    (1, 2)
    """
    train, val = np.unique(np.asarray(x_train), axis=0), np.unique(np.asarray(x_val), axis=0)
    union = np.unique(np.concatenate([train, val]), axis=0)
    return len(train) + len(val) - len(union), len(val)


#: ElemNet's elements in fewer than 100 compositions of the shipped OQMD train split (the shipped
#: model's training set), with how many; every other element is in 693 (Br) or more
SPARSE_TRAIN_ELEMENTS = {"Kr": 3, "Xe": 35}
#: the most elements in one composition of the shipped OQMD train split
MAX_TRAIN_ELEMENTS = 7
#: the compositions of the shipped OQMD train split, ElemNet's filter applied
N_TRAIN_COMPOSITIONS = 239_121


def sparse_training_note(x: np.ndarray, formulas: list[str], shown: int = 5) -> str | None:
    """A note on the rows of fractions ``x`` (named by ``formulas``) that the shipped OQMD train
    split covers little or not at all, for a model trained on it: those with an element of
    :data:`SPARSE_TRAIN_ELEMENTS`, and those of more elements than :data:`MAX_TRAIN_ELEMENTS`.
    None where there are none. A prediction there is an extrapolation, however confident it reads.

    >>> from hullpack.elemnet import featurize
    >>> note = sparse_training_note(featurize(["KrF2", "NaCl"]), ["KrF2", "NaCl"])
    >>> note.partition(": ")[0]
    '1 formula (KrF2) holds Kr, which is in only 3 of the 239,121 OQMD training compositions'
    """
    from ..elements import ELEMENT_INDEX

    present = np.asarray(x) > 0
    notes = []
    for symbol, count in SPARSE_TRAIN_ELEMENTS.items():
        rows = np.flatnonzero(present[:, ELEMENT_INDEX[symbol]])
        if len(rows):
            names = ", ".join(formulas[i] for i in rows[:shown]) + (" ..." if len(rows) > shown else "")
            notes.append(f"{plural(len(rows), 'formula')} ({names}) {'holds' if len(rows) == 1 else 'hold'} {symbol}, "
                         f"which is in only {count} of the {N_TRAIN_COMPOSITIONS:,} OQMD training compositions: "
                         f"{'its energy rests' if len(rows) == 1 else 'their energies rest'} on little data")
    rows = np.flatnonzero(present.sum(axis=1) > MAX_TRAIN_ELEMENTS)
    if len(rows):
        names = ", ".join(formulas[i] for i in rows[:shown]) + (" ..." if len(rows) > shown else "")
        notes.append(f"{plural(len(rows), 'formula')} ({names}) {'has' if len(rows) == 1 else 'have'} more elements "
                     f"than any OQMD training composition ({MAX_TRAIN_ELEMENTS}): "
                     f"{'its energy is an extrapolation' if len(rows) == 1 else 'their energies are extrapolations'}")
    return "; ".join(notes) or None
