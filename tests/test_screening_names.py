"""What a screen reports and how it names it: systems and formulas as pymatgen writes them, the
evidence-based defaults (grid, depth threshold) and the summary that separates robust predictions
from shallow ones."""

import numpy as np
import pandas as pd
import pytest

from hullpack.compositions import reduced_grid, systems, uniform_grid
from hullpack.elements import ALL_ELEMENTS, ELECTRONEGATIVITY, ELEMNET_ELEMENTS
from hullpack.errors import ScreeningError
from hullpack.screening import (DEFAULT_GRID, DEFAULT_MIN_DEPTH, grid_label, grid_spacing, resolve_grid, screen,
                                system_name)
from hullpack.screening.names import alphabetical_order, formula_of, formulas, system_names
from hullpack.screening.result import ROBUST_DEPTH
from test_screening import small_model  # a small random ElemNet whose hulls have vertices


@pytest.fixture(scope="module")
def binaries():
    """The default screen (grid and depth threshold) of a few elements."""
    return screen(small_model(), elements="Fe O Li Ni Al", points=True, progress=False)


# ------------------------------------------------------------------------------------------ names
def test_system_names_are_alphabetical_as_pymatgen_writes_them():
    table = systems(2)
    names = system_names(table)
    assert names[:3] == ["H-Li", "Be-H", "B-H"] and "Fe-O" in names and "O-Fe" not in names
    ordered = np.take_along_axis(table, alphabetical_order(table), axis=1)
    assert names == ["-".join(ELEMNET_ELEMENTS[i] for i in row) for row in ordered.tolist()]
    assert all(a < b for a, b in (n.split("-") for n in names))
    t3 = systems(3, "Fe O Li Ni")
    assert system_names(t3) == ["Fe-Li-O", "Li-Ni-O", "Fe-Li-Ni", "Fe-Ni-O"] == [system_name(n) for n in
                                                                                 ["Li-O-Fe", "O-Li-Ni", "Ni-Li-Fe", "O Ni Fe"]]
    pymatgen = pytest.importorskip("pymatgen.core")
    assert names == [pymatgen.Composition({ELEMNET_ELEMENTS[a]: 1, ELEMNET_ELEMENTS[b]: 1}).chemical_system
                     for a, b in table]


@pytest.mark.parametrize("name, why", [("Fe-O-", "an element symbol is empty"), ("-Fe-O", "an element symbol is empty"),
                                       ("Fe--O", "an element symbol is empty"), ("Fe,,O", "an element symbol is empty"),
                                       ("", "an element symbol is empty"), ("Fe-Fe", "repeated: Fe"),
                                       ("Fe-Ox", "unknown: Ox"), ("Fe", ""), ("Li-Fe-Mn-Co-O", "")])
def test_a_system_name_with_an_empty_or_bad_symbol_is_refused(name, why):
    """A trailing, leading or doubled separator is a mistake to report, not an empty symbol to skip:
    "Fe-O-" was screened as Fe-O."""
    with pytest.raises(ScreeningError, match="expected 2 to 4 distinct element symbols") as e:
        system_name(name)
    assert str(e.value).startswith(f"system {name!r}:") and str(e.value).endswith(why)


def test_system_names_take_any_separator_and_order():
    assert {system_name(n) for n in ["Fe-O", "O-Fe", "Fe O", " Fe,O ", "O, Fe", "Fe - O", "O  Fe"]} == {"Fe-O"}
    assert system_name("Ni, O, Fe") == "Fe-Ni-O"


def test_electronegativities_are_pymatgens():
    pymatgen = pytest.importorskip("pymatgen.core")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = [pymatgen.Element(s).X for s in ALL_ELEMENTS]
    assert np.array_equal(ELECTRONEGATIVITY, theirs, equal_nan=True)
    assert ALL_ELEMENTS[:86] == ELEMNET_ELEMENTS and [pymatgen.Element(s).Z for s in ALL_ELEMENTS[86:]] == sorted(
        {e.Z for e in pymatgen.Element if e.Z <= 118} - {pymatgen.Element(s).Z for s in ELEMNET_ELEMENTS})


@pytest.mark.parametrize("order, grid, step", [(2, reduced_grid(2, 12), 7), (2, uniform_grid(2, 100), 91),
                                               (3, reduced_grid(3, 8), 131), (3, uniform_grid(3, 12), 577)])
