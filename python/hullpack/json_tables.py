"""JSON files as tables, for :func:`hullpack.columns.read_table`: records or columns, pymatgen
entries (Alexandria's ``{"entries": [...]}``), OPTIMADE answers, OPTIMADE JSON lines files and
optimade-python-tools' client files (their structures entries), and JSON lines of any of these.
"""
from __future__ import annotations

import re
import warnings
from math import fsum, isclose
from typing import TYPE_CHECKING, Any

from .columns import (COMPOSITION_COLUMNS, ENERGY_COLUMNS, OPTIMADE_COMPOSITION_COLUMNS, _amounts, _field, _named,
                      _numbers_with_missing, _open, header_key, listed)

if TYPE_CHECKING:
    import pandas as pd


def _entry_data(data, taken) -> "pd.DataFrame":
    """The numbers and text of pymatgen entries' ``data`` mappings (Alexandria's ``mat_id``,
    ``e_form``, ``e_above_hull``, ...) as columns, but for names read as the entry's energy per atom
    or already ``taken``: a formation energy there (``e_form``) is then read before the total
    ``energy_per_atom``."""
    import pandas as pd

    generic = {header_key(n)[0] for n in ENERGY_COLUMNS[ENERGY_COLUMNS.index("energy"):]}
    keys: dict = {}  # each name's verdict, decided once: the entries of a file share their names

    def kept(k) -> bool:
        if k not in keys:
            keys[k] = isinstance(k, str) and k not in taken and header_key(k)[0] not in generic
        return keys[k]

    rows = [{k: v for k, v in (d or {}).items() if (v is None or isinstance(v, (str, int, float))) and kept(k)}
            for d in data]
    return pd.DataFrame.from_records(rows, index=range(len(data)))


#: pymatgen entries read from their saved fields, without rebuilding the entry (and its structure)
_PLAIN_ENTRIES = frozenset(("ComputedEntry", "ComputedStructureEntry"))
#: energy adjustments whose saved ``value`` is their value (others are rebuilt to compute theirs)
_VALUE_ADJUSTMENTS = frozenset(("ConstantEnergyAdjustment", "ManualEnergyAdjustment"))


def _entries_table(path: str, dicts: list) -> "pd.DataFrame":
    """Pymatgen entries saved with monty (their dicts) as a table: ``entry_id``, ``formula`` (the
    reduced formula), ``energy_per_atom`` (with the entry's corrections) and the numbers and text of
    their ``data``. A ComputedEntry or ComputedStructureEntry is read from its saved composition,
    energy and adjustments, as pymatgen computes them, without rebuilding it (a structure takes far
    longer to rebuild than the fields to read: a file of Alexandria's holds 100,000 entries); other
    entries are rebuilt with monty. ValueError naming an entry that is none."""
    import pandas as pd

    try:
        from monty.json import MontyDecoder
        from pymatgen.core import Composition
    except ImportError:
        raise ValueError(f"{path}: pymatgen entries need pymatgen (pip install \"hullpack[materials]\")") from None
    decoder = MontyDecoder()
    compositions: dict[Any, tuple[float, str]] = {}
    ids: list[Any] = []
    names: list[Any] = []
    energies: list[Any] = []
    data: list[Any] = []
    with warnings.catch_warnings():  # He, Ne, Ar: pymatgen's formulas warn of no electronegativity, and order them last
        warnings.filterwarnings("ignore", message="No Pauling electronegativity")
        for i, d in enumerate(dicts):
            try:
                fields = _entry_fields(d, decoder, compositions, Composition)
                if fields is None:  # another kind of entry (a PDEntry, a GibbsComputedStructureEntry): rebuilt
                    e = decoder.process_decoded(d)
                    fields = (entry_id(e), e.composition.reduced_formula, float(e.energy_per_atom),
                              getattr(e, "data", None))
            except (KeyError, TypeError, ValueError, AttributeError, ZeroDivisionError) as exc:
                raise ValueError(f"{path}: entry {i} ({d.get('@class')}, {d.get('entry_id')!r}) cannot be read as a "
                                 f"pymatgen entry ({type(exc).__name__}: {exc})") from None
            for column, value in zip((ids, names, energies, data), fields):
                column.append(value)
    table = pd.DataFrame({"entry_id": ids, "formula": names, "energy_per_atom": energies})
    return table.join(_entry_data(data, table.columns))


