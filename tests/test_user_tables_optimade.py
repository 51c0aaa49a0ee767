"""OPTIMADE files as users save them in bulk, read by every command that takes a user's table
(stability, screen --dft, train --data, predict --file): the OPTIMADE JSON lines format (a header
line, info lines, one entry per line, also compressed) and the file optimade-python-tools' client
writes (``optimade-get --output-file``: ``{endpoint: {filter: {base_url: answer}}}``), its entries
read with the database each came from, never mixed silently."""
import bz2
import gzip
import json
import re

import numpy as np
import pytest

from hullpack.columns import read_table
from hullpack.screening.dft import DFTCompounds
from hullpack.stability import stability
from test_user_tables_exports import pymatgen_e_above_hull

# Fe-O and Li-O, formulas as OPTIMADE writes them (elements in alphabetical order: LiFeO2 is FeLiO2)
AMOUNTS = [{"Fe": 1}, {"O": 2}, {"Fe": 2, "O": 3}, {"Fe": 3, "O": 4}, {"Fe": 1, "O": 1}, {"Li": 1},
           {"Li": 2, "O": 1}, {"Li": 2, "O": 2}, {"Fe": 1, "Li": 1, "O": 2}]
REDUCED = ["Fe", "O", "Fe2O3", "Fe3O4", "FeO", "Li", "Li2O", "LiO", "FeLiO2"]
FORMATION = [0.0, 0.0, -1.70, -1.60, -1.30, 0.0, -2.07, -1.65, -1.55]
HEADER = {"x-optimade": {"meta": {"api_version": "1.2.0"}}}


def entries(prefix: str = "oqmd", shift: float = 0.0) -> list:
    """Structures entries as a provider serves them, with its formation energy (OQMD's delta_e,
    Alexandria's formation_energy_per_atom) and its hull distance, which is no formation energy."""
    field = {"oqmd": "_oqmd_delta_e", "alexandria": "_alexandria_formation_energy_per_atom"}[prefix]
    return [{"type": "structures", "id": f"{prefix}-{i}",
             "attributes": {"chemical_formula_reduced": f, "elements": sorted(a), "nelements": len(a),
                            "nsites": sum(a.values()), field: e + shift if e else 0.0,
                            f"_{prefix}_{'stability' if prefix == 'oqmd' else 'hull_distance'}": 0.0},
             "relationships": {}, "links": None, "meta": None}
            for i, (f, a, e) in enumerate(zip(REDUCED, AMOUNTS, FORMATION))]


def write_lines(path, records) -> None:
    text = "".join(json.dumps(r) + "\n" for r in records).encode()
    path.write_bytes(gzip.compress(text) if path.suffix == ".gz" else bz2.compress(text) if path.suffix == ".bz2"
                     else text)


def jsonl_records(data=None) -> list:
    """An OPTIMADE JSON lines file's records: the header, the info lines (as the specification writes
    them, and as optimade-maker writes an entry type's info, without a type), the entries and a
    reference, which is no structure."""
    return [HEADER,
            {"type": "info", "id": "structures", "properties": {"_oqmd_delta_e": {"type": ["number", "null"]}}},
            {"formats": ["json"], "description": "a structures entry", "properties": {}, "output_fields_by_format": {}},
            *(data or entries()),
            {"type": "references", "id": "ref-1", "attributes": {"doi": "10.1038/npjcompumats.2015.10"}}]


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.bz2"])
def test_an_optimade_json_lines_file_is_read_as_its_structures(tmp_path, capsys, suffix):
    """Its header and info lines were read as rows: 'no composition column ... ['x-optimade', 'type',
    'id', 'properties', 'attributes']'. Its structures are the rows, read by their attributes, with
    energies above the hull as pymatgen's; the reference, the info and the header are no rows."""
    from hullpack.cli import main

    path = tmp_path / f"oqmd{suffix}"
    write_lines(path, jsonl_records())
    table = read_table(path)
    assert table.id.tolist() == [f"oqmd-{i}" for i in range(len(REDUCED))]
    assert table.columns.tolist()[:2] == ["id", "chemical_formula_reduced"]
    t = stability(table)
    assert t.problem.isna().all() and t.energy.tolist() == FORMATION
    expected = pymatgen_e_above_hull(AMOUNTS, FORMATION)
    assert np.abs(t.e_above_hull.to_numpy() - expected).max() < 1e-9 and expected.max() > 0.1
    assert main(["-q", "stability", str(path), "--out", str(tmp_path / "o"), "--format", "csv"]) == 0
    assert "9 compositions from" in (out := capsys.readouterr().out) and "energies: column '_oqmd_delta_e'" in out
    known = DFTCompounds.read(path)  # screen --dft: the compounds of 2 to 4 elements
    assert sorted(known.energy) == sorted(e for e in FORMATION if e)


