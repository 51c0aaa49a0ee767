"""A chemist's reading of `hullpack stability`: energies of another convention than eV/atom
(per formula unit, the opposite sign) said, a compound the reference has on its hull but the user's
energy does not said to be unstable by it, entry ids kept, an export's own hull distances prefixed
as input, and the summary's counts saying what they count."""
import re
import warnings

import pandas as pd
import pytest

from hullpack.cli import main
from hullpack.cli.stability_summary import summary_lines
from hullpack.columns import ENERGY_COLUMNS, find_column
from hullpack.stability import Reference, stability
from hullpack.stability.hulls import known_stable

# a reference of formation energies (eV/atom): Fe2O3, Fe3O4 and FeO all on its hull
REF = pd.DataFrame({"material_id": ["mp-19770", "mp-19306", "mp-18905", "mp-22862", "mp-1138", "mp-1960"],
                    "formula": ["Fe2O3", "Fe3O4", "FeO", "NaCl", "LiF", "Li2O"],
                    "formation_energy_per_atom": [-1.65, -1.64, -1.52, -2.05, -3.10, -2.00]})


def cli(*argv) -> int:
    return main(["-q", "stability", *map(str, argv)])


def _notes(call) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in caught]


def test_energies_per_formula_unit_of_known_compounds_are_noted():
    """NaCl=-4.10 (2 x -2.05, eV per NaCl unit) read as stable by 2 eV/atom without a word."""
    ref = Reference(REF)
    notes = _notes(lambda: stability(["NaCl", "LiF"], [-4.10, -3.0], reference=ref))
    assert len(notes) == 1 and notes[0].startswith("energies per formula unit rather than per atom? 1 of the 2 ")
    assert "(NaCl: -4.1 / 2 = -2.05 eV/atom)" in notes[0]
    # energies per atom near the reference's, or far from it by no multiple: nothing to say
    assert _notes(lambda: stability(["NaCl", "LiF", "Fe2O3"], [-2.0, -3.0, -1.2], reference=ref)) == []


