"""Names of compositions as pymatgen writes them, for every part of hullpack that prints one:
reduced formulas (``Fe2O3``, ``Ca3(PO4)2``) and chemical systems (``Fe-O``, elements sorted
alphabetically), without importing pymatgen.

Elements are given by their ids in :data:`hullpack.elements.ALL_ELEMENTS` (every element H..Og;
ElemNet's 86 keep their ElemNet indices). The reduced formula follows pymatgen's
``Composition.reduced_formula`` for integer amounts: elements ordered by Pauling electronegativity,
then symbol (those without one, He, Ne, Ar and Rf..Og, last, as in pymatgen: ``Na2He``, ``ClAr``),
amounts divided by their gcd, the last two elements written as a polyanion when they are close in
electronegativity (``(PO4)2``; never with an element without one), and
pymatgen's special formulas (``O2``, ``Li2O2``). A composition with non-integer amounts is named by
the smallest integer amounts in its proportions (so ``Li0.5CoO2`` is ``LiCo2O4``); one with no such
amounts below 10,000 atoms by amounts that read like the formula written (:func:`amounts_formula`:
``LiMn0.333Co0.333Ni0.333O2``), not by atomic fractions.

>>> reduced_formula(["Fe", "O"], [4, 6]), reduced_formula(["O", "P", "Ca"], [8, 2, 3])
('Fe2O3', 'Ca3(PO4)2')
>>> reduced_formula(["O"], [1]), chemical_system(["O", "Fe"])
('O2', 'Fe-O')
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .elements import ALL_ELEMENT_INDEX, ALL_ELEMENTS, ELECTRONEGATIVITY

__all__ = ["formulas", "systems", "alphabetical_order", "join_rows", "reduced_formula", "fraction_formula",
           "amounts_formula", "chemical_system", "plural"]

# pymatgen's Composition.special_formulas: formulas it does not reduce completely
_SPECIAL = {"LiO": "Li2O2", "NaO": "Na2O2", "KO": "K2O2", "HO": "H2O2", "CsO": "Cs2O2", "RbO": "Rb2O2",
            "O": "O2", "N": "N2", "F": "F2", "Cl": "Cl2", "H": "H2"}
_POLYANION_GAP = 1.65  # electronegativity difference below which the last two elements form a polyanion


_SYMBOLS = np.array(ALL_ELEMENTS, dtype=object)
_X = np.array(ELECTRONEGATIVITY, dtype=np.float64)  # NaN where none: never a polyanion, as in pymatgen
# position of each element in pymatgen's formula order (electronegativity, none counting as +inf,
# then symbol) and alphabetically
_FORMULA_RANK = np.argsort(np.lexsort((np.array(ALL_ELEMENTS), np.nan_to_num(_X, nan=np.inf))))
_ALPHA_RANK = np.argsort(np.argsort(np.array(ALL_ELEMENTS)))


def _sorted_pairs(offsets: np.ndarray, elements: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Permutation of the (row, element) pairs putting each row's elements in ``rank`` order."""
    rows = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    return np.lexsort((rank[elements], rows))


def join_rows(offsets: np.ndarray, parts: np.ndarray, sep: str = "") -> np.ndarray:
    """Row-wise concatenation (object array) of the string ``parts`` of each row (CSR by ``offsets``).

    >>> join_rows(np.array([0, 2, 2, 3]), np.array(["a", "b", "c"], dtype=object), "+").tolist()
    ['a+b', '', 'c']
    """
    counts = np.diff(offsets)
    out = np.full(len(counts), "", dtype=object)
    for p in range(int(counts.max(initial=0))):
        rows = np.flatnonzero(counts > p)
        piece = parts[offsets[rows] + p]
        out[rows] = out[rows] + (piece if p == 0 or not sep else sep + piece)
    return out


