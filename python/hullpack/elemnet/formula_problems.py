"""What a formula that cannot be read is, in a chemist's words, and what to write instead: the
messages :mod:`hullpack.elemnet.featurize` gives for the things tables and papers hold in a
formula's place (its module docstring lists them). Imported only once a formula cannot be read."""
from __future__ import annotations

import re

from ..columns import is_missing_text
from ..elements import ALL_ELEMENT_INDEX, CHARGE_MESSAGE, not_an_element
from ..naming import amounts_formula, reduced_formula
from .featurize import (_ISOTOPE_SYMBOL, _ISOTOPES, _OXIDATION_STATE, _TOKEN, _amounts_of_string,
                        _oxidation_state_problem, _reads, _short, plain_amounts)


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

    readings: list[list[str]] = [[]]
    for part in parts:
        options = spell(part) if part[0].isalpha() else [[part]]
        readings = [r + o for r in readings for o in options][:8]
    found = ["".join(r) for r in sorted(readings, key=len)]
    return [f for f in dict.fromkeys(found) if f != text and _reads(f)][:3]


def _variable_value(text: str, value: float = 0.1) -> str | None:
    """``text`` with its variable amounts (x, y, z, δ) at ``value``: Ba1-xSrxTiO3 is Ba0.9Sr0.1TiO3
    (a typeset minus sign made ``-`` already, as :func:`explained` gives it)."""
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
        symbols, values = list(amounts), list(amounts.values())
        whole = all(float(a).is_integer() for a in values)
        point = reduced_formula(symbols, [int(a) for a in values]) if whole else amounts_formula(symbols, values)
        return (f"{s} joins compounds ({', '.join(_without_count(p) for p in pieces)}: a section between them, a "
                "sum or a composite), not one composition: give each its own entry (row), or one point of the "
                f"join as one formula, such as {_short.repr(point)} (the parts summed)")
    return None


def explained(text: str) -> str | None:
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
            return explained(cleaned) or \
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
    value = _variable_value(delta)
    m = _VARIABLE.search(delta)
    if value and m:  # (a value is written where a variable is)
        variable = m.group(4)
        typed = "d, for δ" if delta != s and variable == "δ" else variable
        return (f"a variable amount ({typed}) is not read: give it a value, such as {_short.repr(value)} for "
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
