"""The column names hullpack reads from a table of compositions (and a file's suffixes read as a
table), and how a composition cell is read, in one place, without heavy imports: the command line's
help lists them too.

A header matches a name whatever its case, spaces or hyphens, and with a unit in brackets after it
(``Formation Energy Per Atom``, ``formation_energy (eV/atom)``); an energy column whose unit is not
eV/atom (``(meV/atom)``, ``[kJ/mol]``) is refused, named, rather than read as eV/atom.
"""
import ast
import io
import os
import re
from typing import Any, Literal, overload

#: columns read as compositions (the first present), unless one is named: the names of Materials
#: Project (``formula_pretty``, older ``pretty_formula``), AFLOW (``compound``), OQMD (``name``, last:
#: elsewhere a name may be no formula) and others' exports
COMPOSITION_COLUMNS = ("formula", "composition", "formula_pretty", "pretty_formula", "reduced_formula", "compound",
                       "name")
#: columns holding a database's id of each row, the first present named beside a row that
#: ``hullpack stability``'s summary lists: Materials Project (``material_id``, before its entries'
#: ``entry_id``), JARVIS (``jid``), AFLOW (``auid``), OQMD and pymatgen entries (``entry_id``),
#: Alexandria (``mat_id``), OPTIMADE (``id``)
ID_COLUMNS = ("material_id", "jid", "auid", "entry_id", "mat_id", "id")
#: an OPTIMADE entry's formulas, read as its composition where none of COMPOSITION_COLUMNS is
#: (``chemical_formula_reduced`` writes the elements in alphabetical order: ``ClNa`` is NaCl)
OPTIMADE_COMPOSITION_COLUMNS = ("chemical_formula_reduced", "chemical_formula_descriptive")
#: columns read as energies in eV/atom (the first present), unless one is named: formation energies
#: under the names of Materials Project, JARVIS, AFLOW and OQMD first, then as papers' tables name
#: them (``Formation enthalpy (eV/atom)``, ``dHf``; not ``Ef``, which may be a Fermi energy), then
#: generic names (Materials Project's ``energy_per_atom`` is a total energy)
ENERGY_COLUMNS = ("formation_energy_per_atom", "formation_energy_peratom", "e_form", "formation_energy",
                  "enthalpy_formation_atom", "delta_e", "formation_enthalpy", "enthalpy_of_formation",
                  "heat_of_formation", "dhf", "delta_hf", "delta_h_f", "energy", "energy_per_atom", "target")
#: the unit of the values of ENERGY_COLUMNS, the only one read
ENERGY_UNIT = "eV/atom"
#: the formation energies of ENERGY_COLUMNS: also read under an OPTIMADE provider's prefix
#: (``_oqmd_delta_e``, ``_alexandria_formation_energy_per_atom``, ``_jarvis_formation_energy_peratom``,
#: Materials Project's ``_mp_stability`` per functional: ``_mp_stability.r2scan.formation_energy_per_atom``)
FORMATION_ENERGY_COLUMNS = ENERGY_COLUMNS[:ENERGY_COLUMNS.index("energy")]
#: columns of hull distances, which are no formation energies (never read as energies): the names of
#: Materials Project (``energy_above_hull``), OQMD (``stability``, OPTIMADE's ``_oqmd_stability``),
#: Alexandria (``e_above_hull``, OPTIMADE's ``_alexandria_hull_distance``), JARVIS (``ehull``) and
#: hullpack's own tables (``e_above_hull``, ``decomposition_energy``), and the decomposition energies
#: (signed distances to the hull of the other compositions) of Materials Project
#: (``equilibrium_reaction_energy_per_atom``), Alexandria (``e_phase_separation``) and GNoME
#: (``Decomposition Energy Per Atom``)
HULL_DISTANCE_COLUMNS = ("e_above_hull", "energy_above_hull", "ehull", "e_hull", "hull_distance", "stability",
                         "decomposition_energy", "decomposition_energy_per_atom",
                         "equilibrium_reaction_energy_per_atom", "e_phase_separation")

#: cells that are a missing value in a column of numbers, whatever their case and the spaces around
#: them: JARVIS-DFT writes ``na``, other exports ``NA``, ``N/A``, ``nan``, ``None``, ``null`` or nothing.
#: In a column of text they stay text (a formula ``Na`` is sodium)
MISSING_VALUES = ("", "na", "n/a", "nan", "none", "null", "#n/a", "#n/a n/a", "<na>")  # also Excel's #N/A, pandas' <NA>
_MISSING = frozenset(MISSING_VALUES)

