"""Formulas or compositions -> ElemNet's ``(n, 86)`` element fractions (or, ``all_elements=True``,
``(n, 118)`` fractions of every element H..Og in :data:`hullpack.elements.ALL_ELEMENTS` order, for
what needs no model).

Plain formulas ("Fe2O3", "Al1Sm1Tm1", "Li0.5CoO2") go through a regex parser (all 341,700 OQMD
formulas in about a second); formulas with brackets go through pymatgen when it is installed. A
hydrate or adduct dot (·, •, ⋅, ∙ or *) joins parts, each with an optional leading count:
"CuSO4·5H2O" is CuSO4 plus five H2O. Subscript digits read as digits ("Fe₂O₃"). A full stop there ("CuSO4.5H2O", "Na2CO3.10H2O") is refused
as ambiguous, where pymatgen reads a decimal amount (O4.5): it names both ways to write it.

A formula that cannot be read is told what it is and what to write instead
(:mod:`hullpack.elemnet.formula_problems`), where it is one of the
things tables and papers hold in a formula's place: a database id (``mp-19770``), an ion with its
charge (``SO4 2-``), a phase label or a note in brackets (``H2O(l)``, ``NaCl (rock salt)``), symbols
in the wrong case (``FE2O3``: did you mean Fe2O3?), a variable amount (``Ba1-xSrxTiO3``), an amount in
brackets or a LaTeX subscript (``Li(0.5)CoO2``, ``Fe_2O_3``), a decimal comma (``Fe2,5O``), a variable
hydrate count (``Fe2O3·nH2O``), a hydrate's dot typed as x (``CuSO4x5H2O``), a shared site of a solid
solution (``(Li,Na)Cl``), compounds joined (``NaCl-KCl``, ``Fe2O3 + Al2O3``, ``LiFePO4/C``), a count
before the formula (``2Fe2O3``), a chemical system (``Fe-O``),
a name (``halite``: no symbols put in capitals, as ``HAlITe``), a number, a missing-value marker,
quotes, several formulas in one, an invisible or typeset character.
"""
from __future__ import annotations

import logging
import math
import re
import reprlib
import warnings
from collections.abc import Mapping
from typing import Any, Iterable

import numpy as np

from ..elements import (ALL_ELEMENT_INDEX, ELEMENT_INDEX, N_ALL_ELEMENTS, N_ELEMENTS, OTHER_ELEMENTS, not_an_element,
                        not_in_elemnet)
from ..errors import CompositionError

log = logging.getLogger(__name__)

_FORMULA = re.compile(r"(?:[A-Z][a-z]?(?:\d+(?:\.\d*)?|\.\d+)?)+")
_TOKEN = re.compile(r"([A-Z][a-z]?)(\d+(?:\.\d*)?|\.\d+)?")
_HYDRATE_DOT = re.compile("[·•⋅∙*]")
_LEADING_COUNT = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_NUMBER_APART = re.compile(r"[^\s·•⋅∙*]\s+[\d.]")  # "Cu SO4 5H2O", "H2O 2": whose number is it?
# "CuSO4.5H2O": O4.5 to a parser (and to pymatgen), the pentahydrate to a chemist who could not type "·"
_DOT_ADDUCT = re.compile(r"(?<![\d.])([1-9]\d*)\.(\d+)(H2O|NH3)$")
# hydrogen's isotopes as pymatgen writes them: not elements of their own
_ISOTOPES = frozenset(("D", "T"))
# subscript digits, as formulas pasted from a web page or a document have them: "Fe₂O₃"
_SUBSCRIPT_DIGITS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
# a Roman-numeral oxidation state after a symbol: "Fe(II)O", "Cu(I)2O", "Mn[IV]O2", which pymatgen
# reads as iodine and vanadium (FeI2O)
_OXIDATION_STATE = re.compile(r"([A-Z][a-z]?)[(\[](I{1,3}|IV|VI{0,3}|IX|X)[)\]]")
# hydrogen's isotopes as symbols: "D2O", "CD4", but not Dy, Ta, Ti, ...
_ISOTOPE_SYMBOL = re.compile(r"[DT](?![a-z])")
_MAX_LISTED = 20  # bad entries spelled out in an error message; all are in CompositionError.bad
_MAX_PLACES = 200  # bad entries after those named by their place alone (row or index)
_short = reprlib.Repr()  # reprs of bad entries in messages: a 1e400-digit formula stays one line
_short.maxstring, _short.maxlong = 60, 30