def test_formulas_are_pymatgens_reduced_formulas(order, grid, step):
    """Every composition of a grid in a spread of systems (pure elements, peroxides and polyanions
    included) is written as pymatgen's Composition.reduced_formula writes it."""
    pymatgen = pytest.importorskip("pymatgen.core")
    table = systems(order)[::step]
    s, p = np.divmod(np.arange(len(table) * len(grid)), len(grid))
    ours = formulas(table, grid, s, p)
    ref = [pymatgen.Composition({ELEMNET_ELEMENTS[e]: int(a) for e, a in zip(table[i], grid[j]) if a}).reduced_formula
           for i, j in zip(s, p)]
    assert ours.tolist() == ref
    assert [formula_of(table[i], grid[j]) for i, j in zip(s[::50], p[::50])] == ref[::50]


def test_formula_rules_by_example():
    idx = {s: i for i, s in enumerate(ELEMNET_ELEMENTS)}

    def f(**amounts):
        return formula_of([idx[e] for e in amounts], list(amounts.values()))

    assert f(O=3, Fe=2) == "Fe2O3" and f(O=61, Al=39) == "Al39O61" and f(Fe=50, O=50) == "FeO"
    assert f(Li=1, O=1) == "Li2O2" and f(H=1, O=1) == "H2O2" and f(O=4) == "O2" and f(Fe=3) == "Fe"   # pymatgen's specials
    assert f(Ca=1, N=2, O=6) == "Ca(NO3)2" and f(Li=1, Co=1, O=2) == "LiCoO2"    # a polyanion only with a shared factor
    assert f(Fe=1, Co=1) == "FeCo" and f(Co=1, Ni=3) == "CoNi3"                   # by electronegativity, not alphabet


@pytest.mark.parametrize("name, meant", [("Fe2O3", "Fe-O"), ("fe-o", "Fe-O"), ("FeO", "Fe-O"), ("LiFePO4", "Li-Fe-P-O"),
                                         ("li fe o", "Li-Fe-O"), ("Xx-O", None), ("CO", None)])
def test_a_formula_or_lower_case_symbols_given_as_a_system_name_the_system_meant(binaries, name, meant):
    """A formula (Fe2O3) or lower-case symbols were refused as unknown symbols; the message now
    names the system they most likely mean, where that is clear, also on the command line."""
    hint = f"; did you mean '{meant}'?"
    with pytest.raises(ScreeningError, match=r"expected 2 to 4 distinct element symbols") as e:
        binaries.system(name)
    assert str(e.value).endswith(hint) if meant else "did you mean" not in str(e.value)


def test_a_system_outside_the_screen_is_named_with_the_screens_systems(binaries):
    elements = " ".join(binaries.config["elements"])
    with pytest.raises(ScreeningError, match=rf"'Li-Fe-O' \(Fe-Li-O\) is not in this screen \(the binary systems of "
                                             rf"{elements}\)"):
        binaries.system("Li-Fe-O")


# --------------------------------------------------------------------------------- result tables
def test_tables_name_systems_and_formulas_as_chemists_do(binaries):
    s, v, p = binaries.systems, binaries.vertices, binaries.points
    assert "Fe-O" in s["system"].tolist() and not (s["system"] == "O-Fe").any()
    row = s[s.system == "Fe-O"].iloc[0]
    assert (row.A, row.B) == ("Fe", "O") and binaries.system("O-Fe")["system"] == "Fe-O"
    assert binaries.system("Fe-O").equals(row)
    with pytest.raises(ScreeningError, match=r"'O-Cu' \(Cu-O\) is not in this screen"):
        binaries.system("O-Cu")
    # the fractions follow the element columns: x_A of Fe-O is the fraction of Fe
    for _, r in v.iterrows():
        els = [ELEMNET_ELEMENTS.index(r.A), ELEMNET_ELEMENTS.index(r.B)]
        assert r.formula == formula_of(els, np.round(np.array([r.x_A, r.x_B]) * 2520).astype(int))
    pts = p[p.system == "Li-O"]
    assert (pts.A == "Li").all() and (pts.B == "O").all() and np.allclose(pts[["x_A", "x_B"]].sum(axis=1), 1)
    fe_o = p[(p.system == "Fe-O") & np.isclose(p.x_A, 0.4)]
    assert len(fe_o) == 1     # Fe2O3 is on the default grid (denominator 5)


