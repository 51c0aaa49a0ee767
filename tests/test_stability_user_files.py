"""What a chemist's own tables get from hullpack.stability and `hullpack stability`: the column
names of Materials Project, JARVIS, AFLOW and OQMD exports, their ids kept, bad cells named per row,
total energies refused where they would be read as formation energies, polymorphs' decompositions,
and model energies that leave the elements at 0."""
import re

import numpy as np
import pandas as pd
import pytest

from hullpack.errors import HullInputError
from hullpack.stability import Reference, model_protocol, parse_decomposition, stability

FORMULAS = ["Fe", "O2", "Fe2O3", "Fe2O3", "Fe3O4", "FeO"]
FORMATION = [0.0, 0.0, -1.70, -1.664, -1.60, -1.30]


def cli(*argv):
    from hullpack.cli import main

    return main(["-q", "stability", *map(str, argv)])


@pytest.mark.parametrize("formula, energy", [
    ("formula", "formation_energy_per_atom"),      # Materials Project
    ("formula_pretty", "formation_energy_per_atom"),
    ("pretty_formula", "e_form"),
    ("formula", "formation_energy_peratom"),       # JARVIS
    ("compound", "enthalpy_formation_atom"),       # AFLOW
    ("composition", "delta_e"),                    # OQMD
    ("name", "delta_e"),                           # OQMD's own export
])
def test_export_column_names_are_read(formula, energy):
    df = pd.DataFrame({"material_id": [f"id-{i}" for i in range(6)], formula: FORMULAS, energy: FORMATION})
    t = stability(df)
    assert t.energy.tolist() == FORMATION
    assert t.stable.tolist() == [True, True, True, False, False, False]


def test_formation_energies_come_before_a_total_energy_column():
    total = [-8.3, -4.9, -7.0, -6.96, -6.9, -6.6]
    df = pd.DataFrame({"formula": FORMULAS, "energy_per_atom": total, "formation_energy_per_atom": FORMATION})
    assert stability(df).energy.tolist() == FORMATION
    assert stability(df, "energy_per_atom").energy.tolist() == total  # named: read as asked


def test_the_tables_other_columns_and_the_input_follow_the_results():
    df = pd.DataFrame({"material_id": ["mp-1", "mp-2", "mp-3"], "formula": ["Fe2O3", "Xx2O", "FeO"],
                       "energy": [-1.7, -1.0, -1.3], "stable": ["yes", "no", "no"]})
    t = stability(df, errors="ignore")
    assert t.material_id.tolist() == ["mp-1", "mp-2", "mp-3"]
    assert t.input_stable.tolist() == ["yes", "no", "no"]  # named like a result column: prefixed
    assert t.input.tolist() == ["Fe2O3", "Xx2O", "FeO"] and t.formula.tolist()[1] == ""
    assert "energy" not in t.columns[t.columns.get_loc("input") + 1:]  # the energy column is the result's


def test_cells_that_are_not_numbers_make_their_rows_bad_only():
    t = stability(["Fe2O3", "FeO", "Fe3O4", "NiO"], ["-1.7", "abc", -1.6, None], errors="ignore")
    assert t.problem.tolist() == [None, "energy 'abc' is not a number", None, "energy is missing"]
    assert t.stable.tolist()[0] is True and t.e_above_hull.notna().tolist() == [True, False, True, False]
    with pytest.warns(UserWarning, match=r"2 of 4 input rows cannot be used"):
        stability(["Fe2O3", "FeO", "Fe3O4", "NiO"], ["-1.7", "abc", -1.6, None])


def test_total_energies_are_refused_where_an_element_would_be_taken_at_zero():
    with pytest.raises(HullInputError, match="median energy -6.90 eV/atom: these look like total energies"):
        stability(["FeO", "Fe2O3", "NiO"], [-7.0, -6.9, -6.2])
    with pytest.raises(HullInputError, match="candidates: median energy"):
        stability(["FeO", "Fe2O3"], [-7.0, -6.9], reference=Reference(FORMULAS, FORMATION))


# rare-earth fluorides with OQMD's formation energies (eV/atom): a median below -4, as total energies
# have, but none below -4.6, where no formation energy lies
FLUORIDES = {"LaF3": -4.479, "ErF3": -4.442, "HoF3": -4.442, "SmF3": -4.422, "NdF3": -4.392, "PrF3": -4.384,
             "CeF3": -4.372, "TbF3": -4.281, "ScF3": -4.270, "YF3": -4.198, "GdF3": -4.155, "BaEr2F8": -4.393,
             "KY3F10": -4.235, "EuF2": -4.566, "CaF2": -4.219}


def test_formation_energies_of_strongly_bound_compounds_are_not_taken_for_total_energies():
    """A set of rare-earth fluorides was refused as total energies (median -4.37 eV/atom), by
    stability, screen --dft and train --data alike, with no way around."""
    from hullpack.elemnet.data import table_arrays
    from hullpack.screening.dft import DFTCompounds

    formulas, energies = list(FLUORIDES), list(FLUORIDES.values())
    t = stability(formulas, energies)
    assert t.problem.isna().all() and t.stable.all()  # each the only compound of its system
    assert len(DFTCompounds.read(pd.DataFrame({"formula": formulas, "formation_energy_per_atom": energies})).energy) == 15
    _, y = table_arrays(pd.DataFrame({"formula": formulas, "formation_energy_per_atom": energies}))
    assert len(y) == 15
    # the same compounds' total energies (a few eV/atom lower) are still refused
    with pytest.raises(HullInputError, match="these look like total energies"):
        stability(formulas, [e - 2.5 for e in energies])
    # the median said is that of the energies given, as the rule takes it, where one is missing
    from hullpack.stability.inputs import parse, total_energy_signs

    given = parse(["FeO", "Fe2O3", "NiO", "CoO"], [-7.0, -6.9, -6.2, np.nan], require_energies=False)
    assert total_energy_signs(given) == "median energy -6.90 eV/atom"


def test_an_unstable_polymorph_decomposes_into_the_stable_one():
    t = stability(FORMULAS, FORMATION)
    assert t.decomposition[3] == "1.0 Fe2O3"  # 36 meV/atom above the other Fe2O3
    assert t.e_above_hull[3] == pytest.approx(0.036)
    assert t.decomposition_energy[3] == pytest.approx(-0.1707, abs=1e-4)  # pymatgen's, against other compositions
    assert parse_decomposition(t.decomposition[2]) == pytest.approx({"Fe3O4": 0.933333, "O2": 0.066667})
    duplicate = stability(FORMULAS + ["Fe2O3"], FORMATION + [-1.70])
    assert duplicate.stable.tolist()[-1] is False and duplicate.decomposition.tolist()[-1] == "1.0 Fe2O3"
    cand = stability(["Fe2O3"], [-1.68], reference=Reference(FORMULAS, FORMATION))
    assert cand.decomposition[0] == "1.0 Fe2O3" and cand.e_above_hull[0] == pytest.approx(0.02)


class FakeModel:
    """Predicts -1 eV/atom for everything, elements included."""

    def predict(self, x):
        return -np.ones(len(x))


def test_the_model_protocol_leaves_elements_as_references():
    r = model_protocol(FORMULAS, FORMATION, model=FakeModel())
    assert r.table.formula.tolist() == ["Fe2O3", "Fe2O3", "Fe3O4", "FeO"]
    assert 1 not in r.metrics.index and r.metrics.loc["all", "n"] == 4
    # the elements kept their DFT 0: every compound at -1 lies below the Fe-O2 line, the Fe-rich ones
    assert r.table.stable_model.sum() >= 1