def _amount(symbol: str, value: Any) -> float:
    """One amount of a mapping as a float; ValueError naming the element for anything but a number
    (None, strings, bools, ints past the float range)."""
    if value is None or isinstance(value, (str, bytes, bool, np.bool_)):
        raise ValueError(f"amount of {symbol} is {_short.repr(value)}; amounts must be numbers")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"amount of {symbol} is {_short.repr(value)}, past the float range") from None
    except (TypeError, ValueError):
        raise ValueError(f"amount of {symbol} is {_short.repr(value)}; amounts must be numbers") from None


def _amounts_of_mapping(obj: Any) -> list[tuple[str, float]]:
    """(symbol, amount) pairs of a pymatgen Composition or a {element: amount} mapping."""
    try:
        items = list(obj.items())
    except Exception as exc:  # an object with a broken items(): a bad entry, not a crash
        raise ValueError(f"cannot read the mapping's items ({type(exc).__name__}: {str(exc)[:80]})") from None
    pairs = []
    for item in items:
        if not isinstance(item, tuple) or len(item) != 2:
            raise ValueError(f"the mapping's items() gave {_short.repr(item)}, not (element, amount) pairs")
        el, amt = item
        symbol = getattr(el, "symbol", None) or str(el)
        pairs.append((symbol, _amount(symbol, amt)))
    return pairs


def _amounts_of_string(text: str) -> list[tuple[str, float]]:
    text = text.translate(_SUBSCRIPT_DIGITS)
    if _NUMBER_APART.search(text):  # "Cu SO4 5H2O" joined would be CuSO45H2O
        raise ValueError("a number after a space is ambiguous; write a hydrate as 'CuSO4·5H2O' or 'CuSO4(H2O)5'")
    s = "".join(text.split())
    if not s:
        raise ValueError("empty formula")
    dot = _DOT_ADDUCT.search(s)
    if dot:
        head, whole, part, molecule = s[:dot.start()], *dot.groups()
        spelled = {"H2O": "H2O1", "NH3": "N1H3"}[molecule]  # the amount's reading, with no dot left to read
        kind = "hydrate" if molecule == "H2O" else "adduct"
        raise ValueError(f"{whole}.{part}{molecule} is ambiguous: write the {kind} as "
                         f"'{head}{whole}·{part}{molecule}' or '{head}{whole}*{part}{molecule}', or the amount "
                         f"{whole}.{part} as '{head}{whole}.{part}{spelled}'")
    parts = _HYDRATE_DOT.split(s)
    if len(parts) == 1:
        return _amounts_of_part(s)
    pairs = []
    for part in parts:
        count = _LEADING_COUNT.match(part)
        rest = part[count.end():] if count else part
        if not rest:
            raise ValueError("a hydrate dot with nothing after it, or a count without a formula")
        k = float(count.group()) if count else 1.0
        pairs += [(el, k * amount) for el, amount in _amounts_of_part(rest)]
    return pairs


def plain_amounts(s: str) -> list[tuple[str, float]] | None:
    """The (symbol, amount) pairs of a plain formula (symbols and amounts only: ``Li0.5CoO2``), as
    written (a symbol may repeat); None for anything else (brackets, spaces, dots, a lowercase
    symbol).

    >>> plain_amounts("Li0.5CoO2"), plain_amounts("Ca(OH)2")
    ([('Li', 0.5), ('Co', 1.0), ('O', 2.0)], None)
    """
    if not _FORMULA.fullmatch(s):
        return None
    return [(el, float(n) if n else 1.0) for el, n in _TOKEN.findall(s)]


