"""What a chemist reads in a screen: stable compounds that owe their depth to an element end pinned
at 0 (``end_artifact``), the order of the stable formulas, ``min_formula``, agreement counted where
there is something to agree on, DFT files of other databases (OPTIMADE answers among them) and a DFT
set with nothing to compare, said in the command line's own words."""
import json
import re

import numpy as np
import pandas as pd
import pytest
import torch

from hullpack.cli import main
from hullpack.columns import COMPOSITION_COLUMNS, ENERGY_COLUMNS, OPTIMADE_COMPOSITION_COLUMNS
from hullpack.elemnet import save_model
from hullpack.elements import ELEMENT_INDEX, N_ELEMENTS
from hullpack.screening import screen
from hullpack.screening.dft import DFTCompounds


@pytest.fixture(scope="module")
def halides():
    """The shipped model's default screen of Li Na K F Cl (it puts pure F at -1.10 eV/atom)."""
    return screen(elements="Li Na K F Cl", progress=False)


def hull_of_others(x, e, ends, at):
    """The lower hull of a binary's points other than ``at`` at the composition of ``at``: the
    lowest chord over it between two other points or element ends (``ends``: energies at x = 0
    and x = 1), by brute force."""
    xs = np.r_[0.0, np.delete(x, at), 1.0]
    es = np.r_[ends[0], np.delete(e, at), ends[1]]
    lo, hi = xs < x[at], xs > x[at]
    xa, xb, ea, eb = xs[lo][:, None], xs[hi][None, :], es[lo][:, None], es[hi][None, :]
    return float((ea + (eb - ea) * (x[at] - xa) / (xb - xa)).min())


# ---------------------------------------------------------------------------- end artifacts
def test_compounds_next_to_an_element_the_model_puts_below_0_are_flagged(halides):
    v = halides.vertices.set_index("formula")
    mu_f = halides.config["element_energies"]["F"]
    assert mu_f < -1.0                                         # the model's own pure F
    for formula in ("LiF9", "NaF9", "KF9", "ClF9"):            # stable only because F's end is at 0
        assert v.loc[formula, "end_artifact"] and v.loc[formula, "end_element"] == "F"
        assert v.loc[formula, "depth"] >= 0.05 > v.loc[formula, "end_depth"]
    for formula in ("LiF", "NaF", "KF", "LiCl", "NaCl", "KCl"):
        assert not v.loc[formula, "end_artifact"] and v.loc[formula, "end_element"] == ""
        assert v.loc[formula, "end_depth"] >= halides.config["min_depth"]
    # flagged vertices stay stable compounds (n_stable, stable, vertices) and are counted apart
    s = halides.systems.set_index("system")
    assert s["n_stable"].sum() == len(halides.vertices)
    assert (s["n_end_artifact"] == halides.vertices.groupby("system")["end_artifact"].sum()
            .reindex(s.index, fill_value=0)).all()
    assert "LiF9" in s.loc["F-Li", "stable"].split(";") and s.loc["F-Li", "n_end_artifact"] == 1


def test_end_depth_is_the_depth_with_the_ends_at_the_models_energies(halides):
    """Checked by brute force on the model's own points of F-Li: the lowest chord between two
    other points, with the F end at the model's energy for pure F."""
    from hullpack.compositions import grid_fractions, reduced_grid
    from hullpack.screening.models import make_engine

    els = np.array([[ELEMENT_INDEX["Li"], ELEMENT_INDEX["F"]]])   # ElemNet's order: Li, then F
    grid = reduced_grid(2, 10)
    e = make_engine(halides.model).predict(els, grid, "fp32")[0].astype(np.float64)
    x_f = grid_fractions(grid)[:, 1]
    inner = (x_f > 0) & (x_f < 1)
    x_f, e = x_f[inner], e[inner]
    mu = halides.config["element_energies"]
    ends = (min(mu["Li"], 0.0), min(mu["F"], 0.0))
    rows = halides.vertices[halides.vertices["system"] == "F-Li"]
    for _, row in rows.iterrows():
        at = int(np.argmin(np.abs(x_f - row["x_A"])))            # x_A is F's fraction in F-Li
        assert row["depth"] == pytest.approx(hull_of_others(x_f, e, (0.0, 0.0), at) - e[at], abs=1e-6)
        assert row["end_depth"] == pytest.approx(hull_of_others(x_f, e, ends, at) - e[at], abs=1e-6)


