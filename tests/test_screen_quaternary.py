"""Quaternary screens: agreement with plain fp32 predictions and pymatgen hulls, the bf16
certification, shared faces, the DFT side, tables instead of plots, and bad requests."""
import numpy as np
import pandas as pd
import pytest
import torch

from hullpack.compositions import grid_fractions, reduced_grid, systems, uniform_grid
from hullpack.errors import ScreeningError
from hullpack.hull import hull_batch
from hullpack.screening import screen
from hullpack.screening.certify import Certifier
from hullpack.screening.dft import DFTCompounds, by_group_pair
from hullpack.screening.edges import EdgeEnergies, edge_sharing
from hullpack.screening.engine import InferenceEngine
from hullpack.screening.hulls import HULL_TOL, LIFT, corner_mask, plain_hulls, vertex_depth
from hullpack.screening.names import formulas, system_names
from test_screening import dense_inputs, small_model  # dense 86-wide fractions; a small ElemNet with hull vertices

ELEMENTS = "Li Fe Mn P O"  # 5 quaternaries


def dense_fp32(model, table, grid):
    """The model on dense 86-wide fractions, (n_systems, n_points), pure elements at 0."""
    with torch.no_grad():
        e = model(torch.from_numpy(dense_inputs(table, grid))).numpy().reshape(len(table), len(grid)).astype(np.float64)
    e[:, corner_mask(grid)] = 0.0
    return e


def pymatgen_vertices(table, grid, e, tol=HULL_TOL):
    """(system name, formula) of every stable compound of pymatgen's PhaseDiagram of each system
    that lies more than ``tol`` below the hull of the others (the screen's tolerance: a ReLU model
    puts points of a segment on one line, up to fp32 rounding)."""
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    from hullpack.elements import ELEMNET_ELEMENTS

    names = system_names(table)
    out = set()
    inner = np.flatnonzero(~corner_mask(grid))
    for s, els in enumerate(table):
        symbols = [ELEMNET_ELEMENTS[i] for i in els]
        entries = [PDEntry(Composition({el: 1}), 0.0) for el in symbols]
        for p in inner:
            comp = Composition({el: int(n) for el, n in zip(symbols, grid[p]) if n})
            entries.append(PDEntry(comp, float(e[s, p]) * comp.num_atoms, name=str(p)))
        pd_ = PhaseDiagram(entries)
        for entry in pd_.stable_entries:
            if len(entry.composition.elements) > 1 and pd_.get_phase_separation_energy(entry) < -tol:
                out.add((names[s], formulas(table, grid, [s], [int(entry.name)])[0]))
    return out


@pytest.fixture(scope="module")
def screens():
    model = small_model()
    kw = dict(order=4, elements=ELEMENTS, grid="reduced:6", compare_dft=False, progress=False, min_depth=0)
    return model, screen(model, **kw), screen(model, precision="fp32", **kw)


def test_quaternary_screen_agrees_with_plain_fp32_and_pymatgen(screens):
    pytest.importorskip("pymatgen")
    model, r16, r32 = screens
    table, grid = systems(4, ELEMENTS), reduced_grid(4, 6)
    assert len(r16.systems) == 5 and (r16.systems["n_points"] == 161).all()
    assert r16.systems["system"].tolist() == system_names(table)
    e = dense_fp32(model, table, grid)
    want = pymatgen_vertices(table, grid, e)
    assert len(want) > 20
    for r in (r16, r32):  # certified bf16 and fp32 (whose faces are shared): the same stable compounds
        assert set(zip(r.vertices["system"], r.vertices["formula"])) == want
        assert (r.systems["n_stable"] == r.systems["n_vertices"]).all()
        # their energies are the fp32 model's (a vertex of a certified screen is always re-evaluated)
        by_name = dict(zip(system_names(table), range(len(table))))
        s = r.vertices["system"].map(by_name).to_numpy()
        fr = r.vertices[["x_A", "x_B", "x_C", "x_D"]].to_numpy()
        assert np.allclose(fr.sum(axis=1), 1) and set(r.vertices["D"]) <= set(ELEMENTS.split())
        got = r.vertices["energy"].to_numpy()
        ref = np.array([e[si, formulas(table, grid, [si] * len(grid), range(len(grid))).tolist().index(f)]
                        for si, f in zip(s, r.vertices["formula"])])
        np.testing.assert_allclose(got, ref, atol=3e-6)
    # the fp32 screen predicted each face point once per subset of elements (10 triples, 10 pairs)
    assert r32.stats["n_evaluated"]["fp32"] == 5 * 15 + 10 * 19 + 10 * 11


def test_certification_of_quaternaries_re_evaluates_only_near_the_hull():
    model = small_model(3)
    table, grid = systems(4, "Li Fe Mn P O Na"), uniform_grid(4, 8)
    eng = InferenceEngine(model)
    cert = Certifier(eng, n_calibration=64, audit_min=64)
    got = cert.run(table, grid)
    want = plain_hulls(eng, table, grid, "fp32")
    np.testing.assert_array_equal(got.is_vertex, want.is_vertex)
    v = got.is_vertex
    np.testing.assert_allclose(got.energies[v], want.energies[v], atol=1e-6)
    n_inner = int((~corner_mask(grid)).sum())
    assert 0 < got.n_fp32.sum() < 0.8 * len(table) * n_inner  # not everything went to fp32


