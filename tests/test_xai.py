"""XElemNet toolkit: shapes and names, SHAP additivity, and toy models whose answer is known."""
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from hullpack.elements import ELEMENT_INDEX, ELEMNET_ELEMENTS
from hullpack.errors import CompositionError, ModelFileError
from hullpack import xai
from hullpack.xai.base import binary_fractions, random_compositions

shap = pytest.importorskip("shap")
pytest.importorskip("sklearn")
pytest.importorskip("pymatgen")

O = ELEMENT_INDEX["O"]


def tent_model() -> nn.Module:
    """E = -2 min(x_O, 1 - x_O) eV/atom: zero for every pure element and every oxygen-free
    composition, lowest (-1) at x_O = 1/2. A Linear/ReLU chain, so every path applies to it."""
    net = nn.Sequential(nn.Linear(86, 2), nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].weight[0, O] = 1.0          # h1 = x_O
        net[0].weight[1, O] = 2.0          # h2 = relu(2 x_O - 1)
        net[0].bias.copy_(torch.tensor([0.0, -1.0]))
        net[2].weight.copy_(torch.tensor([[-2.0, 2.0]]))
        net[2].bias.zero_()
    return net.eval()


def electronegativity_model() -> nn.Module:
    """E = sum_e x_e * chi_e: linear in the Pauling electronegativity of the elements present."""
    chi = xai.element_table()["electronegativity"].to_numpy()
    net = nn.Linear(86, 1)
    with torch.no_grad():
        net.weight.copy_(torch.tensor(chi, dtype=torch.float32)[None, :])
        net.bias.zero_()
    return net.eval()


def random_mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(86, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 16), nn.ReLU(),
                         nn.Linear(16, 1)).eval()


