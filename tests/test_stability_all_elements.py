"""Stability against DFT energies takes every element H..Og, ElemNet's missing ones (He, Ne, Ar, Po,
At, Rn, Fr, Ra, Am and beyond) included, with pymatgen's numbers and names; what needs ElemNet
(its featurizer's default, --model, --compare, model_protocol(model=...)) keeps its 86 elements and
names the element a row has that the model cannot take."""
import warnings

import numpy as np
import pandas as pd
import pytest

from hullpack.elemnet import load_oqmd, parse_formulas
from hullpack.elements import ALL_ELEMENT_INDEX, ELEMENT_INDEX, N_ELEMENTS
from hullpack.naming import fraction_formula, reduced_formula
from hullpack.stability import Reference, model_protocol, parse, stability
from hullpack.stability.plot import parse_space, space_table
from test_stability_pymatgen import assert_agrees, random_compounds
from test_stability_user_files import cli

pmg = pytest.importorskip("pymatgen.core")
# hullpack names compositions as pymatgen does since 2026: elements without electronegativity last;
# earlier pymatgen left them in their input order (HeCl stayed HeCl), so names are compared only there
PMG_NAMES_THEM_LAST = pmg.Composition("HeCl").reduced_formula == "ClHe"
needs_names_last = pytest.mark.skipif(not PMG_NAMES_THEM_LAST, reason="this pymatgen orders elements without "
                                      "electronegativity by input order")

# ElemNet lacks He, Ne, Ar, Po, Rn, Ra, Am, Cm and Og; Na, O, F, Cl and Xe are ElemNet's
BEYOND = ("He", "Na", "Ar", "O", "Po", "Am", "F", "Xe", "Ne", "Cl", "Og", "Ra", "Cm", "Rn")
NAMES = ["XeF2", "HeNa2", "ArCl", "NaHeCl", "ArClNe", "OgF", "Fe2He3", "AmO2", "PoO2", "RnF2", "HeNe", "ArHe",
         "CsHe", "Og2", "FrCl", "RaO", "LiHe", "HeO", "CmPO4", "Na3AmO4", "BaRnF8", "Lv", "NaTsO4"]

#: what a message about an element ElemNet lacks says after it
LACKS = " (no He, Ne, Ar, Po, At, Rn, Fr, Ra, nor any past Pu)"


# (seeds 7 and 8 differ by 3e-6 and 8e-6 eV/atom in one decomposition energy, as they do with these
# elements renamed to ElemNet's: pymatgen's SLSQP stops above the optimum the core's simplex finds)
@pytest.mark.parametrize("seed", range(7))
def test_stability_with_elements_elemnet_lacks_agrees_with_pymatgen(seed):
    rng = np.random.default_rng(300 + seed)
    symbols = tuple(str(s) for s in rng.choice(BEYOND, 2 + seed % 4, replace=False))
    comps, energies = random_compounds(rng, len(symbols), 30, symbols=symbols)
    table = assert_agrees(comps, energies, [(s, 0.0) for s in symbols])
    assert table["problem"].isna().all()
    # the same compounds written as formulas: the same numbers and pymatgen's names
    compositions = [pmg.Composition(s) for s in symbols] + [pmg.Composition(c) for c in comps]
    as_text = stability([c.formula.replace(" ", "") for c in compositions], table["energy"].to_numpy())
    assert np.allclose(as_text.e_above_hull, table.e_above_hull, atol=1e-12)
    if PMG_NAMES_THEM_LAST:
        assert as_text.formula.tolist() == [c.reduced_formula for c in compositions]
    assert as_text.chemsys.tolist() == [c.chemical_system for c in compositions]


@needs_names_last
def test_names_follow_pymatgen_for_elements_without_electronegativity():
    # pymatgen orders elements by electronegativity, those without one (He, Ne, Ar, Rf..Og) last,
    # then by symbol; an element without one is never part of a polyanion
    p = parse(NAMES, np.zeros(len(NAMES)))
    assert p.problems == {}
    assert p.names.tolist() == [pmg.Composition(f).reduced_formula for f in NAMES]
    assert p.chemsys().tolist() == [pmg.Composition(f).chemical_system for f in NAMES]
    assert p.names[:3].tolist() == ["XeF2", "Na2He", "ClAr"]
    assert reduced_formula(["Ar", "He", "Na"], [1, 1, 1]) == "NaArHe"
    assert fraction_formula(["He", "Og", "Na"], [0.2, 0.3, 0.5]) == "Na0.5He0.2Og0.3"