#: files read as tables (:func:`hullpack.stability.inputs.read_table`) rather than as text: CSV, TSV,
#: Parquet, JSON (records or columns, or a list of pymatgen entries) and JSON lines, also compressed
#: with gzip or bzip2 (Alexandria's entries are ``.json.bz2``)
TABLE_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".tsv", ".tsv.gz", ".tsv.bz2", ".parquet", ".json", ".json.gz",
                  ".json.bz2", ".jsonl", ".jsonl.gz", ".jsonl.bz2")

_BLANK_LINES_AT_START = re.compile(r"\A(?:\r\n|\r|\n)+")
_BLANKS = re.compile(r"^[ \t]+(?=\r?$)", re.MULTILINE)     # a line of spaces or tabs only
_PROVIDER = re.compile(r"_[a-z][a-z0-9]*_(.+)")                # OPTIMADE's provider prefix, "_oqmd_"
_UNIT = re.compile(r"\s*[(\[]([^()\[\]]*)[)\]]\s*$")           # "name (unit)", "name [unit]"
_SEPARATORS = re.compile(r"[\s\-.]+")
_PER_ATOM = frozenset(("ev/atom", "ev/at", "ev/at.", "evperatom", "evatom^-1", "evatom-1"))  # spaces removed
# how to convert what a unit says to eV/atom, for the message refusing it
# tables of formation enthalpies (NIST-JANAF) give them per mole of formula units, not of atoms
_PER_UNIT = ("per mole of atoms; per mole of formula units, as tables of formation enthalpies give them, divide also by "
             "the atoms of each formula, 5 for Fe2O3")
_CONVERT = {"mev": "divide by 1000", "kj": f"divide by 96.485 {_PER_UNIT}", "kcal": f"divide by 23.061 {_PER_UNIT}",
            "ry": "multiply by 13.606", "ha": "multiply by 27.211"}


def header_key(header) -> tuple[str, str | None]:
    """A header as the names above are written, and the unit it states (None if none): lower case,
    words joined by ``_``, the unit in brackets at its end apart.

    >>> header_key("Formation Energy Per Atom"), header_key("formation_energy (meV/atom)")
    (('formation_energy_per_atom', None), ('formation_energy', 'meV/atom'))
    """
    text = str(header).replace("\ufeff", "").strip()
    m = _UNIT.search(text)
    unit = m.group(1).strip() if m else None
    if m:
        text = text[:m.start()]
    return _SEPARATORS.sub("_", text.strip().lower()).strip("_"), unit or None


def _unit_problem(header, what: str) -> str | None:
    """Why the energy column ``header`` cannot be read as eV/atom (its unit is another), else None."""
    key, unit = header_key(header)
    if unit is None:
        return None
    u = "".join(unit.lower().split()).replace("·", "").replace("_", "")
    if u in _PER_ATOM or (u == "ev" and "atom" in key):
        return None
    how = next((v for k, v in _CONVERT.items() if u.startswith(k)), None)
    return (f"{what} column {str(header)!r} is in {unit}; hullpack reads {ENERGY_UNIT}: convert it"
            + (f" ({how})" if how else "") + f" and write {ENERGY_UNIT} in its header")


def first_present(columns, names) -> str | None:
    """The first of ``names`` among a table's ``columns``, else None: the column read when none is
    named (``first_present(df.columns, ENERGY_COLUMNS)``)."""
    present = set(columns)
    return next((name for name in names if name in present), None)


def listed(columns, most: int = 12) -> str:
    """A table's column names for a message: the first ``most``, and how many there are in all.

    >>> listed(["formula", "energy"]), listed(range(20), most=2)
    ("['formula', 'energy']", "['0', '1', ... (20 in all)]")
    """
    names = [str(c) for c in columns]
    return repr(names[:most])[:-1] + (f", ... ({len(names)} in all)]" if len(names) > most else "]")