def test_a_line_of_an_optimade_json_lines_file_that_is_no_entry_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    records = jsonl_records()
    records.insert(5, {"id": "oqmd-x", "chemical_formula_reduced": "FeO"})  # attributes not nested
    path.write_text("".join(json.dumps(r) + "\n" for r in records[:4]) + "\n"
                    + "".join(json.dumps(r) + "\n" for r in records[4:]))
    with pytest.raises(ValueError, match=r"bad\.jsonl: line 7 is no OPTIMADE entry \(keys \['id', "
                                         r"'chemical_formula_reduced'\]\): expected one \{\"type\": \"structures\", "
                                         r"\"id\": \.\.\., \"attributes\": \{\.\.\.\}\} per line after the header"):
        read_table(path)
    records[5] = [1, 2]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(ValueError, match=r"line 6 is no OPTIMADE entry \(a JSON list\)"):
        read_table(path)
    write_lines(path, [HEADER, jsonl_records()[1], {"type": "references", "id": "r", "attributes": {}}])
    with pytest.raises(ValueError, match=r"an OPTIMADE JSON lines file with no structures entries \(it holds 1 "
                                         r"references\)"):
        read_table(path)
    # OPTIMADE's partial data format holds one property's values, not entries
    write_lines(path, [{"optimade-partial-data": {"format": "1.2"}, "layout": "dense",
                        "property_name": "cartesian_site_positions", "entry": {"id": "x", "type": "structures"}},
                       [0.0, 0.1, 0.2], ["PARTIAL-DATA-END", [""]]])
    with pytest.raises(ValueError, match=r"OPTIMADE partial data \(the values of one property, "
                                         r"'cartesian_site_positions', of one entry, 'x'\), no entries: read the "
                                         r"answer that lists the entries \(the structures query whose "
                                         r"meta.partial_data_links led here\)"):
        read_table(path)


def client_answer(data, more: bool = False, errors=()) -> dict:
    """One provider's results as optimade-python-tools' QueryResults saves them: every page's data,
    the last page's links and meta."""
    return {"data": data, "errors": list(errors), "links": {"next": "https://x/structures?page_offset=9" if more
                                                             else None, "prev": None},
            "included": [], "meta": {"data_returned": len(data) + (40 if more else 0),
                                     "more_data_available": more, "api_version": "1.1.0"}}


FILTER = 'elements HAS ANY "Fe","Li" AND elements HAS "O"'
OQMD, ALEXANDRIA = "http://oqmd.org/optimade/", "https://alexandria.icams.rub.de/pbe"


def test_a_file_of_the_optimade_client_is_read_with_each_entrys_database(tmp_path, capsys):
    """optimade-get --output-file saves {endpoint: {filter: {base_url: answer}}}: it was read as one
    column, 'structures'. Its entries are the rows, with the base URL and filter that found each;
    energies above the hull are pymatgen's."""
    from hullpack.cli import main

    path = tmp_path / "results.json"
    path.write_text(json.dumps({"structures": {FILTER: {OQMD: client_answer(entries())}}}, indent=2))
    table = read_table(path)
    assert table.columns.tolist()[:4] == ["id", "base_url", "filter", "chemical_formula_reduced"]
    assert set(table.base_url) == {OQMD} and set(table["filter"]) == {FILTER}
    t = stability(table)
    assert t.problem.isna().all()
    assert np.abs(t.e_above_hull.to_numpy() - pymatgen_e_above_hull(AMOUNTS, FORMATION)).max() < 1e-9
    # the client's results without the endpoint (client.get()["structures"]) are read alike
    path.write_text(json.dumps({FILTER: {OQMD: client_answer(entries())}}))
    assert read_table(path).equals(table)
    assert main(["-q", "stability", str(path), "--out", str(tmp_path / "o"), "--format", "csv"]) == 0
    assert "energies: column '_oqmd_delta_e'" in capsys.readouterr().out
    out = tmp_path / "screen"
    assert main(["-q", "screen", "--elements", "Fe O", "--dft", str(path), "--out", str(out)]) == 0
    # Fe-O's DFT hull: Fe2O3 alone on it, Fe3O4 and FeO above (pymatgen's, above)
    assert "DFT (results.json) stable compounds: 1;" in capsys.readouterr().out
    assert sorted(DFTCompounds.read(path).energy) == sorted(e for e in FORMATION if e)


