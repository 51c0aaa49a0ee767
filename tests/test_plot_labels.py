"""The formula labels of the hull plots (hullpack stability --plot, ScreenResult.plot_system), as
matplotlib's renderer draws them: no label over another label or over a marker, each inside the
axes and nearer its own point than any other marker unless a leader line joins it to its point, in
crowded systems (Fe-O, Li-O, Mn-O, Ti-O, V-O, Cu-Zn and ternaries)."""
import numpy as np
import pytest
import torch

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from hullpack.screening import screen  # noqa: E402
from hullpack.screening.dft import DFTCompounds  # noqa: E402
from hullpack.stability import Reference  # noqa: E402
from hullpack.stability.plot import plot_space, space_table  # noqa: E402


def labels_of(ax):
    """The formula labels: the texts drawn on a pale box (the corner symbols have none)."""
    return [t for t in ax.texts if t.get_bbox_patch() is not None]


def label_problems(fig) -> list[str]:
    """What a reader would trip over in ``fig``'s labels, measured on the Agg canvas: labels over
    each other, over a marker of the axes' lines or under the legend, outside the axes, or, without a leader line,
    as near another marker as their own point."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    labels = labels_of(ax)
    boxes = [Text.get_window_extent(t, renderer) for t in labels]  # the text alone, not its leader line
    marks = []
    for line in ax.lines:
        if line.get_marker() in (None, "None", "", " "):
            continue
        r = line.get_markersize() / 2 * fig.dpi / 72
        marks += [(p, r, line.get_label()) for p in line.get_transform().transform(line.get_xydata())
                  if np.isfinite(p).all()]
    out = []
    for i, (t, b) in enumerate(zip(labels, boxes)):
        out += [f"{t.get_text()} over {u.get_text()}" for u, c in zip(labels[i + 1:], boxes[i + 1:]) if b.overlaps(c)]
        out += [f"{t.get_text()} over a marker of {name!r} at {p.round()}" for p, r, name in marks
                if b.x0 < p[0] + r and b.x1 > p[0] - r and b.y0 < p[1] + r and b.y1 > p[1] - r]
        if ax.get_legend() is not None and b.overlaps(ax.get_legend().get_window_extent(renderer)):
            out.append(f"{t.get_text()} under the legend")
        if not (ax.bbox.contains(b.x0, b.y0) and ax.bbox.contains(b.x1, b.y1)):
            out.append(f"{t.get_text()} outside the axes")
        if t.arrow_patch is None:
            def gap(p):
                return np.hypot(max(b.x0 - p[0], 0, p[0] - b.x1), max(b.y0 - p[1], 0, p[1] - b.y1))
            own = ax.transData.transform(t.xy)
            out += [f"{t.get_text()} as near a marker of {name!r} at {p.round()} as its own point"
                    for p, _, name in marks if np.hypot(*(p - own)) > 1.5 and gap(p) <= gap(own)]
    return out


def test_the_check_finds_labels_over_each_other_and_nearer_another_point():
    """The measure the tests below rely on: the old placement, labels at fixed offsets, put Fe2O3
    over Fe3O4 and a label under its neighbour's marker."""
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0.57, 0.6, 0.75], [-1.64, -1.65, -1.0], "o")
    ax.set_xlim(0, 1)
    ax.set_ylim(-2, 0)
    box = {"boxstyle": "square,pad=0.05", "fc": "white", "ec": "none"}
    for name, x, dx in (("Fe3O4", 0.57, 0), ("Fe2O3", 0.6, 0), ("MnO2", 0.75, -60)):
        ax.annotate(name, (x, -1.65 if x < 0.7 else -1.0), textcoords="offset points", xytext=(dx, -11),
                    ha="center", bbox=box)
    problems = label_problems(fig)
    plt.close(fig)
    assert "Fe3O4 over Fe2O3" in problems
    assert any(p.startswith("MnO2 as near a marker") for p in problems)


@pytest.fixture(scope="module")
def oqmd():
    return Reference.oqmd()