def _named(columns: list, names) -> str | None:
    """The first of ``names`` among ``columns`` as written, else the first whose header matches one
    by :func:`header_key`; None if none does."""
    found = first_present(columns, names)
    if found is None:
        keys: dict[str, Any] = {}
        for c in columns:
            keys.setdefault(header_key(c)[0], c)
        found = next((keys[n] for n in names if n in keys), None)
    return found


def _field(column) -> str | None:
    """The field of a column named as an OPTIMADE provider's (``_oqmd_delta_e``; nested fields as
    :func:`read_table` joins them: ``_mp_stability.gga_gga+u.formation_energy_per_atom``), without
    the prefix and the nesting; None for another column."""
    m = _PROVIDER.fullmatch(str(column))
    return m.group(1).rsplit(".", 1)[-1] if m else None


def _provider_fields(columns: list, names) -> list:
    """The columns whose name is an OPTIMADE provider's field (:func:`_field`) for the first of
    ``names`` that any is: all of them, as several (one per functional) leave the choice to the
    reader; and all the columns of ``names`` where they are several providers' (``_oqmd_delta_e``
    and ``_alexandria_formation_energy_per_atom`` in one table: their energies are no one set)."""
    fields: dict = {}
    for c in columns:
        f = _field(c)
        if f in names:
            fields.setdefault(f, []).append(c)
    providers = {str(c)[:m.start(1)] for found in fields.values() for c in found
                 if (m := _PROVIDER.fullmatch(str(c)))}  # all do: _field read them
    if len(providers) > 1:
        return [c for n in names for c in fields.get(n, [])]
    return next((fields[n] for n in names if n in fields), [])


def is_hull_distance(column) -> bool:
    """Whether ``column`` is named as a column of hull distances (:data:`HULL_DISTANCE_COLUMNS`,
    whatever the case, spaces or unit, also as an OPTIMADE provider's field), which are no
    formation energies.

    >>> is_hull_distance("_oqmd_stability"), is_hull_distance("E above hull (eV/atom)")
    (True, True)
    >>> is_hull_distance("_mp_stability.r2scan.energy_above_hull"), is_hull_distance("_oqmd_delta_e")
    (True, False)
    """
    return header_key(_field(column) or column)[0] in HULL_DISTANCE_COLUMNS


def _readable(column, compositions: bool) -> bool:
    """Whether a table's ``column`` holds a value, and where it is read as ``compositions``, no list
    (AFLOW's ``composition``, ``[4, 6]``, is the amounts of its ``species``, ``["Fe", "O"]``: its
    ``compound``, ``Fe4O6``, is the formula), judged by its first value."""
    import numpy as np

    held = column.notna().to_numpy()
    if not held.any():
        return False
    return not (compositions and isinstance(column.iloc[int(held.argmax())], (list, tuple, np.ndarray)))


@overload
def find_column(columns, name: str | None, names, what: str, *, required: Literal[True] = ...,
                how: str | None = None) -> str: ...
@overload
def find_column(columns, name: str | None, names, what: str, *, required: bool,
                how: str | None = None) -> str | None: ...
