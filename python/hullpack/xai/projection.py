"""What each hidden layer sees: PCA of the activations of the 86 pure elements and of the equiatomic
binaries, to be coloured by periodic-table group. A layer whose first components sort elements by
group has learned chemistry the input (one-hot fractions) does not spell out."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import pandas as pd
import torch
from torch import nn

from .._progress import progress
from ..elements import ELEMNET_ELEMENTS, N_ELEMENTS, element_table
from .base import as_fractions, energy_model, equiatomic_binaries, xai_import

#: modules whose outputs count as a hidden layer's activations
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Softplus, nn.PReLU)


def hidden_layers(model: nn.Module) -> list[str]:
    """Names (as in ``model.named_modules()``) of the modules whose outputs are the hidden
    activations: the activation modules, or every Linear but the last when there are none.

    >>> from hullpack.elemnet import ElemNet
    >>> hidden_layers(ElemNet("8x2D-4x1-1", (0.1,)))
    ['net.1', 'net.3', 'net.6']
    """
    acts = [n for n, m in model.named_modules() if isinstance(m, ACTIVATIONS)]
    if acts:
        return acts
    return [n for n, m in model.named_modules() if isinstance(m, nn.Linear)][:-1]


@torch.no_grad()
def layer_activations(model: nn.Module, compositions: Any, layers: Iterable[str] | None = None, *,
                      batch_size: int = 4096) -> dict[str, np.ndarray]:
    """Activations ``(n, width)`` of each hidden layer for ``compositions``, in eval mode, captured
    with forward hooks (removed afterwards).

    >>> from hullpack.elemnet import ElemNet
    >>> acts = layer_activations(ElemNet("8x2D-4x1-1", (0.1,)), ["NaCl", "Fe2O3"])
    >>> {k: v.shape for k, v in acts.items()}
    {'net.1': (2, 8), 'net.3': (2, 8), 'net.6': (2, 4)}
    """
    model = energy_model(model)
    x = as_fractions(compositions)
    names = hidden_layers(model) if layers is None else list(layers)
    modules = dict(model.named_modules())
    unknown = [n for n in names if n not in modules]
    if not names and layers is None:
        raise ValueError("the model has no hidden layer (no activation module, and at most one Linear): "
                         "there is nothing to project")
    if unknown or not names:
        raise ValueError(f"no such layers {unknown}; the model's hidden layers are {hidden_layers(model)}")
    seen: dict[str, list[torch.Tensor]] = {n: [] for n in names}

    def hook(name):
        def record(_module, _inputs, output):
            seen[name].append(output.detach().float().reshape(output.shape[0], -1).cpu().clone())
        return record

    handles = [modules[n].register_forward_hook(hook(n)) for n in names]
    try:
        device = next(iter(model.parameters())).device
        for start in range(0, len(x), batch_size):
            xb = torch.from_numpy(x[start:start + batch_size]).to(device)
            model(xb)
            calls = {n: len(v) for n, v in seen.items()}
            if len(set(calls.values())) != 1:  # a module applied twice per forward has no single output
                raise ValueError(f"layers {sorted(calls, key=lambda n: calls[n])[-1:]} ran more than once per "
                                 "forward pass; name modules that are used once")
    finally:
        for h in handles:
            h.remove()
    return {n: torch.cat(v).numpy() for n, v in seen.items()}


def pca(a: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The first ``k`` principal-component scores of the rows of ``a`` and each component's share of
    the variance (zeros for a constant ``a``). Signs are fixed (largest loading positive).

    >>> scores, share = pca(np.array([[0., 0], [1, 1], [2, 2]]))
    >>> scores[:, 0].round(3).tolist(), share.round(3).tolist()
    ([-1.414, 0.0, 1.414], [1.0, 0.0])
    """
    a = np.asarray(a, dtype=np.float64)
    c = a - a.mean(axis=0)
    total = float((c ** 2).sum())
    scores = np.zeros((len(a), k))
    share = np.zeros(k)
    m = min(k, *c.shape)
    if total <= 0 or m == 0:
        return scores, share
    if min(c.shape) > 4 * k + 8:
        # only the leading components: ARPACK (fixed start vector, so deterministic) is ~100x faster
        # than a full SVD of 3,655 x 1,024 activations
        svds = xai_import("scipy.sparse.linalg", "the hidden-layer projection").svds

        _, s, vt = svds(c, k=m, v0=np.ones(min(c.shape)) / np.sqrt(min(c.shape)))
        order = np.argsort(s)[::-1]
        s, vt = s[order], vt[order]
    else:
        _, s, vt = np.linalg.svd(c, full_matrices=False)
        s, vt = s[:m], vt[:m]
    signs = np.sign(vt[np.arange(m), np.argmax(np.abs(vt), axis=1)])
    signs[signs == 0] = 1
    scores[:, :m] = c @ (vt.T * signs)
    share[:m] = s ** 2 / total
    return scores, share