def test_cli_reads_export_files_and_names_what_it_cannot(tmp_path, capsys):
    pd.DataFrame({"material_id": range(6), "formula_pretty": FORMULAS, "formation_energy_per_atom": FORMATION,
                  "energy_per_atom": [-8.3, -4.9, -7.0, -6.96, -6.9, -6.6]}).to_csv(tmp_path / "mp.csv", index=False)
    assert cli(tmp_path / "mp.csv", "--out", tmp_path / "o", "--format", "csv") == 0
    out = capsys.readouterr().out
    assert "energies: column 'formation_energy_per_atom'" in out
    # two Fe2O3 entries (rows 3 and 4): each line says which
    assert "stable: 1 of 4 compounds" in out and "\n  Fe2O3   Fe-O    stable by 0.2067" in out
    assert "  Fe2O3   Fe-O    above hull by 0.0360  above another Fe2O3 entry, as low or lower (a polymorph)  [row 4, material_id 3]\n" in out
    assert "above hull by 0.0360  above another Fe2O3 entry, as low or lower (a polymorph)" in out
    table = pd.read_csv(tmp_path / "o" / "stability.csv")
    assert table.material_id.tolist() == list(range(6))
    # numbers under an unknown name are not silently replaced by a model's energies
    pd.DataFrame({"formula": FORMULAS, "dH": FORMATION}).to_csv(tmp_path / "dh.csv", index=False)
    assert cli(tmp_path / "dh.csv", "--out", tmp_path / "x") == 2
    assert "no energy column hullpack knows, but columns of numbers ['dH']" in capsys.readouterr().err
    assert cli(tmp_path / "dh.csv", "--energy-column", "dH", "--out", tmp_path / "x") == 0
    capsys.readouterr()
    # a reference file's energy column
    assert cli(tmp_path / "mp.csv", "--reference", tmp_path / "dh.csv", "--out", tmp_path / "r") == 2
    assert f"--reference {tmp_path / 'dh.csv'}: no energy column" in capsys.readouterr().err
    assert cli(tmp_path / "mp.csv", "--reference", tmp_path / "dh.csv", "--reference-energy-column", "dH",
               "--out", tmp_path / "r") == 0
    capsys.readouterr()
    # other separators and formats
    (tmp_path / "semi.csv").write_text('"formula;energy, eV"\nFeO;-1.3\n')  # semicolons, and a comma in the header
    assert cli(tmp_path / "semi.csv", "--out", tmp_path / "x") == 2
    assert "one column named 'formula;energy, eV': expected values separated by commas" in capsys.readouterr().err
    (tmp_path / "d.json").write_text("[]")
    assert cli(tmp_path / "d.json", "--out", tmp_path / "x") == 2
    assert "d.json: no rows (an empty JSON list)" in capsys.readouterr().err
    (tmp_path / "d.xlsx").write_text("")
    assert cli(tmp_path / "d.xlsx", "--out", tmp_path / "x") == 2
    err = capsys.readouterr().err
    assert "expected a table: .csv, .csv.gz, .csv.bz2, .tsv, .tsv.gz, .tsv.bz2, .parquet, .json" in err
    # a spreadsheet says how to make it a table
    assert err.rstrip().endswith("; save the spreadsheet as CSV (Excel: File > Save As > CSV UTF-8), or read it with "
                                 "pandas.read_excel and pass the DataFrame")
    (tmp_path / "d.txt").write_text("formula,energy\nFeO,-1.3\n")
    assert cli(tmp_path / "d.txt", "--out", tmp_path / "x") == 2
    assert "spreadsheet" not in capsys.readouterr().err


def test_cli_bad_rows_are_numbered_from_one_and_shown_as_written(tmp_path, capsys):
    rows = ["Fe2O3", "FeO"] + [f"Xx{i}O" for i in range(7)]
    pd.DataFrame({"formula": rows, "energy": [-1.7, -1.3] + [-1.0] * 7}).to_csv(tmp_path / "b.csv", index=False)
    assert cli(tmp_path / "b.csv", "--out", tmp_path / "o") == 0
    out = capsys.readouterr().out
    assert "7 bad rows, see the 'problem' column:" in out.splitlines()
    assert "  bad row 3 ('Xx0O'): unknown element 'Xx'" in out
    assert "  ... and 2 more bad rows (the table's 'problem' column names each)" in out


def test_cli_model_energies_keep_elements_at_zero(tmp_path, capsys):
    pd.DataFrame({"formula": ["LiO2", "Li2O", "Li2O2", "O2", "Li"]}).to_csv(tmp_path / "f.csv", index=False)
    assert cli(tmp_path / "f.csv", "--out", tmp_path / "o", "--format", "csv") == 0
    assert "elements at 0 eV/atom, their formation energy by definition" in capsys.readouterr().out
    t = pd.read_csv(tmp_path / "o" / "stability.csv")
    assert t.set_index("formula").energy[["O2", "Li"]].tolist() == [0.0, 0.0]
    from hullpack.elemnet import load_pretrained

    predicted = load_pretrained().predict(["LiO2", "Li2O", "Li2O2"])
    assert t.energy[:3].to_numpy() == pytest.approx(predicted, abs=1e-6)


def test_cli_plot_is_checked_first_and_draws_no_bad_row(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    pd.DataFrame({"formula": FORMULAS, "energy": FORMATION}).to_csv(tmp_path / "f.csv", index=False)
    assert cli(tmp_path / "f.csv", "--plot", "Fe-Xx", "--out", tmp_path / "o") == 2
    assert "unknown: Xx" in capsys.readouterr().err and not (tmp_path / "o").exists()
    assert cli(tmp_path / "f.csv", "--plot", "Cu-Zn", "--out", tmp_path / "o") == 0
    assert "--plot Cu-Zn: space 'Cu-Zn': no entries in it, nothing to draw" in capsys.readouterr().out
    assert not (tmp_path / "o" / "Cu-Zn.png").exists()
    from hullpack.stability.plot import _candidate_points

    candidates = stability(["Fe2O3", "FeO"], [np.nan, -1.0], reference=Reference(FORMULAS, FORMATION), errors="ignore")
    names = _candidate_points(candidates, ["Fe", "O"])[3]
    assert names.tolist() == ["FeO"]
    # a candidate at a reference entry's energy is on the hull (drawn apart), not "unstable"
    ref = Reference(FORMULAS, FORMATION)
    candidates = stability(["Fe2O3", "FeO", "Fe3O4", "Fe"], [-1.70, -1.0, -1.8, 0.0], reference=ref)
    _, _, stable, names, on, known = _candidate_points(candidates, ["Fe", "O"], ref.tol)
    assert names.tolist() == ["Fe2O3", "FeO", "Fe3O4", "Fe"]
    assert stable.tolist() == [False, False, True, False] and on.tolist() == [True, False, False, True]
    assert not known.any()
    # a compound on the reference's hull, a little above it here, is known stable (drawn apart, as the
    # summary counts it), not "unstable"
    slightly_above = stability(["Fe2O3", "FeO2"], [-1.69, -0.5], reference=ref)
    _, _, stable, names, on, known = _candidate_points(slightly_above, ["Fe", "O"], ref.tol)
    assert known.tolist() == [True, False] and not (stable | on).any()
    from hullpack.stability.plot import plot_space

    plot_space(ref, "Fe-O", tmp_path / "c.png", candidates=candidates)
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_cli_output_folder_holds_one_run(tmp_path, capsys):
    """A run replaces the files of the previous stability run in its folder (its manifest lists
    them) and leaves other files alone; a screen's folder is refused, and a stability folder by a
    screen."""
    pytest.importorskip("matplotlib")
    pd.DataFrame({"formula": FORMULAS, "energy": FORMATION}).to_csv(tmp_path / "f.csv", index=False)
    out = tmp_path / "o"
    assert cli(tmp_path / "f.csv", "--out", out, "--plot", "Fe-O") == 0
    (out / "notes.txt").write_text("mine")
    assert sorted(p.name for p in out.iterdir()) == ["Fe-O.png", "manifest.json", "notes.txt", "stability.parquet",
                                                    "summary.txt"]
    assert cli(tmp_path / "f.csv", "--out", out, "--format", "csv") == 0
    assert "wrote 2 files and manifest.json" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "notes.txt", "stability.csv", "summary.txt"]
    from hullpack.cli import main

    assert main(["-q", "screen", "--elements", "Fe O", "--out", str(out)]) == 2
    assert "holds the outputs of a stability run; choose another folder" in capsys.readouterr().err
    assert main(["-q", "screen", "--elements", "Fe O", "--no-dft", "--out", str(tmp_path / "s")]) == 0
    assert cli(tmp_path / "f.csv", "--out", tmp_path / "s") == 2
    assert "holds the outputs of a screen; choose another folder" in capsys.readouterr().err