def find_column(columns, name: str | None, names, what: str, *, required: bool = True,
                how: str | None = None) -> str | None:
    """The column of a table read as ``what`` (``"formula"``, ``"energy"``): ``name`` when one is
    given, else the first of ``names`` present (:func:`first_present`); ``columns`` may be the table
    itself (a DataFrame), and then a column found without a name that holds no value at all is
    passed over for a later one of ``names`` with values (Materials Project's documents hold every
    field, None where it was not asked for: ``composition`` before ``formula_pretty``), as is a
    composition column of lists (AFLOW's ``composition``, the amounts of its ``species``: its
    ``compound`` is read). ValueError
    naming the table's columns when ``name`` is not among them, or when none of ``names`` is and the
    column is ``required`` (``how``: how to name one, e.g. ``"--energy-column"``); else None.
    Where none of ``names`` is, an OPTIMADE entry's fields are: its formula
    (:data:`OPTIMADE_COMPOSITION_COLUMNS`) for :data:`COMPOSITION_COLUMNS`, a provider's formation
    energy (:data:`FORMATION_ENERGY_COLUMNS` after its prefix) for :data:`ENERGY_COLUMNS`, and
    ValueError naming them where several could be read (Materials Project's, one per functional).

    >>> find_column(["id", "formula_pretty"], None, COMPOSITION_COLUMNS, "formula")
    'formula_pretty'
    >>> find_column(["id", "formula"], "dH", ENERGY_COLUMNS, "energy")
    Traceback (most recent call last):
    ValueError: energy column 'dH' is not among the table's columns ['id', 'formula']

    A named column is also found with blanks around its header (``"dH "``). A header is matched by
    :func:`header_key` when no column has the name as written; a column of
    energies (``names`` are :data:`ENERGY_COLUMNS`) whose header states a unit other than eV/atom is
    refused (ValueError saying how to convert it), named or found.

    >>> find_column(["Reduced Formula", "Formation Energy (eV/atom)"], None, ENERGY_COLUMNS, "energy")
    'Formation Energy (eV/atom)'
    >>> find_column(["id", "chemical_formula_reduced", "_oqmd_delta_e"], None, ENERGY_COLUMNS, "energy")
    '_oqmd_delta_e'
    >>> find_column(["formula", "e_form (meV/atom)"], None, ENERGY_COLUMNS, "energy")
    Traceback (most recent call last):
    ValueError: energy column 'e_form (meV/atom)' is in meV/atom; hullpack reads eV/atom: convert it (divide by 1000) and write eV/atom in its header
    """
    table = columns if hasattr(columns, "iloc") else None
    columns = list(columns)
    if name is not None:
        found = name if name in columns else next(  # a header with blanks around it, as a spreadsheet keeps them
            (c for c in columns if str(c).replace("\ufeff", "").strip() == str(name).strip()), None)
        if found is None:
            raise ValueError(f"{what} column {name!r} is not among the table's columns {listed(columns)}")
    else:
        found = _named(columns, names)
        filled = None
        compositions = tuple(names) == COMPOSITION_COLUMNS
        if table is not None and (found is None or not _readable(table.iloc[:, columns.index(found)], compositions)):
            # a column without a value (Materials Project's documents hold every field, None where it was not
            # asked for), or of lists (AFLOW's composition, the amounts of its species): the next name with
            # values, if any
            filled = [c for j, c in enumerate(columns) if _readable(table.iloc[:, j], compositions)]
            found = _named(filled, names) or found
        if found is None and compositions:  # an OPTIMADE entry's formula
            found = _named(filled, OPTIMADE_COMPOSITION_COLUMNS) if filled else None
            found = found or _named(columns, OPTIMADE_COMPOSITION_COLUMNS)
        if found is None and tuple(names) == ENERGY_COLUMNS:  # an OPTIMADE provider's formation energy
            fields = (filled is not None and _provider_fields(filled, FORMATION_ENERGY_COLUMNS)
                      or _provider_fields(columns, FORMATION_ENERGY_COLUMNS))
            if len(fields) > 1:
                raise ValueError(f"{len(fields)} {what} columns could be read: {', '.join(map(repr, fields))}: name "
                                 "the one to read" + (f" with {how}" if how else "") + " (a hull takes one set "
                                 "of energies: one database's, of one functional)")
            found = fields[0] if fields else None
    if found is None and required:
        raise ValueError(f"no {what} column ({', '.join(names)}) among the table's columns {listed(columns)}; "
                         f"name it" + (f" with {how}" if how else ""))
    problem = _unit_problem(found, what) if found is not None and tuple(names) == ENERGY_COLUMNS else None
    if problem:
        raise ValueError(problem)
    return found


#: columns that say which set of energies a row's are from, where a table may hold several: the
#: database of an optimade-python-tools client's entry (``base_url``), and Materials Project's thermo
#: type of a ThermoDoc (``thermo_type``: ``GGA_GGA+U``, ``GGA_GGA+U_R2SCAN``, ``R2SCAN``, one
#: document of a material for each), as ``(column, what its values are, what to keep, the value
#: suggested first)``
ENERGY_SETS = (("base_url", "OPTIMADE databases", "one database's rows", None),
               ("thermo_type", "Materials Project thermo types", "one thermo type's rows", "GGA_GGA+U_R2SCAN"))