def group_separation(scores: np.ndarray, groups: np.ndarray) -> float:
    """Between-group share of the variance of ``scores`` (eta squared: 1 = groups are points,
    0 = groups overlap completely)."""
    scores = np.asarray(scores, dtype=np.float64)
    total = ((scores - scores.mean(axis=0)) ** 2).sum()
    if total <= 0:
        return 0.0
    between = sum(((scores[groups == g].mean(axis=0) - scores.mean(axis=0)) ** 2).sum() * (groups == g).sum()
                  for g in np.unique(groups))
    return float(between / total)


def chance_separation(groups: np.ndarray) -> float:
    """The group separation that random group labels give on average, ``(k - 1) / (n - 1)`` for ``k``
    groups over ``n`` points (exact for any scores, as the expected eta squared under permutation of
    the labels): the level a layer must beat to group its points by group at all. 18 groups over the
    86 pure elements already give 0.2.

    >>> round(chance_separation(np.repeat(np.arange(18), 5)[:86]), 3)
    0.2
    """
    groups = np.asarray(groups)
    n = len(groups)
    return (len(np.unique(groups)) - 1) / (n - 1) if n > 1 else 0.0


@dataclass
class LayerProjection:
    """2-D PCA of every hidden layer, for pure elements and equiatomic binaries."""

    layers: list[str]
    widths: list[int]
    #: layer -> ``(86, 2)`` scores of the pure elements (ElemNet order)
    pure: dict[str, np.ndarray]
    #: layer -> ``(n_pairs, 2)`` scores of the equiatomic binaries
    binary: dict[str, np.ndarray]
    #: groups of the pure elements, and of each binary's cation (its less electronegative element)
    pure_groups: np.ndarray
    binary_groups: np.ndarray
    binary_pairs: list[tuple[str, str]]
    #: one row per (layer, set): width, variance shares of PC1 and PC2, group separation and the
    #: separation random group labels give (``chance_separation``)
    summary: pd.DataFrame


def layer_projection(model: nn.Module, *, show_progress: bool | None = None) -> LayerProjection:
    """PCA of each hidden layer for the 86 pure elements and the 3,655 equiatomic binaries (a
    progress bar over the layers: the shipped model's 16 take several seconds).

    >>> from hullpack.elemnet import ElemNet
    >>> p = layer_projection(ElemNet("8x2D-4x1-1", (0.1,)))
    >>> p.pure["net.1"].shape, p.binary["net.6"].shape, list(p.summary.columns)
    ((86, 2), (3655, 2), ['layer', 'width', 'set', 'pc1_share', 'pc2_share', 'group_separation', 'chance_separation'])
    """
    table = element_table()
    pure_x = np.eye(N_ELEMENTS, dtype=np.float32)
    bin_x, pairs = equiatomic_binaries()
    pure_acts = layer_activations(model, pure_x)
    bin_acts = layer_activations(model, bin_x)
    pure_groups = table.loc[list(ELEMNET_ELEMENTS), "group"].to_numpy()
    en = table["electronegativity"]
    cations = [a if (en[a], table.at[a, "Z"]) <= (en[b], table.at[b, "Z"]) else b for a, b in pairs]
    binary_groups = table.loc[cations, "group"].to_numpy()
    pure: dict[str, np.ndarray] = {}
    binary: dict[str, np.ndarray] = {}
    rows = []
    for name in progress(list(pure_acts), desc="layer PCA", unit="layer",
                         show=show_progress):
        for label, acts, groups, store in (("pure", pure_acts[name], pure_groups, pure),
                                           ("binary", bin_acts[name], binary_groups, binary)):
            scores, share = pca(acts)
            store[name] = scores
            rows.append({"layer": name, "width": acts.shape[1], "set": label, "pc1_share": share[0],
                         "pc2_share": share[1], "group_separation": group_separation(scores, groups),
                         "chance_separation": chance_separation(groups)})
    return LayerProjection(layers=list(pure_acts), widths=[pure_acts[n].shape[1] for n in pure_acts],
                           pure=pure, binary=binary, pure_groups=pure_groups, binary_groups=binary_groups,
                           binary_pairs=pairs, summary=pd.DataFrame(rows))


__all__ = ["ACTIVATIONS", "hidden_layers", "layer_activations", "pca", "group_separation",
           "LayerProjection", "layer_projection"]
