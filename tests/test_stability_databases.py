"""Exports of materials databases other than OQMD's shipped set, read by ``hullpack stability`` and
``stability(read_table(path))`` as a chemist saves them: Materials Project (mp-api summary documents
as JSON and CSV, ComputedStructureEntry lists with their MP2020 corrections, a PhaseDiagram saved
with monty), JARVIS-DFT, AFLOW's AFLUX, Alexandria's entries and OQMD's REST answer. Each gives
pymatgen's PhaseDiagram's energies above hull and decomposition energies on the same entries, keeps
the database's ids, and names what it cannot read. The commands are those of docs/stability.md's
"Tables from other databases", run as written in a folder holding the files. (OPTIMADE: see
test_user_tables_optimade.py.)"""
import bz2
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hullpack.columns import read_table
from hullpack.stability import stability

pmg = pytest.importorskip("pymatgen.analysis.phase_diagram")
from monty.serialization import dumpfn  # noqa: E402
from pymatgen.core import Composition, Lattice, Structure  # noqa: E402
from pymatgen.entries.computed_entries import ComputedStructureEntry  # noqa: E402

DOC = Path(__file__).resolve().parents[1] / "docs" / "stability.md"
SECTION = DOC.read_text().split("## Tables from other databases", 1)[1].split("\n## ", 1)[0]
COMMANDS = [shlex.split(re.sub(r"\s#.*$", "", line))
            for block in re.findall(r"```bash\n(.*?)```", SECTION, flags=re.S) for line in block.splitlines()
            if line.startswith("hullpack ")]

# Li-Fe-O as the databases hold it: cells (Fe4O6 for Fe2O3), a polymorph, an unstable oxide, elements at 0
CELLS = ["Fe2", "O8", "Li3", "Fe4O6", "Fe6O8", "Fe4O4", "Fe8O12", "Li4O2", "Li2Fe2O4", "Li4O4", "Li5Fe1O4"]
FORMATION = [0.0, 0.0, 0.0, -1.70, -1.65, -1.40, -1.60, -2.07, -1.90, -1.60, -1.95]
MU = {"Fe": -8.47, "O": -4.95, "Li": -1.91}  # total energies of the elements per atom


def atoms(cell: str) -> int:
    return int(Composition(cell).num_atoms)


def pymatgen_numbers(entries) -> tuple[np.ndarray, np.ndarray]:
    """pymatgen's energies above hull and decomposition energies of ``entries``, in their order."""
    diagram = pmg.PhaseDiagram(entries)
    return (np.array([diagram.get_e_above_hull(e) for e in entries]),
            np.array([diagram.get_decomp_and_phase_separation_energy(e)[1] for e in entries]))


FORMATION_ENTRIES = [pmg.PDEntry(Composition(c), e * atoms(c)) for c, e in zip(CELLS, FORMATION)]


def structure(cell: str) -> Structure:
    species = [str(el) for el, n in Composition(cell).items() for _ in range(int(n))]
    return Structure(Lattice.cubic(3.0 + len(species)), species, [[k / len(species)] * 3 for k in range(len(species))])


def mp_entries() -> list:
    """Entries as mpr.get_entries_in_chemsys gives them: GGA(+U) total energies, MP2020-corrected."""
    from pymatgen.entries.compatibility import MaterialsProject2020Compatibility

    entries = []
    for i, (cell, e) in enumerate(zip(CELLS, FORMATION)):
        oxide = "Fe" in cell and "O" in cell
        params = {"run_type": "GGA+U" if oxide else "GGA", "is_hubbard": oxide,
                  "hubbards": {"Fe": 5.3, "O": 0.0} if oxide else {}, "potcar_spec": []}
        total = sum(MU[str(el)] * n for el, n in Composition(cell).items()) + e * atoms(cell)
        entries.append(ComputedStructureEntry(structure(cell), total, entry_id=f"mp-{i}-{params['run_type']}",
                                              parameters=params,
                                              data={"material_id": f"mp-{i}", "run_type": params["run_type"]}))
    with pytest.warns(UserWarning, match="oxidation states"):  # LiO: a peroxide, its anion correction guessed
        return MaterialsProject2020Compatibility(check_potcar=False).process_entries(entries, inplace=False)


def summary_docs(dumped_by_monty: bool) -> list:
    """mp-api summary documents (mpr.materials.summary.search), saved with json.dump or monty's dumpfn."""
    docs = []
    for i, (cell, e) in enumerate(zip(CELLS, FORMATION)):
        c = Composition(cell)
        doc = {"material_id": f"mp-{i}", "formula_pretty": c.reduced_formula, "nelements": len(c),
               "composition": {str(el): n for el, n in c.items()}, "formation_energy_per_atom": e,
               "energy_above_hull": 0.0, "is_stable": True, "energy_per_atom": None, "structure": None}
        if dumped_by_monty:
            doc = {"@module": "emmet.core.summary", "@class": "SummaryDoc", **doc,
                   "composition": {**doc["composition"], "@module": "pymatgen.core.composition",
                                   "@class": "Composition"}}
        docs.append(doc)
    return docs


