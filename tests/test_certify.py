"""The bf16 certification: calibration through the screen's own kernel, the audit of the points it
did not re-evaluate (its draw, its bound, planted errors caught or reported), shards identical to
the whole screen, and what the summary says."""

import numpy as np
import pandas as pd
import pytest
import torch

from hullpack.compositions import grid_fractions, systems, uniform_grid
from hullpack.elemnet import ElemNet, load_pretrained, save_model
from hullpack.hull import hull_batch
from hullpack.screening import ScreenResult, screen
from hullpack.screening.certify import (AUDIT_MIN, AUDIT_SHARE, Certifier, audit_draw, certification_lines,
                                        exceedance_bound, merge_certification)
from hullpack.screening.engine import InferenceEngine
from hullpack.screening.hulls import corner_mask, plain_hulls

ELEMENTS = "H Li C N O F Na Mg Al Si S Cl K Ca Ti Fe Ni Cu Zn Pd Pt Au"


@pytest.fixture(scope="module")
def shipped():
    return load_pretrained()


@pytest.fixture(scope="module")
def shipped_fp32(shipped):
    """Plain fp32 hulls of the shipped model over the binaries of ELEMENTS on uniform_grid(2, 100),
    computed once for the tests that read them (none may modify them)."""
    return plain_hulls(InferenceEngine(shipped), systems(2, ELEMENTS), uniform_grid(2, 100), "fp32")


def wide_model(seed=0):
    """A random ElemNet wide enough that bf16 errs by meV (the line layers apply)."""
    torch.manual_seed(seed)
    model = ElemNet("256x2-128x2-1", dropout=()).eval()
    with torch.no_grad():
        for m in model.net:
            if isinstance(m, torch.nn.Linear):
                m.bias.uniform_(-0.2, 0.2)
        model.net[0].weight.mul_(4)
        model.net[-1].bias.fill_(-0.5)
    return model


# ------------------------------------------------------------------------------- the bound
@pytest.mark.parametrize("m,k", [(4096, 0), (100, 3), (1000, 17), (7, 1), (3, 3), (361_845, 40)])
def test_exceedance_bound_is_the_exact_clopper_pearson_bound(m, k):
    beta = pytest.importorskip("scipy.stats").beta

    expected = 1.0 if k == m else beta.ppf(0.95, k + 1, m - k)
    assert exceedance_bound(m, k) == pytest.approx(expected, rel=1e-9)


def test_exceedance_bound_edges():
    assert exceedance_bound(4096, 0) == pytest.approx(3 / 4096, rel=2e-3)   # "zero in m gives 3/m"
    assert np.isnan(exceedance_bound(0, 0))
    with pytest.raises(ValueError, match="k = 5"):
        exceedance_bound(4, 5)


# -------------------------------------------------------------------------------- the draw
def test_audit_draw_is_seeded_uniform_and_the_same_in_any_block():
    table = systems(2)
    d = audit_draw(table, 101, 0.02, seed=7)
    assert d.shape == (len(table), 101)
    assert abs(d.mean() - 0.02) < 4 * np.sqrt(0.02 * 0.98 / d.size)          # the rate asked
    assert np.array_equal(audit_draw(table[100:300], 101, 0.02, seed=7), d[100:300])   # any block
    assert not np.array_equal(audit_draw(table, 101, 0.02, seed=8), d)            # another seed
    col = d.mean(axis=0)
    assert col.max() < 0.05                                                     # no favoured point
    assert audit_draw(table[:3], 101, 1.0).all() and not audit_draw(table[:3], 101, 0.0).any()


def test_audit_rate_follows_the_screen_size():
    cert = Certifier(InferenceEngine(wide_model()))
    assert cert.audit_rate == 0.0                            # nothing seen yet
    cert.n_screen = 361_845
    assert cert.audit_rate == pytest.approx(max(AUDIT_MIN / 361_845, AUDIT_SHARE))
    cert.n_screen = 17_591_286                               # all ternaries: 0.5%
    assert cert.audit_rate == AUDIT_SHARE
    cert.n_screen = 1000
    assert cert.audit_rate == 1.0                            # a small screen: every point


