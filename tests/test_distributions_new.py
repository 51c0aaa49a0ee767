"""The size families of benchmarks/distributions.py that the samplers were not tuned on
(``NEW_DISTRIBUTIONS``: proteins, point clouds, a power-law tail, molecular-dynamics frames of one
size, a qm9 + proteins mix): valid sizes, and every sampler's guarantees on them at n = 5,000 (each
item once per epoch, the same batches again for the same seed and epoch, the budget held, equal
batch counts on every rank). benchmarks/bench_distributions.py measures their quality."""
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

from hullpack.samplers import BalancedBatchSampler, DistributedBalancedBatchSampler, PackedBatchSampler

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from distributions import ALL_DISTRIBUTIONS, DISTRIBUTIONS, NEW_DISTRIBUTIONS, sizes  # noqa: E402

N = 5_000


def test_the_five_earlier_families_are_unchanged():
    """Recorded results (bench_samplers.py, bench_budgets_scale.py) iterate DISTRIBUTIONS: the same
    five families, drawing the same sizes."""
    assert list(DISTRIBUTIONS) == ["molecules", "crystals", "collider", "lognormal-mix", "qm9"]
    assert not set(NEW_DISTRIBUTIONS) & set(DISTRIBUTIONS)
    assert ALL_DISTRIBUTIONS == {**DISTRIBUTIONS, **NEW_DISTRIBUTIONS}
    crc = {name: f"{zlib.crc32(np.ascontiguousarray(np.column_stack(sizes(name, 1000))).view(np.uint8)):08x}"
           for name in DISTRIBUTIONS}
    assert crc == {"molecules": "38758d6b", "crystals": "034f605e", "collider": "7725589e",
                   "lognormal-mix": "5fb778ed", "qm9": "a6c30804"}


@pytest.mark.parametrize("name", list(NEW_DISTRIBUTIONS))
def test_new_family_sizes_are_positive_integers(name):
    nodes, edges = sizes(name, N, seed=3)
    for a in (nodes, edges):
        assert a.shape == (N,) and a.dtype == np.int64 and (a > 0).all()
    assert (edges >= nodes).all()
    again = sizes(name, N, seed=3)
    assert np.array_equal(nodes, again[0]) and np.array_equal(edges, again[1])
    assert NEW_DISTRIBUTIONS[name].__doc__  # says what it mimics


def test_new_families_have_their_shapes():
    assert np.unique(sizes("md-frames", N)[0]).size == 1                     # all ties
    assert set(np.unique(sizes("point-clouds", N)[0])) <= {1024, 2048, 4096}  # a few exact sizes
    nodes = sizes("power-law", 100_000)[0]
    assert (nodes >= 1000 * np.median(nodes)).sum() >= 10                    # graphs 1,000x the median
    mixed = sizes("mixed-datasets", N)[0]
    assert 0.9 < (mixed < 30).mean() < 0.99                                  # mostly qm9


def plans(make, epochs=(0, 1)):
    """The batches of ``epochs`` of a sampler from ``make()``, and epoch 1's from a second one."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # oversize graphs alone (power-law, proteins' tail)
        sampler, again = make(), make()
    out = []
    for e in epochs:
        sampler.set_epoch(e)
        out.append(list(sampler))
    again.set_epoch(epochs[-1])
    assert list(again) == out[-1], "another sampler built alike gave other batches for the same seed and epoch"
    return out


def each_once(batches, n):
    return sorted(i for b in batches for i in b) == list(range(n))


@pytest.mark.parametrize("name", list(NEW_DISTRIBUTIONS))
def test_samplers_cover_each_epoch_and_repeat_on_new_families(name):
    nodes, edges = sizes(name, N)
    both = np.column_stack([nodes, edges]).astype(float)
    cap = [64 * nodes.mean(), 64 * edges.mean()]
    for batches in plans(lambda: BalancedBatchSampler(nodes, 32, seed=1)):
        assert len(batches) == -(-N // 32) and each_once(batches, N)
    for sizes_, budget in ((nodes, cap[0]), (both, cap)):
        for batches in plans(lambda: PackedBatchSampler(sizes_, budget, seed=1, oversize="alone")):
            assert each_once(batches, N)
            for b in batches:
                assert len(b) == 1 or np.all(np.asarray(sizes_, float)[b].sum(axis=0) <= budget)
    for kwargs in (dict(batch_size=32), dict(max_cost=cap[0], oversize="alone")):
        ranks = [plans(lambda: DistributedBalancedBatchSampler(nodes, num_replicas=4, rank=r, seed=1, **kwargs))
                 for r in range(4)]
        for e in range(2):
            assert len({len(ranks[r][e]) for r in range(4)}) == 1
            assert each_once([b for r in range(4) for b in ranks[r][e]], N)
