"""One system of a screen again, in full: the model's points in fp32, its hull and stable
compounds beside the known DFT compounds, as a table (:meth:`ScreenResult.system_table
<hullpack.screening.result.ScreenResult.system_table>`, any order) or a figure
(:meth:`ScreenResult.plot_system <hullpack.screening.result.ScreenResult.plot_system>`, binaries
and ternaries).
"""
from __future__ import annotations

import math
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pandas as pd

from .. import compositions
from ..elements import ELEMNET_ELEMENTS
from ..errors import ScreeningError
from ..hull import Hull, hull_batch, lower_hull
from ..plotting import draw_ternary_facets, finish_figure, label_triangle, place_labels, triangle_xy
from .dft import load_dft, match_compositions
from .grids import resolve_grid
from .hulls import HULL_TOL, vertex_depth
from .models import make_engine
from .names import alphabetical_order, formula_of, formulas, parse_system
from .outputs import _need

__all__ = ["match", "one_system", "plot_system", "system_table"]


def _known_formulas(els: np.ndarray, fractions: np.ndarray) -> list[str]:
    """The formulas of known compounds given as fractions over ``els`` (small whole numbers of
    atoms: 0.4, 0.6 -> Fe2O3)."""
    out = []
    for f in fractions:
        fr = [Fraction(float(v)).limit_denominator(1000) for v in f]
        den = math.lcm(*(x.denominator for x in fr))
        out.append(formula_of(els, [int(x * den) for x in fr]))
    return out


def one_system(result, els: np.ndarray, what: str) -> dict:
    """One system of ``result`` predicted again in fp32 on its grid (its order's default grid if
    the screen's is of another order), its hull, stable compounds and known DFT compounds."""
    if result.model is None:
        raise ScreeningError(f"this result has no model attached (loaded from files?): screen again to {what}")
    order = len(els)
    grid = result.config.get("grid_array")
    if grid is None or np.asarray(grid).shape[1] != order:
        grid = resolve_grid(order)
    grid = np.asarray(grid, dtype=np.int32)
    e = make_engine(result.model).predict(els[None, :], grid, "fp32")[0].astype(np.float64)
    fr = compositions.grid_fractions(grid)
    n_nonfinite = int((~np.isfinite(e)).sum())
    if n_nonfinite:  # as in the screen (its 'nonfinite' column): no hull, no stable compound
        h: Hull | SimpleNamespace = SimpleNamespace(is_vertex=np.zeros(len(e), bool),
                                                    facets=np.zeros((0, order), np.int64))
        depth = np.full(len(e), np.nan)
    else:
        h = lower_hull(fr, e, tol=HULL_TOL)
        depth = vertex_depth(fr, e[None, :], h.is_vertex[None, :])[0]
    stable = h.is_vertex & (depth >= float(result.config.get("min_depth", 0.0)))
    known = result.dft if result.dft is not None else load_dft()
    fd, ed, _ = known.of_system(els)
    perm = alphabetical_order(els[None, :])[0]       # columns in the order of the system's name
    return dict(grid=grid, fr=fr, e=e, h=h, depth=depth, stable=stable, fd=fd, ed=ed, perm=perm, known=known.name,
                n_nonfinite=n_nonfinite,
                labels=formulas(els[None, :], grid, np.zeros(int(stable.sum()), np.int64), np.flatnonzero(stable)),
                names=[ELEMNET_ELEMENTS[els[k]] for k in perm])


def match(config: dict, predicted: np.ndarray, known: np.ndarray):
    """Which of one system's predicted and known stable compounds (fractions) the other source
    matches within the ``match_tol`` of the screen's ``config``: (predicted matched, known matched)."""
    return match_compositions(np.zeros(len(predicted), np.int64), predicted, np.zeros(len(known), np.int64), known,
                              1, float(config.get("match_tol", 0.0)))


def system_table(result, name: str) -> pd.DataFrame:
    """The table of :meth:`ScreenResult.system_table
    <hullpack.screening.result.ScreenResult.system_table>` for the system ``name`` of ``result``."""
    els = parse_system(name)
    one = one_system(result, els, "tabulate a system")
    perm, stable = one["perm"], one["stable"]
    fd, ed = one["fd"], one["ed"]
    if len(ed):
        hd = hull_batch(fd, ed, np.array([0, len(ed)]), tol=HULL_TOL, decomposition=False, depth=True)
        dv = np.flatnonzero(hd.is_vertex)
        assert hd.vertex_depth is not None  # depth=True
        d_depth = hd.vertex_depth[dv]
    else:
        dv, d_depth = np.zeros(0, np.int64), np.zeros(0)
    pf, df_ = one["fr"][stable], fd[dv]
    mp, md = match(result.config, pf, df_)

    d_formulas = _known_formulas(els, df_)
    parts = []
    for source, f, e, depth, form, matched in (
            ("model", pf, one["e"][stable], one["depth"][stable], list(one["labels"]), mp),
            (one["known"], df_, ed[dv], d_depth, d_formulas, md)):
        part = pd.DataFrame({"source": source, "formula": pd.Series(form, dtype=object)})
        for j, sym in zip(perm, one["names"]):
            part[f"x_{sym}"] = f[:, j]
        part["energy"], part["depth"], part["matched"] = e, depth, matched
        parts.append(part.sort_values("energy", kind="stable"))
    return pd.concat(parts, ignore_index=True)


