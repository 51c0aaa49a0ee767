"""Candidates against a reference: what the reference holds at each candidate's composition
(in_reference, reference_energy, reference_e_above_hull) and the summary line that says it; a
candidate element at the hull's end is stable."""
import numpy as np
import pandas as pd
import pytest
from hullpack.stability import REFERENCE_COLUMNS, RESULT_COLUMNS, Reference, stability


def cli(*argv):
    from hullpack.cli import main

    return main(["-q", "stability", *map(str, argv)])


@pytest.fixture(scope="module")
def oqmd():
    return Reference.oqmd()


def test_the_reference_entry_at_a_candidates_composition(oqmd):
    t = oqmd.evaluate(["NaMnO2", "LiFePO4", "Na2Mn2O4", "LiFeNiO9", "Xx2O"], [-1.5, -2.6, -1.5, -1.0, -1.0],
                      errors="ignore")
    assert list(t.columns) == list(RESULT_COLUMNS) + list(REFERENCE_COLUMNS)
    own = oqmd.stability()
    for i, formula in enumerate(["NaMnO2", "LiFePO4"]):
        there = own[own.formula == formula]
        lowest = there.loc[there.energy.idxmin()]
        assert t.in_reference[i] and t.reference_energy[i] == lowest.energy
        assert t.reference_e_above_hull[i] == lowest.e_above_hull == 0.0  # both on OQMD's hull
        # the candidate's own numbers are those of a comparison with that entry
        assert t.e_above_hull[i] == pytest.approx(max(0.0, t.energy[i] - lowest.energy), abs=1e-9)
    assert t.reference_energy[2] == t.reference_energy[0]  # Na2Mn2O4 is NaMnO2
    assert t.in_reference.tolist()[3:] == [False, False]
    assert np.isnan(t.reference_energy[3:]).all() and np.isnan(t.reference_e_above_hull[3:]).all()
    # a set's own stability has no reference, so no such columns; stability(reference=...) has them
    assert "in_reference" not in stability(["Fe2O3"], [-1.7]).columns
    assert stability(["NaMnO2"], [-1.5], reference=oqmd).in_reference.tolist() == [True]


def test_an_entry_above_the_references_hull():
    ref = Reference(["Fe2O3", "Fe3O4", "FeO", "FeO"], [-1.7, -1.65, -1.3, -1.35])
    t = ref.evaluate(["FeO", "Fe2O2", "Fe3O4", "FeO2"], [-1.2, -1.4, -1.6, -0.5])
    # FeO: its lowest entry (-1.35) lies 0.09375 above 7/8 Fe3O4 + 1/8 Fe (-1.44375)
    assert t.reference_energy.tolist()[:3] == [-1.35, -1.35, -1.65]
    assert t.reference_e_above_hull.round(9).tolist()[:3] == [0.09375, 0.09375, 0.0]
    assert t.in_reference.tolist() == [True, True, True, False]
    # joined, the columns still describe the reference alone
    j = ref.evaluate(["FeO"], [-1.4], join=True)
    assert j.reference_energy.tolist() == [-1.35] and j.reference_e_above_hull.round(9).tolist() == [0.09375]


def test_a_candidate_element_at_the_hulls_end_is_stable():
    # no elemental entries in the reference: each element's end of the hull is 0 eV/atom
    ref = Reference(["FeO", "Fe2O3"], [-1.5, -1.7])
    t = ref.evaluate(["Fe", "O2", "Fe", "Fe"], [0.0, 0.0, -0.1, 0.1])
    assert t.e_above_hull.tolist() == [0.0, 0.0, 0.0, 0.1]
    assert t.stable.tolist() == [True, True, True, False]
    own = stability(["FeO", "Fe2O3", "Fe", "O2"], [-1.5, -1.7, 0.0, 0.0])  # as in the set's own stability
    assert own.stable.tolist()[2:] == [True, True]
    # an elemental entry in the reference at the same energy is that entry: the candidate is on the
    # hull (e_above_hull 0) but not a new stable entry, as a duplicate is not in a set's own stability
    ref = Reference(["Fe", "O2", "FeO"], [0.0, 0.0, -1.5])
    t = ref.evaluate(["Fe", "FeO", "Fe"], [0.0, -1.5, -0.05])
    assert t.e_above_hull.tolist() == [0.0, 0.0, 0.0] and t.stable.tolist() == [False, False, True]
    assert t.in_reference.tolist() == [True, True, True] and t.reference_e_above_hull.tolist() == [0.0, 0.0, 0.0]


