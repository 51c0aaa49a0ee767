"""hullpack.stability: input forms, bad input named per row, the compiled core's argument checks,
candidates, the model protocol, names, plots and the command line."""
import warnings

import numpy as np
import pandas as pd
import pytest

from hullpack import _core
from hullpack.errors import CompositionError, HullInputError
from hullpack.stability import (Reference, model_protocol, parse, parse_decomposition, stability,
                                stability_metrics)
from hullpack.stability.inputs import rationalize
from hullpack.naming import formulas, systems

FORMULAS = ["Fe2O3", "Fe3O4", "FeO", "FeO2", "NiO", "Ni2O3", "FeNi3", "FeNi", "NiFe2O4"]
ENERGIES = [-1.70, -1.62, -1.40, -0.90, -1.20, -0.80, -0.10, -0.05, -1.55]


def numeric(df):
    return df[["e_above_hull", "decomposition_energy"]].to_numpy()


# -- input forms -------------------------------------------------------------------------------


def test_every_input_form_gives_the_same_answer():
    pmg = pytest.importorskip("pymatgen.core")
    from pymatgen.analysis.phase_diagram import PDEntry

    base = stability(FORMULAS, ENERGIES)
    comps = [pmg.Composition(f) for f in FORMULAS]
    entries = [PDEntry(c, e * c.num_atoms) for c, e in zip(comps, ENERGIES)]
    df = pd.DataFrame({"formula": FORMULAS, "target": ENERGIES}, index=[f"id{i}" for i in range(len(FORMULAS))])
    amounts = np.array([[c["Fe"], c["O"], c["Ni"]] for c in comps])
    for other in (stability(comps, ENERGIES), stability(entries), stability(df),
                  stability(amounts, ENERGIES, elements=["Fe", "O", "Ni"]),
                  stability([dict(c.get_el_amt_dict()) for c in comps], ENERGIES)):
        assert np.allclose(numeric(other), numeric(base), atol=1e-12, rtol=0)
        assert other.formula.tolist() == base.formula.tolist()
        assert other.stable.tolist() == base.stable.tolist()
    assert stability(df).index.tolist() == df.index.tolist()  # the DataFrame's index is kept


def test_result_columns_and_names():
    t = stability(FORMULAS, ENERGIES)
    assert list(t.columns) == ["formula", "chemsys", "n_elements", "energy", "e_above_hull", "decomposition_energy",
                               "stable", "decomposition", "problem", "input"]
    assert t.loc[8, "formula"] == "Fe2NiO4" and t.loc[8, "chemsys"] == "Fe-Ni-O" and t.loc[8, "n_elements"] == 3
    assert t.problem.isna().all()


def test_same_composition_written_differently_is_one_composition():
    t = stability(["FeO", "Fe2O2", "Fe3O3", "Fe2O3"], [-1.2, -1.5, -1.25, -1.7])
    assert t.formula.tolist() == ["FeO", "FeO", "FeO", "Fe2O3"]
    # only the lowest of the three is a candidate for the hull; the others are its polymorphs
    assert t.stable.tolist() == [False, True, False, True]
    assert t.e_above_hull.round(12).tolist()[:3] == [0.3, 0.0, 0.25]
    # a polymorph's decomposition energy is against the other compositions (pymatgen's convention)
    assert t.loc[0, "decomposition_energy"] == pytest.approx(-1.2 - (-1.7 * 0.5 / 0.6))


def test_energy_column_and_argument_errors():
    df = pd.DataFrame({"formula": FORMULAS})
    with pytest.raises(ValueError, match="energies: none given"):
        stability(df)
    with pytest.raises(ValueError, match="energy column 'dH' is not among the table's columns \\['formula'\\]"):
        stability(df, "dH")
    with pytest.raises(ValueError, match="no composition column"):
        stability(pd.DataFrame({"x": [1]}), [0.0])
    with pytest.raises(ValueError, match=r"energies: expected 9 values"):
        stability(FORMULAS, ENERGIES[:3])
    with pytest.raises(ValueError, match="elements="):
        stability(np.ones((2, 2)), [0.0, 0.0])
    with pytest.raises(ValueError, match="elements: expected distinct symbols.*unknown: Xx"):
        stability(np.ones((2, 2)), [0.0, 0.0], elements=["Fe", "Xx"])
    with pytest.raises(ValueError, match="errors='loud'"):
        stability(FORMULAS, ENERGIES, errors="loud")
    with pytest.raises(ValueError, match="threads=-1"):
        stability(FORMULAS, ENERGIES, threads=-1)
    with pytest.raises(ValueError, match=r"threads=5000: expected an integer in 0\.\.4096"):  # the core's bound
        stability(FORMULAS, ENERGIES, threads=5000)