def write_files(folder: Path) -> dict:
    """Every file the docs' commands read, and what pymatgen gives for it: (entries, id column, ids)."""
    docs = summary_docs(dumped_by_monty=True)
    (folder / "mp_summary.json").write_text(json.dumps(docs))
    pd.DataFrame(summary_docs(dumped_by_monty=False)).assign(
        composition=[Composition(c) for c in CELLS]).to_csv(folder / "mp_summary.csv", index=False)  # "Fe4 O6"
    entries = mp_entries()
    dumpfn(entries, folder / "mp_entries.json")
    dumpfn(pmg.PhaseDiagram(entries), folder / "phase_diagram.json")
    (folder / "dft_3d.json").write_text(json.dumps([
        {"jid": f"JVASP-{i}", "formula": Composition(c).reduced_formula, "formation_energy_peratom": e,
         "ehull": "na", "optb88vdw_total_energy": e - 5.0, "mbj_bandgap": "na",
         "atoms": {"elements": [str(el) for el in Composition(c) for _ in range(int(Composition(c)[el]))],
                   "coords": [[0.0, 0.0, 0.0]] * atoms(c), "cartesian": False}}
        for i, (c, e) in enumerate(zip(CELLS, FORMATION))]))
    (folder / "aflux.json").write_text(json.dumps({
        f"{i + 1} of {len(CELLS)}": {"compound": "".join(f"{el}{int(n)}" for el, n in Composition(c).items()),
                                     "auid": f"aflow:{i:016x}", "species": [str(el) for el in Composition(c)],
                                     "composition": [int(n) for n in Composition(c).values()],
                                     "enthalpy_formation_atom": e, "enthalpy_formation_cell": e * atoms(c)}
        for i, (c, e) in enumerate(zip(CELLS, FORMATION))}))
    alexandria = [ComputedStructureEntry(structure(c), sum(MU[str(el)] * n for el, n in Composition(c).items())
                                         + e * atoms(c), entry_id=f"agm{i:09d}",
                                         data={"mat_id": f"agm{i:09d}", "e_form": e, "e_above_hull": 0.0,
                                               "e_phase_separation": 0.0, "spg": 225})
                  for i, (c, e) in enumerate(zip(CELLS, FORMATION))]
    (folder / "alexandria_000.json.bz2").write_bytes(bz2.compress(json.dumps(
        {"@module": "pymatgen.entries.computed_entries", "entries": [e.as_dict() for e in alexandria]}).encode()))
    (folder / "oqmd.json").write_text(json.dumps({
        "links": {"next": None}, "resource": {}, "response_message": "OK",
        "meta": {"data_returned": len(CELLS), "more_data_available": False},
        "data": [{"name": Composition(c).reduced_formula, "entry_id": 1000 + i, "delta_e": e, "stability": 0.0}
                 for i, (c, e) in enumerate(zip(CELLS, FORMATION))]}))
    materials = ("material_id", [f"mp-{i}" for i in range(len(CELLS))])
    pd_order = pmg.PhaseDiagram(entries).all_entries
    return {"mp_summary.json": (FORMATION_ENTRIES, *materials), "mp_summary.csv": (FORMATION_ENTRIES, *materials),
            "mp_entries.json": (entries, "entry_id", [e.entry_id for e in entries]),
            "phase_diagram.json": (pd_order, "entry_id", [e.entry_id for e in pd_order]),
            "dft_3d.json": (FORMATION_ENTRIES, "jid", [f"JVASP-{i}" for i in range(len(CELLS))]),
            "aflux.json": (FORMATION_ENTRIES, "auid", [f"aflow:{i:016x}" for i in range(len(CELLS))]),
            "alexandria_000.json.bz2": (alexandria, "mat_id", [f"agm{i:09d}" for i in range(len(CELLS))]),
            "oqmd.json": (FORMATION_ENTRIES, "entry_id", list(range(1000, 1000 + len(CELLS))))}


def test_the_docs_show_a_command_for_each_database():
    assert [argv[2] for argv in COMMANDS] == ["mp_summary.json", "mp_summary.csv", "mp_entries.json",
                                              "phase_diagram.json", "dft_3d.json", "aflux.json",
                                              "alexandria_000.json.bz2", "oqmd.json"]


