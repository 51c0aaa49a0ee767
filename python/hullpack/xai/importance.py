"""Occlusion importance per element: how much worse the model gets when it cannot see an element."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Iterable

import numpy as np
import pandas as pd
from torch import nn

from .._progress import progress
from ..elements import ELEMENT_INDEX
from ..errors import CompositionError
from .base import ENERGY_UNIT, FastEnergies, as_fractions, elements_arg, energy_model

log = logging.getLogger(__name__)


def occlude(x: np.ndarray, element: str) -> tuple[np.ndarray, np.ndarray]:
    """The compositions of ``x`` that contain ``element`` and something else, with ``element``
    removed and the other fractions renormalised; and their row indices in ``x``.

    >>> from hullpack.elemnet import featurize
    >>> xo, rows = occlude(featurize(["NaCl", "Na", "KCl"]), "Na")
    >>> rows.tolist(), float(xo[0, 14])
    ([0], 1.0)
    """
    col = ELEMENT_INDEX[element]
    rows = np.flatnonzero((x[:, col] > 0) & (x[:, col] < 1))
    xo = x[rows].astype(np.float32, copy=True)
    xo[:, col] = 0
    xo /= xo.sum(axis=1, keepdims=True)
    return xo, rows


def occlusion_importance(model: nn.Module, compositions: Any, targets: Iterable[float] | float, *,
                         elements: Iterable[str] | None = None, n_bootstrap: int = 200,
                         ci: float = 0.95, seed: int = 0, show_progress: bool | None = None) -> pd.DataFrame:
    """Per element ``e``: remove ``e`` from every composition containing it (other fractions
    renormalised; pure ``e`` cannot be occluded and is left as is), predict again, and measure the
    change in mean absolute error against ``targets`` (eV/atom).

    Columns: ``n_containing`` (compositions occluded), ``delta_mae`` (the increase of the MAE over the
    whole set: what the model loses without the element, weighted by how common it is) with its
    bootstrap percentile interval ``ci_low``/``ci_high`` (``n_bootstrap`` resamples of the
    compositions, by ``seed``), and ``delta_mae_affected`` (the mean change over the compositions
    containing ``e`` only, with ``affected_ci_low``/``affected_ci_high``). Sorted by ``delta_mae``,
    the elements in none of the compositions last: their 0 is not measured (nothing was removed), so
    it does not rank them above an element whose removal was measured to help.
    ``df.attrs`` holds ``mae`` (unoccluded), ``n`` and ``ci``.

    >>> import torch
    >>> from hullpack.elemnet import featurize
    >>> from hullpack.xai import predict
    >>> oxygen = torch.nn.Linear(86, 1)                 # a toy: E = -2 x_O
    >>> _ = torch.nn.init.zeros_(oxygen.bias)
    >>> with torch.no_grad():
    ...     _ = oxygen.weight.zero_(); oxygen.weight[0, 6] = -2.0
    >>> x = featurize(["Fe2O3", "NaCl", "MgO", "FeNi", "Al2O3"])
    >>> df = occlusion_importance(oxygen, x, predict(oxygen, x), elements=["O", "Fe", "Cl"], n_bootstrap=50)
    >>> df.index[0], round(float(df.loc["O", "delta_mae"]), 3), float(df.loc["Cl", "delta_mae"])
    ('O', 0.68, 0.0)
    """
    model = energy_model(model)
    x = as_fractions(compositions)
    if targets is None:
        raise CompositionError(f"targets is None: give the energies ({ENERGY_UNIT}) to measure the MAE against, "
                               "one per composition (the DFT energies, or xai.predict(model, compositions))")
    values: Any = list(targets) if isinstance(targets, Iterator) else targets  # a generator of energies: a list
    given = pd.Series(np.ravel(np.asarray(values if np.ndim(values) else [values], dtype=object)))  # or one energy
    y = pd.to_numeric(given, errors="coerce").to_numpy(dtype=np.float64)
    if y.shape != (len(x),):
        raise CompositionError(f"targets has {y.size} values for {len(x)} compositions")
    if not np.isfinite(y).all():
        i = int(np.flatnonzero(~np.isfinite(y))[0])
        raise CompositionError(f"targets row {i} ({given[i]!r}) is not a finite energy in {ENERGY_UNIT}")
    if not 0 < ci < 1:
        raise ValueError(f"ci = {ci} must lie in (0, 1)")
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap = {n_bootstrap} must be >= 1")
    elements = elements_arg(elements)
    n = len(x)
    energies = FastEnergies(model)
    base_err = np.abs(energies(x) - y)
    # d[i, k]: change of composition i's absolute error when element k is occluded (0 if absent)
    d = np.zeros((n, len(elements)), dtype=np.float64)
    contains = np.zeros((n, len(elements)), dtype=bool)
    counts = np.zeros(len(elements), dtype=np.int64)
    for k, el in enumerate(progress(elements, desc="occlusion", unit="element",
                                    show=show_progress)):
        xo, rows = occlude(x, el)
        counts[k] = len(rows)
        contains[rows, k] = True
        if len(rows):
            d[rows, k] = np.abs(energies(xo) - y[rows]) - base_err[rows]
    delta = d.sum(axis=0) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        affected = np.where(counts > 0, d.sum(axis=0) / np.maximum(counts, 1), np.nan)

    # bootstrap over compositions, by multinomial resampling weights, a block of resamples at a time
    rng = np.random.default_rng(seed)
    boot = np.empty((n_bootstrap, len(elements)))
    boot_aff = np.empty_like(boot)
    block = max(1, int(2e7 // max(n, 1)))
    for b0 in range(0, n_bootstrap, block):
        w = rng.multinomial(n, np.full(n, 1.0 / n), size=min(block, n_bootstrap - b0)).astype(np.float64)
        s = w @ d
        boot[b0:b0 + len(w)] = s / n
        with np.errstate(invalid="ignore", divide="ignore"):
            boot_aff[b0:b0 + len(w)] = s / (w @ contains)
    q = [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100]
    lo, hi = np.percentile(boot, q, axis=0)
    with np.errstate(invalid="ignore"):
        alo, ahi = np.nanpercentile(np.where(counts > 0, boot_aff, 0.0), q, axis=0)
    alo[counts == 0] = np.nan
    ahi[counts == 0] = np.nan
    df = pd.DataFrame({"n_containing": counts, "delta_mae": delta, "ci_low": lo, "ci_high": hi,
                       "delta_mae_affected": affected, "affected_ci_low": alo, "affected_ci_high": ahi},
                      index=pd.Index(elements, name="element"))
    df = df.iloc[np.lexsort((-delta, counts == 0))]  # by delta_mae, the unmeasured last
    df.attrs.update({"mae": float(base_err.mean()), "n": n, "ci": ci, "n_bootstrap": n_bootstrap})
    log.info("occlusion importance over %d compositions (MAE %.4f eV/atom): top %s", n,
             df.attrs["mae"], ", ".join(df.index[:5]))
    return df


__all__ = ["occlusion_importance", "occlude"]