def test_rationalize_recovers_integer_amounts():
    total, amounts = rationalize(np.array([0, 2, 5]), np.float32([0.4, 0.6, 1 / 7, 2 / 7, 4 / 7]).astype(float),
                                 2.0 ** -22)
    assert total.tolist() == [5, 7] and amounts.tolist() == [2, 3, 1, 2, 4]
    total, _ = rationalize(np.array([0, 2]), np.array([np.pi / 4, 1 - np.pi / 4]), 1e-12)
    assert total.tolist() == [0]  # no integer amounts up to 10,000 atoms


def test_formulas_snap_to_exact_fractions():
    p = parse(["Fe2O3", "Fe4O6", "Li0.5CoO2"], [0.0, 0.0, 0.0])
    assert p.fractions[:2].tolist() == [0.6, 0.4] and p.fractions[2:4].tolist() == [0.6, 0.4]
    assert p.names.tolist() == ["Fe2O3", "Fe2O3", "Li(CoO2)2"]


def test_names_match_pymatgen():
    pmg = pytest.importorskip("pymatgen.core")
    from hullpack.elemnet import load_oqmd

    sample = load_oqmd("val")["formula"].sample(3000, random_state=0).tolist()
    sample += ["LiCo2O4", "O", "H2O2", "LiO", "Ca3P2O8", "NaO2", "Li3PO4", "N2", "Cl"]
    p = parse(sample, np.zeros(len(sample)))
    assert p.names.tolist() == [pmg.Composition(f).reduced_formula for f in sample]
    assert p.chemsys().tolist() == [pmg.Composition(f).chemical_system for f in sample]


def test_vectorised_names():
    assert formulas(np.array([0, 1, 3]), np.array([6, 0, 6]), np.array([3, 2, 2])).tolist() == ["O2", "H2O2"]
    assert systems(np.array([0, 0, 2]), np.array([22, 6])).tolist() == ["", "Fe-O"]


# -- bad input ---------------------------------------------------------------------------------


BAD = ["Fe2O3", "Xx2O", "", "FeO", "D2O", "Fe3O4", None, "Fe0O0", "NiO"]
BAD_E = [-1.7, -1.0, -1.0, -1.4, -1.0, -1.62, -1.0, -1.0, np.nan]


def test_bad_rows_are_named_and_the_rest_is_computed():
    with pytest.warns(UserWarning, match=r"6 of 9 input rows cannot be used"):
        t = stability(BAD, BAD_E)
    problems = t.problem.to_dict()
    assert problems[1] == "unknown element 'Xx'"
    assert problems[2] == "empty formula"
    assert problems[4] == "D is an isotope of hydrogen: write H"
    assert problems[6] == "formula is missing"
    assert problems[7] == "no atoms (all amounts are zero)"
    assert problems[8] == "energy is missing"
    ok = [0, 3, 5]
    assert t.iloc[[1, 2, 4, 6, 7, 8]].e_above_hull.isna().all() and t.iloc[[1, 2, 4, 6, 7, 8]].stable.isna().all()
    clean = stability([BAD[i] for i in ok], [BAD_E[i] for i in ok])
    assert np.array_equal(numeric(t.iloc[ok]), numeric(clean))
    with pytest.raises(CompositionError, match=r"\[1\] 'Xx2O': unknown element 'Xx'") as err:
        stability(BAD, BAD_E, errors="raise")
    assert [b[0] for b in err.value.bad] == [1, 2, 4, 6, 7, 8]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stability(BAD, BAD_E, errors="ignore")  # no warning


def test_infinite_energies_and_an_empty_set():
    t = stability(["FeO", "Fe2O3"], [np.inf, -1.7], errors="ignore")
    assert t.problem[0] == "energy is not finite (inf)" and t.stable[1]
    empty = stability([], [])
    assert len(empty) == 0 and list(empty.columns)[0] == "formula"


def test_a_candidate_with_an_element_the_reference_lacks():
    ref = Reference(FORMULAS, ENERGIES)
    with pytest.warns(UserWarning, match="no reference entry contains Al"):
        t = ref.evaluate(["FeAlO3", "Fe2NiO4", "AlCuO2", "Xq"], [-2.0, -1.7, -1.0, 0.0])
    assert t.problem[0] == "no reference entry contains Al"
    assert t.problem[2] == "no reference entry contains Al, Cu"
    assert t.problem[3] == "unknown element 'Xq'"
    assert t.stable[1] and t.problem[1] is None


