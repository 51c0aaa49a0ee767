"""Figures of the XElemNet analyses. Every function returns a matplotlib Figure (made with pyplot, so
notebooks show it); :func:`save` writes a PNG and closes it. Headless scripts should select the Agg
backend first (``matplotlib.use("Agg")``; ``hullpack explain`` does).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..elements import ELEMNET_ELEMENTS, element_table
from ..naming import plural
from ..plotting import cell_text_colour
from .base import ENERGY_UNIT, PROPERTIES, elements_arg, xai_import

_GROUP_CMAP = "tab20"
#: the colour of a cell without a value (periodic table, matrices): apart from every colour map's
#: values, white included (the centre of a diverging map, a value of 0)
_NO_VALUE = (0.88, 0.88, 0.88, 1.0)
_PROPERTY_LABELS = {
    "electronegativity": "Pauling electronegativity",
    "group": "group",
    "period": "period",
    "ionization_energy": "first ionization energy (eV)",
    "atomic_radius": "atomic radius (Å)",
}


def _plt():
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | os.PathLike, *, dpi: int = 150) -> Path:
    """Write ``fig`` as PNG (tight bounding box) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white")
    _plt().close(fig)
    return path


def _norm(values: np.ndarray, center: float | None):
    from matplotlib.colors import Normalize, TwoSlopeNorm

    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if center is not None:
        # one scale either side of the centre, so a colour's depth reads as the same size of value on
        # both: fitting each half to its own extreme drew -0.09 as deep a blue as +2.0 was red (and a
        # half without values spanned the centre to 1e-9)
        half = max(center - lo, hi - center, 1e-9)
        return TwoSlopeNorm(vcenter=center, vmin=center - half, vmax=center + half)
    return Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1e-9)


def cell_format(values, fmt: str = "{:.2f}") -> str:
    """``fmt``, or two significant digits where ``fmt`` is too coarse for the values: where it
    shows the largest magnitude off by more than a tenth (a barely trained model's SHAP values of
    -0.0006 eV/atom all read "-0.00").

    >>> cell_format([1.51, -0.004]), cell_format([-0.00068, -0.0004]).format(-0.00068)
    ('{:.2f}', '-0.00068')
    """
    v = np.abs(np.asarray(values, dtype=float))
    top = float(v[np.isfinite(v)].max(initial=0.0))
    return fmt if top == 0 or abs(abs(float(fmt.format(top))) - top) <= 0.1 * top else "{:.2g}"


def periodic_table_heatmap(values: pd.Series, *, title: str = "", label: str = "", cmap: str | None = None,
                           center: float | None = None, fmt: str = "{:.2f}", ax=None):
    """Colour the periodic table by a per-element value (a Series indexed by symbol). Elements
    without a value are grey; lanthanides and actinides sit in two rows below. ``center`` (e.g. 0
    for signed values) uses a diverging colour map centred there. A symbol that is not one of
    ElemNet's elements raises :class:`hullpack.errors.CompositionError` naming it.

    >>> fig = periodic_table_heatmap(pd.Series({"Na": -1.0, "Cl": 2.0}), title="toy", label="eV/atom")
    >>> len(fig.axes)   # the table and its colour bar
    2
    """
    plt = _plt()
    from matplotlib.patches import Rectangle

    table = element_table()
    values = pd.Series(values, dtype=float)
    if len(values):
        elements_arg(values.index)  # a misspelt symbol would be a grey cell, its value still in the scale
    cmap_ = plt.get_cmap(cmap or ("RdBu_r" if center is not None else "viridis"))
    norm = _norm(values.to_numpy(), center)
    fmt = cell_format(values.to_numpy(), fmt)
    if ax is None:
        fig, ax = plt.subplots(figsize=(13, 7))
    else:
        fig = ax.figure
    for symbol, row in table.iterrows():
        r, c = int(row["table_row"]), int(row["table_col"])
        y = r + (0.4 if r >= 8 else 0.0)  # a gap above the f-block rows
        v = values.get(symbol, np.nan)
        face = cmap_(norm(v)) if np.isfinite(v) else _NO_VALUE
        ax.add_patch(Rectangle((c - 0.47, y - 0.47), 0.94, 0.94, facecolor=face, edgecolor="white", lw=1.0))
        colour = cell_text_colour(face)  # black on the grey of an element without a value
        ax.text(c, y - 0.12, symbol, ha="center", va="center", fontsize=10, fontweight="bold", color=colour)
        if np.isfinite(v):
            ax.text(c, y + 0.24, fmt.format(v), ha="center", va="center", fontsize=6.5, color=colour)
    ax.set_xlim(0.4, 18.6)
    ax.set_ylim(9.9, 0.4)
    ax.set_aspect("equal")
    ax.set_xticks(range(1, 19))
    ax.xaxis.tick_top()
    ax.set_yticks(range(1, 8))
    ax.set_xlabel("group")
    ax.xaxis.set_label_position("top")
    ax.set_ylabel("period")
    for side in ("right", "bottom", "left", "top"):
        ax.spines[side].set_visible(False)
    ax.tick_params(length=0)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap_)
    cbar = fig.colorbar(sm, ax=ax, orientation="horizontal", fraction=0.04, pad=0.04, aspect=40)
    cbar.set_label(label)
    if title:
        ax.set_title(title, pad=28, fontsize=13)
    return fig