def entry_id(entry):
    """An entry's ``entry_id``; a PDEntry's ``name`` where it was given one (its id, ``mp-19770``),
    not left to be its reduced formula."""
    ident = getattr(entry, "entry_id", None)
    if ident is None and getattr(entry, "name", None) != entry.composition.reduced_formula:
        ident = getattr(entry, "name", None)
    return ident


def _entry_fields(d: dict, decoder, compositions: dict, composition) -> tuple | None:
    """``(entry_id, reduced formula, energy per atom, data)`` of a saved ComputedEntry or
    ComputedStructureEntry, read from its fields as its ``from_dict`` and properties compute them
    (the energy with its adjustments, or a legacy ``correction`` where it has none); None for
    another kind of entry, or one saved without its composition. ``compositions``: a cache of the
    ``(num_atoms, reduced_formula)`` of each composition seen."""
    if d.get("@class") not in _PLAIN_ENTRIES or not isinstance(d.get("composition"), dict):
        return None
    amounts = _amounts(d["composition"])
    key = tuple(amounts.items())
    if key not in compositions:
        c = composition(amounts)
        compositions[key] = (c.num_atoms, c.reduced_formula)
    atoms, name = compositions[key]
    adjustments = d.get("energy_adjustments") or []
    if adjustments:
        correction = fsum(a["value"] if a.get("@class") in _VALUE_ADJUSTMENTS else decoder.process_decoded(a).value
                          for a in adjustments)
    else:  # saved before energy adjustments: its correction as such (from_dict takes one close to 0 as 0)
        correction = d.get("correction") or 0.0
        correction = 0.0 if isclose(correction, 0.0) else correction
    return d.get("entry_id"), name, float((d["energy"] + correction) / atoms), d.get("data")


def _diagram_entries(path: str, diagram: dict) -> list:
    """The entries of a pymatgen PhaseDiagram or PatchedPhaseDiagram saved with monty (``dumpfn(pd,
    ...)``: its ``computed_data``'s ``all_entries``, at the top in older versions' files). ValueError for
    another phase diagram, whose entries' energies are no formation or total energies of the
    compositions (a grand potential diagram's) or which is a diagram of other compositions (a
    CompoundPhaseDiagram's pseudo-elements)."""
    kind = diagram["@class"]
    entries = (diagram.get("computed_data") or {}).get("all_entries") or diagram.get("all_entries")
    if kind not in ("PhaseDiagram", "PatchedPhaseDiagram"):
        what = ("its entries' energies are grand potentials at fixed chemical potentials"
                if kind == "GrandPotentialPhaseDiagram" else "a diagram between other compositions than the elements")
        raise ValueError(f"{path}: a pymatgen {kind} ({what}), not a table of energies: save the entries it was built "
                         "from (dumpfn(entries, path), or dumpfn(PhaseDiagram(entries), path)) and read those")
    if not isinstance(entries, list):
        raise ValueError(f"{path}: a pymatgen {kind} without its entries (computed_data.all_entries): save it with "
                         "monty's dumpfn, or save its entries (dumpfn(diagram.all_entries, path))")
    return entries


def _optimade_record(entry: dict, within: str = "") -> dict:
    """An OPTIMADE entry (``{"id": ..., "type": "structures", "attributes": {...}}``) as a record:
    its ``id`` and its attributes, a provider's nested ones joined by dots
    (``_mp_stability.gga_gga+u.formation_energy_per_atom``)."""
    record = {"id": entry.get("id")} if not within else {}
    for k, v in (entry["attributes"] if not within else entry).items():
        if isinstance(v, dict) and v and (within or str(k).startswith("_")):
            record.update(_optimade_record(v, f"{within}{k}."))
        else:
            record[f"{within}{k}"] = v
    return record