def _amounts_of_part(s: str) -> list[tuple[str, float]]:
    """The (symbol, amount) pairs of a formula without spaces or hydrate dots."""
    pairs = plain_amounts(s)
    if pairs is not None:
        return pairs
    # a charge or a vacancy is named only where the formula fails to parse (pymatgen refuses both)
    if any(c in s for c in "()[]{}"):
        if _OXIDATION_STATE.search(s):
            raise ValueError(_oxidation_state_problem(s))
        isotope = _ISOTOPE_SYMBOL.search(s)
        if isotope:  # pymatgen reads D and T as H, silently, where "D2O" is refused
            raise ValueError(f"{isotope.group()} is an isotope of hydrogen: write H")
        try:
            from pymatgen.core import Composition
        except ImportError:
            raise ValueError(not_an_element(s) or "brackets need pymatgen (pip install \"hullpack[materials]\")") from None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return _amounts_of_mapping(Composition(s))
        except Exception:  # pymatgen raises several types for bad syntax, in its own words
            raise ValueError(not_an_element(s) or _bracket_problem(s)) from None
    why = not_an_element(s)
    if why:
        raise ValueError(why)
    if not s[0].isupper() and s[0].isalpha():
        raise ValueError("cannot parse formula: element symbols start with a capital letter ('Fe2O3', not 'fe2o3')")
    if re.search(r"\d/\d", s):  # Mg1/2O1/2
        raise ValueError("cannot parse formula: amounts are decimal numbers ('Mg0.5O0.5'), not fractions ('Mg1/2O1/2')")
    raise ValueError("cannot parse formula: expected element symbols with optional amounts, e.g. 'Fe2O3'")


def _bracket_problem(s: str) -> str:
    """Why a formula with brackets that pymatgen refuses cannot be read."""
    depth = 0
    for c in s:
        depth += c in "([{"
        depth -= c in ")]}"
        if depth < 0:
            break
    if depth:
        return "cannot parse formula: its brackets do not pair up"
    return "cannot parse formula: expected element symbols, amounts and brackets, such as 'Ca(OH)2'"


def _row(pairs: list[tuple[str, float]], index_of: dict[str, int]) -> tuple[list[int], list[float]]:
    cols, amts = [], []
    for symbol, amount in pairs:
        col = index_of.get(symbol)
        if col is None:
            if symbol in _ISOTOPES:
                raise ValueError(f"{symbol} is an isotope of hydrogen: write H")
            if symbol in OTHER_ELEMENTS:
                raise ValueError(not_in_elemnet([symbol]))
            raise ValueError(not_an_element(symbol) or f"unknown element {symbol!r}")
        if not math.isfinite(amount) or amount < 0:
            raise ValueError(f"amount of {symbol} is {amount}; amounts must be finite and >= 0")
        cols.append(col)
        amts.append(amount)
    total = sum(amts)
    if not cols or total <= 0:
        raise ValueError("no atoms (all amounts are zero)")
    if total == math.inf:  # every fraction would be 0: an all-zero row, the input of no composition
        raise ValueError("the amounts add up past the largest float (1.8e308); scale them down")
    return cols, amts


def _string_row(text: str, index_of: dict[str, int]) -> tuple[list[int], list[float]]:
    """:func:`_row` of a formula string; where it cannot be read, a ValueError saying what the text
    is in a chemist's words (a database id, an ion, a phase label, ...) and what to write instead,
    else the parser's own reason."""
    try:
        return _row(_amounts_of_string(text), index_of)
    except ValueError as exc:
        from .formula_problems import explained  # only for a formula that cannot be read

        raise ValueError(explained(text) or str(exc)) from None


def _reads(text: str) -> bool:
    """Whether ``text`` is a formula the featurizer reads (of any element H..Og)."""
    try:
        _row(_amounts_of_string(text), ALL_ELEMENT_INDEX)
    except ValueError:
        return False
    return bool(text.strip())


