"""Candidates against a reference built from a database export: the table's ``reference_id`` names
the reference entry each candidate is compared with (the lowest at its composition, the first of
those at one energy), and ``hullpack stability``'s summary names it beside what the reference says
there; a reference without ids (the shipped OQMD set, a list of formulas) adds no such column."""
import numpy as np
import pandas as pd
import pytest

from hullpack.columns import ID_COLUMNS
from hullpack.stability import REFERENCE_COLUMNS, RESULT_COLUMNS, Reference, stability


def cli(*argv):
    from hullpack.cli import main

    return main(["-q", "stability", *map(str, argv)])


def mp_export() -> pd.DataFrame:
    """Fe-O as mpr.materials.summary.search saves it (material_id, formula_pretty,
    formation_energy_per_atom): Fe2O3 three times (hematite lowest, a polymorph above, one at
    hematite's energy listed after it), a row without an energy first, which the hulls leave out."""
    return pd.DataFrame({
        "material_id": ["mp-1", "mp-13", "mp-12957", "mp-24972", "mp-19770", "mp-542309", "mp-19306", "mp-18905",
                        "mp-715276"],
        "formula_pretty": ["Fe2O3", "Fe", "O2", "Fe2O3", "Fe2O3", "Fe2O3", "Fe3O4", "FeO", "FeO2"],
        "formation_energy_per_atom": [np.nan, 0.0, 0.0, -1.65, -1.70, -1.70, -1.62, -1.40, -0.90],
        "nsites": [10, 2, 8, 40, 10, 20, 14, 2, 12],
    })


def test_each_candidate_names_the_reference_entry_it_is_compared_with():
    with pytest.warns(UserWarning, match="1 of 9 reference rows cannot be used"):
        ref = Reference(mp_export())
    assert ref.id_column == "material_id"
    candidates = pd.DataFrame({"material_id": ["new-1", "new-2", "new-3", "new-4", "new-5"],
                               "formula": ["Fe4O6", "FeO", "Fe3O4", "Fe5O7", "Fe"],
                               "energy": [-1.69, -1.45, -1.60, -1.60, 0.0]})
    t = stability(candidates, reference=ref)
    assert list(t.columns) == list(RESULT_COLUMNS) + list(REFERENCE_COLUMNS) + ["reference_id", "material_id"]
    # Fe2O3: hematite, the lowest, and of the two at -1.70 the first listed; never the row with no energy
    assert t.reference_id.tolist()[:3] == ["mp-19770", "mp-18905", "mp-19306"] and t.reference_id[4] == "mp-13"
    assert t.reference_energy.tolist()[:3] == [-1.70, -1.40, -1.62]
    assert not t.in_reference[3] and pd.isna(t.reference_id[3])  # Fe5O7: no entry of it
    assert t.material_id.tolist() == candidates.material_id.tolist()  # the candidates' own ids, as given
    # joined in one hull, the reference columns still describe the reference alone
    j = stability(candidates, reference=ref, join=True)
    assert j.reference_id.tolist()[:3] == t.reference_id.tolist()[:3]
    export = mp_export().assign(material_id=lambda d: d.material_id.where(d.index != 7))
    before = export.copy()
    Reference(export.iloc[1:])
    pd.testing.assert_frame_equal(export, before)  # its missing id read as None, the export unchanged


def test_the_lowest_polymorph_named_whatever_the_order():
    ref = mp_export().iloc[1:].iloc[::-1]  # the one at -1.70 listed first is now mp-542309
    t = Reference(ref).evaluate(["Fe2O3"], [-1.0])
    assert t.reference_id.tolist() == ["mp-542309"] and t.reference_energy.tolist() == [-1.70]
    missing = mp_export().iloc[1:].assign(material_id=lambda d: d.material_id.where(d.formula_pretty != "FeO"))
    t = Reference(missing).evaluate(["FeO", "Fe3O4"], [-1.0, -1.0])
    assert t.in_reference.tolist() == [True, True] and pd.isna(t.reference_id[0]) and t.reference_id[1] == "mp-19306"