def _warn_page(path: str, answer: dict, n: int, what: str = "an OPTIMADE answer",
               how: str = "save every page into the file (or raise page_limit)") -> None:
    """Warn where an API's ``answer`` (OPTIMADE's, OQMD's REST) of ``n`` entries is one page of more
    (its ``meta``'s ``data_returned`` above ``n`` or ``more_data_available``, a ``links.next``): hulls
    of one page miss the other pages' compounds. ``what``: the answer, ``how``: how to save them all,
    for the message."""
    meta, links = answer.get("meta"), answer.get("links")
    meta = meta if isinstance(meta, dict) else {}
    total = meta.get("data_returned")
    at_next = isinstance(links, dict) and bool(links.get("next"))
    if at_next or meta.get("more_data_available") is True or (isinstance(total, int) and total > n):
        _warn_one_page(path, n, total, what + (", one page of it (more are at its links.next)" if at_next
                                               else ", one page of it"), how)


def _warn_one_page(path: str, n: int, total, what: str, how: str, stacklevel: int = 5) -> None:
    """Warn that the ``n`` entries of ``path`` are ``what`` (one page of an answer), of ``total``
    where it is known (an int above ``n``): a hull of them misses the others; ``how`` saves them all."""
    of = f"{n:,} of the {total:,}" if isinstance(total, int) and total > n else f"{n:,}"
    warnings.warn(f"{path}: {of} entries of {what}: a hull of these misses the other pages' compounds, so energies "
                  f"above it can be too low; {how}", stacklevel=stacklevel)


def _warn_partial_data(path: str, entries: list) -> None:
    """Warn of OPTIMADE ``entries`` whose composition or energy is partial data (OPTIMADE 1.2: null,
    its value at the entry's ``meta.partial_data_links``): their rows are read without it, and the
    message names the first such entry and its link. Other properties given so (the positions of a
    large structure) are no column a hull reads."""
    names = {header_key(c)[0] for c in COMPOSITION_COLUMNS + OPTIMADE_COMPOSITION_COLUMNS + ENERGY_COLUMNS}
    held: dict = {}  # property -> the positions of the entries that give it only as partial data
    first = None
    for i, d in enumerate(entries):
        links = d.get("meta", {}).get("partial_data_links") if isinstance(d.get("meta"), dict) else None
        for name, where in (links.items() if isinstance(links, dict) else ()):
            if d["attributes"].get(name) is None and header_key(_field(name) or name)[0] in names:
                held.setdefault(name, []).append(i)
                if first is None:
                    link = next((w.get("link") for w in where if isinstance(w, dict) and w.get("link")), None) \
                        if isinstance(where, list) else None
                    first = (i, d.get("id"), name, link)
    if first is None:
        return
    i, ident, name, link = first
    counts = ", ".join(f"{name} of {len(rows):,} entr{'y' if len(rows) == 1 else 'ies'}" for name, rows in held.items())
    warnings.warn(f"{path}: OPTIMADE partial data (null in the answer, the value at the entry's "
                  f"meta.partial_data_links): {counts}, the first entry {i} ({ident!r}, its {name} at "
                  f"{link or 'no link'}); those rows are read without it: fetch the values from the links "
                  "and add them to the file, or leave those rows out", stacklevel=4)


#: the fields of an OPTIMADE (JSON:API) answer, also of one saved by optimade-python-tools' client, and
#: of OQMD's own REST answer (``/oqmdapi/formationenergy``), which adds ``resource`` and ``response_message``
_ANSWER_FIELDS = frozenset(("data", "meta", "links", "errors", "included", "jsonapi", "resource", "response_message"))
#: how to save every page of an API's answer that is not OPTIMADE's (OQMD's REST), for the message
_EVERY_PAGE = ("save every page (follow links.next until meta.more_data_available is false, one answer per line "
               "of a .jsonl file), or raise the query's limit=")
#: AFLUX's keys of its entries, "1 of 1532": the entry's place and how many the query matched
_AFLUX_KEY = re.compile(r"\s*(\d+)\s+of\s+(\d+)\s*")
#: OPTIMADE's entry endpoints, the first keys of a file of optimade-python-tools' client
_ENDPOINTS = frozenset(("structures", "references", "calculations", "trajectories"))