class Referenced(torch.nn.Module):
    """A model minus the plane through its own energies of the pure elements (where below 0): its
    elements sit at (or above) 0, as a screen pins them."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        with torch.no_grad():
            mu = model(torch.eye(N_ELEMENTS)).reshape(-1)
        self.register_buffer("mu", torch.clamp(mu, max=0.0))

    def forward(self, x):
        return self.model(x).reshape(-1) - x @ self.mu


def test_ternary_end_depths_equal_a_screen_of_the_rereferenced_model(halides):
    """Ternaries (and any order): the depths with the ends at the model's energies are the depths a
    screen of the model minus that plane finds, and the flagged vertices are the ones it drops."""
    kw = dict(order=3, elements="Li Na F Cl", precision="fp32", compare_dft=False, progress=False)
    r = screen(halides.model, **kw)
    shifted = screen(Referenced(halides.model), **kw)
    v = r.vertices
    assert v["end_artifact"].any() and (~v["end_artifact"]).any()
    kept = v[~v["end_artifact"]].set_index(["system", "formula"])
    other = shifted.vertices.set_index(["system", "formula"])
    assert sorted(kept.index) == sorted(other.index)
    np.testing.assert_allclose(kept.loc[other.index, "end_depth"], other["depth"], atol=2e-5)
    assert (v["end_depth"] <= v["depth"] + 1e-12).all()       # lower ends only lower the hull
    assert set(v.loc[v["end_artifact"], "end_element"]) == {"F"}


def test_summary_counts_end_artifacts_apart_and_not_as_robust(halides):
    text = halides.summary()
    v = halides.vertices
    deep, end = v["depth"] >= 0.05, v["end_artifact"]
    assert f"  {int((deep & ~end).sum())} robust (at least 50 meV/atom deep" in text
    line = next(t for t in text.splitlines() if "pinned at 0" in t)
    assert line.startswith(f"  {int(end.sum())} only because an element end is pinned at 0 eV/atom")
    assert f"F at {halides.config['element_energies']['F']:.3f} eV/atom: {int(end.sum())}" in line
    assert f"{int((deep & end).sum())} of them at least 50 meV/atom deep otherwise" in line


def test_precision_and_recall_without_the_end_artifacts():
    """LiF9 is flagged; a DFT set where it is stable: it is the only match lost without it."""
    known = DFTCompounds.from_formulas(["LiF", "LiF9"], [-3.0, -1.5], name="mine")
    r = screen(elements="Li F", compare_dft=known, progress=False)
    s, m = r.system("F-Li"), r.dft_metrics()
    flagged = r.vertices[r.vertices["end_artifact"]]
    assert flagged["formula"].tolist() == ["LiF9"] and s["n_stable"] == 3
    assert (s["tp_pred"], s["tp_pred_end"], s["tp_dft"], s["tp_dft_end"], s["n_dft_stable"]) == (2, 1, 2, 1, 2)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == 1.0
    assert m["precision_without_end"] == pytest.approx(1 / 2) and m["recall_without_end"] == 0.5
    assert "without the 1 end artifacts: precision 0.500, recall 0.500" in r.summary()


# ------------------------------------------------------------------------- the systems table
def test_stable_formulas_run_from_the_first_element_of_the_name_to_the_last():
    r = screen(elements="Fe O Cu", progress=False)
    assert r.system("Fe-O")["stable"] == "FeO;Fe4O5;Fe2O3;Fe3O5"   # increasing fraction of O
    for _, rows in r.vertices.groupby("system"):
        assert rows["x_B"].is_monotonic_increasing
    t = screen(order=3, elements="Fe Ni O Al", grid=10, compare_dft=False, progress=False)
    for _, rows in t.vertices.groupby("system", sort=False):  # decreasing x_A, then x_B
        keys = list(zip(-rows["x_A"], -rows["x_B"]))
        assert keys == sorted(keys)
    joined = t.vertices.groupby("system", sort=False)["formula"].agg(";".join)
    assert (t.systems.set_index("system").loc[joined.index, "stable"] == joined).all()


def test_min_formula_names_a_compound_only_below_0():
    r = screen(elements="Fe O Cu", progress=False)
    cu_fe, fe_o = r.system("Cu-Fe"), r.system("Fe-O")
    assert cu_fe["min_energy"] == 0.0 and cu_fe["min_formula"] == ""    # nothing predicted below the elements
    assert fe_o["min_energy"] < 0 and fe_o["min_formula"] == "Fe2O3"


def test_agreement_is_counted_where_either_set_has_a_compound(halides):
    s, m = halides.systems, halides.dft_metrics()
    either = (s["n_stable"] > 0) | (s["n_dft_stable"] > 0)
    assert m["n_systems_with_compounds"] == int(either.sum()) < len(s)
    assert m["agree_with_compounds"] == pytest.approx(s.loc[either, "agree"].astype(float).mean())
    assert m["agree"] == pytest.approx(s["agree"].astype(float).mean())          # all systems, as before
    assert (f"stable sets agree in {m['agree_with_compounds']:.1%} of the {int(either.sum())} systems with a "
            "predicted or DFT stable compound") in halides.summary()


# ---------------------------------------------------------------------- DFT files and the CLI
def run(capsys, *argv):
    rc = main(["screen", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def model_file(model, tmp_path_factory):
    return str(save_model(model, tmp_path_factory.mktemp("model") / "m.pt"))


FE_NI_O = {"formula": ["Fe2O3", "Fe3O4", "FeO", "NiO", "NiFe2O4", "Ni3Fe"],
           "energy": [-1.70, -1.68, -1.40, -1.21, -1.55, -0.08]}


@pytest.mark.parametrize("database, formula, energy", [
    ("jarvis.csv", "formula", "formation_energy_peratom"),
    ("aflow.csv", "compound", "enthalpy_formation_atom"),
    ("mp.csv", "formula_pretty", "formation_energy_per_atom"),
    # OPTIMADE answers: an entry's formula and its provider's formation energy
    ("oqmd.json", "chemical_formula_reduced", "_oqmd_delta_e"),
    ("alexandria.json", "chemical_formula_descriptive", "_alexandria_formation_energy_per_atom"),
])
def test_dft_files_of_other_databases_are_read_by_their_column_names(database, formula, energy, model, model_file,
                                                                     tmp_path, capsys):
    path = tmp_path / database
    if path.suffix == ".csv":
        pd.DataFrame({"id": range(6), formula: FE_NI_O["formula"], energy: FE_NI_O["energy"]}).to_csv(path, index=False)
    else:  # the JSON of a provider's /structures query, as saved: each entry's attributes a row, the elements at 0 too
        rows = list(zip(FE_NI_O["formula"], FE_NI_O["energy"])) + [("Fe", 0.0), ("O", 0.0)]
        path.write_text(json.dumps({
            "data": [{"id": f"{path.stem}-{k}", "type": "structures", "attributes": {formula: f, energy: e}}
                     for k, (f, e) in enumerate(rows)],
            "meta": {"api_version": "1.1.0", "data_returned": len(rows), "more_data_available": False},
            "links": {"next": None}}))
    rc, out, err = run(capsys, "--elements", "Fe Ni O", "--order", "2", "--grid", "10", "--model", model_file,
                       "--dft", str(path), "--out", str(tmp_path / "o"), "-q")
    assert rc == 0 and err == "" and f"DFT ({database}) stable compounds" in out
    want = screen(model, elements="Fe Ni O", grid=10, progress=False,
                  compare_dft=DFTCompounds.read(pd.DataFrame(FE_NI_O), "energy")).systems
    got = pd.read_csv(tmp_path / "o" / "systems.csv")
    assert got["system"].tolist() == ["Fe-O", "Ni-O", "Fe-Ni"]
    assert got["n_dft"].tolist() == want["n_dft"].tolist() == [3, 1, 1]
    assert got["tp_dft"].tolist() == want["tp_dft"].tolist()


def test_dft_columns_named_on_the_command_line(model_file, tmp_path, capsys):
    path = tmp_path / "mine.csv"
    pd.DataFrame({"label": FE_NI_O["formula"], "dH": FE_NI_O["energy"]}).to_csv(path, index=False)
    common = ["--elements", "Fe Ni O", "--grid", "10", "--model", model_file, "--dft", str(path), "-q"]
    rc, out, _ = run(capsys, *common, "--dft-column", "label", "--dft-energy-column", "dH", "--out", str(tmp_path / "o"))
    assert rc == 0 and "DFT (mine.csv) stable compounds" in out
    for argv, message in ((["--dft-energy-column", "dH"], "no formula column (formula, composition, "),
                          (["--dft-column", "label"], "no formation energy column (formation_energy_per_atom, "),
                          (["--dft-column", "nam", "--dft-energy-column", "dH"], "formula column 'nam' is not among the table's"),
                          (["--dft-column", "label", "--dft-energy-column", "x"], "formation energy column 'x' is not among")):
        rc, out, err = run(capsys, *common, *argv, "--out", str(tmp_path / "x"))
        assert rc == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1
        assert not re.search(r"\w=", err)                     # options, not Python parameters
    rc, _, err = run(capsys, "--dft-column", "label", "--out", str(tmp_path / "x"))
    assert rc == 2 and "give --dft too" in err


def test_help_lists_the_recognised_column_names(capsys):
    with pytest.raises(SystemExit):
        main(["screen", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(name in text for name in COMPOSITION_COLUMNS + ENERGY_COLUMNS + OPTIMADE_COMPOSITION_COLUMNS)
    assert "--dft-column" in text and "--dft-energy-column" in text and "_oqmd_delta_e" in text
    # --model's help says where a model of your own screens, and in which element order its inputs come
    assert "TorchScript" in text and "hullpack.screening.screen(model, ...), inputs in " \
        "hullpack.elements.ELEMNET_ELEMENTS order" in text
    doc = " ".join(DFTCompounds.read.__doc__.split())
    assert all(f"``{name}``" in doc for name in COMPOSITION_COLUMNS + ENERGY_COLUMNS + OPTIMADE_COMPOSITION_COLUMNS)
    assert "OPTIMADE" in doc and "``_oqmd_delta_e``" in doc


def test_a_dft_set_without_compounds_in_the_systems_says_so(model_file, tmp_path, capsys):
    path = tmp_path / "salt.csv"
    pd.DataFrame({"formula": ["NaCl"], "formation_energy_per_atom": [-2.1]}).to_csv(path, index=False)
    rc, out, err = run(capsys, "--elements", "Fe Ni O", "--order", "2", "--grid", "10", "--model", model_file,
                       "--dft", str(path), "--out", str(tmp_path / "o"), "-q")
    assert rc == 0 and err == ""
    assert "DFT (salt.csv): no known compounds in these systems, so nothing to compare with" in out
    assert "predicted-stable precision" not in out and "recall" not in out and "nan" not in out and "F1" not in out


def test_the_command_line_names_its_options_not_python_parameters(model_file, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default --out, ./hullpack-screen
    common = ["--elements", "Fe Ni O", "--grid", "10", "--model", model_file, "--out", str(tmp_path / "o"), "-q"]
    assert run(capsys, *common)[0] == 0
    for argv, message in ((common, "replace them with --overwrite or choose another folder"),
                          (common + ["--overwrite", "--min-depth", "-1"], "--min-depth -1.0: expected a finite number"),
                          (["--order", "4", "-q"], "--elements: --order 4 needs an element subset (e.g. --elements ")):
        rc, _, err = run(capsys, *argv)
        assert rc == 2 and message in err and not re.search(r"\w=", err), err


def test_ternary_summary_says_how_many_compounds_are_distinct():
    """A binary compound is a vertex of every ternary that has its edge: the summary gives the
    distinct count beside the per-system one, and says the DFT counts are per system too."""
    result = screen(order=3, elements="Li Fe P O")
    v = result.vertices
    n, distinct = len(v), v["formula"].nunique()
    assert distinct < n  # Li-O, Fe-O, P-O compounds in two systems each
    text = result.summary()
    assert f"predicted stable compounds: {n:,} in 4 systems, {distinct:,} distinct" in text
    assert "stable compounds: " in text and "(counted in each system that has them)" in text
    one = screen(order=3, elements="Li Fe O").summary()  # one system: nothing is counted twice
    assert "distinct" not in one and "counted in each system" not in one


def test_a_screen_without_a_dft_comparison_draws_the_oqmd_compounds(model_file, tmp_path, capsys, monkeypatch):
    """The docs said --plot-only drew known compounds only from --dft FILE; its plot, like one of
    --no-dft, shows the shipped OQMD compounds, as the refusal of --no-dft with it now says."""
    r = screen(model_file, elements="Fe O", grid=10, compare_dft=False, progress=False)
    assert "stab_tp" not in r.systems and set(r.system_table("Fe-O")["source"]) == {"model", "OQMD"}
    monkeypatch.chdir(tmp_path)
    assert main(["screen", "--plot", "Fe-O", "--plot-only", "--no-dft", "--model", model_file]) == 2
    assert "compared only with --dft FILE; drawn with the OQMD compounds without it" in capsys.readouterr().err