def test_review_edge_cases(tmp_path, capsys):
    # a compound within a wide tol of the others' hull has no polymorph: it decomposes into them
    t = stability(["Fe2O3", "FeO", "Fe"], [-1.7, -1.4166667 - 5e-6, 0.0], tol=1e-4)
    assert not t.stable[1] and parse_decomposition(t.decomposition[1]).keys() == {"Fe2O3", "Fe"}
    # duplicate column names come out once each
    df = pd.DataFrame([["Fe2O3", -1.7, 1, 2], ["FeO", -1.4, 3, 4]], columns=["formula", "energy", "id", "id"])
    assert list(stability(df).columns[-2:]) == ["id", "id"] and len(stability(df).columns) == 12
    # a formulas-only file saved with its index, and integer ids, still get the model's energies
    pd.DataFrame({"formula": ["Fe2O3", "FeO"], "id": [7, 8]}).to_csv(tmp_path / "F.CSV")
    assert cli(tmp_path / "F.CSV", "--out", tmp_path / "o") == 0
    assert "ElemNet predictions (default, as FILE has no energy column)" in capsys.readouterr().out
    # an earlier release's folder (no manifest) takes the new files beside its own
    old = tmp_path / "old"
    old.mkdir()
    (old / "stability.parquet").write_text("old")
    assert cli(tmp_path / "F.CSV", "--out", old) == 0
    assert (old / "manifest.json").is_file()
    capsys.readouterr()  # the runs' notes (without pyarrow: CSV written for Parquet), even with -q
    (tmp_path / "file").write_text("")
    assert cli(tmp_path / "F.CSV", "--out", tmp_path / "file") == 2
    assert capsys.readouterr().err.startswith(f"hullpack stability: --out '{tmp_path / 'file'}' is a file")


def test_predict_reads_a_table_whatever_the_suffixs_case(tmp_path, capsys):
    from hullpack.cli import main

    pd.DataFrame({"formula": ["Fe2O3", "NaCl"], "id": [1, 2]}).to_csv(tmp_path / "P.CSV", index=False)
    assert main(["-q", "predict", "--file", str(tmp_path / "P.CSV")]) == 0
    assert [line.split(",")[0] for line in capsys.readouterr().out.splitlines()] == ["formula", "Fe2O3", "NaCl"]


def test_training_and_stability_find_a_tables_columns_alike():
    from hullpack.elemnet import table_columns as training_columns
    from hullpack.stability.inputs import table_columns as stability_columns

    df = pd.DataFrame(columns=["material_id", "formula_pretty", "formation_energy_per_atom"])
    assert training_columns(df) == stability_columns(df) == ("formula_pretty", "formation_energy_per_atom")
    named = r"^energy column 'dH' is not among the table's columns \['material_id', 'formula_pretty', 'formation_en"
    for find in (lambda: training_columns(df, energy_column="dH"), lambda: stability_columns(df, "dH")):
        with pytest.raises(ValueError, match=named):
            find()
    wide = pd.DataFrame(columns=[f"c{i}" for i in range(20)])
    with pytest.raises(ValueError, match=r"no composition column .*'c11', \.\.\. \(20 in all\)\]; name it with column="):
        stability_columns(wide)
    with pytest.raises(ValueError, match=r"no formula column .*'c11', \.\.\. \(20 in all\)\]; name it"):
        training_columns(wide)


