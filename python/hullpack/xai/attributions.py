"""SHAP attributions per element, returned as :class:`shap.Explanation` with element names.

How absent elements are treated: the reference decides
------------------------------------------------------
DeepLIFT/DeepSHAP (``method="deep"``) splits ``f(x) - E_b[f(b)]`` over the inputs, against reference
compositions ``b``: element ``e`` gets ``E_b[(x_e - b_e) * m_e(x, b)]``, ``m_e`` being the DeepLIFT
multiplier. An element absent from ``x`` therefore carries ``-E_b[b_e * m_e]``: nothing when no
reference contains it, something when one does.

- ``background="elements"`` (the default): each composition's reference is its own elements, pure,
  weighted by their fractions, i.e. the straight line between the pure elements. Absent elements get
  exactly zero; the values of the present elements add up to ``f(x) - sum_e x_e f(e)``, the
  predicted energy of the compound below its elements (for a model whose pure elements predict 0,
  the formation energy itself). This is the question materials scientists ask of a formation energy.
- a background of compositions (formulas or fractions, or ``None`` for a sample of the OQMD train
  split): the usual DeepSHAP; absent elements carry ``-E_b[b_e * m_e]``, the effect of *not*
  containing an element common in the background (for ElemNet a large share: lacking oxygen raises
  the energy). :func:`shap_summary` reports that share as ``absent_share``.
- ``background="zero"``: the all-zero input; absent elements get zero, but the reference (the energy
  of the empty input) is not a composition.

All 86 columns are kept in the Explanation, so additivity and ``shap.plots`` hold; per-element
importance (:func:`shap_summary`) averages only over the compositions that contain the element.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from .._progress import progress
from ..elements import ELEMNET_ELEMENTS, N_ELEMENTS
from ..errors import CompositionError
from .base import (as_fractions, energy_model, named_fractions, oqmd_split, predict, pure_energies, random_compositions,
                   xai_import)

log = logging.getLogger(__name__)

METHODS = ("deep", "gradient")
_DELTA_EPS = 1e-6  # DeepLIFT falls back to the gradient where |delta in| is below this (as shap)


class _Column(nn.Module):
    """``(n, 1)`` outputs, as shap's torch explainers expect."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).reshape(-1, 1)


def _shap():
    return xai_import("shap", "SHAP attributions")


def linear_relu_chain(model: nn.Module) -> list[nn.Module] | None:
    """The model's Linear and ReLU layers in order when the model *is* that chain (dropout and
    identities aside; checked numerically on sample compositions), else None. Such a network gets
    exact DeepLIFT attributions batched over all (composition, background) pairs at once.

    >>> from hullpack.elemnet import ElemNet
    >>> [type(m).__name__ for m in linear_relu_chain(ElemNet("8x1D-4x1-1", (0.1,)).eval())]
    ['Linear', 'ReLU', 'Linear', 'ReLU', 'Linear']
    """
    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    if not leaves or not all(isinstance(m, (nn.Linear, nn.ReLU, nn.Dropout, nn.Identity)) for m in leaves):
        return None
    chain: list[nn.Module] = [m for m in leaves if isinstance(m, (nn.Linear, nn.ReLU))]
    params = list(model.parameters())
    x = torch.from_numpy(random_compositions(16, seed=0))
    x = x.to(params[0].device) if params else x
    with torch.no_grad():
        try:
            h = x
            for m in chain:
                h = m(h)
            ref = model(x).reshape(-1)
        except Exception:  # shapes that do not chain: not a plain MLP
            return None
    if h.shape != (16, 1) or not torch.allclose(h.reshape(-1), ref, rtol=1e-5, atol=1e-5):
        return None
    return chain