def plot_system(result, name: str, path=None):
    """The figure of :meth:`ScreenResult.plot_system
    <hullpack.screening.result.ScreenResult.plot_system>` for the system ``name`` of ``result``."""
    els = parse_system(name)
    if len(els) > 3:
        raise ScreeningError(f"system {name!r} is a quaternary: it is not drawn; "
                             f"ScreenResult.system_table({name!r}) lists its predicted and known stable "
                             "compounds (the command line writes it to SYSTEM.csv)")
    _need("matplotlib", "ScreenResult.plot_system", "plot")
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    one = one_system(result, els, "plot")
    fr, e, h, stable, labels = (one[k] for k in ("fr", "e", "h", "stable", "labels"))
    fd, ed, perm, names, known = one["fd"], one["ed"], one["perm"], one["names"], one["known"]
    order = len(els)
    system = "-".join(names)
    fig, ax = plt.subplots(figsize=(7, 5) if order == 2 else (7, 6.2))
    if order == 2:
        x, xd = fr[:, perm[1]], fd[:, perm[1]]
        ax.plot(x, e, ".", ms=3, color="0.6", label="model (grid)")
        if not one["n_nonfinite"]:
            hv = np.r_[0.0, x[h.is_vertex], 1.0], np.r_[0.0, e[h.is_vertex], 0.0]
            o = np.argsort(hv[0])
            ax.plot(hv[0][o], hv[1][o], "-", color="C0", label="predicted hull")
        ax.plot(x[h.is_vertex], e[h.is_vertex], "o", color="C0", ms=3, mfc="none", label="predicted hull vertices")
        ax.plot(x[stable], e[stable], "o", color="C0", ms=5, label="predicted stable")
        named = x[stable], e[stable]
        if len(ed):
            hd = lower_hull(fd, ed, tol=HULL_TOL)
            ax.plot(xd, ed, "x", color="C3", ms=5, label=f"{known} compounds")
            dv = np.r_[0.0, xd[hd.is_vertex], 1.0], np.r_[0.0, ed[hd.is_vertex], 0.0]
            o = np.argsort(dv[0])
            ax.plot(dv[0][o], dv[1][o], "--s", color="C3", ms=5, mfc="none", label="DFT hull")
            known_xy = xd[hd.is_vertex], ed[hd.is_vertex]
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ymargin(0.1)  # room under the hull's lowest vertices for their labels
        ax.set_xlabel(f"fraction of {names[1]} in {system}")
        ax.set_ylabel("formation energy (eV/atom)")
    else:
        def xy(f):  # fractions in ElemNet's column order -> the triangle of the name's order
            return triangle_xy(f, perm)
        px, py = xy(fr)
        sc = ax.scatter(px, py, c=e, s=12, cmap="viridis", label="model (grid)")
        fig.colorbar(sc, ax=ax, label="predicted energy (eV/atom)", shrink=0.8)
        draw_ternary_facets(ax, h.facets, fr, perm, color="C0", ls="-", lw=0.7)
        vx, vy = xy(fr[h.is_vertex])
        ax.plot(vx, vy, "o", color="C0", ms=3, mfc="none", label="predicted hull vertices")
        sx, sy = xy(fr[stable])
        ax.plot(sx, sy, "o", color="C0", ms=6, label="predicted stable")
        named = sx, sy
        if len(ed):
            hd = lower_hull(fd, ed, tol=HULL_TOL)
            draw_ternary_facets(ax, hd.facets, fd, perm, color="C3", ls="--", lw=0.7)
            dx, dy = xy(fd)
            ax.plot(dx, dy, "x", color="C3", ms=5, label=f"{known} compounds")
            sx, sy = xy(fd[hd.is_vertex])
            ax.plot(sx, sy, "s", color="C3", mfc="none", ms=8, label="DFT stable")
            known_xy = sx, sy
        label_triangle(ax, names)
    # the predicted stable compounds' formulas, and those of the DFT stable compounds no
    # predicted one matches (a matched one sits under its predicted twin's label)
    px_, py_, texts, colors = *named, list(labels), ["C0"] * len(labels)
    if len(ed):
        dft_stable = fd[hd.is_vertex]
        missed = ~np.asarray(match(result.config, fr[stable], dft_stable)[1], bool)
        px_, py_ = np.r_[px_, known_xy[0][missed]], np.r_[py_, known_xy[1][missed]]
        texts += _known_formulas(els, dft_stable[missed])
        colors += ["C3"] * int(missed.sum())
    title = f"{system}: predicted vs DFT ({known}) convex hull"
    if one["n_nonfinite"]:
        title += f"\nno predicted hull: the model is not finite at {one['n_nonfinite']} of {len(e)} points"
    ax.set_title(title)  # before the labels, which are placed in the final layout
    place_labels(ax, px_, py_, texts, color=colors)
    return finish_figure(fig, ax, title, path)