def _optimade_lines(path: str, records: list, lines: list) -> list:
    """The ``structures`` entries of an OPTIMADE JSON lines file (``records``: its lines' JSON,
    ``lines``: their lines in the file): after the header (``{"x-optimade": {...}}``), its info lines
    (``{"type": "info", ...}``, or an entry type's info without a type) and entries of other types
    (``references``) left out. ValueError naming a line that is none of them, or a file with no
    structures."""
    others: dict = {}
    entries = []
    for record, at in zip(records[1:], lines[1:]):
        kind = record.get("type") if isinstance(record, dict) else None
        if isinstance(record, dict) and ("x-optimade" in record or kind == "info"
                                         or (kind is None and "properties" in record)):
            continue  # a header again (files joined) or an info line
        if not (isinstance(kind, str) and "id" in record and isinstance(record.get("attributes"), dict)):
            got = (f"keys {listed(record, 6)}" if isinstance(record, dict) else f"a JSON {type(record).__name__}")
            raise ValueError(f"{path}: line {at} is no OPTIMADE entry ({got}): expected one "
                             '{"type": "structures", "id": ..., "attributes": {...}} per line after the header')
        if kind == "structures":
            entries.append(record)
        else:
            others[kind] = others.get(kind, 0) + 1
    if not entries:
        held = ", ".join(f"{n} {kind}" for kind, n in others.items())
        raise ValueError(f"{path}: an OPTIMADE JSON lines file with no structures entries"
                         + (f" (it holds {held})" if held else "") + ": expected structures to read as a table")
    return entries


def _client_answers(data, keys: tuple = ()) -> list[tuple[tuple, dict]]:
    """The OPTIMADE answers of a file saved by optimade-python-tools' client (``optimade-get
    --output-file``: ``{endpoint: {filter: {base_url: answer}}}``, also without the endpoint or the
    filter), each as ``(keys, answer)``; empty for another file."""
    if isinstance(data, dict) and keys and "data" in data and set(data) <= _ANSWER_FIELDS:
        return [(keys, data)]
    if not isinstance(data, dict) or len(keys) == 3:
        return []
    return [found for k, v in data.items() if isinstance(v, dict) for found in _client_answers(v, keys + (k,))]


def _client_records(path: str, answers: list) -> list:
    """The structures entries of optimade-python-tools' client's ``answers`` (:func:`_client_answers`)
    as records (:func:`_optimade_record`), each with the ``base_url`` and ``filter`` of the query that
    found it. Warns of an answer that is one page of more, of a provider whose query failed, and of
    entries of several databases (their energies are no one set, which one hull should not mix);
    ValueError where no answer holds an entry."""
    import warnings

    records: list[dict[str, Any]] = []
    failed: list[str] = []
    counts: dict[str, int] = {}
    seen: set[tuple[str, Any]] = set()
    others = again = 0
    for keys, answer in answers:
        base_url, query = keys[-1], keys[-2] if len(keys) > 1 else ""
        errors = answer.get("errors") if isinstance(answer.get("errors"), list) else []
        data = answer["data"] if isinstance(answer["data"], list) else []
        entries = [d for d in data if isinstance(d, dict) and isinstance(d.get("attributes"), dict)
                   and d.get("type", "structures") == "structures"]
        others += len(data) - len(entries)
        if errors:
            failed.append(f"{base_url}: {_said(errors[0])}")
        if entries:
            _warn_page(path, answer, len(entries), f"the OPTIMADE answer of {base_url}",
                       "save them all (optimade-get --max-results-per-provider -1)")
            _warn_partial_data(path, entries)
            # an entry two filters found is one entry: listed once, under the first filter
            new = [d for d in entries if d.get("id") is None or (base_url, d["id"]) not in seen]
            seen.update((base_url, d["id"]) for d in new if d.get("id") is not None)
            again += len(entries) - len(new)
            counts[base_url] = counts.get(base_url, 0) + len(new)
            records += [{"id": d.get("id"), "base_url": base_url, "filter": query, **_optimade_record(d)}
                        for d in new]
    if not records:
        raise ValueError(f"{path}: no structures entries in the answers of optimade-python-tools' client ("
                         + ("; ".join(failed) if failed else f"{others:,} entries of other types" if others
                            else "its queries matched none") + ")")
    if again:
        warnings.warn(f"{path}: {again:,} entries found by more than one of the client's filters are listed once, "
                      "under the first filter that found them", stacklevel=3)
    if failed:
        warnings.warn(f"{path}: {len(failed)} of the client's queries failed, their entries missing: "
                      + "; ".join(failed), stacklevel=3)
    if len(counts) > 1:
        warnings.warn(f"{path}: entries of {len(counts)} OPTIMADE databases ("
                      + ", ".join(f"{url}: {n:,}" for url, n in counts.items()) + "): their energies come from "
                      "different calculations, which one hull should not mix; column 'base_url' names each entry's "
                      "database: keep one database's entries", stacklevel=3)
    return records


