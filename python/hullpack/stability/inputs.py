"""Compositions and energies in any accepted form -> :class:`Parsed`: the compiled core's arrays
(element indices, float64 atomic fractions), energies, pymatgen-style names, and the problem of
every bad row (bad rows are kept, named and left out of the computation).

Accepted compositions: formula strings (parsed by hullpack's featurizer), pymatgen ``Composition``
objects or ``{element: amount}`` mappings (also written as text, ``"{'Fe': 2.0, 'O': 3.0}"``, as a
table of Materials Project compositions is saved), pymatgen ``PDEntry``/``ComputedEntry`` objects (energy:
their ``energy_per_atom``) or a ``PhaseDiagram`` (its entries), a list or a pandas Series of any of
these (a table's column: its index kept), an ``(n, k)`` array of amounts whose columns ``elements=`` names, or a
DataFrame with a ``formula`` (or ``composition``) column. Elements: every element H..Og, by their
ids in :data:`hullpack.elements.ALL_ELEMENTS` (ElemNet's 86 keep their indices).

Formulas are parsed to float32 fractions; each row is then snapped to the smallest integer amounts
(up to 10,000 atoms) that reproduce it within float32 rounding, so equal compositions written
differently ("FeO", "Fe2O2") get bit-identical float64 fractions.

>>> p = parse(["Fe2O3", "Xx", "FeO"], [-1.7, 0.0, -1.5])
>>> p.names.tolist(), p.problems
(['Fe2O3', '', 'FeO'], {1: "unknown element 'Xx'"})
>>> p.fractions.tolist()[:2], p.offsets.tolist()
([0.6, 0.4], [0, 2, 2, 4])
"""
from __future__ import annotations

import math
import re
import warnings
from array import array
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._progress import progress
from ..columns import (COMPOSITION_COLUMNS, ENERGY_COLUMNS, FORMATION_ENERGY_COLUMNS, _named, composition_cell, find_column, is_hull_distance,
                       is_missing_text, listed, number_hint, one_database, read_table)
from ..elemnet.featurize import parse_formulas, plain_amounts
from ..elements import ALL_ELEMENT_INDEX, ALL_ELEMENTS
from ..errors import CompositionError, HullInputError
from ..naming import amounts_formula, formulas, systems
from ..oxidation import charge_balanced_rows
from .energies import BELOW_FORMATION, TOTAL_ENERGY_MEDIAN, looks_total, total_energy_signs, unit_signs  # noqa: F401

__all__ = ["Parsed", "looks_total", "parse", "read_table", "rationalize", "table_columns", "total_energy_signs",
           "unit_signs", "written_as", "COMPOSITION_COLUMNS", "ENERGY_COLUMNS"]

_CHUNK = 65536                 # formulas per featurizer call (its float32 output is n x 118)
_BLOCK = 1 << 18               # (element, fraction) pairs rationalized or named at a time
_F32_TOL = 2.0 ** -22          # relative: four float32 roundings
_F64_TOL = 1e-10               # relative, when naming float64 fractions
MAX_DENOMINATOR = 10_000
_FORMULA_KEY = re.compile(r"[A-Z].*[A-Z]|\d|\(")  # a mapping's key that is a formula (FeO, O2), no element
_LISTED = 10                   # bad rows spelled out in a warning or error