def one_database(table, column: str | None) -> None:
    """ValueError where the energies of ``column`` come from several databases or functionals
    (:data:`ENERGY_SETS`: the ``base_url`` of each entry of an optimade-python-tools client's file,
    the ``thermo_type`` of Materials Project's thermo documents): a hull takes one set of energies,
    one database's of one functional, and Alexandria's PBE and PBEsol databases share their field,
    as Materials Project's thermo types share ``formation_energy_per_atom``.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"base_url": ["https://a/pbe", "https://a/pbesol"], "e": [-1.0, -1.1]})
    >>> one_database(t, "e")
    Traceback (most recent call last):
    ValueError: energy column 'e' holds the energies of 2 OPTIMADE databases (https://a/pbe: 1, ...): ...
    """
    if column is None or column not in table.columns:
        return
    for marker, what, keep_what, suggested in ENERGY_SETS:
        if marker not in table.columns:
            continue
        # monty saves an enum as {"@class": ..., "value": ...}: its value
        labels = table.loc[table[column].notna(), marker].map(lambda v: v.get("value") if isinstance(v, dict) else v)
        counts = labels.astype(str).where(labels.notna()).value_counts(sort=False)
        if len(counts) > 1:
            keep = suggested if suggested in counts.index else counts.index[0]
            raise ValueError(f"energy column {column!r} holds the energies of {len(counts)} {what} ("
                             + ", ".join(f"{v}: {n:,}" for v, n in counts.items()) + "): a hull takes one set of "
                             f"energies, one database's of one functional: keep {keep_what} (column {marker}), "
                             f"e.g. table[table.{marker} == {keep!r}]")


def is_missing_text(cell) -> bool:
    """Whether ``cell`` is text that writes a missing number (:data:`MISSING_VALUES`).

    >>> is_missing_text(" NA "), is_missing_text("na"), is_missing_text("N/A"), is_missing_text("-1.2")
    (True, True, True, False)
    """
    return isinstance(cell, str) and cell.strip().lower() in _MISSING


# dashes that typeset text (a paper, a word processor's autocorrection) puts where a minus sign was typed
_TYPESET_DASHES = {"\u2212": "a typeset minus sign", "\u2013": "an en dash", "\u2014": "an em dash"}


