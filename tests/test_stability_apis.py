"""Files saved from materials databases' web APIs, read by hullpack.stability as users save them:
Materials Project's mp-api documents, JARVIS-DFT's dft_3d, AFLOW's AFLUX, OQMD's own REST API,
pymatgen entries saved with monty, and OPTIMADE answers with partial data. An answer that is one
page of more says so (how many entries were read, and how to save the others)."""
import json
import warnings

import numpy as np
import pytest

from hullpack.columns import read_table
from hullpack.stability import stability

AMOUNTS = [{"Fe": 1}, {"O": 2}, {"Fe": 2, "O": 3}, {"Fe": 1, "O": 1}, {"Fe": 3, "O": 4}]
FORMULAS = ["Fe", "O2", "Fe2O3", "FeO", "Fe3O4"]
FORMATION = [0.0, 0.0, -1.7, -1.4, -1.65]


def expected():
    """The energies above the hull of the compounds given as lists, which every file must give."""
    return stability(FORMULAS, FORMATION).e_above_hull.to_numpy()


def read_quietly(path):
    """``read_table(path)``, failing on any warning: a whole answer is read without a note."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return read_table(path)


def oqmd_answer(rows, more: bool) -> dict:
    """An answer of OQMD's REST API (/oqmdapi/formationenergy?fields=name,entry_id,delta_e,stability)."""
    return {"links": {"next": "http://oqmd.org/oqmdapi/formationenergy?limit=3&offset=3" if more else None,
                      "base_url": {"href": "http://oqmd.org/oqmdapi", "meta": {"_oqmd_version": "1.0"}}, "prev": None},
            "resource": {}, "data": rows,
            "meta": {"query": {"representation": "formationenergy"}, "api_version": "1.0", "time_stamp": "2026-01-01",
                     "data_returned": len(rows), "data_available": 5, "more_data_available": more, "comments": "",
                     "query_tree": ""},
            "response_message": "OK"}


OQMD_ROWS = [{"name": f, "entry_id": i, "delta_e": e, "stability": 0.0}
             for i, (f, e) in enumerate(zip(FORMULAS, FORMATION))]


def test_an_oqmd_rest_page_of_more_says_how_many_entries_were_read_and_how_to_save_the_rest(tmp_path):
    """OQMD's REST answer (name, delta_e, stability) is read without renaming a column; one page of
    a longer answer (meta.more_data_available, links.next) was read without a word, its hull missing
    the other pages' compounds."""
    path = tmp_path / "oqmd.json"
    path.write_text(json.dumps(oqmd_answer(OQMD_ROWS, more=False)))
    t = stability(read_quietly(path))
    assert t.entry_id.tolist() == list(range(5)) and np.abs(t.e_above_hull.to_numpy() - expected()).max() < 1e-12
    path.write_text(json.dumps(oqmd_answer(OQMD_ROWS[:3], more=True)))
    with pytest.warns(UserWarning, match=r"oqmd\.json: 3 entries of an API answer, one page of it \(more are at its "
                                         r"links\.next\): a hull of these misses the other pages' compounds.*follow "
                                         r"links\.next until meta\.more_data_available is false"):
        assert len(read_table(path)) == 3


def test_oqmd_rest_pages_saved_one_a_line_are_read_as_their_entries(tmp_path):
    """OQMD's answers, one page a line of a .jsonl file, were read as rows of pages (their fields
    resource and response_message are no OPTIMADE answer's): 'no composition column'."""
    path = tmp_path / "oqmd.jsonl"
    pages = [oqmd_answer(OQMD_ROWS[:3], more=True), oqmd_answer(OQMD_ROWS[3:], more=False)]
    path.write_text("".join(json.dumps(p) + "\n" for p in pages))
    t = stability(read_quietly(path))
    assert t.entry_id.tolist() == list(range(5)) and np.abs(t.e_above_hull.to_numpy() - expected()).max() < 1e-12
    path.write_text(json.dumps(pages[0]) + "\n")
    with pytest.warns(UserWarning, match=r"3 entries of an API answer, one page of it"):
        read_table(path)


def aflux(total: int) -> dict:
    """AFLUX's answer ({"1 of N": entry}) of the compounds, N the entries the query matched."""
    return {f"{i + 1} of {total}": {"compound": "".join(f"{k}{v}" for k, v in a.items()), "auid": f"aflow:{i:016x}",
                                    "enthalpy_formation_atom": e, "species": list(a), "natoms": sum(a.values())}
            for i, (a, e) in enumerate(zip(AMOUNTS, FORMATION))}


def test_an_aflux_answer_is_read_and_one_page_of_more_says_so(tmp_path):
    """AFLUX names each entry by its place among the query's matches ("2 of 1532"): one page of
    them (its default) was read without a word."""
    path = tmp_path / "aflux.json"
    path.write_text(json.dumps(aflux(5)))
    t = stability(read_quietly(path))
    assert t.auid.tolist()[:2] == ["aflow:0000000000000000", "aflow:0000000000000001"]
    assert np.abs(t.e_above_hull.to_numpy() - expected()).max() < 1e-12
    path.write_text(json.dumps(list(aflux(5).values())))  # the entries as a list
    assert np.abs(stability(read_quietly(path)).e_above_hull.to_numpy() - expected()).max() < 1e-12
    path.write_text(json.dumps(aflux(1532)))
    with pytest.warns(UserWarning, match=r"aflux\.json: 5 of the 1,532 entries of an AFLUX answer, one page of it: "
                                         r".*\$paging\(0\)"):
        assert len(read_table(path)) == 5
    # its pages, one a line of a .jsonl file, were rows of pages ('no composition column')
    path, pages = tmp_path / "aflux.jsonl", list(aflux(5).items())
    path.write_text(json.dumps(dict(pages[:3])) + "\n" + json.dumps(dict(pages[3:])) + "\n")
    t = stability(read_quietly(path))
    assert t.id.tolist() == [f"{i} of 5" for i in range(1, 6)]
    assert np.abs(t.e_above_hull.to_numpy() - expected()).max() < 1e-12


