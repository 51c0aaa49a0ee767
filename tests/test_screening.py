"""The screening engine, bf16 certification, DFT comparison, result tables, CLI and bad input."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from hullpack.compositions import grid_fractions, reduced_grid, systems, uniform_grid
from hullpack.elemnet import ElemNet, save_model
from hullpack.errors import ModelFileError, ScreeningError
from hullpack.hull import hull_batch
from hullpack.screening import screen
from hullpack.screening.dft import DFTCompounds, by_group_pair, compare_block
from hullpack.hull import e_above_hull
from hullpack.screening.certify import Certifier
from hullpack.screening.engine import InferenceEngine
from hullpack.screening.hulls import corner_mask, plain_hulls, vertex_depth
from hullpack.screening.result import ScreenResult


def small_model(seed=0, arch="48x2-24x2-1"):
    torch.manual_seed(seed)
    model = ElemNet(arch, dropout=()).eval()
    with torch.no_grad():  # biases too, so energies are not all on one side of zero
        for m in model.net:
            if isinstance(m, torch.nn.Linear):
                m.bias.uniform_(-0.3, 0.3)
        model.net[-1].bias.fill_(-0.5)  # compounds below the elements: hulls with vertices
    return model


def dense_inputs(table, grid):
    fr = grid_fractions(grid)
    x = np.zeros((len(table) * len(grid), 86), np.float32)
    for i, row in enumerate(table):
        for j, el in enumerate(row):
            x[i * len(grid):(i + 1) * len(grid), el] = fr[:, j]
    return x


@pytest.mark.parametrize("order,n", [(2, 10), (3, 6)])
def test_engine_matches_dense_model(order, n):
    model = small_model()
    table, grid = systems(order, "H Fe Ni O Al Pu"), uniform_grid(order, n)
    eng = InferenceEngine(model, chunk=37)  # chunks that do not divide the pairs
    e = eng.predict(table, grid)
    with torch.no_grad():
        ref = model(torch.from_numpy(dense_inputs(table, grid))).numpy().reshape(e.shape)
    corner = corner_mask(grid)
    assert np.all(e[:, corner] == 0)  # references, not predicted
    np.testing.assert_allclose(e[:, ~corner], ref[:, ~corner], atol=2e-6)
    # arbitrary pairs: the same numbers as the streamed ones (bit for bit with oneDNN, whose
    # result for a row does not depend on the batch)
    s, p = np.nonzero(~corner[None, :].repeat(len(table), 0))
    if eng.backend == "onednn":
        np.testing.assert_array_equal(eng.predict_pairs(table, grid, s[::-1], p[::-1]), e[s[::-1], p[::-1]])
    np.testing.assert_allclose(eng.predict_pairs(table, grid, s, p), e[s, p], atol=1e-6)
    # bf16 is close but not equal (about 2.4 meV here at most)
    e16 = eng.predict(table, grid, "bf16")
    assert 0 < np.abs(e16 - e).max() < 0.01


def test_engine_backends_agree():
    """oneDNN's fused layers (where torch has them) and torch.nn.functional.linear give the same
    energies up to fp32 rounding; a backend that does not exist is refused."""
    model = small_model(4)
    table, grid = systems(3, "H Fe Ni O Al"), uniform_grid(3, 8)
    onednn = InferenceEngine(model)
    assert onednn.backend == ("onednn" if torch.backends.mkldnn.is_available() else "torch")
    torch_eng = InferenceEngine(model, backend="torch")
    assert torch_eng.backend == "torch"
    np.testing.assert_allclose(onednn.predict(table, grid), torch_eng.predict(table, grid), atol=2e-6)
    # bf16: the same up to an accumulation order, i.e. the outputs' last bf16 digits (they differed
    # by 0 to 2e-4 eV/atom where measured)
    np.testing.assert_allclose(onednn.predict(table, grid, "bf16"), torch_eng.predict(table, grid, "bf16"),
                               rtol=2 ** -7, atol=1e-4)
    with pytest.raises(ScreeningError, match="backend='blas'"):
        InferenceEngine(model, backend="blas")


def test_engine_runs_few_distinct_row_counts():
    """oneDNN keeps kernels per row count for good: the scattered re-evaluations, which come in
    every size, are padded to a few sizes, and padding changes no row's result."""
    eng = InferenceEngine(small_model())
    sizes = set()
    for m in range(1, eng.chunk + 1):
        pieces = eng.tail.pieces(m)
        assert [p[0] for p in pieces] == [0] + [p[1] for p in pieces[:-1]] and pieces[-1][1] == m
        assert all(rows >= stop - start for start, stop, rows in pieces)
        sizes.update(rows for *_, rows in pieces)
    assert len(sizes) <= 12
    table, grid = systems(2, "H Fe Ni O Al"), uniform_grid(2, 20)
    e = eng.predict(table, grid)
    for n in (1, 7, 513):
        s, p = np.arange(n) % len(table), 1 + np.arange(n) % 19
        np.testing.assert_allclose(eng.predict_pairs(table, grid, s, p), e[s, p], atol=1e-6)
    with pytest.raises(ScreeningError, match=r"points_idx: expected 2 indices in 0\.\.20"):
        eng.predict_pairs(table, grid, [0, 1], [3, 21])