@dataclass
class Parsed:
    """Rows of compositions: row ``r`` owns ``elements/fractions[offsets[r]:offsets[r+1]]`` (empty for
    a bad row); ``energies`` (NaN where none was given), ``names`` (reduced formulas), ``problems``
    (row -> reason) and ``index`` (the DataFrame index given, or a RangeIndex)."""

    offsets: np.ndarray
    elements: np.ndarray
    fractions: np.ndarray
    energies: np.ndarray
    names: np.ndarray
    problems: dict[int, str]
    index: pd.Index
    #: the rows as given (formulas, Compositions, entries), for messages: see :meth:`describe`
    texts: list = field(repr=False, default_factory=list)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def describe(self, row: int) -> str:
        """Row ``row`` as given, for a message ("" for a missing cell: None, NaN)."""
        return _describe(self.texts[row]) if row < len(self.texts) else f"row {row}"

    def report(self, what: str, errors: str, *, done: str = "computed") -> None:
        """Warn about (``errors="warn"``), raise :class:`~hullpack.errors.CompositionError` for
        (``"raise"``) or ignore the bad rows, naming up to ten of them; ``what`` names the rows
        ("candidate", "reference", ...), ``done`` what happens to the others."""
        if errors not in ("warn", "raise", "ignore"):
            raise ValueError(f"errors={errors!r}: expected 'warn', 'raise' or 'ignore'")
        if not self.problems or errors == "ignore":
            return
        bad = [(r, self.describe(r), reason) for r, reason in self.problems.items()]
        lines = [f"  [{self.index[r]}] {text!r}: {reason}" for r, text, reason in bad[:_LISTED]]
        if len(bad) > _LISTED:
            lines.append(f"  ... and {len(bad) - _LISTED} more (the 'problem' column names each)")
        message = f"{len(bad)} of {len(self)} {what} rows cannot be used:\n" + "\n".join(lines)
        if errors == "raise":
            raise CompositionError(message, bad)
        warnings.warn(message + f"\n(left out; the other rows are {done})", stacklevel=3)

    @property
    def n_elements(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def valid(self) -> np.ndarray:
        """Rows without a problem."""
        ok = np.ones(len(self), dtype=bool)
        ok[list(self.problems)] = False
        return ok

    def charge_balanced(self) -> pd.Series:
        """:func:`hullpack.oxidation.charge_balanced` of the rows (nullable booleans, the rows' index):
        NA where the check does not apply, for a bad row and for one without integer amounts of up
        to ``MAX_DENOMINATOR`` atoms."""
        total, amounts = rationalize(self.offsets, self.fractions, _F64_TOL)
        out = np.full(len(self), None, dtype=object)
        rows = np.flatnonzero(total > 0)
        if len(rows):
            out[rows] = charge_balanced_rows(*_take(self.offsets, rows, self.elements, amounts))
        return pd.Series(pd.array(out, dtype="boolean"), index=self.index, name="charge_balanced")

    def chemsys(self) -> np.ndarray:
        """Chemical systems ("Fe-O") of the rows ("" for bad rows): one per distinct element set,
        shared by the rows that have it."""
        first, inverse = _distinct_rows(self.offsets, self.elements.astype(np.int64), 7)  # ids < 128
        return systems(*_take(self.offsets, first, self.elements))[inverse]

    def take(self, rows) -> "Parsed":
        """The rows ``rows`` (positions) as a set of their own."""
        rows = np.asarray(rows, dtype=np.int64)
        offsets, elements, fractions, _ = self.core_arrays(rows)
        at = {int(r): i for i, r in enumerate(rows)}
        problems = {at[r]: reason for r, reason in self.problems.items() if r in at}
        return Parsed(offsets, elements, fractions, self.energies[rows], self.names[rows], problems, self.index[rows],
                      [self.texts[r] for r in rows] if self.texts else [])

    @classmethod
    def join(cls, parts: list["Parsed"]) -> "Parsed":
        """The rows of several sets, one set after the other, as one set (a RangeIndex)."""
        offsets, base, problems, start = [], 0, {}, 0
        for p in parts:
            offsets.append(p.offsets[:-1] + base)
            base += p.offsets[-1]
            problems.update({start + r: reason for r, reason in p.problems.items()})
            start += len(p)
        offsets.append(np.array([base], dtype=np.int64))
        return cls(np.concatenate(offsets), np.concatenate([p.elements for p in parts]),
                   np.concatenate([p.fractions for p in parts]), np.concatenate([p.energies for p in parts]),
                   np.concatenate([p.names for p in parts]), problems, pd.RangeIndex(start),
                   [t for p in parts
                    for t in (p.texts if len(p.texts) == len(p) else [f"row {i}" for i in range(len(p))])])

    def core_arrays(self, rows: np.ndarray, energies: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(offsets, elements, fractions, energies)`` of ``rows`` in the core's CSR form."""
        rows = np.asarray(rows, dtype=np.int64)
        offsets, elements, fractions = _take(self.offsets, rows, self.elements, self.fractions)
        e = self.energies[rows] if energies is None else np.asarray(energies, dtype=np.float64)
        return offsets, elements, fractions, np.ascontiguousarray(e, dtype=np.float64)


def _take(offsets: np.ndarray, rows: np.ndarray, *columns: np.ndarray) -> tuple:
    """The CSR offsets of rows ``rows`` of CSR ``offsets``, and their pairs of each of ``columns``."""
    n_el = np.diff(offsets)[rows]
    out = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(n_el, out=out[1:])
    take = np.repeat(offsets[rows] - out[:-1], n_el) + np.arange(out[-1])
    return (out, *(np.ascontiguousarray(c[take]) for c in columns))


def rationalize(offsets: np.ndarray, values: np.ndarray, rel_tol: float,
                max_denominator: int = MAX_DENOMINATOR) -> tuple[np.ndarray, np.ndarray]:
    """Smallest integer amounts per row reproducing ``values`` (atomic fractions) within ``rel_tol``
    (relative): ``(total, amounts)``, ``total[r]`` 0 where no total up to ``max_denominator`` fits.
    Continued fractions give each value's denominator; a row's total is their least common multiple.

    >>> total, amounts = rationalize(np.array([0, 2, 4]), np.array([0.4, 0.6, 0.3, 0.7]), 1e-12)
    >>> total.tolist(), amounts.tolist()
    ([5, 10], [2, 3, 3, 7])
    """
    offsets, v = np.asarray(offsets, dtype=np.int64), np.asarray(values, dtype=np.float64)
    n = len(offsets) - 1
    total = np.zeros(n, dtype=np.int64)
    amounts = np.zeros(len(v), dtype=np.int64)
    for a, b in _blocks(offsets):  # rows are independent: a block's temporaries at a time
        lo, hi = offsets[a], offsets[b]
        total[a:b], amounts[lo:hi] = _rationalize(offsets[a:b + 1] - lo, v[lo:hi], rel_tol, max_denominator)
    return total, amounts


def _blocks(offsets: np.ndarray, pairs: int = _BLOCK) -> list[tuple[int, int]]:
    """Row ranges ``(a, b)`` covering rows ``0..n`` (CSR ``offsets``), about ``pairs`` pairs each."""
    n = len(offsets) - 1
    cuts = np.searchsorted(offsets, np.arange(offsets[0] + pairs, offsets[-1], pairs), side="right") - 1
    cuts = np.unique(np.concatenate([[0], cuts, [n]])).tolist()
    return list(zip(cuts[:-1], cuts[1:]))


def _rationalize(offsets: np.ndarray, v: np.ndarray, rel_tol: float, max_denominator: int) -> tuple:
    n = len(offsets) - 1
    q = np.zeros(len(v), dtype=np.int64)
    tol = rel_tol * v + 1e-15
    # continued fractions of the values still unresolved (indices `at`), convergents h/k
    at = np.flatnonzero(np.isfinite(v) & (v > 0))
    x = v[at]
    h0, h1 = np.zeros(len(at)), np.ones(len(at))
    k0, k1 = np.ones(len(at)), np.zeros(len(at))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(64):
            if len(at) == 0:
                break
            a = np.floor(x)
            h0, h1 = h1, a * h1 + h0
            k0, k1 = k1, a * k1 + k0
            hit = (k1 <= max_denominator) & (np.abs(v[at] - h1 / k1) <= tol[at])
            q[at[hit]] = k1[hit].astype(np.int64)
            rest = x - a
            live = ~hit & (k1 <= max_denominator) & (rest > 0)
            at, x, rest = at[live], x[live], rest[live]
            h0, h1, k0, k1 = h0[live], h1[live], k0[live], k1[live]
            x = 1.0 / rest
    total = np.zeros(n, dtype=np.int64)
    amounts = np.zeros(len(v), dtype=np.int64)
    counts = np.diff(offsets)
    rows = np.flatnonzero(counts > 0)
    if len(rows) == 0:
        return total, amounts
    starts = offsets[rows]
    has_zero = np.add.reduceat((q == 0).astype(np.int64), starts) > 0
    lcm = np.lcm.reduceat(np.maximum(q, 1), starts)
    ok = ~has_zero & (lcm <= max_denominator)
    den = np.repeat(np.where(ok, lcm, 0), counts[rows])
    num = np.rint(v * den).astype(np.int64)
    fits = (np.abs(v * den - num) <= tol * den) & (num >= 1)
    ok &= (np.add.reduceat((~fits).astype(np.int64), starts) == 0) & (np.add.reduceat(num, starts) == lcm)
    total[rows[ok]] = lcm[ok]
    keep = np.repeat(ok, counts[rows])
    amounts[keep] = num[keep]
    return total, amounts


def _names(offsets, elements, fractions, texts=()) -> np.ndarray:
    """Reduced formulas of the rows: one per distinct composition (a row of integer amounts, by its
    elements and amounts), shared by the rows that have it; ``texts``: the rows as given, for the
    amounts of a row without integer amounts."""
    total, amounts = rationalize(offsets, fractions, _F64_TOL)
    counts = np.diff(offsets)
    out = np.full(len(counts), "", dtype=object)
    shift = MAX_DENOMINATOR.bit_length()  # a row's (element, amount) pairs as codes of 7 + shift bits
    first, inverse = _distinct_rows(offsets, (elements.astype(np.int64) << shift) | amounts, 7 + shift)
    exact = total > 0
    first, at = first[exact[first]], np.cumsum(exact[first]) - 1  # compositions of integer amounts
    if len(first):
        off, el, amt = _take(offsets, first, elements, amounts)
        named = np.empty(len(first), dtype=object)
        for a, b in _blocks(off):
            named[a:b] = formulas(off[a:b + 1] - off[a], el[off[a]:off[b]], amt[off[a]:off[b]])
        out[exact] = named[at[inverse[exact]]]
    for r in np.flatnonzero((total == 0) & (counts > 0)):  # no integer amounts: as the formula writes them
        a, b = offsets[r], offsets[r + 1]
        symbols = [ALL_ELEMENTS[e] for e in elements[a:b]]
        written = _written_amounts(texts[r] if r < len(texts) else None, symbols, fractions[a:b])
        out[r] = amounts_formula(symbols, fractions[a:b] if written is None else written)
    return out


def _distinct_rows(offsets: np.ndarray, codes: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows (CSR ``offsets`` over ``codes``, integers in ``0..2**bits``) of distinct code
    sequences: ``(first, inverse)``, the first row of each, and which of them each row has.

    >>> first, inverse = _distinct_rows(np.array([0, 2, 3, 5, 5]), np.array([6, 22, 6, 6, 22]), 7)
    >>> first.tolist(), inverse.tolist()
    ([3, 1, 0], [2, 1, 2, 0])
    """
    counts = np.diff(offsets)
    per = 63 // bits  # codes packed in one int64
    inverse = np.empty(len(counts), dtype=np.int64)
    firsts, seen = [], 0
    for k in np.unique(counts).tolist():
        rows = np.flatnonzero(counts == k)
        keys = np.zeros((len(rows), max(1, -(-k // per))), dtype=np.int64)
        for j in range(k):
            keys[:, j // per] |= codes[offsets[rows] + j] << (bits * (j % per))
        if keys.shape[1] == 1:
            _, first, inv = np.unique(keys[:, 0], return_index=True, return_inverse=True)
        else:
            _, first, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        inverse[rows] = seen + inv.reshape(-1)
        firsts.append(rows[first])
        seen += len(first)
    return (np.concatenate(firsts) if firsts else np.zeros(0, dtype=np.int64)), inverse


def _written_amounts(item, symbols: list[str], fractions: np.ndarray) -> np.ndarray | None:
    """The amounts of ``symbols`` as ``item`` gives them (a formula without parentheses, a mapping,
    a Composition or an entry), if they are the composition ``fractions``; else None."""
    item = _composition(item) if item is not None else None
    given: dict[str, float] = {}
    try:
        if isinstance(item, str):
            pairs = plain_amounts(item.strip())
            if pairs is None:
                return None
            for symbol, amount in pairs:
                given[symbol] = given.get(symbol, 0.0) + amount
        elif hasattr(item, "items"):
            for el, amount in item.items():
                symbol = getattr(el, "symbol", None) or str(el)
                given[symbol] = given.get(symbol, 0.0) + float(amount)
        else:
            return None
    except (TypeError, ValueError):
        return None
    given = {k: v for k, v in given.items() if v > 0}
    if sorted(given) != sorted(symbols):
        return None
    a = np.array([given[sym] for sym in symbols])
    return a if np.allclose(a / a.sum(), fractions, rtol=1e-5, atol=0) else None


def table_columns(df: pd.DataFrame, energies=None, column: str | None = None) -> tuple[str, str | None]:
    """The columns of ``df`` read as compositions and as energies (None: no energy column): those
    named (``column=``, ``energies=`` a column name), else the first of :data:`COMPOSITION_COLUMNS`
    and, unless ``energies`` gives the values, of :data:`ENERGY_COLUMNS`."""
    col = find_column(df, column, COMPOSITION_COLUMNS, "composition", how="column= (hullpack stability --column)")
    if isinstance(energies, str) or energies is None:
        e_col = find_column(df, energies, ENERGY_COLUMNS, "energy", required=False,
                            how="energies= (hullpack stability --energy-column)")
        if e_col is not None and is_hull_distance(e_col):  # named so: hulls of distances above another hull
            energy = [c for c in df.columns if c != e_col and _named([c], ENERGY_COLUMNS)]
            formation = [c for c in energy if _named([c], FORMATION_ENERGY_COLUMNS)]
            other = [c for c in energy if c not in formation]  # Materials Project's energy_per_atom is a total energy
            raise ValueError(f"energy column {e_col!r} holds hull distances (energies above a hull), not the energies a "
                             "hull is built from: name a formation energy column"
                             + (f" ({', '.join(map(repr, formation[:3]))})" if formation else "")
                             + " instead, or a total energy column" + (f" ({', '.join(map(repr, other[:3]))})" if other else "")
                             + " where the table has each element's entry too")
        one_database(df, e_col)
        return col, e_col
    return col, None


def aligned(energies, index: pd.Index, labelled: bool, what: str = "energies"):
    """``energies`` in the order of the rows ``index``: a pandas Series (or a dict, read as one) is
    read by its labels, never by position (``what``: the argument, as messages name it). Where the compositions are ``labelled`` (a Series or a
    DataFrame), its labels must be theirs, in any order; else they must be the default 0..n-1.
    ValueError naming the first label that does not pair otherwise.

    >>> aligned(pd.Series([-1.4, -1.7], index=["b", "a"]), pd.Index(["a", "b"]), True).tolist()
    [-1.7, -1.4]
    """
    if isinstance(energies, dict):  # {label: energy}, {"FeO": -1.4}: its keys are its labels
        energies = pd.Series(energies, dtype=object)
    if not isinstance(energies, pd.Series) or energies.index.equals(index):
        return energies
    given = energies.index
    alone = f"pass the energies alone in the compositions' order ({what}.to_numpy(), list(d.values()))"
    if not labelled:
        if given.equals(pd.RangeIndex(len(given))):
            return energies  # read by position, as the labels say: its length is checked with the others'
        raise ValueError(f"{what}: labelled {listed(given, 3)} (a pandas Series' index, a dict's keys) for "
                         "compositions without labels (a list or an array), so no label says which energy is "
                         f"whose: {alone}, or the compositions as a pandas Series with those labels")
    if given.is_unique and index.is_unique and len(given) == len(index) and given.isin(index).all():
        return energies.reindex(index)
    extra, absent = given[~given.isin(index)], index[~index.isin(given)]
    repeated = given[given.duplicated()].append(index[index.duplicated()])
    first = [labels.tolist()[0] if len(labels) else None for labels in (extra, absent, repeated)]  # Python's, not numpy's
    why = (f"its label {first[0]!r} is no composition's" if len(extra) else
           f"the composition labelled {first[1]!r} has none" if len(absent) else
           f"the label {first[2]!r} repeats, so labels cannot pair them")
    raise ValueError(f"{what}: labelled otherwise than the compositions ({why}); energies in a pandas Series "
                     f"or a dict are paired with the compositions by label: {alone}, or energies with the "
                     "compositions' labels")


def _is_entry(item) -> bool:
    return hasattr(item, "composition") and hasattr(item, "energy_per_atom")


def _items_and_energies(compositions, energies, elements, column):
    """(items or an amounts array, energies or None, index)."""
    if isinstance(compositions, pd.DataFrame):
        df = compositions
        col, e_col = table_columns(df, energies, column)
        if e_col is not None:
            energies = df[e_col].to_numpy()
        return df[col].tolist(), energies, df.index
    if isinstance(compositions, pd.Series) and compositions.dtype.kind not in "fiub":
        return compositions.tolist(), energies, compositions.index  # a table's column (df.formula), not one mapping
    if hasattr(compositions, "all_entries") and hasattr(compositions, "get_e_above_hull"):
        compositions = compositions.all_entries  # a pymatgen PhaseDiagram: its entries
    formulas = [k for k in compositions if isinstance(k, str) and _FORMULA_KEY.search(k)] \
        if type(compositions) is dict else []
    if formulas:  # {"Fe2O3": -1.7, "FeO": -1.4} read as one composition of unknown elements
        raise ValueError(f"compositions: a mapping is one composition, {{element: amount}}, and {formulas[0]!r} is a "
                         "formula, no element; for formulas with their energies give both lists: "
                         "stability(list(d), list(d.values()))")
    if isinstance(compositions, str) or hasattr(compositions, "items"):
        compositions = [compositions]
        if energies is not None and not isinstance(energies, str) and np.ndim(energies) == 0:
            energies = [energies]  # one composition, one energy: stability("Fe2O3", -1.7, reference="oqmd")
    if isinstance(compositions, np.ndarray) and compositions.ndim == 2 and compositions.dtype.kind in "fiu":
        if elements is None:
            raise ValueError("compositions: an amounts array needs elements= naming its columns")
        return compositions, energies, pd.RangeIndex(len(compositions))
    if isinstance(energies, str):
        raise ValueError(f"energies={energies!r}: a column name needs a DataFrame of compositions")
    items = list(compositions)
    return items, energies, pd.RangeIndex(len(items))


def _from_array(amounts: np.ndarray, elements) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, str]]:
    symbols = [str(s) for s in elements]
    if len(symbols) != amounts.shape[1]:
        raise ValueError(f"elements: {len(symbols)} symbols for an amounts array of {amounts.shape[1]} columns")
    unknown = [s for s in symbols if s not in ALL_ELEMENT_INDEX]
    if unknown or len(set(symbols)) != len(symbols):
        raise ValueError(f"elements: expected distinct symbols of elements H..Og, got {symbols}"
                         + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    a = np.asarray(amounts, dtype=np.float64)
    problems: dict[int, str] = {}
    bad = ~np.isfinite(a).all(axis=1) | (a < 0).any(axis=1)
    for r in np.flatnonzero(bad):
        problems[int(r)] = "amounts must be finite and >= 0"
    total = np.where(bad, 0.0, a.sum(axis=1))
    for r in np.flatnonzero(~bad & ~(total > 0)):
        problems[int(r)] = "no atoms (all amounts are zero)"
    order = np.argsort([ALL_ELEMENT_INDEX[s] for s in symbols])
    cols = np.array([ALL_ELEMENT_INDEX[s] for s in symbols])[order]
    frac = np.where((total > 0)[:, None], a / np.where(total > 0, total, 1.0)[:, None], 0.0)[:, order]
    frac[list(problems)] = 0.0
    rows, c = np.nonzero(frac > 0)
    return rows, cols[c], frac[rows, c], problems


def _from_items(items: list, energies_from_entries: list, progress_bar: bool | None = None) -> tuple:
    """Rows, element ids, float64 fractions, exact flags and problems of strings/mappings/entries;
    more than one chunk of formulas is read behind a progress bar (``progress_bar`` as for
    :func:`parse`)."""
    n = len(items)
    problems: dict[int, str] = {}
    strings, mappings = array("q"), []  # the rows of formulas: 8 bytes each, not an int object
    for i, item in enumerate(items):
        if type(item) is str or type(item) is dict:
            try:  # a mapping written out (a Materials Project composition column saved as text), or from Parquet
                item = composition_cell(item)
            except ValueError as exc:
                problems[i] = str(exc)
                continue
            if type(item) is str:
                strings.append(i)
            else:
                items[i] = item  # shown without the absent elements
                mappings.append((i, item))
            continue
        if _is_entry(item):
            energies_from_entries[i] = float(item.energy_per_atom)
            item = item.composition
        if isinstance(item, (str, bytes)):
            strings.append(i)
        elif hasattr(item, "items"):
            mappings.append((i, item))
        elif item is None or (isinstance(item, float) and math.isnan(item)):
            problems[i] = "formula is missing"
        else:
            problems[i] = f"expected a formula, a Composition or an entry, got {type(item).__name__}"
    parts_r, parts_c, parts_v, parts_f32 = [], [], [], []
    # as the hulls' queries show theirs: above one chunk, on a terminal unless HULLPACK_QUIET is set
    show = False if len(strings) <= _CHUNK else progress_bar
    with progress(total=len(strings), desc="parse", unit="formula", show=show) as bar:
        for s0 in range(0, len(strings), _CHUNK):
            idx = strings[s0:s0 + _CHUNK]
            x, bad = parse_formulas([_text(items[i]) for i in idx], all_elements=True)
            # text no formula reads that writes a missing value ('None', 'N/A'), as an empty cell
            for j, _, reason in bad:
                text = _text(items[idx[j]])
                problems[idx[j]] = ("formula is missing" if text.strip() and is_missing_text(text)
                                    else reason)
            x[[j for j, _, _ in bad]] = 0.0
            r, c = np.nonzero(x > 0)
            parts_r.append(np.asarray(idx, dtype=np.int64)[r])
            parts_c.append(c)
            parts_v.append(x[r, c].astype(np.float64))
            parts_f32.append(np.ones(len(r), dtype=bool))
            bar.update(len(idx))
    if mappings:
        comps = [_composition(item) for _, item in mappings]
        _, bad = parse_formulas(comps, all_elements=True)  # validates symbols and amounts with the featurizer's messages
        bad_at = {j: reason for j, _, reason in bad}
        for j, (i, _) in enumerate(mappings):
            if j in bad_at:
                problems[i] = bad_at[j]
                continue
            amounts: dict[int, float] = {}
            for el, amt in comps[j].items():
                col = ALL_ELEMENT_INDEX[getattr(el, "symbol", None) or str(el)]
                amounts[col] = amounts.get(col, 0.0) + float(amt)
            cols = np.array(sorted(c for c, a in amounts.items() if a > 0), dtype=np.int64)
            vals = np.array([amounts[c] for c in cols], dtype=np.float64)
            parts_r.append(np.full(len(cols), i, dtype=np.int64))
            parts_c.append(cols)
            parts_v.append(vals / vals.sum())
            parts_f32.append(np.zeros(len(cols), dtype=bool))
    if not parts_r:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool), problems, n
    joined: list[np.ndarray] = []
    for parts in (parts_r, parts_c, parts_v, parts_f32):  # each kind's chunks let go once joined
        joined.append(np.concatenate(parts))
        parts.clear()
    return (*joined, problems, n)


def _text(item) -> str:
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else item


def _composition(item):
    return item.composition if _is_entry(item) else item


def _csr(n: int, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, f32: np.ndarray) -> tuple:
    """``(offsets, elements, fractions)`` of ``n`` rows from (row, element id, fraction) pairs, the
    rows of float32 formulas (``f32``) snapped to integer amounts (:func:`_snap`)."""
    key = (rows << 7) | cols  # element ids < 128
    if (key[1:] < key[:-1]).any():  # not in (row, element) order: mappings, entries, an amounts array
        order = np.lexsort((cols, rows))
        rows, cols, vals, f32 = rows[order], cols[order], vals[order], f32[order]
    del key
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=offsets[1:])
    row_f32 = np.zeros(n, dtype=bool)
    row_f32[rows[f32]] = True
    _snap(offsets, vals, row_f32)
    return offsets, cols.astype(np.int32), vals


def _snap(offsets: np.ndarray, vals: np.ndarray, row_f32: np.ndarray) -> None:
    """Snap the rows of float32 formulas (``row_f32``) of fractions ``vals`` (float64, CSR
    ``offsets``; in place) to their smallest integer amounts (:func:`rationalize`), or, where none
    fits, renormalise them in float64; the other rows (float64 fractions) stay. A block of rows at a
    time."""
    for a, b in _blocks(offsets):
        lo, hi = offsets[a], offsets[b]
        off, v, f32 = offsets[a:b + 1] - lo, vals[lo:hi], row_f32[a:b]
        counts = np.diff(off)
        total, amounts = rationalize(off, v, _F32_TOL)
        snap = np.repeat(f32 & (total > 0), counts)
        v = np.where(snap, amounts / np.where(snap, np.repeat(total, counts), 1), v)
        unsnapped = np.repeat(f32 & (total == 0), counts)
        if unsnapped.any():  # renormalise float32 rows in float64
            row_sum = np.ones(b - a)
            row_sum[counts > 0] = np.add.reduceat(v, off[:-1][counts > 0])
            v = np.where(unsnapped, v / np.repeat(row_sum, counts), v)
        vals[lo:hi] = v


def charge_balance(compositions, *, elements=None, column: str | None = None) -> pd.Series:
    """Whether each composition is charge-balanced by known oxidation states
    (:mod:`hullpack.oxidation`): a nullable boolean Series, one per row, with the input's index; NA
    where the check does not apply (no nitride, oxide, chalcogenide or halide anion is the most
    electronegative element) and for a row that cannot be read. Compositions in any form
    :func:`~hullpack.stability.stability` takes (energies are not needed).

    >>> charge_balance(["NaCl", "NaCl2", "Fe3O4", "Li0.5CoO2", "FeSi"]).tolist()
    [True, False, True, True, <NA>]
    """
    return parse(compositions, elements=elements, column=column, require_energies=False).charge_balanced()


def parse(compositions, energies=None, *, elements=None, column: str | None = None,
          require_energies: bool = True, progress_bar: bool | None = None) -> Parsed:
    """Read compositions (and energies in eV/atom) in any accepted form (see the module docstring).

    ``energies``: an array-like (one per row), a DataFrame column name, or None: the first of
    :data:`ENERGY_COLUMNS` in a DataFrame, or the entries' ``energy_per_atom``. Without energies,
    ``require_energies=False`` leaves them NaN (to be predicted), otherwise it is an error. Bad rows
    (unparsable text, unknown elements, no atoms, a non-finite energy) are listed in ``problems``.
    More than 65,536 formulas are read behind a progress bar on a terminal (``progress_bar=False``:
    never, ``True``: always; ``HULLPACK_QUIET`` set: none unless ``True``).
    """
    items, energies, index = _items_and_energies(compositions, energies, elements, column)
    energies = aligned(energies, index, isinstance(compositions, (pd.DataFrame, pd.Series)))
    n = len(items)
    from_entries: list = [None] * n
    if isinstance(items, np.ndarray):
        rows, cols, vals, problems = _from_array(items, elements)
        f32 = np.zeros(len(rows), dtype=bool)
    else:
        rows, cols, vals, f32, problems, _ = _from_items(items, from_entries, progress_bar)
    offsets, elements, vals = _csr(n, rows, cols, vals, f32)
    del rows, cols, f32
    try:
        e, not_numbers, missing = _energies(energies, from_entries, n, require_energies)
    except ValueError as exc:  # no energy column: say which columns the table has
        if not isinstance(compositions, pd.DataFrame) or energies is not None:
            raise
        hull = [str(c) for c in compositions.columns if is_hull_distance(c)]  # e_above_hull: no energy to build on
        raise ValueError(f"{exc}; the table's columns: {listed(compositions.columns)}"
                         + (f" ({', '.join(map(repr, hull))}: hull distances, energies above a hull, not the "
                            "formation energies a hull is built from)" if hull else "")) from None
    for r, cell in not_numbers.items():
        problems.setdefault(r, f"energy {cell!r} is not a number" + number_hint(cell))
    for i in np.flatnonzero(~np.isfinite(e)):
        if require_energies and int(i) not in problems:
            problems[int(i)] = "energy is missing" if int(i) in missing else f"energy is not finite ({e[i]})"
    texts = items if not isinstance(items, np.ndarray) else [f"row {i}" for i in range(n)]
    parsed = Parsed(offsets, elements, vals, e, _names(offsets, elements, vals, texts),
                    dict(sorted(problems.items())), pd.Index(index), texts)
    unit = unit_signs(parsed) if require_energies else None
    if unit is not None:
        raise HullInputError(f"energies: {unit}")
    return parsed


def written_as(formula: str, given) -> str | None:
    """The formula as the user wrote it (``given``, a result table's ``input``) where a reader would
    not recognise it in the reduced ``formula`` naming the compound: other amounts (``Fe2O2``,
    ``LiNi0.5Mn1.5O4``), brackets or a hydrate dot (``Ca(OH)2``, ``CuSO4·5H2O``). None where it only
    orders the elements otherwise (``NiFe2O4`` for ``Fe2NiO4``, OPTIMADE's ``ClNa``), or spaces them
    (pymatgen's ``Fe2 O3``), or is no formula (a mapping, an empty cell).

    >>> written_as("Li2Mn3NiO8", "LiNi0.5Mn1.5O4"), written_as("Ca(HO)2", "Ca(OH)2")
    ('LiNi0.5Mn1.5O4', 'Ca(OH)2')
    >>> written_as("Fe2NiO4", "NiFe2O4"), written_as("Fe2O3", "Fe2 O3"), written_as("AlNi3", "Al1Ni3")
    (None, None, None)
    """
    if not isinstance(given, str) or not isinstance(formula, str) or not formula:
        return None
    text = "".join(given.split())
    if not text or text.startswith("{") or text == formula:
        return None
    mine, theirs = plain_amounts(formula), plain_amounts(text)
    if mine is not None and theirs is not None and sorted(mine) == sorted(theirs):
        return None
    return given.strip()


def _describe(item) -> str:
    comp = _composition(item)
    if comp is None or (isinstance(comp, float) and math.isnan(comp)):  # an empty cell
        return ""
    return comp if isinstance(comp, str) else str(getattr(comp, "formula", comp))


def _energies(energies, from_entries: list, n: int, required: bool) -> tuple[np.ndarray, dict[int, object], set]:
    """The energies (NaN where none), the cells that are not numbers by row (those rows are bad;
    the others are kept), and the rows whose energy is missing (an empty cell, None, NaN, or text
    that writes a missing value: ``na``, ``N/A``, ``null``, ..., :data:`~hullpack.columns.MISSING_VALUES`)."""
    if energies is not None:
        if any(v is not None for v in from_entries):
            raise ValueError("energies: given both as an argument and by the entries' energy_per_atom; give one")
        values = energies if hasattr(energies, "dtype") else np.asarray(energies, dtype=object)
        try:
            numbers = np.dtype(getattr(values, "dtype", object)).kind in "fiub"
        except TypeError:  # a pandas extension dtype (Float64, with pd.NA): cell by cell
            numbers = False
        if numbers:  # numbers: NaN is a missing value
            e = _as_energies(np.asarray(values, dtype=np.float64), n).copy()
            return e, {}, set(np.flatnonzero(np.isnan(e)).tolist())
        cells = _as_energies(np.asarray(values, dtype=object), n)
        e, not_numbers, missing = np.full(n, np.nan), {}, set()
        for i, cell in enumerate(cells):
            if (cell is None or cell is pd.NA or is_missing_text(cell)
                    or (not isinstance(cell, (str, bytes)) and _is_nan(cell))):
                missing.add(i)
                continue
            try:
                e[i] = float(cell)
            except (TypeError, ValueError):
                not_numbers[i] = cell
        return e, not_numbers, missing
    if any(v is not None for v in from_entries):
        return (np.array([np.nan if v is None else v for v in from_entries], dtype=np.float64), {},
                {i for i, v in enumerate(from_entries) if v is None})
    if required:
        raise ValueError("energies: none given (pass energies=, an energy column "
                         f"{' / '.join(ENERGY_COLUMNS)}, also an OPTIMADE provider's such as _oqmd_delta_e, or "
                         "pymatgen entries)")
    return np.full(n, np.nan), {}, set()


def _is_nan(cell) -> bool:
    try:
        return bool(np.isnan(cell))
    except (TypeError, ValueError):
        return False


def _as_energies(e: np.ndarray, n: int) -> np.ndarray:
    if e.shape != (n,):
        raise ValueError(f"energies: expected {n} values (one per composition), got shape {e.shape}")
    return e