def formulas(offsets, elements, amounts) -> np.ndarray:
    """Reduced formulas (object array) of many rows of positive integer ``amounts`` of element ids
    ``elements`` (CSR by ``offsets``); "" for a row without elements.

    >>> formulas(np.array([0, 2, 5, 5]), np.array([6, 22, 6, 12, 16]), np.array([6, 4, 8, 2, 3])).tolist()
    ['Fe2O3', 'Ca3(PO4)2', '']
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    counts = np.diff(offsets)
    perm = _sorted_pairs(offsets, np.asarray(elements, dtype=np.int64), _FORMULA_RANK)
    el = np.asarray(elements, dtype=np.int64)[perm]
    amt = np.asarray(amounts, dtype=np.int64)[perm]
    rows = np.flatnonzero(counts > 0)
    factor = np.ones(len(counts), dtype=np.int64)
    if len(rows):
        factor[rows] = np.gcd.reduceat(amt, offsets[rows])
    red = amt // np.repeat(factor, counts)
    # the last two elements form a polyanion when close in electronegativity and sharing a factor
    poly = np.zeros(len(counts), dtype=bool)
    pf = np.ones(len(counts), dtype=np.int64)
    big = np.flatnonzero(counts >= 3)
    if len(big):
        a, b = offsets[big + 1] - 2, offsets[big + 1] - 1
        pf[big] = np.gcd(red[a], red[b])
        poly[big] = (_X[el[b]] - _X[el[a]] < _POLYANION_GAP) & (pf[big] != 1)
    in_poly = np.zeros(len(el), dtype=bool)
    pr = np.flatnonzero(poly)
    in_poly[offsets[pr + 1] - 2] = in_poly[offsets[pr + 1] - 1] = True
    shown = np.where(in_poly, red // np.repeat(pf, counts), red)
    # amount strings from a table of the distinct amounts ("" for 1)
    values, which = np.unique(shown, return_inverse=True)
    text = np.array(["" if v == 1 else str(v) for v in values.tolist()], dtype=object)
    parts = _SYMBOLS[el] + text[which]
    main_counts = counts - 2 * poly
    main = join_rows(np.concatenate([[0], np.cumsum(main_counts)]), parts[~in_poly])
    if len(pr):
        inner = join_rows(np.arange(0, 2 * len(pr) + 1, 2), parts[in_poly])
        main[pr] = main[pr] + "(" + inner + ")" + pf[pr].astype(str).astype(object)
    small = np.flatnonzero((counts > 0) & (counts <= 2))
    main[small] = [_SPECIAL.get(f, f) for f in main[small]]
    return main


def systems(offsets, elements) -> np.ndarray:
    """Chemical systems (object array, "" for a row without elements) of many rows of element ids.

    >>> systems(np.array([0, 2, 3]), np.array([6, 22, 0])).tolist()
    ['Fe-O', 'H']
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    el = np.asarray(elements, dtype=np.int64)
    perm = _sorted_pairs(offsets, el, _ALPHA_RANK)
    return join_rows(offsets, _SYMBOLS[el[perm]], "-")


def alphabetical_order(table: np.ndarray) -> np.ndarray:
    """``(n_systems, order)`` column indices that put each row of a system table (element ids)
    in alphabetical order of its symbols: ``table[s, alphabetical_order(table)[s]]``.

    >>> alphabetical_order(np.array([[6, 22], [22, 24]])).tolist()     # O-Fe -> Fe, O; Fe-Ni stays
    [[1, 0], [0, 1]]
    """
    t = np.asarray(table, dtype=np.int64)
    return np.argsort(_ALPHA_RANK[t], axis=1, kind="stable")


def reduced_formula(symbols: Sequence[str], amounts: Sequence[int]) -> str:
    """pymatgen's reduced formula of positive integer ``amounts`` of ``symbols`` (see the module
    docstring).

    >>> reduced_formula(["Li", "Fe", "P", "O"], [4, 4, 4, 16]), reduced_formula(["Li", "O"], [2, 2])
    ('LiFePO4', 'Li2O2')
    >>> reduced_formula(["He", "Na"], [1, 2]), reduced_formula(["Xe", "F"], [1, 2])
    ('Na2He', 'XeF2')
    """
    el = [ALL_ELEMENT_INDEX[s] for s in symbols]
    return str(formulas(np.array([0, len(el)]), np.array(el), np.array([int(a) for a in amounts]))[0])