def test_parse_formulas_default_is_elemnets_and_all_elements_extends_it():
    sample = load_oqmd("val")["formula"].tolist()[:20000] + ["CuSO4·5H2O", "Ca(OH)2", "Li0.5CoO2"]
    x, bad = parse_formulas(sample)
    x_all, bad_all = parse_formulas(sample, all_elements=True)
    assert x.shape == (len(sample), N_ELEMENTS) and x_all.shape == (len(sample), 118)
    assert bad == bad_all == []
    assert x.tobytes() == x_all[:, :N_ELEMENTS].tobytes() and not x_all[:, N_ELEMENTS:].any()
    others = ["HeO", "NaAm", "Og", "D2O", "Xx"]
    x, bad = parse_formulas(others)
    assert x.shape == (5, 86) and np.isnan(x).all()
    assert [reason for _, _, reason in bad] == [
        "He is not one of ElemNet's 86 elements" + LACKS, "Am is not one of ElemNet's 86 elements" + LACKS,
        "Og is not one of ElemNet's 86 elements" + LACKS, "D is an isotope of hydrogen: write H", "unknown element 'Xx'"]
    x, bad = parse_formulas(others, all_elements=True)
    assert [i for i, _, _ in bad] == [3, 4]
    assert x[0, ALL_ELEMENT_INDEX["He"]] == x[0, ELEMENT_INDEX["O"]] == 0.5 and x[2, 117] == 1.0


def test_mappings_arrays_references_and_spaces_take_every_element():
    table = stability([{"He": 1, "Na": 2}, pmg.Composition("AmO2"), "Am", "O2", "He", "Na"], [-0.1, -2, 0, 0, 0, 0])
    assert table.formula.tolist() == ["Na2He", "AmO2", "Am", "O2", "He", "Na"] and table.stable.all()
    amounts = stability(np.array([[1, 2], [1, 0], [0, 1]]), [-0.1, 0, 0], elements=["He", "Na"])
    assert np.allclose(amounts.decomposition_energy, table.decomposition_energy.iloc[[0, 4, 5]])
    ref = Reference(["Na", "He", "Na2He", "Xe", "F", "XeF2"], [0, 0, -0.1, 0, 0, -0.6])
    assert ref.knows("He") and ref.knows("Xe") and not ref.knows("Ar")
    with pytest.warns(UserWarning, match="no reference entry contains Ar"):
        t = ref.evaluate(["NaHe", "ArHe", "XeF4"], [-0.2, 0.0, -0.3])
    assert t.problem.tolist() == [None, "no reference entry contains Ar", None] and t.stable[0]
    assert parse_space("Na-He") == ["He", "Na"]
    assert space_table(ref, "He-Na").formula.tolist() == ["Na2He", "He", "Na"]


class SumModel:
    """Energies from ElemNet's 86 fractions: minus the fraction of oxygen."""

    def predict(self, x):
        assert x.shape[1] == N_ELEMENTS
        return -x[:, ELEMENT_INDEX["O"]].astype(np.float64)


def test_model_protocol_names_the_element_the_model_lacks():
    formulas = ["Na", "O2", "He", "Am", "Na2O", "NaHe", "AmO2", "NaO2"]
    dft = [0.0, 0.0, 0.0, 0.0, -1.0, 0.3, -3.0, -0.6]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no bad input
        r = model_protocol(formulas, dft, model=SumModel())
    assert r.table.formula.tolist() == ["Na2O", "NaHe", "AmO2", "NaO2"]  # elements He, Am stay as references
    assert r.table.problem.tolist() == [None, "He is not one of ElemNet's 86 elements" + LACKS,
                                        "Am is not one of ElemNet's 86 elements" + LACKS, None]
    assert r.table.stable_dft.tolist() == [True, False, True, True]
    assert r.metrics.loc["all", "n"] == 2


