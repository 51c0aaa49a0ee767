"""Does what the model learned per element line up with the periodic table? Per-element quantities
(importance, learned response) against element properties, by Spearman rank correlation."""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import pandas as pd
from torch import nn

from ..elements import element_table
from .base import PROPERTIES, elements_arg, energy_model, equiatomic_binaries, predict, pure_energies, xai_import


def element_response(model: nn.Module, elements: Iterable[str] | None = None) -> pd.DataFrame:
    """The model's learned response per element: the predicted energies (eV/atom) of the 85
    equiatomic binaries AB the element A forms with every other element B. Columns: ``mean`` (the
    learned response), ``min`` and ``min_partner`` (the most negative binary), ``pure`` (the
    prediction for the pure element, ideally 0).

    >>> import torch
    >>> df = element_response(torch.nn.Linear(86, 1))
    >>> df.shape, list(df.columns)
    ((86, 4), ['mean', 'min', 'min_partner', 'pure'])
    """
    model = energy_model(model)
    elements = elements_arg(elements)
    x, pairs = equiatomic_binaries()
    e = predict(model, x)
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    long = pd.DataFrame({"element": np.concatenate([a, b]), "partner": np.concatenate([b, a]),
                         "energy": np.concatenate([e, e])})
    g = long.groupby("element", sort=False)["energy"]
    idx = long.loc[g.idxmin(), ["element", "partner"]].set_index("element")["partner"]
    out = pd.DataFrame({"mean": g.mean(), "min": g.min(), "min_partner": idx})
    out["pure"] = pure_energies(model)
    out.index.name = "element"
    return out.loc[elements]


def property_alignment(quantities: pd.DataFrame | pd.Series | Mapping[str, pd.Series],
                       properties: Iterable[str] | None = None) -> pd.DataFrame:
    """Spearman rank correlation of each per-element quantity (columns of a DataFrame indexed by
    element symbol, or a dict of Series) with each element property of :func:`element_table`
    (default: Pauling electronegativity, group, period, first ionization energy, atomic radius).
    Elements where either value is NaN are left out of that pair. One row per (quantity, property):
    ``rho``, ``p_value`` (two-sided, scipy), ``n``. Sorted by ``|rho|``.

    >>> t = element_table()
    >>> df = property_alignment(pd.Series(-t["electronegativity"], name="toy"))
    >>> top = df.iloc[0]
    >>> top["quantity"], top["property"], float(top["rho"])
    ('toy', 'electronegativity', -1.0)
    """
    spearmanr = xai_import("scipy.stats", "the element-property alignment").spearmanr

    if isinstance(quantities, pd.Series):
        quantities = quantities.to_frame(quantities.name or "value")
    elif not isinstance(quantities, pd.DataFrame):
        quantities = pd.DataFrame(dict(quantities))
    props = list(PROPERTIES) if properties is None else list(properties)
    table = element_table()
    unknown = [p for p in props if p not in table.columns]
    if unknown:
        raise ValueError(f"unknown properties {unknown}; choose from {list(PROPERTIES)}")
    elements_arg(quantities.index)
    if not len(quantities.columns) or not props:
        raise ValueError(f"nothing to correlate: {len(quantities.columns)} quantities and {len(props)} properties; "
                         "give at least one per-element quantity (a column indexed by element symbol) and property")
    rows = []
    for q in quantities.columns:
        values = pd.to_numeric(quantities[q], errors="coerce")
        for p in props:
            both = pd.concat([values, table[p].astype(float)], axis=1, join="inner").dropna()
            if len(both) >= 3 and both.iloc[:, 0].nunique() > 1 and both.iloc[:, 1].nunique() > 1:
                res = spearmanr(both.iloc[:, 0], both.iloc[:, 1])
                rho, pv = float(res.statistic), float(res.pvalue)
            else:
                rho, pv = float("nan"), float("nan")
            rows.append({"quantity": q, "property": p, "unit": PROPERTIES.get(p, ""),
                         "rho": rho, "p_value": pv, "n": int(len(both))})
    df = pd.DataFrame(rows)
    return df.reindex(df["rho"].abs().sort_values(ascending=False, na_position="last").index).reset_index(drop=True)


__all__ = ["element_response", "property_alignment"]
