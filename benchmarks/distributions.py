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

``NEW_DISTRIBUTIONS`` holds families added later, kept apart so that the scripts that iterate
``DISTRIBUTIONS`` (bench_samplers.py, bench_budgets_scale.py) and their recorded results stay as
they were; ``ALL_DISTRIBUTIONS`` is both. ``sizes`` draws from either:

- ``proteins``: residue graphs of protein chains (lengths ~ lognormal around 300, a 3% Pareto tail
  of long chains up to 5,000), edges = residues x contacts within a ~10 A radius (k ~ 10-20);
- ``point-clouds``: sampled point clouds with a k-NN graph (k = 16): 1,024, 2,048 or 4,096 points,
  so every graph is one of three exact sizes;
- ``power-law``: subgraphs of a citation network: nodes ~ Pareto of tail index 1 (density exponent
  2) above 10, median 20 and a few hundred graphs 1,000x that, capped at 50,000; edges densify as
  nodes^1.15;
- ``md-frames``: frames of one molecular-dynamics trajectory: every graph the same 192 atoms and
  24 nearest neighbours (all exact ties, in nodes and edges);
- ``mixed-datasets``: two very different datasets trained together: ``qm9`` and ``proteins``, 95:5.

>>> nodes, edges = DISTRIBUTIONS["molecules"](1000, np.random.default_rng(0))
>>> nodes.dtype, bool((edges > nodes).all())
(dtype('int64'), True)
"""
from __future__ import annotations

import numpy as np

__all__ = ["DISTRIBUTIONS", "NEW_DISTRIBUTIONS", "ALL_DISTRIBUTIONS", "sizes"]


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


def proteins(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Protein residue graphs: chain lengths ~ lognormal around 300 with a tail to 5,000, radius contacts."""
    residues = rng.lognormal(np.log(300), 0.5, n)
    tail = rng.random(n) < 0.03
    residues[tail] = 600 + rng.pareto(1.5, tail.sum()) * 400
    nodes = np.rint(residues).clip(30, 5000)
    edges = np.rint(nodes * rng.uniform(10, 20, n))
    return nodes.astype(np.int64), edges.astype(np.int64)


def point_clouds(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Point clouds sampled to 1,024, 2,048 or 4,096 points with a 16-NN graph: three exact sizes."""
    nodes = rng.choice([1024, 2048, 4096], n, p=[0.3, 0.65, 0.05])
    return nodes.astype(np.int64), (16 * nodes).astype(np.int64)


def power_law(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Citation-network subgraphs: Pareto node counts (density exponent 2), median 20, capped at 50,000."""
    nodes = np.floor(10 * (1 + rng.pareto(1.0, n))).clip(None, 50_000)
    edges = np.rint(2 * nodes ** 1.15 * rng.uniform(1, 2, n))
    return nodes.astype(np.int64), edges.astype(np.int64)


def md_frames(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Frames of one molecular-dynamics trajectory: 192 atoms, 24 neighbours each, every frame alike."""
    return np.full(n, 192, np.int64), np.full(n, 192 * 24, np.int64)


def mixed_datasets(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """qm9 and proteins trained together, 95:5 (items in random order)."""
    small, large = qm9(n, rng), proteins(n, rng)
    take = rng.random(n) < 0.05
    return np.where(take, large[0], small[0]), np.where(take, large[1], small[1])


DISTRIBUTIONS = {"molecules": molecules, "crystals": crystals, "collider": collider,
                 "lognormal-mix": lognormal_mix, "qm9": qm9}
NEW_DISTRIBUTIONS = {"proteins": proteins, "point-clouds": point_clouds, "power-law": power_law,
                     "md-frames": md_frames, "mixed-datasets": mixed_datasets}
ALL_DISTRIBUTIONS = {**DISTRIBUTIONS, **NEW_DISTRIBUTIONS}


def sizes(name: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` (nodes, edges) pairs of distribution ``name``, reproducible from ``seed``."""
    return ALL_DISTRIBUTIONS[name](n, np.random.default_rng(seed))