def test_engine_follows_the_model_without_a_first_relu():
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(86, 16), torch.nn.Linear(16, 8), torch.nn.ReLU(),
                                torch.nn.Linear(8, 1))
    table, grid = systems(2, "Fe Ni O"), uniform_grid(2, 10)
    eng = InferenceEngine(model)
    assert not eng.runs_lines  # the line layers need the first ReLU
    with torch.no_grad():
        ref = model(torch.from_numpy(dense_inputs(table, grid))).numpy().reshape(len(table), -1)
    inner = ~corner_mask(grid)
    np.testing.assert_allclose(eng.predict(table, grid)[:, inner], ref[:, inner], atol=2e-6)


def test_bf16_binaries_run_along_lines():
    # on CPU the first two layers of a bf16 binary screen are float32 along each system's line
    model = small_model(arch="64x2-32x2-1")
    table, grid = systems(2, "H Fe Ni O Al Pu"), uniform_grid(2, 40)
    eng = InferenceEngine(model)
    assert eng.runs_lines
    e16, e32 = eng.predict(table, grid, "bf16"), eng.predict(table, grid, "fp32")
    inner = ~corner_mask(grid)
    assert 0 < np.abs(e16 - e32)[:, inner].max() < 0.01   # about 3 meV here
    # per pair: the same numbers, up to a rare different rounding of the second layer's output
    s, p = np.nonzero(inner[None, :].repeat(len(table), 0))
    pairs = eng.predict_pairs(table, grid, s, p, "bf16")
    assert np.abs(pairs - e16[s, p]).max() < 0.01 and np.mean(pairs == e16[s, p]) > 0.95
    # a slice of the flat pairs that cuts systems is the same slice of the whole
    flat = eng.predict_flat(table, grid, "bf16")
    np.testing.assert_array_equal(eng.predict_flat(table, grid, "bf16", start=17, count=100), flat[17:117])
    # non-finite parameters keep the layer-by-layer products
    with torch.no_grad():
        model.net[-1].bias.fill_(float("nan"))
    assert not InferenceEngine(model).runs_lines


def _certified_equals_fp32(model, table, grid, **kw):
    eng = InferenceEngine(model)
    fp32 = plain_hulls(eng, table, grid, "fp32")
    cert = Certifier(eng, **kw).run(table, grid)
    raw = plain_hulls(eng, table, grid, "bf16")
    np.testing.assert_array_equal(cert.is_vertex, fp32.is_vertex)
    # exact fp32 energies at every vertex
    np.testing.assert_allclose(cert.energies[cert.is_vertex], fp32.energies[cert.is_vertex], atol=1e-6)
    return fp32, cert, raw


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_certified_bf16_vertices_equal_fp32_random_models(seed):
    model = small_model(seed, "64x2-32x2-1")
    # a steep model: bf16 errors of tens of meV, like the trained one
    with torch.no_grad():
        model.net[0].weight.mul_(8)
    for order, n, els in [(2, 60, "H Li B C N O F Na Mg Al Si P S Cl K Ca Fe Ni Cu Zn"),
                          (3, 12, "Li O F Na Al Si Fe Ni Cu")]:
        table = systems(order, els)
        fp32, cert, raw = _certified_equals_fp32(model, table, uniform_grid(order, n))
        assert fp32.is_vertex.sum() > len(table)  # something to certify


def test_certified_bf16_vertices_equal_fp32_shipped_model():
    from hullpack.elemnet import load_pretrained

    model = load_pretrained()
    table = systems(2, "H Li C N O F Na Mg Al Si S Cl K Ca Ti Fe Ni Cu Zn Y Zr Pd Ag La Pt Au U Pu")
    fp32, cert, raw = _certified_equals_fp32(model, table, uniform_grid(2, 100))
    # plain bf16 gets some vertices wrong: the certification is doing work
    assert (raw.is_vertex != fp32.is_vertex).any()
    assert cert.n_fp32.sum() < 0.6 * (~corner_mask(uniform_grid(2, 100))).sum() * len(table)