def matrix_heatmap(matrix: pd.DataFrame, *, title: str = "", label: str = "", cmap: str = "viridis",
                   center: float | None = None, fmt: str = "{:.2f}", counts: pd.DataFrame | None = None,
                   xlabel: str | None = None, ylabel: str | None = None, drop_empty: bool = True):
    """Heatmap of a matrix (e.g. group × group); NaN cells grey (on a diverging map white is a value,
    its centre); values written in the cells (with ``n=`` from ``counts`` when given); rows and
    columns without any value dropped.

    >>> m = pd.DataFrame([[0.1, np.nan], [0.3, 0.0]], index=[1, 2], columns=[16, 17])
    >>> len(matrix_heatmap(m, label="|x_p - x_e|").axes)
    2
    """
    plt = _plt()
    m = matrix.astype(float)
    if drop_empty:
        m = m.dropna(how="all", axis=0).dropna(how="all", axis=1)
    if m.empty:
        raise ValueError("nothing to plot: the matrix has no values")
    cmap_ = plt.get_cmap("RdBu_r" if center is not None and cmap == "viridis" else cmap).with_extremes(bad=_NO_VALUE)
    norm = _norm(m.to_numpy(), center)
    h, w = m.shape
    cell = 0.5 if w * h <= 400 else 0.3  # annotated cells need room; bare ones do not
    fig, ax = plt.subplots(figsize=(max(5.5, 1.25 * cell * w + 2.5), max(3.5, cell * h + 1.8)))
    im = ax.imshow(np.ma.masked_invalid(m.to_numpy()), cmap=cmap_, norm=norm, aspect="auto")
    ax.set_xticks(range(w), [str(c) for c in m.columns], rotation=90 if w > 20 else 0)
    ax.set_yticks(range(h), [str(r) for r in m.index])
    ax.set_xlabel(xlabel if xlabel is not None else str(m.columns.name or ""))
    ax.set_ylabel(ylabel if ylabel is not None else str(m.index.name or ""))
    if w * h <= 400:
        fmt = cell_format(m.to_numpy(), fmt)
        for i in range(h):
            for j in range(w):
                v = m.iat[i, j]
                if np.isfinite(v):
                    colour = cell_text_colour(cmap_(norm(v)))
                    text = fmt.format(v)
                    if counts is not None:
                        n = counts.reindex(index=m.index, columns=m.columns).iat[i, j]
                        text += f"\nn={int(n)}" if np.isfinite(n) else ""
                    ax.text(j, i, text, ha="center", va="center", fontsize=7, color=colour)
    cbar = fig.colorbar(im, ax=ax)
    cbar.set_label(label)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def _group_colours(groups: np.ndarray):
    plt = _plt()
    cmap = plt.get_cmap(_GROUP_CMAP)
    return [cmap((int(g) - 1) % 20) for g in groups]


def _group_legend(ax, groups: Iterable[int], **kwargs) -> None:
    from matplotlib.lines import Line2D

    plt = _plt()
    cmap = plt.get_cmap(_GROUP_CMAP)
    handles = [Line2D([], [], marker="o", ls="", color=cmap((g - 1) % 20), label=str(g)) for g in sorted(set(groups))]
    ax.legend(handles=handles, title="group", fontsize=7, title_fontsize=8, ncol=2, **kwargs)