def test_the_client_file_of_several_databases_never_mixes_their_energies_silently(tmp_path, capsys):
    """OQMD's and Alexandria's energies for one hull are no one set: the table says each entry's
    database, a note says there are several, and the energy column is not chosen for them (it was:
    Alexandria's, the OQMD rows read as missing energies, said nowhere)."""
    from hullpack.cli import main

    path = tmp_path / "results.json"
    path.write_text(json.dumps({"structures": {FILTER: {OQMD: client_answer(entries("oqmd")),
                                                        ALEXANDRIA: client_answer(entries("alexandria", -0.1))}}}))
    with pytest.warns(UserWarning, match=re.escape(f"results.json: entries of 2 OPTIMADE databases ({OQMD}: 9, "
                                                   f"{ALEXANDRIA}: 9): their energies come from different "
                                                   "calculations, which one hull should not mix; column 'base_url'")):
        table = read_table(path)
    assert table.base_url.tolist() == [OQMD] * 9 + [ALEXANDRIA] * 9
    with pytest.raises(ValueError, match=r"2 energy columns could be read: '_alexandria_formation_energy_per_atom', "
                                         r"'_oqmd_delta_e': name the one to read"):
        stability(table)
    assert main(["-q", "stability", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "note: " in err and "entries of 2 OPTIMADE databases" in err
    assert "name the one to read with --energy-column" in err
    # one database's entries, kept by its column: its own hull, as pymatgen's
    alexandria = table[table.base_url == ALEXANDRIA]
    t = stability(alexandria, "_alexandria_formation_energy_per_atom")
    energies = [e - 0.1 if e else 0.0 for e in FORMATION]
    assert np.abs(t.e_above_hull.to_numpy() - pymatgen_e_above_hull(AMOUNTS, energies)).max() < 1e-9


def test_two_databases_in_one_energy_field_are_not_one_hull(tmp_path, capsys):
    """Alexandria's PBE and PBEsol databases share their energy field: a client file of both read
    as one column of energies, mixed into one hull with only a note. Each command that takes
    energies refuses it, naming the databases and how to keep one."""
    from hullpack.cli import main
    from hullpack.elemnet.data import table_arrays
    from hullpack.errors import ScreeningError

    pbesol = ALEXANDRIA + "sol"
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"structures": {FILTER: {ALEXANDRIA: client_answer(entries("alexandria")),
                                                        pbesol: client_answer(entries("alexandria", -0.2))}}}))
    with pytest.warns(UserWarning, match="entries of 2 OPTIMADE databases"):
        table = read_table(path)
    says = re.escape(f"energy column '_alexandria_formation_energy_per_atom' holds the energies of 2 OPTIMADE "
                     f"databases ({ALEXANDRIA}: 9, {pbesol}: 9): a hull takes one set of energies")
    with pytest.raises(ValueError, match=says):
        stability(table)
    with pytest.raises(ValueError, match=says):
        table_arrays(table)
    with pytest.raises(ScreeningError, match=says):
        DFTCompounds.read(table)
    assert main(["-q", "stability", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "keep one database's rows (column base_url), e.g. table[table.base_url == " in err
    # one database's rows: its own hull, as pymatgen's
    t = stability(table[table.base_url == pbesol])
    energies = [e - 0.2 if e else 0.0 for e in FORMATION]
    assert np.abs(t.e_above_hull.to_numpy() - pymatgen_e_above_hull(AMOUNTS, energies)).max() < 1e-9


def test_an_entry_two_filters_of_the_client_found_is_one_row(tmp_path):
    """Entries matched by two of the client's filters were two rows each: polymorphs to the hull, and
    compounds counted twice. Each is one row, under the first filter; another database's entry of
    the same id is another entry."""
    iron = 'elements HAS "Fe"'
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"structures": {FILTER: {OQMD: client_answer(entries())},
                                               iron: {OQMD: client_answer([e for e in entries()
                                                                           if "Fe" in e["attributes"]["elements"]]),
                                                      ALEXANDRIA: client_answer(entries("alexandria")[:1])}}}))
    with pytest.warns(UserWarning) as caught:
        table = read_table(path)
    said = [str(w.message) for w in caught]
    assert any(m.endswith("5 entries found by more than one of the client's filters are listed once, under the "
                          "first filter that found them") for m in said), said
    assert any(f"({OQMD}: 9, {ALEXANDRIA}: 1)" in m for m in said), said
    assert table.id.tolist() == [f"oqmd-{i}" for i in range(9)] + ["alexandria-0"]
    assert set(table["filter"][:9]) == {FILTER} and table["filter"].iloc[9] == iron