class NotAChain(nn.Module):
    """A skip connection: not a plain Linear/ReLU chain, so SHAP goes through shap.DeepExplainer."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.a = nn.Linear(86, 16)
        self.act = nn.ReLU()
        self.b = nn.Linear(16, 1)
        self.skip = nn.Linear(86, 1)

    def forward(self, x):
        return self.b(self.act(self.a(x))).squeeze(-1) + self.skip(x).squeeze(-1)


@pytest.fixture(scope="module")
def comps():
    x = random_compositions(60, seed=3)
    x[::3] *= 0.5
    x[::3, O] += 0.5                       # a third of them with oxygen
    return x


# ---------------------------------------------------------------------------------------------- SHAP

@pytest.mark.parametrize("reference", ["elements", "sample", "zero"])
def test_shap_additivity_names_and_shapes(comps, reference):
    net = random_mlp()
    background = random_compositions(25, seed=9) if reference == "sample" else reference
    ex = xai.shap_values(net, comps, background)
    assert isinstance(ex, shap.Explanation)
    assert ex.values.shape == ex.data.shape == (60, 86)
    assert list(ex.feature_names) == list(ELEMNET_ELEMENTS)
    assert list(ex.instance_names) == xai.base.formulas_of(comps)
    pred = xai.predict(net, comps)
    np.testing.assert_allclose(ex.values.sum(axis=1) + ex.base_values, pred, atol=1e-6)   # about 2e-8 where measured
    if reference != "sample":  # both give absent elements exactly nothing
        assert np.all(ex.values[comps == 0] == 0)
        assert xai.shap_summary(ex).attrs["absent_share"] == 0.0


@pytest.mark.parametrize("reference", ["elements", "sample"])
def test_batched_deeplift_equals_shap_deepexplainer(comps, reference):
    net = random_mlp(seed=2)
    background = random_compositions(10, seed=4) if reference == "sample" else reference
    fast = xai.shap_values(net, comps[:12], background, fast=True)
    slow = xai.shap_values(net, comps[:12], background, fast=False)
    np.testing.assert_allclose(fast.values, slow.values, atol=1e-5)
    np.testing.assert_allclose(fast.base_values, slow.base_values, atol=1e-6)


def test_shap_on_a_network_that_is_not_a_chain(comps):
    net = NotAChain().eval()
    assert xai.attributions.linear_relu_chain(net) is None
    ex = xai.shap_values(net, comps[:8], random_compositions(6, seed=1))
    np.testing.assert_allclose(ex.values.sum(axis=1) + ex.base_values, xai.predict(net, comps[:8]), atol=1e-6)
    with pytest.raises(ValueError, match="Linear/ReLU"):
        xai.shap_values(net, comps[:2], fast=True)


def test_gradient_explainer_adds_up_on_average(comps):
    net = random_mlp(seed=5)
    bg = random_compositions(30, seed=6)
    ex = xai.shap_values(net, comps[:6], bg, method="gradient", nsamples=200)
    deep = xai.shap_values(net, comps[:6], bg)
    gap = ex.values.sum(axis=1) + ex.base_values - xai.predict(net, comps[:6])
    assert np.abs(gap).mean() < 0.1 * np.abs(deep.values.sum(axis=1)).mean() + 1e-3
    assert np.corrcoef(ex.values.ravel(), deep.values.ravel())[0, 1] > 0.9
    with pytest.raises(ValueError, match="method='deep'"):
        xai.shap_values(net, comps[:2], "elements", method="gradient")


def test_shap_finds_the_one_element_that_matters(comps):
    ex = xai.shap_values(tent_model(), comps)
    summary = xai.shap_summary(ex)
    assert summary.index[0] == "O"
    # every bit of the energy (relative to the pure elements) sits on oxygen
    others = np.delete(ex.values, O, axis=1)
    np.testing.assert_allclose(others, 0, atol=1e-6)
    np.testing.assert_allclose(ex.values[:, O], xai.predict(tent_model(), comps), atol=1e-6)


def test_predict_takes_formulas_or_fractions():
    net = random_mlp()
    x = xai.as_fractions(["NaCl", "Fe2O3"])
    expected = xai.predict(net, x)
    np.testing.assert_array_equal(xai.predict(net, ["NaCl", "Fe2O3"]), expected)
    np.testing.assert_array_equal(xai.predict(net, pd.Series(["NaCl", "Fe2O3"])), expected)
    np.testing.assert_array_equal(xai.predict(net, [{"Na": 1, "Cl": 1}, {"Fe": 2, "O": 3}]), expected)
    np.testing.assert_array_equal(xai.predict(net, "NaCl"), expected[:1])
    np.testing.assert_array_equal(xai.predict(net, x.tolist()), expected)          # rows of numbers
    with pytest.raises(CompositionError, match="'Xx2'"):
        xai.predict(net, ["NaCl", "Xx2"])


def test_explanation_feeds_shap_plots(comps):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ex = xai.shap_values(random_mlp(), comps[:10])
    shap.plots.bar(ex, show=False)
    # the bars: the 9 elements of largest mean |SHAP|, by name, then the sum of the other 77
    labels = [t.get_text() for t in plt.gca().get_yticklabels()]
    order = np.array(ex.feature_names)[np.argsort(-np.abs(ex.values).mean(axis=0), kind="stable")]
    assert labels[:10] == [*order[:9], "Sum of 77 other features"]
    plt.close("all")
    shap.plots.waterfall(ex[0], show=False)
    # every element present in the composition has a row, labelled "its fraction = element"
    labels = [t.get_text() for t in plt.gca().get_yticklabels()]
    shown = dict(reversed(label.split(" = ")) for label in labels if " = " in label)
    for i in np.flatnonzero(comps[0]):
        assert float(shown[ELEMNET_ELEMENTS[i]]) == pytest.approx(comps[0, i], abs=1e-3)
    plt.close("all")


def test_kernel_check_agrees_on_a_linear_model(comps):
    df = xai.kernel_check(electronegativity_model(), comps, random_compositions(8, seed=2), n_points=2,
                          nsamples=400)
    assert len(df) == 2
    assert (df["relative_diff"] < 1e-3).all() and (df["same_sign"] == 1).all()
    assert (df["deep_additivity_error"] < 1e-5).all() and (df["kernel_additivity_error"] < 1e-5).all()


def test_kernel_check_is_seeded(comps):
    net, bg = random_mlp(), random_compositions(8, seed=2)
    first = xai.kernel_check(net, comps, bg, n_points=1, nsamples=100, seed=4)
    np.random.seed(123)                    # the global generator must neither matter nor be disturbed
    state = np.random.get_state()[1].copy()
    again = xai.kernel_check(net, comps, bg, n_points=1, nsamples=100, seed=4)
    pd.testing.assert_frame_equal(first, again)
    assert np.array_equal(np.random.get_state()[1], state)


# ----------------------------------------------------------------------------------- importance

def test_occlusion_importance_finds_oxygen(comps):
    net = tent_model()
    y = xai.predict(net, comps) + np.random.default_rng(0).normal(0, 0.01, len(comps))
    df = xai.occlusion_importance(net, comps, y, n_bootstrap=100)
    assert df.index[0] == "O"
    assert df.loc["O", "ci_low"] > 0.1 > df.drop(index="O")["ci_high"].max()
    assert df.loc["O", "ci_low"] <= df.loc["O", "delta_mae"] <= df.loc["O", "ci_high"]
    assert df.loc["O", "n_containing"] == int(((comps[:, O] > 0) & (comps[:, O] < 1)).sum())
    assert abs(df.attrs["mae"] - np.abs(y - xai.predict(net, comps)).mean()) < 1e-9


def test_occlusion_renormalises():
    xo, rows = xai.importance.occlude(xai.as_fractions(["Fe2O3", "NaCl", "O"]), "O")
    assert rows.tolist() == [0]                                 # pure O cannot be occluded
    assert xo[0, ELEMENT_INDEX["Fe"]] == pytest.approx(1.0)


# ------------------------------------------------------------------------------------ alignment

def test_alignment_finds_electronegativity():
    resp = xai.element_response(electronegativity_model())
    assert resp.shape == (86, 4) and list(resp.index) == list(ELEMNET_ELEMENTS)
    chi = xai.element_table()["electronegativity"]
    # mean over partners B of (chi_A + chi_B) / 2: exactly linear in chi_A
    expected = (chi + (chi.sum() - chi) / 85) / 2
    np.testing.assert_allclose(resp["mean"], expected, atol=1e-5)
    al = xai.property_alignment(resp[["mean"]])
    top = al.iloc[0]
    assert (top["property"], round(top["rho"], 6)) == ("electronegativity", 1.0)
    assert top["p_value"] < 1e-20 and top["n"] == 86
    assert set(al["property"]) == set(xai.PROPERTIES)


def test_alignment_drops_missing_values_and_rejects_unknown_properties():
    q = pd.Series(np.arange(86.0), index=list(ELEMNET_ELEMENTS), name="q")
    al = xai.property_alignment(q)
    assert al.set_index("property").loc["atomic_radius", "n"] == 84   # no radius for Kr, Xe
    with pytest.raises(ValueError, match="unknown properties"):
        xai.property_alignment(q, ["colour"])


# ------------------------------------------------------------------------------------ surrogate

def test_surrogate_finds_oxygen(comps):
    x = np.vstack([comps, random_compositions(300, seed=7)])
    x[60::2] *= 0.5
    x[60::2, O] += 0.5
    s = xai.fit_surrogate(tent_model(), x, depths=[1, 2, 3, 4, 6])
    assert set(s.splits["element"]) == {"O"}
    assert s.importance.index[0] == "O" and s.importance["O"] == pytest.approx(1.0)
    assert s.r2 > 0.99   # 0.998 where measured
    assert s.fidelity["r2_train"].is_monotonic_increasing
    assert list(s.fidelity.index) == [1, 2, 3, 4, 6]
    assert s.no_split is None


def test_surrogate_says_why_it_never_split():
    """A tree that never split is one leaf: it says so, and why, where it reported 'depth 1'."""
    from hullpack.xai import plots

    flat = random_compositions(40, seed=1)                       # no oxygen: the tent model is 0 on all
    flat[:, O] = 0
    flat /= flat.sum(axis=1, keepdims=True)
    s = xai.fit_surrogate(tent_model(), flat, depths=[1, 2, 3])
    assert s.tree.get_n_leaves() == 1 and "no signal" in s.no_split
    # 15 training compositions of 2-4 random elements each: no element is in 5 of them and out of 5
    s = xai.fit_surrogate(electronegativity_model(), random_compositions(20, seed=0), depths=[1, 2, 3])
    assert s.tree.get_n_leaves() == 1 and "too few" in s.no_split and "15 training compositions" in s.no_split
    fig = plots.tree_plot(s.tree)
    title = fig.axes[0].get_title()
    assert "no split" in title and "top 0" not in title
    plots._plt().close(fig)


def test_surrogate_needs_enough_compositions():
    with pytest.raises(CompositionError, match="too few"):
        xai.fit_surrogate(tent_model(), random_compositions(8))


# ------------------------------------------------------------------------------------- binaries

def test_lowest_energy_fraction_and_charge_balance():
    df = xai.xp_vs_xe(tent_model(), cations=["Na", "Ca", "La"], anions=["O", "Cl"], n_grid=101)
    df = df.set_index(["A", "B"])
    for a, x_e in (("Na", 2 / 3), ("Ca", 1 / 2), ("La", 2 / 5)):
        row = df.loc[(a, "O")]
        assert row["x_p"] == pytest.approx(0.5, abs=1e-6) and row["e_min"] == pytest.approx(-1.0, abs=1e-6)
        assert row["forms"] and row["x_e"] == pytest.approx(x_e)
        assert row["deviation"] == pytest.approx(0.5 - x_e)
    assert not df.loc[("Na", "Cl"), "forms"]                    # the toy is flat without oxygen
    assert df.loc[("Na", "Cl"), "x_e"] == pytest.approx(0.5)
    # no compound, so no x_p in the paper's sense: no deviation (it was |1 - 0.5|, a pure element's)
    assert df.loc[("Na", "Cl"), "x_p"] in (0.0, 1.0)
    assert np.isnan(df.loc[("Na", "Cl"), "deviation"]) and np.isnan(df.loc[("Na", "Cl"), "abs_deviation"])


def test_lowest_energy_fraction_refines_between_grid_points():
    # a minimum at x_O = 0.3 on a coarse grid of step 0.25: refinement must find it
    net = nn.Sequential(nn.Linear(86, 2), nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        net[0].weight.zero_(); net[0].weight[0, O] = 1.0; net[0].weight[1, O] = 1.0
        net[0].bias.copy_(torch.tensor([0.0, -0.3]))
        net[2].weight.copy_(torch.tensor([[-1.0, 1.0 / 0.7]])); net[2].bias.zero_()
    df = xai.lowest_energy_fraction(net, [("Ca", "O")], n_grid=5, refine=61)
    assert df.at[0, "x_p"] == pytest.approx(0.7, abs=1e-6)       # x is the fraction of Ca


class _Dip(nn.Module):
    """E = -x_Cl - 0.8 x_Na x_Cl: pure Na at 0, pure Cl at -1, every mixture below the straight
    line between them (by 0.8 x_Na x_Cl) but above pure Cl."""

    def forward(self, x):
        na, cl = x[:, ELEMENT_INDEX["Na"]], x[:, ELEMENT_INDEX["Cl"]]
        return -cl - 0.8 * na * cl


def test_forms_means_the_lowest_energy_lies_between_the_ends():
    """`forms` and x_p as documented: a dip below the line between the pure elements' predictions
    that stays above the lower element is not a predicted compound; x_p is that element."""
    row = xai.lowest_energy_fraction(_Dip(), [("Na", "Cl")], n_grid=21).iloc[0]
    assert row["e_A"] == pytest.approx(0.0, abs=1e-6) and row["e_B"] == pytest.approx(-1.0, abs=1e-6)
    assert not row["forms"] and row["x_p"] == 0.0 and row["e_min"] == pytest.approx(-1.0, abs=1e-6)
    doc = xai.lowest_energy_fraction.__doc__
    assert "below both pure elements' predictions" in doc and "does not count" in doc


class _Bowl(nn.Module):
    """E = -4 depth x_Na x_Cl: both pure elements at 0, the lowest energy -depth at NaCl."""

    def __init__(self, depth):
        super().__init__()
        self.depth = depth

    def forward(self, x):
        return -4 * self.depth * x[:, ELEMENT_INDEX["Na"]] * x[:, ELEMENT_INDEX["Cl"]]


def test_occlusion_takes_one_formula_with_one_energy_and_names_a_bad_target():
    """One formula and its energy work as everywhere else (it raised "'float' object is not
    iterable"); an energy that is not a number is named by row and value (it raised numpy's "could
    not convert string to float" without either)."""
    oxygen = nn.Linear(86, 1)
    with torch.no_grad():
        oxygen.weight.zero_(); oxygen.bias.zero_(); oxygen.weight[0, O] = -2.0
    one = xai.occlusion_importance(oxygen, "FeO", -2.0, elements=["Fe", "O"], n_bootstrap=5)
    assert one.loc["Fe", "delta_mae"] == pytest.approx(-1.0, abs=1e-6)
    two = xai.occlusion_importance(oxygen, ["FeO", "MgO"], (e for e in [-2.0, -1.0]), elements=["O"], n_bootstrap=5)
    assert two.loc["O", "n_containing"] == 2
    with pytest.raises(CompositionError, match=r"targets row 1 \('n/a'\) is not a finite energy in eV/atom"):
        xai.occlusion_importance(oxygen, ["FeO", "MgO"], [-2.0, "n/a"], n_bootstrap=5)
    with pytest.raises(CompositionError, match="targets has 1 values for 2 compositions"):
        xai.occlusion_importance(oxygen, ["FeO", "MgO"], -2.0, n_bootstrap=5)


def test_shap_and_kernel_check_name_formulas_as_the_chemist_wrote_them():
    """Formulas given as strings come back as written, where pymatgen's order wrote NaOH as 'NaHO',
    Ca(OH)2 as 'Ca(HO)2' and NH4Cl as 'H4NCl'; compositions and fractions are named by formula."""
    from pymatgen.core import Composition

    net = nn.Sequential(nn.Linear(86, 8), nn.ReLU(), nn.Linear(8, 1))
    given = ["NaOH", "Ca(OH)2", "NH4Cl", "Fe2O3"]
    assert xai.shap_values(net, given).instance_names == given
    assert xai.shap_values(net, pd.Series(given)).instance_names == given
    assert xai.shap_values(net, " NaOH").instance_names == ["NaOH"]
    assert xai.shap_values(net, [Composition("Ca(OH)2")]).instance_names == ["Ca(HO)2"]   # pymatgen's own
    kc = xai.kernel_check(net, given, n_points=2, nsamples=50)
    assert len(kc) == 2 and set(kc["formula"]) <= set(given)


def test_occlusion_lists_elements_in_no_composition_last():
    """An element in none of the compositions was never removed: its ΔMAE of 0 is not measured, and
    it ranked above an element whose removal was measured to lower the error (and was drawn so)."""
    oxygen = nn.Linear(86, 1)                         # E = -2 x_O
    with torch.no_grad():
        oxygen.weight.zero_(); oxygen.bias.zero_(); oxygen.weight[0, O] = -2.0
    # FeO predicted -1 against a target of -2: without Fe (pure O, -2) the error falls, without O it rises
    df = xai.occlusion_importance(oxygen, ["FeO"], [-2.0], elements=["Cl", "Fe", "O"], n_bootstrap=5)
    assert df.loc["Fe", "delta_mae"] < 0 < df.loc["O", "delta_mae"] and df.loc["Cl", "n_containing"] == 0
    assert list(df.index) == ["O", "Fe", "Cl"]
    from hullpack.xai import plots

    fig = plots.importance_bar(df)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["Fe", "O"]   # bottom to top
    plots._plt().close(fig)


def test_a_dip_shallower_than_the_screens_depth_threshold_is_no_compound():
    """A barely trained model dips a meV/atom or less below its pure elements everywhere (float32
    noise can do it too): that is no predicted compound, as the hull screen's 10 meV/atom threshold
    says, and the scans once counted every such pair as forming one."""
    shallow = xai.lowest_energy_fraction(_Bowl(0.002), [("Na", "Cl")], n_grid=21).iloc[0]
    assert not shallow["forms"] and shallow["x_p"] in (0.0, 1.0) and shallow["e_min"] == pytest.approx(0.0, abs=1e-6)
    deep = xai.lowest_energy_fraction(_Bowl(0.05), [("Na", "Cl")], n_grid=21).iloc[0]
    assert deep["forms"] and deep["x_p"] == pytest.approx(0.5, abs=1e-6)
    assert deep["e_min"] == pytest.approx(-0.05, abs=1e-6)
    # the threshold is the screen's, and can be set (0: any dip below both ends)
    any_dip = xai.lowest_energy_fraction(_Bowl(0.002), [("Na", "Cl")], n_grid=21, min_depth=0).iloc[0]
    assert any_dip["forms"] and any_dip["x_p"] == pytest.approx(0.5, abs=1e-6)
    assert not xai.xp_vs_xe(_Bowl(0.002), ["Na"], ["Cl"], n_grid=21).at[0, "forms"]
    with pytest.raises(ValueError, match="min_depth"):
        xai.lowest_energy_fraction(_Bowl(0.002), [("Na", "Cl")], min_depth=-1)


def test_fast_energies_of_the_shipped_model_match_its_dense_forward():
    """The scans and occlusion run the screen's engine: for the shipped model its energies are the
    dense forward's within the 1e-5 eV/atom docs/xai.md states (float32 sums in another order)."""
    from hullpack.xai.base import FastEnergies, equiatomic_binaries, oqmd_split

    model = xai.load_model()
    x = np.vstack([oqmd_split("test", n=3000, seed=0)[0], equiatomic_binaries()[0]])
    assert np.abs(FastEnergies(model)(x) - xai.predict(model, x)).max() < 1e-5


@pytest.mark.parametrize("which", ["relu", "layernorm"])
def test_binary_scans_give_the_models_own_energies(which):
    """The scans run the screen's engine (the first layer gathered from two columns; fp32 ReLU
    layers through relu_mlp): their energies are the model's dense forward's, for an ElemNet-shaped
    ReLU network and for a model the fast engine cannot run (LayerNorm first)."""
    torch.manual_seed(3)
    if which == "relu":
        net = nn.Sequential(nn.Linear(86, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 1))
    else:
        net = nn.Sequential(nn.LayerNorm(86), nn.Linear(86, 32), nn.GELU(), nn.Linear(32, 1))
    pairs = [("Na", "Cl"), ("Fe", "O"), ("H", "Pu")]
    df = xai.lowest_energy_fraction(net, pairs, n_grid=21, refine=5)
    for i, (a, b) in enumerate(pairs):
        x = np.zeros((3, 86), np.float32)
        x[0, ELEMENT_INDEX[a]] = 1
        x[1, ELEMENT_INDEX[b]] = 1
        x[2, ELEMENT_INDEX[a]], x[2, ELEMENT_INDEX[b]] = df.at[i, "x_p"], 1 - df.at[i, "x_p"]
        with torch.no_grad():
            e = net(torch.from_numpy(x)).reshape(-1).numpy()
        assert df.at[i, "e_A"] == pytest.approx(e[0], abs=1e-5) and df.at[i, "e_B"] == pytest.approx(e[1], abs=1e-5)
        assert df.at[i, "e_min"] == pytest.approx(e[2], abs=1e-5)   # the energy at x_p (an end if nothing forms)


def test_group_matrix_and_hull_hook():
    pairs = xai.all_pairs_scan(tent_model(), ["Na", "Mg", "O", "F", "Fe"], n_grid=41)
    assert len(pairs) == 10
    assert all(xai.binaries.orient(a, b) == (a, b) for a, b in zip(pairs["A"], pairs["B"]))
    m = xai.group_matrix(pairs, "abs_deviation")
    assert m.shape == (18, 18)
    assert m.at[1, 16] == pytest.approx(abs(0.5 - 2 / 3))        # Na-O
    assert np.isnan(m.at[1, 17])                                # Na-F: no compound, so no mean |x_p - x_e|
    assert xai.group_matrix(pairs, "forms").at[1, 17] == 0.0    # but counted among the pairs that form none
    assert np.isnan(m.at[8, 1])                                 # no such pair
    systems = pd.DataFrame({"A": ["O", "Na"], "B": ["Mg", "F"], "agree": [True, False]})
    h = xai.hull_agreement_by_group(systems)
    assert h.at[2, 16] == 1.0 and h.at[1, 17] == 0.0
    with pytest.raises(ValueError, match="lacks the columns"):
        xai.hull_agreement_by_group(systems.drop(columns="agree"))


# ----------------------------------------------------------------------------------- projection

def test_layer_projection_separates_groups_when_the_layer_encodes_them():
    groups = xai.element_table()["group"].to_numpy()
    net = nn.Sequential(nn.Linear(86, 18), nn.ReLU(), nn.Linear(18, 4), nn.ReLU(), nn.Linear(4, 1))
    with torch.no_grad():
        net[0].weight.zero_(); net[0].bias.zero_()
        net[0].weight[torch.from_numpy(groups - 1), torch.arange(86)] = 1.0   # one-hot of the group
    p = xai.layer_projection(net.eval())
    assert p.layers == ["1", "3"] and p.widths == [18, 4]
    assert p.pure["1"].shape == (86, 2) and p.binary["3"].shape == (3655, 2)
    s = p.summary.set_index(["layer", "set"])
    assert s.loc[("1", "pure"), "group_separation"] == pytest.approx(1.0)
    assert 0.0 <= s["group_separation"].min() and s["group_separation"].max() <= 1.0 + 1e-9


@pytest.mark.parametrize("show", [None, False, True])
def test_layer_projection_shows_progress_over_the_layers(show, monkeypatch):
    """The projection (several seconds for the shipped model's 16 layers) has a bar over the
    layers, off when asked (hullpack explain -q sets HULLPACK_QUIET, which None honours)."""
    import hullpack.xai.projection as projection

    bars = []

    def record(iterable, **kwargs):
        bars.append(kwargs)
        return iterable

    monkeypatch.setattr(projection, "progress", record)
    xai.layer_projection(random_mlp(), show_progress=show)
    assert len(bars) == 1 and bars[0]["desc"] == "layer PCA"
    assert bars[0]["show"] is show  # progress() maps it: test_package.py's progress-bar test


def test_layer_activations_are_the_hidden_outputs():
    net = random_mlp()
    x = random_compositions(5, seed=1)
    acts = xai.layer_activations(net, x)
    assert list(acts) == ["1", "4"]
    with torch.no_grad():
        np.testing.assert_allclose(acts["1"], torch.relu(net[0](torch.from_numpy(x))).numpy(), atol=1e-6)


# ------------------------------------------------------------------------------------ bad input

@pytest.mark.parametrize("bad, match", [
    ([], "empty"),
    (np.zeros((0, 86), np.float32), "empty"),
    (["NaCl", "Xx2"], "Xx"),
    (["He"], "He"),
    (np.ones((2, 5), np.float32), "shape"),
    (np.full((1, 86), np.nan, np.float32), "non-finite"),
    (-np.eye(86, dtype=np.float32)[:2], "negative"),
    (np.eye(86, dtype=np.float32)[:2] * 2, "sums to 2"),
])
def test_bad_compositions(bad, match):
    with pytest.raises(CompositionError, match=match):
        xai.shap_values(random_mlp(), bad)


def test_bad_models(tmp_path):
    from hullpack.elemnet import ElemNet, save_model

    with pytest.raises(TypeError):
        xai.energy_model("model.pt")
    with pytest.raises(ModelFileError, match="maps"):
        xai.energy_model(nn.Linear(86, 3))
    with pytest.raises(ModelFileError, match="cannot take"):
        xai.energy_model(nn.Linear(10, 1))
    garbage = tmp_path / "corrupt.pt"
    garbage.write_bytes(b"not a model" * 100)
    with pytest.raises(ModelFileError, match="corrupt"):
        xai.load_model(garbage)
    with pytest.raises(ModelFileError, match="does not exist"):
        xai.load_model(tmp_path / "missing.pt")
    # "default" names the shipped model, as None does (and as predict, train --init and stability take it)
    assert xai.load_model("default").metadata["sha256"] == xai.load_model(None).metadata["sha256"]
    untrained = save_model(ElemNet("8x1-1", ()), tmp_path / "untrained.pt")
    with pytest.raises(ModelFileError, match="records no training") as err:
        xai.load_model(untrained)
    assert str(err.value).startswith(f"{untrained} records no training")  # names the file given
    assert xai.load_model(untrained, allow_untrained=True).architecture == "8x1-1"
    flat = nn.Linear(86, 1)
    with torch.no_grad():
        flat.weight.zero_()
    with pytest.raises(ModelFileError, match="same energy"):
        xai.check_trained(flat)


def test_load_model_names_the_model_as_resolve_model_does(tmp_path, monkeypatch):
    # the trained-check and the report name a model by resolve_model's source: the shipped one as such
    import hullpack.xai.base as base
    from hullpack.elemnet import ElemNet, save_model

    named = []
    monkeypatch.setattr(base, "check_trained", lambda model, where: named.append(where))
    path = save_model(ElemNet("8x1-1", ()), tmp_path / "m.pt")
    for spec in (None, "default", path, str(path)):
        xai.load_model(spec)
    assert named == ["the shipped default model (elemnet_default.pt)"] * 2 + [str(path)] * 2


def test_bad_arguments(comps):
    net = tent_model()
    with pytest.raises(CompositionError, match="unknown elements"):
        xai.occlusion_importance(net, comps, np.zeros(len(comps)), elements=["O", "Qq"])
    with pytest.raises(CompositionError, match="targets"):
        xai.occlusion_importance(net, comps, np.zeros(3))
    with pytest.raises(CompositionError, match="unknown elements"):
        xai.xp_vs_xe(net, cations=["Na"], anions=["Ne"])
    with pytest.raises(ValueError, match="method"):
        xai.shap_values(net, comps, method="lime")
    with pytest.raises(ValueError, match="unknown analyses"):
        xai.explain("unused", net, only=["shap", "magic"])


def test_binary_fractions_helper():
    x = binary_fractions(["Na", "Ca"], ["Cl", "O"], np.array([0.25, 1.0]))
    assert x[0, ELEMENT_INDEX["Na"]] == pytest.approx(0.25) and x[1, O] == 0
    np.testing.assert_allclose(x.sum(axis=1), 1)


def test_predict_checks_arrays_but_not_their_sums():
    net = random_mlp()
    with pytest.raises(CompositionError, match=r"x must be an \(n, 86\) array.*shape \(2, 85\)"):
        xai.predict(net, np.zeros((2, 85), np.float32))
    rows = np.eye(86, dtype=np.float32)[:3]
    rows[1, 4] = np.nan
    with pytest.raises(CompositionError, match="x row 1 has a non-finite fraction"):
        xai.predict(net, rows)
    with pytest.raises(TypeError, match="got str.*load_model"):
        xai.predict("run/best.pt", ["NaCl"])
    mixtures = np.eye(86, dtype=np.float32)[:2] * 2       # off the simplex: evaluated, as kernel SHAP needs
    assert np.isfinite(xai.predict(net, mixtures)).all()
    assert xai.predict(net, []).shape == (0,)


def test_lists_of_rows_are_fractions():
    net = random_mlp()
    rows = random_compositions(4, seed=2)
    ex = xai.shap_values(net, rows.tolist())
    np.testing.assert_array_equal(ex.data, xai.shap_values(net, rows).data)
    np.testing.assert_allclose(xai.predict(net, rows.tolist()), xai.predict(net, rows))
    with pytest.raises(CompositionError, match="row 0 sums to 2"):
        xai.shap_values(net, (rows * 2).tolist())
    with pytest.raises(CompositionError, match="neither formulas nor"):
        xai.shap_values(net, [[0.5, 0.5], [1.0]])
    assert xai.as_fractions(f for f in ["NaCl", "Fe2O3"]).shape == (2, 86)   # a generator of formulas


def test_shap_names_compositions_as_chemists_write_them():
    # fractions are named by formula (Fe2O3, not O0.6Fe0.4); formulas given as strings keep their own
    from hullpack.elemnet import featurize

    x = featurize(["LiFePO4", "Fe2O3", "NaCl", "Fe0.1234Ni0.8766"])
    assert xai.shap_values(random_mlp(), x).instance_names == ["LiFePO4", "Fe2O3", "NaCl", "Fe0.1408Ni"]
    given = ["LiFePO4", "Fe2O3", "NaCl", "Fe0.1234Ni0.8766"]
    assert xai.shap_values(random_mlp(), given).instance_names == given


def test_heatmaps_write_white_on_dark_cells_and_black_on_light_ones():
    """Every heatmap (a matrix, the periodic table) picks its text colour by one rule, that of the
    screen's group-pair heatmaps: a cell's value stays readable at both ends of the colour map."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from hullpack.plotting import cell_text_colour
    from hullpack.xai import plots

    assert [cell_text_colour(c) for c in [(0, 0, 0), (1, 1, 1), (0.88, 0.88, 0.88, 1.0), (0.2, 0.3, 0.9)]] == [
        "white", "black", "black", "white"]
    m = pd.DataFrame([[0.0, 1.0]], index=[1], columns=[16, 17])
    fig = plots.matrix_heatmap(m, cmap="Greys")  # 0 white, 1 black
    assert {t.get_text(): t.get_color() for t in fig.axes[0].texts} == {"0.00": "black", "1.00": "white"}
    fig = plots.periodic_table_heatmap(pd.Series({"Na": 0.0, "Cl": 1.0}), cmap="Greys")
    colour = {t.get_text(): t.get_color() for t in fig.axes[0].texts}
    assert (colour["Na"], colour["Cl"], colour["Fe"]) == ("black", "white", "black")   # Fe: no value, grey
    matplotlib.pyplot.close("all")


def test_heatmaps_write_small_values_with_their_digits():
    """A barely trained model's mean SHAP values, -0.0006 eV/atom and so on, all read '-0.00' in the
    periodic table (and would in a matrix): the cells now keep two significant digits. Its colour
    bar has one scale either side of 0."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from hullpack.xai import plots

    fig = plots.periodic_table_heatmap(pd.Series({"Na": -0.00068, "Cl": -0.00041}), center=0.0)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"-0.00068", "-0.00041"} <= texts and "-0.00" not in texts
    # all below the centre: the colour bar's red half spanned 0 to 1e-9, unlabelled, its blue half's
    # ticks crowded together; both halves now have one scale
    lo, hi = fig.axes[1].get_xlim()
    assert (lo, hi) == (pytest.approx(-0.00068), pytest.approx(0.00068))
    fig = plots.matrix_heatmap(pd.DataFrame([[0.0012, 0.0003]], index=[1], columns=[16, 17]))
    assert {t.get_text() for t in fig.axes[0].texts} == {"0.0012", "0.0003"}
    fig = plots.periodic_table_heatmap(pd.Series({"O": -1.30, "Mg": -0.004}), center=0.0)   # the usual scale
    assert {"-1.30", "-0.00"} <= {t.get_text() for t in fig.axes[0].texts}
    matplotlib.pyplot.close("all")