def test_a_space_of_elements_only():
    t = stability(["Fe", "O", "Fe"], [-0.1, 0.2, 0.0])
    # each element's reference is its lowest entry, whatever its energy
    assert t.stable.tolist() == [True, True, False]
    assert t.e_above_hull.tolist() == [0.0, 0.0, 0.1]
    assert t.decomposition_energy.tolist() == pytest.approx([0.0, 0.0, 0.1])
    assert t.decomposition.tolist() == ["1.0 Fe", "1.0 O2", "1.0 Fe"]


def test_mixed_references_warn():
    with pytest.warns(UserWarning, match="elemental entries are given for Fe but not for O"):
        Reference(["Fe", "FeO"], [0.5, -1.4])
    # formation energies: an element's entry at 0 is the reference the others are taken at, no mix
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Reference(["Fe", "FeO", "NiO"], [0.0, -1.4, -1.2])


def test_total_energies_without_their_elements_are_refused():
    """An element without an entry is taken at 0 eV/atom: right for formation energies only."""
    with pytest.raises(HullInputError, match=r"elements below 0 eV/atom \(Fe -8.000\): these look like total "
                                             r"energies, but no elemental entries give the references of O"):
        Reference(["Fe", "FeO"], [-8.0, -10.0])
    with pytest.raises(HullInputError, match=r"median energy -9.00 eV/atom: these look like total energies, but "
                                             r"no elemental entries give the references of O, Fe"):
        Reference(["Fe2O3", "FeO"], [-8.0, -10.0])
    with pytest.raises(HullInputError, match="references of Fe, Ni"):
        stability(["Fe3Ni", "FeNi3", "FeNi"], [-8.2, -6.9, -7.4])
    with pytest.raises(HullInputError, match="candidates: median energy -5.65 eV/atom: .* the reference's are "
                                             "formation energies"):
        stability(["Li2O", "LiFeO2"], [-4.8, -6.5], reference=Reference(["Li2O", "Fe2O3"], [-2.0, -1.7]))
    # with every element's entry, total energies are fine
    assert stability(["Fe", "O2", "FeO"], [-8.3, -4.9, -7.0]).stable.tolist() == [True, True, True]


# -- the compiled core never crashes on garbage ------------------------------------------------


def csr(rows):
    off, el, fr = [0], [], []
    for e, f in rows:
        el += e
        fr += f
        off.append(len(el))
    return np.array(off, np.int64), np.array(el, np.int32), np.array(fr, np.float64)


@pytest.mark.parametrize("change, match", [
    (lambda a: (a[0].astype(np.int32),) + a[1:], "entries offsets: expected dtype int64"),
    (lambda a: (a[0][::-1].copy(),) + a[1:], r"entries offsets\[0\] must be 0"),
    (lambda a: (np.array([0, 2, 2, 3]),) + a[1:3] + (np.zeros(3),), "entries row 1 has no elements"),
    (lambda a: (a[0], np.array([6, 200, 6], np.int32)) + a[2:], r"entries row 0: element id 200 is out of range"),
    (lambda a: (a[0], np.array([22, 6, 6], np.int32)) + a[2:], "entries row 0: element ids must be strictly ascending"),
    (lambda a: a[:2] + (np.array([0.5, 0.6, 1.0]),) + a[3:], "entries row 0: fractions sum to 1.1"),
    (lambda a: a[:2] + (np.array([0.5, np.nan, 1.0]),) + a[3:], "entries row 0: fraction of element 22"),
    (lambda a: a[:2] + (np.array([1.5, -0.5, 1.0]),) + a[3:], "must be finite and > 0"),
    (lambda a: a[:3] + (np.array([0.0, np.nan]),), r"entries row 1: energy is not finite"),
    (lambda a: a[:3] + (np.zeros(5),), "entries energies: expected 2 values"),
    (lambda a: (a[0], a[1][:2]) + a[2:], r"entries elements: expected 3 values"),
    (lambda a: a[:3] + ([0.0, 0.0],), "entries energies: expected a numpy array"),
    (lambda a: a[:3] + (np.zeros((2, 1)),), "entries energies: expected a 1-D array"),
])
def test_core_rejects_bad_arrays(change, match):
    good = csr([([6, 22], [0.6, 0.4]), ([6], [1.0])]) + (np.array([-1.7, 0.0]),)
    _core.StabilityHulls(*good)
    with pytest.raises(ValueError, match=match):
        _core.StabilityHulls(*change(good))