def _oxidation_state_problem(text: str) -> str:
    """Why ``text`` with an oxidation state in brackets (``Fe(II)O``) is not read, and what to write.

    >>> _oxidation_state_problem("Fe(III)2O3")
    "Fe(III) is an oxidation state, not atoms (I is iodine, V vanadium): write the formula without it, 'Fe2O3'"
    """
    m = _OXIDATION_STATE.search(text)
    assert m is not None, "text holds an oxidation state"
    neutral = _OXIDATION_STATE.sub(r"\1", text)
    what = f", {_short.repr(neutral)}" if _reads(neutral) else ""
    return (f"{m.group(0)} is an oxidation state, not atoms (I is iodine, V vanadium): write the formula "
            f"without it{what}")


def parse_formulas(formulas: Iterable[Any] | str, *,
                   all_elements: bool = False) -> tuple[np.ndarray, list[tuple[int, str, str]]]:
    """Fractions ``(n, 86)`` float32 in ElemNet's order (rows of bad entries are NaN) and the list of
    bad entries as ``(index, text, reason)``. Never raises for a bad entry. ``all_elements=True``:
    fractions ``(n, 118)`` of every element H..Og (:data:`hullpack.elements.ALL_ELEMENTS` order,
    ElemNet's 86 first), for what needs no model; an element ElemNet lacks is then no bad entry.

    >>> x, bad = parse_formulas(["Fe2O3", "Xx2", "HeO"])
    >>> round(float(x[0].sum()), 6), bad
    (1.0, [(1, 'Xx2', "unknown element 'Xx'"), (2, 'HeO', "He is not one of ElemNet's 86 elements (no He, ...)")])
    >>> x, bad = parse_formulas(["Fe2O3", "HeO"], all_elements=True)
    >>> x.shape, float(x[1, 86]), bad
    ((2, 118), 0.5, [])
    """
    if hasattr(formulas, "to_numpy") and not isinstance(formulas, Mapping):
        # a pandas Series (duck-typed): its values, not one (index, value) mapping
        formulas = formulas.tolist()  # type: ignore[union-attr]
    elif isinstance(formulas, (str, bytes)) or hasattr(formulas, "items"):
        formulas = [formulas]
    items = list(formulas)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    totals = np.ones(len(items), dtype=np.float64)
    bad: list[tuple[int, str, str]] = []
    amount_of: dict[str, float] = {"": 1.0}  # amount strings repeat a lot ("1", "2", ...)
    index_of = ALL_ELEMENT_INDEX if all_elements else ELEMENT_INDEX
    width = N_ALL_ELEMENTS if all_elements else N_ELEMENTS
    fullmatch, findall = _FORMULA.fullmatch, _TOKEN.findall
    for i, item in enumerate(items):
        # fast path: a plain formula of known elements with positive total (almost every input)
        if type(item) is str and fullmatch(item) and not (item.endswith(("H2O", "NH3")) and _DOT_ADDUCT.search(item)):
            tokens = findall(item)
            c, a = [], []
            for el, n in tokens:
                col = index_of.get(el)
                if col is None:
                    break
                amt = amount_of.get(n)
                if amt is None:
                    amt = amount_of[n] = float(n)
                c.append(col)
                a.append(amt)
            else:
                total = sum(a)
                if total > 0 and total != math.inf:
                    rows += [i] * len(c)
                    cols += c
                    vals += a
                    totals[i] = total
                    continue
        try:
            if isinstance(item, (str, bytes)):
                c, a = _string_row(item if isinstance(item, str) else item.decode("utf-8", "replace"), index_of)
            elif hasattr(item, "items"):
                c, a = _row(_amounts_of_mapping(item), index_of)
            elif item is None or (isinstance(item, float) and math.isnan(item)):
                raise ValueError("missing value")
            else:
                raise ValueError(f"expected a formula string or a Composition, got {type(item).__name__}")
        except ValueError as exc:
            bad.append((i, str(item), str(exc)))
            continue
        rows += [i] * len(c)
        cols += c
        vals += a
        totals[i] = sum(a)
    x = np.zeros((len(items), width), dtype=np.float32)
    if rows:
        r = np.asarray(rows, dtype=np.int64)
        # repeated symbols ("FeOFe") add up: sum per (row, column), then scatter once
        cells, inverse = np.unique(r * width + np.asarray(cols), return_inverse=True)
        x.ravel()[cells] = np.bincount(inverse, weights=np.asarray(vals) / totals[r])
    if bad:
        x[[b[0] for b in bad]] = np.nan
    return x, bad