@pytest.mark.parametrize("space", ["Fe-O", "Li-O", "Mn-O", "Ti-O", "V-O", "Cu-Zn", "Li-Fe-O", "Ti-V-O"])
def test_stability_plot_labels_every_stable_compound_readably(oqmd, space):
    fig = plot_space(oqmd, space)
    table = space_table(oqmd, space)
    named = sorted(table.loc[table["stable"] & (table["n_elements"] > 1), "formula"])
    assert sorted(t.get_text() for t in labels_of(fig.axes[0])) == named
    assert label_problems(fig) == []
    plt.close(fig)


def test_stability_plot_labels_avoid_the_candidates(oqmd):
    """hullpack stability --plot Fe-O with candidates: the labels keep off their markers too, and
    the candidates are named (green) beside the reference's stable compounds (black)."""
    names = ["Fe3O4", "Fe2O3", "FeO", "Fe4O5", "Fe5O7"]
    candidates = oqmd.evaluate(names, [-1.70, -1.66, -1.40, -1.60, -1.55])
    fig = plot_space(oqmd, "Fe-O", candidates=candidates)
    texts = labels_of(fig.axes[0])
    assert sorted(t.get_text() for t in texts if t.get_color() == "black") == ["Fe2O3", "Fe3O4", "FeO"]
    assert sorted(t.get_text() for t in texts if t.get_color() == "C2") == sorted(names)
    assert label_problems(fig) == []
    plt.close(fig)


# Fe-O, Li-O, Mn-O and Cu-Zn as a Materials-Project-like set has them (formation energies, eV/atom)
MP_LIKE = DFTCompounds.from_formulas(
    ["FeO", "Fe3O4", "Fe2O3", "Fe4O5", "Fe5O7", "Li2O", "Li2O2", "LiO2", "LiO3", "MnO", "Mn3O4", "Mn2O3", "MnO2",
     "Cu3Zn", "CuZn", "Cu5Zn8", "CuZn3"],
    [-1.45, -1.66, -1.70, -1.60, -1.62, -2.07, -1.75, -1.1, -0.7, -1.99, -2.12, -2.10, -1.85,
     -0.05, -0.09, -0.10, -0.06], name="MP")


@pytest.mark.parametrize("dft", [True, MP_LIKE], ids=["OQMD", "MP-like"])
@pytest.mark.parametrize("system", ["Fe-O", "Li-O", "Mn-O", "Ti-O", "V-O", "Cu-Zn", "Fe-Li-O"])
def test_screen_plot_labels_are_readable(system, dft):
    """hullpack screen --plot with the shipped model: predicted stable compounds and the DFT ones
    no prediction matches (Fe3O4 of the MP-like set sat under Fe2O3's square in Fe-O)."""
    r = screen("default", elements=system.replace("-", " "), order=system.count("-") + 1, progress=False,
               compare_dft=dft)
    fig = r.plot_system(system)
    texts = [t.get_text() for t in labels_of(fig.axes[0])]
    assert len(texts) >= 2
    if system == "Fe-O" and dft is MP_LIKE:
        assert "Fe3O4" in texts
    assert label_problems(fig) == []
    plt.close(fig)


def bowl(x):
    """Energies on a convex bowl: every grid point of a system is a stable compound."""
    s = x.sum(1, keepdim=True)
    return -5 * (x * (s - x)).sum(1) - 0.3 * (x ** 3).sum(1)


@pytest.mark.parametrize("system, grid", [("Fe-O", "uniform:24"), ("Fe-Li-O", "uniform:7"), ("Al-Cu-Zn", "uniform:8")])
def test_labels_of_many_stable_compounds_stay_apart(system, grid):
    """23 stable compounds in a binary, 33 and 42 in a ternary, each labelled."""
    r = screen(bowl, elements=system.replace("-", " "), order=system.count("-") + 1, grid=grid, progress=False)
    fig = r.plot_system(system)
    assert len(labels_of(fig.axes[0])) >= r.system(system)["n_stable"] >= 23
    assert label_problems(fig) == []
    plt.close(fig)


def test_a_plot_without_labels_draws(tmp_path):
    """A system with no stable compound to name: nothing placed, the figure saved."""
    r = screen(lambda x: torch.zeros(len(x)), elements="Fe O", progress=False, compare_dft=False)
    path = tmp_path / "Fe-O.png"
    r.plot_system("Fe-O", path)
    assert path.stat().st_size > 10_000