# ---------------------------------------------------------------------- calibration kernel
def test_calibration_runs_the_kernel_the_screen_runs(shipped):
    """bf16 binaries on CPU run along their lines: the calibration's bf16 energies are the screen's,
    bit for bit, whether taken from the screen's own pass or computed for pairs of other shards."""
    eng = InferenceEngine(shipped)
    assert eng.runs_lines and eng.backend == "onednn"
    table, grid = systems(2, ELEMENTS), uniform_grid(2, 100)
    inner = grid[~corner_mask(grid)]
    e16 = eng.predict(table, grid, "bf16")[:, ~corner_mask(grid)]
    rng = np.random.default_rng(0)
    s, p = rng.integers(0, len(table), 500), rng.integers(0, len(inner), 500)
    np.testing.assert_array_equal(eng.predict_pairs(table, inner, s, p, "bf16"), e16[s, p])
    assert eng.kernel(table) == "line layers" and eng.kernel(systems(3, "H Li O")) == "products"

    class Spy:  # records the bf16 pairs asked of the engine
        def __init__(self):
            self.asked = 0

        def __getattr__(self, name):
            return getattr(eng, name)

        def predict_pairs(self, t, g, ss, pp, precision):
            self.asked += len(ss) if precision == "bf16" else 0
            return eng.predict_pairs(t, g, ss, pp, precision)

    spy = Spy()
    own = Certifier(spy, n_calibration=3000)
    own.calibrate(table, inner, screened=table[:100])      # a shard of the first 100 systems
    kept = own._kept_bf16(table[:100], grid)
    np.testing.assert_array_equal(kept[:, ~corner_mask(grid)], e16[:100])
    assert own._kept_bf16(table[100:], grid) is None        # another shard's systems: not kept
    assert 0 < spy.asked < 3000                             # only pairs outside the shard went to the kernel
    plain = Certifier(eng, n_calibration=3000)
    plain.calibrate(table, inner)
    np.testing.assert_array_equal(own.delta_element, plain.delta_element)   # the same deltas either way
    assert own.report()["kernel"] == "line layers"


def test_bf16_runs_the_narrow_last_layers_in_fp32(shipped):
    """ElemNet's last layers (64 -> 64 -> 32 -> 1, 0.13% of its arithmetic) stay fp32 in bf16; a
    small model, whose narrow layers are all of it, stays bf16."""
    dtypes = [b.dtype for w, b, r, packed in InferenceEngine(shipped).tail.layers["bf16"]]
    assert dtypes[-3:] == [torch.float32] * 3 and set(dtypes[:-3]) == {torch.bfloat16}
    small = InferenceEngine(ElemNet("48x2-24x2-1", dropout=()))
    assert {b.dtype for w, b, r, packed in small.tail.layers["bf16"]} == {torch.bfloat16}


# ----------------------------------------------------------------------------- the audit
class PlantedEngine(InferenceEngine):
    """The engine with a bf16 error planted at chosen (system row, grid point) pairs of one table:
    every bf16 path (the screen's pass and scattered pairs) sees it; fp32 does not."""

    def __init__(self, model, table, grid, planted: dict):
        super().__init__(model)
        self.key = {tuple(row): i for i, row in enumerate(np.asarray(table).tolist())}
        self.grid, self.planted = np.asarray(grid), planted

    def _add(self, table, grid, s, p, e):
        if not np.array_equal(np.asarray(grid), self.grid):
            return e
        rows = np.array([self.key.get(tuple(r), -1) for r in np.asarray(table)[s].tolist()])
        for (i, k), err in self.planted.items():
            e[(rows == i) & (p == k)] += err
        return e

    def predict(self, table, grid, precision="fp32", *, bar=None, edges=None):
        e = super().predict(table, grid, precision, bar=bar, edges=edges)
        if precision == "bf16":
            s, p = np.nonzero(np.ones(e.shape, bool))
            e = self._add(table, grid, s, p, e.ravel()).reshape(e.shape)
        return e

    def predict_pairs(self, table, grid, s, p, precision="fp32"):
        e = super().predict_pairs(table, grid, s, p, precision)
        return self._add(table, grid, np.asarray(s), np.asarray(p), e) if precision == "bf16" else e