def test_certification_widens_a_too_small_delta():
    model = small_model(3)
    with torch.no_grad():
        model.net[0].weight.mul_(8)
    eng = InferenceEngine(model)
    table, grid = systems(2, "H Li O F Na Al Fe Ni Cu Pt"), uniform_grid(2, 50)
    cert = Certifier(eng, delta=1e-7)  # far below the bf16 error: must be detected and doubled
    res = cert.run(table, grid)
    assert cert.n_doublings > 0
    np.testing.assert_array_equal(res.is_vertex, plain_hulls(eng, table, grid, "fp32").is_vertex)


class ElementErrorEngine:
    """A stand-in engine for calibration: fp32 energies are 0, and a pair's bf16 error depends on
    its system's elements and its point (NaN for one system); records the pairs it is asked."""

    def __init__(self):
        self.asked = []

    def predict_pairs(self, table, grid, s, p, precision):
        self.asked.append((precision, np.array(s), np.array(p)))
        if precision == "fp32":
            return np.zeros(len(s), np.float32)
        a, b = table[s, 0].astype(np.float64), table[s, 1].astype(np.float64)
        err = 1e-3 * (1 + 5 * (a == 6) + 3 * (b == 22)) + 1e-5 * p   # the worst system: O-Fe
        err[(table[s] == 24).any(axis=1) & (table[s] == 22).any(axis=1)] = np.nan   # Fe-Ni: NaN, not an error
        return err.astype(np.float32)


@pytest.mark.parametrize("n_calibration", [10_000, 40])
def test_calibration_delta_is_the_largest_error_of_each_element(n_calibration):
    """delta of an element = SAFETY x the largest |bf16 - fp32| over the sampled pairs that contain
    it (in any column; non-finite errors count as 0; at least 1e-4); elements the sample missed get
    the largest error of all."""
    from hullpack.screening.certify import SAFETY

    eng = ElementErrorEngine()
    table, inner = systems(2, "H O Fe Ni Pu"), uniform_grid(2, 10, min_elements=2)
    cert = Certifier(eng, n_calibration=n_calibration, seed=3)
    delta = cert.calibrate(table, inner)
    (_, s16, p16), (_, s32, p32) = eng.asked
    assert np.array_equal(s16, s32) and np.array_equal(p16, p32)          # the same pairs both ways
    assert len(s16) == min(n_calibration, len(table) * len(inner))
    assert len(set(zip(s16.tolist(), p16.tolist()))) == len(s16)           # distinct (system, point) pairs
    err16 = eng.predict_pairs(table, inner, s16, p16, "bf16").astype(np.float64)
    err16[~np.isfinite(err16)] = 0.0
    expected = np.full(86, err16.max())                                   # not in the sample: the worst
    for e in np.unique(table[s16]):
        expected[e] = err16[(table[s16] == e).any(axis=1)].max()
    np.testing.assert_allclose(delta, SAFETY * np.maximum(expected, 1e-4), rtol=1e-6)
    assert cert.max_error_seen == pytest.approx(err16.max())
    if n_calibration == 40:   # a sample of 40 of 45 pairs: the seed decides which, the same each time
        again = Certifier(ElementErrorEngine(), n_calibration=n_calibration, seed=3).calibrate(table, inner)
        np.testing.assert_array_equal(again, delta)


class PlantedErrorEngine:
    """A stand-in engine with known fp32 energies; bf16 = fp32 + a planted error."""

    def __init__(self, e32, err):
        self.e32, self.err = np.asarray(e32, np.float32), np.asarray(err, np.float32)

    def predict(self, table, grid, precision, *, bar=None, edges=None):
        return (self.e32 + (self.err if precision == "bf16" else 0)).astype(np.float32)

    def predict_pairs(self, table, grid, s, p, precision="fp32"):
        return self.predict(table, grid, precision)[s, p]