def number_hint(cell) -> str:
    """How to write ``cell``, text that is no number, as one, where it is a number written otherwise:
    with a decimal comma (``-1,7``), or with the minus sign of typeset text (U+2212, ``−1.7``, or
    the en dash a word processor's autocorrection makes of ``-``, as a table copied from a paper or
    a document holds them).

    A spreadsheet's error value (``#DIV/0!``) is named as one, and a number written with its unit
    (``-1.7 eV/atom``) says to write the number alone, in eV/atom.

    >>> number_hint("-1,7"), number_hint("\u22121.7"), number_hint("\u20131.7"), number_hint("abc")
    (' (a decimal comma? write -1.7)', ' (a typeset minus sign, U+2212? write -1.7)',
     ' (an en dash, U+2013? write -1.7)', '')
    >>> number_hint("#DIV/0!"), number_hint("-1.7 eV/atom"), number_hint("-170 meV/atom")
    (" (a spreadsheet's error value: its formula failed there)", ' (write the number alone, in eV/atom: -1.7)', ' (write the number alone, in eV/atom: -0.17)')
    """
    if not isinstance(cell, str):
        return ""
    text = cell.strip()
    if re.fullmatch(r"#(VALUE!|DIV/0!|REF!|NUM!|NAME\?|NULL!|SPILL!|CALC!)", text.upper()):
        return " (a spreadsheet's error value: its formula failed there)"
    m = re.fullmatch(r"([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)\s*(m?)eV(?:\s*/\s*at(?:om)?\.?)?", text)
    if m:
        value = float(m.group(1)) / (1000 if m.group(2) else 1)
        return f" (write the number alone, in eV/atom: {value:g})"
    dash = next((d for d in _TYPESET_DASHES if d in text), None)
    plain = text.replace(dash, "-") if dash else text
    if re.fullmatch(r"[-+]?\d*,\d+", plain):
        return f" (a decimal comma? write {plain.replace(',', '.')})"
    if dash and re.fullmatch(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?", plain):
        return f" ({_TYPESET_DASHES[dash]}, U+{ord(dash):04X}? write {plain})"
    return ""


def composition_cell(cell, *, keep_bad: bool = False):
    """A cell of a composition column as the featurizer reads it: an ``{element: amount}`` mapping,
    also written as text (``"{'Fe': 2.0, 'O': 3.0}"``, a Materials Project ``composition`` saved to
    CSV), as a dict without the elements whose amount is None (a Parquet file lists every element of
    its column in each row's mapping, None where the row has none) and without monty's ``@module``
    and ``@class`` (a Composition saved by monty); anything else as it is.
    ValueError for text in braces that is no such mapping (``keep_bad``: that text as it is, for the
    featurizer to name).

    >>> composition_cell("{'Fe': 2.0, 'O': 3.0, 'Ni': None}"), composition_cell("Fe2O3")
    ({'Fe': 2.0, 'O': 3.0}, 'Fe2O3')
    """
    if isinstance(cell, str):
        if not cell.lstrip().startswith("{"):
            return cell
        try:
            value = ast.literal_eval(cell.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            value = None
        if isinstance(value, dict):
            value = _amounts(value)
        if not isinstance(value, dict) or not value or not all(
                isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
                for k, v in value.items()):
            if keep_bad:
                return cell
            raise ValueError(f"{cell[:60]!r} is not a formula, nor an {{element: amount}} mapping such as "
                             "{'Fe': 2.0, 'O': 3.0}")
        return value
    if isinstance(cell, dict):
        return _amounts(cell)
    return cell


def _amounts(mapping: dict) -> dict:
    """An ``{element: amount}`` mapping without the elements at None, nor monty's ``@module`` and
    ``@class`` (a pymatgen Composition saved with monty's ``MontyEncoder`` or ``dumpfn``)."""
    return {k: v for k, v in mapping.items() if v is not None and not (isinstance(k, str) and k.startswith("@"))}


def read_table(path, *, text: bool = False):
    """A table file as a DataFrame: CSV (``.csv``), TSV (``.tsv``), Parquet (``.parquet``), JSON
    (``.json``: a list of records, ``{column: {row: value}}``, ``{row: {column: value}}`` (materials
    by their id: the keys read as a column ``id``), pandas' ``orient="split"``, an API answer's ``{"data": [...]}``
    (an OPTIMADE answer's entries read as their ``id`` and ``attributes``, a provider's nested ones
    joined by dots: ``_mp_stability.r2scan.formation_energy_per_atom``), or a list of pymatgen
    entries saved with monty, also as Alexandria's ``{"entries": [...]}``, read as ``entry_id``,
    ``formula``, their ``energy_per_atom`` and their ``data``'s numbers and text; or the file of
    optimade-python-tools' client, ``optimade-get --output-file``'s ``{endpoint: {filter: {base_url:
    answer}}}``, its structures read with the ``base_url`` and ``filter`` that found each, a warning
    where they are several databases', whose energies one hull should not mix) or JSON lines
    (``.jsonl``: records, OPTIMADE entries, an API's answers one page a line, or the OPTIMADE JSON
    lines format, its header and info lines left out and its structures read), each also compressed
    (``.gz``, ``.bz2``). Empty cells
    (JSON ``null``) are missing values; so are the cells of :data:`MISSING_VALUES` (``na``, ``NA``,
    ``N/A``, ``nan``, ``None``, ``null``, any case) in a column whose other cells are all numbers,
    which is then read as numbers, as if they were empty. Elsewhere they stay text (a formula
    ``Na`` or ``NaN``). ``text``: a CSV's cells as written (``007`` stays ``007``, ``na`` stays
    ``na``), not read as numbers; a JSON file's missing values as written (its numbers stay numbers). A CSV whose header is separated by semicolons, with no comma, is
    read as Excel writes one where the comma is the decimal mark (``formula;energy``, ``-1,7``);
    text in Windows-1252 (Excel's CSV on Windows) or UTF-16 with a byte-order mark is read too. A
    repeated header keeps its first column where the others hold the same values; a composition or
    energy column repeated with other values is refused (ValueError naming the columns). Rows of
    empty cells at the end (``;;``, as a spreadsheet writes rows once used) and blank lines there are
    no rows; between rows, either is an empty row, so row ``i`` (from 1) is the ``i``-th under the
    header, as a spreadsheet shows it (the ``i``-th line under it, unless a quoted cell spans lines).

    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:                  # a JARVIS-DFT export
    ...     path = pathlib.Path(folder, "jarvis.csv")
    ...     _ = path.write_text("jid,formula,formation_energy_peratom\\nJVASP-1,Na,na\\nJVASP-2,NaCl,-2.1\\n")
    ...     t = read_table(path)
    >>> t.formula.tolist(), t.formation_energy_peratom.tolist()
    (['Na', 'NaCl'], [nan, -2.1])
    """
    import pandas as pd

    path = str(path)
    if not os.path.isfile(path):
        raise ValueError(f"{path}: " + ("a folder, not a table file" if os.path.isdir(path) else "no such file"))
    lower = re.sub(r"\.(gz|bz2)$", "", path.lower())
    if lower.endswith(".parquet"):
        return pd.read_parquet(path)
    if not path.lower().endswith(TABLE_SUFFIXES):
        spreadsheet = lower.endswith((".xlsx", ".xls", ".xlsm", ".ods", ".numbers"))
        raise ValueError(f"{path}: expected a table: {', '.join(TABLE_SUFFIXES)}"
                         + ("; save the spreadsheet as CSV (Excel: File > Save As > CSV UTF-8), or read it with "
                            "pandas.read_excel and pass the DataFrame" if spreadsheet else ""))
    if lower.endswith((".json", ".jsonl")):
        from .json_tables import read_json

        return read_json(path, lines=lower.endswith(".jsonl"), text=text)
    sep, kind = ("\t", "TSV") if lower.endswith(".tsv") else (",", "CSV")
    content = _decoded(path, kind)
    if "\n " in content or "\n\t" in content or content[:1] in (" ", "\t"):  # (the test is faster than the search)
        content = _BLANKS.sub("", content)  # a line of blanks is a blank line: no value, as pandas read it
    content = _BLANK_LINES_AT_START.sub("", content)  # the header is the first line written
    decimal = "."
    if kind == "CSV" and _semicolons(content):  # Excel's CSV where the comma is the decimal mark
        sep, decimal = ";", ","
    # pandas' C parser reads bytes: the text as UTF-8, without holding it twice
    encoded = content.encode("utf-8")
    del content

    def parse(**kwargs):
        # a blank line between rows is an empty row, as a line of empty cells is: the rows below keep the
        # numbers a spreadsheet gives them
        return pd.read_csv(io.BytesIO(encoded), sep=sep, decimal=decimal, encoding="utf-8", keep_default_na=False,
                           skip_blank_lines=False, **kwargs)

    try:
        df = parse(na_values=[""], dtype=str if text else None)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: an empty file: expected a {kind} file, a header line then one row per line"
                         ) from None
    except pd.errors.ParserError as exc:  # a row with more fields than the header
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        where = (f"line {m.group(2)} has {m.group(3)} fields where the header has {m.group(1)}" if m
                 else str(exc).strip())
        raise ValueError(f"{path}: {where}: expected a {kind} file, one row per line, values separated by "
                         + ("tabs" if kind == "TSV" else "commas (quote a value that holds a comma)")) from None
    if kind == "CSV" and len(df.columns) == 1 and any(c in str(df.columns[0]) for c in (";", "\t")):
        raise ValueError(f"{path}: one column named {str(df.columns[0])!r}: expected values separated by commas"
                         + (" (a file of tab-separated values: name it .tsv)" if "\t" in str(df.columns[0]) else ""))
    df = _without_empty_rows_at_end(df)
    if df.empty and len(df.columns):
        raise ValueError(f"{path}: no rows under the header ({', '.join(map(str, df.columns[:5]))})")
    missing = {} if text else _missing_in_numbers(df, decimal)
    if missing:  # parsed again with those cells as empty ones, so the numbers are parsed as pandas parses them
        df = _without_empty_rows_at_end(parse(na_values={c: [""] + sorted(missing.get(c, ())) for c in df.columns}))
    return _without_duplicate_headers(df, path, parse(header=None, nrows=1, dtype=str))


def _without_empty_rows_at_end(df):
    """``df`` without its last rows where every cell is empty: no rows, but the ``;;`` or ``,,``
    lines a spreadsheet writes for rows once used. The rows above keep their numbers."""
    filled = df.notna().any(axis=1).to_numpy()
    return df.iloc[:len(filled) - int(filled[::-1].argmax()) if filled.any() else 0]


def _open(path: str, mode: str = "rb", **kwargs):
    """The file ``path``, decompressed where its name ends in ``.gz`` or ``.bz2``."""
    import bz2
    import gzip

    lower = path.lower()
    return (gzip.open if lower.endswith(".gz") else bz2.open if lower.endswith(".bz2") else open)(path, mode, **kwargs)


def _decoded(path: str, kind: str) -> str:
    """The text of the file ``path`` (decompressed: :func:`_open`), read and decoded once: UTF-16
    where a byte-order mark says so (Excel's "Unicode text"), UTF-8 (a byte-order mark dropped) where
    the whole file decodes so, else Windows-1252 (Excel's CSV on Windows, where a header such as
    ``Density (g/cm³)`` is no UTF-8). ValueError where it is none of them (``kind``: what the file
    should be, for the message)."""
    import codecs

    try:
        with _open(path) as f:
            data = f.read()
    except (OSError, EOFError) as exc:  # a damaged .gz or .bz2 file
        raise ValueError(f"{path}: cannot be read ({exc}): expected a {kind} file") from None
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        encoding, which = "utf-16", "UTF-16"
    else:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            encoding, which = "cp1252", "UTF-8 nor Windows-1252"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not text in {which} ({exc.reason}): expected a {kind} file") from None


def _semicolons(text: str) -> bool:
    """Whether a CSV file's ``text`` separates its header's names by semicolons and holds no comma
    there: a CSV as Excel writes it where a comma is the decimal mark (``formula;energy``, ``-1,7``)."""
    header = re.split(r"\r\n?|\n", text, maxsplit=1)[0]
    return ";" in header and "," not in header


def _without_duplicate_headers(df, path: str, first_row):
    """``df`` without the later copies of a column whose header repeats an earlier one with the same
    values (pandas names them ``name.1``); ValueError naming them where a composition or energy
    column's copies differ, as either could be the one meant. Other repeated headers stay as pandas
    names them. ``first_row``: the file's first row as written (a one-row DataFrame), its header."""
    header = [str(h).replace("\ufeff", "") for h in first_row.iloc[0]]
    if len(header) != len(df.columns) or len(set(header)) == len(header):
        return df
    read = {header_key(n)[0] for n in COMPOSITION_COLUMNS + ENERGY_COLUMNS}
    drop = []
    for name in dict.fromkeys(h for h in header if header.count(h) > 1):
        at = [j for j, h in enumerate(header) if h == name]
        same = [j for j in at[1:] if df.iloc[:, j].equals(df.iloc[:, at[0]])]
        drop += same
        if len(same) < len(at) - 1 and header_key(name)[0] in read:
            which = ", ".join(str(j + 1) for j in at[:-1]) + f" and {at[-1] + 1}"
            raise ValueError(f"{path}: columns {which} are {'both' if len(at) == 2 else 'all'} named {name!r}, "
                             "with different values: rename all but the one to read")
    return df.drop(columns=[df.columns[j] for j in drop]) if drop else df


def _missing_in_numbers(df, decimal: str = ".") -> dict:
    """The cells of :data:`MISSING_VALUES` (as written) of each text column of ``df`` whose other
    cells are all numbers (at least one; ``decimal``: their decimal mark): columns of numbers with
    missing values written out."""
    import pandas as pd

    found = {}
    for j, c in enumerate(df.columns):
        col = df.iloc[:, j]
        if col.dtype.kind != "O":  # numbers, booleans, dates: pandas read them as such
            continue
        try:
            key = col.str.strip().str.lower()
        except AttributeError:  # no text in it
            continue
        written = key.isin(_MISSING) & col.notna()
        if not written.any():
            continue
        others = col[col.notna() & ~written]
        if decimal != ".":
            others = others.str.replace(decimal, ".", regex=False)
        if len(others) and pd.to_numeric(others, errors="coerce").notna().all():
            found[c] = set(col[written].tolist())
    return found


def _numbers_with_missing(pairs) -> set:
    """The columns, of JSON's ``(column, value)`` pairs, that hold :data:`MISSING_VALUES` and
    otherwise numbers (at least one) or nulls: columns of numbers with missing values written out."""
    numbers: dict = {}  # column -> False once it holds anything but a number, null or missing value
    written: set = set()
    for k, v in pairs:
        if numbers.get(k) is False:
            continue
        if isinstance(v, str):
            if v.strip().lower() in _MISSING:
                written.add(k)
            else:
                numbers[k] = False
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            numbers[k] = True
        elif v is not None:
            numbers[k] = False
    return {k for k in written if numbers.get(k)}