def _deep_vertex(fp32, wanted):
    """The lowest fp32 vertex among the (system, point) pairs where ``wanted`` is True."""
    energy = np.where(fp32.is_vertex & wanted, fp32.energies, np.inf)
    s, p = np.unravel_index(np.argmin(energy), energy.shape)
    assert np.isfinite(energy[s, p])
    return int(s), int(p)


@pytest.mark.parametrize("audited", [True, False])
def test_a_planted_bf16_error_far_from_the_hull_is_caught_or_missed_as_drawn(shipped, shipped_fp32, audited):
    """0.5 eV/atom planted on the bf16 energy of a deep fp32 vertex puts it far above the hull: no
    selection picks it. Drawn by the audit, it is caught (counted, the system's delta widened, the
    vertex found); not drawn (nor in the calibration sample), it is missed, which is what the
    audit's bound is about."""
    table, grid = systems(2, ELEMENTS), uniform_grid(2, 100)
    fp32 = shipped_fp32
    rate = 0.05
    planted = {}
    eng = PlantedEngine(shipped, table, grid, planted)
    cert = Certifier(eng, n_calibration=2000, audit_min=0, audit_share=rate)
    cert.calibrate(table, grid[~corner_mask(grid)])   # on another grid object: it sees no planted error
    sampled = np.zeros(fp32.energies.shape, bool)
    rows, pts, _ = cert._sample_fp32(table, grid)
    sampled[rows, pts] = True
    drawn = audit_draw(table, len(grid), rate)
    s, p = _deep_vertex(fp32, ~sampled & (drawn if audited else ~drawn))
    planted[(s, p)] = 0.5
    res = cert.run(table, grid)
    if audited:
        assert cert.n_exceeded >= 1 and res.delta[s] >= 1.0          # doubled past 2 x 0.5 eV
        assert res.is_vertex[s, p] and res.energies[s, p] == fp32.energies[s, p]
        np.testing.assert_array_equal(res.is_vertex, fp32.is_vertex)
    else:
        assert not res.is_vertex[s, p]                              # missed: bf16 hides it
        assert (res.is_vertex != fp32.is_vertex).sum(axis=1).nonzero()[0].tolist() == [s]
    # the draw among the points with no fp32 energy yet
    assert cert.n_audited > 0.5 * rate * (~corner_mask(grid)).sum() * len(table)


def test_planted_errors_at_many_points_are_reported(shipped):
    """Errors planted at 2% of the points: the audit counts about 2% of its points exceeding, its
    upper bound lies above the planted rate, and the summary says so."""
    table, grid = systems(2, ELEMENTS), uniform_grid(2, 100)
    inner = np.flatnonzero(~corner_mask(grid))
    rng = np.random.default_rng(1)
    picks = [(i, int(k)) for i in range(len(table)) for k in rng.choice(inner, 2, replace=False)]
    eng = PlantedEngine(shipped, table, grid, {ik: 0.3 for ik in picks})
    cert = Certifier(eng, n_calibration=2000, audit_min=0, audit_share=0.2)
    cert.calibrate(table, grid[inner])
    cert.run(table, grid)
    m, k = cert.n_audited, cert.n_exceeded
    assert 0.01 < k / m < 0.04 and exceedance_bound(m, k) > 2 / 99
    rec = cert.report()
    assert (rec["n_audited"], rec["n_exceeded"]) == (m, k)
    line = certification_lines(rec, 1000, 2000)[1]
    assert f"{m:,} random points" in line and "95% upper bound" in line
    assert f"; {k:,} exceeded their systems' deltas, which were widened and the selection run again;" in line
    one = certification_lines(dict(rec, n_exceeded=1), 1000, 2000)[1]
    none = certification_lines(dict(rec, n_exceeded=0), 1000, 2000)[1]
    assert "; 1 exceeded its system's delta, which" in one and "; none exceeded its system's delta;" in none