def test_every_point_is_named_by_its_formula_in_every_format(binaries, tmp_path):
    """points.csv and points.parquet say which composition a row is, as the other tables write it."""
    pytest.importorskip("pyarrow")  # writes the tables as Parquet
    p, v, s = binaries.points, binaries.vertices, binaries.systems
    assert p.columns.tolist() == ["system", "A", "B", "x_A", "x_B", "formula", "energy", "e_above_hull", "is_vertex",
                                 "depth", "bf16"]
    for _, r in p.sample(40, random_state=0).iterrows():
        els = [ELEMNET_ELEMENTS.index(r.A), ELEMNET_ELEMENTS.index(r.B)]
        assert r.formula == formula_of(els, np.round(np.array([r.x_A, r.x_B]) * 2520).astype(int))
    fe_o = p[p.system == "Fe-O"].set_index("formula")
    assert fe_o.loc["Fe2O3", "x_B"] == pytest.approx(0.6) and {"Fe", "O2", "FeO", "Fe3O4"} <= set(fe_o.index)
    # the same compound as in vertices and in the systems' min_formula
    on_hull = p[p.is_vertex].merge(v, on=["system", "x_A", "x_B"])
    assert len(on_hull) == len(v) and (on_hull.formula_x == on_hull.formula_y).all()
    lowest = p.loc[p.groupby("system", sort=False)["energy"].idxmin()]
    below = s.min_energy < 0
    assert lowest.formula.tolist() == [f if b else lowest.formula.iloc[i] for i, (f, b) in
                                       enumerate(zip(s.min_formula, below))]
    binaries.save(tmp_path, groups=False)
    for back in (pd.read_csv(tmp_path / "points.csv"), pd.read_parquet(tmp_path / "points.parquet")):
        assert back["formula"].tolist() == p["formula"].tolist()


def test_plot_titles_and_axes_follow_the_names(binaries, tmp_path):
    pytest.importorskip("matplotlib")
    fig = binaries.plot_system("O-Fe")
    ax = fig.axes[0]
    assert ax.get_title() == "Fe-O: predicted vs DFT (OQMD) convex hull"
    assert ax.get_xlabel() == "fraction of O in Fe-O"
    # the predicted stable compounds are labelled with their formulas
    assert set(binaries.system("Fe-O")["stable"].split(";")) <= {t.get_text() for t in ax.texts} | {""}
    t = screen(binaries.model, order=3, elements="Fe O Li", grid=8, compare_dft=False, progress=False)
    fig3 = t.plot_system("O-Li-Fe")
    assert fig3.axes[0].get_title().startswith("Fe-Li-O:")
    corners = [a.get_text() for a in fig3.axes[0].texts][:3]  # written before the formulas
    assert corners == ["Fe", "Li", "O"]


# ---------------------------------------------------------------------------- defaults and grids
def test_defaults_are_the_evidence_based_ones(binaries):
    assert DEFAULT_GRID == {2: "reduced:10", 3: "reduced:10", 4: "reduced:10"} and DEFAULT_MIN_DEPTH == 0.010
    assert binaries.config["grid"] == "reduced:10" and binaries.config["min_depth"] == DEFAULT_MIN_DEPTH
    s, v = binaries.systems, binaries.vertices
    assert (s["n_points"] == 33).all() and (v["depth"] >= DEFAULT_MIN_DEPTH).all()
    assert s["n_vertices"].sum() >= s["n_stable"].sum() == len(v)
    # half the smallest spacing of the grid (1/9 - 1/10) is the default composition tolerance
    assert binaries.config["match_tol"] == pytest.approx(0.5 / 90)


def test_old_behaviour_by_option(binaries):
    old = screen(binaries.model, elements="Fe O Li Ni Al", grid="uniform:100", min_depth=0, progress=False)
    assert (old.systems["n_points"] == 101).all() and old.config["grid"] == "uniform:100"
    assert (old.systems["n_stable"] == old.systems["n_vertices"]).all()      # every vertex counts
    assert old.config["match_tol"] == pytest.approx(0.005)
    again = screen(binaries.model, elements="Fe O Li Ni Al", grid=100, min_depth=0, progress=False)
    assert again.vertices["formula"].tolist() == old.vertices["formula"].tolist()


def test_summary_separates_robust_from_shallow(binaries):
    text = binaries.summary()
    v, s = binaries.vertices, binaries.systems
    deep, end = v["depth"] >= ROBUST_DEPTH, v["end_artifact"]
    n, robust, within = len(v), int((deep & ~end).sum()), int((~deep).sum())
    shallow = int(s["n_vertices"].sum()) - n
    assert text.splitlines()[0].startswith("10 binary systems x 33 grid points (reduced:10), precision fp32")
    assert (f"predicted stable compounds: {n:,} in " in text
            and "hull vertices at least 10 meV/atom below the hull of the other points; "
                f"{shallow} shallower vert" in text)
    assert f"  {robust} robust (at least 50 meV/atom deep" in text and f"{within} within 50 meV/atom" in text
    assert robust + within + int((deep & end).sum()) == n     # deep end artifacts are not robust
    every = screen(binaries.model, elements="Fe O Li", min_depth=0, compare_dft=False, progress=False).summary()
    assert "(every hull vertex)" in every and "shallower" not in every


