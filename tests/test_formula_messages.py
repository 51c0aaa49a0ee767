"""Formulas as people paste them from papers, databases and spreadsheets: each one that cannot be
read is told what it is, in a chemist's words, and what to write instead; every reader (the
featurizer, hullpack predict, hullpack stability, hullpack train's tables) says the same."""
import importlib.util

import numpy as np
import pandas as pd
import pytest

from hullpack.cli import main
from hullpack.elemnet import parse_formulas

#: formulas with brackets are read by pymatgen: without it they get the note naming the extra
BRACKETS = pytest.mark.skipif(importlib.util.find_spec("pymatgen") is None, reason="needs pymatgen (brackets)")


def reason(formula: str) -> str:
    _, bad = parse_formulas([formula])
    assert len(bad) == 1, formula
    return bad[0][2]


@pytest.mark.parametrize("formula, says", [
    # an ion with its charge was blamed on a hydrate ("a number after a space is ambiguous")
    ("SO4 2-", "SO4 2- is an ion: write the compound it is part of, with its counter-ions (such as 'Na2SO4' for "
               "SO4 2-), or 'SO4' for its atoms alone"),
    ("SO4^2-", "or 'SO4' for its atoms alone"),
    ("SO4(2-)", "or 'SO4' for its atoms alone"),          # was taken for a note
    ("NH4+", "NH4+ is an ion"),
    # capitals: "unknown element 'E'"
    ("FE2O3", "element symbols start with a capital letter, and a second letter is lowercase: did you mean "
              "'Fe2O3'?"),
    ("NACL", "did you mean 'NaCl'?"),                      # "unknown element 'A'"
    ("fe2o3", "start with a capital letter, and a second letter is lowercase: did you mean 'Fe2O3'?"),
    ("co", "did you mean 'Co' or 'CO'?"),
    # a Materials Project id was called a charge
    ("mp-19770", "a database id (Materials Project), not a formula: give the material's formula (Materials "
                 "Project's formula_pretty), such as 'Fe2O3'"),
    ("JVASP-1002", "a database id (JARVIS-DFT), not a formula"),
    ("oqmd-1234", "a database id (OQMD), not a formula"),
    # phase labels leaked pymatgen's "l is an invalid formula!"
    ("H2O(l)", "(l) is a phase label (liquid): ElemNet and the hull read compositions only: write 'H2O'"),
    ("CO2 (g)", "(g) is a phase label (gas)"),
    ("NaCl (rock salt)", "(rock salt) is a note, not part of the formula"),
    ("Fe3O4 (magnetite)", "write 'Fe3O4'"),
    ("Li(0.5)CoO2", "amounts follow their symbol without brackets or subscript marks: write 'Li0.5CoO2'"),
    ("Fe_{2}O_{3}", "write 'Fe2O3'"),
    # variable amounts: "cannot parse formula: expected element symbols ..."
    ("LixCoO2", "a variable amount (x) is not read: give it a value, such as 'Li0.1CoO2' for x = 0.1"),
    ("Ba1-xSrxTiO3", "such as 'Ba0.9Sr0.1TiO3' for x = 0.1"),
    ("Fe1\u2212xO", "such as 'Fe0.9O' for x = 0.1"),
    ("YBa2Cu3O7-\u03b4", "a variable amount (\u03b4)"),
    ("La0.6Sr0.4CoO3-d", "a variable amount (d, for \u03b4) is not read: give it a value, such as "
                         "'La0.6Sr0.4CoO2.9' for \u03b4 = 0.1"),
    # oxidation states were read as iodine and vanadium, silently: Fe(II)O as FeI2O
    ("Fe(II)O", "Fe(II) is an oxidation state, not atoms (I is iodine, V vanadium): write the formula without "
                "it, 'FeO'"),
    ("Fe(III)2O3", "write the formula without it, 'Fe2O3'"),
    ("Mn(IV)O2", "Mn(IV) is an oxidation state"),
    ("Mn[IV]O2", "write the formula without it, 'MnO2'"),
    ("V(V)2O5", "V(V) is an oxidation state"),
    ("Mn(IV)", "Mn(IV) is an oxidation state"),              # was taken for a note
    ("Fe-O", "Fe-O is a chemical system (its elements), not a formula"),
    ("123", "a number, not a formula"),
    ("-1.65", "a number, not a formula"),
    ("N/A", "'N/A' marks a missing value, not a formula"),
    ("nan", "marks a missing value"),                       # was told to capitalise: NaN is Na + N
    ("NaCl\u200b", "an invisible character '\\u200b' (U+200B, zero width space) is no part of a formula: "
                   "write 'NaCl'"),
    ("Mg\u00bdO\u00bd", "amounts are decimal numbers, not the fraction \u00bd (vulgar fraction one half): write "
                        "'Mg0.5O0.5'"),
    ("'Fe2O3'", "quotes around the formula: write 'Fe2O3' without them"),
    ("Fe2O3;NaCl", "several formulas (Fe2O3, NaCl) in one: give each its own entry (row)"),
    ("Fe2O3,", "write the formula alone: 'Fe2O3'"),
    pytest.param("(", "its brackets do not pair up", marks=BRACKETS),  # pymatgen's "( is an invalid formula!"
    # a decimal comma was taken for two formulas: "write the formula alone: 'Fe2'"
    ("Fe2,5O", "amounts take a decimal point, not a comma: write 'Fe2.5O'"),
    ("Li0,5CoO2", "write 'Li0.5CoO2'"),
    ("LiNi0,8Co0,15Al0,05O2", "amounts take a decimal point, not a comma: write 'LiNi0.8Co0.15Al0.05O2'"),
    # two compounds, or a decimal comma: both readings named (the decimal one alone read O3.2)
    ("Fe2O3,2FeO", "several formulas (Fe2O3, FeO) in one: give each its own entry (row); or, if not, amounts "
                   "take a decimal point, not a comma: write 'Fe2O3.2FeO'"),
    # a count before the second formula: it said "write the formula alone: 'NaCl'"
    ("NaCl,2KCl", "several formulas (NaCl, KCl) in one: give each its own entry (row)"),
    ("CuSO4,5H2O", "several formulas (CuSO4, H2O) in one: give each its own entry (row); or, for a hydrate, "
                   "write 'CuSO4\u00b75H2O'"),
    # a variable hydrate count was re-capitalised: "did you mean 'Fe2O3·Nh2O'"
    ("Fe2O3\u00b7nH2O", "a variable hydrate count (n) is not read: give it a number, such as 'Fe2O3\u00b72H2O'"),
    ("CuSO4*xH2O", "such as 'CuSO4*2H2O'"),
    ("Fe2O3.nH2O", "such as 'Fe2O3\u00b72H2O'"),        # the full stop is ambiguous: not suggested back
    # a count before the formula: "expected element symbols with optional amounts"
    ("2Fe2O3", "the count 2 before the formula (formula units, as in an equation) is no part of a composition: "
               "write 'Fe2O3'"),
    ("0.5 H2O", "the count 0.5 before the formula"),
    pytest.param("2(NH4)2SO4", "write '(NH4)2SO4'", marks=BRACKETS),
    # names re-capitalised into symbols: "did you mean 'HAlITe'?", "'WAtEr'?", "'IrON'?"
    ("halite", "halite looks like a name, not a formula: give its formula of element symbols, such as 'NaCl'"),
    ("water", "water looks like a name, not a formula"),
    ("iron", "iron looks like a name"),
    ("Hematite", "Hematite looks like a name"),         # was "element symbols start with a capital letter"
    ("sodium chloride", "sodium chloride looks like a name"),
    ("nacl", "did you mean 'NaCl'?"),                      # a short word of two-letter symbols is still respelled
    ("mp-19770", "a database id (Materials Project)"),
    ("Fe2O3(s)", "write 'Fe2O3'"),
    ("LiFePO4 (olivine)", "write 'LiFePO4'"),
    ("LiFePO4(T)", "(T) is a note, not part of the formula"),  # pymatgen read it as LiFePO4H, silently
    # a solid solution's shared site: "cannot parse formula: expected element symbols, amounts and brackets"
    ("(Li,Na)Cl", "a shared site (Li,Na) is not read: write each element's amount, such as 'Li0.5Na0.5Cl' for "
                  "equal shares"),
    ("(Fe, Mg)2SiO4", "such as 'FeMgSiO4' for equal shares"),
    # compounds joined: "cannot parse formula", or, with counts, taken for charges
    ("NaCl-KCl", "NaCl-KCl joins compounds (NaCl, KCl: a section between them, a sum or a composite), not one "
                 "composition: give each its own entry (row), or one point of the join as one formula, such as "
                 "'KNaCl2' (the parts summed)"),
    ("0.5Fe2O3-0.5Al2O3", "joins compounds (Fe2O3, Al2O3: a section between them"),
    ("Fe2O3 + NaCl", "joins compounds (Fe2O3, NaCl:"),
    ("LiFePO4/C", "joins compounds (LiFePO4, C:"),
    # a hydrate's dot typed as x was taken for a variable amount: "such as 'CuSO0.45H2O' for x = 0.1"
    ("CuSO4x5H2O", "a hydrate is written with a dot, not 'x' (read as a variable amount or no symbol): write "
                   "'CuSO4\u00b75H2O'"),
    ("CuSO4\u00d75H2O", "not '\u00d7'"),
])
def test_a_formula_that_cannot_be_read_is_told_what_it_is_and_what_to_write(formula, says):
    assert says in reason(formula)
    assert "invalid formula" not in reason(formula)         # pymatgen's words never reach the user


