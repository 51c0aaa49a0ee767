"""One chemical space of a :class:`~hullpack.stability.Reference`: its entries and their stability
as a table, drawn as a convex hull for binaries and ternaries (matplotlib), with candidates on top.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..elements import ALL_ELEMENT_INDEX, N_ALL_ELEMENTS
from ..hull import lower_hull
from ..plotting import draw_ternary_facets, finish_figure, label_triangle, place_labels, triangle_xy
from .hulls import Reference, known_stable
from .inputs import parse

__all__ = ["parse_space", "plot_space", "space_table"]

#: a plot names every candidate where it has at most this many in the space, else the stable ones
MAX_CANDIDATE_LABELS = 12


def parse_space(space: str) -> list[str]:
    """The element symbols of a chemical space written ``Fe-O``, ``Fe,O`` or ``Fe O``, sorted
    alphabetically.

    >>> parse_space("O-Fe-Ni")
    ['Fe', 'Ni', 'O']
    """
    symbols = [t for t in str(space).replace(",", " ").replace("-", " ").split() if t]
    unknown = [t for t in symbols if t not in ALL_ELEMENT_INDEX]
    if not symbols or unknown or len(set(symbols)) != len(symbols):
        raise ValueError(f"space {space!r}: expected distinct element symbols joined by '-' "
                         f"(e.g. 'Fe-O'){'; unknown: ' + ', '.join(unknown) if unknown else ''}")
    return sorted(symbols)


def _rows_in(parsed, symbols: list[str]) -> np.ndarray:
    """Valid rows of ``parsed`` whose elements all belong to ``symbols``."""
    inside = np.zeros(N_ALL_ELEMENTS, dtype=bool)
    inside[[ALL_ELEMENT_INDEX[s] for s in symbols]] = True
    counts = np.diff(parsed.offsets)
    rows = np.repeat(np.arange(len(counts)), counts)
    outside = np.bincount(rows, weights=~inside[parsed.elements], minlength=len(counts))
    return np.flatnonzero((outside == 0) & (counts > 0) & parsed.valid)


def _fractions(parsed, rows, symbols: list[str]) -> np.ndarray:
    col = {ALL_ELEMENT_INDEX[s]: j for j, s in enumerate(symbols)}
    f = np.zeros((len(rows), len(symbols)))
    off = parsed.offsets
    for i, r in enumerate(rows):
        for e, v in zip(parsed.elements[off[r]:off[r + 1]], parsed.fractions[off[r]:off[r + 1]]):
            f[i, col[int(e)]] = v
    return f


def space_table(reference: Reference, space: str) -> pd.DataFrame:
    """Stability of the reference's entries in ``space`` and its subspaces, most stable first, with
    their atomic fractions (``x_Fe``, ``x_O``, ...).

    >>> ref = Reference(["Fe2O3", "FeO", "NiO", "Fe3O4"], [-1.7, -1.3, -1.2, -1.6])
    >>> space_table(ref, "Fe-O")[["formula", "stable"]].values.tolist()
    [['Fe2O3', True], ['Fe3O4', False], ['FeO', False]]
    """
    symbols = parse_space(space)
    rows = _rows_in(reference.parsed, symbols)
    table = reference.stability(rows, progress_bar=False)
    f = _fractions(reference.parsed, rows, symbols)
    for j, s in enumerate(symbols):
        table[f"x_{s}"] = f[:, j]
    return table.sort_values(["decomposition_energy", "formula"], kind="stable")


def _candidate_points(candidates: pd.DataFrame, symbols: list[str], tol: float = 1e-9, given: bool = False):
    """Fractions, energies, stable flags and names of the candidates in the space, which of the
    unstable ones lie on the hull (``e_above_hull`` within ``tol``: at a reference entry's energy)
    and which are known stable (:func:`~hullpack.stability.hulls.known_stable`, ``given`` as it
    takes it), the rest."""
    candidates = candidates[candidates["problem"].isna()]  # bad rows have no place to be drawn
    parsed = parse(candidates["formula"].tolist(), candidates["energy"].to_numpy(), require_energies=False)
    rows = _rows_in(parsed, symbols)
    stable = candidates["stable"].to_numpy(dtype=bool, na_value=False)[rows]
    on = ~stable & (candidates["e_above_hull"].to_numpy(dtype=float)[rows] <= tol)
    known = known_stable(candidates, given).to_numpy(dtype=bool)[rows] & ~on
    return _fractions(parsed, rows, symbols), parsed.energies[rows], stable, parsed.names[rows], on, known


def _draw_candidates(ax, x, y, stable, names, on, known) -> None:
    """The candidates at ``(x, y)``, one marker per kind, each kind in the legend where it has any."""
    kinds = ((stable, "*", dict(color="C2", ms=11), "candidate, stable"),
             (on, "o", dict(mfc="none", color="C2", ms=9), "candidate, on the hull"),
             (known, "D", dict(mfc="none", color="C1", ms=7), "candidate, known stable (on the reference's hull)"),
             (~stable & ~on & ~known, "x", dict(color="C3", ms=7), "candidate, unstable"))
    for which, marker, style, label in kinds:
        if which.any():
            ax.plot(x[which], y[which], marker, label=label, **style)


def plot_space(reference: Reference, space: str, path=None, *, candidates: pd.DataFrame | None = None,
               given: bool = False):
    """Draw a binary or ternary space: the reference's entries, its hull (stable compounds labelled,
    tie-lines for a ternary) and, given a result table of :meth:`Reference.evaluate`, the candidates
    (stars: stable; open circles: on the hull at a reference entry's energy, not a new stable
    compound; open diamonds: known stable, a compound on the reference's hull whose energy here lies
    above the reference's, :func:`~hullpack.stability.hulls.known_stable` with ``given``: the
    candidates' energies are the user's own, not a model's; crosses: above the hull), labelled in
    green (every one of up to :data:`MAX_CANDIDATE_LABELS`, else the stable ones). Saves a PNG to
    ``path`` when given; returns the figure. Spaces of
    four or more elements have no drawing: ValueError (use :func:`space_table`).
    """
    symbols = parse_space(space)
    if len(symbols) not in (2, 3):
        raise ValueError(f"space {space!r}: only binary and ternary spaces are drawn; "
                         "space_table() lists the entries of larger ones")
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = space_table(reference, space)
    if not len(table) and (candidates is None or not len(_candidate_points(candidates, symbols)[0])):
        raise ValueError(f"space {'-'.join(symbols)!r}: no entries in it, nothing to draw")
    f = table[[f"x_{s}" for s in symbols]].to_numpy()
    e = table["energy"].to_numpy()
    stable = table["stable"].to_numpy(dtype=bool, na_value=False)
    pure = table["n_elements"].to_numpy() == 1
    refs = np.zeros(len(symbols))  # each element's reference: its lowest entry, else 0
    for j in range(len(symbols)):
        at = pure & (f[:, j] > 0.5)
        if at.any():
            refs[j] = e[at].min()
    shifted = e - f @ refs  # formation energies against the references: the hull kernels' convention
    fig, ax = plt.subplots(figsize=(7, 5) if len(symbols) == 2 else (7, 6.2))
    if len(symbols) == 2:
        x = f[:, 1]
        ax.plot(x[~stable], e[~stable], "o", color="0.6", ms=4, label="unstable")
        hx, he = np.r_[0.0, x[stable & ~pure], 1.0], np.r_[refs[0], e[stable & ~pure], refs[1]]
        o = np.argsort(hx)
        ax.plot(hx[o], he[o], "-o", color="C0", ms=6, label="hull (stable)")
        named = x, e
        if candidates is not None:
            cf, ce, *kinds = _candidate_points(candidates, symbols, reference.tol, given)
            _draw_candidates(ax, cf[:, 1], ce, *kinds)
            drawn = cf[:, 1], ce, kinds[0], kinds[1]
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel(f"fraction of {symbols[1]} in {symbols[0]}-{symbols[1]}")
        ax.set_ylabel("energy (eV/atom)")
    else:
        hull = lower_hull(f, shifted) if len(f) else None
        draw_ternary_facets(ax, hull.facets if hull is not None else [[-1, -2, -3]], f, color="C0", ls="-", lw=0.7)
        px, py = triangle_xy(f)
        ax.plot(px[~stable], py[~stable], "o", color="0.6", ms=4, label="unstable")
        ax.plot(px[stable], py[stable], "o", color="C0", ms=7, label="stable")
        named = px, py
        if candidates is not None:
            cf, _, *kinds = _candidate_points(candidates, symbols, reference.tol, given)
            cxy = triangle_xy(cf) if len(cf) else (np.zeros(0), np.zeros(0))
            _draw_candidates(ax, *cxy, *kinds)
            drawn = cxy[0], cxy[1], kinds[0], kinds[1]
        label_triangle(ax, symbols)
    # an element no entry holds: its corner is drawn at 0 eV/atom, the hull's end by convention only
    absent = [s for j, s in enumerate(symbols) if not (f[:, j] > 0).any()]
    title = (f"{'-'.join(symbols)}: convex hull ({int(stable.sum())} stable of {len(table)} entries)"
             + (f"\nno entry holds {', '.join(absent)}: drawn at 0 eV/atom" if absent else ""))
    ax.set_title(title)  # before the labels, which are placed in the final layout
    labelled = stable & ~pure
    place_labels(ax, named[0][labelled], named[1][labelled], table["formula"].to_numpy()[labelled], color="black",
                 fontsize=8)
    if candidates is not None and len(drawn[0]):
        # the candidates by name too (green): all of a few, else the stable ones, so labels stay legible
        cx, cy, cand_stable, names = drawn
        which = np.ones(len(cx), bool) if len(cx) <= MAX_CANDIDATE_LABELS else cand_stable
        place_labels(ax, cx[which], cy[which], np.asarray(names)[which], color="C2", fontsize=8)
    return finish_figure(fig, ax, title, path)
