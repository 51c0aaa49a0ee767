"""What a screen leaves out is named where a chemist reads it: the hull vertices too shallow to
count (tables, summary, the plotted system's line), the systems of higher order that a screen of
binaries skips, where an installed user finds the own-model guidance, and plot labels that do not
run into each other."""
import itertools

import numpy as np
import pytest
import torch

from hullpack.cli import main
from hullpack.errors import ModelFileError
from hullpack.screening import ScreenResult, screen


@pytest.fixture(scope="module")
def li_fe_o():
    """The shipped model's binaries of Li Fe O: Fe3O4 is a hull vertex about 3 meV/atom deep."""
    return screen(elements="Li Fe O", points=True, compare_dft=False, progress=False)


# --------------------------------------------------------------------------- shallow vertices
def test_shallow_vertices_are_named_with_their_depth(li_fe_o):
    s, p = li_fe_o.systems.set_index("system"), li_fe_o.points
    fe_o = p[(p.system == "Fe-O") & p.is_vertex].set_index("formula")
    assert fe_o.loc["Fe3O4", "depth"] < 0.010 <= fe_o.drop("Fe3O4")["depth"].min()
    assert s.loc["Fe-O", "stable"] == "FeO;Fe4O5;Fe2O3;Fe3O5"
    assert s.loc["Fe-O", "shallow"] == f"Fe3O4 ({1000 * fe_o.loc['Fe3O4', 'depth']:.1f})"
    assert s.loc["Li-O", "shallow"] == "" and s.loc["Fe-Li", "shallow"] == ""
    # every vertex either counts or is named as shallow
    assert (s["n_vertices"] == s["n_stable"] + s["shallow"].str.count(r"\(")).all()
    assert (f"  shallower than 10 meV/atom, not counted (depth in meV/atom): Fe-O: {s.loc['Fe-O', 'shallow']}"
            in li_fe_o.summary().splitlines())


def test_points_carry_each_vertex_depth_and_nan_elsewhere(li_fe_o):
    p, v = li_fe_o.points, li_fe_o.vertices
    assert p.columns.tolist()[-3:] == ["is_vertex", "depth", "bf16"]
    assert p.loc[~p.is_vertex, "depth"].isna().all() and (p.loc[p.is_vertex, "depth"] > 0).all()
    on = p[p.is_vertex].merge(v, on=["system", "formula"], suffixes=("", "_v"))
    assert len(on) == len(v)
    np.testing.assert_array_equal(on["depth"], on["depth_v"])   # the same depth as vertices has


def test_shallow_column_reads_back_and_stays_empty_when_every_vertex_counts(li_fe_o, tmp_path):
    li_fe_o.save(tmp_path / "out", parquet=False)
    back = ScreenResult.read(tmp_path / "out")
    assert back.systems["shallow"].tolist() == li_fe_o.systems["shallow"].tolist()
    every = screen(elements="Li Fe O", min_depth=0, compare_dft=False, progress=False)
    assert (every.systems["shallow"] == "").all() and "not counted" not in every.summary()


def test_many_shallow_vertices_point_to_the_column():
    r = screen(elements="Fe Ni O Al Cu", min_depth=0.05, compare_dft=False, progress=False)
    s = r.systems
    n = int((s["n_vertices"] - s["n_stable"]).sum())
    assert n > 8
    assert ((f"  shallower than 50 meV/atom, not counted (depth in meV/atom): {n} vertices in "
            f"{(s['shallow'] != '').sum()} systems, listed by system in the column shallow of systems")
            in r.summary().splitlines())


# --------------------------------------------------------------------------- the command line
def test_cli_names_the_plotted_systems_shallow_vertices_and_the_orders_left_out(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["screen", "-q", "--elements", "Li Fe O", "--plot", "Fe-O", "--no-dft", "--out",
                 str(tmp_path / "a")]) == 0
    out, err = capsys.readouterr()
    line = next(t for t in out.splitlines() if t.startswith("Fe-O: "))
    assert line.startswith("Fe-O: stable FeO;Fe4O5;Fe2O3;Fe3O5; shallower than 10 meV/atom, not counted "
                           "(depth in meV/atom): Fe3O4 (")
    assert ("note: no --order given: screened only the binary systems of Fe Li O, not their 1 ternary system; "
            "add --order 3 to screen it") in err


@pytest.mark.parametrize("args, expected", [
    (["--elements", "Li Fe Mn O"], "not their 4 ternary systems and 1 quaternary system; add --order 3 (ternary) "
                                   "or --order 4 (quaternary) to screen them"),
    (["--elements", "Li Fe O", "--order", "2"], None),      # asked for binaries
    (["--elements", "Fe O"], None),                         # nothing of higher order
])
def test_cli_notes_higher_orders_only_where_order_was_not_given(args, expected, tmp_path, capsys):
    assert main(["screen", "-q", "--no-dft", "--out", str(tmp_path / "a"), *args]) == 0
    err = capsys.readouterr().err
    assert (expected in err) if expected else "--order" not in err


# --------------------------------------------------------------------------- your own model
def test_own_model_messages_point_to_what_an_installed_user_has(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(86, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    torch.save(model, tmp_path / "whole.pt")
    with pytest.raises(ModelFileError, match=r"help\(hullpack\.screening\.screen\)") as e:
        screen(str(tmp_path / "whole.pt"), elements="Fe O", progress=False, compare_dft=False)
    assert "docs/" not in str(e.value)
    with pytest.raises(ValueError, match=r"takes 103 inputs.*help\(hullpack\.screening\.screen\)"):
        screen(torch.nn.Sequential(torch.nn.Linear(103, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)),
               elements="Fe O", progress=False, compare_dft=False)
    # and that help holds what the messages promise
    doc = " ".join(screen.__doc__.split())
    for promised in ("(n, 86)", "ELEMNET_ELEMENTS", "Fe is column 22", "Linear(86, h)", "re-indexing its first Linear",
                     "wrapping it in a function", "torch.jit.load"):
        assert promised in doc, promised


# --------------------------------------------------------------------------- plot labels
def test_labels_of_nearby_vertices_keep_apart(li_fe_o):
    """Fe4O5, Fe3O4 (the DFT's, unmatched) and Fe2O3 lie within 0.05 in x: their labels were side by
    side, 3 px apart or overlapping; now at least a few points apart, with leader lines as needed."""
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    fig = li_fe_o.plot_system("Fe-O")
    fig.canvas.draw()
    texts = {t.get_text(): t.get_window_extent() for t in fig.axes[0].texts}
    assert {"Fe4O5", "Fe3O4", "Fe2O3"} <= set(texts)
    for (a, p), (b, q) in itertools.combinations(texts.items(), 2):
        apart = max(p.x0 - q.x1, q.x0 - p.x1, p.y0 - q.y1, q.y0 - p.y1)
        assert apart >= 4, (a, b, apart)
    plt.close(fig)