def alignment_scatter(quantities: pd.DataFrame, alignment: pd.DataFrame, *,
                      properties: Sequence[str] | None = None, units: dict[str, str] | None = None,
                      labels: dict[str, str] | None = None, label_top: int = 4):
    """Scatter of each per-element quantity (rows) against each element property (columns),
    points coloured by group, the most extreme elements named, Spearman ρ and p in each title.
    A row's axis reads ``labels[quantity]`` (default: the quantity's name) and its unit from ``units``.

    >>> t = element_table()
    >>> q = pd.DataFrame({"toy": -t["electronegativity"]})
    >>> from hullpack.xai.alignment import property_alignment
    >>> fig = alignment_scatter(q, property_alignment(q))
    >>> len(fig.axes)
    5
    """
    plt = _plt()
    table = element_table()
    props = list(properties or PROPERTIES)
    units = units or {}
    nq, npr = len(quantities.columns), len(props)
    fig, axes = plt.subplots(nq, npr, figsize=(3.3 * npr, 3.0 * nq), squeeze=False)
    for i, q in enumerate(quantities.columns):
        y = pd.to_numeric(quantities[q], errors="coerce")
        for j, p in enumerate(props):
            ax = axes[i, j]
            both = pd.concat([table[p].astype(float).rename("x"), y.rename("y")], axis=1, join="inner").dropna()
            groups = table.loc[both.index, "group"].to_numpy()
            ax.scatter(both["x"], both["y"], c=_group_colours(groups), s=18, edgecolor="k", linewidth=0.3)
            ax.margins(0.08, 0.12)  # room for the extreme points' labels inside the frame
            if len(both):
                extreme = both["y"].abs().sort_values(ascending=False).index[:label_top]
                for s in extreme:
                    ax.annotate(s, (both.at[s, "x"], both.at[s, "y"]), fontsize=7, xytext=(3, 3),
                                textcoords="offset points")
            row = alignment[(alignment["quantity"] == q) & (alignment["property"] == p)]
            if len(row):
                rho, pv = float(row["rho"].iloc[0]), float(row["p_value"].iloc[0])
                ax.set_title(f"ρ = {rho:+.2f}, p = {pv:.1e}", fontsize=9)
            ax.set_xlabel(_PROPERTY_LABELS.get(p, p), fontsize=8)
            if j == 0:
                unit = units.get(q, "")
                name = (labels or {}).get(q, q)
                ax.set_ylabel(f"{name} ({unit})" if unit else name, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    _group_legend(axes[0, -1], table["group"], loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig


def importance_bar(df: pd.DataFrame, *, value: str = "delta_mae", low: str = "ci_low", high: str = "ci_high",
                   top: int = 25, title: str = "", label: str = f"ΔMAE ({ENERGY_UNIT})"):
    """Horizontal bars of the ``top`` elements by ``value`` with their interval as error bars;
    elements in none of the compositions (``n_containing`` 0: nothing measured) are left out.

    >>> df = pd.DataFrame({"delta_mae": [0.3, 0.1], "ci_low": [0.2, 0.05], "ci_high": [0.4, 0.2]}, index=["O", "F"])
    >>> len(importance_bar(df).axes)
    1
    """
    plt = _plt()
    if "n_containing" in df:
        df = df[df["n_containing"] > 0]
    d = df.sort_values(value, ascending=False).head(top).iloc[::-1]
    groups = element_table().loc[d.index, "group"].to_numpy()
    fig, ax = plt.subplots(figsize=(6.5, max(3.0, 0.26 * len(d) + 1.2)))
    err = None
    if low in d and high in d:
        err = np.vstack([(d[value] - d[low]).clip(lower=0), (d[high] - d[value]).clip(lower=0)])
    ax.barh(range(len(d)), d[value], xerr=err, color=_group_colours(groups), edgecolor="k", linewidth=0.4,
            error_kw={"elinewidth": 0.8, "capsize": 2})
    ax.set_yticks(range(len(d)), list(d.index))
    ax.set_xlabel(label)
    ax.axvline(0, color="k", lw=0.6)
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title)
    _group_legend(ax, groups, loc="lower right")
    fig.tight_layout()
    return fig


def fidelity_plot(fidelity: pd.DataFrame, *, chosen: int | None = None):
    """Surrogate-tree fidelity (R² against the model, train and held-out) against depth."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(fidelity.index, fidelity["r2_train"], "o-", label="train")
    ax.plot(fidelity.index, fidelity["r2_test"], "s-", label="held out")
    if chosen is not None:
        ax.axvline(chosen, color="grey", ls="--", lw=1, label=f"chosen depth {chosen}")
    ax.set_xlabel("tree depth")
    ax.set_ylabel("fidelity R² (tree vs model)")
    ax.set_ylim(min(0.0, float(fidelity[["r2_train", "r2_test"]].min().min())), 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def tree_plot(tree, *, max_depth: int = 3, feature_names: Sequence[str] | None = None):
    """A surrogate tree down to nodes of depth ``max_depth`` (the root at 0), so its top
    ``max_depth + 1`` levels of splits; node values are energies in eV/atom.

    >>> from sklearn.tree import DecisionTreeRegressor
    >>> x = np.random.default_rng(0).random((200, 86))
    >>> fig = tree_plot(DecisionTreeRegressor(max_depth=6, random_state=0).fit(x, x[:, 0] * x[:, 1]))
    >>> fig.axes[0].get_title()
    'surrogate tree (top 4 levels of splits; value = predicted energy, eV/atom)'
    """
    plot_tree = xai_import("sklearn.tree", "the surrogate tree plot").plot_tree

    plt = _plt()
    depth = split_levels(tree, max_depth)
    fig, ax = plt.subplots(figsize=(min(26, 3.0 * 2 ** depth), 2.4 * (depth + 1)))
    names = [f"x_{e}" for e in (feature_names or ELEMNET_ELEMENTS)]
    plot_tree(tree, max_depth=max_depth, feature_names=names, filled=True, impurity=False, precision=3,
              rounded=True, fontsize=8, ax=ax)
    if depth == 0:  # one leaf: the tree never split
        ax.set_title(f"surrogate tree: no split (one leaf; value = mean predicted energy, {ENERGY_UNIT})")
    else:
        levels = "level" if depth == 1 else f"{depth} levels"
        ax.set_title(f"surrogate tree (top {levels} of splits; value = predicted energy, {ENERGY_UNIT})")
    return fig


def split_levels(tree, max_depth: int = 3) -> int:
    """How many levels of splits :func:`tree_plot` draws: the nodes down to depth ``max_depth``
    are drawn, and those at the tree's own depth are leaves."""
    return min(max_depth + 1, tree.get_depth())


def xp_xe_plot(df: pd.DataFrame):
    """x_p against x_e for cation–anion pairs with a predicted compound and a charge-balanced
    composition (a deviation), coloured by the anion's group, marked by the cation's (a marker and a
    colour per group present: the study set's 1-3 × 15-17 or any other); the title counts the pairs
    left out for having no predicted compound."""
    plt = _plt()
    d = df.dropna(subset=["x_e"])
    no_compound = int((~d["forms"].astype(bool)).sum()) if "forms" in d else 0
    d = d.dropna(subset=["deviation"])
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [1.1, 1]})
    # in order of group, so groups 1-3 are o, s, ^ and 15-17 blue, orange, green in the study set
    markers = dict(zip(sorted(d["group_A"].unique()), "os^DvPX*<>phHd8" * 2))  # filled markers, 15 apart
    colours = dict(zip(sorted(d["group_B"].unique()), [f"tab:{c}" for c in (
        "blue", "orange", "green", "red", "purple", "brown", "pink", "grey", "olive", "cyan")]
        + ["black", "gold", "lime", "navy", "magenta", "teal", "salmon", "tan"]))  # 18, one per group
    jitter = np.random.default_rng(0).uniform(-0.006, 0.006, len(d))  # x_e takes few values
    for (ga, gb), part in d.groupby(["group_A", "group_B"]):
        ax.scatter(part["x_e"] + jitter[d.index.get_indexer(part.index)], part["x_p"], s=20,
                   marker=markers[ga], color=colours[gb], edgecolor="k", linewidth=0.3,
                   alpha=0.85, label=f"{ga} × {gb}")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("x_e (charge-balanced fraction of A)")
    ax.set_ylabel("x_p (fraction of A at lowest predicted energy)")
    ax.set_title("A_x B_(1-x): predicted vs charge-balanced"
                 + (f"\n({plural(no_compound, 'pair')} with no predicted compound left out)" if no_compound else ""),
                 fontsize=10)
    # below the panel, as the histogram's: inside, it hid the points near x_e = x_p of its corner;
    # half an inch under the axis, clear of its label however much room the legends take
    from matplotlib.transforms import ScaledTranslation

    below = dict(loc="upper center", bbox_to_anchor=(0.5, 0.0), frameon=False)
    ax.legend(title="group A × group B", fontsize=7, title_fontsize=8, ncol=3, **below,
              bbox_transform=ax.transAxes + ScaledTranslation(0, -0.5, fig.dpi_scale_trans))
    ax.grid(alpha=0.3)
    bins = np.linspace(-1, 1, 41)
    for gb, part in d.groupby("group_B"):
        ax2.hist(part["deviation"], bins=bins, histtype="step", lw=1.5, color=colours[gb],
                 label=f"B in group {gb} (mean |dev| {part['abs_deviation'].mean():.3f})")
    ax2.axvline(0, color="k", lw=0.8)
    ax2.set_xlabel("x_p - x_e")
    ax2.set_ylabel("pairs")
    ax2.yaxis.get_major_locator().set_params(integer=True)  # counts
    # below the panel: the tall bars at 0 run through any corner it could take inside
    ax2.legend(fontsize=8, **below, bbox_transform=ax2.transAxes + ScaledTranslation(0, -0.5, fig.dpi_scale_trans))
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def pca_grid(projection, which: str = "pure", *, label_points: bool | None = None):
    """Scatter of PC1 vs PC2 for each hidden layer (``which`` = "pure" or "binary"), coloured by
    group (binaries: the cation's group), titled with the layer, its width and the group separation."""
    plt = _plt()
    scores = projection.pure if which == "pure" else projection.binary
    groups = projection.pure_groups if which == "pure" else projection.binary_groups
    label_points = which == "pure" if label_points is None else label_points

    n = len(projection.layers)
    cols = min(5, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    summary = projection.summary[projection.summary["set"] == which].set_index("layer")
    colours = _group_colours(groups)
    for k, name in enumerate(projection.layers):
        ax = axes[k // cols, k % cols]
        s = scores[name]
        ax.scatter(s[:, 0], s[:, 1], c=colours, s=14 if which == "pure" else 4, edgecolor="none", alpha=0.85)
        if label_points:
            for i, sym in enumerate(ELEMNET_ELEMENTS):
                ax.annotate(sym, (s[i, 0], s[i, 1]), fontsize=5, alpha=0.8)
        row = summary.loc[name]
        ax.set_title(f"layer {k + 1} ({int(row['width'])}): sep {row['group_separation']:.2f}", fontsize=8)
        ax.set_xlabel(f"PC1 ({row['pc1_share']:.0%})", fontsize=7)
        ax.set_ylabel(f"PC2 ({row['pc2_share']:.0%})", fontsize=7)
        ax.tick_params(labelsize=6)
    for k in range(n, rows * cols):
        axes[k // cols, k % cols].axis("off")
    _group_legend(axes[0, -1], groups, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    chance = f" (random groups: {summary['chance_separation'].iloc[0]:.2f})" if "chance_separation" in summary else ""
    fig.suptitle(f"hidden-layer PCA, {'pure elements' if which == 'pure' else 'equiatomic binaries (cation group)'}"
                 f"; sep = between-group share of variance{chance}", fontsize=10)
    fig.tight_layout()
    return fig


def shap_figure(explanation, kind: str = "beeswarm", *, max_display: int = 20):
    """shap's own ``bar`` or ``beeswarm`` plot of an Explanation, as a Figure."""
    import shap

    plt = _plt()
    fig = plt.figure()
    if kind == "bar":
        shap.plots.bar(explanation, max_display=max_display, show=False)
    elif kind == "beeswarm":
        shap.plots.beeswarm(explanation, max_display=max_display, show=False)
    else:
        raise ValueError(f"kind={kind!r}: expected 'bar' or 'beeswarm'")
    fig = plt.gcf()
    fig.axes[0].set_xlabel(f"mean |SHAP value| over compositions ({ENERGY_UNIT})" if kind == "bar"
                           else f"SHAP value (impact on predicted energy, {ENERGY_UNIT})")
    if kind == "beeswarm" and len(fig.axes) > 1:
        fig.axes[-1].set_ylabel("element fraction")  # shap's colour bar says "Feature value"
    ax = fig.axes[0]  # shap's last row, "Sum of 67 other features": the features are elements
    ax.set_yticks(ax.get_yticks(), [re.sub(r"^Sum of (\d+) other features$", r"sum of the \1 other elements",
                                           t.get_text()) for t in ax.get_yticklabels()])
    return fig


__all__ = ["save", "periodic_table_heatmap", "matrix_heatmap", "alignment_scatter", "importance_bar",
           "fidelity_plot", "tree_plot", "xp_xe_plot", "pca_grid", "shap_figure"]
