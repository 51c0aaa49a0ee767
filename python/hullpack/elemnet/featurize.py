"""Formulas or compositions -> ElemNet's ``(n, 86)`` element fractions (or, ``all_elements=True``,
``(n, 118)`` fractions of every element H..Og in :data:`hullpack.elements.ALL_ELEMENTS` order, for
what needs no model).

Plain formulas ("Fe2O3", "Al1Sm1Tm1", "Li0.5CoO2") go through a regex parser (all 341,700 OQMD
formulas in about a second); formulas with brackets go through pymatgen when it is installed. A
hydrate or adduct dot (·, •, ⋅, ∙ or *) joins parts, each with an optional leading count:
"CuSO4·5H2O" is CuSO4 plus five H2O. Subscript digits read as digits ("Fe₂O₃"). A full stop there ("CuSO4.5H2O", "Na2CO3.10H2O") is refused
as ambiguous, where pymatgen reads a decimal amount (O4.5): it names both ways to write it.

A formula that cannot be read is told what it is and what to write instead, where it is one of the
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

from ..columns import is_missing_text
from ..elements import (ALL_ELEMENT_INDEX, CHARGE_MESSAGE, ELEMENT_INDEX, N_ALL_ELEMENTS, N_ELEMENTS, OTHER_ELEMENTS,
                        not_an_element, not_in_elemnet)
from ..errors import CompositionError
from ..naming import amounts_formula, reduced_formula

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
        raise ValueError(_explained(text) or str(exc)) from None


def _reads(text: str) -> bool:
    """Whether ``text`` is a formula the featurizer reads (of any element H..Og)."""
    try:
        _row(_amounts_of_string(text), ALL_ELEMENT_INDEX)
    except ValueError:
        return False
    return bool(text.strip())


# what a formula that cannot be read often is, as tables and papers hold them
_DATABASES = {"mp": "Materials Project", "mvc": "Materials Project", "oqmd": "OQMD", "jvasp": "JARVIS-DFT",
              "jarvis": "JARVIS-DFT", "agm": "Alexandria", "icsd": "ICSD", "cod": "COD", "aflow": "AFLOW"}
_DATABASE_ID = re.compile(r"(?i)(mp|mvc|oqmd|jvasp|jarvis|agm|icsd|cod|aflow)[-_:]?[0-9a-f]*\d[0-9a-f]*")
_NUMBER = re.compile(r"[-+−]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?")
_PHASES = {"s": "solid", "l": "liquid", "g": "gas", "aq": "aqueous solution", "cr": "crystal", "c": "crystal",
           "am": "amorphous", "liq": "liquid", "gas": "gas", "sol": "solid", "solid": "solid", "liquid": "liquid"}
_TRAILING_BRACKETS = re.compile(r"(.*?)\s*[(\[]([^()\[\]]*)[)\]]")
# an ion's charge at the end, apart from its atoms: "SO4 2-", "SO4^2-", "SO4(2-)", "Fe[3+]"
_ION = re.compile(r"(.*?[A-Za-z0-9)])\s*(?:\^\s*|\s+)?(?:[(\[]\s*)?(\d?[+-]|[+-]\d?)\s*[)\]]?")
_TRAILING_CHARGE = re.compile(r"(?:\d?[+-]|[+-]\d?)\s*[)\]]?$")
_SEPARATED_CHARGE = re.compile(r"(?:\s|\^|[(\[])\s*(?:\d?[+-]|[+-]\d?)\s*[)\]]?$")
_SYSTEM = re.compile(r"[A-Z][a-z]?(?:-[A-Z][a-z]?)+")
# a variable amount: "LixCoO2", "Ba1-xSrxTiO3", "Fe1-xO", "Li1+xMn2-xO4", "YBa2Cu3O7-δ"
_VARIABLE = re.compile(r"(?<=[A-Za-z)\]])(?:(\d+(?:\.\d+)?)\s*([-+]))?\s*(\d+(?:\.\d+)?)?([xyzδ])(?![a-z])")
# an amount in brackets or as a LaTeX subscript: "Li(0.5)CoO2", "Fe_2O_3", "Fe_{2}O_{3}", "Fe$_2$O$_3$"
_WRAPPED_AMOUNT = re.compile(r"\$?_\{?(\d+(?:\.\d+)?)\}?\$?|[({\[]\s*(\d+(?:\.\d+)?)\s*[)}\]]")
_QUOTES = "'\"`‘’“”"
# a Roman-numeral oxidation state after a symbol: "Fe(II)O", "Cu(I)2O", "Mn[IV]O2", which pymatgen
# reads as iodine and vanadium (FeI2O)
_OXIDATION_STATE = re.compile(r"([A-Z][a-z]?)[(\[](I{1,3}|IV|VI{0,3}|IX|X)[)\]]")
# δ typed as d after a sign: "La0.6Sr0.4CoO3-d"
_DELTA_AS_D = re.compile(r"(?<=\d)([-+])d(?![A-Za-z])")
# a decimal comma in an amount after a symbol: "Fe2,5O", "Li0,5CoO2" (not "NaCl,2KCl": two formulas)
_DECIMAL_COMMA = re.compile(r"(?<=[A-Za-z)\]])(\d+),(\d+)(?=[A-Z(\[]|$)")
# a variable hydrate count after the dot: "Fe2O3·nH2O", "CuSO4.xH2O"
_HYDRATE_VARIABLE = re.compile(r"\s*([·•⋅∙*.])\s*([nmxyz])\s*(?=[A-Z(])")
# a count before a formula, as an equation has it: "2Fe2O3", "0.5 H2O"
_LEADING_COUNT_ALONE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(?=[A-Z(\[])")
# a word or words rather than symbols: "halite", "Quartz", "sodium chloride"
_NAME = re.compile(r"[A-Za-z][a-z]+(?:[ -]+[A-Za-z][a-z]+)*")
# two-letter symbols only: "NaCl" is what "nacl" plausibly means, "WAtEr" not what "water" does
_TWO_LETTER_SYMBOLS = re.compile(r"(?:[A-Z][a-z])+")
# hydrogen's isotopes as symbols: "D2O", "CD4", but not Dy, Ta, Ti, ...
_ISOTOPE_SYMBOL = re.compile(r"[DT](?![a-z])")
# compounds joined as a pseudo-binary section, a sum or a composite: "NaCl-KCl", "0.5Fe2O3-0.5Al2O3",
# "Fe2O3 + NaCl", "LiFePO4/C" (a variable amount's "Fe1-xO" leaves a piece that does not read)
_JOIN = re.compile(r"\s*(?:[-+]|/(?!\d))\s*")  # not a fraction's slash: "Co1/3"
# a site shared by several elements, as a solid solution is written: "(Li,Na)Cl", "(Fe, Mg)2SiO4"
_SHARED_SITE = re.compile(r"\(\s*([A-Z][a-z]?(?:\s*,\s*[A-Z][a-z]?)+)\s*\)(\d+(?:\.\d+)?)?")
# a hydrate's dot typed as a letter x or a multiplication sign: "CuSO4x5H2O", "CuSO4×5H2O"
_HYDRATE_AS_X = re.compile(r"(.+?)\s*[xX×]\s*(\d+(?:\.\d+)?\s*H2O)")


def _without_count(piece: str) -> str:
    """``piece`` without a count of formula units before it: "2KCl" -> "KCl"."""
    piece = piece.strip()
    m = _LEADING_COUNT_ALONE.match(piece)
    return piece[m.end():] if m else piece


def _respelled(text: str) -> list[str]:
    """Formulas (up to 3, the fewest symbols first) that ``text`` spells with its symbols'
    capitals put right: ``FE2O3`` is Fe2O3, ``licoo2`` LiCoO2 or LiCOO2."""
    parts = re.findall(r"[A-Za-z]+|[^A-Za-z]+", text)
    symbols = {e.lower(): e for e in ALL_ELEMENT_INDEX if e not in _ISOTOPES}

    def spell(letters: str) -> list[list[str]]:
        if not letters:
            return [[]]
        out = []
        for n in (2, 1):
            head = symbols.get(letters[:n].lower()) if len(letters) >= n else None
            if head:
                out += [[head, *rest] for rest in spell(letters[n:])]
        return out[:8]

    readings = [[]]
    for part in parts:
        options = spell(part) if part[0].isalpha() else [[part]]
        readings = [r + o for r in readings for o in options][:8]
    found = ["".join(r) for r in sorted(readings, key=len)]
    return [f for f in dict.fromkeys(found) if f != text and _reads(f)][:3]


def _oxidation_state_problem(text: str) -> str:
    """Why ``text`` with an oxidation state in brackets (``Fe(II)O``) is not read, and what to write.

    >>> _oxidation_state_problem("Fe(III)2O3")
    "Fe(III) is an oxidation state, not atoms (I is iodine, V vanadium): write the formula without it, 'Fe2O3'"
    """
    m = _OXIDATION_STATE.search(text)
    neutral = _OXIDATION_STATE.sub(r"\1", text)
    what = f", {_short.repr(neutral)}" if _reads(neutral) else ""
    return (f"{m.group(0)} is an oxidation state, not atoms (I is iodine, V vanadium): write the formula "
            f"without it{what}")


def _variable_value(text: str, value: float = 0.1) -> str | None:
    """``text`` with its variable amounts (x, y, z, δ) at ``value``: Ba1-xSrxTiO3 is Ba0.9Sr0.1TiO3
    (a typeset minus sign made ``-`` already, as :func:`_explained` gives it)."""
    def amount(m: re.Match) -> str:
        base, sign, factor = m.group(1), m.group(2), float(m.group(3) or 1)
        a = factor * value if base is None else float(base) + (factor * value if sign == "+" else -factor * value)
        return f"{round(a, 6):g}" if a > 0 else "!"
    written = _VARIABLE.sub(amount, text)
    return written if written != text and "!" not in written and _reads(written) else None


def _compound_problem(s: str) -> str | None:
    """What ``s`` is where it writes a hydrate, a solid solution or several compounds in a way no
    formula does; None otherwise.

    >>> _compound_problem("(Li,Na)Cl")
    "a shared site (Li,Na) is not read: write each element's amount, such as 'Li0.5Na0.5Cl' for equal shares"
    >>> _compound_problem("0.5Fe2O3-0.5Al2O3")
    "0.5Fe2O3-0.5Al2O3 joins compounds (Fe2O3, Al2O3: a section between them, a sum or a composite), not \
one composition: give each its own entry (row), or one point of the join as one formula, such as 'AlFeO3' \
(the parts summed)"
    """
    m = _HYDRATE_AS_X.fullmatch(s)
    if m and _reads(m.group(1)):
        return (f"a hydrate is written with a dot, not {s[m.end(1):m.start(2)].strip()!r} (read as a variable "
                f"amount or no symbol): write {_short.repr(m.group(1) + '·' + m.group(2))}")
    m = _SHARED_SITE.search(s)
    if m:
        symbols = [e.strip() for e in m.group(1).split(",")]
        share = float(m.group(2) or 1) / len(symbols)
        amount = "" if share == 1 else f"{round(share, 6):g}"
        written = s[:m.start()] + "".join(e + amount for e in symbols) + s[m.end():]
        return (f"a shared site ({','.join(symbols)}) is not read: write each element's amount"
                + (f", such as {_short.repr(written)} for equal shares" if _reads(written) else ""))
    pieces = _JOIN.split(s)
    if len(pieces) > 1 and all(_reads(_without_count(p)) for p in pieces) and any(
            len({e for e, _ in _TOKEN.findall(_without_count(p))}) > 1 for p in pieces):
        amounts: dict[str, float] = {}
        for piece in pieces:
            count = _LEADING_COUNT_ALONE.match(piece.strip())
            k = float(count.group(1)) if count else 1.0
            for e, a in _amounts_of_string(_without_count(piece)):
                amounts[e] = amounts.get(e, 0.0) + k * a
        whole = all(float(a).is_integer() for a in amounts.values())
        point = (reduced_formula if whole else amounts_formula)(list(amounts), list(amounts.values()))
        return (f"{s} joins compounds ({', '.join(_without_count(p) for p in pieces)}: a section between them, a "
                "sum or a composite), not one composition: give each its own entry (row), or one point of the "
                f"join as one formula, such as {_short.repr(point)} (the parts summed)")
    return None


def _explained(text: str) -> str | None:
    """What a formula that cannot be read is, in a chemist's words, and what to write instead;
    None where it is nothing recognised (the parser's own reason then stands)."""
    s = text.strip()
    if not s:
        return None
    if is_missing_text(s):
        return f"{s!r} marks a missing value, not a formula: give the formula, or leave the entry out"
    if _NUMBER.fullmatch(s):
        return ("a number, not a formula (an energy or an id in the formula's place?): give a formula such as "
                "'Fe2O3'")
    m = _DATABASE_ID.fullmatch(s)
    if m:
        database = _DATABASES[m.group(1).lower()]
        field = " (Materials Project's formula_pretty)" if database == "Materials Project" else ""
        return f"a database id ({database}), not a formula: give the material's formula{field}, such as 'Fe2O3'"
    if len(s) > 2 and s[0] in _QUOTES and s[-1] in _QUOTES and _reads(s[1:-1].strip()):
        return f"quotes around the formula: write {_short.repr(s[1:-1].strip())} without them"
    found = _compound_problem(s)
    if found:
        return found
    odd = [c for c in s if not (c.isascii() or c in "·•⋅∙₀₁₂₃₄₅₆₇₈₉δ" or c.isspace() and c.isprintable())]
    if odd:
        import unicodedata

        c = odd[0]
        name = unicodedata.name(c, "")
        numeric = unicodedata.numeric(c, None) if not c.isdigit() else None
        if numeric is not None:  # a vulgar fraction: "Mg½O½"
            cleaned = "".join(f"{unicodedata.numeric(ch):g}" if not ch.isdigit() and unicodedata.numeric(ch, None)
                              is not None else ch for ch in s)
            return (f"amounts are decimal numbers, not the fraction {c} ({name.lower()})"
                    + (f": write {_short.repr(cleaned)}" if _reads(cleaned) else ""))
        dashes = {"\u2212": "-", "\u2013": "-", "\u2014": "-", "\u2010": "-", "\u2011": "-"}
        cleaned = "".join(dashes.get(ch, "") if ch in odd else ch for ch in s)
        hint = f": write {_short.repr(cleaned)}" if _reads(cleaned) else ""
        if c in dashes:
            return _explained(cleaned) or \
                f"the character {c!r} (U+{ord(c):04X}, {name.lower()}) is no part of a formula"
        what = "an invisible character" if not c.isprintable() or unicodedata.category(c) == "Cf" else "the character"
        return f"{what} {c!r} (U+{ord(c):04X}, {name.lower() or 'unnamed'}) is no part of a formula{hint}"
    if not_an_element(s) == CHARGE_MESSAGE and _TRAILING_CHARGE.search(s):
        m = _ION.fullmatch(s) if _SEPARATED_CHARGE.search(s) else None  # "SO42-": SO4 2- or SO 42-?
        atoms = m.group(1).strip() if m else ""
        return (f"{CHARGE_MESSAGE}; {s} is an ion: write the compound it is part of, with its counter-ions (such as "
                "'Na2SO4' for SO4 2-)" + (f", or {_short.repr(atoms)} for its atoms alone" if _reads(atoms) else ""))
    if _OXIDATION_STATE.search(s):
        return _oxidation_state_problem(s)
    comma = _DECIMAL_COMMA.sub(r"\1.\2", s)
    if comma != s and _reads(comma):
        fix = f"amounts take a decimal point, not a comma: write {_short.repr(comma)}"
        # "Fe2O3,2FeO" may be two compounds as well; an amount "0,5" is surely a decimal comma
        pieces = [_without_count(p) for p in s.split(",")]
        if any(m.group(1) != "0" for m in _DECIMAL_COMMA.finditer(s)) and all(
                _reads(p) and len({symbol for symbol, _ in _TOKEN.findall(p)}) > 1 for p in pieces):
            return f"several formulas ({', '.join(pieces)}) in one: give each its own entry (row); or, if not, {fix}"
        return fix
    m = _HYDRATE_VARIABLE.search(s)
    if m:
        written = _HYDRATE_VARIABLE.sub(lambda d: f"{d.group(1).replace('.', '·')}2", s)  # the full stop: ambiguous
        return (f"a variable hydrate count ({m.group(2)}) is not read: give it a number"
                + (f", such as {_short.repr(written)}" if _reads(written) else ""))
    m = _LEADING_COUNT_ALONE.match(s)
    if m and _reads(s[m.end():]):
        return (f"the count {m.group(1)} before the formula (formula units, as in an equation) is no part of a "
                f"composition: write {_short.repr(s[m.end():])}")
    pieces = [p.strip() for p in re.split(r"[,;]|\.$|#.*", s) if p.strip()]  # "Fe2O3, hematite", "NaCl # halite"
    if len(pieces) > 1 or (pieces and pieces[0] != s):
        readable = [_without_count(p) for p in pieces if _reads(_without_count(p))]  # "NaCl,2KCl"
        if len(readable) > 1:
            hydrate = re.fullmatch(r"([^,]+),\s*(\d+)\s*H2O", s)  # "CuSO4,5H2O"
            return (f"several formulas ({', '.join(readable)}) in one: give each its own entry (row)"
                    + (f"; or, for a hydrate, write {_short.repr(hydrate.group(1).strip() + '·' + hydrate.group(2) + 'H2O')}"
                       if hydrate else ""))
        if len(readable) == 1:
            return f"write the formula alone: {_short.repr(readable[0])}"
    m = _TRAILING_BRACKETS.fullmatch(s)
    if m and _reads(m.group(1)):
        label, head = m.group(2).strip(), m.group(1)
        phase = _PHASES.get(label.lower())
        if phase:
            return (f"({label}) is a phase label ({phase}): ElemNet and the hull read compositions only: write "
                    f"{_short.repr(head)}")
        if _NUMBER.fullmatch(label) is None:
            return (f"({label}) is a note, not part of the formula (a polymorph or a mineral is not read: one "
                    f"energy per composition): write {_short.repr(head)}")
    if _SYSTEM.fullmatch(s) and all(e in ALL_ELEMENT_INDEX for e in s.split("-")):
        return (f"{s} is a chemical system (its elements), not a formula: give a composition, such as "
                f"{_short.repr(''.join(s.split('-')))}")
    delta = _DELTA_AS_D.sub(r"\1δ", s)
    written = _variable_value(delta)
    if written:
        variable = _VARIABLE.search(delta).group(4)
        typed = "d, for δ" if delta != s and variable == "δ" else variable
        return (f"a variable amount ({typed}) is not read: give it a value, such as {_short.repr(written)} for "
                f"{variable} = 0.1")
    unwrapped = _WRAPPED_AMOUNT.sub(lambda m: m.group(1) or m.group(2), s)
    if unwrapped != s and _reads(unwrapped):
        return f"amounts follow their symbol without brackets or subscript marks: write {_short.repr(unwrapped)}"
    joined = "".join(s.split())
    as_written = plain_amounts(joined)
    # a heavy hydrogen is no symbol in the wrong case: "(ND4)2SO4" is not "(Nd4)2SO4"
    isotope = _ISOTOPE_SYMBOL.search(joined) and _reads(_ISOTOPE_SYMBOL.sub("H", joined))
    respelled = _respelled(joined) if len(joined) <= 100 and not isotope and (as_written is None or any(
        e not in ALL_ELEMENT_INDEX for e, _ in as_written)) else []  # not where each symbol is one as written
    if _NAME.fullmatch(s) and len(joined) > 3:  # re-capitalised, a word is mostly symbols it never meant
        respelled = [f for f in respelled if _TWO_LETTER_SYMBOLS.fullmatch(f)]
        if not respelled:
            return (f"{s} looks like a name, not a formula: give its formula of element symbols, such as 'NaCl' for "
                    "halite or 'Fe' for iron")
    if respelled:
        return ("element symbols start with a capital letter, and a second letter is lowercase: did you mean "
                + " or ".join(map(repr, respelled)) + "?")
    return None


def parse_formulas(formulas: Iterable[Any] | str, *,
                   all_elements: bool = False) -> tuple[np.ndarray, list[tuple[int, str, str]]]:
    """Fractions ``(n, 86)`` float32 in ElemNet's order (rows of bad entries are NaN) and the list of
    bad entries as ``(index, text, reason)``. Never raises for a bad entry. ``all_elements=True``:
    fractions ``(n, 118)`` of every element H..Og (:data:`hullpack.elements.ALL_ELEMENTS` order,
    ElemNet's 86 first), for what needs no model; an element ElemNet lacks is then no bad entry.

    >>> x, bad = parse_formulas(["Fe2O3", "Xx2", "HeO"])
    >>> round(float(x[0].sum()), 6), bad
    (1.0, [(1, 'Xx2', "unknown element 'Xx'"), (2, 'HeO', "He is not one of ElemNet's 86 elements")])
    >>> x, bad = parse_formulas(["Fe2O3", "HeO"], all_elements=True)
    >>> x.shape, float(x[1, 86]), bad
    ((2, 118), 0.5, [])
    """
    if hasattr(formulas, "to_numpy") and not isinstance(formulas, Mapping):
        formulas = formulas.tolist()  # a pandas Series: its values, not one (index, value) mapping
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
      [2] 'HeH': He is not one of ElemNet's 86 elements
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