def _said(error) -> str:
    """What an answer's error says: JSON:API's ``{"status", "title", "detail"}`` or a client's text."""
    if isinstance(error, dict):
        return ": ".join(str(error[k]) for k in ("status", "title", "detail") if error.get(k) not in (None, ""))
    return str(error).strip()


def _keyed_by_row(data: dict) -> bool:
    """Whether a JSON object of objects is ``{row: {column: value}}`` (materials by their id, pandas'
    ``orient="index"``) rather than ``{column: {row: value}}``: its inner keys name a composition or
    energy column, and its outer keys do not."""
    names = COMPOSITION_COLUMNS + ENERGY_COLUMNS
    return _named(list(dict.fromkeys(k for v in data.values() for k in v)), names) is not None and \
        _named(list(data), names) is None


def read_json(path: str, lines: bool, text: bool = False):
    """A JSON or JSON lines file (``lines``) as a table (:func:`hullpack.columns.read_table`);
    ``text``: missing values written out in columns of numbers (JARVIS-DFT's ``"na"``) stay as
    written, where they are otherwise read as nulls."""
    import json

    import pandas as pd

    at = None  # the line of JSON lines being read
    numbers = []  # the lines of JSON lines' records
    data: Any  # what the file holds: JSON of any shape
    try:
        with _open(path, "rt", encoding="utf-8-sig") as f:
            if lines:
                data = []
                for at, line in enumerate(f, 1):
                    if line.strip():
                        data.append(json.loads(line))
                        numbers.append(at)
            else:
                data = json.load(f)
    except (ValueError, UnicodeDecodeError, OSError, EOFError) as exc:  # also a damaged .gz or .bz2 file
        if at is not None and isinstance(exc, json.JSONDecodeError):  # the line of the file, not of the record
            raise ValueError(f"{path}: line {at} is not JSON ({exc.msg}, column {exc.colno}): expected JSON lines, "
                             "one record per line") from None
        lines_hint = (" (JSON lines, one record per line? name the file .jsonl)"
                      if not lines and isinstance(exc, json.JSONDecodeError) and exc.msg == "Extra data" else "")
        raise ValueError(f"{path}: not {'JSON lines' if lines else 'JSON'} ({exc}){lines_hint}") from None
    if lines and data and isinstance(data[0], dict) and "optimade-partial-data" in data[0]:
        entry = data[0].get("entry")
        ident = entry.get("id") if isinstance(entry, dict) else None
        raise ValueError(f"{path}: OPTIMADE partial data (the values of one property, "
                         f"{data[0].get('property_name')!r}, of one entry, {ident!r}), no entries: read the "
                         "answer that lists the entries (the structures query whose meta.partial_data_links led here) "
                         "and add a value fetched so to its entry")
    if lines and data and isinstance(data[0], dict) and "x-optimade" in data[0]:  # OPTIMADE JSON lines
        data = _optimade_lines(path, data, numbers)
    elif lines and data and all(isinstance(d, dict) and isinstance(d.get("data"), list) and set(d) <= _ANSWER_FIELDS
                                for d in data):  # an API's answers, one page a line: its entries, its last links
        data = {"data": [e for d in data for e in d["data"]], "meta": data[-1].get("meta"),
                "links": data[-1].get("links")}
    elif lines and data and all(isinstance(d, dict) and d and all(_AFLUX_KEY.fullmatch(str(k)) for k in d)
                                for d in data):  # AFLUX's answers, one page a line: {"1 of 1532": {...}}
        data = {k: v for d in data for k, v in d.items()}
    if (isinstance(data, dict) and isinstance(data.get("errors"), list) and data["errors"]
            and not data.get("data")):  # JSON:API's (OPTIMADE's) error answer; the client's errors are text
        said = _said(data["errors"][0])
        raise ValueError(f"{path}: an API's error answer, no data" + (f" ({said})" if said else "")
                         + ": correct the query and save its answer again")
    if isinstance(data, dict) and str(data.get("@class", "")).endswith("PhaseDiagram"):
        data = _diagram_entries(path, data)
    if isinstance(data, dict) and isinstance(data.get("data"), dict) and "attributes" in data["data"]:
        data["data"] = [data["data"]]  # OPTIMADE's answer for one entry (structures/ID)
    answers = _client_answers(data) if isinstance(data, dict) and not _ANSWER_FIELDS & set(data) else []
    if answers:  # optimade-python-tools' client's file: {endpoint: {filter: {base_url: answer}}}
        data = _client_records(path, answers)
    elif isinstance(data, dict) and data and set(data) <= _ENDPOINTS and all(isinstance(v, dict)
                                                                              for v in data.values()):
        raise ValueError(f"{path}: a file of optimade-python-tools' client with no answers (counts, of optimade-get "
                         "--count?): expected the entries it saves with optimade-get --output-file")
    if (isinstance(data, dict) and set(data) <= {"columns", "index", "data"} and isinstance(data.get("columns"), list)
            and isinstance(data.get("data"), list) and all(isinstance(r, list) for r in data["data"])):
        data = [dict(zip(data["columns"], r)) for r in data["data"]]  # pandas' orient="split"
    elif isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()) and _keyed_by_row(data):
        key = "key" if any("id" in v for v in data.values()) else "id"  # the rows' keys kept: materials' ids
        pages = [int(m.group(2)) for k in data if (m := _AFLUX_KEY.fullmatch(str(k)))]
        if len(pages) == len(data) and pages[0] > len(data):  # AFLUX's {"1 of 1532": {...}}: one page of more
            _warn_one_page(path, len(data), pages[0], "an AFLUX answer, one page of it",
                           "save every page ($paging(n) for each n) or all at once ($paging(0))", stacklevel=4)
        data = [{key: k, **v} for k, v in data.items()]
    answer: dict[str, Any] = data if isinstance(data, dict) else {}
    if isinstance(data, dict):  # an API answer's {"data": [...]}, Alexandria's {"entries": [...]}
        data = next((data[k] for k in ("data", "entries") if isinstance(data.get(k), list)), data)
    if isinstance(data, list) and data and all(isinstance(d, dict) and isinstance(d.get("attributes"), dict)
                                               for d in data):
        _warn_page(path, answer, len(data))
        _warn_partial_data(path, data)
        data = [_optimade_record(d) for d in data]
    elif isinstance(data, list) and data and "data" in answer:  # another API's answer: OQMD's REST
        _warn_page(path, answer, len(data), "an API answer", _EVERY_PAGE)
    if not data:
        raise ValueError(f"{path}: no rows (an empty {'file' if lines else 'JSON ' + type(data).__name__}"
                         + (", an API answer with no entries: its query matched none" if "data" in answer else "")
                         + ")")
    if isinstance(data, list) and data and all(isinstance(d, dict) and "Entry" in str(d.get("@class", ""))
                                               for d in data):
        return _entries_table(path, data)
    # missing values written out in columns of numbers (JARVIS-DFT's "na") are read as nulls
    if isinstance(data, list) and all(isinstance(d, dict) for d in data):
        cols = set() if text else _numbers_with_missing((k, v) for d in data for k, v in d.items())
        if cols:
            data = [{k: None if k in cols and isinstance(v, str) else v for k, v in d.items()} for d in data]
        return pd.DataFrame.from_records(data)
    if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
        cols = set() if text else _numbers_with_missing((k, v) for k, col in data.items() for v in col.values())
        data = {k: {r: None if isinstance(v, str) else v for r, v in col.items()} if k in cols else col
                for k, col in data.items()}
        return pd.DataFrame(data).reset_index(drop=True)  # {column: {row: value}}
    raise ValueError(f"{path}: expected a JSON list of records ({{column: value}}), {{column: {{row: value}}}}, "
                     "{row: {column: value}} or a list of pymatgen entries")