@pytest.mark.parametrize("margin", [0.0, 2.0])   # 0: no widening, the calibrated deltas alone
def test_a_system_uses_the_largest_delta_of_its_elements(margin):
    """H-Li: x_Li = 0.3 is an fp32 hull vertex that bf16 puts 50 meV too high, off the bf16 hull.
    H's delta (60 meV) covers that error, Li's (1 ueV) does not: the system must use the larger,
    select the point and find the vertex; with the smaller one it would be missed."""
    grid = uniform_grid(2, 10)
    e32 = np.array([[0, -0.05, -0.10, -0.20, -0.22, -0.30, -0.20, -0.15, -0.08, -0.03, 0]])
    err = np.zeros_like(e32)
    err[0, 3] = 0.05
    fr = grid_fractions(grid)
    truth = hull_batch(fr, e32).is_vertex
    assert truth[0, 3] and not hull_batch(fr, e32 + err).is_vertex[0, 3]   # bf16 alone misses it
    table = systems(2, "H Li")
    cert = Certifier(PlantedErrorEngine(e32, err), delta=1e-6, margin=margin)
    cert.delta_element[table[0, 0]] = 0.06
    res = cert.run(table, grid)
    # with widening, the 50 meV error seen at the re-evaluated point doubles 60 meV once
    assert res.delta.tolist() == [0.06 if margin == 0 else 0.12]
    assert cert.n_doublings == (0 if margin == 0 else 1)
    np.testing.assert_array_equal(res.is_vertex, truth)
    assert res.energies[0, 3] == pytest.approx(-0.20)        # re-evaluated: its fp32 energy