def test_the_client_file_says_which_queries_failed_or_stopped_at_a_page(tmp_path):
    """The client saves a provider that failed as an answer with no data and its error as text, and
    stops at --max-results-per-provider (10 by default): both were read without a word."""
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"structures": {FILTER: {
        OQMD: client_answer(entries(), more=True),
        ALEXANDRIA: client_answer([], errors=["ReadTimeout: the read operation timed out"])}}}))
    with pytest.warns(UserWarning) as caught:
        table = read_table(path)
    said = [str(w.message) for w in caught]
    assert len(table) == 9 and len(said) == 2
    assert said[0].endswith(f"9 of the 49 entries of the OPTIMADE answer of {OQMD}, one page of it (more are at its "
                            "links.next): a hull of these misses the other pages' compounds, so energies above it can "
                            "be too low; save them all (optimade-get --max-results-per-provider -1)")
    assert said[1].endswith(f"1 of the client's queries failed, their entries missing: {ALEXANDRIA}: ReadTimeout: "
                            "the read operation timed out")
    path.write_text(json.dumps({"structures": {FILTER: {ALEXANDRIA: client_answer([], errors=["HTTP 503"]),
                                                        OQMD: client_answer([])}}}))
    with pytest.raises(ValueError, match=re.escape(f"no structures entries in the answers of optimade-python-tools' "
                                                   f"client ({ALEXANDRIA}: HTTP 503)")):
        read_table(path)
    # a count (optimade-get --count) is no table of entries
    path.write_text(json.dumps({"structures": {FILTER: {OQMD: 9, ALEXANDRIA: None}}}))
    with pytest.raises(ValueError, match=r"a file of optimade-python-tools' client with no answers \(counts"):
        read_table(path)


def test_an_answer_with_errors_and_no_entries_is_an_error_answer(tmp_path):
    """One provider's results saved alone (the client's {"data": [], "errors": ["..."]}) said its
    query 'matched none', where it failed."""
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(client_answer([], errors=["HTTP 500: Internal Server Error"])))
    with pytest.raises(ValueError, match=r"an API's error answer, no data \(HTTP 500: Internal Server Error\)"):
        read_table(path)


def test_json_lines_saved_as_json_are_named_with_their_fix(tmp_path):
    path = tmp_path / "optimade.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in jsonl_records()))
    with pytest.raises(ValueError, match=r"optimade\.json: not JSON \(Extra data: line 2 column 1 \(char \d+\)\) "
                                         r"\(JSON lines, one record per line\? name the file \.jsonl\)"):
        read_table(path)
    path.rename(tmp_path / "optimade.jsonl")
    assert len(read_table(tmp_path / "optimade.jsonl")) == len(REDUCED)


def test_an_apis_answers_saved_one_page_a_line_are_read_as_their_entries(tmp_path):
    """A script that pages through an OPTIMADE API appends each page's answer to a .jsonl file: the
    pages were read as rows with columns data, meta and links ('no composition column'). Their
    entries are the rows; a last page with a links.next says more pages were not saved."""
    data = entries()
    pages = [{"data": data[:4], "meta": {"data_returned": 9, "more_data_available": True},
              "links": {"next": "http://oqmd.org/optimade/structures?page_offset=4"}},
             {"data": data[4:], "meta": {"data_returned": 9, "more_data_available": False}, "links": {"next": None}}]
    path = tmp_path / "pages.jsonl"
    write_lines(path, pages)
    t = stability(read_table(path))
    assert t.id.tolist() == [f"oqmd-{i}" for i in range(9)] and t.energy.tolist() == FORMATION
    write_lines(path, pages[:1])
    with pytest.warns(UserWarning, match=r"pages\.jsonl: 4 of the 9 entries of an OPTIMADE answer, one page of it"):
        assert len(read_table(path)) == 4


def test_a_client_file_of_another_endpoint_says_what_it_holds(tmp_path):
    """optimade-get --endpoint references saves references, no structures: it said its queries
    matched none."""
    path = tmp_path / "refs.json"
    refs = [{"type": "references", "id": f"r{i}", "attributes": {"doi": "10.1/x"}} for i in range(3)]
    path.write_text(json.dumps({"references": {"": {OQMD: client_answer(refs)}}}))
    with pytest.raises(ValueError, match=r"no structures entries in the answers of optimade-python-tools' client "
                                         r"\(3 entries of other types\)"):
        read_table(path)