def test_core_rejects_bad_queries_and_options():
    hulls = _core.StabilityHulls(*csr([([6, 22], [0.6, 0.4])]), np.array([-1.7]))
    with pytest.raises(ValueError, match="tol: must be finite and >= 0"):
        _core.StabilityHulls(*csr([([6, 22], [0.6, 0.4])]), np.array([-1.7]), tol=-1.0)
    with pytest.raises(ValueError, match="tol: expected a number"):
        _core.StabilityHulls(*csr([([6, 22], [0.6, 0.4])]), np.array([-1.7]), tol="1")
    with pytest.raises(ValueError, match=r"indices\[1\] = 5 is out of range"):
        hulls.query_entries(np.array([0, 5], dtype=np.int64))
    with pytest.raises(ValueError, match="n_threads: expected an integer"):
        hulls.query_entries(None, n_threads=1.5)
    with pytest.raises(ValueError, match="queries row 0: fractions sum to 0.9"):
        hulls.query(*csr([([6, 22], [0.5, 0.4])]), np.array([0.0]))
    r = hulls.query(*csr([([6, 22], [0.5, 0.5]), ([0, 6], [0.5, 0.5])]), np.array([-2.0, -1.0]))
    assert r["status"].tolist() == [0, 1]  # element 0 (H): no entry contains it
    assert r["stable"].tolist() == [True, True]
    with pytest.raises(HullInputError, match="entries row 0"):
        Reference._from_parsed(parse(["FeO"], [0.0]).__class__(
            np.array([0, 2]), np.array([22, 6], np.int32), np.array([0.5, 0.5]), np.array([0.0]),
            np.array(["FeO"], dtype=object), {}, pd.RangeIndex(1), []), 1e-9, 0)


# -- candidates --------------------------------------------------------------------------------


def test_candidates_do_not_see_each_other_unless_joined():
    ref = Reference(FORMULAS, ENERGIES)
    cands = ["Fe5O7", "Fe5O7", "Fe2O3"]
    alone = ref.evaluate(cands, [-1.7, -1.8, -1.9])
    assert alone.stable.tolist() == [True, True, True]  # each beats the reference alone
    joined = ref.evaluate(cands, [-1.7, -1.8, -1.9], join=True)
    assert joined.stable.tolist() == [False, False, True]  # together, Fe2O3 at -1.9 takes the hull
    assert stability(cands, [-1.7, -1.8, -1.9], reference=ref).equals(alone)
    # a candidate polymorph above a reference compound is not stable; below it is
    poly = ref.evaluate(["Fe2O3", "Fe2O3"], [-1.65, -1.75])
    assert poly.stable.tolist() == [False, True]
    assert poly.e_above_hull.round(12).tolist() == [0.05, 0.0]
    with pytest.raises(ValueError, match="tol=0.1: the reference was built with tol=1e-09"):
        stability(cands, [0.0] * 3, reference=ref, tol=0.1)
    with pytest.raises(ValueError, match="reference='ref.csv': expected 'oqmd'"):
        stability(cands, [0.0] * 3, reference="ref.csv")


def test_a_reference_is_reusable_and_queries_are_chunked():
    ref = Reference(FORMULAS, ENERGIES)
    rng = np.random.default_rng(0)
    amounts = rng.integers(0, 5, (70000, 3)).astype(float)
    amounts[amounts.sum(axis=1) == 0, 0] = 1
    e = rng.uniform(-2, 0, len(amounts))
    e[(amounts > 0).sum(axis=1) == 1] = 0.0  # elements below 0 would be total energies
    whole = ref.evaluate(amounts, e, elements=["Fe", "O", "Ni"], progress_bar=False)
    chunked = ref.evaluate(amounts, e, elements=["Fe", "O", "Ni"], progress_bar=True)
    assert whole.equals(chunked)


# -- the model protocol ------------------------------------------------------------------------