def test_cli_dft_stability_takes_every_element_and_the_model_names_what_it_lacks(tmp_path, capsys):
    path = tmp_path / "he.csv"
    pd.DataFrame({"formula": ["Na", "Cl", "NaCl", "He", "NaHe", "Am", "AmO2", "O", "Ar", "Po", "PoO2"],
                  "formation_energy_per_atom": [0, 0, -2.0, 0, 0.5, 0, -3, 0, 0, 0, -1]}).to_csv(path, index=False)
    assert cli(path, "--out", tmp_path / "dft", "--format", "csv") == 0
    out = capsys.readouterr().out
    assert "bad row" not in out and "AmO2    Am-O    stable by 3.0000" in out
    t = pd.read_csv(tmp_path / "dft" / "stability.csv", keep_default_na=False, na_values=[""])
    assert t.problem.isna().all() and t.set_index("formula").stable[["NaCl", "AmO2", "PoO2", "NaHe"]].tolist() == [
        True, True, True, False]
    assert cli(path, "--model", "default", "--out", tmp_path / "model", "--format", "csv") == 0
    out = capsys.readouterr().out
    assert "\n3 bad rows, see the 'problem' column:\n" in out and "bad row 5 ('NaHe'): He is not one of ElemNet's 86 elements" in out
    t = pd.read_csv(tmp_path / "model" / "stability.csv", keep_default_na=False, na_values=[""])
    bad = t.problem.notna()
    assert t.formula[bad].tolist() == ["NaHe", "AmO2", "PoO2"]
    assert t.problem[bad].str.startswith(("He ", "Am ", "Po ")).all()
    assert t.stable[~bad].astype(bool).all() and t.energy[t.n_elements == 1].eq(0).all()  # He, Am, Ar, Po kept
    assert cli(path, "--model", "default", "--compare", "--out", tmp_path / "cmp") == 0
    out = capsys.readouterr().out.splitlines()
    assert f"3 of {path}'s compounds left out (see the table's 'problem' column)" in out
    assert "  bad row 5 ('NaHe'): He is not one of ElemNet's 86 elements" + LACKS in out  # as without --compare
    p = pd.read_parquet(tmp_path / "cmp" / "protocol.parquet")
    assert p.formula.tolist() == ["NaCl", "NaHe", "AmO2", "PoO2"] and p.problem.isna().tolist()[0]
    assert p.problem.tolist()[1:] == [f"{e} is not one of ElemNet's 86 elements{LACKS}" for e in ("He", "Am", "Po")]


@pytest.mark.parametrize("formula", ["LiNi0.333Mn0.333Co0.333O2", "Fe0.0001O", "LiCo0.9999Al0.0001O2",
                                     "Li1.05Ni0.3333Mn0.3333Co0.3333O2", "Ba0.6Sr0.4Co0.8Fe0.2O2.9999"])
def test_compositions_without_integer_amounts_are_named_as_written(formula):
    """pymatgen's reduced formula, amounts as written (without its 1s), not atomic fractions."""
    Composition = pytest.importorskip("pymatgen.core").Composition
    import re

    from hullpack.stability import parse

    want = re.sub(r"([A-Z][a-z]?)1(?![\d.])", r"\1", Composition(formula).reduced_formula)
    assert parse([formula], [0.0]).names.tolist() == [want]
    assert Composition(want).fractional_composition.almost_equals(Composition(formula).fractional_composition)


def test_mappings_without_integer_amounts_are_named_as_given():
    Composition = pytest.importorskip("pymatgen.core").Composition
    from hullpack.stability import parse

    p = parse([{"Fe": 0.0001, "O": 1.0}, Composition("LiCo0.9999Al0.0001O2"), {"Li": 0.3, "O": 0.70001}], [0.0] * 3)
    assert p.names.tolist() == ["Fe0.0001O", "LiAl0.0001Co0.9999O2", "Li0.3O0.70001"]
