"""pack() gives exactly the recorded bins: digests of bin_of_item for fixed inputs, taken from the
reference implementation, guard the histogram path and the bounded search for several budgets
against any change of which bin an item joins (a change of batches for users' seeds and epochs).

Inputs come from a splitmix64 stream computed here in numpy, so they do not depend on numpy's
random generators, and their logarithms, exponentials and cosines come from Python's math module:
numpy's own differ by an ulp between CPUs (its AVX-512 versions are not its AVX2 ones), and best
fit's ties follow such an ulp. When a change of bins is intended, regenerate the table with
``python tests/test_pack_identity.py`` and say so in the changelog."""
from __future__ import annotations

import hashlib
import math
import sys

import numpy as np
import pytest

from hullpack import packing

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _uniform(seed: int, n: int) -> np.ndarray:
    """n floats in [0, 1) from splitmix64 seeded with `seed` (53 high bits of each output)."""
    with np.errstate(over="ignore"):
        z = (np.arange(1, n + 1, dtype=np.uint64) + np.uint64(seed)) * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _exp(x: np.ndarray) -> np.ndarray:
    return np.array([math.exp(v) for v in x.ravel()]).reshape(x.shape)


def _log1p(x: np.ndarray) -> np.ndarray:
    return np.array([math.log1p(v) for v in x.ravel()]).reshape(x.shape)


def _cos(x: np.ndarray) -> np.ndarray:
    return np.array([math.cos(v) for v in x.ravel()]).reshape(x.shape)


def _ints(seed: int, n: int, lo: int, hi: int) -> np.ndarray:
    """n integers in lo..hi (inclusive) as float64."""
    return np.floor(lo + _uniform(seed, n) * (hi - lo + 1))


def _perm(seed: int, n: int) -> np.ndarray:
    return np.argsort(_uniform(seed, n), kind="stable").astype(np.int64)


def _hist_cases():
    """name -> (sizes, capacity, order) for method='hist'."""
    n = 200_000
    u = _ints(1, n, 1, 500)
    small = np.floor(-_log1p(-_uniform(2, n)) * 4)  # geometric-like, many zeros and ones
    logn = np.minimum(np.floor(_exp(3.0 + 0.9 * np.sqrt(-2 * _log1p(-_uniform(3, n)))
                                       * _cos(2 * np.pi * _uniform(4, n)))), 1000)
    big = _ints(5, 50_000, 30, 100)
    large = _ints(6, 3_000_000, 1, 500)  # several threads count and assign
    return {
        "uniform-500-cap2000": (u, 2000.0, None),
        "uniform-500-cap2000-int64": (u.astype(np.int64), 2000.0, None),
        "uniform-500-cap2000-order": (u, 2000.0, _perm(7, n)),
        "uniform-500-cap501.5": (u, 501.5, None),
        "uniform-500-sorted": (np.sort(u), 2000.0, None),
        "uniform-500-reversed-order": (u, 2000.0, np.arange(n - 1, -1, -1, dtype=np.int64)),
        "geometric-cap64": (np.minimum(small, 64), 64.0, None),
        "geometric-cap7.5-order": (np.minimum(small, 7), 7.5, _perm(8, n)),
        "lognormal-cap1000": (logn, 1000.0, None),
        "lognormal-cap4096-order": (logn, 4096.0, _perm(9, n)),
        "big-cap100": (big, 100.0, None),
        "big-cap100-order": (big, 100.0, _perm(10, big.size)),
        "zeros-and-ones": (np.floor(_uniform(11, 10_000) * 2), 3.0, None),
        "uniform-500-3e6": (large, 2000.0, None),
        "uniform-500-3e6-order": (large, 2000.0, _perm(12, large.size)),
    }