def test_model_protocol_counts_and_baseline():
    r = model_protocol(FORMULAS, ENERGIES, predicted=[-1.5, -1.66, -1.5], subset=[0, 1, 2])
    m = r.metrics.loc["all"]
    assert (m.tp, m.fp, m.fn, m.tn) == (1, 1, 1, 0)
    assert m.baseline_precision == pytest.approx(2 / 3) and m.baseline_f1 == pytest.approx(0.8)
    assert m.mae_energy == pytest.approx((0.2 + 0.04 + 0.1) / 3)
    assert r.table.index.tolist() == [0, 1, 2]
    # the same through a mask, full-length predictions, and a model object
    mask = np.zeros(len(FORMULAS), bool)
    mask[:3] = True
    full = np.array(ENERGIES)
    full[:3] = [-1.5, -1.66, -1.5]
    assert model_protocol(FORMULAS, ENERGIES, predicted=full, subset=mask).table.equals(r.table)

    class Model:
        def predict(self, x):
            assert x.shape == (3, 86) and x.dtype == np.float32
            return np.array([-1.5, -1.66, -1.5])

    assert model_protocol(FORMULAS, ENERGIES, model=Model(), subset=[0, 1, 2]).table.equals(r.table)
    assert "F1 0.500" in r.summary()


def test_model_protocol_truth_is_the_dft_set_and_join_false_is_each_alone():
    r = model_protocol(FORMULAS, ENERGIES, predicted=ENERGIES, subset=[0, 1, 2, 3])
    assert (r.table.stable_dft == r.table.stable_model).all()
    assert r.metrics.loc["all", "mae_decomposition_energy"] == 0
    truth = stability(FORMULAS, ENERGIES).iloc[:4]
    assert np.array_equal(r.table.decomposition_energy_dft.to_numpy(), truth.decomposition_energy.to_numpy())
    alone = model_protocol(FORMULAS, ENERGIES, predicted=ENERGIES, subset=[0, 1, 2, 3], join=False)
    outside = Reference(FORMULAS[4:], ENERGIES[4:])
    expect = outside.evaluate(FORMULAS[:4], ENERGIES[:4])
    assert np.array_equal(alone.table.decomposition_energy_dft.to_numpy(), expect.decomposition_energy.to_numpy())


def test_model_protocol_alone_names_an_element_only_the_subset_has():
    r = model_protocol(FORMULAS + ["Al2O3"], ENERGIES + [-3.4], predicted=[-1.7, -3.3], subset=[0, 9], join=False)
    assert r.table.problem.tolist() == [None, "no reference entry contains Al"]
    assert r.metrics.loc["all", "n"] == 1


def test_model_protocol_leaves_out_copies_of_subset_compounds():
    """Test compounds drawn from the set they are judged against (OQMD's test split against OQMD)
    each sat beside their own copy: on the hull, never stable, so no compound was DFT-stable. A copy
    outside the subset (same composition, energy within COPY_TOL) is left out and counted; a polymorph
    at another energy, an element and a copy farther than COPY_TOL stay."""
    from hullpack.stability.protocol import COPY_TOL, subset_copies

    test = ["Fe3O4", "FeO", "NiO"]
    e_test = [-1.65, -1.45, -1.20]
    # the rest: two copies of Fe3O4 (within COPY_TOL; Fe6O8 is its composition), FeO's copy and a higher
    # FeO polymorph, NiO 2*COPY_TOL lower (no copy)
    rest = ["Fe2O3", "Fe3O4", "Fe6O8", "FeO", "FeO", "NiO", "Fe", "O"]
    e_rest = [-1.70, -1.65 + COPY_TOL / 2, -1.65, -1.45, -1.30, -1.20 - 2 * COPY_TOL, 0.0, 0.0]
    formulas, dft = test + rest, e_test + e_rest
    assert subset_copies(parse(formulas, dft), [0, 1, 2]).tolist() == [4, 5, 6]
    kept = [0, 1, 2, 3, 7, 8, 9, 10]  # without the copies
    for join in (True, False):
        r = model_protocol(formulas, dft, predicted=[-1.60, -1.50, -1.25], subset=[0, 1, 2], join=join)
        assert r.copies == 3
        alone = model_protocol([formulas[i] for i in kept], [dft[i] for i in kept],
                               predicted=[-1.60, -1.50, -1.25], subset=[0, 1, 2], join=join)
        assert alone.copies == 0
        assert r.table.equals(alone.table) and r.metrics.equals(alone.metrics)
        # the summary says so (the CLI's --compare prints it); none left out, no such line
        assert r.summary().splitlines()[-1] == (
            "3 entries of the rest of the set left out as copies of the subset's compounds (the same composition, "
            "energy within 5e-05 eV/atom): their rows stand for them")
        assert "left out as" not in alone.summary()
        # Fe3O4 and FeO are DFT-stable again (kept, each was on the hull beside its copy); NiO is not
        # (the other NiO lies 1e-4 eV/atom below it: no copy, a lower entry)
        assert r.table.stable_dft.tolist() == [True, True, False]
    # against the rest with its copies, none of the three is stable: what the rule is for
    assert Reference(rest, e_rest).evaluate(test, e_test).stable.tolist() == [False, False, False]


