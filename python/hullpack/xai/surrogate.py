"""A transparent stand-in: a decision tree fitted to the model's own predictions on element fractions.
How faithful it is (R² against the model, on held-out compositions) says how much of the model a
few readable rules capture; its top splits say which elements it keys on."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd
from torch import nn

from .._progress import progress
from ..elements import ELEMNET_ELEMENTS
from ..errors import CompositionError
from .base import as_fractions, energy_model, predict, xai_import

log = logging.getLogger(__name__)


@dataclass
class Surrogate:
    """A decision tree standing in for the model, and how well it does."""

    #: the fitted ``sklearn.tree.DecisionTreeRegressor`` (inputs: the 86 fractions, ElemNet order)
    tree: Any
    #: its depth (the one chosen from ``fidelity``)
    depth: int
    #: per depth tried: ``r2_train``, ``r2_test`` (R² against the model's predictions), ``mae_test``
    #: (eV/atom), ``n_leaves``
    fidelity: pd.DataFrame
    #: the splits nearest the root, most important first (see :func:`top_splits`)
    splits: pd.DataFrame
    #: the tree's impurity-based importance per element (sums to 1)
    importance: pd.Series = field(repr=False)

    @property
    def r2(self) -> float:
        """Held-out fidelity of the chosen tree."""
        return float(self.fidelity.loc[self.depth, "r2_test"])

    @property
    def no_split(self) -> str | None:
        """Why the tree never split (it is one leaf, predicting the mean at every depth), in words;
        None when it split. Either the model's predictions on the training compositions are all
        equal (nothing to explain), or no element's fraction separates ``min_samples_leaf`` of them
        on each side (too few, or too alike, compositions)."""
        t = self.tree.tree_
        if t.node_count > 1:
            return None
        n, leaf = int(t.n_node_samples[0]), self.tree.min_samples_leaf
        if t.impurity[0] <= 1e-12:
            return f"the model predicts the same energy for all {n} training compositions: there is no signal to split on"
        return (f"no element's fraction separates at least {leaf} of the {n} training compositions on each side "
                f"(min_samples_leaf={leaf}): too few, or too alike, compositions; fit it to more")


def top_splits(tree, *, max_depth: int = 3, feature_names: Iterable[str] = ELEMNET_ELEMENTS) -> pd.DataFrame:
    """The splits of a fitted regression tree down to ``max_depth`` (root = 0): node, depth, element,
    threshold (a fraction: left = ``x_element <= threshold``), samples, the mean energy left and right
    (eV/atom) and ``gain``: the node's share of the tree's total impurity decrease. Sorted by gain.
    """
    t = tree.tree_
    names = list(feature_names)
    n_total = t.weighted_n_node_samples[0]
    decrease = np.zeros(t.node_count)
    depth = np.zeros(t.node_count, dtype=int)
    for node in range(t.node_count):
        left, right = t.children_left[node], t.children_right[node]
        if left < 0:
            continue
        depth[left] = depth[right] = depth[node] + 1
        decrease[node] = (t.weighted_n_node_samples[node] * t.impurity[node]
                          - t.weighted_n_node_samples[left] * t.impurity[left]
                          - t.weighted_n_node_samples[right] * t.impurity[right]) / n_total
    total = decrease.sum()
    rows = []
    for node in range(t.node_count):
        left, right = t.children_left[node], t.children_right[node]
        if left < 0 or depth[node] > max_depth:
            continue
        rows.append({"node": node, "depth": int(depth[node]), "element": names[t.feature[node]],
                     "threshold": float(t.threshold[node]), "samples": int(t.n_node_samples[node]),
                     "mean_left": float(t.value[left].ravel()[0]), "mean_right": float(t.value[right].ravel()[0]),
                     "gain": float(decrease[node] / total) if total > 0 else 0.0})
    df = pd.DataFrame(rows, columns=["node", "depth", "element", "threshold", "samples", "mean_left",
                                     "mean_right", "gain"])
    return df.sort_values("gain", ascending=False).reset_index(drop=True)


def fit_surrogate(model: nn.Module, compositions: Any, *, depths: Iterable[int] = range(1, 13),
                  depth: int | None = None, test_size: float = 0.25, min_samples_leaf: int = 5,
                  seed: int = 0, show_progress: bool | None = None) -> Surrogate:
    """Fit decision trees of each depth in ``depths`` to the model's predictions on
    ``compositions`` (formulas or fractions), measuring fidelity (R² against the model) on a
    held-out ``test_size`` share. The returned tree has ``depth`` when given, else the smallest depth
    whose held-out R² is within 0.02 of the best.

    >>> import torch
    >>> from hullpack.xai.base import random_compositions
    >>> oxygen = torch.nn.Linear(86, 1)                 # a toy: E = -2 x_O
    >>> with torch.no_grad():
    ...     _ = oxygen.weight.zero_(); _ = oxygen.bias.zero_(); oxygen.weight[0, 6] = -2.0
    >>> x = random_compositions(400, seed=0, n_elements=(1, 2))
    >>> x[::3] = x[::3] * 0.5; x[::3, 6] += 0.5          # a third of them with oxygen
    >>> s = fit_surrogate(oxygen, x, depths=[1, 2, 3, 4])
    >>> s.splits["element"].unique().tolist(), s.importance.index[0], s.r2 > 0.95
    (['O'], 'O', True)
    """
    metrics = xai_import("sklearn.metrics", "the surrogate tree")
    DecisionTreeRegressor = xai_import("sklearn.tree", "the surrogate tree").DecisionTreeRegressor
    mean_absolute_error, r2_score = metrics.mean_absolute_error, metrics.r2_score

    model = energy_model(model)
    x = as_fractions(compositions)
    depths = sorted({int(d) for d in depths} | ({int(depth)} if depth is not None else set()))
    if not depths or depths[0] < 1:
        raise ValueError(f"depths {depths} must be positive integers")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size = {test_size} must lie in (0, 1)")
    n_test = int(round(len(x) * test_size))
    if n_test < 2 or len(x) - n_test < 2 * min_samples_leaf:
        raise CompositionError(f"{len(x)} compositions are too few to fit and test a surrogate tree "
                               f"(test_size={test_size}, min_samples_leaf={min_samples_leaf})")
    y = predict(model, x)
    perm = np.random.default_rng(seed).permutation(len(x))
    test, train = perm[:n_test], perm[n_test:]
    rows, trees = [], {}
    for d in progress(depths, desc="surrogate depths", unit="depth",
                      show=show_progress):
        tree = DecisionTreeRegressor(max_depth=d, min_samples_leaf=min_samples_leaf, random_state=seed)
        tree.fit(x[train], y[train])
        pred = tree.predict(x[test])
        rows.append({"depth": d, "r2_train": float(r2_score(y[train], tree.predict(x[train]))),
                     "r2_test": float(r2_score(y[test], pred)),
                     "mae_test": float(mean_absolute_error(y[test], pred)), "n_leaves": int(tree.get_n_leaves())})
        trees[d] = tree
    fidelity = pd.DataFrame(rows).set_index("depth")
    if depth is None:
        best = fidelity["r2_test"].max()
        depth = int(fidelity.index[fidelity["r2_test"] >= best - 0.02][0])
    tree = trees[int(depth)]
    importance = pd.Series(tree.feature_importances_, index=pd.Index(ELEMNET_ELEMENTS, name="element"),
                           name="importance").sort_values(ascending=False)
    log.info("surrogate tree depth %d: held-out R² %.3f against the model", depth, fidelity.loc[depth, "r2_test"])
    return Surrogate(tree=tree, depth=int(depth), fidelity=fidelity, splits=top_splits(tree), importance=importance)


__all__ = ["Surrogate", "fit_surrogate", "top_splits"]