def test_exports_of_materials_project_and_jarvis_are_read_without_renaming(tmp_path):
    """mp-api's documents dumped with json.dump (the fields not requested are null, composition
    among them) and JARVIS-DFT's dft_3d (missing values "na", its structure a mapping)."""
    docs = [{"material_id": f"mp-{i}", "formula_pretty": f, "composition": None, "composition_reduced": None,
             "elements": None, "energy_per_atom": None, "formation_energy_per_atom": e, "energy_above_hull": 0.0,
             "structure": None, "fields_not_requested": ["composition", "elements", "structure"]}
            for i, (f, e) in enumerate(zip(FORMULAS, FORMATION))]
    path = tmp_path / "mp.json"
    path.write_text(json.dumps(docs))
    t = stability(read_quietly(path))
    assert t.material_id.tolist() == [f"mp-{i}" for i in range(5)]
    assert np.abs(t.e_above_hull.to_numpy() - expected()).max() < 1e-12
    jarvis = [{"jid": f"JVASP-{i}", "formula": f, "formation_energy_peratom": e, "optb88vdw_total_energy": e - 5.0,
               "ehull": 0.0, "mbj_bandgap": "na", "atoms": {"elements": list(a), "cartesian": False}}
              for i, (f, a, e) in enumerate(zip(FORMULAS, AMOUNTS, FORMATION))]
    jarvis.append({"jid": "JVASP-9", "formula": "Fe2O", "formation_energy_peratom": "na",
                   "optb88vdw_total_energy": "na", "ehull": "na", "mbj_bandgap": "na", "atoms": {}})
    path = tmp_path / "dft_3d.json"
    path.write_text(json.dumps(jarvis))
    with pytest.warns(UserWarning, match=r"1 of 6 input rows cannot be used:\n  \[5\] 'Fe2O': energy is missing"):
        t = stability(read_table(path))
    assert np.abs(t.e_above_hull.to_numpy()[:5] - expected()).max() < 1e-12 and np.isnan(t.e_above_hull[5])


def test_pymatgen_entries_saved_with_dumpfn_are_read(tmp_path):
    """A list of ComputedEntry saved with monty's dumpfn, as a .json and a .json.gz file."""
    pytest.importorskip("pymatgen")
    from monty.serialization import dumpfn
    from pymatgen.entries.computed_entries import ComputedEntry

    mu = {"Fe": -8.47, "O": -4.95}
    entries = [ComputedEntry("".join(f"{k}{v}" for k, v in a.items()),
                             sum(v * (mu[k] + e) for k, v in a.items()), entry_id=f"mp-{i}")
               for i, (a, e) in enumerate(zip(AMOUNTS, FORMATION))]
    for name in ("entries.json", "entries.json.gz"):
        dumpfn(entries, tmp_path / name)
        t = stability(read_quietly(tmp_path / name))
        assert t.entry_id.tolist() == [f"mp-{i}" for i in range(5)]
        assert np.abs(t.e_above_hull.to_numpy() - expected()).max() < 1e-9


def optimade_entry(i: int, energy, partial: tuple) -> dict:
    """An OPTIMADE 1.2 structures entry whose properties ``partial`` are partial data: null, their
    values at the entry's meta.partial_data_links."""
    entry = {"type": "structures", "id": f"oqmd-{i}",
             "attributes": {"chemical_formula_reduced": "".join(f"{k}{v if v > 1 else ''}" for k, v in
                                                                sorted(AMOUNTS[i].items())),
                            "_oqmd_delta_e": energy, "cartesian_site_positions": None}}
    entry["meta"] = {"partial_data_links": {name: [
        {"format": "jsonlines", "link": f"https://oqmd.org/optimade/v1/partial_data/structures/oqmd-{i}/{name}"}]
        for name in partial}}
    return entry


def test_an_optimade_answer_with_partial_data_reads_its_entries_and_names_a_missing_energy(tmp_path):
    """Large properties (the positions) given as partial data are no column a hull needs: the
    answer is read as it is. An energy given so (null, its value behind a link) left its row
    without one ('energy is missing') and no word of where the value is."""
    path = tmp_path / "optimade.json"
    answer = {"data": [optimade_entry(i, e, ("cartesian_site_positions",)) for i, e in enumerate(FORMATION)],
              "meta": {"api_version": "1.2.0", "more_data_available": False, "data_returned": 5}}
    path.write_text(json.dumps(answer))
    assert np.abs(stability(read_quietly(path)).e_above_hull.to_numpy() - expected()).max() < 1e-12
    answer["data"][3] = optimade_entry(3, None, ("cartesian_site_positions", "_oqmd_delta_e"))
    path.write_text(json.dumps(answer))
    with pytest.warns(UserWarning, match=r"optimade\.json: OPTIMADE partial data .*: _oqmd_delta_e of 1 entry, the "
                                         r"first entry 3 \('oqmd-3', its _oqmd_delta_e at https://oqmd\.org/optimade/"
                                         r"v1/partial_data/structures/oqmd-3/_oqmd_delta_e\); those rows are read "
                                         r"without it"):
        table = read_table(path)
    with pytest.warns(UserWarning, match=r"\[3\] 'FeO': energy is missing"):
        t = stability(table)
    assert np.isnan(t.e_above_hull[3]) and t.e_above_hull.notna().sum() == 4