def test_energies_per_formula_unit_refused_as_total_energies_name_that_mistake(tmp_path, capsys):
    REF.to_csv(tmp_path / "ref.csv", index=False)
    assert cli("Fe2O3=-8.5", "--reference", tmp_path / "ref.csv", "--out", tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert "these look like total energies, or formation energies per formula unit (Fe2O3: -8.5 / 5 = -1.7 eV/atom)" \
        in err
    assert cli("Fe2O3=-6.85", "--reference", tmp_path / "ref.csv", "--out", tmp_path / "o") == 2
    assert "per formula unit" not in capsys.readouterr().err  # -1.37 eV/atom is no Fe2O3 of the reference


def test_flipped_signs_are_noted():
    """Li2O 2.07, Fe2O3 1.70 where the reference has -2.0, -1.65 read as '0 of 3 stable'."""
    notes = _notes(lambda: stability(["Li2O", "Fe2O3", "FeO"], [2.07, 1.70, 1.39], reference=Reference(REF)))
    assert len(notes) == 1 and notes[0].startswith("formation energies of the opposite sign? 3 of the 3 ")
    assert "Li2O 2.07 where the reference has -2" in notes[0]


def test_given_energy_above_the_other_compositions_is_unstable_not_known_stable(tmp_path, capsys):
    """FeO=-1.40 read 'known stable: on OQMD's hull, the given energy 0.1200 above OQMD's FeO' and was
    counted as known stable, though by that energy FeO decomposes into Fe3O4 and Fe."""
    REF.to_csv(tmp_path / "ref.csv", index=False)
    assert cli("FeO=-1.40", "Fe2O3=-1.64", "--reference", tmp_path / "ref.csv", "--out", tmp_path / "o") == 0
    out = capsys.readouterr().out
    assert ("stable: 0 of 2 compounds (0.0%; elements not counted) by the given energies; 1 more known stable, on "
            "the reference's hull, the given energy at most 10.0 meV/atom above the reference's there; 1 on the "
            "reference's hull but above the hull of the other compositions by the given energies;") in out
    line = next(x for x in out.splitlines() if x.startswith("  FeO "))
    assert line.endswith("unstable by the given energy: above the hull of the other compositions by 0.0350, "
                         "decomposes to 0.875 Fe3O4 + 0.125 Fe; the reference has FeO on its hull (mp-18905), "
                         "0.1200 below the given energy")


def test_a_models_energy_far_above_the_references_is_a_model_error():
    ref = Reference(REF)
    t = ref.evaluate(["Fe2O3", "LiF"], [-1.62, -2.60])
    assert known_stable(t).tolist() == [True, False]
    assert known_stable(t, given=True).tolist() == [True, True]  # the user's LiF still below Li + F2
    text = "\n".join(summary_lines(t, "x", "ElemNet", "y", "OQMD", "the model's energy", given=False,
                                   competing=ref.competing_phases))
    assert "1 more known stable" in text and "1 on OQMD's hull but the model's energies more than 0.1 eV/atom" in text
    assert ("LiF     F-Li    a large model error: OQMD has LiF on its hull, the model's energy 0.5000 above OQMD's "
            "(more than 0.1 eV/atom); by it, below the hull of the other compositions by 2.6000") in text


def test_competing_phases_ignore_the_entry_of_the_same_composition():
    ref = Reference(REF)
    assert ref.evaluate(["FeO"], [-1.40]).decomposition.tolist() == ["1.0 FeO"]
    assert ref.competing_phases(["FeO", "NaCl", "Xx"]) == ["0.875 Fe3O4 + 0.125 Fe", "0.5 Cl2 + 0.5 Na", None]


def test_near_hull_count_leaves_out_stable_compounds():
    """'within 25 meV/atom of the hull: 1' counted NaCl2, a stable compound."""
    t = stability(["Fe2O3", "Fe3O4", "FeO", "FeO2"], [-1.70, -1.62, -1.40, -0.90])
    text = "\n".join(summary_lines(t, "x", "given", "each other"))
    assert "; not stable, at most 25 meV/atom above the hull: 1;" in text  # FeO, 17.5 meV/atom above


def test_entries_keep_their_ids_in_the_python_api():
    pmg = pytest.importorskip("pymatgen.entries.computed_entries")
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram

    entries = [pmg.ComputedEntry("Fe", 0.0, entry_id="mp-13"), pmg.ComputedEntry("O2", 0.0, entry_id="mp-12957"),
               pmg.ComputedEntry("Fe2O3", -1.7 * 5, entry_id="mp-19770"), PDEntry("FeO", -1.4 * 2, name="mp-18905"),
               PDEntry("Fe3O4", -1.62 * 7)]
    t = stability(entries)
    assert t.entry_id.tolist() == ["mp-13", "mp-12957", "mp-19770", "mp-18905", None]
    r = stability([pmg.ComputedEntry("Fe2O3", -1.69 * 5, entry_id="my-1")], reference=PhaseDiagram(entries))
    assert r.reference_id.tolist() == ["mp-19770"] and r.entry_id.tolist() == ["my-1"]
    assert "entry_id" not in stability(["Fe2O3"], [-1.7]).columns  # formulas have none


def test_input_columns_meaning_a_result_column_are_prefixed():
    """Materials Project's energy_above_hull stayed unprefixed beside hullpack's e_above_hull, where
    Alexandria's e_above_hull got an input_ prefix."""
    df = pd.DataFrame({"material_id": ["mp-1", "mp-2"], "formula": ["Fe2O3", "FeO"], "energy": [-1.7, -1.4],
                       "energy_above_hull": [0.0, 0.01], "e_above_hull": [0.0, 0.01], "is_stable": [True, False],
                       "equilibrium_reaction_energy_per_atom": [-0.1, 0.01], "formation_energy_per_atom": [-1.7, -1.4],
                       "band_gap": [2.0, 0.0]})
    t = stability(df, "energy")
    assert list(t.columns[-7:]) == ["material_id", "input_energy_above_hull", "input_e_above_hull", "input_is_stable",
                                    "input_equilibrium_reaction_energy_per_atom",
                                    "input_formation_energy_per_atom", "band_gap"]


def test_a_hull_distance_named_as_the_energies_names_formation_and_total_energy_columns():
    df = pd.DataFrame({"formula_pretty": ["Fe", "Fe2O3"], "formation_energy_per_atom": [0.0, -1.7],
                       "energy_above_hull": [0.0, 0.0], "energy_per_atom": [-8.47, -6.86]})
    with pytest.raises(ValueError, match=re.escape("name a formation energy column ('formation_energy_per_atom') "
                                                   "instead, or a total energy column ('energy_per_atom') where the "
                                                   "table has each element's entry too")):
        stability(df, "energy_above_hull")


def test_molar_units_say_per_formula_unit_too():
    with pytest.raises(ValueError) as exc:
        find_column(["formula", "dH (kJ/mol)"], "dH (kJ/mol)", ENERGY_COLUMNS, "energy")
    assert "divide by 96.485 per mole of atoms; per mole of formula units" in str(exc.value)
    assert "divide also by the atoms of each formula, 5 for Fe2O3" in str(exc.value)


def test_the_docs_say_what_decomposition_holds():
    from pathlib import Path

    text = " ".join((Path(__file__).parents[1] / "docs" / "stability.md").read_text().split())
    assert "for a stable compound the competing phases" in text and "for an unstable one what it decomposes into" in text