def test_no_ids_no_column():
    from hullpack.elemnet.data import load_oqmd

    # the shipped OQMD set holds formulas and formation energies only
    assert not set(load_oqmd("test").columns) & set(ID_COLUMNS)
    oqmd = Reference.oqmd("test")
    assert oqmd.id_column is None
    assert "reference_id" not in oqmd.evaluate(["NaMnO2"], [-1.5]).columns
    for ref in (Reference(["FeO", "Fe2O3"], [-1.4, -1.7]),
                Reference(mp_export().iloc[1:].drop(columns="material_id"))):
        assert list(ref.evaluate(["FeO"], [-1.5]).columns) == list(RESULT_COLUMNS) + list(REFERENCE_COLUMNS)
    # a candidate column named so is the candidates' own, as any other input column
    t = stability(pd.DataFrame({"formula": ["FeO"], "energy": [-1.5], "reference_id": ["x"]}),
                  reference=Reference(["FeO"], [-1.4]))
    assert t.reference_id.tolist() == ["x"]


def test_numeric_ids_stay_numbers():
    ref = pd.DataFrame({"entry_id": [1004, 2007, 2008], "name": ["FeO", "Fe2O3", "Fe2O3"],
                        "delta_e": [-1.4, -1.65, -1.7]})
    t = Reference(ref).evaluate(["Fe2O3", "NiO"], [-1.6, -1.0], errors="ignore")
    assert t.reference_id[0] == 2008 and pd.isna(t.reference_id[1])


def test_summary_names_the_reference_entry(tmp_path, capsys):
    pytest.importorskip("pyarrow")  # reads the Parquet table it writes
    mp_export().to_csv(tmp_path / "mp.csv", index=False)
    pd.DataFrame({"formula": ["Fe3O4", "Fe2O3", "FeO", "Fe5O7"],
                  "energy": [-1.70, -1.69, -1.45, -1.60]}).to_csv(tmp_path / "cand.csv", index=False)
    assert cli(tmp_path / "cand.csv", "--reference", tmp_path / "mp.csv", "--out", tmp_path / "o") == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert lines["Fe3O4"].endswith("; the reference: on its hull (mp-19306), the given energy 0.0800 below the "
                                   "reference's")
    assert lines["FeO"].endswith("; the reference: 0.0175 above its hull (mp-18905), the given energy 0.0500 below "
                                 "the reference's")
    # known stable: on the reference's hull, where hematite is, the energy here a little above
    assert lines["Fe2O3"].endswith("known stable: on the reference's hull, the given energy 0.0100 above the "
                                   "reference's Fe2O3 (mp-19770)")
    assert "(" not in lines["Fe5O7"].split("decomposes to")[1]
    assert "already in the reference: 3 of 4 (2 on its hull)" in out
    t = pd.read_parquet(tmp_path / "o" / "stability.parquet")
    assert t.reference_id.tolist()[:3] == ["mp-19306", "mp-19770", "mp-18905"] and pd.isna(t.reference_id[3])
    # an element typed on the command line, above the reference's entry of it
    assert cli("Fe2O3=-1.69", "Fe=0.1", "--reference", tmp_path / "mp.csv", "--out", tmp_path / "e") == 0
    assert "above the reference's lowest Fe entry (mp-13)  [formula 2]" in capsys.readouterr().out


def test_summary_names_a_number_after_its_column(tmp_path, capsys):
    pd.DataFrame({"entry_id": [10, 11, 12], "name": ["Fe2O3", "FeO", "Fe3O4"],
                  "delta_e": [-1.7, -1.4, -1.62]}).to_csv(tmp_path / "oqmd.csv", index=False)
    assert cli("Fe2O3=-1.69", "--reference", tmp_path / "oqmd.csv", "--out", tmp_path / "o") == 0
    assert "the reference's Fe2O3 (entry_id 10)\n" in capsys.readouterr().out


def test_oqmd_summary_unchanged(capsys, tmp_path):
    assert cli("NaMnO2=-1.95", "--out", tmp_path / "o") == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("NaMnO2"))
    assert line.endswith("above OQMD's NaMnO2")