def test_cli_says_what_oqmd_holds(tmp_path, capsys):
    pytest.importorskip("pyarrow")  # reads the Parquet tables it writes
    assert cli("NaMnO2=-1.95", "LiFePO4=-2.6", "LiFeNiO9=-1.0", "--out", tmp_path / "o") == 0
    out = capsys.readouterr().out
    assert "already in OQMD: 2 of 3 (2 on its hull)" in out
    # NaMnO2 is on OQMD's hull: a known stable compound, its energy here above OQMD's, not a new unstable one
    assert ("stable: 2 of 3 compounds (66.7%; elements not counted) by the given energies; 1 more known stable, on "
            "OQMD's hull, the given energy at most 72.4 meV/atom above OQMD's there;") in out
    assert "  NaMnO2   Mn-Na-O    known stable: on OQMD's hull, the given energy 0.0724 above OQMD's NaMnO2\n" in out
    assert "stable by number of elements: 3: 0/1 (+1 known), 4: 2/2\n" in out
    assert ("LiFePO4  Fe-Li-O-P  stable by 0.1947  vs 0.619048 Fe3(PO4)2 + 0.380952 Li3PO4; OQMD: on its hull, the "
            "given energy 0.1901 below OQMD's\n") in out
    assert "its own composition" not in out and "above hull by" not in out
    line = next(x for x in out.splitlines() if x.strip().startswith("LiFeNiO9"))
    assert "OQMD" not in line
    t = pd.read_parquet(tmp_path / "o" / "stability.parquet")
    assert t.in_reference.tolist() == [True, True, False]


def test_a_reference_says_what_it_holds(oqmd):
    assert repr(oqmd) == f"<Reference: {len(oqmd):,} compounds in {oqmd.n_spaces:,} chemical spaces>"
    assert repr(Reference(["FeO", "Xx"], [-1.3, 0.0], errors="ignore")) == (
        "<Reference: 1 compound in 1 chemical space (1 bad row left out)>")


def test_cli_counts_have_thousands_separators_and_the_csv_no_index(tmp_path, capsys):
    rng = np.random.default_rng(1)
    a, b = np.meshgrid(np.arange(1, 41), np.arange(1, 41))
    df = pd.DataFrame({"formula": [f"Fe{i}O{j}" for i, j in zip(a.ravel(), b.ravel())],
                       "energy": rng.uniform(-2, -0.5, a.size)})
    path = tmp_path / "many.csv"
    df.to_csv(path, index=False)
    assert cli(path, "--format", "csv", "--out", tmp_path / "o") == 0
    out = capsys.readouterr().out
    assert "1,600 compositions from" in out and " of 1,600 compounds (" in out
    t = pd.read_csv(tmp_path / "o" / "stability.csv")
    assert list(t.columns[:2]) == ["formula", "chemsys"] and len(t) == 1600
    assert t.energy.tolist() == pytest.approx(df.energy.tolist())