def test_screen_calibrates_on_all_its_systems(monkeypatch):
    """The bf16 bound is estimated from pairs of every block, not the first block's (whose systems
    all share their first element), and the sample grows with the screen."""
    import hullpack.screening.pipeline as scr

    seen = []
    real = Certifier.calibrate

    def spy(self, table, inner, **kw):
        seen.append(len(table))
        return real(self, table, inner, **kw)

    monkeypatch.setattr(scr, "_BLOCK_PAIRS", 200)  # many blocks
    monkeypatch.setattr(Certifier, "calibrate", spy)
    r = screen(small_model(), order=3, elements="H Li O Fe Ni Al Cu", grid=10, compare_dft=False, progress=False,
               precision="bf16")
    assert seen == [len(r.systems)]  # once, on the whole table
    eng = InferenceEngine(small_model())
    table, inner = systems(3), uniform_grid(3, 4, min_elements=2)
    cert = Certifier(eng, n_calibration=16)
    calls = []
    monkeypatch.setattr(eng, "predict_pairs", lambda t, g, s, p, prec: calls.append(len(s)) or np.zeros(len(s), np.float32))
    real(cert, table, inner)
    assert calls == [len(table) * len(inner) // 256] * 2


def test_shared_ternary_edges_change_nothing_but_the_work():
    """Edge points predicted once per pair (fp32) give the hulls of predicting every system's own."""
    from hullpack.screening.edges import EdgeEnergies

    model = small_model(5)
    els = "H Li O F Na Al Si Fe Ni Cu"
    table, grid = systems(3, els), uniform_grid(3, 10)
    eng = InferenceEngine(model)
    own = plain_hulls(eng, table, grid, "fp32")
    edges = EdgeEnergies(table, grid)
    assert edges.sharing == pytest.approx(len(table) * 27 / (45 * 9))  # 120 systems, 45 pairs
    shared = plain_hulls(eng, table, grid, "fp32", edges=edges.evaluate(eng))
    np.testing.assert_allclose(shared.energies, own.energies, atol=1e-6)
    np.testing.assert_array_equal(shared.is_vertex, own.is_vertex)
    r32 = screen(model, order=3, elements=els, grid=10, precision="fp32", compare_dft=False, progress=False)
    r16 = screen(model, order=3, elements=els, grid=10, compare_dft=False, progress=False, precision="bf16")
    assert r16.vertices["formula"].tolist() == r32.vertices["formula"].tolist()
    # the edges were evaluated once per pair, in fp32; the bf16 pass skipped them (the calibration
    # sample is every non-corner point here: fewer than 8,192)
    calibration = len(table) * 63
    assert r16.stats["n_evaluated"]["bf16"] == len(table) * (63 - 27) + calibration
    assert r16.systems["n_fp32"].max() <= 63 - 27  # re-evaluations: interior points only
    # a shard calibrates on the whole screen and shares edges where the whole screen does
    tiny = screen(model, order=3, elements=els, grid=10, compare_dft=False, progress=False, shard="0/40",
                  precision="bf16")
    assert tiny.stats["n_evaluated"]["bf16"] == len(tiny.systems) * (63 - 27) + calibration


@pytest.mark.parametrize("order, grid", [(2, uniform_grid(2, 100)), (3, uniform_grid(3, 20)), (3, reduced_grid(3, 7))])
def test_vectorised_formulas_equal_formula_of(order, grid):
    from hullpack.screening.result import formula_of, formulas

    table = systems(order)[::97 if order == 2 else 499]  # 38 binaries, 206 ternaries
    s, p = np.divmod(np.arange(len(table) * len(grid)), len(grid))
    assert formulas(table, grid, s, p).tolist() == [formula_of(table[i], grid[j]) for i, j in zip(s, p)]


# ------------------------------------------------------------------------------------------ DFT
def test_dft_metrics_hand_made_case():
    # O-Fe (ElemNet order: O first); grid of step 1/4 in the fraction of Fe: 0, .25, .5, .75, 1
    pytest.importorskip("pymatgen")  # periodic-table groups
    table, grid = systems(2, "Fe O"), uniform_grid(2, 4)
    assert grid_fractions(grid)[:, 1].tolist() == [0, 0.25, 0.5, 0.75, 1]
    energies = np.array([[0.0, -0.6, -1.0, -0.2, 0.0]])
    hb = hull_batch(grid_fractions(grid), energies)
    assert np.flatnonzero(hb.is_vertex[0]).tolist() == [1, 2]          # predicted stable: x_Fe .25, .5
    # DFT: FeO3 (x_Fe .25) above the DFT hull; FeO (.5) and Fe3O (.75) on it
    dft = DFTCompounds.from_formulas(["FeO3", "FeO", "Fe3O", "FeO", "Ni3O"], [-0.3, -1.2, -0.7, -1.0, -0.5])
    f, e, _ = dft.of_system(table[0])
    assert f[:, 1].tolist() == [0.25, 0.5, 0.75] and e.tolist() == [-0.3, -1.2, -0.7]  # lowest FeO kept

    def model_at(rows, fr):  # the model's energies at the DFT compositions: the grid line through them
        return np.interp(fr[:, 1], grid_fractions(grid)[:, 1], energies[0]).astype(np.float32)

    m = compare_block(table, grid_fractions(grid), energies, hb.is_vertex, hb.valid, dft, model_at,
                      match_tol=0.125).iloc[0]
    assert (m.n_dft, m.n_dft_stable) == (3, 2)
    assert (m.tp_pred, m.tp_dft, m.precision, m.recall) == (1, 1, 0.5, 0.5)   # x_Fe .5 matches
    assert m.mae_dft_hull == pytest.approx((0.2 + 0.5) / 2)
    # stability: FeO3 predicted stable (FP), FeO (TP), Fe3O predicted unstable (FN)
    assert (m.stab_tp, m.stab_fp, m.stab_fn, m.stab_tn) == (1, 1, 1, 0)
    assert m.stab_f1 == pytest.approx(0.5)
    assert not m.agree
    # a tolerance too tight to match anything
    m0 = compare_block(table, grid_fractions(grid), energies, hb.is_vertex, hb.valid, dft, model_at,
                       match_tol=0.0).iloc[0]
    assert m0.tp_pred == 1  # exact match at 0.5 still counts
    groups = by_group_pair(pd.DataFrame({"A": ["O"], "B": ["Fe"], "n_stable": [2]}).join(
        compare_block(table, grid_fractions(grid), energies, hb.is_vertex, hb.valid, dft, model_at, match_tol=0.125)))
    assert groups[["group_lo", "group_hi"]].values.tolist() == [[8, 16]]
    assert groups.precision.iloc[0] == 0.5 and groups.stab_f1.iloc[0] == pytest.approx(0.5)


def test_dft_ternary_system_collects_binary_edges():
    dft = DFTCompounds.from_formulas(["FeO", "NiO", "FeNi3", "FeNiO2", "FeNiCuO"], [-1.0, -1.1, -0.1, -1.3, -1.0])
    f, e, _ = dft.of_system(systems(3, "Fe Ni O")[0])
    assert len(e) == 4 and np.allclose(f.sum(axis=1), 1)   # 3 binaries + 1 ternary, not the quaternary


# ---------------------------------------------------------------------------------- screen API
@pytest.fixture(scope="module")
def result():  # every hull vertex counts (min_depth=0), on a uniform grid
    return screen(small_model(), elements="Fe Ni O Al Na Cl", grid=20, points=True, progress=False, min_depth=0)


def test_screen_tables(result, tmp_path):
    pytest.importorskip("pyarrow")  # writes the tables as Parquet
    s, v, p = result.systems, result.vertices, result.points
    assert len(s) == 15 and set(s.columns) >= {"system", "A", "B", "n_stable", "stable", "min_energy",
                                                "nonfinite", "n_fp32", "precision", "recall", "stab_f1",
                                                "mae_dft_hull", "agree"}
    assert s["n_stable"].sum() == len(v) == p["is_vertex"].sum() == s["n_vertices"].sum()
    assert len(p) == 15 * 21 and np.allclose(p[["x_A", "x_B"]].sum(axis=1), 1)
    assert (p.loc[p.is_vertex, "e_above_hull"] == 0).all() and (p["e_above_hull"] >= 0).all()
    # the stable column lists the vertex formulas
    first = s.iloc[int(np.argmax(s.n_stable.to_numpy()))]
    assert first.stable.split(";") == v.loc[v.system == first.system, "formula"].tolist()
    assert "binary systems" in result.summary()
    for path in result.to_parquet(tmp_path) + result.to_csv(tmp_path):   # one screen's files: both join
        assert path.stat().st_size > 0
    back = pd.read_parquet(tmp_path / "systems.parquet")
    assert back["system"].tolist() == s["system"].tolist()
    assert back["n_stable"].tolist() == s["n_stable"].tolist()


@pytest.mark.parametrize("order,n", [(2, 40), (3, 8)])
def test_vertex_depth_is_the_distance_below_the_hull_of_the_others(order, n):
    rng = np.random.default_rng(order)
    grid = uniform_grid(order, n)
    fr = grid_fractions(grid)
    inner = ~corner_mask(grid)
    e = np.where(inner, rng.normal(-0.3, 0.3, (20, len(grid))), 0.0)
    iv = hull_batch(fr, e).is_vertex
    depth = vertex_depth(fr, e, iv)
    assert np.isnan(depth[~iv]).all() and (depth[iv] > 0).all()
    for s, p in zip(*np.nonzero(iv)):
        others = np.flatnonzero(inner & (np.arange(len(grid)) != p))
        # the point's energy above the hull of the others, with the point itself lifted far away
        f = np.vstack([fr[others], fr[p]])
        below = -e_above_hull(f, np.r_[e[s, others], 1e3])[-1] + 1e3 - e[s, p]
        assert depth[s, p] == pytest.approx(below, abs=1e-9)


def test_min_depth_keeps_only_deep_vertices(result):
    deep = screen(result.model, elements="Fe Ni O Al Na Cl", grid=20, min_depth=0.02, progress=False)
    v0, v1 = result.vertices, deep.vertices
    assert (v1["depth"] >= 0.02).all() and (v0["depth"] > 0).all()
    assert v1["formula"].tolist() == v0.loc[v0["depth"] >= 0.02, "formula"].tolist()
    assert deep.systems["n_stable"].sum() == len(v1) < len(v0)


def test_uncertified_bf16_screen_is_the_plain_bf16_hulls(result):
    els = "Fe Ni O Al Na Cl"
    raw = screen(result.model, elements=els, grid=20, precision="bf16-uncertified", compare_dft=False,
                 progress=False)
    table, grid = systems(2, els), uniform_grid(2, 20)
    plain = plain_hulls(InferenceEngine(result.model), table, grid, "bf16")
    assert raw.systems["n_vertices"].tolist() == plain.is_vertex.sum(axis=1).tolist()
    assert (raw.systems["n_fp32"] == 0).all() and raw.systems["delta"].isna().all()
    assert raw.stats["n_evaluated"] == {"fp32": 0, "bf16": len(table) * 19}   # no calibration, no fp32
    assert raw.config["precision"] == "bf16-uncertified"
    assert "certification" not in raw.summary()


def test_an_empty_shard_is_an_empty_valid_result(result):
    """More shards than systems: the extra shards screen nothing and merge with the others."""
    els = "Fe Ni O Al Na Cl"
    empty = screen(result.model, elements=els, grid=20, shard="20/40", points=True, progress=False, min_depth=0)
    assert len(empty.systems) == len(empty.vertices) == len(empty.points) == 0
    for table, full in ((empty.systems, result.systems), (empty.vertices, result.vertices),
                        (empty.points, result.points)):
        assert table.dtypes.to_dict() == full.dtypes.to_dict()
    assert empty.summary().startswith("0 binary systems (shard 20/40 of the screen's systems; every figure below is the "
                                      "shard's) x 21 grid points")
    parts = [screen(result.model, elements=els, grid=20, shard=f"{i}/3", progress=False, min_depth=0) for i in range(3)]
    empty = dataclasses.replace(empty, points=None)  # as the others: a merge takes points from all shards or none
    merged = ScreenResult.concat([empty, parts[0], empty, parts[1], parts[2], empty])
    # every shard calibrates on the whole screen: the same points re-evaluated, the same depths
    pd.testing.assert_frame_equal(merged.systems, result.systems)
    pd.testing.assert_frame_equal(merged.vertices, result.vertices)


def test_system_names_parse_in_any_order_or_say_what_is_wrong():
    from hullpack.screening import system_name
    from hullpack.screening.result import parse_system

    assert parse_system("Fe-O").tolist() == parse_system("O-Fe").tolist() == parse_system("O, Fe").tolist() == [6, 22]
    assert system_name("O-Fe") == system_name("Fe O") == "Fe-O" and system_name("O-Ni-Fe") == "Fe-Ni-O"
    assert parse_system("Fe-Ni-O").tolist() == [6, 22, 24]
    assert parse_system("Li-Fe-P-O").tolist() == [1, 6, 12, 22] and system_name("P-O-Li-Fe") == "Fe-Li-O-P"
    for bad, match in [("FeO", "unknown: FeO"), ("Fe-Xx", "unknown: Xx"), ("Fe-Fe", "distinct"),
                       ("Fe", "2 to 4"), ("H-Li-Be-B-C", "2 to 4")]:
        with pytest.raises(ScreeningError, match=match):
            parse_system(bad)


def test_certified_screen_equals_fp32_screen(result):
    fp32 = screen(result.model, elements="Fe Ni O Al Na Cl", grid=20, precision="fp32", compare_dft=False,
                  progress=False, min_depth=0)
    assert result.vertices["formula"].tolist() == fp32.vertices["formula"].tolist()


def test_shards_merge_to_the_whole(result):
    parts = [screen(result.model, elements="Fe Ni O Al Na Cl", grid=20, shard=f"{i}/3", progress=False, min_depth=0)
             for i in range(3)]
    merged = ScreenResult.concat(parts)
    assert merged.systems["system"].tolist() == result.systems["system"].tolist()
    assert merged.vertices["formula"].tolist() == result.vertices["formula"].tolist()
    # a shard's summary says it counts a slice of the screen; the merge is the whole screen again
    assert parts[1].summary().splitlines()[0].startswith(
        "5 binary systems (shard 1/3 of the screen's systems; every figure below is the shard's) x 21 grid points")
    assert merged.summary().splitlines()[0].startswith("15 binary systems x 21 grid points")


def test_plots(result, tmp_path):
    pytest.importorskip("matplotlib")
    result.plot_system("O-Fe", tmp_path / "b.png")
    result.plot_system("Fe-Ni-O", tmp_path / "t.png")
    paths = result.plot_groups(tmp_path)
    assert (tmp_path / "b.png").stat().st_size > 10_000 and (tmp_path / "t.png").stat().st_size > 10_000
    assert len(paths) == 5 and all(p.stat().st_size > 5_000 for p in paths)
    with pytest.raises(ScreeningError, match="Xx"):
        result.plot_system("Fe-Xx")


def test_ternary_group_table_counts_each_pair():
    pytest.importorskip("pymatgen")  # periodic-table groups
    r = screen(small_model(), order=3, elements="Fe Ni O Al", grid=6, progress=False)
    g = r.group_table()
    # 4 ternaries x 3 element pairs each
    assert g["n_systems"].sum() == 12
    assert set(zip(g.group_lo, g.group_hi)) <= {(8, 10), (8, 16), (8, 13), (10, 16), (10, 13), (13, 16)}


def test_ternary_screen_and_reduced_grid():
    from hullpack.compositions import reduced_grid

    r = screen(small_model(), order=3, elements="Fe Ni O Al", grid=reduced_grid(3, 6), progress=False)
    assert len(r.systems) == 4 and "C" in r.systems and (r.systems["n_points"] == len(reduced_grid(3, 6))).all()
    assert np.allclose(r.vertices[["x_A", "x_B", "x_C"]].sum(axis=1), 1)


def test_nonfinite_predictions_are_reported_not_dropped():
    model = small_model()
    with torch.no_grad():
        model.net[0].weight[:, 22] = float("nan")  # Fe's column
    with pytest.warns(RuntimeWarning, match="non-finite"):
        r = screen(model, elements="Fe Ni O", grid=10, progress=False)
    s = r.systems.set_index("system")
    assert len(s) == 3
    assert s.loc["Fe-O", "nonfinite"] and s.loc["Fe-Ni", "nonfinite"] and not s.loc["Ni-O", "nonfinite"]
    assert s.loc["Fe-O", "n_stable"] == 0 and pd.isna(s.loc["Fe-O", "stab_f1"])
    assert not r.vertices.system.isin(["Fe-O", "Fe-Ni"]).any()


# ----------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs,match", [
    (dict(elements="Fe Xx Qq"), "'Xx', 'Qq'"),
    (dict(elements="Fe He"), "He is not one of ElemNet's"),
    (dict(order=5), "order=5: expected 2 .*, 3 .* or 4"),
    (dict(order=1), "order"),
    (dict(grid=1), "too coarse"),
    (dict(grid=1001), "too fine"),
    (dict(order=3, elements="Fe Ni O", grid=201), "too fine"),
    (dict(grid=np.array([[1, 0], [0, 1]])), "too coarse"),
    (dict(grid=np.array([[1, 0, 0]])), "numerators"),
    (dict(precision="fp16"), "precision"),
    (dict(shard="3/3"), r"shard='3/3': shards are numbered from 0: expected 0 <= i < 3, one of 0/3, 1/3, 2/3"),
    (dict(shard="12/10"), r"one of 0/10 \.\. 9/10"),
    (dict(shard="0/0"), r"shard='0/0': expected at least 1 shard"),
    (dict(elements="Fe"), "no system"),
    (dict(min_depth=-0.01), "min_depth"),
    (dict(min_depth=float("nan")), "min_depth"),
    # quaternaries (order=4)
    (dict(order=4, elements="Fe Ni O"), r"only 3 given \(O, Fe, Ni\); order=4 needs at least 4"),
    (dict(order=4, elements="Fe Ni O Xx Al"), "'Xx'"),
    (dict(order=4, elements=None), "order=4 needs an element subset"),
    (dict(order=4, elements="Fe Ni O Al", grid=41), "too fine for order 4"),
    (dict(order=4, elements="Fe Ni O Al", grid=np.array([[1, 1, 0], [2, 0, 0]])), r"array \(n_points, 4\) of numerators"),
    (dict(elements="Fe Ni O Al Cu", order=5), "order=5"),
])
def test_bad_requests_fail_before_any_work(kwargs, match, monkeypatch):
    import hullpack.screening.pipeline as scr

    def boom(*a, **k):  # no model is loaded for a bad request
        raise AssertionError("model loaded")

    monkeypatch.setattr(scr, "_load_model", boom)
    with pytest.raises(ScreeningError, match=match):
        screen(**{"elements": "Fe Ni", **kwargs}, progress=False)


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        screen(str(tmp_path / "nope.pt"), elements="Fe Ni", progress=False)