def test_cli_formulas_on_the_command_line_are_compared_with_oqmd(tmp_path, capsys):
    """hullpack stability Fe3O4 LiFePO4: the chemist's question without a file, each formula
    against the shipped OQMD compounds, with ElemNet's energies or the ones given (FORMULA=ENERGY)."""
    from hullpack.elemnet import load_pretrained

    assert cli("Fe3O4", "LiFePO4", "--out", tmp_path / "a", "--format", "csv") == 0
    out = capsys.readouterr().out
    assert "2 compositions from the command line" in out and "against: the shipped OQMD set" in out
    assert "ElemNet predictions (default, as none were given)" in out and "test MAE is 42 meV/atom" in out
    t = pd.read_csv(tmp_path / "a" / "stability.csv")
    assert t.energy.to_numpy() == pytest.approx(load_pretrained().predict(["Fe3O4", "LiFePO4"]), abs=1e-6)
    # the user's own energies, against OQMD as a file of them would be
    assert cli("Fe3O4=-1.65", "FeO=-1.5", "--out", tmp_path / "b", "--format", "csv") == 0
    typed = pd.read_csv(tmp_path / "b" / "stability.csv")
    assert "energies: formation energies given on the command line" in capsys.readouterr().out
    pd.DataFrame({"formula": ["Fe3O4", "FeO"], "formation_energy_per_atom": [-1.65, -1.5]}).to_csv(
        tmp_path / "f.csv", index=False)
    assert cli(tmp_path / "f.csv", "--reference", "oqmd", "--out", tmp_path / "c", "--format", "csv") == 0
    from_file = pd.read_csv(tmp_path / "c" / "stability.csv")
    pd.testing.assert_frame_equal(typed, from_file)
    # --reference none: against each other, as a file's default
    assert cli("Fe3O4=-1.65", "FeO=-1.5", "Fe=0", "O2=0", "--reference", "none", "--out", tmp_path / "d") == 0
    assert "against: each other" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["Fe3O4=-1.6", "FeO"], "FeO: no energy given, where others have one"),
    (["Fe3O4=abc"], "Fe3O4=abc: the energy is not a number (FORMULA=ENERGY, eV/atom)"),
    (["Fe3O4=-1,65"], "Fe3O4=-1,65: the energy is not a number (a decimal comma? write -1.65)"),
    (["Fe3O4=\u22121.65"], "Fe3O4=\u22121.65: the energy is not a number (a typeset minus sign, U+2212? write -1.65)"),
    (["Fe3O4=\u20131.65"], "Fe3O4=\u20131.65: the energy is not a number (an en dash, U+2013? write -1.65)"),
    (["Fe3O4=nan"], "Fe3O4=nan: the energy is not a finite number (FORMULA=ENERGY, eV/atom"),
    (["Fe3O4=-1.6", "FeO=inf"], "FeO=inf: the energy is not a finite number"),
    (["Fe3O4", "--energy-column", "e"], "--column and --energy-column name columns of a FILE"),
    (["missing.csv"], "missing.csv: no such file"),
    (["."], ".: a folder, not a table file"),  # a folder said "no such file"
    # two files were read as two formulas: "cannot parse formula"
    (["cands.csv", "ref.csv"], "cands.csv and ref.csv: files among 2 arguments: give one FILE (another set to "
                               "compare with goes to --reference FILE), or formulas only"),
    (["Fe2O3", "cands.json"], "cands.json: a file among 2 arguments"),
    # spaces around "=" made the shell split FORMULA=ENERGY: "-1.7: no energy given, where others have one"
    (["Fe2O3=", "-1.7", "FeO=-1.4"], "'Fe2O3=': write each energy as one argument, FORMULA=ENERGY without spaces "
                                     "around '=' (Fe2O3=-1.7)"),
    (["Fe2O3", "=", "-1.7", "FeO=-1.4"], "'=': write each energy as one argument"),
    (["Fe2O3", "=-1.7"], "'=-1.7': write each energy as one argument"),
    # a unit typed with the energy: "the energy is not a number", or a unit alone "no energy given"
    (["Fe2O3=-170meV/atom"], "Fe2O3=-170meV/atom: the energy is not a number (a unit: write eV/atom without one, "
                             "Fe2O3=-0.17)"),
    (["Fe2O3=-1.7eV"], "(a unit: write eV/atom without one, Fe2O3=-1.7)"),
    (["Fe2O3=-824.2kJ/mol"], "(a unit: write eV/atom without one: kJ/mol of formula units divided by 96.485 and by "
                             "the atoms of the formula)"),
    (["Fe2O3=-1.7", "eV"], "'eV': a unit alone; energies are typed in eV/atom, without a unit (Fe2O3=-1.7)"),
    # another separator: "cannot parse formula"
    (["Fe2O3:-1.7", "FeO:-1.4"], "'Fe2O3:-1.7': an energy is given as FORMULA=ENERGY (Fe2O3=-1.7)"),
])
def test_cli_formulas_on_the_command_line_name_what_is_wrong(tmp_path, capsys, argv, message):
    assert cli(*argv, "--out", tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_stability_and_screen_refuse_the_same_total_energies(tmp_path, capsys):
    """Elements well below 0 eV/atom beside an element with no entry (taken at 0): total energies,
    refused alike by stability and by screen's DFT comparison, with the same reason."""
    from hullpack.errors import ScreeningError
    from hullpack.screening.dft import DFTCompounds

    df = pd.DataFrame({"material_id": ["mp-127", "mp-58", "mp-22862", "mp-23193", "mp-x"],
                       "formula_pretty": ["Na", "K", "NaCl", "KCl", "NaKCl2"],
                       "energy_per_atom": [-1.31, -1.10, -3.43, -3.42, -3.30]})  # median above -4
    path = tmp_path / "nakcl.csv"
    df.to_csv(path, index=False)
    reason = r"elements below 0 eV/atom \(K -1.100, Na -1.310\): these look like total energies"
    with pytest.raises(HullInputError, match=reason + ", but no elemental entries give the references of Cl"):
        stability(df)
    with pytest.raises(HullInputError, match=reason):
        Reference(df)
    with pytest.raises(ScreeningError, match=reason):
        DFTCompounds.read(str(path))
    with pytest.raises(HullInputError, match="candidates: " + reason):
        stability(df, reference=Reference(FORMULAS, FORMATION))
    assert cli(path, "--out", tmp_path / "o") == 2  # the command line says which column it read
    assert f"{path}: energies from column 'energy_per_atom': " + reason.replace("\\", "") in capsys.readouterr().err
    # with each element's entry (Cl2 too), total energies are the user's convention, and fine
    full = pd.concat([df, pd.DataFrame({"formula_pretty": ["Cl2"], "energy_per_atom": [-1.85]})], ignore_index=True)
    assert stability(full).problem.isna().all()


def test_a_composition_column_of_mappings_written_as_text():
    """A Materials Project table saved with its compositions as text ({'Fe': 2.0, 'O': 3.0}) beside
    formula_pretty: the 'composition' column is read as the mappings it holds."""
    amounts = [{"Fe": 1.0}, {"O": 2.0}, {"Fe": 4.0, "O": 6.0}, {"Fe": 2.0, "O": 3.0}, {"Fe": 3.0, "O": 4.0},
               {"Fe": 1.0, "O": 1.0}]
    df = pd.DataFrame({"material_id": [f"mp-{i}" for i in range(6)], "formula_pretty": FORMULAS,
                       "composition": [str(a) for a in amounts], "formation_energy_per_atom": FORMATION})
    t = stability(df)
    expected = stability(df.drop(columns="composition"))
    assert t.problem.isna().all() and t.formula.tolist() == ["Fe", "O2", "Fe2O3", "Fe2O3", "Fe3O4", "FeO"]
    for c in ("e_above_hull", "decomposition_energy", "stable", "decomposition"):
        assert t[c].tolist() == expected[c].tolist()
    assert t.input.tolist()[0] == "{'Fe': 1.0}"
    # JSON's quotes too; text that is no mapping is a bad row that says what was expected
    bad = stability(['{"Fe": 2, "O": 3}', "{Fe: 2}", "{}", "FeO"], [-1.7, -1.0, -1.0, -1.3], errors="ignore")
    assert bad.formula.tolist()[0] == "Fe2O3" and bad.problem.notna().tolist() == [False, True, True, False]
    assert "is not a formula, nor an {element: amount} mapping" in bad.problem[1]


def test_a_missing_energy_is_said_missing_however_it_is_written(tmp_path):
    """Empty, or written out as exports write it (JARVIS-DFT: `na`), in any case and with spaces;
    an infinite energy or text that is no number stays a bad energy of its own."""
    path = tmp_path / "e.csv"
    path.write_text("formula,energy\nFeO,nan\nFe2O3,\nFe3O4,-1.6\nNiO,inf\nCoO, na \nCuO,N/A\nZnO,NULL\n")
    from hullpack.stability.inputs import read_table

    t = stability(read_table(path), errors="ignore")
    assert t.problem.tolist() == ["energy is missing", "energy is missing", None, "energy is not finite (inf)"] + [
        "energy is missing"] * 3
    (tmp_path / "f.csv").write_text(path.read_text() + "MnO,abc\n")  # text that is no number among them
    t = stability(read_table(tmp_path / "f.csv"), errors="ignore")
    assert t.problem.tolist()[4:] == ["energy is missing"] * 3 + ["energy 'abc' is not a number"]
    assert t.problem.tolist()[:4] == ["energy is missing", "energy is missing", None, "energy is not finite (inf)"]
    t = stability(["FeO", "Fe2O3", "Fe3O4", "NiO", "CoO", "CuO"], ["na", " None ", "-1.6", "NaN", "null", "n/a"],
                  errors="ignore")
    assert t.problem.tolist() == ["energy is missing"] * 2 + [None] + ["energy is missing"] * 3
    t = stability(["FeO", "Fe2O3", "NiO"], [np.nan, None, np.inf], errors="ignore")
    assert t.problem.tolist() == ["energy is missing", "energy is missing", "energy is not finite (inf)"]
    t = stability(["FeO", "Fe2O3"], pd.Series([None, -1.7], dtype="Float64"), errors="ignore")
    assert t.problem.tolist() == ["energy is missing", None]


def test_a_malformed_csv_is_named_with_its_line(tmp_path, capsys):
    from hullpack.stability.inputs import read_table

    path = tmp_path / "extra.csv"
    path.write_text("formula,energy\n" + "FeO,-1.3\n" * 8 + "Fe2O3,-1.7,3\n")
    with pytest.raises(ValueError, match=rf"{path}: line 10 has 3 fields where the header has 2"):
        read_table(path)
    assert cli(path, "--out", tmp_path / "o") == 2
    assert f"{path}: line 10 has 3 fields" in capsys.readouterr().err


def test_cli_energies_given_on_the_command_line_are_said_so(tmp_path, capsys):
    assert cli("Fe3O4=-1.65", "LiFePO4=-2.60", "--out", tmp_path / "o") == 0
    out = capsys.readouterr().out
    assert "energies: formation energies given on the command line" in out and "column '" not in out


def test_a_jarvis_table_reads_na_as_a_missing_energy_and_na_as_sodium(capsys, tmp_path):
    """JARVIS-DFT's `na` for a missing formation energy was "energy 'na' is not a number"; the
    formula `Na` in the same table is sodium."""
    jarvis = pd.DataFrame({"jid": ["JVASP-25140", "JVASP-25104", "JVASP-23862", "JVASP-9", "JVASP-10"],
                           "formula": ["Na", "Cl2", "NaCl", "Na", "NaCl2"],
                           "formation_energy_peratom": ["0.0", "0.0", "-2.09", "na", "NA"]})
    t = stability(jarvis, errors="ignore")
    assert t.problem.tolist() == [None, None, None, "energy is missing", "energy is missing"]
    assert t.formula.tolist()[:4] == ["Na", "Cl2", "NaCl", "Na"] and t.stable.tolist()[:3] == [True, True, True]
    assert t.jid.tolist() == jarvis.jid.tolist()
    jarvis.to_csv(tmp_path / "j.csv", index=False)
    assert cli(tmp_path / "j.csv", "--out", tmp_path / "o") == 0
    out = capsys.readouterr().out
    assert "bad row 4, JVASP-9 ('Na'): energy is missing" in out and "bad row 5, JVASP-10 ('NaCl2'): energy is missing" in out


def test_charges_and_vacancies_are_named_per_row(tmp_path, capsys):
    """Oxidation states and CALPHAD's vacancy got 'cannot parse formula' or "unknown element 'Va'";
    the other rows are read."""
    formulas = ["Fe", "O2", "Fe2O3", "Fe3+2O3", "O2-", "Fe[2+]", "FeVa", "Fe0.9Va0.1"]
    t = stability(pd.DataFrame({"formula": formulas, "energy": [0, 0, -1.7, -1.7, 0, 0, 0, 0]}), errors="ignore")
    charge, vacancy = "charges (oxidation states) are not read: write the neutral formula", "Va is a vacancy"
    assert t.problem[:3].isna().all() and t.stable.tolist()[:3] == [True, True, True]
    assert [p.startswith(charge) for p in t.problem[3:6]] == [True] * 3
    assert [p.startswith(vacancy) for p in t.problem[6:]] == [True] * 2
    pd.DataFrame({"formula": formulas, "energy": [0, 0, -1.7, -1.7, 0, 0, 0, 0]}).to_csv(tmp_path / "c.csv",
                                                                                        index=False)
    assert cli(tmp_path / "c.csv", "--out", tmp_path / "o") == 0
    out = capsys.readouterr().out
    assert f"bad row 4 ('Fe3+2O3'): {charge}, such as 'Fe2O3' for Fe3+ with O2-" in out
    assert "bad row 7 ('FeVa'): Va is a vacancy (CALPHAD's symbol), not an element: remove it" in out


def test_a_reference_files_bad_rows_are_numbered_as_in_the_file(tmp_path, capsys):
    """--reference FILE's bad rows were listed by pandas' index, from 0 ('[1] Xx2O' for the second row
    under the header), where FILE's own are numbered from 1; they are 'row 2' now, and used, not
    'computed'."""
    (tmp_path / "ref.csv").write_text("formula,energy\nFe2O3,-1.7\nXx2O,-1\nFeO,na\nFe3O4,-1.6\n,-1\n")
    pd.DataFrame({"formula": ["Fe2O3", "FeO"], "energy": [-1.7, -1.4]}).to_csv(tmp_path / "c.csv", index=False)
    assert cli(tmp_path / "c.csv", "--reference", tmp_path / "ref.csv", "--out", tmp_path / "o") == 0
    out, err = capsys.readouterr()
    assert "against: {}: 2 compounds in 1 chemical space (3 bad rows left out) (each composition alone)".format(
        tmp_path / "ref.csv") in out and "(3 bad rows left out)" in (tmp_path / "o" / "summary.txt").read_text()
    assert ("3 of 5 reference rows cannot be used:\n  [row 2] 'Xx2O': unknown element 'Xx'\n  [row 3] 'FeO': energy "
            "is missing\n  [row 5] '': formula is missing\n  (left out; the other rows are used)") in err


def test_a_composition_at_the_energy_of_an_entry_there_is_said_to_be_on_the_hull(tmp_path, capsys):
    """A candidate at the energy of the reference's own entry, or a duplicate in a set, read
    'above hull by 0.0000  above OQMD's own NaCl': it is on the hull, at that entry's energy (against a
    reference: a known stable compound, at the reference's energy)."""
    pd.DataFrame({"formula": ["Fe2O3", "Fe2O3", "FeO"], "energy": [-1.7, -1.7, -1.3]}).to_csv(tmp_path / "d.csv",
                                                                                              index=False)
    pd.DataFrame({"formula": ["NaCl", "Fe2O3"], "energy": [-2.1, -1.69]}).to_csv(tmp_path / "r.csv", index=False)
    assert cli(tmp_path / "d.csv", "--out", tmp_path / "o") == 0
    out = capsys.readouterr().out
    assert "Fe2O3   Fe-O    on the hull, at the energy of another Fe2O3 entry  [row 2]\n" in out and "0.0000" not in out
    assert cli("NaCl=-2.1", "Fe2O3=-1.65", "--reference", tmp_path / "r.csv", "--out", tmp_path / "p") == 0
    out = capsys.readouterr().out
    assert "NaCl    Cl-Na   known stable: on the reference's hull, the given energy is the reference's NaCl\n" in out
    assert "Fe2O3   Fe-O    known stable: on the reference's hull, the given energy 0.0400 above the reference's Fe2O3" in out
    assert "0.0000" not in out


def test_a_file_of_elements_only_says_so(tmp_path, capsys):
    """A file of elements only printed no line about them: the summary said nothing after 'against'."""
    pd.DataFrame({"formula": ["Fe", "O2", "Fe"], "energy": [0.0, 0.0, 0.1]}).to_csv(tmp_path / "e.csv", index=False)
    assert cli(tmp_path / "e.csv", "--out", tmp_path / "o") == 0
    assert ("no compounds, only elements (the hulls' ends): the table gives each against its element's lowest entry"
            in capsys.readouterr().out)


def test_an_argument_that_looks_like_two_formulas_says_how_it_was_read(tmp_path, capsys):
    """hullpack stability "Fe2O3 NaCl" read the argument silently as one compound (spaces join a
    formula's parts), as predict did: a note says so, and how to give several; "Fe2 O3" and
    "Li Fe P O4", whose words are an element each, are read without one. Two energies in one
    argument are refused, naming it."""
    pytest.importorskip("pyarrow")  # reads the Parquet tables it writes
    assert cli("Fe2O3 NaCl=-1.2", "Fe2 O3=-1.7", "Li Fe P O4=-2.5", "--out", tmp_path / "o") == 0
    out, err = capsys.readouterr()
    assert err.count("note:") == 1
    assert ("hullpack stability: note: formula 1 'Fe2O3 NaCl' is read as one compound, Fe2O3NaCl, as the spaces "
            "within a formula join its parts ('Fe2 O3' is Fe2O3); if it is several formulas ('Fe2O3' and 'NaCl'), give "
            "each as an argument of its own, without quotes around them") in " ".join(err.split())
    t = pd.read_parquet(tmp_path / "o" / "stability.parquet")
    assert t.formula.tolist() == ["NaFe2ClO3", "Fe2O3", "LiFePO4"]  # read as before: one compound each
    assert cli("Fe2O3=-1.7 NaCl=-2.1", "--out", tmp_path / "p") == 2
    out, err = capsys.readouterr()
    assert out == "" and ("'Fe2O3=-1.7 NaCl=-2.1' has 2 energies in one argument: give each FORMULA=ENERGY as an "
                          "argument of its own") in " ".join(err.split())
    assert cli("Fe2O3", "Fe2 O3", "--out", tmp_path / "q") == 0
    assert "note:" not in capsys.readouterr().err


def test_cli_lists_a_compound_as_the_chemist_wrote_it_where_its_name_differs(tmp_path, capsys):
    """LiNi0.5Mn1.5O4 was listed only as Li2Mn3NiO8, a hydrate only as CuH10SO9: a chemist did not
    find their own input. The reduced formula still names the compound; what was written follows it
    where it has other amounts, brackets or a hydrate dot, not where it only orders the elements
    otherwise (NiFe2O4 is Fe2NiO4)."""
    pytest.importorskip("pyarrow")  # reads the Parquet table it writes
    pytest.importorskip("pymatgen")  # brackets (Ca(OH)2) are read by pymatgen
    typed = {"LiNi0.5Mn1.5O4": -1.9, "Fe2O2": -1.4, "Ca(OH)2": -2.0, "CuSO4\u00b75H2O": -1.2, "NiFe2O4": -1.5,
             "Fe2O3": -1.7}
    assert cli(*(f"{f}={e}" for f, e in typed.items()), "--reference", "none", "--out", tmp_path / "o") == 0
    listed = {x.split()[0]: x for x in capsys.readouterr().out.splitlines() if x.startswith("  ")}
    assert listed["Li2Mn3NiO8"].startswith("  Li2Mn3NiO8 (LiNi0.5Mn1.5O4) Li-Mn-Ni-O ")
    assert listed["FeO"].startswith("  FeO (Fe2O2) ")
    assert listed["Ca(HO)2"].startswith("  Ca(HO)2 (Ca(OH)2) ")
    assert listed["CuH10SO9"].startswith("  CuH10SO9 (CuSO4\u00b75H2O) ")
    assert listed["Fe2NiO4"].split()[1] == "Fe-Ni-O" and listed["Fe2O3"].split()[1] == "Fe-O"
    # summary.txt is UTF-8 whatever the locale (a hydrate dot, subscripts copied from a paper)
    assert "CuH10SO9 (CuSO4\u00b75H2O)" in (tmp_path / "o" / "summary.txt").read_text(encoding="utf-8")
    # the table keeps pymatgen's reduced formula as the name, and the input as written
    t = pd.read_parquet(tmp_path / "o" / "stability.parquet")
    assert t.formula.tolist() == ["Li2Mn3NiO8", "FeO", "Ca(HO)2", "CuH10SO9", "Fe2NiO4", "Fe2O3"]
    assert t.input.tolist() == list(typed)


def test_cli_typed_total_energies_against_oqmd_say_how_to_build_their_own_hull(tmp_path, capsys):
    """A chemist's own total energies typed against the shipped OQMD set (formation energies) were
    refused as "candidates" with no word of the way that works: their own hull, each element's
    total energy typed too, with --reference none."""
    pytest.importorskip("pyarrow")  # reads the Parquet tables it writes
    typed = ["Fe2O3=-6.85", "FeO=-6.9", "Fe=-8.47", "O2=-4.95"]
    assert cli(*typed, "--out", tmp_path / "x") == 2
    err = capsys.readouterr().err.strip()
    assert err == ("hullpack stability: the energies given: elements below 0 eV/atom (Fe -8.470, O -4.950): these "
                   "look like total energies, but the reference's are formation energies (elements at 0 eV/atom); "
                   "give their formation energies; or, with each element's total energy given too (Fe=-8.47), "
                   "compare the formulas with each other: --reference none")
    # meV/atom typed: named as the energies given too
    assert cli("Fe2O3=-1700", "FeO=-1400", "--out", tmp_path / "x") == 2
    err = capsys.readouterr().err
    assert err.startswith("hullpack stability: the energies given: median energy -1550 eV/atom: another unit "
                          "(meV/atom, kJ/mol)?") and "--reference none" not in err
    assert cli(*typed, "--reference", "none", "--out", tmp_path / "o") == 0
    t = pd.read_parquet(tmp_path / "o" / "stability.parquet").set_index("formula")
    # pymatgen's PhaseDiagram: FeO 0.22 eV/atom above 5/6 Fe2O3 + 1/6 Fe
    assert t.e_above_hull["FeO"] == pytest.approx(0.22, abs=1e-9) and t.stable["Fe2O3"]


def test_one_formula_takes_one_energy_and_a_mapping_of_formulas_is_named():
    """The daily question in Python, stability("Fe2O3", -1.7, ...), was refused ("expected 1 values,
    got shape ()"); a dict of formulas to energies, as typed on the command line, was read as one
    composition of unknown elements and refused as "energies: none given"."""
    one = stability("Fe2O3", -1.7, reference=Reference(["Fe3O4", "FeO"], [-1.6, -1.3]))
    assert one.formula.tolist() == ["Fe2O3"] and one.energy.tolist() == [-1.7] and one.stable[0]
    assert stability({"Fe": 2, "O": 3}, -1.7).formula.tolist() == ["Fe2O3"]  # a mapping is one composition
    with pytest.raises(ValueError, match=r"compositions: a mapping is one composition, \{element: amount\}, and "
                                         r"'Fe2O3' is a formula, no element; .*stability\(list\(d\), list\(d.values"):
        stability({"Fe2O3": -1.7, "FeO": -1.4})
    with pytest.warns(UserWarning, match="unknown element 'Xx'"):  # a bad element stays a bad row
        assert stability({"Xx": 1, "O": 2}, 0.0).problem.tolist() == ["unknown element 'Xx'"]


def test_cli_says_which_row_each_polymorph_is(tmp_path, capsys):
    """A Materials Project export holds several entries of one composition: the summary listed three
    lines "Fe2O3", which the reader could not tell apart. Each now says its row."""
    pd.DataFrame({"material_id": ["mp-19770", "mp-24972", "mp-715572", "mp-19306", "mp-13", "mp-12957"],
                  "formula_pretty": ["Fe2O3", "Fe2O3", "Fe2O3", "Fe3O4", "Fe", "O2"],
                  "formation_energy_per_atom": [-1.66, -1.70, -1.60, -1.62, 0, 0]}).to_csv(tmp_path / "mp.csv",
                                                                                         index=False)
    assert cli(tmp_path / "mp.csv", "--out", tmp_path / "o") == 0
    listed = [x for x in capsys.readouterr().out.splitlines() if x.startswith("  Fe")]
    assert [x.rsplit("  ", 1)[1] for x in listed if x.startswith("  Fe2O3")] == ["[row 2, mp-24972]", "[row 1, mp-19770]",
                                                                                  "[row 3, mp-715572]"]
    assert listed[0].startswith("  Fe2O3   Fe-O    stable by ")
    assert [x for x in listed if x.startswith("  Fe3O4")][0].endswith("Fe")  # given once: no row
    # typed: counted as typed, after what was written
    assert cli("Fe2O3=-1.7", "Fe4O6=-1.6", "Fe=0", "O2=0", "--reference", "none", "--out", tmp_path / "t") == 0
    out = capsys.readouterr().out.splitlines()
    assert [x for x in out if x.startswith("  Fe2O3 (Fe4O6) Fe-O ")][0].endswith("(a polymorph)  [formula 2]")
    assert [x for x in out if x.startswith("  Fe2O3         Fe-O ")][0].endswith("Fe  [formula 1]")


def test_cli_names_typed_energies_of_another_convention_than_the_references_as_typed(tmp_path, capsys):
    """Formation energies typed against a reference file of total energies were refused as
    "candidates: ...; give the candidates' total energies": the user typed formulas, no candidates."""
    pd.DataFrame({"formula": ["Li", "Fe", "O2", "Li2O", "Fe2O3"],
                  "energy_per_atom": [-1.909, -8.47, -4.95, -4.80, -6.85]}).to_csv(tmp_path / "ref.csv", index=False)
    assert cli("LiFeO2=-1.9", "Li5FeO4=-1.8", "--reference", tmp_path / "ref.csv", "--out", tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert err.startswith("hullpack stability: the energies given: median energy ") and "candidates" not in err
    assert "these look like formation energies, but the reference's are total energies" in err
    assert "give their total energies in the reference's convention" in err and "--reference none" not in err


def test_cli_says_how_many_compounds_its_listing_leaves_out(tmp_path, capsys):
    """The summary lists ten compounds: a chemist who typed twelve saw ten lines and no word of the
    other two."""
    typed = [f"{f}={e}" for f, e in zip(["Fe2O3", "Fe3O4", "FeO", "FeO2", "NiO", "Ni2O3", "Fe2NiO4", "FeNi3", "Ni3O4",
                                          "Fe5O7", "FeNi", "Fe4O5"],
                                         [-1.7, -1.62, -1.4, -0.9, -1.2, -0.8, -1.55, -0.1, -1.0, -1.5, -0.05, -1.45])]
    assert cli(*typed, "Fe=0", "Ni=0", "O2=0", "--reference", "none", "--out", tmp_path / "o") == 0
    out = capsys.readouterr().out.splitlines()
    listed = out[out.index(next(x for x in out if x.startswith("most stable"))) + 1:-1]
    assert len(listed) == 11 and listed[-1] == "  ... and 2 more compounds (the table lists each)"
    assert cli(*typed[:10], "Fe=0", "Ni=0", "O2=0", "--reference", "none", "--out", tmp_path / "p") == 0
    assert "more compound" not in capsys.readouterr().out  # ten: all listed


def test_cli_a_compound_on_the_hull_but_no_vertex_is_said_to_be_on_it(tmp_path, capsys):
    """A compound exactly on a tie-line (pymatgen: e_above_hull 0, not stable), or a vertex by less
    than --tol, read "above hull by 0.0000  decomposes to ...": it is on the hull, not above it."""
    pytest.importorskip("pyarrow")  # reads the Parquet tables it writes
    on_line = -(2 * 1.5 + 5 * 1.7) / 7  # Fe3O4 on the FeO-Fe2O3 tie-line
    assert cli("Fe2O3=-1.7", "FeO=-1.5", f"Fe3O4={on_line!r}", "Fe=0", "O2=0", "--reference", "none",
               "--out", tmp_path / "o") == 0
    out = capsys.readouterr().out
    assert "  Fe3O4   Fe-O    on the hull, not stable: as low as 0.714286 Fe2O3 + 0.285714 FeO, not below\n" in out
    assert "0.0000" not in out
    t = pd.read_parquet(tmp_path / "o" / "stability.parquet").set_index("formula")
    assert t.e_above_hull["Fe3O4"] == pytest.approx(0, abs=1e-12) and not t.stable["Fe3O4"]
    # stable by 0.95 meV/atom, less than --tol 0.01
    assert cli("Fe2O3=-1.7", "FeO=-1.4", "Fe3O4=-1.62", "Fe=0", "O2=0", "--reference", "none", "--tol", "0.01",
               "--out", tmp_path / "p") == 0
    assert ("  Fe3O4   Fe-O    on the hull, not stable: 0.0010 below 0.952381 Fe2O3 + 0.047619 Fe, less than --tol\n"
            in capsys.readouterr().out)
    # a vertex by less than 0.05 meV/atom (above the tie-line's -1.6428571 by 1.4e-6 eV/atom) read "stable by 0.0000"
    assert cli("Fe2O3=-1.7", "FeO=-1.5", "Fe3O4=-1.64286", "Fe=0", "O2=0", "--reference", "none", "--out",
               tmp_path / "q") == 0
    assert ("  Fe3O4   Fe-O    stable by less than 0.0001 (2.9e-06)  vs 0.714286 Fe2O3 + 0.285714 FeO\n"
            in capsys.readouterr().out)
    for bad in ("-1", "nan", "inf", "abc"):  # were read, and reported as a problem of the energies given
        with pytest.raises(SystemExit, match="2"):  # argparse's usage error
            cli("Fe2O3=-1.7", "--tol", bad, "--out", tmp_path / "x")
        assert f"argument --tol: expected eV/atom >= 0, such as 0.001, got '{bad}'" in capsys.readouterr().err


def test_energies_in_mev_are_refused_though_most_rows_are_elements_at_zero(tmp_path, capsys):
    """The unit check took the median of every energy, the elements' zeros among them: an export of
    three elements and two compounds in meV/atom had a median of 0 and was read as eV/atom, Fe2O3
    "stable by 1700 eV/atom". Elements at 0 are 0 in any unit: the median is the compounds'."""
    formulas, mev = ["Li", "Fe", "O2", "Fe2O3", "LiFeO2"], [0, 0, 0, -1700, -1900]
    with pytest.raises(HullInputError, match=r"median energy -1800 eV/atom: another unit \(meV/atom, kJ/mol\)\?"):
        stability(formulas, mev)
    path = tmp_path / "mev.csv"
    pd.DataFrame({"formula": formulas, "formation_energy_per_atom": mev}).to_csv(path, index=False)
    assert cli(path, "--out", tmp_path / "o") == 2
    assert "median energy -1800 eV/atom: another unit" in capsys.readouterr().err
    # in eV/atom the same set is read; elements alone (no compound) still take their own median
    assert stability(formulas, np.array(mev) / 1000).stable.all()
    assert stability(["Fe", "Fe", "O2"], [0, 0.05, 0]).energy.tolist() == [0, 0.05, 0]


def test_a_series_of_formulas_and_a_pymatgen_phase_diagram_are_read():
    """stability(df.formula, df.energy) was refused ("energies: expected 1 values, got shape (2,)"):
    a Series was read as one {element: amount} mapping. A pymatgen PhaseDiagram, as a set or as the
    reference, was a TypeError ("'PhaseDiagram' object is not iterable")."""
    pytest.importorskip("pymatgen")
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram

    df = pd.DataFrame({"formula": FORMULAS, "energy": FORMATION}, index=[f"id-{i}" for i in range(6)])
    t = stability(df.formula, df.energy)
    assert t.index.tolist() == df.index.tolist() and t.formula.tolist() == ["Fe", "O2"] + FORMULAS[2:]
    assert t.stable.tolist() == stability(FORMULAS, FORMATION).stable.tolist()
    assert Reference(df.formula, df.energy.to_numpy()).evaluate(pd.Series(["Fe5O7"]), [-1.5]).e_above_hull[0] > 0
    entries = [PDEntry("Fe", -8.3), PDEntry("O2", -9.86), PDEntry("Fe2O3", -38.0), PDEntry("FeO", -14.2)]
    diagram = PhaseDiagram(entries)
    own = stability(diagram)
    assert own.formula.tolist() == [e.composition.reduced_formula for e in diagram.all_entries]  # its order
    assert own.e_above_hull.tolist() == pytest.approx([diagram.get_e_above_hull(e) for e in diagram.all_entries], abs=1e-9)
    new = PDEntry("Fe3O4", -7.4 * 7)
    t = stability([new], reference=diagram)
    assert t.e_above_hull[0] == pytest.approx(diagram.get_e_above_hull(new), abs=1e-9)
    assert t.decomposition_energy[0] == pytest.approx(diagram.get_decomp_and_phase_separation_energy(new)[1], abs=1e-9)
    # a reference without energies is named as the reference's, not taken for the candidates'
    with pytest.raises(ValueError, match="^reference: energies: none given"):
        stability(["Fe3O4"], [-1.6], reference=["Fe", "O2"])


def test_cli_elements_typed_are_answered_in_the_summary(tmp_path, capsys):
    """Elements typed beside compounds (`O2=-0.1`, `Fe=0.2`) were computed but never named in the
    summary: a chemist who asked about them read nothing. Each one away from its element's
    reference gets a line: against the reference's lowest entry of the element, or 0 eV/atom where
    the reference has none (the shipped OQMD set). One at its reference (`Fe=0`) is the hull's end,
    as expected: no line."""
    pytest.importorskip("pyarrow")  # reads the Parquet tables it writes
    pd.DataFrame({"formula": FORMULAS, "formation_energy_per_atom": FORMATION}).to_csv(tmp_path / "r.csv", index=False)
    assert cli("Fe5O7=-1.6", "Fe=0", "Fe=-0.01", "O2=0.1", "--reference", tmp_path / "r.csv",
               "--out", tmp_path / "o") == 0
    out = capsys.readouterr().out
    assert "  Fe      Fe      element: stable by 0.0100  below the reference's lowest Fe entry  [formula 3]\n" in out
    assert "  O2      O       element: above hull by 0.1000  above the reference's lowest O entry  [formula 4]\n" in out
    assert "[formula 2]" not in out
    t = pd.read_parquet(tmp_path / "o" / "stability.parquet")
    assert t.stable.tolist() == [False, False, True, False] and t.e_above_hull[3] == pytest.approx(0.1)
    assert cli("Fe2O3=-1.7", "Fe=0.2", "Fe=0", "O2=0", "--reference", "none", "--out", tmp_path / "p") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2] == "  Fe      Fe      element: above hull by 0.2000  above the lowest Fe entry  [formula 2]"
    assert out[-3].startswith("  Fe2O3 ")
    # against a reference of compounds only, an element's reference is 0 eV/atom
    pd.DataFrame({"formula": ["Fe2O3", "FeO"], "formation_energy_per_atom": [-1.7, -1.3]}).to_csv(
        tmp_path / "c.csv", index=False)
    assert cli("Fe=0", "O2=0.2", "--reference", tmp_path / "c.csv", "--out", tmp_path / "q") == 0
    out = capsys.readouterr().out
    assert "element: above hull by 0.2000  above 0 eV/atom (the reference has no entry of O alone)  [formula 2]" in out
    assert "[formula 1]" not in out


def test_a_column_of_hull_distances_named_as_the_energies_is_refused(tmp_path, capsys):
    """--energy-column energy_above_hull (or energies="e_above_hull") built hulls from the distances
    above Materials Project's hull: every compound read unstable or stable by nothing, without a word."""
    df = pd.DataFrame({"material_id": [f"mp-{i}" for i in range(6)], "formula_pretty": FORMULAS,
                       "formation_energy_per_atom": FORMATION, "energy_above_hull": [0, 0, 0, 0.036, 0.04, 0.1]})
    with pytest.raises(ValueError, match=r"^energy column 'energy_above_hull' holds hull distances \(energies above a "
                                         r"hull\), not the energies a hull is built from: name a formation energy "
                                         r"column \('formation_energy_per_atom'\) instead, or a total energy column where the "
                                         r"table has each element's entry too$"):
        stability(df, "energy_above_hull")
    df.to_csv(tmp_path / "mp.csv", index=False)
    assert cli(tmp_path / "mp.csv", "--energy-column", "energy_above_hull", "--out", tmp_path / "o") == 2
    assert "holds hull distances" in capsys.readouterr().err
    assert cli("Fe5O7=-1.6", "--reference", tmp_path / "mp.csv", "--reference-energy-column", "energy_above_hull",
               "--out", tmp_path / "o") == 2
    assert capsys.readouterr().err.startswith(f"hullpack stability: --reference {tmp_path / 'mp.csv'}: energy column "
                                              "'energy_above_hull' holds hull distances")
    assert stability(df).stable.tolist() == [True, True, True, False, False, False]  # its formation energies


def test_a_plot_says_which_corner_no_entry_holds(tmp_path):
    """--plot Li-Fe-O against a set without lithium drew Li's corner as an end of the hull, facets
    running to it, with nothing to say that no entry holds Li: its title says so now."""
    pytest.importorskip("matplotlib")
    from hullpack.stability.plot import plot_space

    ref = Reference(FORMULAS, FORMATION)
    fig = plot_space(ref, "Li-Fe-O", tmp_path / "a.png")
    assert fig.axes[0].get_title() == "Fe-Li-O: convex hull (3 stable of 6 entries)\nno entry holds Li: drawn at 0 eV/atom"
    assert plot_space(ref, "Fe-O").axes[0].get_title() == "Fe-O: convex hull (3 stable of 6 entries)"


def test_total_energies_per_cell_are_refused(tmp_path, capsys):
    """Total energies per cell, as VASP gives them (Fe4O6: -76 eV), read as eV/atom beside the
    elements' entries gave hulls of nonsense (FeO 77 eV/atom above it) without a word: their
    formation energies against the elemental entries lie far outside any formation energy's range.
    All-electron total energies (thousands of eV/atom) are read: their formation energies are sound."""
    with pytest.raises(HullInputError, match=r"^energies: median formation energy -66.76 eV/atom against the elemental "
                                             r"entries: energies per cell or per formula unit, or in another unit"):
        stability(["Fe", "O2", "Fe4O6", "Fe2O2", "Fe6O8"], [-8.3, -9.86, -76.0, -14.2, -103.0])
    mu = {"Fe": -34600.0, "O": -2040.0}  # all-electron, eV/atom
    t = stability(["Fe", "O2", "Fe2O3", "FeO"], [mu["Fe"], mu["O"], 0.4 * mu["Fe"] + 0.6 * mu["O"] - 1.7,
                                                 0.5 * mu["Fe"] + 0.5 * mu["O"] - 1.4])
    assert t.stable.tolist() == [True, True, True, False] and t.e_above_hull[3] == pytest.approx(0.0167, abs=1e-3)
    pd.DataFrame({"formula": ["Fe", "O2", "Fe4O6", "Fe2O2"], "energy": [-8.3, -9.86, -76.0, -14.2]}).to_csv(
        tmp_path / "cells.csv", index=False)
    assert cli(tmp_path / "cells.csv", "--out", tmp_path / "o") == 2
    assert "energies per cell or per formula unit" in capsys.readouterr().err


def test_an_energies_series_is_read_by_its_labels_never_by_position():
    """stability(["Fe2O3", "FeO"], pd.Series([-1.4, -1.7], index=["FeO", "Fe2O3"])) gave Fe2O3 -1.4
    and FeO -1.7: the Series was read by position (and a dict {formula: energy} was refused as
    'got shape ()'). Labelled compositions pair with its labels, in any order; unlabelled ones (a
    list) take only the default index 0..n-1; anything else is refused, naming the label."""
    by_formula = pd.Series([-1.4, -1.7], index=["FeO", "Fe2O3"])
    for labelled in (by_formula, by_formula.to_dict()):  # a dict {formula: energy} too
        with pytest.raises(ValueError, match=r"labelled \['FeO', 'Fe2O3'\] .* for compositions without labels .* "
                                             r"\(energies.to_numpy\(\), list\(d.values\(\)\)\)"):
            stability(["Fe2O3", "FeO"], labelled)
    with pytest.raises(ValueError, match="labelled"):  # a filtered table's column: its ids are no positions
        stability(["Fe2O3", "FeO"], pd.Series([-1.7, -1.4], index=[3, 5]))
    assert stability(["Fe2O3", "FeO"], pd.Series([-1.7, -1.4])).energy.tolist() == [-1.7, -1.4]
    df = pd.DataFrame({"formula": ["Fe", "O2", "Fe2O3", "FeO"]}, index=["mp-13", "mp-12957", "mp-19770", "mp-715"])
    energies = pd.Series([-1.4, -1.7, 0.0, 0.0], index=["mp-715", "mp-19770", "mp-13", "mp-12957"])
    for compositions in (df, df.formula):
        for given in (energies, energies.to_dict()):
            t = stability(compositions, given)
            assert t.index.tolist() == df.index.tolist() and t.energy.tolist() == [0.0, 0.0, -1.7, -1.4]
    assert Reference(df.formula, energies).evaluate(["FeO"], [-1.4]).e_above_hull[0] == pytest.approx(1 / 60)
    for other, named in [(energies.rename({"mp-715": "mp-1"}), "its label 'mp-1' is no composition's"),
                         (energies.iloc[:3], "the composition labelled 'mp-12957' has none"),
                         (pd.concat([energies, energies.iloc[:1]]), "the label 'mp-715' repeats"),
                         (energies.reset_index(drop=True), "its label 0 is no composition's")]:
        with pytest.raises(ValueError, match=re.escape(named)):
            stability(df.formula, other)


def test_model_protocols_predictions_in_a_series_are_paired_by_label():
    """model_protocol(..., predicted=pd.Series(...)) read the Series by position, as stability's
    energies were: predictions labelled by formula were given to the wrong compounds."""
    formulas, dft = ["Fe2O3", "Fe3O4", "FeO", "Fe", "O2"], [-1.70, -1.62, -1.40, 0.0, 0.0]
    df = pd.DataFrame({"formula": formulas, "energy": dft}, index=["a", "b", "c", "d", "e"])
    by_position = model_protocol(df, predicted=[-1.50, -1.66, -1.45], subset=[0, 1, 2])
    shuffled = pd.Series({"c": -1.45, "a": -1.50, "b": -1.66})  # the subset's labels, in another order
    for predicted in (shuffled, shuffled.to_dict()):
        t = model_protocol(df, predicted=predicted, subset=[0, 1, 2]).table
        assert t.energy_model.tolist() == by_position.table.energy_model.tolist() == [-1.50, -1.66, -1.45]
    everyone = pd.Series([0.0, -1.45, -1.66, 0.0, -1.50], index=["e", "c", "b", "d", "a"])  # one per row
    assert model_protocol(df, predicted=everyone, subset=[0, 1, 2]).table.energy_model.tolist() == [-1.50, -1.66, -1.45]
    # a default index is no label: read by position, as before
    t = model_protocol(formulas, dft, predicted=pd.Series([-1.50, -1.66, -1.45]), subset=[0, 1, 2]).table
    assert t.energy_model.tolist() == [-1.50, -1.66, -1.45]
    with pytest.raises(ValueError, match=r"predicted: labelled \['FeO', 'Fe2O3', 'Fe3O4'\] .* for compositions "
                                         r"without labels .*predicted.to_numpy\(\)"):
        model_protocol(formulas, dft, predicted=pd.Series([-1.45, -1.50, -1.66], index=["FeO", "Fe2O3", "Fe3O4"]),
                       subset=[0, 1, 2])
    with pytest.raises(ValueError, match="predicted: labelled otherwise than the compositions \\(its label 'x' is no "
                                         "composition's\\)"):
        model_protocol(df, predicted={"c": -1.45, "a": -1.50, "x": -1.66}, subset=[0, 1, 2])