@pytest.mark.parametrize("formula, same_as", [
    ("LiFePO4 ", "LiFePO4"), ("Fe2O3\u00a0", "Fe2O3"), ("Fe\u2082O\u2083", "Fe2O3"), ("CaCO3\u00b7H2O", "CaCO4H2"),
    ("Fe0.947O", "Fe0.947O1"), ("CO", "C1O1"), ("COO", "CO2"), pytest.param("Ca(IO3)2", "CaI2O6", marks=BRACKETS),
    ("Cd2S", "Cd2S1"), ("Fe2O3  ", "Fe2O3"), pytest.param("(NH4)2SO4", "N2H8S1O4", marks=BRACKETS),
    ("CuSO4\u00b75H2O", "CuSO9H10"), ("CuSO4*5H2O", "CuSO9H10"),
    ("3CdSO4\u00b78H2O", "Cd3S3O20H16"),  # a count before the first part of a hydrate is its own
    ("Co", "Co1"), ("Fe0.95O", "Fe19O20"),
])
def test_what_was_read_is_still_read_the_same(formula, same_as):
    x, bad = parse_formulas([formula, same_as])
    assert bad == []
    np.testing.assert_allclose(x[0], x[1], atol=1e-7)


@pytest.mark.parametrize("formula, says", [
    ("Cu SO4 5H2O", "a number after a space is ambiguous"),  # its own reason stands: no respelling
    ("Xx2", "unknown element 'Xx'"),                          # no variable x
    ("Xx2O", "unknown element 'Xx'"),
    ("Xx", "unknown element 'Xx'"),                           # too short to be taken for a name
    ("", "empty formula"), ("  ", "empty formula"),
    ("D2O", "D is an isotope of hydrogen: write H"),
    ("(ND4)2SO4", "D is an isotope of hydrogen: write H"),  # was read as (NH4)2SO4 by pymatgen, silently

    ("HeO", "He is not one of ElemNet's 86 elements"),
    ("Fe3+2O3", "charges (oxidation states) are not read"),
])
def test_the_parsers_own_reason_stands_where_nothing_better_is_known(formula, says):
    assert reason(formula).startswith(says)