def describe_bad(bad: list[tuple[int, str, str]], *, rows: bool = False) -> str:
    """Bad entries ``(index, text, reason)`` as indented lines, the first 20 of them with their text
    and reason: ``[index]`` of a list, or (``rows``) ``row N`` of a table, counted from 1 as the
    command line counts rows; then where the next 200 stand, and how many more there are (a
    command's user sees no exception's ``.bad``, and a warning has none).

    >>> describe_bad([(i, "Xx", "unknown element 'Xx'") for i in range(23)], rows=True).splitlines()[-1]
    '  ... and 3 more: rows 21, 22, 23'
    """
    lines = [f"  {f'row {i + 1}' if rows else f'[{i}]'} {_short.repr(text)}: {reason}"
             for i, text, reason in bad[:_MAX_LISTED]]
    rest = bad[_MAX_LISTED:]
    if rest:
        places = ", ".join(str(i + 1 if rows else i) for i, _, _ in rest[:_MAX_PLACES])
        after = f" and {len(rest) - _MAX_PLACES:,} after them" if len(rest) > _MAX_PLACES else ""
        kind = ("row" if rows else "index") if len(rest) == 1 else ("rows" if rows else "indices")
        lines.append(f"  ... and {len(rest):,} more: {kind} {places}{after}")
    return "\n".join(lines)


def featurize(formulas: Iterable[Any] | str, *, errors: str = "raise") -> np.ndarray:
    """ElemNet input ``(n, 86)`` float32: element fractions summing to 1 per row.

    Accepts formula strings ("Fe2O3", "Li0.5CoO2", "CuSO4·5H2O", "Ca(OH)2" with pymatgen), pymatgen
    ``Composition`` objects and ``{element: amount}`` mappings. Bad entries (unparsable text,
    unknown elements or ones ElemNet lacks such as He, charges such as ``Fe3+`` or ``O2-`` and
    CALPHAD's vacancy ``Va``, which pymatgen refuses too, empty strings, no atoms, amounts that are
    not finite numbers >= 0, amounts adding up past the largest float) never abort the batch:

    - ``errors="raise"``: :class:`hullpack.errors.CompositionError` listing every one with its
      index and text (all of them in its ``.bad`` attribute);
    - ``errors="nan"``: their rows are NaN, the shape is kept; a warning names them;
    - ``errors="skip"``: their rows are left out; a warning names them (use
      :func:`parse_formulas` to get the indices programmatically).

    >>> x = featurize(["Fe2O3", "NaCl"])
    >>> x.shape, x.dtype.name, x.sum(axis=1).round(6).tolist()
    ((2, 86), 'float32', [1.0, 1.0])
    >>> try:
    ...     featurize(["NaCl", "", "HeH"])
    ... except ValueError as err:
    ...     print(err)
    2 of 3 compositions cannot be featurized:
      [1] '': empty formula
      [2] 'HeH': He is not one of ElemNet's 86 elements (no He, Ne, Ar, Po, At, Rn, Fr, Ra, nor any past Pu)
    >>> import warnings; warnings.simplefilter("ignore")
    >>> featurize(["NaCl", "(", "KBr"], errors="skip").shape
    (2, 86)
    """
    if errors not in ("raise", "skip", "nan"):
        raise ValueError(f"errors={errors!r}: expected 'raise', 'skip' or 'nan'")
    x, bad = parse_formulas(formulas)
    if not bad:
        return x
    message = f"{len(bad)} of {len(x)} compositions cannot be featurized:\n{describe_bad(bad)}"
    if errors == "raise":
        raise CompositionError(message, bad)
    warnings.warn(message + ("\n(left out)" if errors == "skip" else "\n(rows set to NaN)"), stacklevel=2)
    if errors == "skip":
        keep = np.ones(len(x), dtype=bool)
        keep[[b[0] for b in bad]] = False
        return x[keep]
    return x
