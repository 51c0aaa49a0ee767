"""Tables as other materials databases export them, read by every command that takes a user's table
(stability, screen --dft, train --data, predict --file): Materials Project documents saved to Parquet,
JSON, JSON lines or CSV (compositions as mappings), pymatgen entries saved with monty, OPTIMADE
answers (OQMD, Materials Project, Alexandria), TSV files, headers with units, and energies in
another unit than eV/atom refused rather than read as eV/atom."""
import gzip
import json
import re

import numpy as np
import pandas as pd
import pytest

from hullpack.columns import COMPOSITION_COLUMNS, ENERGY_COLUMNS, composition_cell, find_column, read_table
from hullpack.elemnet.data import table_arrays
from hullpack.errors import HullInputError, ScreeningError
from hullpack.screening.dft import DFTCompounds
from hullpack.stability import stability

FORMULAS = ["Fe", "O2", "Fe2O3", "Fe2O3", "Fe3O4", "FeO", "LiFeO2", "Li2O", "Li"]
AMOUNTS = [{"Fe": 1.0}, {"O": 2.0}, {"Fe": 4.0, "O": 6.0}, {"Fe": 2.0, "O": 3.0}, {"Fe": 3.0, "O": 4.0},
           {"Fe": 1.0, "O": 1.0}, {"Li": 1.0, "Fe": 1.0, "O": 2.0}, {"Li": 2.0, "O": 1.0}, {"Li": 1.0}]
FORMATION = [0.0, 0.0, -1.70, -1.664, -1.60, -1.30, -1.55, -2.07, 0.0]
# total energies of the elements (eV/atom), as a DFT code gives them
MU = {"Fe": -8.47, "O": -4.95, "Li": -1.91}


def mp_docs() -> pd.DataFrame:
    """A Materials Project summary-documents table (mp_api's fields) of the compounds above."""
    return pd.DataFrame({"material_id": [f"mp-{i}" for i in range(len(FORMULAS))], "formula_pretty": FORMULAS,
                         "formation_energy_per_atom": FORMATION, "energy_above_hull": 0.0,
                         "energy_per_atom": [f - 5.0 for f in FORMATION], "is_stable": False,
                         "composition": AMOUNTS})


def pymatgen_e_above_hull(amounts, energies_per_atom):
    pmg = pytest.importorskip("pymatgen.analysis.phase_diagram")
    from pymatgen.core import Composition

    entries = [pmg.PDEntry(Composition(a), e * sum(a.values())) for a, e in zip(amounts, energies_per_atom)]
    diagram = pmg.PhaseDiagram(entries)
    return np.array([diagram.get_e_above_hull(e) for e in entries])


def test_a_parquet_of_materials_project_documents_is_read_by_every_command(tmp_path):
    """Parquet stores the mapping column as a struct of every element in the column: each row's
    mapping comes back with None for the elements it lacks. Those are no amounts: every row was bad
    ('amount of Li is None') in stability, screen --dft and train."""
    pytest.importorskip("pyarrow")
    path = tmp_path / "mp.parquet"
    mp_docs().to_parquet(path)
    assert read_table(path).composition[0] == {"Fe": 1.0, "O": None, "Li": None}  # as pyarrow gives it back
    t = stability(read_table(path))
    assert t.problem.isna().all() and t.formula.tolist()[:3] == ["Fe", "O2", "Fe2O3"]
    assert t.input[2] == "{'Fe': 4.0, 'O': 6.0}"  # as written, without the elements it lacks
    assert np.abs(t.e_above_hull.to_numpy() - pymatgen_e_above_hull(AMOUNTS, FORMATION)).max() < 1e-9
    assert len(DFTCompounds.read(path).energy) == 5  # compounds of 2 to 4 elements, one per composition
    x, y = table_arrays(read_table(path))
    assert len(y) == len(FORMULAS) and x[2].tolist() == x[3].tolist()  # Fe4O6 is Fe2O3