def test_model_protocol_bad_input():
    with pytest.raises(ValueError, match="predicted: expected 2 values"):
        model_protocol(FORMULAS, ENERGIES, predicted=[0.0], subset=[0, 1])
    with pytest.raises(ValueError, match="give either predicted= .* or model="):
        model_protocol(FORMULAS, ENERGIES, subset=[0])
    with pytest.raises(ValueError, match=r"subset: row positions must lie in \[0, 9\)"):
        model_protocol(FORMULAS, ENERGIES, predicted=[0.0], subset=[9])
    r = model_protocol(FORMULAS, ENERGIES, predicted=[np.nan, -1.6], subset=[0, 1])
    assert r.table.problem[0] == "prediction is not finite (nan)"
    assert r.metrics.loc["all", "n"] == 1


def test_stability_metrics_by_number_of_elements():
    m = stability_metrics([True, False, True], [True, True, False], [-0.1, 0.2, -0.3], [-0.2, -0.1, 0.1], [2, 2, 3])
    assert m.index.tolist() == ["all", 2, 3]
    assert m.loc[2, "precision"] == 0.5 and np.isnan(m.loc[3, "precision"]) and m.loc[3, "recall"] == 0


def test_parse_decomposition():
    assert parse_decomposition("0.5 Ca3(PO4)2 + 0.5 O2") == {"Ca3(PO4)2": 0.5, "O2": 0.5}
    assert parse_decomposition(None) == {}


# -- plots and the command line ----------------------------------------------------------------


def test_plots(tmp_path):
    pytest.importorskip("matplotlib")
    from hullpack.stability.plot import plot_space, space_table

    ref = Reference(FORMULAS + ["Al2O3", "FeAlO3", "NiAl", "FeNiAlO4"], ENERGIES + [-3.4, -2.5, -0.6, -2.0])
    cands = ref.evaluate(["Fe5O7", "FeNi2O4"], [-1.9, -1.0])
    plot_space(ref, "O-Fe", tmp_path / "a.png", candidates=cands)
    plot_space(ref, "Fe-Ni-O", tmp_path / "b.png", candidates=cands)
    assert (tmp_path / "a.png").stat().st_size > 0 and (tmp_path / "b.png").stat().st_size > 0
    with pytest.raises(ValueError, match="only binary and ternary spaces are drawn"):
        plot_space(ref, "Al-Fe-Ni-O")
    t = space_table(ref, "Al-Fe-Ni-O")
    assert len(t) == 13 and "x_Al" in t and t.decomposition_energy.is_monotonic_increasing
    with pytest.raises(ValueError, match="unknown: Qq"):
        space_table(ref, "Fe-Qq")


def cli(*argv):
    from hullpack.cli import main

    return main(["-q", "stability", *map(str, argv)])


