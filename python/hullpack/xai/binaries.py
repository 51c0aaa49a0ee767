"""Post-hoc analysis on artificial binary systems A_x B_(1-x): where the model puts its lowest
energy (x_p), against the charge-balanced composition from common oxidation states (x_e), per pair
and per periodic-table group pair.

x is always the fraction of A, and A is the cation: the element of lower Pauling electronegativity
(lower Z on a tie). x_e is the set of fractions ``|q_B| / (q_A + |q_B|)`` over A's positive and B's
negative common oxidation states (pymatgen); where B of groups 15-17 has no negative common state, its negative
oxidation states are used (Bi: -3). The deviation uses the x_e nearest x_p.
"""
from __future__ import annotations

import logging
from itertools import combinations
from typing import Iterable

import numpy as np
import pandas as pd
from torch import nn

from .._progress import progress
from ..elements import ELEMENT_INDEX, ELEMNET_ELEMENTS, element_table
from ..errors import CompositionError
from ..screening import DEFAULT_MIN_DEPTH
from .base import FastEnergies, elements_arg, energy_model

log = logging.getLogger(__name__)

#: the study's cations (groups 1-3 without H) and anions (groups 15-17)
CATION_GROUPS = (1, 2, 3)
ANION_GROUPS = (15, 16, 17)


def cation_anion_elements() -> tuple[list[str], list[str]]:
    """ElemNet's elements of groups 1-3 (without H; lanthanides and actinides count as group 3) and
    of groups 15-17.

    >>> a, b = cation_anion_elements()
    >>> len(a), b
    (33, ['N', 'O', 'F', 'P', 'S', 'Cl', 'As', 'Se', 'Br', 'Sb', 'Te', 'I', 'Bi'])
    """
    t = element_table()
    a = [s for s in ELEMNET_ELEMENTS if t.at[s, "group"] in CATION_GROUPS and s != "H"]
    b = [s for s in ELEMNET_ELEMENTS if t.at[s, "group"] in ANION_GROUPS]
    return a, b


def _table_of(table: pd.DataFrame | None, *symbols: str) -> pd.DataFrame:
    """``table`` (default: :func:`element_table`), which must hold each of ``symbols``."""
    t = element_table() if table is None else table
    unknown = [s for s in symbols if s not in t.index]
    if unknown:
        raise ValueError(f"unknown element(s) {', '.join(map(repr, unknown))}: give element symbols such as 'Fe'")
    return t


def charge_balanced_fractions(a: str, b: str, *, table: pd.DataFrame | None = None) -> tuple[float, ...]:
    """Fractions x of A in A_x B_(1-x) that balance a positive common oxidation state of A against a
    negative one of B (empty when there is none). ``table``: the :func:`element_table` to read
    (default: a fresh one; pass one to reuse it over many pairs).

    >>> charge_balanced_fractions("Ca", "F"), charge_balanced_fractions("Na", "Cl")
    ((0.3333333333333333,), (0.5,))
    >>> charge_balanced_fractions("Fe", "Ni")
    ()
    """
    t = _table_of(table, a, b)
    qa = [q for q in t.at[a, "common_oxidation_states"] if q > 0]
    qb = [q for q in t.at[b, "common_oxidation_states"] if q < 0]
    if not qb and t.at[b, "group"] in ANION_GROUPS:  # Bi: no negative common state, but Bi(3-) exists
        qb = [q for q in t.at[b, "oxidation_states"] if q < 0]
    return tuple(sorted({-qn / (qp - qn) for qp in qa for qn in qb}))


def orient(a: str, b: str, *, table: pd.DataFrame | None = None) -> tuple[str, str]:
    """``(cation, anion)``: the element of lower electronegativity first (lower Z on a tie).
    ``table`` as in :func:`charge_balanced_fractions`.

    >>> orient("Cl", "Na")
    ('Na', 'Cl')
    """
    t = _table_of(table, a, b)
    ka = (t.at[a, "electronegativity"], t.at[a, "Z"])
    kb = (t.at[b, "electronegativity"], t.at[b, "Z"])
    return (a, b) if ka <= kb else (b, a)