@torch.no_grad()
def _deeplift_pairs(chain: list[nn.Module], x: torch.Tensor, bg: torch.Tensor, rows: torch.Tensor,
                    refs: torch.Tensor, weights: torch.Tensor, *, batch_pairs: int,
                    show: bool | None) -> torch.Tensor:
    """Sum over pairs p of ``weights[p] * DeepLIFT(x[rows[p]] against bg[refs[p]])`` into each row,
    for a Linear/ReLU chain (rescale rule, as ``shap.DeepExplainer``): one batched backward pass
    of multipliers per block of pairs instead of one forward/backward per composition."""
    def pre_activations(h: torch.Tensor) -> list[torch.Tensor]:
        pres = []
        for m in chain:
            if isinstance(m, nn.ReLU):
                pres.append(h)
            h = m(h)
        return pres

    px, pb = pre_activations(x), pre_activations(bg)
    phi = torch.zeros(x.shape, dtype=torch.float32, device=x.device)
    n_pairs = len(rows)
    for p0 in progress(range(0, n_pairs, batch_pairs), total=-(-n_pairs // batch_pairs), desc="DeepLIFT",
                       unit="block", show=show):
        r, k, w = rows[p0:p0 + batch_pairs], refs[p0:p0 + batch_pairs], weights[p0:p0 + batch_pairs]
        g = torch.ones(len(r), 1, device=x.device)  # d output / d (current layer's output), per pair
        layer = len(px)
        for m in reversed(chain):
            if isinstance(m, nn.Linear):
                g = g @ m.weight
            else:
                layer -= 1
                zx, zb = px[layer][r], pb[layer][k]
                dz = zx - zb
                small = dz.abs() < _DELTA_EPS
                slope = (torch.relu(zx) - torch.relu(zb)) / torch.where(small, torch.ones_like(dz), dz)
                g = g * torch.where(small, (zx > 0).to(g.dtype), slope)
        phi.index_add_(0, r, (x[r] - bg[k]) * g * w[:, None])
    return phi


def _background(background: Any, n_background: int, seed: int) -> np.ndarray | str:
    if isinstance(background, str) and background in ("elements", "zero"):
        return background if background == "elements" else np.zeros((1, N_ELEMENTS), dtype=np.float32)
    if background is None:
        xb, _ = oqmd_split("train", n=n_background, seed=seed)
        return xb
    try:
        xb = as_fractions(background, name="background")
    except CompositionError:
        if not isinstance(background, str):
            raise
        # a misspelt keyword ('Elements', 'zeros') read as a formula: name what background takes
        raise CompositionError(f"background={background!r} is neither 'elements' nor 'zero' nor a formula: give "
                               "'elements' (the default), 'zero', None (OQMD train compositions) or reference "
                               "compositions (formulas or fractions)") from None
    if len(xb) > n_background:
        xb = xb[np.sort(np.random.default_rng(seed).choice(len(xb), n_background, replace=False))]
    return xb


def shap_values(model: nn.Module, compositions: Any, background: Any = "elements", *,
                method: str = "deep", n_background: int = 100, seed: int = 0,
                nsamples: int = 200, batch_pairs: int = 4096, fast: bool | None = None,
                show_progress: bool | None = None):
    """SHAP attributions of the predicted energy (eV/atom) to each of the 86 element fractions.

    Parameters
    ----------
    model : torch module mapping ``(n, 86)`` fractions to energies (e.g. an ElemNet).
    compositions : formulas or an ``(n, 86)`` array of fractions.
    background : the reference (see the module notes): ``"elements"`` (default: each composition
        against its own pure elements, weighted by fraction; absent elements get exactly zero),
        reference compositions (formulas or fractions; at most ``n_background`` of them, drawn by
        ``seed``), ``None`` for ``n_background`` compositions of the OQMD train split, or ``"zero"``.
    method : ``"deep"`` (DeepLIFT/DeepSHAP: exact additivity) or ``"gradient"`` (expected
        gradients, ``shap.GradientExplainer`` with ``nsamples`` per composition, additive only on
        average; needs a background of compositions).
    fast : for ``"deep"``: True computes DeepLIFT batched over (composition, reference) pairs,
        which needs a plain Linear/ReLU network such as ElemNet; False uses ``shap.DeepExplainer``
        (any network, one composition at a time); None (default) picks the batched path when it
        applies. Both give the same numbers.

    Returns a :class:`shap.Explanation`: ``values`` ``(n, 86)``, ``base_values`` (the reference
    energy of each composition), ``data`` (the fractions), ``feature_names`` (element symbols),
    ``instance_names`` (formulas given as strings as written, others as chemists write them:
    ``Fe2O3``). ``values.sum(1) + base_values``
    equals the prediction.

    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(86, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    >>> ex = shap_values(net, ["NaCl", "Fe2O3"])
    >>> ex.values.shape, ex.feature_names[:3], ex.instance_names
    ((2, 86), ['H', 'Li', 'Be'], ['NaCl', 'Fe2O3'])
    >>> bool(np.allclose(ex.values.sum(axis=1) + ex.base_values, predict(net, ex.data), atol=1e-5))
    True
    >>> int((ex.values[0] != 0).sum())                   # only Na and Cl carry attribution
    2
    """
    shap = _shap()
    if method not in METHODS:
        raise ValueError(f"method={method!r}: expected one of {METHODS}")
    if n_background < 1:
        raise ValueError(f"n_background = {n_background} must be >= 1")
    if batch_pairs < 1:
        raise ValueError(f"batch_pairs = {batch_pairs} must be >= 1")
    model = energy_model(model)
    x, names = named_fractions(compositions)
    xb = _background(background, n_background, seed)
    elements_ref = isinstance(xb, str)
    if elements_ref and method != "deep":
        raise ValueError("background='elements' (a reference per composition) works with method='deep'; "
                         "give a background of compositions for method='gradient'")
    params = list(model.parameters())
    device = params[0].device if params else torch.device("cpu")
    xt = torch.from_numpy(x).to(device)
    t0 = time.perf_counter()
    if isinstance(xb, str):  # background="elements"
        # references: the pure elements present, each weighted by its fraction
        rows, cols = np.nonzero(x > 0)
        weights = x[rows, cols]
        pure = np.eye(N_ELEMENTS, dtype=np.float32)
        expected = np.bincount(rows, weights * pure_energies(model).to_numpy()[cols], minlength=len(x))
    else:
        rows = np.repeat(np.arange(len(x)), len(xb))
        cols = np.tile(np.arange(len(xb)), len(x))
        weights = np.full(len(rows), 1.0 / len(xb), dtype=np.float32)
        pure = xb
        expected = np.full(len(x), predict(model, xb).mean())
    if method == "deep":
        chain = linear_relu_chain(model) if fast is not False else None
        if fast and chain is None:
            raise ValueError("fast=True needs a plain Linear/ReLU network; use fast=None or False")
        bt = torch.from_numpy(np.ascontiguousarray(pure)).to(device)
        if chain is not None:
            phi = _deeplift_pairs(chain, xt, bt, torch.from_numpy(rows).to(device), torch.from_numpy(cols).to(device),
                                  torch.from_numpy(weights.astype(np.float32)).to(device),
                                  batch_pairs=batch_pairs, show=show_progress).cpu().numpy()
        elif elements_ref:
            phi = np.zeros(x.shape, dtype=np.float64)
            present = np.flatnonzero((x > 0).any(axis=0))
            for e in progress(present, desc="DeepExplainer", unit="element",
                              show=show_progress):
                idx = np.flatnonzero(x[:, e] > 0)
                explainer = shap.DeepExplainer(_Column(model), bt[e:e + 1])
                v = np.asarray(explainer.shap_values(xt[idx], check_additivity=False)).reshape(len(idx), N_ELEMENTS)
                phi[idx] += x[idx, e:e + 1] * v
        else:
            explainer = shap.DeepExplainer(_Column(model), bt)
            phi = _explain_in_chunks(lambda c: explainer.shap_values(c, check_additivity=False), xt,
                                     "DeepExplainer", show_progress)
    else:
        explainer = shap.GradientExplainer(_Column(model), torch.from_numpy(xb).to(device))
        phi = _explain_in_chunks(lambda c: explainer.shap_values(c, nsamples=nsamples, rseed=seed), xt,
                                 "GradientExplainer", show_progress)
    elapsed = time.perf_counter() - t0
    log.info("SHAP (%s, %s reference) of %d compositions: %.2f s", method,
             "elements" if elements_ref else f"{len(xb)}-row", len(x), elapsed)
    return shap.Explanation(
        values=np.asarray(phi, dtype=np.float64), base_values=np.asarray(expected, dtype=np.float64),
        data=x.astype(np.float64), feature_names=list(ELEMNET_ELEMENTS), instance_names=names,
        compute_time=elapsed)


def _explain_in_chunks(fn, x: torch.Tensor, desc: str, show: bool | None, chunk: int = 32) -> np.ndarray:
    parts = []
    for start in progress(range(0, len(x), chunk), total=-(-len(x) // chunk), desc=desc, unit="chunk",
                          show=show):
        v = np.asarray(fn(x[start:start + chunk]))
        parts.append(v.reshape(v.shape[0], N_ELEMENTS))
    return np.concatenate(parts)


def shap_summary(explanation) -> pd.DataFrame:
    """Per-element SHAP statistics, averaging only over the compositions that contain the element:
    ``n_present``, ``mean_abs`` (the element's importance, eV/atom), ``mean`` (signed: negative =
    lowers the energy), and ``mean_abs_absent`` (what the element carries where it is absent).
    ``df.attrs["absent_share"]`` is the share of all |attribution| carried by absent elements.
    Sorted by ``mean_abs``, elements never present last.

    >>> net = torch.nn.Linear(86, 1)
    >>> df = shap_summary(shap_values(net, ["NaCl", "KCl"], background="zero"))
    >>> int(df.loc["Cl", "n_present"]), df.attrs["absent_share"]
    (2, 0.0)
    """
    v = np.asarray(explanation.values, dtype=np.float64)
    present = np.asarray(explanation.data) > 0
    a = np.abs(v)
    n_present = present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_abs = np.where(n_present > 0, (a * present).sum(0) / n_present, np.nan)
        mean = np.where(n_present > 0, (v * present).sum(0) / n_present, np.nan)
        n_absent = len(v) - n_present
        mean_abs_absent = np.where(n_absent > 0, (a * ~present).sum(0) / n_absent, np.nan)
    df = pd.DataFrame({"n_present": n_present, "mean_abs": mean_abs, "mean": mean,
                       "mean_abs_absent": mean_abs_absent},
                      index=pd.Index(list(explanation.feature_names), name="element"))
    df = df.sort_values("mean_abs", ascending=False, na_position="last")
    total = a.sum()
    df.attrs["absent_share"] = float((a * ~present).sum() / total) if total > 0 else 0.0
    return df


def kernel_check(model: nn.Module, compositions: Any, background: Any = "elements", *, n_points: int = 3,
                 n_background: int = 20, nsamples: int = 2048, seed: int = 0) -> pd.DataFrame:
    """Cross-check DeepLIFT against the model-agnostic ``shap.KernelExplainer`` on a few
    compositions, both against the same reference (``background`` as in :func:`shap_values`;
    a background of compositions is cut to ``n_background`` rows). One row per composition, over the
    elements either method gives a value: how many, the Pearson correlation of the two attribution
    vectors (from three elements on), the share with the same sign, the largest difference
    (eV/atom), the summed difference relative to the summed |DeepLIFT|, and how far each is from
    adding up to ``f(x)`` minus the reference energy. Kernel SHAP evaluates the network on mixtures of ``x`` and the reference, off
    the composition simplex: expect agreement, not identity, for a nonlinear network (for a linear
    one the two are equal).

    >>> df = kernel_check(torch.nn.Linear(86, 1), ["NaCl", "Fe2O3"], ["Na", "FeO", "MgO"], nsamples=500)
    >>> bool((df["pearson_r"] > 0.999).all()), bool((df["relative_diff"] < 1e-4).all())
    (True, True)
    """
    shap = _shap()
    from shap.utils._legacy import DenseData  # the only way to give KernelExplainer weighted references

    model = energy_model(model)
    x, formulas = named_fractions(compositions)
    if n_points < 1:
        raise ValueError(f"n_points = {n_points} must be >= 1")
    rng = np.random.default_rng(seed)
    if len(x) > n_points:
        keep = np.sort(rng.choice(len(x), n_points, replace=False))
        x, formulas = x[keep], [formulas[i] for i in keep]
    xb = _background(background, n_background, seed)
    deep = shap_values(model, x, xb, n_background=n_background, seed=seed, show_progress=False)
    f = lambda z: predict(model, np.asarray(z, dtype=np.float32))  # noqa: E731
    names = list(ELEMNET_ELEMENTS)
    fixed = None if isinstance(xb, str) else shap.KernelExplainer(f, xb.astype(np.float64))
    pred = f(x)
    # KernelExplainer samples coalitions from numpy's global generator: seed it, then put it back
    global_state = np.random.get_state()
    np.random.seed(seed)
    shap_log = logging.getLogger("shap")
    level = shap_log.level
    shap_log.setLevel(max(level, logging.WARNING))  # it logs every sampling step at INFO
    try:
        rows = _kernel_rows(shap, DenseData, f, names, x, formulas, deep, pred, nsamples, fixed)
    finally:
        np.random.set_state(global_state)
        shap_log.setLevel(level)
    return pd.DataFrame(rows)


def _kernel_rows(shap, DenseData, f, names, x, formulas, deep, pred, nsamples, fixed) -> list[dict]:
    rows = []
    for i in progress(range(len(x)), desc="KernelExplainer", unit="composition"):
        if fixed is None:  # this composition's own pure elements, weighted by fraction
            cols = np.flatnonzero(x[i] > 0)
            refs = np.eye(N_ELEMENTS)[cols]
            kernel = shap.KernelExplainer(f, DenseData(refs, names, None, x[i, cols].astype(np.float64)))
        else:
            kernel = fixed
        kv = np.asarray(kernel.shap_values(x[i:i + 1].astype(np.float64), nsamples=nsamples,
                                           l1_reg=False, silent=True)).reshape(-1)
        dv = deep.values[i]
        used = (np.abs(dv) > 1e-9) | (np.abs(kv) > 1e-9)
        a, b = dv[used], kv[used]
        # a correlation of two numbers is always +-1: report it from three elements on
        r = float(np.corrcoef(a, b)[0, 1]) if used.sum() > 2 and a.std() > 0 and b.std() > 0 else float("nan")
        expected = float(np.ravel(kernel.expected_value)[0])
        rows.append({"formula": formulas[i], "elements": int(used.sum()), "pearson_r": r,
                     "same_sign": float((np.sign(a) == np.sign(b)).mean()) if used.any() else float("nan"),
                     "max_abs_diff": float(np.abs(dv - kv).max()),
                     "relative_diff": float(np.abs(dv - kv).sum() / max(np.abs(dv).sum(), 1e-12)),
                     "deep_additivity_error": float(abs(dv.sum() + deep.base_values[i] - pred[i])),
                     "kernel_additivity_error": float(abs(kv.sum() + expected - pred[i]))})
    return rows


__all__ = ["shap_values", "shap_summary", "kernel_check", "linear_relu_chain", "METHODS"]