def test_each_databases_export_gives_pymatgens_numbers_and_keeps_its_ids(tmp_path, monkeypatch, capsys):
    """The docs' commands as written, then the Python API on the same file. A PhaseDiagram saved
    with dumpfn was refused ('expected a JSON list of records'); AFLOW's composition (the amounts
    of its species, [4, 6]) was read before its compound, every row 'got list'."""
    from hullpack.cli import main

    files = write_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    for argv in COMMANDS:
        entries, id_column, ids = files[argv[2]]
        e_above, decomposition = pymatgen_numbers(entries)
        out = tmp_path / f"out-{argv[2]}"
        assert main(["-q", *argv[1:], "--out", str(out), "--format", "csv"]) == 0, argv
        assert "bad row" not in capsys.readouterr().out
        for table in (pd.read_csv(out / "stability.csv"), stability(read_table(argv[2]))):
            assert table.problem.isna().all(), argv
            assert table.e_above_hull.to_numpy() == pytest.approx(e_above, abs=1e-6), argv
            assert table.decomposition_energy.to_numpy() == pytest.approx(decomposition, abs=1e-6), argv
            assert table[id_column].tolist() == ids, argv
            assert table.formula.tolist() == [e.composition.reduced_formula for e in entries], argv


#: the id each database's summary names beside a row, by the row's index among CELLS
SUMMARY_IDS = {"mp_summary.json": "mp-{}".format, "mp_summary.csv": "mp-{}".format,
               "mp_entries.json": "mp-{}".format, "phase_diagram.json": "mp-{}".format,  # material_id, not entry_id
               "dft_3d.json": "JVASP-{}".format, "aflux.json": "aflow:{:016x}".format,
               "alexandria_000.json.bz2": "agm{:09d}".format, "oqmd.json": lambda i: f"entry_id {1000 + i}"}


def test_the_summary_names_a_polymorph_by_its_row_and_its_database_id(tmp_path, monkeypatch, capsys):
    """Fe4O6 and Fe8O12 are two Fe2O3 entries: each line ends with its row and, beside it, the
    entry's id in the database (was '[row 4]' only: which entry is it?); OQMD's number is named."""
    from hullpack.cli import main

    files = write_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    for argv in COMMANDS:
        entries = files[argv[2]][0]
        assert main([*argv[1:], "--out", str(tmp_path / f"out-{argv[2]}"), "--format", "csv"]) == 0, argv
        printed = capsys.readouterr().out
        for cell in (3, 6):  # Fe4O6, Fe8O12
            row = 1 + next(k for k, e in enumerate(entries) if e.composition == Composition(CELLS[cell]))
            assert f"  [row {row}, {SUMMARY_IDS[argv[2]](cell)}]\n" in printed, (argv, printed)


@pytest.mark.parametrize("options", [[], ["--model", "default", "--compare"]])
def test_a_bad_row_of_an_export_is_named_by_its_row_and_its_database_id(tmp_path, options, capsys):
    from hullpack.cli import main

    docs = pd.DataFrame(summary_docs(dumped_by_monty=False)).drop(columns="composition")
    docs.loc[2, "formula_pretty"] = "Xx2O3"
    docs.to_csv(tmp_path / "mp_summary.csv", index=False)
    assert main(["stability", str(tmp_path / "mp_summary.csv"), *options, "--out", str(tmp_path / "out")]) == 0
    assert "  bad row 3, mp-2 ('Xx2O3'): unknown element 'Xx'\n" in capsys.readouterr().out
    # the table, --compare's protocol table too, keeps the export's other columns: its ids row by row
    table = pd.read_parquet(tmp_path / "out" / ("protocol.parquet" if options else "stability.parquet"))
    listed = docs[~docs.formula_pretty.isin(["Fe", "O2", "Li"])] if options else docs  # the protocol's: compounds
    assert table.material_id.tolist() == listed.material_id.tolist() and table.input.tolist() == listed.formula_pretty.tolist()