def test_predict_and_stability_name_the_same_problems(tmp_path, capsys):
    formulas = ["SO4 2-", "FE2O3", "mp-19770", "H2O(l)", "Fe2O3"]
    assert main(["-q", "predict", *formulas]) == 2
    err = capsys.readouterr().err
    assert "[formula 1] 'SO4 2-': charges (oxidation states) are not read" in err and "is an ion" in err
    assert "[formula 2] 'FE2O3': element symbols start with a capital letter" in err and "'Fe2O3'?" in err
    assert "[formula 3] 'mp-19770': a database id (Materials Project), not a formula" in err
    assert "[formula 4] 'H2O(l)': (l) is a phase label (liquid)" in err and "invalid formula" not in err
    pd.DataFrame({"formula": formulas, "energy": [-1, -1.7, -1, -1, -1.7]}).to_csv(tmp_path / "t.csv", index=False)
    assert main(["-q", "stability", str(tmp_path / "t.csv"), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "bad row 2 ('FE2O3'): element symbols start with a capital letter" in out
    assert "bad row 3 ('mp-19770'): a database id (Materials Project)" in out


def test_a_long_bad_formula_gets_a_message_of_one_short_line():
    """Capitals put right letter by letter recursed once a letter: 6,000 capitals raised
    RecursionError out of parse_formulas, which never raises for a bad entry."""
    x, bad = parse_formulas(["FE" * 3000, "Fe" * 50000 + "(l)", "Fe2O3"])
    assert [i for i, _, _ in bad] == [0, 1] and not np.isnan(x[2]).any()
    assert all(len(r) < 200 for _, _, r in bad)


def test_brackets_without_pymatgen_name_the_extra_as_a_shell_takes_it(monkeypatch):
    """The extra is quoted, as every other message quotes it: zsh reads an unquoted [materials] as a glob."""
    import sys

    monkeypatch.setitem(sys.modules, "pymatgen", None)
    monkeypatch.setitem(sys.modules, "pymatgen.core", None)
    assert reason("Ca(OH)2") == 'brackets need pymatgen (pip install "hullpack[materials]")'