def test_training_and_predict_read_compositions_written_as_text(tmp_path, capsys):
    """A Materials Project table saved to CSV holds its compositions as text ({'Fe': 2.0, ...}),
    the column hullpack reads first: training left out every row, predict refused them all."""
    from hullpack.cli import main

    path = tmp_path / "mp.csv"
    mp_docs().to_csv(path, index=False)
    assert read_table(path).composition[2] == "{'Fe': 4.0, 'O': 6.0}"
    x, y = table_arrays(read_table(path))
    assert len(y) == len(FORMULAS) and np.allclose(x.sum(axis=1), 1)
    assert main(["predict", "--file", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("formula,dH_eV_per_atom,material_id,formula_pretty")
    # the composition is printed as the formula it is (as written: Fe4O6), not as a mapping
    assert [line.split(",")[0] for line in lines[1:5]] == ["Fe", "O2", "Fe4O6", "Fe2O3"]
    assert composition_cell("{'Fe': 4.0, 'O': None}") == {"Fe": 4.0}
    with pytest.raises(ValueError, match="is not a formula, nor an {element: amount} mapping"):
        composition_cell("{Fe: 2}")


@pytest.mark.parametrize("write", ["records", "columns", "api", "lines", "lines.gz", "tsv"])
def test_json_json_lines_and_tsv_files_are_tables(tmp_path, write):
    docs = mp_docs()
    if write == "tsv":
        path = tmp_path / "mp.tsv"
        docs.drop(columns="composition").to_csv(path, sep="\t", index=False)
    elif write.startswith("lines"):
        path = tmp_path / f"mp.json{write[5:]}".replace(".json", ".jsonl")
        text = docs.to_json(orient="records", lines=True)
        path.write_bytes(gzip.compress(text.encode()) if write.endswith(".gz") else text.encode())
    elif write == "api":  # the REST answer: {"data": [...], "meta": {...}}
        path = tmp_path / "mp.json"
        path.write_text(json.dumps({"data": json.loads(docs.to_json(orient="records")), "meta": {"total_doc": 9}}))
    else:
        path = tmp_path / "mp.json"
        docs.to_json(path, orient=write)
    table = read_table(path)
    assert table.material_id.tolist() == docs.material_id.tolist()
    t = stability(table)
    assert t.problem.isna().all() and t.material_id.tolist() == docs.material_id.tolist()
    assert np.abs(t.e_above_hull.to_numpy() - pymatgen_e_above_hull(AMOUNTS, FORMATION)).max() < 1e-9


def test_pymatgen_entries_saved_with_monty_are_a_table_of_total_energies(tmp_path, capsys):
    """ComputedEntry and ComputedStructureEntry lists (what mp_api's get_entries returns) saved with
    MontyEncoder: their energy_per_atom are total energies, with the elements' own entries."""
    pytest.importorskip("pymatgen")
    from monty.json import MontyEncoder
    from pymatgen.analysis.phase_diagram import PhaseDiagram
    from pymatgen.core import Composition, Lattice, Structure
    from pymatgen.entries.computed_entries import ComputedEntry, ComputedStructureEntry

    entries = []
    for i, (a, ef) in enumerate(zip(AMOUNTS, FORMATION)):
        c = Composition(a)
        entries.append(ComputedEntry(c, sum(n * MU[el.symbol] for el, n in c.items()) + c.num_atoms * ef,
                                     entry_id=f"mp-{i}"))
    rocksalt = Structure(Lattice.cubic(4.3), ["Fe", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    entries.append(ComputedStructureEntry(rocksalt, 2 * (0.5 * MU["Fe"] + 0.5 * MU["O"] - 1.25), entry_id="mp-rs"))
    path = tmp_path / "entries.json"
    path.write_text(json.dumps(entries, cls=MontyEncoder))
    table = read_table(path)
    assert table.columns.tolist() == ["entry_id", "formula", "energy_per_atom"]
    assert table.entry_id.tolist()[-1] == "mp-rs" and table.formula.tolist()[2] == "Fe2O3"
    t = stability(table)
    diagram = PhaseDiagram(entries)
    expected = [diagram.get_e_above_hull(e) for e in entries]
    assert t.problem.isna().all() and np.abs(t.e_above_hull.to_numpy() - expected).max() < 1e-9
    from hullpack.cli import main

    assert main(["-q", "stability", str(path), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "energies: column 'energy_per_atom'" in out and "Fe2O3   Fe-O    stable by 0.2067" in out
    assert "FeO     Fe-O    above hull by 0.1167  decomposes to 0.833333 Fe2O3 + 0.166667 Fe" in out  # the rocksalt


@pytest.mark.parametrize("header", ["formation_energy (eV/atom)", "Formation Energy [eV/atom]",
                                    "Formation Energy Per Atom", "formation_energy_per_atom (eV)",
                                    "E_form [eV per atom]", "\ufeffdelta_e", "Formation enthalpy (eV/atom)",
                                    "dHf (eV/atom)", "Delta H_f", "heat of formation"])
def test_headers_with_units_case_and_spaces_are_found(header):
    # before, none was found: 'no energy column hullpack knows, but columns of numbers [...]'
    df = pd.DataFrame({"Reduced Formula": FORMULAS, header: FORMATION})
    assert find_column(df.columns, None, ENERGY_COLUMNS, "energy") == header
    t = stability(df)
    assert t.problem.isna().all() and t.stable.tolist()[2] is True


def test_ef_is_not_taken_for_a_formation_energy():
    """'Ef' may be a Fermi energy: it is named as a column of numbers to choose, not read."""
    df = pd.DataFrame({"formula": FORMULAS, "Ef (eV/atom)": FORMATION})
    with pytest.raises(ValueError, match=r"no energy column .* among the table's columns \['formula', 'Ef \(eV/atom\)'\]"):
        find_column(df.columns, None, ENERGY_COLUMNS, "energy")


@pytest.mark.parametrize("header, how", [("formation_energy (meV/atom)", "divide by 1000"),
                                         ("delta_e [kJ/mol]", "divide by 96.485"),
                                         ("formation_energy_per_atom (Ry/atom)", "multiply by 13.606"),
                                         ("e_form (eV/f.u.)", "")])
def test_an_energy_column_in_another_unit_is_refused_by_its_header(tmp_path, capsys, header, how):
    df = pd.DataFrame({"formula": FORMULAS, header: FORMATION})
    with pytest.raises(ValueError, match=re.escape(f"energy column '{header}' is in {header.split()[-1][1:-1]}; "
                                                   "hullpack reads eV/atom: convert it")):
        stability(df)
    with pytest.raises(ValueError, match="hullpack reads eV/atom"):  # named, it is in that unit all the same
        find_column(df.columns, header, ENERGY_COLUMNS, "energy")
    path = tmp_path / "mev.csv"
    df.to_csv(path, index=False)
    from hullpack.cli import main

    assert main(["-q", "stability", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert how in err and "--energy-column" not in err  # not said to come from an option not given


@pytest.mark.parametrize("scale", [1000.0, 96.485])
def test_formation_energies_in_mev_or_kj_per_mol_are_refused(tmp_path, scale):
    """With the elements at 0, meV/atom and kJ/mol were read as eV/atom: energies above hull of
    tens of eV/atom, no complaint. Now stability and screen --dft say it, as training did."""
    df = pd.DataFrame({"formula": FORMULAS, "formation_energy_per_atom": np.array(FORMATION) * scale})
    with pytest.raises(HullInputError, match=r"energies: median energy -1\d+(\.\d+)? eV/atom: another unit "
                                             r"\(meV/atom, kJ/mol\)\?"):
        stability(df)
    with pytest.raises(ScreeningError, match="another unit"):
        DFTCompounds.read(df, name="mine")
    with pytest.raises(ValueError, match="another unit"):
        table_arrays(df)
    # total energies with each element's entry are a convention of their own: not another unit
    totals = np.array(FORMATION) + [sum(MU[s] * n for s, n in a.items()) / sum(a.values()) for a in AMOUNTS]
    assert stability(pd.DataFrame({"formula": FORMULAS, "energy_per_atom": totals * 10})).problem.isna().all()


# A JARVIS-DFT export: `na` where a value is missing, other exports' spellings of it too; Na is sodium
JARVIS = pd.DataFrame({
    "jid": [f"JVASP-{i}" for i in range(1, 9)],
    "formula": ["Na", "Cl2", "NaCl", "NaCl", "Na2Cl", "NaCl3", "Na3Cl", "Na"],
    "formation_energy_peratom": ["0.0", "0.0", "-2.1", "na", " NA ", "N/A", "null", "None"],
    "optb88vdw_bandgap": ["na", "nan", "5.01", "4.9", "", "NaN", "0.3", "1"],
})
JARVIS_MISSING = [3, 4, 5, 6, 7]  # rows whose formation energy is missing


def write_jarvis(path, df=JARVIS):
    if path.suffix == ".json":
        records = [{k: (float(v) if k != "jid" and k != "formula" and v.strip() and v.strip().lower() not in
                        ("na", "nan", "n/a", "null", "none") else v) for k, v in row.items()}
                   for row in df.to_dict("records")]
        path.write_text(json.dumps(records))  # numbers as numbers, "na" as text, as JARVIS writes them
    else:
        path.write_text(df.to_csv(index=False, sep="\t" if path.suffix == ".tsv" else ","))
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".json"])
def test_missing_values_written_out_in_columns_of_numbers_are_missing(tmp_path, suffix):
    """JARVIS-DFT writes `na` for a missing value: its energy column was read as text and every
    such row called "energy 'na' is not a number"; a formula `Na` stays sodium."""
    t = read_table(write_jarvis(tmp_path / f"jarvis{suffix}"))
    assert t.formation_energy_peratom.dtype == np.float64 and t.optb88vdw_bandgap.dtype == np.float64
    assert np.flatnonzero(t.formation_energy_peratom.isna()).tolist() == JARVIS_MISSING
    assert t.formation_energy_peratom[2] == -2.1 and t.optb88vdw_bandgap.isna().tolist()[:2] == [True, True]
    assert t.formula.tolist() == JARVIS.formula.tolist() and t.jid.tolist() == JARVIS.jid.tolist()
    # parsed as the same file with empty cells there: the same bits
    blank = JARVIS.assign(formation_energy_peratom=["0.0", "0.0", "-2.1", "", "", "", "", ""],
                          optb88vdw_bandgap=["", "", "5.01", "4.9", "", "", "0.3", "1"])
    same = read_table(write_jarvis(tmp_path / f"blank{suffix}", blank))
    pd.testing.assert_frame_equal(t, same)


def test_missing_values_stay_text_outside_columns_of_numbers(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("formula,label,energy,note\nNa,na,-1.0,7\nNA,x,na,NaN\nnan,N/A,abc,null\n")
    t = read_table(path)
    assert t.formula.tolist() == ["Na", "NA", "nan"] and t.label.tolist() == ["na", "x", "N/A"]
    assert t.energy.tolist() == ["-1.0", "na", "abc"]  # 'abc': no column of numbers, named per row later
    assert t.note.dtype == np.float64 and t.note.isna().tolist() == [False, True, True] and t.note[0] == 7
    assert read_table(path, text=True).note.tolist() == ["7", "NaN", "null"]  # cells as written
    # a column of JSON numbers with a mapping or a flag among them is no column of numbers
    (tmp_path / "t.json").write_text(json.dumps([{"formula": "Na", "e": "na", "flag": True},
                                                 {"formula": "Cl2", "e": 1.5, "flag": "na"}]))
    t = read_table(tmp_path / "t.json")
    assert t.e.isna().tolist() == [True, False] and t.flag.tolist() == [True, "na"]
    assert t.formula.tolist() == ["Na", "Cl2"]


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_every_command_says_a_missing_energy_is_missing(tmp_path, capsys, suffix):
    """stability, screen --dft and train read a JARVIS table's `na` energies as missing ones: the row
    is named as such and left out, every other row is read."""
    from hullpack.cli import main

    path = write_jarvis(tmp_path / f"jarvis{suffix}")
    t = stability(read_table(path), errors="ignore")
    assert [i for i, p in enumerate(t.problem) if p == "energy is missing"] == JARVIS_MISSING
    assert t.problem[:3].isna().all() and t.stable.tolist()[:3] == [True, True, True]
    assert t.jid.tolist() == JARVIS.jid.tolist()
    with pytest.warns(UserWarning, match=r"(?s)5 of 8 .*energy is missing"):
        DFTCompounds.read(path)
    with pytest.warns(UserWarning, match=r"(?s)5 of 8 rows cannot be used.*row 4 'NaCl': formation_energy_peratom is "
                                          r"missing.*row 8 'Na': formation_energy_peratom is missing"):
        x, y = table_arrays(read_table(path), errors="skip")
    assert y.tolist() == [0.0, 0.0, np.float32(-2.1)]
    assert main(["-q", "stability", str(path), "--out", str(tmp_path / "o")]) == 0
    assert "bad row 4, JVASP-4 ('NaCl'): energy is missing" in capsys.readouterr().out


def test_training_rows_name_a_written_out_missing_energy_missing():
    """A table handed to training as a DataFrame keeps its cells as text: ``na`` is still named
    missing there, and a cell that is not a number still says so."""
    df = pd.DataFrame({"formula": ["NaCl", "Fe2O3", "LiF"], "formation_energy_per_atom": ["-2.0", " NA ", "abc"]})
    with pytest.raises(ValueError) as info:
        table_arrays(df)
    assert "'Fe2O3': formation_energy_per_atom is missing" in str(info.value)
    assert "'LiF': formation_energy_per_atom is 'abc', not a finite number" in str(info.value)


def test_a_csv_as_excel_writes_it_is_read_whole(tmp_path, capsys):
    """Excel where the comma is the decimal mark writes semicolons between the values (with a BOM,
    Windows line ends, `na` and spaces): it was refused as "one column"; now read as written."""
    from hullpack.cli import main

    rows = ["formula;formation_energy_per_atom;band gap (eV) ", "Fe ;0;na", "O2;0;", "Fe2 O3;-1,70; 2,1",
            "Fe3O4;-1,65;0", "FeO;na;0,5", "Li0.5CoO2;-1,45;1", ";;"]
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode() + b"\r\n")
    t = read_table(path)
    assert list(t.columns) == ["formula", "formation_energy_per_atom", "band gap (eV) "]
    assert t.formation_energy_per_atom.tolist()[2:4] == [-1.70, -1.65] and np.isnan(t.formation_energy_per_atom[4])
    assert t["band gap (eV) "].tolist()[2:6] == [2.1, 0.0, 0.5, 1.0]
    table = stability(t, errors="ignore")
    assert table.formula.tolist()[:6] == ["Fe", "O2", "Fe2O3", "Fe3O4", "FeO", "Li(CoO2)2"]
    assert table.problem.tolist()[4:] == ["energy is missing", None]
    assert table.stable.tolist()[:4] == [True, True, True, True]
    assert main(["-q", "stability", str(path), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "bad row 5 ('FeO'): energy is missing" in out and "formula is missing" not in out


def test_empty_rows_at_the_end_of_a_csv_are_no_rows_and_the_others_keep_their_numbers(tmp_path, capsys):
    """Excel writes ';;' for rows once used and cleared: a clean export of three compounds read as "5
    compositions (2 bad rows)", each empty row "formula is missing". Those at the end are no rows; an
    empty row between rows stays one (the rows below keep their numbers)."""
    from hullpack.cli import main

    rows = ["formula;formation_energy_per_atom;note", "Fe2O3;-1,70;hematite", "FeO;-1,40;", "Fe3O4;-1,62;", ";;", ";;"]
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(rows).encode() + b"\r\n")
    assert read_table(path).formula.tolist() == ["Fe2O3", "FeO", "Fe3O4"]
    assert main(["-q", "stability", str(path), "--out", str(tmp_path / "o")]) == 0
    assert capsys.readouterr().out.startswith(f"hullpack stability: 3 compositions from {path}\n")
    path.write_text("formula,formation_energy_per_atom\nFe2O3,-1.7\n,\nXx2O,-1\n,\n,\n")
    t = stability(read_table(path), errors="ignore")
    assert t.problem.tolist() == [None, "formula is missing", "unknown element 'Xx'"]
    path.write_text("formula,formation_energy_per_atom\n,\n,\n")
    with pytest.raises(ValueError, match="no rows under the header"):
        read_table(path)


def test_a_blank_line_between_rows_is_an_empty_row_so_bad_rows_keep_the_files_numbers(tmp_path, capsys):
    """pandas skipped a blank line between rows, so every bad row below it was named one row above
    where an editor or a spreadsheet shows it ('bad row 3' for the 4th row under the header). A blank
    line there (or one of spaces) is an empty row, as ',,' is; blank lines at the end are no rows, nor
    those above the header."""
    from hullpack.cli import main

    path = tmp_path / "blank.csv"
    path.write_text("\nformula,formation_energy_per_atom,note\nFe2O3,-1.7,a\n\nFeO,-1.4,b\n  \nXx2O,-1,c\n\n \n")
    t = read_table(path)
    assert t.formula.tolist()[::2] == ["Fe2O3", "FeO", "Xx2O"]
    assert t.formula.isna().tolist() == [False, True, False, True, False]
    assert read_table(path, text=True).note.fillna("").tolist()[1:] == ["", "b", "", "c"]
    assert main(["-q", "stability", str(path), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "bad row 2 (''): formula is missing" in out and "bad row 5 ('Xx2O'): unknown element 'Xx'" in out
    tsv = tmp_path / "blank.tsv"
    tsv.write_text("formula\tenergy\nFe2O3\t-1.7\n\nXx2O\t-1\n\n")
    assert stability(read_table(tsv), errors="ignore").problem.tolist() == [None, "formula is missing",
                                                                           "unknown element 'Xx'"]


def test_a_json_tables_missing_values_come_back_as_written_with_text(tmp_path, capsys):
    """hullpack predict --file prints a table's other columns as the file wrote them (read_table's
    text=True): a CSV's 'na' stays 'na', a JSON file's (JARVIS's missing marker) came back empty."""
    rows = [{"jid": "JVASP-1", "formula": "Na", "optb88vdw_bandgap": "na"},
            {"jid": "JVASP-2", "formula": "NaCl", "optb88vdw_bandgap": 5.01}]
    (tmp_path / "j.json").write_text(json.dumps(rows))
    pd.DataFrame(rows).to_csv(tmp_path / "j.csv", index=False)
    assert read_table(tmp_path / "j.csv", text=True).optb88vdw_bandgap.tolist() == ["na", "5.01"]
    assert read_table(tmp_path / "j.json").optb88vdw_bandgap.isna().tolist() == [True, False]  # as numbers
    assert read_table(tmp_path / "j.json", text=True).optb88vdw_bandgap.tolist()[0] == "na"


def test_a_decimal_comma_in_a_csv_of_commas_is_named_with_its_fix():
    t = stability(pd.DataFrame({"formula": ["FeO", "Fe2O3"], "energy": ["-1,3", "-1.7"]}), errors="ignore")
    assert t.problem[0] == "energy '-1,3' is not a number (a decimal comma? write -1.3)"
    assert t.problem[1] is None and t.stable[1]


def test_a_repeated_header_is_read_once_or_refused_where_it_matters(tmp_path):
    """pandas names a repeated header `name.1`: the first of two energy columns was read silently,
    whichever was meant. Copies with the same values are one column; different ones are refused
    where they are the composition or energy column, and stay apart elsewhere."""
    path = tmp_path / "t.csv"
    path.write_text("formula,energy,note,energy,note\nFeO,-1.3,a,-1.3,b\nFe2O3,-1.7,c,-1.7,d\n")
    assert list(read_table(path).columns) == ["formula", "energy", "note", "note.1"]
    path.write_text("formula,energy,energy\nFeO,-1.3,-1.2\n")
    with pytest.raises(ValueError, match=r"t.csv: columns 2 and 3 are both named 'energy', with different values: "
                                         "rename all but the one to read"):
        read_table(path)
    path.write_text("Formula,x,Formula,Formula\nFeO,1,FeO,Fe2O3\n")
    with pytest.raises(ValueError, match="columns 1, 3 and 4 are all named 'Formula'"):
        read_table(path)


def test_formation_energies_against_a_reference_of_total_energies_are_refused():
    """Candidates' formation energies against a user's total energies lay every candidate some
    eV/atom above the hull: refused, as the reverse is, rather than computed."""
    from hullpack.stability import Reference, model_protocol

    totals = [sum(MU[e] * n for e, n in a.items()) / sum(a.values()) + f for a, f in zip(AMOUNTS, FORMATION)]
    total = Reference(FORMULAS, totals)
    with pytest.raises(HullInputError, match=r"candidates: median energy 4\.64 eV/atom above their elements' "
                                             r"entries in the reference: these look like formation energies, but "
                                             r"the reference's are total energies \(elements below 0 eV/atom"):
        total.evaluate(["Fe2O3", "LiFeO2", "Fe5O7"], [-1.72, -1.6, -1.65])
    # their total energies are compared: Fe2O3 0.02 eV/atom below the reference's
    t = total.evaluate(["Fe2O3"], [0.4 * MU["Fe"] + 0.6 * MU["O"] - 1.72])
    assert t.stable[0] and t.e_above_hull[0] == 0 and t.decomposition_energy[0] < -0.02
    # the model protocol: a model's formation energies against DFT total energies
    with pytest.raises(HullInputError, match=r"the model's energies lie a median \d\.\d\d eV/atom from the DFT"):
        model_protocol(FORMULAS, totals, predicted=FORMATION)
    assert model_protocol(FORMULAS, FORMATION, predicted=FORMATION).metrics.loc["all", "f1"] == 1.0


def test_materials_project_and_aflow_exports_agree_with_pymatgen(tmp_path):
    """An export as a chemist downloads it (polymorphs, elements at 0 or missing, AFLOW's `Ag1Al1`
    compounds) gives pymatgen's energies above hull and decomposition energies."""
    pmg = pytest.importorskip("pymatgen.analysis.phase_diagram")
    from pymatgen.core import Composition

    path = tmp_path / "mp.csv"
    docs = mp_docs().drop(columns="composition")
    docs.loc[docs.formula_pretty == "Li", "formation_energy_per_atom"] = np.nan  # an element left empty
    docs.to_csv(path, index=False)
    aflow = pd.DataFrame({"compound": ["Ag1Al1", "Ag2Al1", "Ag3Al1", "Al4O6", "Ag2O1", "Ag1"],
                          "enthalpy_formation_atom": [-0.05, -0.08, -0.04, -3.4, -0.1, 0.0]})
    for table, column, energy in ((read_table(path), "formula_pretty", "formation_energy_per_atom"),
                                  (aflow, "compound", "enthalpy_formation_atom")):
        t = stability(table, errors="ignore")
        ok = t.problem.isna().to_numpy()
        entries = [pmg.PDEntry(Composition(f), e * Composition(f).num_atoms)
                   for f, e in zip(table[column][ok], table[energy][ok])]
        entries += [pmg.PDEntry(Composition(el), 0.0) for el in ("Li", "O", "Al")]  # the implicit references
        diagram = pmg.PhaseDiagram(entries)
        assert t.e_above_hull[ok].to_numpy() == pytest.approx(
            [diagram.get_e_above_hull(e) for e in entries[:ok.sum()]], abs=1e-9)
        assert t.decomposition_energy[ok].to_numpy() == pytest.approx(
            [diagram.get_decomp_and_phase_separation_energy(e)[1] for e in entries[:ok.sum()]], abs=1e-6)
    assert t.formula.tolist() == ["AlAg", "AlAg2", "AlAg3", "Al2O3", "Ag2O", "Ag"]


def test_a_jarvis_export_with_lists_and_na_in_one_column_is_written_to_parquet(tmp_path, capsys):
    """JARVIS-DFT's dft_3d holds columns of lists with `na` among them (elastic_tensor): the default
    Parquet output failed on them after the results were computed; they are written as text."""
    pytest.importorskip("pyarrow")
    from hullpack.cli import main

    records = json.loads(write_jarvis(tmp_path / "j.json").read_text())
    for i, r in enumerate(records):
        r["elastic_tensor"] = [[1.0, 2.0], [2.0, 1.0]] if i == 2 else "na"
        r["atoms"] = {"elements": [r["formula"]], "coords": [[0.0, 0.0, 0.0]]}
    (tmp_path / "j.json").write_text(json.dumps(records))
    assert main(["-q", "stability", str(tmp_path / "j.json"), "--out", str(tmp_path / "o")]) == 0
    assert ("stability.parquet: column 'elastic_tensor' written as text (lists and mappings as JSON): Parquet cannot "
            "hold it as it is") in capsys.readouterr().out
    t = pd.read_parquet(tmp_path / "o" / "stability.parquet")
    assert t.elastic_tensor.tolist()[1:4] == ["na", "[[1.0, 2.0], [2.0, 1.0]]", "na"]
    assert t.jid.tolist() == JARVIS.jid.tolist() and t.stable.tolist()[:3] == [True, True, True]
    assert list(t.atoms[0]["elements"]) == ["Na"]  # mappings of one kind stay as they are


def test_csv_files_in_excels_windows_encodings_are_read(tmp_path):
    """Excel's CSV on Windows is Windows-1252 text (`g/cm³`: one byte 0xb3, no UTF-8), its "Unicode
    text" UTF-16: both were refused as "not UTF-8 text"; the formulas and energies are ASCII."""
    frame = pd.DataFrame({"formula": ["Fe2O3", "FeO"], "energy": [-1.7, -1.4], "Dichte (g/cm³)": [5.2, 5.9]})
    for name, encoding, sep in (("w.csv", "cp1252", ","), ("u.tsv", "utf-16", "\t"), ("s.csv", "cp1252", ";")):
        frame.to_csv(tmp_path / name, index=False, encoding=encoding, sep=sep, decimal="," if sep == ";" else ".")
        pd.testing.assert_frame_equal(read_table(tmp_path / name), frame)
    (tmp_path / "b.csv").write_bytes(b"formula,energy\nFe2O3,-1.7\n\x81\x00,3\n")
    with pytest.raises(ValueError, match="b.csv: not text in UTF-8 nor Windows-1252"):
        read_table(tmp_path / "b.csv")


def test_a_named_column_is_found_with_blanks_around_its_header():
    """A spreadsheet keeps the blanks typed after a header ('dH '): --energy-column dH said the
    column was not there, listing it."""
    df = pd.DataFrame({"Reduced Formula ": ["Fe2O3", "FeO"], "dH ": [-1.7, -1.4]})
    assert find_column(df.columns, "dH", ENERGY_COLUMNS, "energy") == "dH "
    t = stability(df, "dH", column="Reduced Formula")
    assert t.energy.tolist() == [-1.7, -1.4] and "dH " not in t.columns and t.stable.tolist() == [True, False]
    with pytest.raises(ValueError, match=r"energy column 'dh' is not among the table's columns"):
        find_column(df.columns, "dh", ENERGY_COLUMNS, "energy")  # a name as written, but for the blanks


def test_the_summary_counts_one_chemical_space_as_one(tmp_path, capsys):
    from hullpack.cli import main

    pd.DataFrame({"formula": ["Fe2O3", "FeO"], "energy": [-1.7, -1.4]}).to_csv(tmp_path / "ref.csv", index=False)
    pd.DataFrame({"formula": ["Fe3O4"], "energy": [-1.65]}).to_csv(tmp_path / "c.csv", index=False)
    assert main(["-q", "stability", str(tmp_path / "c.csv"), "--reference", str(tmp_path / "ref.csv"),
                 "--out", str(tmp_path / "o")]) == 0
    assert "ref.csv: 2 compounds in 1 chemical space (each composition alone)" in capsys.readouterr().out


def test_materials_project_documents_saved_with_monty_are_read_and_written(tmp_path, capsys):
    """mp_api's documents saved with monty (dumpfn, MontyEncoder): each composition carries monty's
    '@module' and '@class', which made every row bad ("amount of @module is ..."), and a structure's
    empty 'properties' made the Parquet output fail after the results were computed."""
    pytest.importorskip("pyarrow")
    from hullpack.cli import main

    structure = {"@module": "pymatgen.core.structure", "@class": "Structure", "properties": {},
                 "sites": [{"species": [{"element": "Fe", "occu": 1}], "abc": [0.0, 0.0, 0.0], "properties": {}}]}
    docs = [{"material_id": f"mp-{i}", "formula_pretty": f, "formation_energy_per_atom": e, "structure": structure,
             "composition": {**a, "@module": "pymatgen.core.composition", "@class": "Composition"}}
            for i, (f, e, a) in enumerate(zip(FORMULAS, FORMATION, AMOUNTS))]
    (tmp_path / "docs.json").write_text(json.dumps({"data": docs}))
    assert composition_cell(docs[2]["composition"]) == {"Fe": 4.0, "O": 6.0}
    assert main(["-q", "stability", str(tmp_path / "docs.json"), "--out", str(tmp_path / "o")]) == 0
    assert "column 'structure' written as text" in capsys.readouterr().out
    t = pd.read_parquet(tmp_path / "o" / "stability.parquet")
    assert t.problem.isna().all() and t.formula.tolist() == FORMULAS
    assert t.input[2] == "{'Fe': 4.0, 'O': 6.0}" and json.loads(t.structure[0])["@class"] == "Structure"


def test_materials_project_documents_with_fields_not_asked_for_are_read(tmp_path, capsys):
    """mp_api's summary documents hold every field, None where it was not asked for: the empty
    'composition' was read before 'formula_pretty' and every row was 'formula is missing' (named
    'row 0', 'row 1', ... beside 'bad row 1'). A column with no value is passed over for the next
    name with values; a missing cell is shown as ''."""
    from hullpack.cli import main

    fields = ("composition", "formula_pretty", "material_id", "energy_per_atom", "formation_energy_per_atom",
              "energy_above_hull")
    docs = [dict(dict.fromkeys(fields), formula_pretty=f, material_id=f"mp-{i}", formation_energy_per_atom=e,
                 fields_not_requested=["composition", "energy_per_atom"])
            for i, (f, e) in enumerate(zip(FORMULAS + ["LiFeO2"], FORMATION + [None]))]
    docs[0]["formula_pretty"] = None  # and one document without its formula
    (tmp_path / "mp.json").write_text(json.dumps(docs))
    table = read_table(tmp_path / "mp.json")
    assert find_column(table, None, COMPOSITION_COLUMNS, "formula") == "formula_pretty"
    assert find_column(table.columns, None, COMPOSITION_COLUMNS, "formula") == "composition"  # names only
    assert find_column(table, None, ENERGY_COLUMNS, "energy") == "formation_energy_per_atom"
    t = stability(table, errors="ignore")
    assert t.problem.tolist() == ["formula is missing"] + [None] * (len(FORMULAS) - 1) + ["energy is missing"]
    assert t.formula.tolist()[1:-1] == FORMULAS[1:] and t.input[0] == ""
    assert main(["-q", "stability", str(tmp_path / "mp.json"), "--out", str(tmp_path / "o"), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "bad row 1, mp-0 (''): formula is missing" in out and f"bad row {len(docs)}, mp-{len(docs) - 1} ('LiFeO2'): energy is missing" in out
    # a table whose only composition column is empty still names every row
    empty = pd.DataFrame({"composition": [None, None], "energy": [-1.0, -2.0]})
    assert stability(empty, errors="ignore").problem.tolist() == ["formula is missing"] * 2


def test_alexandria_entries_are_read_with_their_formation_energies(tmp_path):
    """Alexandria ships ComputedStructureEntry dicts as {"entries": [...]} in .json.bz2 files: the
    file was refused (no such suffix; then 'expected a JSON list of records'). Its entries' data
    (mat_id, e_form, e_above_hull, ...) become columns, so e_form is read before the total
    energy_per_atom; the results are pymatgen's for the entries' own energies."""
    import bz2

    pmg = pytest.importorskip("pymatgen.analysis.phase_diagram")
    from pymatgen.core import Lattice, Structure
    from pymatgen.entries.computed_entries import ComputedStructureEntry

    entries = []
    for i, (amounts, e_form) in enumerate(zip(AMOUNTS, FORMATION)):
        species = [el for el, n in amounts.items() for _ in range(int(n))]
        structure = Structure(Lattice.cubic(3.0 + len(species)), species,
                              [[k / len(species)] * 3 for k in range(len(species))])
        total = sum(MU[el] * n for el, n in amounts.items()) + e_form * sum(amounts.values())
        entries.append(ComputedStructureEntry(structure, total, entry_id=f"agm{i:09d}",
                                              data={"mat_id": f"agm{i:09d}", "e_form": e_form, "e_above_hull": 0.5,
                                                    "energy_total": total, "spg": 225, "elements": list(amounts)}))
    path = tmp_path / "alexandria_000.json.bz2"
    path.write_bytes(bz2.compress(json.dumps({"@module": "pymatgen.entries.computed_entries",
                                              "entries": [e.as_dict() for e in entries]}).encode()))
    table = read_table(path)
    assert list(table.columns) == ["entry_id", "formula", "energy_per_atom", "mat_id", "e_form", "e_above_hull",
                                   "energy_total", "spg"]
    t = stability(table)
    assert t.energy.tolist() == FORMATION and t.input_e_above_hull.tolist() == [0.5] * len(FORMULAS)
    diagram = pmg.PhaseDiagram(entries)
    assert t.e_above_hull.to_numpy() == pytest.approx([diagram.get_e_above_hull(e) for e in entries], abs=1e-9)
    # without Li's entry the total energies could not be read; the formation energies can
    assert stability(table[table.formula != "Li"]).problem.isna().all()


def test_a_typeset_minus_sign_is_named_with_its_fix(tmp_path):
    """A table copied from a paper holds the typeset minus sign (U+2212), which looks like '-' but is
    no number to Python: the row said only "energy '−1.3' is not a number"."""
    path = tmp_path / "paper.csv"
    path.write_text("formula,energy\nFeO,\u22121.3\nFe2O3,-1.7\nFe3O4,\u22121.60e0\n", encoding="utf-8")
    t = stability(read_table(path), errors="ignore")
    assert t.problem[0] == "energy '\u22121.3' is not a number (a typeset minus sign, U+2212? write -1.3)"
    assert t.problem[2] == "energy '\u22121.60e0' is not a number (a typeset minus sign, U+2212? write -1.60e0)"
    assert t.problem[1] is None and t.stable[1]


def test_gnome_and_oqmd_api_exports_agree_with_pymatgen(tmp_path):
    """GNoME's stable_materials_summary.csv (headers in words, 'Composition' as 'Li2O1') and an OQMD
    REST answer ({"data": [...]} with 'name', 'composition' as 'Fe2 O3', 'delta_e', 'stability' and
    lists) give pymatgen's energies above hull and decomposition energies; their own hull columns
    are kept beside."""
    pmg = pytest.importorskip("pymatgen.analysis.phase_diagram")
    from pymatgen.core import Composition

    gnome = pd.DataFrame({"Composition": ["Li2O1", "Li1Co1O2", "Co3O4", "Co1O1", "Li6Co1O4", "Li2O2"],
                          "MaterialId": ["a1", "a2", "a3", "a4", "a5", "a6"],
                          "Reduced Formula": ["Li2O", "LiCoO2", "Co3O4", "CoO", "Li6CoO4", "LiO"],
                          "Elements": ["['Li', 'O']"] * 6, "Corrected Energy": [-57.2] * 6,
                          "Formation Energy Per Atom": [-2.07, -1.72, -1.35, -1.28, -1.90, -1.66],
                          "Decomposition Energy Per Atom": [-0.1] * 6, "Bandgap": [4.9, 2.1, None, None, 3.2, 3.3]})
    gnome.to_csv(tmp_path / "stable_materials_summary.csv", index=False)
    data = [{"name": n, "entry_id": i, "composition": c, "delta_e": e, "stability": 0.0, "ntypes": 2,
             "unit_cell": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], "sites": ["Fe @ 0 0 0"]}
            for i, (n, c, e) in enumerate([("Fe2O3", "Fe2 O3", -1.71), ("Fe3O4", "Fe3 O4", -1.64),
                                           ("FeO", "Fe1 O1", -1.33), ("Fe", "Fe1", 0.0), ("Fe2O3", "Fe2 O3", -1.60),
                                           ("O2", "O2", 0.0)])]
    (tmp_path / "oqmd.json").write_text(json.dumps({"links": {"next": None}, "data": data, "meta": {},
                                                    "response_message": "OK"}))
    for path, column, energy in ((tmp_path / "stable_materials_summary.csv", "Composition",
                                  "Formation Energy Per Atom"), (tmp_path / "oqmd.json", "composition", "delta_e")):
        table = read_table(path)
        t = stability(table)
        entries = [pmg.PDEntry(Composition(f), e * Composition(f).num_atoms)
                   for f, e in zip(table[column], table[energy])]
        diagram = pmg.PhaseDiagram(entries + [pmg.PDEntry(Composition(el), 0.0) for el in ("Li", "Co", "O", "Fe")])
        assert t.energy.tolist() == table[energy].tolist() and t.problem.isna().all()
        assert t.e_above_hull.to_numpy() == pytest.approx([diagram.get_e_above_hull(e) for e in entries], abs=1e-9)
        assert t.decomposition_energy.to_numpy() == pytest.approx(
            [diagram.get_decomp_and_phase_separation_energy(e)[1] for e in entries], abs=1e-6)
    assert t["input_stability"].tolist() == [0.0] * 6 and t["name"].tolist()[:2] == ["Fe2O3", "Fe3O4"]  # its columns kept


def test_a_formula_written_as_a_missing_value_is_missing(tmp_path):
    """'None', 'N/A', 'null' or 'NA' in a formula column is a missing formula, as an empty cell is:
    they were named as formulas that cannot be parsed ('unknown element 'A''). What reads as a
    formula stays one: 'Na' is sodium, 'NaN' sodium nitride."""
    path = tmp_path / "f.csv"
    path.write_text("formula,energy\nFe2O3,-1.7\nNone,-1\nN/A,-1\nnull,-1\nNA,-1\nNaN,-1\nNa,0\n")
    t = stability(read_table(path), errors="ignore")
    assert t.problem.tolist() == [None] + ["formula is missing"] * 4 + [None, None]
    assert t.input.tolist()[1:5] == ["None", "N/A", "null", "NA"] and t.formula.tolist()[5:] == ["NaN", "Na"]


def test_a_bad_line_of_json_lines_is_named_by_its_line_in_the_file(tmp_path):
    """A record that is no JSON was named 'line 1 column 37', the place within the record, whatever
    its line in the file."""
    path = tmp_path / "t.jsonl"
    path.write_text('{"formula": "Fe2O3", "energy": -1.7}\n\n{"formula": "FeO", "energy": -1.3}\n'
                    '{"formula": "Fe3O4", "energy": -1.6,}\n')
    # json's own words and column differ between Pythons (3.13: "Illegal trailing comma ..., column 36")
    with pytest.raises(ValueError, match=r"t.jsonl: line 4 is not JSON \([^()]+, column 3[67]\): expected JSON lines, "
                                         r"one record per line"):
        read_table(path)


def test_an_empty_table_file_is_named(tmp_path):
    """An empty CSV stopped with pandas' 'No columns to parse from file', naming no file; one with a
    header only gave a run over no rows, as if it were a result."""
    (tmp_path / "zero.csv").write_text("")
    (tmp_path / "head.tsv").write_text("formula\tenergy\n\n")
    with pytest.raises(ValueError, match=r"zero.csv: an empty file: expected a CSV file, a header line then one row"):
        read_table(tmp_path / "zero.csv")
    with pytest.raises(ValueError, match=r"head.tsv: no rows under the header \(formula, energy\)"):
        read_table(tmp_path / "head.tsv")


def optimade_formula(amounts: dict) -> str:
    """OPTIMADE's chemical_formula_reduced: elements in alphabetical order, amounts divided by their
    greatest common divisor, no 1s (NaCl is ClNa)."""
    import math

    n = {el: int(a) for el, a in amounts.items()}
    g = math.gcd(*n.values())
    return "".join(el + (str(k // g) if k // g != 1 else "") for el, k in sorted(n.items()))


def optimade_answer(attributes: list, **answer) -> dict:
    return {"data": [{"id": f"x-{i}", "type": "structures", "attributes": a, "links": {}}
                     for i, a in enumerate(attributes)],
            "meta": {"api_version": "1.1.0", "data_returned": len(attributes), "more_data_available": False},
            "links": {"next": None}, **answer}


# compositions whose OPTIMADE formulas put the elements in another order than pymatgen's (ClNa, FeLiO2)
OPTIMADE_AMOUNTS = AMOUNTS + [{"Na": 1.0}, {"Cl": 2.0}, {"Na": 1.0, "Cl": 1.0}, {"Na": 3.0, "Cl": 1.0},
                              {"Li": 1.0, "Cl": 1.0}, {"Li": 2.0, "Fe": 1.0, "Cl": 4.0}]
OPTIMADE_FORMATION = FORMATION + [0.0, 0.0, -2.10, -0.45, -2.05, -1.60]


def test_an_oqmd_optimade_answer_is_read_by_its_attributes(tmp_path, capsys):
    """An OPTIMADE answer ({"data": [{"id", "type", "attributes"}], "meta", "links"}) was read as
    columns id, type, attributes and links: 'no composition column'. Its attributes are the columns:
    chemical_formula_reduced (alphabetical: ClNa is NaCl) and OQMD's formation energy _oqmd_delta_e,
    not its hull distance _oqmd_stability; the energies above hull are pymatgen's."""
    attributes = [{"chemical_formula_reduced": optimade_formula(a), "chemical_formula_descriptive": optimade_formula(a),
                   "elements": sorted(a), "nelements": len(a), "_oqmd_entry_id": i, "_oqmd_delta_e": e,
                   "_oqmd_stability": 0.25, "_oqmd_band_gap": None}
                  for i, (a, e) in enumerate(zip(OPTIMADE_AMOUNTS, OPTIMADE_FORMATION))]
    path = tmp_path / "oqmd.json"
    path.write_text(json.dumps(optimade_answer(attributes)))
    table = read_table(path)
    assert table.columns.tolist()[:3] == ["id", "chemical_formula_reduced", "chemical_formula_descriptive"]
    t = stability(table)
    assert t.problem.isna().all() and t.energy.tolist() == OPTIMADE_FORMATION
    assert t.input.tolist()[-4:] == ["ClNa", "ClNa3", "ClLi", "Cl4FeLi2"]
    assert t.formula.tolist()[-4:] == ["NaCl", "Na3Cl", "LiCl", "Li2FeCl4"]
    expected = pymatgen_e_above_hull(OPTIMADE_AMOUNTS, OPTIMADE_FORMATION)
    assert np.abs(t.e_above_hull.to_numpy() - expected).max() < 1e-9 and expected.max() > 0.1
    from hullpack.cli import main

    assert main(["-q", "stability", str(path), "--out", str(tmp_path / "o"), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "energies: column '_oqmd_delta_e'" in out and "NaCl" in out and "ClNa" not in out


def test_hull_distances_are_marked_where_no_energy_column_is_found(tmp_path, capsys):
    """Where no energy column is found, the columns of numbers offered for --energy-column mark hull
    distances (OQMD's _oqmd_stability, an e_above_hull), which are no formation energies; the
    command still refuses rather than take ElemNet's energies."""
    from hullpack.cli import main

    attributes = [{"chemical_formula_reduced": optimade_formula(a), "_oqmd_stability": 0.25, "_oqmd_band_gap": 1.5}
                  for a in OPTIMADE_AMOUNTS]
    path = tmp_path / "oqmd.json"
    path.write_text(json.dumps(optimade_answer(attributes)))
    assert main(["-q", "stability", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert ("no energy column hullpack knows, but columns of numbers ['_oqmd_band_gap'] and hull distances "
            "['_oqmd_stability'] (energies above a hull, not formation energies): name the energy column with "
            "--energy-column") in err
    pd.DataFrame({"formula": FORMULAS, "E above hull (eV/atom)": [0.1] * len(FORMULAS)}).to_csv(
        tmp_path / "hull.csv", index=False)
    assert main(["-q", "stability", str(tmp_path / "hull.csv"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert ("no energy column hullpack knows, but hull distances ['E above hull (eV/atom)'] (energies above a "
            "hull, not formation energies)") in err and "columns of numbers" not in err


def test_an_optimade_answer_names_its_energy_fields_when_none_or_several_could_be_read(tmp_path, capsys):
    """Materials Project's OPTIMADE answer holds _mp_stability, a formation energy per functional,
    nested: read as columns joined by dots, and refused until one is named (the hulls of one
    functional's energies). An answer with no formation energy names its fields and --energy-column,
    rather than taking ElemNet's predictions for it."""
    from hullpack.cli import main

    def mp(e, shift):  # the elements at 0 eV/atom in every functional
        return {"energy_above_hull": 0.0, "formation_energy_per_atom": e + shift if e else 0.0}

    attributes = [{"chemical_formula_reduced": optimade_formula(a), "elements": sorted(a),
                   "_mp_stability": {"gga_gga+u": mp(e, 0.0), "r2scan": mp(e, -0.1), "gga_gga+u_r2scan": mp(e, -0.05)}}
                  for a, e in zip(OPTIMADE_AMOUNTS, OPTIMADE_FORMATION)]
    path = tmp_path / "mp.json"
    path.write_text(json.dumps(optimade_answer(attributes)))
    with pytest.raises(ValueError, match=r"3 energy columns could be read: '_mp_stability\.gga_gga\+u\.formation_"
                                         r"energy_per_atom', '_mp_stability\.r2scan\..*name the one to read"):
        stability(read_table(path))
    assert main(["-q", "stability", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "name the one to read with --energy-column" in capsys.readouterr().err
    column = "_mp_stability.r2scan.formation_energy_per_atom"
    t = stability(read_table(path), column)
    energies = [e - 0.1 if e else 0.0 for e in OPTIMADE_FORMATION]
    assert t.energy.tolist() == pytest.approx(energies, abs=1e-12)
    assert np.abs(t.e_above_hull.to_numpy() - pymatgen_e_above_hull(OPTIMADE_AMOUNTS, energies)).max() < 1e-9
    assert main(["-q", "stability", str(path), "--energy-column", column, "--out", str(tmp_path / "o"),
                 "--format", "csv"]) == 0
    assert f"energies: column '{column}'" in capsys.readouterr().out
    # the answer for one entry (structures/ID) holds it alone, not in a list
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"data": optimade_answer(attributes)["data"][2], "meta": {}}))
    assert read_table(one)[column].tolist() == [-1.80]
    # no formation energy: the fields named, and how to name one (not ElemNet's predictions)
    for a in attributes:
        del a["_mp_stability"]
        a["_mp_band_gap"] = 1.5
    path.write_text(json.dumps(optimade_answer(attributes)))
    assert main(["-q", "stability", str(path), "--out", str(tmp_path / "o")]) == 2
    assert ("no energy column hullpack knows, but columns of numbers ['_mp_band_gap']: name the energy column "
            "with --energy-column") in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"energies: none given .*the table's columns: \['id', "
                                         r"'chemical_formula_reduced', 'elements', '_mp_band_gap'\]"):
        stability(read_table(path))


def test_an_alexandria_optimade_answer_reads_its_formation_energy_and_warns_of_a_page_of_more(tmp_path, capsys):
    """Alexandria's OPTIMADE fields: _alexandria_formation_energy_per_atom is read, not the total
    _alexandria_energy (per cell) nor the hull distance. An answer that is one page of more (meta's
    data_returned, links.next) says its hulls miss the other pages' compounds."""
    from hullpack.cli import main

    attributes = [{"chemical_formula_reduced": optimade_formula(a), "nsites": int(sum(a.values())),
                   "_alexandria_energy": -5.0 * sum(a.values()), "_alexandria_hull_distance": 0.0,
                   "_alexandria_formation_energy_per_atom": e}
                  for a, e in zip(OPTIMADE_AMOUNTS, OPTIMADE_FORMATION)]
    path = tmp_path / "alexandria.json"
    path.write_text(json.dumps(optimade_answer(attributes)))
    t = stability(read_table(path))
    assert t.energy.tolist() == OPTIMADE_FORMATION
    assert np.abs(t.e_above_hull.to_numpy() - pymatgen_e_above_hull(OPTIMADE_AMOUNTS, OPTIMADE_FORMATION)).max() < 1e-9
    page = optimade_answer(attributes, links={"next": "https://alexandria.icams.rub.de/pbe/v1/structures?page_offset=9"})
    page["meta"]["data_returned"] = 4000
    path.write_text(json.dumps(page))
    with pytest.warns(UserWarning, match=r"15 of the 4,000 entries of an OPTIMADE answer, one page of it"):
        read_table(path)
    assert main(["-q", "stability", str(path), "--out", str(tmp_path / "o"), "--format", "csv"]) == 0
    assert "note: " in (err := capsys.readouterr().err) and "15 of the 4,000 entries of an OPTIMADE answer" in err
    path.write_text(json.dumps({"data": page["data"], "meta": {"more_data_available": True}}))
    with pytest.warns(UserWarning, match=r": 15 entries of an OPTIMADE answer, one page of it"):
        read_table(path)


def test_saved_entries_are_read_from_their_fields_with_pymatgens_energies(tmp_path, monkeypatch):
    """ComputedEntry and ComputedStructureEntry dicts are read from their saved fields, without
    rebuilding each entry and its structure (0.3-0.6 ms an entry: tens of minutes for Alexandria's
    millions): the energies per atom are pymatgen's to the last bit, with every kind of energy
    adjustment, a legacy correction, and other entries (a PDEntry) rebuilt as before. An entry that
    is none is named."""
    pytest.importorskip("pymatgen")
    from monty.json import MontyEncoder
    from pymatgen.analysis.phase_diagram import PDEntry
    from pymatgen.core import Composition, Lattice, Structure
    from pymatgen.entries.computed_entries import (CompositionEnergyAdjustment, ComputedEntry,
                                                   ComputedStructureEntry, ConstantEnergyAdjustment,
                                                   ManualEnergyAdjustment, TemperatureEnergyAdjustment)

    c = Composition("Fe2O3")
    entries = [ComputedEntry(c, -38.123456789, entry_id="plain", data={"e_form": -1.7, "note": "x"}),
               ComputedEntry(c, -38.1, energy_adjustments=[CompositionEnergyAdjustment(-0.687, 3, name="oxide"),
                                                           ConstantEnergyAdjustment(0.1234567),
                                                           TemperatureEnergyAdjustment(-1e-4, 300, 5)],
                             entry_id="adjusted"),
               ComputedEntry(Composition("Li2O"), -14.3, correction=-0.7, entry_id="legacy"),
               ComputedEntry(Composition({"Li": 0.5, "Fe": 0.5, "O": 1}), -11.1,
                             energy_adjustments=[ManualEnergyAdjustment(0.3)], entry_id="fractional"),
               ComputedStructureEntry(Structure(Lattice.cubic(4.3), ["Fe", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]), -14.9,
                                      energy_adjustments=[CompositionEnergyAdjustment(-0.687, 1)], entry_id="rocksalt",
                                      data={"e_form": -1.25, "spg": 225}),
               PDEntry(Composition("LiFeO2"), -26.0)]
    path = tmp_path / "entries.json"
    path.write_text(json.dumps(entries, cls=MontyEncoder))
    monkeypatch.setattr(Structure, "from_dict", classmethod(lambda *a, **k: pytest.fail("a structure was rebuilt")))
    table = read_table(path)
    assert table.entry_id.tolist()[:5] == ["plain", "adjusted", "legacy", "fractional", "rocksalt"]
    assert table.formula.tolist() == [e.composition.reduced_formula for e in entries]
    assert table.energy_per_atom.tolist() == [e.energy_per_atom for e in entries]  # bit for bit
    assert table.energy_per_atom[1] != table.energy_per_atom[0] and table.energy_per_atom[2] == (-14.3 - 0.7) / 3
    assert table.e_form.tolist()[::4] == [-1.7, -1.25] and table.spg[4] == 225
    broken = json.loads(path.read_text())
    del broken[4]["energy"]
    path.write_text(json.dumps(broken))
    with pytest.raises(ValueError, match=r"entries\.json: entry 4 \(ComputedStructureEntry, 'rocksalt'\) cannot be "
                                         r"read as a pymatgen entry \(KeyError: 'energy'\)"):
        read_table(path)


def test_an_api_error_answer_or_an_empty_answer_says_so(tmp_path):
    """An OPTIMADE (JSON:API) answer saved when the query failed holds {"errors": [...]} and no data:
    it said 'expected a JSON list of records'. It names the API's error; an answer with no entries
    says its query matched none."""
    path = tmp_path / "answer.json"
    path.write_text(json.dumps({"errors": [{"status": "400", "title": "Bad Request",
                                            "detail": "Unrecognized filter field '_oqmd_delta'"}],
                                "meta": {"api_version": "1.1.0"}}))
    with pytest.raises(ValueError, match=r"answer\.json: an API's error answer, no data \(400: Bad Request: "
                                         r"Unrecognized filter field '_oqmd_delta'\): correct the query"):
        read_table(path)
    path.write_text(json.dumps({"data": [], "meta": {"data_returned": 0}, "links": {"next": None}}))
    with pytest.raises(ValueError, match=r"no rows \(an empty JSON list, an API answer with no entries: its query "
                                         r"matched none\)"):
        read_table(path)


def test_json_of_materials_by_their_id_and_pandas_split_json_are_tables(tmp_path, capsys):
    """A JSON object of materials keyed by their id ({"mp-19770": {"formula_pretty": ..., ...}}, pandas'
    orient="index") was read as {column: {row: value}}, its materials' ids taken for columns, and
    refused for want of a composition column; pandas' orient="split" was refused. Both are read,
    the ids kept in a column 'id'."""
    from hullpack.cli import main

    docs = {f"mp-{i}": {"formula_pretty": f, "formation_energy_per_atom": e} for i, (f, e) in
            enumerate(zip(FORMULAS, FORMATION))}
    docs["mp-1"]["formation_energy_per_atom"] = "na"
    (tmp_path / "byid.json").write_text(json.dumps(docs))
    t = read_table(tmp_path / "byid.json")
    assert list(t.columns) == ["id", "formula_pretty", "formation_energy_per_atom"] and t.id[0] == "mp-0"
    assert np.isnan(t.formation_energy_per_atom[1]) and t.formation_energy_per_atom[2] == FORMATION[2]
    assert main(["-q", "stability", str(tmp_path / "byid.json"), "--format", "csv", "--out", str(tmp_path / "o")]) == 0
    out = pd.read_csv(tmp_path / "o" / "stability.csv")
    assert out.id.tolist() == list(docs) and out.problem[1] == "energy is missing"
    assert "bad row 2, mp-1 ('O2'): energy is missing" in capsys.readouterr().out
    with_ids = {k: {"id": k.upper(), **v} for k, v in docs.items()}  # an 'id' field of their own stays
    (tmp_path / "ids.json").write_text(json.dumps(with_ids))
    assert list(read_table(tmp_path / "ids.json").columns[:2]) == ["key", "id"]
    df = pd.DataFrame({"material_id": ["mp-1", "mp-2"], "formula": ["Fe2O3", "FeO"], "delta_e": [-1.7, -1.4]})
    df.to_json(tmp_path / "split.json", orient="split")
    pd.testing.assert_frame_equal(read_table(tmp_path / "split.json"), df)
    df.to_json(tmp_path / "columns.json", orient="columns")  # {column: {row: value}} stays as it was read
    pd.testing.assert_frame_equal(read_table(tmp_path / "columns.json"), df)


def test_an_amount_written_with_a_decimal_comma_is_named_with_its_fix(tmp_path, capsys):
    """In a spreadsheet of a decimal-comma locale a doped compound is typed Li0,5CoO2: the row was
    "cannot parse formula: expected element symbols with optional amounts", no word of the comma."""
    from hullpack.cli import main

    rows = ["formula;formation_energy_per_atom", "LiCoO2;-1,80", "Li0,5CoO2;-1,45", "LiNi0,8Co0,15Al0,05O2;-1,6",
            "Fe2O3,2FeO;-1,6"]
    path = tmp_path / "excel.csv"
    path.write_bytes("\r\n".join(rows).encode() + b"\r\n")
    t = stability(read_table(path), errors="ignore")
    decimal_point = "amounts take a decimal point, not a comma: write "
    assert t.problem.tolist() == [None, decimal_point + "'Li0.5CoO2'", decimal_point + "'LiNi0.8Co0.15Al0.05O2'",
                                  # two formulas, perhaps: both readings named
                                  "several formulas (Fe2O3, FeO) in one: give each its own entry (row); or, if not, "
                                  + decimal_point + "'Fe2O3.2FeO'"]
    assert main(["-q", "stability", str(path), "--out", str(tmp_path / "o")]) == 0
    assert f"bad row 2 ('Li0,5CoO2'): {decimal_point}'Li0.5CoO2'" in capsys.readouterr().out


def test_saved_entries_of_noble_gases_are_read_without_pymatgens_warning(tmp_path, capsys):
    """A file of saved entries holding helium or argon (Materials Project has their compounds)
    printed pymatgen's "note: No Pauling electronegativity for He. Setting to NaN. This has no
    physical meaning" under the summary: a warning of pymatgen's formula ordering, none of the data."""
    pytest.importorskip("pymatgen")
    import warnings

    from monty.json import MontyEncoder
    from pymatgen.analysis.phase_diagram import PDEntry
    from pymatgen.entries.computed_entries import ComputedEntry

    from hullpack.cli import main

    entries = [ComputedEntry("Na", -1.3, entry_id="mp-1"), ComputedEntry("He", -0.02, entry_id="mp-2"),
               ComputedEntry("Na2He", -2.9, entry_id="mp-3"), PDEntry("Ar", -0.06, name="Ar")]
    path = tmp_path / "noble.json"
    path.write_text(json.dumps(entries, cls=MontyEncoder))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_table(path).formula.tolist() == ["Na", "He", "Na2He", "Ar"]
    assert main(["-q", "stability", str(path), "--out", str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    assert "Pauling" not in captured.out + captured.err and "Na2He   He-Na   stable by" in captured.out


def test_spreadsheet_error_values_and_numbers_with_units_are_named(tmp_path, capsys):
    """Excel writes a missing value as #N/A and a failed formula as #DIV/0! or #VALUE!; pandas writes
    <NA>. They were "energy '#N/A' is not a number"; an energy written with its unit (`-1.7 eV/atom`)
    too, with no word of the fix. #N/A and <NA> are missing; the others say what to write."""
    from hullpack.cli import main

    rows = ["formula,formation_energy_per_atom", "Fe,0", "O2,0", "Fe2O3,-1.7 eV/atom", "FeO,#N/A", "Fe3O4,-1.62",
            "Fe4O5,#DIV/0!", "Fe5O7,<NA>", "FeO2,-900 meV/atom", "Fe2O,#N/A"]
    path = tmp_path / "cells.csv"
    path.write_text("\n".join(rows) + "\n")
    t = stability(read_table(path), errors="ignore")
    assert t.problem.tolist()[2:] == [
        "energy '-1.7 eV/atom' is not a number (write the number alone, in eV/atom: -1.7)", "energy is missing", None,
        "energy '#DIV/0!' is not a number (a spreadsheet's error value: its formula failed there)", "energy is missing",
        "energy '-900 meV/atom' is not a number (write the number alone, in eV/atom: -0.9)", "energy is missing"]
    path.write_text("formula,formation_energy_per_atom\nFe2O3,-1.7\n#N/A,-1.2\n")
    assert stability(read_table(path), errors="ignore").problem.tolist() == [None, "formula is missing"]
    assert main(["-q", "stability", str(path), "--out", str(tmp_path / "o")]) == 0
    assert "bad row 2 ('#N/A'): formula is missing" in capsys.readouterr().out