def test_diverging_heatmaps_give_both_signs_one_scale():
    """The occlusion ΔMAE of the shipped model runs from -0.09 (Kr) to +2.01 (F): fitted half by half,
    Kr's small negative value was as deep a blue, under white text, as F's was red, and the blue half
    of the bar had no tick. Both halves now have the scale of the larger side."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from hullpack.xai import plots

    fig = plots.periodic_table_heatmap(pd.Series({"F": 2.01, "O": 1.69, "Kr": -0.09}), center=0.0)
    assert fig.axes[1].get_xlim() == (pytest.approx(-2.01), pytest.approx(2.01))
    colour = {t.get_text(): t.get_color() for t in fig.axes[0].texts}
    assert (colour["Kr"], colour["F"]) == ("black", "white")   # Kr pale, F deep
    fig = plots.matrix_heatmap(pd.DataFrame([[-0.44, 0.22]], index=[1], columns=[16, 17]), center=0.0)
    assert fig.axes[1].get_ylim() == (pytest.approx(-0.44), pytest.approx(0.44))
    matplotlib.pyplot.close("all")


def test_xp_xe_histogram_legend_leaves_the_bars_visible():
    """Most deviations sit near 0, so the histogram's bars there are tall: its legend, drawn where
    matplotlib found room inside the panel, hid them; it now sits below the panel."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from hullpack.xai import plots

    rng = np.random.default_rng(0)
    rows = []
    for gb in (15, 16, 17):
        for dev in np.concatenate([rng.normal(0.0, 0.02, 60), rng.uniform(-0.5, 0.4, 20)]):
            rows.append({"group_A": 1, "group_B": gb, "x_e": 0.5, "x_p": 0.5 + dev, "deviation": dev,
                         "abs_deviation": abs(dev)})
    fig = plots.xp_xe_plot(pd.DataFrame(rows))
    fig.canvas.draw()
    ax = fig.axes[1]
    legend = ax.get_legend().get_window_extent()
    inside = []
    for patch in ax.patches:  # the step outlines of the three histograms
        v = patch.get_transform().transform(patch.get_path().vertices)
        for p, q in zip(v[:-1], v[1:]):
            inside += [legend.contains(*(p + t * (q - p))) for t in np.linspace(0, 1, 25)]
    assert inside and not any(inside)
    matplotlib.pyplot.close("all")


