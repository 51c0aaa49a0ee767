"""The result tables of a screen's block of systems: ``systems`` (one row a system), ``vertices``
(one row a predicted stable compound, in a chemist's order) and ``points`` (one row a grid point),
named as chemists and pymatgen write them (:mod:`hullpack.screening.names`)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..elements import ELEMNET_ELEMENTS
from .names import alphabetical_order, formulas

__all__ = ["chemists_order", "shallow_labels", "system_rows", "vertex_rows", "point_rows"]

# the text columns of the result tables
_TEXT_COLUMNS = ("system", "A", "B", "C", "D", "stable", "shallow", "min_formula", "formula", "end_element")


def _text_typed(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the text columns of an empty block typed as text (as pandas infers them from
    strings), so that merging it with other blocks or shards keeps their column types."""
    if len(df):
        return df
    return df.astype({c: str for c in df.columns if c in _TEXT_COLUMNS})


def _element_cols(tb: np.ndarray, letters: str, repeat=None) -> dict:
    """The element columns ``A``, ``B`` (``C``) of the systems of ``tb``, in the order of their
    names (alphabetical), each row ``repeat`` times if given."""
    named = np.take_along_axis(tb, alphabetical_order(tb), axis=1)
    cols = {}
    for j, L in enumerate(letters):
        sym = np.array(ELEMNET_ELEMENTS, dtype=object)[named[:, j]]
        cols[L] = sym if repeat is None else np.repeat(sym, repeat)
    return cols


def chemists_order(table: np.ndarray, fractions: np.ndarray, stable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``(system, point)`` indices of ``stable``, system by system, and within a system from the
    first element of its name towards the last: by decreasing fraction of ``A``, then of ``B`` (a
    binary's compounds by increasing fraction of ``B``, as its plot's x axis runs: FeO, Fe3O4,
    Fe2O3 in Fe-O)."""
    s, p = np.nonzero(stable)
    named = np.take_along_axis(fractions[p], alphabetical_order(table)[s], axis=1)  # the name's order
    keys = tuple(-named[:, j] for j in reversed(range(named.shape[1])))
    order = np.lexsort(keys + (s,))
    return s[order], p[order]


def shallow_labels(tb, g, fr, shallow: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The hull vertices ``shallow`` that are not deep enough to count, as ``Fe3O4 (3.1)``: formula
    and depth in meV/atom, system by system in :func:`chemists_order`. Returns ``(per-system
    counts, labels)``, so that a chemist sees which vertices the depth threshold left out."""
    s, p = chemists_order(tb, fr, shallow)
    labels = [f"{f} ({1000 * d:.1f})" for f, d in zip(formulas(tb, g, s, p), depth[s, p])]
    return shallow.sum(axis=1), np.array(labels, dtype=object)


def _joined(counts: np.ndarray, items: np.ndarray) -> list[str]:
    """``items`` (system by system, ``counts`` of each) joined per system with ``;``."""
    per_system = np.split(items, np.cumsum(counts)[:-1]) if len(counts) else []
    return [";".join(f) for f in per_system]


def system_rows(tb, names, g, res, stable, end_artifact, letters, vertex_formulas, shallow) -> pd.DataFrame:
    """``vertex_formulas``: the formulas of the stable vertices, system by system; ``shallow``: the
    ``(counts, labels)`` of :func:`shallow_labels`."""
    e = res.energies.astype(np.float64)
    kmin = np.argmin(np.where(np.isfinite(e), e, np.inf), axis=1)
    counts = stable.sum(axis=1)
    min_energy = np.where(res.valid, e[np.arange(len(tb)), kmin], np.nan)
    # no point below 0: the lowest energy is the elements' 0, and no compound is named
    min_formula = np.where(res.valid & (min_energy < 0), formulas(tb, g, np.arange(len(tb)), kmin), "")
    return _text_typed(pd.DataFrame({
        "system": names, **_element_cols(tb, letters), "n_points": np.full(len(tb), g.shape[0]),
        "n_vertices": res.is_vertex.sum(axis=1).astype(np.int64),
        "n_stable": counts.astype(np.int64), "n_end_artifact": end_artifact.sum(axis=1).astype(np.int64),
        "stable": _joined(counts, vertex_formulas), "shallow": _joined(*shallow),
        "min_energy": min_energy, "min_formula": min_formula.astype(object),
        "nonfinite": ~res.valid, "n_fp32": res.n_fp32, "delta": res.delta,
    }))


def vertex_rows(tb, names, fr, res, s, p, letters, vertex_formulas, *, depth, end_depth, end_artifact,
                 end_element, charge_balanced: pd.Series) -> pd.DataFrame:
    """The stable vertices ``(s, p)`` (system, point), one row each; ``charge_balanced``: theirs
    (:func:`~hullpack.screening.names.charge_balance`)."""
    df = pd.DataFrame({"system": np.array(names, dtype=object)[s] if len(s) else np.array([], dtype=object)})
    cols = _element_cols(tb, letters)
    for L in letters:
        df[L] = cols[L][s] if len(s) else np.array([], dtype=object)
    perm = alphabetical_order(tb)[s]  # the fractions follow the element columns
    for j, L in enumerate(letters):
        df[f"x_{L}"] = fr[p, perm[:, j]]
    df["formula"] = vertex_formulas
    df["energy"] = res.energies[s, p].astype(np.float64)
    df["depth"] = depth[s, p]  # below the hull of the other points, eV/atom
    df["end_depth"] = end_depth[s, p]  # the same, with the element ends at the model's energies
    df["end_artifact"] = end_artifact[s, p]
    symbols = np.array([""] + list(ELEMNET_ELEMENTS), dtype=object)
    df["end_element"] = np.where(end_artifact[s, p], symbols[end_element[s, p] + 1], "").astype(object)
    df["charge_balanced"] = charge_balanced.array
    return _text_typed(df)


def point_rows(tb, names, g, fr, res, letters, depth) -> pd.DataFrame:
    """Every grid point of the systems ``tb``, one row each, named as ``vertices`` names them;
    ``depth``: each hull vertex's depth below the hull of the other points (NaN off the vertices)."""
    n_sys, P = res.energies.shape
    df = pd.DataFrame({"system": np.repeat(np.array(names, dtype=object), P)})
    df = pd.concat([df, pd.DataFrame(_element_cols(tb, letters, repeat=P))], axis=1)
    perm = np.repeat(alphabetical_order(tb), P, axis=0)  # the fractions follow the element columns
    p = np.tile(np.arange(P), n_sys)
    for j, L in enumerate(letters):
        df[f"x_{L}"] = fr[p, perm[:, j]]
    df["formula"] = formulas(tb, g, np.repeat(np.arange(n_sys), P), p)
    df["energy"] = res.energies.ravel().astype(np.float64)
    df["e_above_hull"] = res.e_above_hull.ravel()
    df["is_vertex"] = res.is_vertex.ravel()
    df["depth"] = depth.ravel()  # NaN where no vertex: those have e_above_hull
    df["bf16"] = res.bf16.ravel() if res.bf16 is not None else np.zeros(len(df), dtype=bool)
    return _text_typed(df)