def test_engine_rejects_non_elemnet():
    with pytest.raises(ScreeningError, match="ElemNet"):
        InferenceEngine(torch.nn.Sequential(torch.nn.Linear(10, 1)))


# ----------------------------------------------------------------------------------------- CLI
def test_cli_screen_tiny(tmp_path, capsys):
    pytest.importorskip("matplotlib")  # --plot
    from hullpack.cli import main

    path = save_model(small_model(), tmp_path / "m.pt")
    out = tmp_path / "out"
    rc = main(["-q", "screen", "--elements", "Fe,Ni,O,Al", "--grid", "10", "--model", str(path),
               "--out", str(out), "--plot", "Fe-O"])
    text = capsys.readouterr().out
    assert rc == 0 and "6 binary systems" in text and "stability F1" in text
    for name in ("systems.parquet", "systems.csv", "vertices.csv", "groups.csv", "groups_stab_f1.png", "Fe-O.png"):
        assert (out / name).stat().st_size > 0, name
    assert len(pd.read_csv(out / "systems.csv")) == 6
    rc = main(["-q", "screen", "--elements", "Fe Xx", "--out", str(tmp_path / "other")])
    assert rc == 2 and "Xx" in capsys.readouterr().err


@pytest.mark.cuda
@pytest.mark.skipif(not __import__("hullpack").cuda_available(), reason="needs a CUDA GPU and a CUDA build")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_cuda_engine_matches_cpu(precision):
    model = small_model()
    table, grid = systems(3, "Fe Ni O Al Cu"), uniform_grid(3, 10)
    cpu = InferenceEngine(model).predict(table, grid, precision)
    gpu = InferenceEngine(model.cuda(), device="cuda").predict(table, grid, precision)
    np.testing.assert_allclose(gpu, cpu, atol=1e-4 if precision == "fp32" else 0.05)


@pytest.mark.cuda
@pytest.mark.skipif(not __import__("hullpack").cuda_available(), reason="needs a CUDA GPU and a CUDA build")
def test_cuda_pairs_and_certification():
    # the GPU's arbitrary pairs match its streamed grid, and its certified hulls match its fp32 hulls
    model = small_model().cuda()
    table, grid = systems(3, "H Fe Ni O Al Pu"), uniform_grid(3, 10)
    eng = InferenceEngine(model, device="cuda")
    e = eng.predict(table, grid)
    s, p = np.nonzero(~corner_mask(grid)[None, :].repeat(len(table), 0))
    np.testing.assert_allclose(eng.predict_pairs(table, grid, s[::-1], p[::-1]), e[s[::-1], p[::-1]], atol=1e-6)
    fp32 = plain_hulls(eng, table, grid, "fp32")
    cert = Certifier(eng).run(table, grid)
    np.testing.assert_array_equal(cert.is_vertex, fp32.is_vertex)