def test_matrix_heatmap_draws_missing_cells_grey_not_the_colour_of_zero():
    """On the per-pair x_p - x_e map (diverging, centred at 0) a pair with no predicted compound was
    white, the colour of x_p = x_e exactly: a model that predicts no compound for most pairs read as
    one in perfect agreement. Missing cells are now the grey of the periodic table's."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.colors import to_rgba

    from hullpack.xai import plots

    m = pd.DataFrame([[0.0, np.nan], [-0.3, 0.2]], index=["Li", "Na"], columns=["N", "O"])
    for kwargs in ({"center": 0.0, "cmap": "RdBu_r"}, {}):
        fig = plots.matrix_heatmap(m, **kwargs)
        image = fig.axes[0].images[0]
        bad, zero = to_rgba(image.cmap.get_bad()), to_rgba(image.cmap(image.norm(0.0)))
        assert bad == pytest.approx((0.88, 0.88, 0.88, 1.0))
        assert np.abs(np.subtract(bad, zero)).max() > 0.05 or "center" not in kwargs
        assert [t.get_text() for t in fig.axes[0].texts] == ["0.00", "-0.30", "0.20"]  # no text in the grey cell
    matplotlib.pyplot.close("all")


def test_xp_xe_plot_tells_apart_every_group_pair_a_user_picks():
    """With elements of other groups than the study set's (Fe, Co, Ti with O, N, C) every cation group
    past 3 got the same diamond and every anion group outside 15-17 the same grey: '8 × 16' and
    '9 × 16' were one symbol in the legend. Each pair of groups now has its own marker and colour, and
    the legend sits below the panel, off the points."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from hullpack.xai import plots

    rows = [{"A": a, "B": b, "group_A": ga, "group_B": gb, "x_e": 0.5, "x_p": 0.5 + 0.01 * k,
             "deviation": 0.01 * k, "abs_deviation": 0.01 * k, "forms": True}
            for k, ((a, ga), (b, gb)) in enumerate((ca, an) for ca in (("Fe", 8), ("Co", 9), ("Ti", 4), ("Na", 1))
                                                   for an in (("O", 16), ("N", 15), ("C", 14)))]
    fig = plots.xp_xe_plot(pd.DataFrame(rows))
    ax = fig.axes[0]
    looks = {}
    for coll in ax.collections:
        marker = coll.get_paths()[0].vertices.round(3).tobytes()
        looks[coll.get_label()] = (marker, tuple(np.round(coll.get_facecolor()[0], 3)))
    assert len(looks) == 12 and len(set(looks.values())) == 12
    assert len({m for m, _ in looks.values()}) == 4 and len({c for _, c in looks.values()}) == 3
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    points = np.concatenate([c.get_offset_transform().transform(c.get_offsets()) for c in ax.collections])
    assert not any(legend.contains(*p) for p in points)
    matplotlib.pyplot.close("all")