def lowest_energy_fraction(model: nn.Module, pairs: Iterable[tuple[str, str]], *, n_grid: int = 201,
                           refine: int = 41, min_depth: float = DEFAULT_MIN_DEPTH, batch_pairs: int = 256,
                           show_progress: bool | None = None) -> pd.DataFrame:
    """x_p for each pair (A, B): the fraction of A of lowest predicted energy in A_x B_(1-x), over
    the interior of a grid of ``n_grid`` points on [0, 1], then refined on ``refine`` points
    spanning one coarse step either side of the coarse minimum (a ReLU network is piecewise
    linear along the line, with sharp minima a coarse grid can miss). Columns: ``A``, ``B``,
    ``x_p``, ``e_min`` (eV/atom), ``e_A`` and ``e_B`` (the pure elements' predictions), ``forms``
    (the lowest energy along the line lies between the ends, ``min_depth`` eV/atom or more
    below both pure elements' predictions, hence below the straight line between them; default the
    hull screen's :data:`~hullpack.screening.DEFAULT_MIN_DEPTH`, 10 meV/atom, so that a dip of
    float32 rounding is no compound). A dip below that line that stays above the lower pure
    element, or less than ``min_depth`` below it, does not count: x_p is then that element (0 or 1)
    and ``forms`` is False.

    >>> import torch
    >>> toy = torch.nn.Sequential(torch.nn.Linear(86, 1))
    >>> with torch.no_grad():                            # E = -x_Na: a straight line, no compound
    ...     _ = toy[0].weight.zero_(); _ = toy[0].bias.zero_(); toy[0].weight[0, 8] = -1.0
    >>> df = lowest_energy_fraction(toy, [("Na", "Cl")], n_grid=11)
    >>> round(float(df.at[0, "x_p"]), 2), bool(df.at[0, "forms"])
    (1.0, False)
    """
    model = energy_model(model)
    pairs = [(str(a), str(b)) for a, b in pairs]
    if not pairs:
        raise ValueError("no element pairs to scan")
    elements_arg([p[0] for p in pairs] + [p[1] for p in pairs])
    if n_grid < 3 or refine < 2:
        raise ValueError(f"n_grid = {n_grid} must be >= 3 and refine = {refine} >= 2")
    if not (np.isfinite(min_depth) and min_depth >= 0):
        raise ValueError(f"min_depth = {min_depth}: expected a finite number >= 0 (eV/atom)")
    grid = np.linspace(0.0, 1.0, n_grid)
    step = grid[1] - grid[0]
    interior = grid[1:-1]
    fast = FastEnergies(model)  # a sixth of the dense forward's time for an ElemNet on CPU

    def energies(block, x):  # (len(block), x.shape[1]) energies of A_x B_(1-x)
        ab = np.array([[ELEMENT_INDEX[a], ELEMENT_INDEX[b]] for a, b in block], dtype=np.int64)
        xa = x.astype(np.float32).ravel()
        return fast.pairs(np.repeat(ab, x.shape[1], axis=0), np.column_stack([xa, 1 - xa])).reshape(x.shape)

    out = []
    for p0 in progress(range(0, len(pairs), batch_pairs), total=-(-len(pairs) // batch_pairs),
                       desc="binary scans", unit="block", show=show_progress):
        block = pairs[p0:p0 + batch_pairs]
        e = energies(block, np.tile(grid, (len(block), 1)))
        e_b, e_a = e[:, 0], e[:, -1]
        k = np.argmin(e[:, 1:-1], axis=1)
        x_best, e_best = interior[k], e[np.arange(len(block)), k + 1]
        if refine:
            fine = np.clip(x_best[:, None] + np.linspace(-step, step, refine)[None, :], step / 1e3, 1 - step / 1e3)
            ef = energies(block, fine)
            kf = np.argmin(ef, axis=1)
            better = ef[np.arange(len(block)), kf] < e_best
            x_best = np.where(better, fine[np.arange(len(block)), kf], x_best)
            e_best = np.where(better, ef[np.arange(len(block)), kf], e_best)
        # an interior minimum not min_depth below both ends means no compound: x_p is the lower pure element
        ends = np.where(e_a <= e_b, 1.0, 0.0)
        forms = e_best < x_best * e_a + (1 - x_best) * e_b
        depth = np.minimum(e_a, e_b) - e_best
        no_compound = (depth <= 0) | ~(depth >= min_depth)
        out.append(pd.DataFrame({"A": [p[0] for p in block], "B": [p[1] for p in block],
                                 "x_p": np.where(no_compound, ends, x_best),
                                 "e_min": np.where(no_compound, np.minimum(e_a, e_b), e_best),
                                 "e_A": e_a, "e_B": e_b, "forms": forms & ~no_compound}))
    return pd.concat(out, ignore_index=True)


def xp_vs_xe(model: nn.Module, cations: Iterable[str] | None = None, anions: Iterable[str] | None = None, *,
             n_grid: int = 201, refine: int = 41, min_depth: float = DEFAULT_MIN_DEPTH,
             show_progress: bool | None = None) -> pd.DataFrame:
    """x_p against x_e for every cation × anion pair (default: groups 1-3 × groups 15-17). Columns
    of :func:`lowest_energy_fraction` plus ``group_A``, ``group_B``, ``x_e`` (nearest charge-balanced
    fraction; NaN if none), ``x_e_all``, ``deviation`` (x_p - x_e) and ``abs_deviation``. A pair
    with no predicted compound (``forms`` False: x_p is a pure element, 0 or 1) has no x_p in the
    paper's sense, and its deviation is NaN, so that means over pairs (:func:`group_matrix`) leave
    it out; count such pairs from ``forms``.
    """
    if cations is None or anions is None:
        default_a, default_b = cation_anion_elements()
        cations = default_a if cations is None else cations
        anions = default_b if anions is None else anions
    cations, anions = elements_arg(cations), elements_arg(anions)
    pairs = [(a, b) for a in cations for b in anions if a != b]
    if not pairs:
        raise CompositionError(f"cations {cations} and anions {anions} make no pair of two different elements: "
                               "give at least one cation and one anion that differ")
    return _with_charge_balance(lowest_energy_fraction(model, pairs, n_grid=n_grid, refine=refine,
                                                      min_depth=min_depth, show_progress=show_progress))


def all_pairs_scan(model: nn.Module, elements: Iterable[str] | None = None, *, n_grid: int = 201,
                   refine: int = 41, min_depth: float = DEFAULT_MIN_DEPTH,
                   show_progress: bool | None = None) -> pd.DataFrame:
    """:func:`xp_vs_xe` over every unordered pair of ``elements`` (all 3,655 of ElemNet's by
    default), each oriented cation first (:func:`orient`). The input of :func:`group_matrix`."""
    elements = elements_arg(elements)
    t = element_table()
    pairs = [orient(a, b, table=t) for a, b in combinations(elements, 2)]
    if not pairs:
        raise CompositionError(f"elements {elements} make no pair: give at least two different elements")
    return _with_charge_balance(lowest_energy_fraction(model, pairs, n_grid=n_grid, refine=refine,
                                                      min_depth=min_depth, show_progress=show_progress))


def _with_charge_balance(df: pd.DataFrame) -> pd.DataFrame:
    t = element_table()
    df = df.copy()
    df.insert(2, "group_A", t.loc[df["A"], "group"].to_numpy())
    df.insert(3, "group_B", t.loc[df["B"], "group"].to_numpy())
    candidates = [charge_balanced_fractions(a, b, table=t) for a, b in zip(df["A"], df["B"])]
    x_e = [min(c, key=lambda v: abs(v - xp)) if c else np.nan for c, xp in zip(candidates, df["x_p"])]
    df["x_e"] = np.asarray(x_e, dtype=np.float64)
    df["x_e_all"] = [", ".join(f"{v:.3g}" for v in c) for c in candidates]
    # a pair with no predicted compound has no x_p in the paper's sense (x_p is then a pure element):
    # no deviation, so that means over pairs measure where the model puts its compound
    df["deviation"] = (df["x_p"] - df["x_e"]).where(df["forms"])
    df["abs_deviation"] = df["deviation"].abs()
    return df


def group_matrix(pairs: pd.DataFrame, value: str = "abs_deviation", *, agg: str = "mean",
                 row: str = "group_A", col: str = "group_B") -> pd.DataFrame:
    """Aggregate a per-pair column into a group × group matrix (rows: A's group, columns: B's group,
    groups 1-18; NaN where no pair has a value). ``agg`` is any pandas aggregation ("mean",
    "count", "median", ...).

    >>> df = pd.DataFrame({"group_A": [1, 1, 2], "group_B": [17, 17, 16], "abs_deviation": [0.0, 0.2, 0.1]})
    >>> float(group_matrix(df).at[1, 17]), group_matrix(df).shape
    (0.1, (18, 18))
    """
    missing = [c for c in (row, col, value) if c not in pairs.columns]
    if missing:
        raise ValueError(f"the pair table lacks the columns {missing}")
    values = pairs[value].astype(float) if pairs[value].dtype == bool else pairs[value]
    m = pd.DataFrame({row: pairs[row], col: pairs[col], value: values}).dropna()
    m = m.pivot_table(index=row, columns=col, values=value, aggfunc=agg)
    groups = pd.Index(range(1, 19))
    return m.reindex(index=groups, columns=groups).rename_axis(index=row, columns=col)


def hull_agreement_by_group(systems: pd.DataFrame, value: str = "agree", *, agg: str = "mean") -> pd.DataFrame:
    """Group × group matrix of a per-system agreement measure from the screening module: ``systems``
    has one row per binary system with element columns ``A`` and ``B`` and a ``value`` column (e.g.
    a bool "the predicted hull has the DFT hull's stable compounds", or a hull-distance MAE). Each
    system is oriented cation first, so rows are the cation's group.

    >>> df = pd.DataFrame({"A": ["Cl", "K", "Fe"], "B": ["Na", "Br", "Ni"], "agree": [True, False, True]})
    >>> m = hull_agreement_by_group(df)
    >>> float(m.at[1, 17]), float(m.at[8, 10])
    (0.5, 1.0)
    """
    missing = [c for c in ("A", "B", value) if c not in systems.columns]
    if missing:
        raise ValueError(f"the systems table lacks the columns {missing}")
    elements_arg(list(systems["A"]) + list(systems["B"]))
    t = element_table()
    oriented = [orient(a, b, table=t) for a, b in zip(systems["A"], systems["B"])]
    df = pd.DataFrame({"group_A": [int(t.at[a, "group"]) for a, _ in oriented],
                       "group_B": [int(t.at[b, "group"]) for _, b in oriented],
                       # bool, nullable boolean (missing where a system has no hull) or numeric
                       value: systems[value].astype("Float64").to_numpy(dtype=float, na_value=np.nan)})
    return group_matrix(df, value, agg=agg)


__all__ = ["CATION_GROUPS", "ANION_GROUPS", "cation_anion_elements", "charge_balanced_fractions", "orient",
           "lowest_energy_fraction", "xp_vs_xe", "all_pairs_scan", "group_matrix", "hull_agreement_by_group"]