def test_a_planted_error_through_the_public_api_is_caught():
    """A model hook: under bf16 autocast the model raises one composition's energy by 0.4 eV/atom,
    hiding an fp32 vertex from plain bf16. The certified screen finds it: on a screen this small
    the calibration sample is every point, sees the error and widens the deltas to cover it."""
    torch.manual_seed(3)
    base = torch.nn.Sequential(torch.nn.Linear(86, 128), torch.nn.GELU(), torch.nn.Linear(128, 1))

    class Hooked(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.base = base

        def forward(self, x):
            e = 0.01 * self.base(x).squeeze(-1) - 4 * x[:, 6] * x[:, 22]   # Fe-O: every point a vertex
            if torch.is_autocast_enabled("cpu"):
                hit = (x[:, 6] - 0.6).abs().lt(1e-4) & (x[:, 22] - 0.4).abs().lt(1e-4)   # Fe2O3
                e = e + 0.4 * hit
            return e

    model = Hooked().eval()
    kw = dict(elements="Fe O Ni", grid=10, min_depth=0, compare_dft=False, progress=False)
    r16, r32 = screen(model, precision="bf16", **kw), screen(model, precision="fp32", **kw)
    raw = screen(model, precision="bf16-uncertified", **kw)
    assert r16.config["engine"] == "ModelEngine" and r16.config["precision"] == "bf16"
    assert "Fe2O3" in r32.systems.set_index("system").loc["Fe-O", "stable"].split(";")
    assert "Fe2O3" not in raw.systems.set_index("system").loc["Fe-O", "stable"].split(";")
    assert r16.vertices[["system", "formula"]].values.tolist() == r32.vertices[["system", "formula"]].values.tolist()
    cert = r16.config["certification"]
    assert cert["max_error_seen"] == pytest.approx(0.4, abs=0.01) and cert["kernel"] == "model under bf16 autocast"


# -------------------------------------------------------------------------- the selection
def test_the_selection_alone_gives_fp32_vertices(shipped, shipped_fp32):
    """With the audit off, the calibrated selection still finds every fp32 vertex here (the
    audit adds a check; it is not what makes the vertices right)."""
    table, grid = systems(2, ELEMENTS), uniform_grid(2, 100)
    eng = InferenceEngine(shipped)
    fp32 = shipped_fp32
    cert = Certifier(eng, n_calibration=1000, audit_min=0, audit_share=0)
    res = cert.run(table, grid)
    np.testing.assert_array_equal(res.is_vertex, fp32.is_vertex)
    assert cert.n_audited == 0 and res.n_fp32.sum() < 0.3 * len(table) * 99
    np.testing.assert_array_equal(res.energies[res.is_vertex], fp32.energies[res.is_vertex])  # bit for bit


# ------------------------------------------------------------------------------- shards
def test_shards_merge_to_exactly_the_unsharded_screen(shipped):
    """One calibration sample and one audit draw per screen: every shard's rows are the whole
    screen's, bit for bit, and the merged audit is the whole screen's."""
    kw = dict(elements=ELEMENTS, grid=100, compare_dft=False, progress=False, points=True, precision="bf16")
    whole = screen(shipped, **kw)
    assert whole.config["certification"]["audit_rate"] < 0.2   # a sample, not every point
    parts = [screen(shipped, shard=f"{i}/4", **kw) for i in range(4)]
    merged = ScreenResult.concat(parts)
    for name in ("systems", "vertices", "points"):
        pd.testing.assert_frame_equal(getattr(merged, name), getattr(whole, name))
    a, b = merged.config["certification"], whole.config["certification"]
    assert (a["n_audited"], a["n_exceeded"], a["exceedance_bound"]) == (b["n_audited"], b["n_exceeded"],
                                                                        b["exceedance_bound"])
    for p in parts:
        assert p.config["certification"]["calibration_pairs"] == b["calibration_pairs"]


def test_ternary_shards_share_edges_as_the_whole_screen():
    model = wide_model(2)
    kw = dict(order=3, elements="H Li O F Na Al Fe Ni", grid=8, compare_dft=False, progress=False)
    whole = screen(model, **kw)
    merged = ScreenResult.concat([screen(model, shard=f"{i}/7", **kw) for i in range(7)])
    pd.testing.assert_frame_equal(merged.systems, whole.systems)
    pd.testing.assert_frame_equal(merged.vertices, whole.vertices)


def test_merge_certification_sums_counts_and_recomputes_the_bound():
    empty = {"screen_points": 0, "calibration_pairs": 0, "n_audited": 0, "n_exceeded": 0}  # a shard of nothing
    a = {"screen_points": 9000, "calibration_pairs": 8192, "n_audited": 100, "n_exceeded": 1, "delta_doublings": 2,
         "max_error_seen": 0.01, "kernel": "products"}
    b = dict(a, n_audited=300, n_exceeded=0, delta_doublings=1, max_error_seen=0.03)
    m = merge_certification([empty, a, None, b])
    assert (m["n_audited"], m["n_exceeded"], m["delta_doublings"], m["max_error_seen"]) == (400, 1, 3, 0.03)
    assert (m["screen_points"], m["calibration_pairs"], m["kernel"]) == (9000, 8192, "products")
    assert m["exceedance_bound"] == exceedance_bound(400, 1)
    assert merge_certification([None, {}]) is None


# ------------------------------------------------------------------------ summary and CLI
def test_summary_and_cli_report_the_audit(tmp_path, capsys):
    from hullpack.cli import main

    model = wide_model(1)
    r = screen(model, elements=ELEMENTS, grid=100, compare_dft=False, progress=False, precision="bf16")
    text = r.summary()
    cert = r.config["certification"]
    assert "validated against fp32 by calibration and audit" in text
    assert f"audit: {cert['n_audited']:,} random points left in bf16" in text
    assert cert["n_audited"] > 0 and cert["kernel"] == "line layers" and cert["calibration_seed"] == 0
    raw = screen(model, elements="Fe Ni O Al", grid=20, compare_dft=False, progress=False,
                 precision="bf16-uncertified")
    assert raw.config["certification"] is None and "audit" not in raw.summary()
    small = screen(model, elements="Fe Ni O Al", grid=20, compare_dft=False, progress=False, precision="bf16")
    assert small.summary().splitlines()[-2] == ("bf16 certification: all 114 points evaluated in fp32 (the calibration "
                                                "sample was every point): none left in bf16, nothing to audit")
    assert "audit:" not in small.summary()
    path = save_model(model, tmp_path / "m.pt")
    rc = main(["-q", "screen", "--elements", ELEMENTS, "--grid", "100", "--model", str(path), "--no-dft",
               "--precision", "bf16", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert rc == 0 and f"audit: {cert['n_audited']:,} random points left in bf16" in out
    # the default for this ReLU network on CPU is fp32: nothing to certify, nothing reported
    rc = main(["-q", "screen", "--elements", ELEMENTS, "--grid", "100", "--model", str(path), "--no-dft",
               "--out", str(tmp_path / "default")])
    out = capsys.readouterr().out
    assert rc == 0 and ", precision fp32\n" in out and "certification" not in out and "audit" not in out


def test_the_summary_counts_the_shared_edge_points_among_the_fp32_ones():
    """A ternary's edge points are fp32 from the start (shared between systems): the summary counted
    only the re-evaluated points, '436 of 808 points evaluated in fp32' where all 808 were, with an
    audit of 0 points."""
    small = screen(order=3, elements="Fe O Li Ni", precision="bf16", progress=False, compare_dft=False)
    n_edges = 4 * 3 * 31                              # 4 systems, 3 edges of 31 inner points (reduced:10)
    assert small.stats["n_shared_fp32"] == n_edges and small.stats["n_predictions"] == 808
    assert "bf16 certification: all 808 points evaluated in fp32 (the calibration sample was every point)" \
        in small.summary() and "audit:" not in small.summary()
    kw = dict(order=3, elements="Li O Fe Ni Mn Co P S F Al Cu Zn", precision="bf16", progress=False, compare_dft=False)
    r = screen(**kw)
    shared, n = 220 * 3 * 31, r.stats["n_predictions"]
    n_fp32 = int(r.systems["n_fp32"].sum()) + shared
    assert r.stats["n_shared_fp32"] == shared and n_fp32 < n
    line = f"bf16 certification: {n_fp32:,} of {n:,} points evaluated in fp32 ({shared:,} on edges or faces shared"
    assert line in r.summary() and r.config["certification"]["n_audited"] > 0
    assert "Zn at -0.064 eV/atom: 20, 1 more element):" in r.summary()   # the end artifacts' elements, counted
    merged = ScreenResult.concat([screen(**kw, shard=f"{i}/2") for i in range(2)])
    assert merged.summary().splitlines()[4:6] == r.summary().splitlines()[4:6]   # the certification lines


def test_vertex_energies_are_fp32_where_the_audit_evaluated(shipped):
    """Audited points enter the hull with their fp32 energies; n_fp32 counts them."""
    table, grid = systems(2, "Fe Ni O Al Cu"), uniform_grid(2, 100)
    eng = InferenceEngine(shipped)
    e32 = eng.predict(table, grid, "fp32")
    cert = Certifier(eng, n_calibration=100, audit_min=0, audit_share=0.3)
    res = cert.run(table, grid)
    fr = grid_fractions(grid)
    changed = res.energies != eng.predict(table, grid, "bf16")
    np.testing.assert_array_equal(res.energies[changed], e32[changed])
    assert res.n_fp32.sum() >= changed[:, ~corner_mask(grid)].sum() and cert.n_audited > 0
    assert (hull_batch(fr, res.energies).is_vertex == res.is_vertex).all()


def test_the_points_table_says_which_energies_are_bf16(shipped):
    """A certified bf16 screen's points table mixed fp32 energies (vertices, re-evaluated and audited
    points) with bf16 ones and said nowhere which: column bf16 does, as n_fp32 counts them, and its
    fp32 energies are those of an fp32 screen, bit for bit."""
    kw = dict(elements=ELEMENTS, compare_dft=False, progress=False, points=True)
    r16 = screen(shipped, grid=100, precision="bf16", **kw)
    r32 = screen(shipped, grid=100, precision="fp32", **kw)
    pts, p32 = r16.points, r32.points
    assert pts["bf16"].dtype == bool and not p32["bf16"].any()
    pure = (pts.filter(like="x_") == 1).any(axis=1)                         # the references, 0 eV/atom
    assert not pts.loc[pure, "bf16"].any() and (pts.loc[pure, "energy"] == 0).all()
    fp32 = ~pts["bf16"] & ~pure
    assert fp32.groupby(pts["system"], sort=False).sum().tolist() == r16.systems["n_fp32"].tolist()
    assert not pts.loc[pts["is_vertex"], "bf16"].any()
    assert (pts.loc[fp32, "energy"] == p32.loc[fp32, "energy"]).all()
    bf16 = pts["bf16"]                                                       # 39% of the points here
    assert 0 < bf16.sum() < len(pts) and (pts.loc[bf16, "energy"] != p32.loc[bf16, "energy"]).mean() > 0.5
    loose = screen(shipped, grid=100, precision="bf16-uncertified", **kw).points
    assert loose["bf16"].tolist() == (~pure).tolist()