def test_a_reference_is_checked_once_and_candidates_against_it_once():
    """A reference's energies are checked when it is built; evaluating candidates, alone or joined
    with it, checks the candidates' convention against it and no longer checks the reference again
    (a joined evaluation repeated the reference's mixed-convention warning at every call)."""
    import warnings

    from hullpack.errors import HullInputError

    with pytest.warns(UserWarning, match="elemental entries are given for Fe but not for O"):
        ref = Reference(["Fe", "Fe2O3", "FeO"], [0.3, -1.7, -1.3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for join in (False, True):
            t = ref.evaluate(["Fe3O4"], [-1.65], join=join)
            assert t.problem[0] is None and t.e_above_hull[0] >= 0
    with pytest.raises(HullInputError, match="candidates: elements below 0 eV/atom"):
        ref.evaluate(["Fe", "Fe3O4"], [-8.2, -7.1], join=True)


def test_a_bad_candidate_row_still_says_what_the_reference_holds_at_its_composition():
    """A candidate left out for its energy (missing, not a number) has a composition: the
    reference's entry there was reported as absent (in_reference False, NaN) though it holds one."""
    ref = Reference(["Fe2O3", "FeO", "NaCl"], [-1.7, -1.3, -2.1])
    t = ref.evaluate(pd.DataFrame({"formula": ["Fe2O3", "Fe4O6", "Fe3+", "NiO", "FeO"],
                                   "energy": ["", "abc", "-1", "-1.2", "-1.2"]}), errors="ignore")
    assert t.problem.tolist()[:2] == ["energy is missing", "energy 'abc' is not a number"]
    assert t.in_reference.tolist() == [True, True, False, False, True]
    assert t.reference_energy.tolist()[:2] == [-1.7, -1.7] and t.reference_e_above_hull.tolist()[:2] == [0.0, 0.0]
    assert np.isnan(t.e_above_hull[:4]).all() and t.e_above_hull[4] == pytest.approx(-1.2 + 1.7 / 1.2)


def test_cli_counts_a_known_stable_compound_apart_from_the_models_error(tmp_path, capsys):
    """ElemNet's NaCl lies 8 meV/atom above OQMD's NaCl, which is on OQMD's hull: the summary said
    "stable: 2 of 5" and "NaCl above hull by 0.0082", which a chemist reads as NaCl unstable. A
    compound on the reference's hull is counted as known stable, its line giving DFT's verdict and
    how far the energy given lies from DFT's; one the reference has above its hull says so beside
    its decomposition."""
    pytest.importorskip("pyarrow")  # reads the Parquet tables it writes
    assert cli("NaCl=-2.0424", "FeO2=-1.0", "Fe2O3=-1.70", "--out", tmp_path / "o") == 0
    out = capsys.readouterr().out
    assert out.startswith((tmp_path / "o" / "summary.txt").read_text())  # summary.txt says the same
    assert ("stable: 1 of 3 compounds (33.3%; elements not counted) by the given energies; 1 more known stable, on "
            "OQMD's hull, the given energy at most 8.2 meV/atom above OQMD's there;") in out
    lines = out.splitlines()
    top = lines.index(next(x for x in lines if x.startswith("most stable")))
    assert [x.split()[0] for x in lines[top + 1:top + 4]] == ["Fe2O3", "NaCl", "FeO2"]  # known stable before unstable
    assert lines[top + 2] == "  NaCl    Cl-Na   known stable: on OQMD's hull, the given energy 0.0082 above OQMD's NaCl"
    assert lines[top + 3].endswith("; OQMD: 0.0972 above its hull, the given energy 0.2776 above OQMD's")
    assert lines[top + 3].startswith("  FeO2    Fe-O    above hull by 0.3748  decomposes to ")
    # the table keeps its meaning: NaCl is not stable by this energy, and OQMD holds it on its hull
    t = pd.read_parquet(tmp_path / "o" / "stability.parquet").set_index("formula")
    assert not t.stable["NaCl"] and t.in_reference["NaCl"] and t.reference_e_above_hull["NaCl"] == 0
    assert t.e_above_hull["NaCl"] == pytest.approx(0.0082, abs=1e-4)


def test_cli_model_energies_are_named_as_the_models(tmp_path, capsys):
    assert cli("NaCl", "--out", tmp_path / "o") == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("  NaCl"))
    # known stable (ElemNet a little above OQMD's NaCl) or stable (below it): either way DFT's verdict is given
    assert ("known stable: on OQMD's hull, the model's energy " in line
            or "; OQMD: on its hull, the model's energy " in line), line


def test_cli_compare_leaves_out_the_references_own_entries_of_files_compounds(tmp_path, capsys):
    """--compare against a reference that holds FILE's compounds themselves (test compounds drawn from
    OQMD, against OQMD) saw each compound's DFT energy beside its own duplicate: on the hull, never
    stable, so "DFT-stable: 0" whatever the data. Those entries are left out, FILE's rows standing
    for them; a polymorph at another energy stays."""
    pytest.importorskip("pyarrow")  # reads the Parquet tables it writes
    pd.DataFrame({"formula": ["Fe2O3", "Fe3O4", "FeO", "Fe3O4"], "energy": [-1.70, -1.65, -1.40, -1.60]}).to_csv(
        tmp_path / "ref.csv", index=False)
    pd.DataFrame({"formula": ["Fe3O4", "FeO"], "energy": [-1.65, -1.40]}).to_csv(tmp_path / "t.csv", index=False)
    assert cli(tmp_path / "t.csv", "--reference", tmp_path / "ref.csv", "--model", "default", "--compare",
               "--out", tmp_path / "o") == 0
    out = capsys.readouterr().out
    # the sentence of ProtocolResult.summary, naming FILE and the reference
    assert (f"2 entries of the reference left out as copies of {tmp_path / 't.csv'}'s compounds (the same "
            "composition, energy within 5e-05 eV/atom): their rows stand for them") in out.splitlines()
    assert "DFT-stable: 1 (50.0%)" in out
    t = pd.read_parquet(tmp_path / "o" / "protocol.parquet")
    assert t.index.tolist() == [0, 1]  # FILE's rows, as without a reference
    assert t.set_index("formula").stable_dft.to_dict() == {"Fe3O4": True, "FeO": False}


def test_cli_names_a_bad_formula_from_the_command_line_as_predict_does(tmp_path, capsys):
    """Formulas typed on the command line were named "bad row N", where hullpack predict says
    "formula N": rows are a file's. Now the same words as predict, counted as typed from 1."""
    bad = [f"X{c}2O=-1" for c in "xyzqvw"]  # six unknown elements: five listed, then "... and 1 more"
    assert cli("Fe2O3=-1.7", *bad, "FeO=-1.4", "--reference", "none", "--out", tmp_path / "o") == 0
    out = capsys.readouterr().out
    assert out.startswith("hullpack stability: 8 compositions from the command line\n")
    assert "6 bad formulas, see the 'problem' column:" in out.splitlines()
    assert "  formula 2 ('Xx2O'): unknown element 'Xx'" in out.splitlines()
    assert "  formula 6 ('Xv2O'): unknown element 'Xv'" in out.splitlines()
    assert "  ... and 1 more bad formula (the table's 'problem' column names each)" in out.splitlines()
    assert "bad row" not in out
    # a FILE's rows keep their name
    pd.DataFrame({"formula": ["Fe2O3", "Xx2O"], "energy": [-1.7, -1.0]}).to_csv(tmp_path / "f.csv", index=False)
    assert cli(tmp_path / "f.csv", "--out", tmp_path / "f") == 0
    out = capsys.readouterr().out
    assert "1 bad row, see the 'problem' column:" in out.splitlines() and "  bad row 2 ('Xx2O'): unknown element 'Xx'" in out