def test_robust_line_cites_the_screened_models_own_error(binaries):
    """The MAE the summary quotes is the screened model's, from its file's metadata; none without."""
    assert binaries.config["model_test_mae"] is None  # a model without hullpack's metadata
    # the deep end artifacts of this model are named after the MAE clause
    end = ", not counting the end artifacts below" if (binaries.vertices["end_artifact"]
                                                       & (binaries.vertices["depth"] >= ROBUST_DEPTH)).any() else ""
    for value, words in ((None, f"robust (at least 50 meV/atom deep{end}), "),
                         (0.042, f"robust (at least 50 meV/atom deep, more than the model's test MAE of 42 meV/atom{end}), "),
                         (0.080, f"; the model's test MAE of 80 meV/atom is larger, so these too may be noise{end}), ")):
        binaries.config["model_test_mae"] = value
        try:
            assert words in binaries.summary()
        finally:
            binaries.config["model_test_mae"] = None


def test_robust_line_cites_a_training_runs_validation_error(tmp_path):
    """A model of hullpack train records a validation MAE, no test MAE: the summary called its
    50-meV/atom-deep compounds robust, deeper than its error, whatever that error was. It now
    quotes the validation MAE, and says when it is larger than the depth."""
    from hullpack.elemnet import train

    rng = np.random.default_rng(0)
    x = rng.dirichlet(np.ones(86), 256).astype("float32")
    y = rng.normal(-1, 1, 256).astype("float32")   # energies it cannot learn: a large error
    run = tmp_path / "run"
    train(run, train_data=(x, y), val_data=(x, y), epochs=1, architecture="32x1-1", dropout=(), batch_size=128)
    r = screen(run, elements="Fe O Li", min_depth=0, compare_dft=False, progress=False)
    val = r.model.metadata["val_mae"]
    assert r.config["model_test_mae"] is None and val > 0.05 and len(r.vertices)
    assert f"; the model's validation MAE of {1000 * val:.0f} meV/atom is larger, so these too may be noise" in r.summary()


@pytest.mark.parametrize("order, spec, n_points", [(2, None, 33), (3, None, 205), (2, "reduced:4", 7), (2, 10, 11),
                                                   (2, "uniform:100", 101), (3, " reduced:6 ", 55), (3, "uniform:20", 231),
                                                   (2, "50", 51)])
def test_grid_specs(order, spec, n_points):
    assert len(resolve_grid(order, spec)) == n_points
    assert grid_label(order, spec) == (DEFAULT_GRID[order] if spec is None else
                                       f"uniform:{int(spec)}" if str(spec).isdigit() else spec.strip())


@pytest.mark.parametrize("spec, match", [("reduced:1", "too coarse"), ("uniform:1001", "too fine"), ("reduced", "expected"),
                                         ("reduced:x", "expected 'uniform:N'"), ("farey:10", "grid='farey:10'"),
                                         ("reduced:60", "grid='reduced:60': 1,103 points is more than the finest accepted grid")])
def test_bad_grid_specs_name_the_grid(spec, match):
    with pytest.raises(ScreeningError, match=match):
        resolve_grid(2, spec)


def test_grid_spacing():
    assert grid_spacing(uniform_grid(2, 100)) == 0.01 and grid_spacing(uniform_grid(3, 20)) == 0.05
    assert grid_spacing(reduced_grid(2, 10)) == pytest.approx(1 / 90)
    assert grid_spacing(reduced_grid(3, 6)) == pytest.approx(1 / 30)        # 1/5 vs 1/6 of one element
    assert grid_spacing(np.array([[1, 0], [0, 1]])) == 1.0


def test_cli_names_systems_and_formulas_as_chemists_do(tmp_path, capsys):
    """`hullpack screen --elements "Fe O Li"` with the shipped model: Fe-O, Fe2O3."""
    import pandas as pd

    from hullpack.cli import main

    assert main(["-q", "screen", "--elements", "Fe O Li", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("3 binary systems x 33 grid points (reduced:10), precision fp32")
    systems_ = pd.read_csv(tmp_path / "systems.csv")
    assert sorted(systems_["system"]) == ["Fe-Li", "Fe-O", "Li-O"]
    fe_o = systems_[systems_.system == "Fe-O"].iloc[0]
    assert "Fe2O3" in fe_o["stable"].split(";") and "FeO" in fe_o["stable"].split(";")
    vertices = pd.read_csv(tmp_path / "vertices.csv")
    assert (vertices["depth"] >= DEFAULT_MIN_DEPTH).all()
    assert vertices.loc[vertices.formula == "Fe2O3", ["A", "B", "x_A"]].values.tolist() == [["Fe", "O", 0.4]]


def test_cli_help_states_the_library_defaults(capsys):
    from hullpack.cli import main

    with pytest.raises(SystemExit):
        main(["screen", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"default {DEFAULT_GRID[2]}" in text and f"default {DEFAULT_MIN_DEPTH:g};" in text