def _budget_cases():
    """name -> (sizes (n, k), capacity) for first and best fit with several budgets."""
    cases = {}
    for n in (10_000, 50_000, 200_000):
        nodes = np.minimum(_exp(3.0 + 0.8 * np.sqrt(-2 * _log1p(-_uniform(20, n)))
                                  * _cos(2 * np.pi * _uniform(21, n))), 2000.0)
        cols = [nodes] + [nodes * (1.5 + 2.5 * _uniform(22 + j, n)) for j in range(3)]
        cases[f"k2-correlated-{n}"] = (np.stack(cols[:2], 1), [4000.0, 12000.0])
        cases[f"k4-correlated-{n}"] = (np.stack(cols, 1), [4000.0, 12000.0, 12000.0, 12000.0])
        e = -_log1p(-np.stack([_uniform(30 + j, n) for j in range(4)], 1))  # Dirichlet(1) x 100
        cases[f"k4-anti-{n}"] = (e / e.sum(1, keepdims=True) * 100, [1000.0] * 4)
        e2 = e[:, :2]
        cases[f"k2-anti-{n}"] = (e2 / e2.sum(1, keepdims=True) * 100, [1000.0] * 2)
        counts = _ints(40, n, 1, 499)
        cases[f"k2-integer-{n}"] = (np.stack([counts, counts * _ints(41, n, 2, 7)], 1), [20_000.0, 100_000.0])
    return cases


def _digest(bins: np.ndarray, n_bins: int) -> str:
    h = hashlib.sha256(np.ascontiguousarray(bins, dtype="<i8").tobytes())
    h.update(str(int(n_bins)).encode())
    return h.hexdigest()[:32]


def _runs():
    """(id, thunk) for every recorded call."""
    for name, (sizes, cap, order) in _hist_cases().items():
        yield f"hist/{name}", (lambda s=sizes, c=cap, o=order: packing.pack(s, c, "hist", order=o))
    for name, (sizes, cap) in _budget_cases().items():
        for method in ("ffd", "bfd"):
            yield f"{method}/{name}", (lambda s=sizes, c=cap, m=method: packing.pack(s, c, m))
        if name.endswith("-50000"):
            order = _perm(50, sizes.shape[0])
            yield f"ffd-order/{name}", (lambda s=sizes, c=cap, o=order: packing.pack(s, c, "ffd", order=o))


