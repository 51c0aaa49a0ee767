"""Charge balance by known oxidation states (hullpack.oxidation), and where it shows: the screen's
vertices and summary, hullpack.stability.charge_balance and the stability command's lines."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hullpack.elements import ALL_ELEMENT_INDEX, ALL_ELEMENTS
from hullpack.oxidation import MAX_AMOUNT, _NEGATIVE, _POSITIVE, charge_balanced, charge_balanced_rows


@pytest.mark.parametrize("symbols, amounts, expected", [
    (["Na", "Cl"], [1, 1], True),
    (["Na", "Cl"], [1, 2], False),           # Cl takes -1 only
    (["Li", "O"], [1, 4], False),
    (["Li", "P", "O"], [2, 1, 4], False),     # P at most +5: Li2PO4 is one electron short
    (["Li", "P", "O"], [3, 1, 4], True),
    (["Fe", "O"], [3, 4], True),              # mixed valence: Fe2+ Fe3+2 O4
    (["Fe", "O"], [47, 53], True),            # wustite-like, mixed valence again
    (["Fe", "S"], [1, 2], True),              # pyrite: S -1 is an ICSD state
    (["Ba", "O"], [1, 2], False),             # a peroxide: O takes -2 only
    (["K", "O"], [1, 2], False),              # a superoxide
    (["Bi", "O", "Cl"], [1, 1, 1], True),     # two anions
    (["Na", "N", "O"], [1, 1, 3], True),      # N a cation beside O
    (["N", "H", "Cl"], [1, 4, 1], True),      # NH4Cl: N and Cl both anions
    (["Xe", "F"], [1, 2], True),              # Xe's only states are its common ones
    (["Fe", "Si"], [1, 1], None),             # a silicide: not checked
    (["Al", "C"], [4, 3], None),
    (["Na", "He"], [2, 1], None),
    (["O"], [2], None),
    (["Li", "Re", "Si", "Te"], [1, 1, 1, 1], False),  # Re and Si tie (1.9): both cations or both anions
])
def test_known_compositions(symbols, amounts, expected):
    assert charge_balanced(symbols, amounts) is expected


def test_a_common_factor_does_not_matter_and_zero_amounts_are_absent():
    assert charge_balanced(["Fe", "O"], [6, 8]) is charge_balanced(["Fe", "O"], [3, 4]) is True
    assert charge_balanced(["Na", "Cl", "Fe"], [1, 1, 0]) is True


def test_more_atoms_than_the_limit_are_not_checked():
    assert charge_balanced(["Na", "Cl"], [MAX_AMOUNT + 1, MAX_AMOUNT + 2]) is None
    assert charge_balanced(["Fe", "O"], [MAX_AMOUNT - 1, MAX_AMOUNT]) is True


@pytest.mark.parametrize("symbols, amounts, match", [
    (["Xx", "O"], [1, 1], "unknown element 'Xx'"),
    (["Na", "Cl"], [1.5, 1], "non-negative integer"),
    (["Na", "Cl"], [1], "one non-negative integer per symbol"),
    (["Na", "Cl"], [-1, 1], "non-negative integer"),
])
def test_bad_input_is_named(symbols, amounts, match):
    with pytest.raises(ValueError, match=match):
        charge_balanced(symbols, amounts)


def test_rows_agree_with_one_at_a_time():
    rng = np.random.default_rng(0)
    anions = [ALL_ELEMENT_INDEX[s] for s in ("O", "Cl", "S", "N", "F")]
    rows = [(rng.choice(100, 2, replace=False).tolist() + [int(rng.choice(anions))], rng.integers(1, 9, 3).tolist())
            for _ in range(300)]
    rows = [(e, a) for e, a in rows if len(set(e)) == 3]
    offsets = np.arange(0, 3 * len(rows) + 1, 3)
    got = charge_balanced_rows(offsets, np.concatenate([e for e, _ in rows]), np.concatenate([a for _, a in rows]))
    want = [charge_balanced([ALL_ELEMENTS[i] for i in e], a) for e, a in rows]
    assert got.tolist() == want
    assert {True, False} <= set(want)
    assert charge_balanced_rows(np.array([0]), np.array([], int), np.array([], int)).tolist() == []


def test_the_states_are_pymatgens():
    element = pytest.importorskip("pymatgen.core").Element
    import warnings
    from importlib.metadata import version

    from hullpack.oxidation import STATES_FROM

    if f"pymatgen {version('pymatgen')}" != STATES_FROM:
        pytest.skip(f"the states are {STATES_FROM}'s; pymatgen {version('pymatgen')} is installed")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for s in ALL_ELEMENTS:
            e = element(s)
            common_icsd = set(e.common_oxidation_states) | set(e.icsd_oxidation_states)
            assert set(_NEGATIVE[ALL_ELEMENT_INDEX[s]]) == {q for q in common_icsd if q < 0}, s
            assert set(_POSITIVE[ALL_ELEMENT_INDEX[s]]) == {q for q in common_icsd | set(e.oxidation_states) if q > 0}, s


def test_stability_charge_balance_keeps_the_index_and_leaves_bad_rows_na():
    from hullpack.stability import charge_balance

    df = pd.DataFrame({"formula": ["NaCl", "Xx2O", "Li0.5CoO2", "BaO2", "FeSi"]}, index=[5, 6, 7, 8, 9])
    got = charge_balance(df)
    assert got.dtype == "boolean" and list(got.index) == [5, 6, 7, 8, 9]
    assert got.tolist() == [True, pd.NA, True, False, pd.NA]


def test_the_screen_marks_its_vertices_and_counts_the_robust_unbalanced_ones():
    from hullpack.screening import screen
    from hullpack.screening.summary import ROBUST_DEPTH
    from hullpack.stability import charge_balance

    r = screen(elements="Li Na Cl O", order=2, progress=False, compare_dft=False)
    v = r.vertices
    assert v["charge_balanced"].dtype == "boolean"
    assert v["charge_balanced"].tolist() == charge_balance(v["formula"].tolist()).tolist()
    robust = (v["depth"] >= ROBUST_DEPTH) & ~v["end_artifact"].astype(bool)
    n = int((robust & ~v["charge_balanced"].fillna(True)).sum())
    assert n > 0  # the shipped model puts NaCl-rich or O-rich chlorides and oxides below the hull
    names = ", ".join(v.loc[robust & ~v["charge_balanced"].fillna(True), "formula"])
    assert 0 < n <= 8 and f"  {n:,} of the robust ones not charge-balanced ({names}): " in r.summary()


def test_the_stability_command_says_which_stable_ones_are_not_charge_balanced(tmp_path, capsys):
    from hullpack.cli import main

    # the shipped model's energies; FeSi is not checked (a silicide), LiO4 is not balanced
    main(["stability", "NaCl2", "Fe2O3", "FeSi", "LiO4", "--out", str(tmp_path / "out")])
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")}
    assert "not charge-balanced" in lines["NaCl2"] and "stable by" in lines["NaCl2"]
    assert "charge-balanced" not in lines["Fe2O3"] and "charge-balanced" not in lines["FeSi"]


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_the_column_is_read_back_as_saved(tmp_path, kind):
    from hullpack.screening import ScreenResult, screen

    if kind == "parquet":
        pytest.importorskip("pyarrow")
    r = screen(elements="Na Cl Fe Si", order=2, progress=False, compare_dft=False)
    assert r.vertices["charge_balanced"].isna().any() and (r.vertices["charge_balanced"] == False).any()  # noqa: E712
    r.save(tmp_path, csv=kind == "csv", parquet=kind == "parquet")
    back = ScreenResult.read(tmp_path).vertices["charge_balanced"]
    pd.testing.assert_series_equal(back, r.vertices["charge_balanced"])


def test_the_plotted_systems_line_names_its_unbalanced_compounds():
    from hullpack.screening import screen
    from hullpack.screening.summary import system_line

    r = screen(elements="Li Na Cl O Fe", order=2, progress=False, compare_dft=False)
    v = r.vertices
    for name in ("Cl-Na", "Li-O", "Fe-O"):
        mine = v[v["system"] == name]
        unbalanced = mine.loc[mine["charge_balanced"] == False, "formula"].tolist()  # noqa: E712
        line = system_line(r, name)
        assert ("; not charge-balanced: " + ", ".join(unbalanced) in line) if unbalanced else \
            "charge-balanced" not in line
    assert "LiO4" in system_line(r, "Li-O").partition("not charge-balanced: ")[2]  # the shipped model's LiO4