def test_shared_faces_change_nothing_but_the_work():
    model = small_model(5)
    table, grid = systems(4, "H Li O F Na Al Si"), uniform_grid(4, 6)
    eng = InferenceEngine(model)
    faces = EdgeEnergies(table, grid)
    # 35 systems x (40 face + 30 edge points) / (35 triples x 10 + 21 pairs x 5)
    assert faces.sharing == pytest.approx(35 * 70 / (35 * 10 + 21 * 5)) == edge_sharing(table, grid)
    assert {k: len(v) for k, v in faces.subsystems.items()} == {2: 21, 3: 35}
    own = plain_hulls(eng, table, grid, "fp32")
    shared = plain_hulls(eng, table, grid, "fp32", edges=faces.evaluate(eng))
    np.testing.assert_allclose(shared.energies, own.energies, atol=1e-6)
    np.testing.assert_array_equal(shared.is_vertex, own.is_vertex)
    with pytest.raises(ScreeningError, match="subset of elements"):
        faces.fill(systems(4, "Fe Ni Cu Zn"), np.zeros((1, len(grid))))


def test_quaternary_vertex_depths_equal_lifting():
    model = small_model(2)
    table, grid = systems(4, ELEMENTS), reduced_grid(4, 8)
    e = dense_fp32(model, table, grid)
    fr = grid_fractions(grid)
    v = hull_batch(fr, e, decomposition=False).is_vertex
    depth = vertex_depth(fr, e, v)
    s, p = np.nonzero(v)
    lifted = e[s].copy()
    lifted[np.arange(len(s)), p] = LIFT
    ref = LIFT - hull_batch(fr, lifted, decomposition=False).e_above_hull[np.arange(len(s)), p] - e[s, p]
    np.testing.assert_allclose(depth[s, p], ref, atol=1e-9)
    assert np.isnan(depth[~v]).all() and (depth[v] > 0).all()


def test_dft_quaternary_system_collects_its_faces_and_group_pairs():
    pytest.importorskip("pymatgen")
    dft = DFTCompounds.from_formulas(["FeO", "LiFePO4", "Li3PO4", "FePO4", "LiFeMnPO4", "Li2O", "FeP"],
                                     [-1.5, -2.4, -2.6, -2.2, -2.0, -2.0, -0.7])
    f, e, _ = dft.of_system(systems(4, "Li Fe P O")[0])
    assert sorted(e.tolist()) == [-2.6, -2.4, -2.2, -2.0, -1.5, -0.7]   # not the 5-element one
    assert np.allclose(f.sum(axis=1), 1) and f.shape[1] == 4
    groups = by_group_pair(pd.DataFrame({"A": ["Fe"], "B": ["Li"], "C": ["O"], "D": ["P"], "n_stable": [1],
                                         "tp_pred": [1], "tp_dft": [1], "n_dft_stable": [2], "stab_tp": [1],
                                         "stab_fp": [0], "stab_fn": [1], "mae_dft_hull": [0.1], "agree": [False]}))
    assert groups["n_systems"].sum() == 6   # one quaternary under each of its six element pairs


def test_quaternary_screen_with_dft_and_tables_not_plots(tmp_path):
    pytest.importorskip("pyarrow")  # writes the tables as Parquet
    model = small_model(1)
    r = screen(model, order=4, elements=ELEMENTS, grid="reduced:6", progress=False)
    assert {"precision", "recall", "stab_f1", "n_dft"} <= set(r.systems.columns)
    assert (r.systems["n_dft"] > 0).all()
    assert "5 quaternary systems x 161 grid points (reduced:6)" in r.summary()
    t = r.system_table("O-P-Li-Fe")
    assert set(t["source"]) == {"model", "OQMD"}
    assert list(t.columns) == ["source", "formula", "x_Fe", "x_Li", "x_O", "x_P", "energy", "depth", "matched"]
    assert {"LiFePO4", "Li3PO4", "Fe2O3", "FeP"} <= set(t.loc[t.source == "OQMD", "formula"])  # DFT hull vertices
    model_rows = t[t.source == "model"]
    assert set(model_rows["formula"]) == set(r.system("Fe-Li-O-P")["stable"].split(";"))
    assert np.allclose(t[["x_Fe", "x_Li", "x_O", "x_P"]].sum(axis=1), 1) and (t["depth"] > 0).all()
    with pytest.raises(ScreeningError, match="quaternary.*not drawn.*system_table"):
        r.plot_system("Fe-Li-O-P")
    files = r.save(tmp_path / "out", plots=["Li-Fe-P-O"])
    assert (tmp_path / "out" / "Fe-Li-O-P.csv") in files
    assert pd.read_csv(tmp_path / "out" / "Fe-Li-O-P.csv")["formula"].tolist() == t["formula"].tolist()
    assert len(r.group_table()) > 0


def test_cli_quaternary_screen_lists_the_plotted_system(tmp_path, capsys):
    from hullpack.cli import main
    from hullpack.elemnet import save_model

    path = tmp_path / "m.pt"
    save_model(small_model(1), path)
    rc = main(["-q", "screen", "--model", str(path), "--order", "4", "--elements", ELEMENTS, "--grid", "reduced:5",
               "--no-dft", "--plot", "P-O-Li-Fe", "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert rc == 0 and "5 quaternary systems x 103 grid points" in out
    assert "Fe-Li-O-P: a quaternary is listed, not drawn (also in Fe-Li-O-P.csv)" in out
    assert (tmp_path / "o" / "Fe-Li-O-P.csv").is_file()
    rc = main(["screen", "--order", "4", "--elements", "Fe Ni O", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2 and "only 3 given (O, Fe, Ni)" in err