DIGESTS = {
    'hist/uniform-500-cap2000': '5d4138c02468d1af305ba1d1a85b69cd',  # 25058 bins
    'hist/uniform-500-cap2000-int64': '5d4138c02468d1af305ba1d1a85b69cd',  # 25058 bins
    'hist/uniform-500-cap2000-order': '998644e99d609231aecfdda16e2d9ec2',  # 25058 bins
    'hist/uniform-500-cap501.5': '8c5bb2397a0ee64cc7172940ae60dd6d',  # 100089 bins
    'hist/uniform-500-sorted': '8ee1253ba1b1ee4d81e75409e442e193',  # 25058 bins
    'hist/uniform-500-reversed-order': '921c69443b47d56ae5dc6b2ef14a60b6',  # 25058 bins
    'hist/geometric-cap64': '470d0e8c7233bbae1125c663ca061887',  # 11020 bins
    'hist/geometric-cap7.5-order': '7bb7ac4169bbada353cebf10b8935374',  # 83114 bins
    'hist/lognormal-cap1000': '6bd73807f3f1ad66c9461f6b1a361368',  # 5898 bins
    'hist/lognormal-cap4096-order': '9e81bd9763c18a2fb074182ae2dc3c3f',  # 1440 bins
    'hist/big-cap100': '9cfaf09c9947881349a166a39eff6136',  # 35598 bins
    'hist/big-cap100-order': 'ee96cebb070bf655bd1b144a1017baaf',  # 35598 bins
    'hist/zeros-and-ones': '96a193ba151fbf11c3e416120d76e708',  # 1646 bins
    'hist/uniform-500-3e6': '30fb2a9a84c029b21a59ebb45e617855',  # 375770 bins
    'hist/uniform-500-3e6-order': '8ff89d65c911e809ba82973036fd21e1',  # 375770 bins
    'ffd/k2-correlated-10000': '436aafe7c5b1303a6da1ad3419369215',  # 69 bins
    'bfd/k2-correlated-10000': '5c8b756f2a3690ee756074f46308ac7c',  # 69 bins
    'ffd/k4-correlated-10000': 'cd5019fe677bcbd06759a1aa280b811f',  # 69 bins
    'bfd/k4-correlated-10000': 'fcccc70e7296fb71bb4e00c24cd76de9',  # 69 bins
    'ffd/k4-anti-10000': 'f502b48a0c03b5aae81407d6a7d939d5',  # 269 bins
    'bfd/k4-anti-10000': '92ecb67c2127c30b881f79317298a891',  # 269 bins
    'ffd/k2-anti-10000': '2d5740035b56daf02401c0b853322f42',  # 539 bins
    'bfd/k2-anti-10000': '2d5740035b56daf02401c0b853322f42',  # 539 bins
    'ffd/k2-integer-10000': 'f98f8c80c91d095b1c3293187ade84e4',  # 129 bins
    'bfd/k2-integer-10000': 'cef31ea5f55e0ede526673858f7d6d1e',  # 129 bins
    'ffd/k2-correlated-50000': '328aad0a5d4b51c3e3984bbd3e719758',  # 345 bins
    'bfd/k2-correlated-50000': '8acb80e5b88c218242967404e2dcd1dd',  # 345 bins
    'ffd-order/k2-correlated-50000': '328aad0a5d4b51c3e3984bbd3e719758',  # 345 bins
    'ffd/k4-correlated-50000': 'dc5a28fa3198be3930dd4b98bc5c4c9c',  # 345 bins
    'bfd/k4-correlated-50000': 'b920d4b9d325525b8f3b84f3430e3ed0',  # 345 bins
    'ffd-order/k4-correlated-50000': 'dc5a28fa3198be3930dd4b98bc5c4c9c',  # 345 bins
    'ffd/k4-anti-50000': 'fe932a726cb62ca8f7c2678799f02d5d',  # 1336 bins
    'bfd/k4-anti-50000': 'a57931a16338fb8dbae09f80475fba1e',  # 1335 bins
    'ffd-order/k4-anti-50000': 'fe932a726cb62ca8f7c2678799f02d5d',  # 1336 bins
    'ffd/k2-anti-50000': 'd3e2c528aafc9dfc700b676b757b8511',  # 2694 bins
    'bfd/k2-anti-50000': '1190aa702b88ae1b3aeda1dee0f815a1',  # 2694 bins
    'ffd-order/k2-anti-50000': 'd3e2c528aafc9dfc700b676b757b8511',  # 2694 bins
    'ffd/k2-integer-50000': 'b5e0683c89e619f682b4e61bd57583a2',  # 652 bins
    'bfd/k2-integer-50000': '8d4d52c8fd402eda4d90c6325db2ddeb',  # 652 bins
    'ffd-order/k2-integer-50000': '0cd8daa02ead0b51922e373019bc9e45',  # 651 bins
    'ffd/k2-correlated-200000': 'fd236b807f777f2b0301e1a8682211c3',  # 1380 bins
    'bfd/k2-correlated-200000': '759951ed755144042080656c021db503',  # 1380 bins
    'ffd/k4-correlated-200000': '2f33f010d6bb5bb7bcffe4dd49913a60',  # 1380 bins
    'bfd/k4-correlated-200000': '95addc16a21185d218c0c0644a709e9f',  # 1380 bins
    'ffd/k4-anti-200000': '2d758100662e30fe8f54c06b3f717d02',  # 5343 bins
    'bfd/k4-anti-200000': 'a2e78061b1b09ee59b3a99361413109a',  # 5349 bins
    'ffd/k2-anti-200000': 'c06498b493bdacfafa15fcad577680c6',  # 10767 bins
    'bfd/k2-anti-200000': '336884e001a522ca909739f1cd43b522',  # 10769 bins
    'ffd/k2-integer-200000': '7f0ba35841144f39939a5d02888e555b',  # 2667 bins
    'bfd/k2-integer-200000': '9c8c6441d44be353891163dba5f40a49',  # 2669 bins
}

RUNS = dict(_runs())


@pytest.mark.parametrize("name", sorted(RUNS))
def test_pack_gives_recorded_bins(name):
    bins, n_bins = RUNS[name]()
    assert _digest(bins, n_bins) == DIGESTS[name], f"{name}: bins differ from the recorded ones ({n_bins} bins)"


def test_every_run_is_recorded():
    assert set(RUNS) == set(DIGESTS)


if __name__ == "__main__":  # print the table of digests for the code as it is now
    for key, run in RUNS.items():
        b, nb = run()
        print(f"    {key!r}: {_digest(b, nb)!r},  # {nb} bins", file=sys.stdout)