def test_materials_project_thermo_documents_of_several_thermo_types_are_refused(tmp_path):
    """mpr.materials.thermo.search gives a document per material and thermo type (GGA_GGA+U,
    GGA_GGA+U_R2SCAN, R2SCAN), all with formation_energy_per_atom: they were read as one set, each
    material twice, its energies of two functionals mixed in one hull."""
    docs = [{"material_id": f"mp-{i}", "thermo_id": f"mp-{i}_{kind}", "thermo_type": kind,
             "formula_pretty": Composition(c).reduced_formula, "formation_energy_per_atom": e + shift * (e != 0),
             "energy_above_hull": 0.0} for i, (c, e) in enumerate(zip(CELLS, FORMATION))
            for kind, shift in (("GGA_GGA+U", 0.0), ("GGA_GGA+U_R2SCAN", -0.05))]
    path = tmp_path / "thermo.json"
    path.write_text(json.dumps(docs))
    table = read_table(path)
    with pytest.raises(ValueError, match=r"energy column 'formation_energy_per_atom' holds the energies of 2 Materials "
                                         r"Project thermo types \(GGA_GGA\+U: 11, GGA_GGA\+U_R2SCAN: 11\): .*keep one "
                                         r"thermo type's rows \(column thermo_type\), e\.g\. "
                                         r"table\[table\.thermo_type == 'GGA_GGA\+U_R2SCAN'\]"):
        stability(table)
    one = stability(table[table.thermo_type == "GGA_GGA+U"])
    assert one.e_above_hull.to_numpy() == pytest.approx(pymatgen_numbers(FORMATION_ENTRIES)[0], abs=1e-6)
    # monty saves the thermo type as an enum: {"@class": "ThermoType", "value": ...}
    for d in docs:
        d["thermo_type"] = {"@module": "emmet.core.thermo", "@class": "ThermoType", "value": d["thermo_type"]}
    path.write_text(json.dumps(docs))
    with pytest.raises(ValueError, match="2 Materials Project thermo types"):
        stability(read_table(path))


@pytest.mark.parametrize("column", ["equilibrium_reaction_energy_per_atom", "e_phase_separation",
                                    "Decomposition Energy Per Atom"])
def test_decomposition_energies_of_the_databases_are_no_energies_to_build_hulls_from(column):
    """Materials Project's, Alexandria's and GNoME's decomposition energies (distances to the hull of
    the other compositions) were read as the energies when named so, giving hulls of hull distances;
    with no energy column they are marked as hull distances."""
    table = pd.DataFrame({"formula": ["Fe", "O2", "Fe2O3"], column: [0.0, 0.0, -0.16]})
    with pytest.raises(ValueError, match=rf"energy column '{column}' holds hull distances"):
        stability(table, energies=column)
    with pytest.raises(ValueError, match=rf"'{column}': hull distances"):
        stability(table)


def test_a_saved_phase_diagram_of_other_compositions_is_named_and_pdentry_names_are_ids(tmp_path):
    """A CompoundPhaseDiagram holds pseudo-elements: refused, saying what to save. A PDEntry's name,
    where one was given (an id), is its entry_id; one left to its formula is none."""
    entries = [pmg.PDEntry(Composition(c), e * atoms(c), name=f"id-{i}" if i % 2 else None)
               for i, (c, e) in enumerate(zip(CELLS, FORMATION))]
    dumpfn(entries, tmp_path / "pdentries.json")
    t = stability(read_table(tmp_path / "pdentries.json"))
    assert [None if pd.isna(v) else v for v in t.entry_id] == [f"id-{i}" if i % 2 else None
                                                                  for i in range(len(CELLS))]
    assert t.e_above_hull.to_numpy() == pytest.approx(pymatgen_numbers(entries)[0], abs=1e-6)
    diagram = pmg.CompoundPhaseDiagram(entries[:7], [Composition("Fe"), Composition("Fe2O3")])
    dumpfn(diagram, tmp_path / "cpd.json")
    with pytest.raises(ValueError, match=r"cpd\.json: a pymatgen CompoundPhaseDiagram \(a diagram between other "
                                         r"compositions than the elements\), not a table of energies: save the "
                                         r"entries it was built from"):
        read_table(tmp_path / "cpd.json")


def test_the_databases_other_energies_are_checked_for_their_convention(tmp_path):
    """JARVIS's total energies (optb88vdw_total_energy, eV/atom) give pymatgen's numbers with the
    elements' entries and are refused without them; AFLOW's enthalpy_formation_cell (eV per cell)
    and formation energies in meV/atom are refused as such."""
    from hullpack.errors import HullInputError

    files = write_files(tmp_path)
    jarvis = read_table(tmp_path / "dft_3d.json")
    totals = [pmg.PDEntry(Composition(c), (e - 5.0) * atoms(c)) for c, e in zip(CELLS, FORMATION)]
    t = stability(jarvis, energies="optb88vdw_total_energy")
    assert t.e_above_hull.to_numpy() == pytest.approx(pymatgen_numbers(totals)[0], abs=1e-6)
    with pytest.raises(HullInputError, match="these look like total energies, but no elemental entries"):
        stability(jarvis[jarvis.formula.str.len() > 2], energies="optb88vdw_total_energy")
    aflow = read_table(tmp_path / "aflux.json")
    with pytest.raises(HullInputError, match="energies per formula unit or per cell rather than per atom"):
        stability(aflow, energies="enthalpy_formation_cell")
    with pytest.raises(HullInputError, match=r"another unit \(meV/atom, kJ/mol\)"):
        stability(aflow.assign(enthalpy_formation_atom=aflow.enthalpy_formation_atom * 1000))
    assert files  # (the files of every database were written)