def test_cli_own_stability_and_against_a_reference(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    pytest.importorskip("pyarrow")  # --format both writes Parquet too
    pd.DataFrame({"formula": FORMULAS, "energy": ENERGIES}).to_csv(tmp_path / "ref.csv", index=False)
    pd.DataFrame({"formula": ["Fe5O7", "FeNi2O4", "Xx"], "energy": [-1.9, -1.0, 0.0]}).to_csv(
        tmp_path / "c.csv", index=False)
    assert cli(tmp_path / "ref.csv", "--out", tmp_path / "own", "--format", "csv", "--plot", "Fe-O") == 0
    out = capsys.readouterr().out
    assert "9 compositions" in out and "stable: 4 of 9" in out
    own = pd.read_csv(tmp_path / "own" / "stability.csv")
    assert own.stable.tolist() == stability(FORMULAS, ENERGIES).stable.tolist()
    assert (tmp_path / "own" / "Fe-O.png").is_file() and (tmp_path / "own" / "summary.txt").is_file()
    assert cli(tmp_path / "c.csv", "--reference", tmp_path / "ref.csv", "--out", tmp_path / "vs", "--plot",
               "Fe-Ni-O", "--format", "both") == 0
    out = capsys.readouterr().out
    assert "\n1 bad row, see the 'problem' column:\n" in out and "unknown element 'Xx'" in out
    vs = pd.read_parquet(tmp_path / "vs" / "stability.parquet")
    assert vs.stable.tolist()[:2] == [True, False]
    assert (tmp_path / "vs" / "Fe-Ni-O.png").is_file()


def test_cli_model_and_compare(tmp_path, capsys):
    pytest.importorskip("pyarrow")  # reads the Parquet tables it writes
    pd.DataFrame({"formula": FORMULAS}).to_csv(tmp_path / "f.csv", index=False)
    assert cli(tmp_path / "f.csv", "--out", tmp_path / "m") == 0  # no energies: the shipped model
    assert "ElemNet predictions (default, as FILE has no energy column); elements at 0 eV/atom" in capsys.readouterr().out
    pd.DataFrame({"formula": FORMULAS, "energy": ENERGIES}).to_csv(tmp_path / "e.csv", index=False)
    assert cli(tmp_path / "e.csv", "--out", tmp_path / "p", "--compare", "--model", "default") == 0
    out = capsys.readouterr().out
    assert "stable class: precision" in out
    # what the numbers compare is said first: the file, its DFT column, the model, the hulls
    assert out.startswith(f"hullpack stability --compare: the compounds of {tmp_path / 'e.csv'}\n"
                          "DFT energies: column 'energy'; model energies: ElemNet predictions (default) of the "
                          "compounds, elements keeping their DFT energies")
    assert "\nagainst: each other\n" in out
    assert (tmp_path / "p" / "summary.txt").read_text().startswith("hullpack stability --compare")
    assert (tmp_path / "p" / "protocol.parquet").is_file()
    # the rows are named: all compounds, then by number of elements (the column was unnamed, "Unnamed: 0")
    metrics = pd.read_csv(tmp_path / "p" / "metrics.csv")
    assert metrics.columns[0] == "n_elements" and metrics.n_elements.iloc[0] == "all"
    assert cli(tmp_path / "f.csv", "--model", "none", "--out", tmp_path / "x") == 2
    assert "has no energy column" in capsys.readouterr().err
    assert cli(tmp_path / "f.csv", "--compare", "--out", tmp_path / "x") == 2
    assert "--compare needs DFT energies" in capsys.readouterr().err
    assert cli(tmp_path / "e.csv", "--compare", "--out", tmp_path / "x") == 2  # DFT energies, no model
    assert "--compare needs a model whose energies replace the DFT energies: add --model default" in \
        capsys.readouterr().err
    assert cli(tmp_path / "missing.csv", "--out", tmp_path / "x") == 2
    assert "no such file" in capsys.readouterr().err
    assert cli(tmp_path / "e.csv", "--join", "--out", tmp_path / "x") == 2
    assert "--join needs --reference" in capsys.readouterr().err


def test_the_shipped_oqmd_reference_is_parsed_once_and_cached(tmp_path, monkeypatch):
    """Reference.oqmd's parsed rows come from a disk cache after the first time, equal to a parse."""
    from hullpack.elemnet.data import load_oqmd
    from hullpack.stability import Reference
    from hullpack.stability.hulls import _oqmd_parsed
    from hullpack.stability.inputs import parse

    monkeypatch.setenv("HULLPACK_CACHE_DIR", str(tmp_path))
    fresh = _oqmd_parsed(("val",))
    assert len(list(tmp_path.glob("oqmd-parsed-val-*.npz"))) == 1
    cached = _oqmd_parsed(("val",))
    direct = parse(load_oqmd("val"), "target")
    for p in (fresh, cached):
        for field in ("offsets", "elements", "fractions", "energies"):
            np.testing.assert_array_equal(getattr(p, field), getattr(direct, field))
        assert p.names.dtype == direct.names.dtype and (p.names == direct.names).all()
        assert p.texts == direct.texts and p.problems == direct.problems and p.index.equals(direct.index)
    ref = Reference.oqmd("val")
    assert len(ref) == len(direct) and ref.stability().equals(Reference(load_oqmd("val"), "target").stability())


def test_the_protocol_table_keeps_the_composition_as_written():
    """The table names each compound by its reduced formula; ``input`` keeps what was written
    (Fe0.95O is Fe19O20, Fe2O2 is FeO), as in stability()'s table."""
    r = model_protocol(["Fe2O3", "Fe0.95O", "Fe2O2", "Fe", "O2"], [-1.7, -1.35, -1.4, 0.0, 0.0],
                       predicted=[-1.65, -1.3, -1.45], subset=[0, 1, 2])
    assert r.table[["formula", "input"]].values.tolist() == [["Fe2O3", "Fe2O3"], ["Fe19O20", "Fe0.95O"],
                                                              ["FeO", "Fe2O2"]]


def test_cli_compare_of_typed_energies_says_they_were_typed(tmp_path, capsys):
    """Energies typed with the formulas (Fe2O3=-1.7) were called "column 'formation_energy_per_atom'",
    a column the user never had, and the compounds "of the command line"; without --model the refusal
    asked for "DFT energies in FILE", which the user had given."""
    typed = ["Fe2O3=-1.7", "Fe3O4=-1.62", "FeO=-1.4", "Fe=0", "O2=0"]
    assert cli(*typed, "--compare", "--reference", "none", "--out", tmp_path / "x") == 2
    err = capsys.readouterr().err
    assert "add --model default" in err and "FILE" not in err
    assert cli("Fe2O3", "FeO", "--compare", "--model", "default", "--out", tmp_path / "x") == 2
    assert "--compare needs DFT energies to compare the model's with: the command line has none (give each " \
        "formula its own, FORMULA=ENERGY)" in capsys.readouterr().err
    assert cli(*typed, "--compare", "--model", "default", "--reference", "none", "--out", tmp_path / "o") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "hullpack stability --compare: the formulas given on the command line"
    assert out[1].startswith("DFT energies: given on the command line; model energies: ElemNet predictions (default)")
    assert "column" not in out[1]


def test_a_subset_row_that_could_not_be_read_stays_in_the_protocol(tmp_path, capsys):
    """A subset row whose formula could not be read (Xx2O) vanished from the protocol table and the
    summary's count, as if it were an element; --compare did not name it, where the plain summary
    does. It stays, with its problem, and --compare lists the bad rows by their number in FILE."""
    pytest.importorskip("pyarrow")  # reads the Parquet tables it writes
    r = model_protocol(["Fe2O3", "FeO2", "Xx2O", "Fe", "O2"], [-1.7, -0.5, -1.0, 0.0, 0.0], predicted=[-0.4, -1.0],
                       subset=[1, 2], errors="ignore")
    assert r.table.input.tolist() == ["FeO2", "Xx2O"] and r.table.problem.tolist() == [None, "unknown element 'Xx'"]
    assert r.metrics.loc["all", "n"] == 1
    assert "1 of the subset's compounds left out (see the table's 'problem' column)" in r.summary().splitlines()
    pd.DataFrame({"formula": ["Fe2O3", "Fe3O4", "Xx2O", "FeO", "Fe", "O2", "FeO2"],
                  "energy": ["-1.7", "-1.62", "-1.0", "-1.4", "0", "0", "abc"]}).to_csv(tmp_path / "b.csv", index=False)
    assert cli(tmp_path / "b.csv", "--compare", "--model", "default", "--out", tmp_path / "o") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-4:-1] == [f"2 of {tmp_path / 'b.csv'}'s compounds left out (see the table's 'problem' column)",
                          "  bad row 3 ('Xx2O'): unknown element 'Xx'", "  bad row 7 ('FeO2'): energy 'abc' is not a number"]
    assert pd.read_parquet(tmp_path / "o" / "protocol.parquet").input.tolist() == ["Fe2O3", "Fe3O4", "Xx2O", "FeO", "FeO2"]


def test_the_protocol_summary_writes_a_ratio_without_a_denominator_as_a_dash():
    """With no compound stable by DFT nor by the model, precision, recall and F1 have no denominator:
    the summary printed "nan"; now "-" as the docs' table writes it, with what it means."""
    r = model_protocol(["Fe2O3", "FeO2", "Fe", "O2"], [-1.7, -0.5, 0, 0], predicted=[-0.4], subset=[1])
    lines = r.summary().splitlines()
    assert lines[1] == ("stable class: precision -, recall -, F1 -, accuracy 1.000 (all-stable baseline: F1 0.000, "
                        "accuracy 0.000); '-': no compound stable by DFT or by the model to count from")
    assert lines[3] == "by number of elements: 2: F1 - (n=1)" and "nan" not in r.summary()
    bad = model_protocol(["Fe2O3", "Xx2O", "Fe", "O2"], [-1.7, -0.5, 0, 0], predicted=[-0.4], subset=[1],
                         errors="ignore")
    assert bad.summary().splitlines() == ["no compound with model energies to compare",
                                          "1 of the subset's compounds left out (see the table's 'problem' column)"]