def test_a_background_that_is_no_keyword_nor_formula_says_what_background_takes():
    """background='Elements' or 'zeros' (a keyword misspelt) was read as a formula, and the error
    offered "did you mean 'FOO'?" for 'foo'; it now names the keywords and what else background takes.
    A single formula is still a background of one composition."""
    net = tent_model()
    for bad in ("Elements", "zeros", "foo"):
        with pytest.raises(CompositionError, match=rf"background='{bad}' is neither 'elements' nor 'zero' nor a "
                                                   r"formula: give 'elements' \(the default\), 'zero', None"):
            xai.shap_values(net, ["NaCl"], background=bad)
    with pytest.raises(CompositionError, match=r"\[1\] 'Xq'"):  # compositions keep their row-by-row message
        xai.shap_values(net, ["NaCl"], background=["KCl", "Xq"])
    ex = xai.shap_values(net, ["NaCl", "KCl"], background="KCl")
    assert ex.values.shape == (2, 86) and np.allclose(ex.base_values, xai.predict(net, ["KCl"])[0])


@pytest.mark.parametrize("kind", ["bar", "beeswarm"])
def test_shap_figure_names_the_elements_it_sums(kind):
    """shap's last row read "Sum of 67 other features" beside rows named by element: it now says
    elements, and the other rows keep their symbols."""
    pytest.importorskip("shap")
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from hullpack.xai import plots, shap_values

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(86, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    ex = shap_values(net, ["NaCl", "Fe2O3", "CaTiO3", "LiF", "MgO"])
    fig = plots.shap_figure(ex, kind, max_display=3)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "sum of the 84 other elements" in labels and not any("features" in t for t in labels)
    assert set(labels) - {"sum of the 84 other elements"} <= set(ex.feature_names)
    matplotlib.pyplot.close("all")
