"""Realistic graph sizes (nodes, edges) for the sampler and packing benchmarks.

Each generator mimics the shape of a real family of training sets, not one data set, so that
quality claims are checked on distributions the algorithms were not tuned on:

- ``molecules``: drug-like molecules with explicit hydrogens (heavy atoms ~ lognormal around 24),
  plus a 4% Pareto tail of peptides and macrocycles up to ~800 atoms;
- ``crystals``: crystal graphs with a radius cutoff: atoms per cell = formula size x Z (a few
  discrete values dominate), edges = atoms x neighbours within ~6 A (8-110);
- ``collider``: hit graphs of collider events: pile-up ~ N(200, 40) vertices x ~60 hits, edges
  growing as hits^1.3 after geometric cuts;
- ``lognormal-mix``: a two-component lognormal mixture (small and large graphs);
- ``qm9``: small molecules of 9-29 atoms, nearly uniform (many exact ties).

>>> nodes, edges = DISTRIBUTIONS["molecules"](1000, np.random.default_rng(0))
>>> nodes.dtype, bool((edges > nodes).all())
(dtype('int64'), True)
"""
from __future__ import annotations

import numpy as np

__all__ = ["DISTRIBUTIONS", "sizes"]


def molecules(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    heavy = np.rint(rng.lognormal(np.log(24), 0.38, n)).clip(3, None)
    tail = rng.random(n) < 0.04
    heavy[tail] = np.rint(40 + rng.pareto(1.6, tail.sum()) * 35).clip(40, 400)
    nodes = heavy + np.rint(heavy * rng.uniform(0.6, 1.2, n))
    edges = 2 * np.rint(nodes * rng.uniform(1.02, 1.12, n))
    return nodes.astype(np.int64), edges.astype(np.int64)


def crystals(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    formula = rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 20], n,
                         p=[.08, .18, .14, .16, .12, .1, .06, .05, .04, .03, .02, .02])
    z = rng.choice([1, 2, 3, 4, 6, 8, 12, 16], n, p=[.3, .25, .08, .2, .06, .06, .03, .02])
    nodes = np.minimum(formula * z, 444)
    edges = np.rint(nodes * rng.normal(45, 12, n).clip(8, 110))
    return nodes.astype(np.int64), edges.astype(np.int64)


def collider(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    pileup = rng.normal(200, 40, n).clip(40, None)
    nodes = np.rint(pileup * rng.normal(60, 8, n).clip(20, None) + rng.normal(0, 300, n)).clip(500, None)
    edges = np.rint(0.35 * nodes ** 1.3 * rng.lognormal(0, 0.1, n))
    return nodes.astype(np.int64), edges.astype(np.int64)


def lognormal_mix(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    small = rng.random(n) < 0.7
    nodes = np.rint(np.where(small, rng.lognormal(4, 0.5, n), rng.lognormal(6, 0.8, n))).clip(1, None)
    edges = np.rint(nodes * rng.uniform(2, 8, n))
    return nodes.astype(np.int64), edges.astype(np.int64)


def qm9(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    nodes = rng.integers(9, 30, n)
    edges = 2 * np.rint(nodes * rng.uniform(1.0, 1.1, n))
    return nodes.astype(np.int64), edges.astype(np.int64)


DISTRIBUTIONS = {"molecules": molecules, "crystals": crystals, "collider": collider,
                 "lognormal-mix": lognormal_mix, "qm9": qm9}


def sizes(name: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` (nodes, edges) pairs of distribution ``name``, reproducible from ``seed``."""
    return DISTRIBUTIONS[name](n, np.random.default_rng(seed))