def fraction_formula(symbols: Sequence[str], fractions: Sequence[float]) -> str:
    """A formula of atomic fractions (8 decimals), elements in pymatgen's order, for compositions
    with no small integer amounts.

    >>> fraction_formula(["O", "Li"], [0.7, 0.3])
    'Li0.3O0.7'
    >>> fraction_formula(["Li", "Co", "Al", "O"], [0.25, 0.249975, 0.000025, 0.5])
    'Li0.25Al0.000025Co0.249975O0.5'
    """
    pairs = sorted(zip(symbols, fractions), key=lambda p: _FORMULA_RANK[ALL_ELEMENT_INDEX[p[0]]])
    return "".join(f"{s}{_decimal(f)}" for s, f in pairs)


def amounts_formula(symbols: Sequence[str], amounts: Sequence[float] | np.ndarray, digits: int = 6) -> str:
    """A formula of non-integer ``amounts`` (as written, or atomic fractions), for a composition with
    no small integer amounts, that reads like one written by hand: pymatgen's ``reduced_formula`` of
    it, without the ``1``s. Amounts to ``digits`` significant digits, positional, elements in
    pymatgen's order. Atomic fractions (summing to 1) are first scaled so that one element has
    amount 1 and as many others as possible whole amounts up to 100.

    >>> amounts_formula(["Li", "Ni", "Mn", "Co", "O"], [1, 0.333, 0.333, 0.333, 2])
    'LiMn0.333Co0.333Ni0.333O2'
    >>> amounts_formula(["Fe", "O"], [0.0001 / 1.0001, 1 / 1.0001])
    'Fe0.0001O'
    """
    a = np.asarray(amounts, dtype=np.float64)
    if len(a) and abs(a.sum() - 1.0) < 1e-9:  # atomic fractions: a scale that reads like a formula
        best: tuple[tuple[int, float, int], np.ndarray] | None = None
        for i in range(len(a)):
            scaled = a / a[i]
            whole = np.abs(scaled - np.rint(scaled)) <= 1e-5 * np.maximum(scaled, 1.0)
            key = (-int((whole & (scaled >= 1) & (scaled <= 100)).sum()), float(scaled.max()), i)
            if best is None or key < best[0]:
                best = (key, scaled)
        assert best is not None  # len(a) > 0
        a = best[1]
    pairs = sorted(zip(symbols, a), key=lambda p: _FORMULA_RANK[ALL_ELEMENT_INDEX[p[0]]])
    return "".join(s + _significant(v, digits) for s, v in pairs)


def _significant(value: float, digits: int) -> str:
    """``value`` to ``digits`` significant digits, positional, without trailing zeros; "" for 1."""
    value = float(value)
    places = max(0, digits - 1 - int(np.floor(np.log10(value)))) if value > 0 else digits
    text = f"{value:.{places}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "" if text == "1" else text


def _decimal(value: float) -> str:
    """``value`` to 8 decimals, in positional notation without trailing zeros (0.000025, not 2.5e-05)."""
    return f"{float(value):.8f}".rstrip("0").rstrip(".")


def chemical_system(symbols: Sequence[str]) -> str:
    """The chemical system: the distinct symbols sorted alphabetically, joined by ``-``.

    >>> chemical_system(["O", "Fe", "O"])
    'Fe-O'
    """
    return "-".join(sorted(set(symbols)))


def plural(n: int, noun: str) -> str:
    """A count and its noun as hullpack's messages and reports write them.

    >>> plural(1, "file"), plural(2, "file"), plural(50_000, "compound"), plural(2, "vertex")
    ('1 file', '2 files', '50,000 compounds', '2 vertices')
    """
    many = noun[:-2] + "ices" if noun.endswith("ex") else noun + "s"
    return f"{n:,} {noun if n == 1 else many}"
