"""The balanced samplers' lower bound on the peak batch cost (stats()["lower_bound"]): it counts
the items each batch holds (n % B batches of q + 1 items, the others q), so an optimal split reports
peak_over_lower_bound == 1 (integer costs; others within a relative 1e-12), and it is never above the least peak of any split with the
cardinalities the sampler makes (checked against every split of small instances)."""
from __future__ import annotations

import numpy as np
import pytest

from hullpack.samplers import BalancedBatchSampler, BatchCost, DistributedBalancedBatchSampler

SHAPES = ["sum", "padded", "padded-quadratic", "quadratic", BatchCost(sum=1, count=2, const=10),
          BatchCost(padded=1, count=3, const=5)]


@pytest.mark.parametrize("n,batch_size", [(1000, 32), (1001, 32), (100, 7), (10007, 32), (33, 32)])
@pytest.mark.parametrize("value", [7.0, 7.5])
@pytest.mark.parametrize("batch_cost", SHAPES, ids=str)
def test_equal_sizes_with_a_remainder_are_at_the_bound(n, batch_size, value, batch_cost):
    # n % batch_size != 0: some batches hold one item more, and the peak is what they cost
    sampler = BalancedBatchSampler(np.full(n, value), batch_size, batch_cost=batch_cost, seed=3)
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        s = sampler.stats()
        assert s["batch_size_max"] > s["batch_size_min"]
        # integer costs: exact; others: the bound stays a relative 1e-12 below the exact sums
        ratio = s["peak_over_lower_bound"]
        assert ratio == 1.0 if value.is_integer() else 1.0 <= ratio <= 1.0 + 1e-11, s


@pytest.mark.parametrize("value", [5.0000001, 0.1, 1 / 3, 7.3])
def test_the_bound_never_exceeds_a_peak_summed_in_floating_point(value):
    # non-integer costs: the bound's sums and a batch's load round differently
    for n, batch_size in ((1000, 32), (1024, 32), (99, 10)):
        s = BalancedBatchSampler(np.full(n, value), batch_size, seed=0).stats()
        assert s["lower_bound"] <= s["peak_cost"], (n, batch_size, s)
        assert s["peak_over_lower_bound"] == pytest.approx(1.0, rel=1e-11)


@pytest.mark.parametrize("n,batch_size,replicas", [(1000, 32, 4), (1000, 5, 3), (9, 3, 4), (50, 8, 16)])
def test_equal_sizes_are_at_the_bound_under_ddp(n, batch_size, replicas):
    # (9, 3, 4) and (50, 8, 16): more batch slots than items, some batches hold fewer than n // B
    for batch_cost in SHAPES:
        s = DistributedBalancedBatchSampler(np.full(n, 7.0), batch_size, num_replicas=replicas, rank=0,
                                            batch_cost=batch_cost).stats()
        assert s["global_peak_over_lower_bound"] == 1.0, (batch_cost, s)


def test_weights_and_bias_are_at_the_bound():
    sizes = np.tile([[10.0, 20.0]], (1000, 1))
    s = BalancedBatchSampler(sizes, 32, weights=[1.0, 0.5], bias=3.0).stats()
    assert s["peak_cost"] == s["lower_bound"] == 32 * 23.0


def test_the_bound_has_risen_where_it_left_a_gap():
    # measured before the cardinalities were counted: 219 (mean 218.75, rounded up), 0.977 of 224
    s = BalancedBatchSampler(np.full(1000, 7), batch_size=32, seed=0).stats()
    assert (s["peak_cost"], s["lower_bound"]) == (224.0, 224.0)
    # padded, sizes 17..19: the batches of 32 items hold one of 19 (was 31 x 19 = 589)
    sizes = np.random.default_rng(10007).integers(17, 20, 10007).astype(float)
    s = BalancedBatchSampler(sizes, 32, batch_cost="padded").stats()
    assert s["peak_cost"] == s["lower_bound"] == 32 * 19


# ---------------------------------------------------------------------------------------------
# Never above the optimum: every split of small instances
# ---------------------------------------------------------------------------------------------

def least_peak(costs, counts, batch_cost):
    """The least peak, over every split of the items into batches of the given counts (a multiset),
    of batch_cost(the costs of a batch's items)."""
    n, want = len(costs), sorted(counts)
    best = [np.inf]
    blocks: list[list[int]] = []

    def place(i):
        if i == n:
            if sorted(map(len, blocks)) == want:
                best[0] = min(best[0], max(batch_cost(costs[b]) for b in blocks))
            return
        for b in blocks:  # an existing batch, then a new one: every split once
            if len(b) < want[-1]:
                b.append(i)
                place(i + 1)
                b.pop()
        if len(blocks) < len(want):
            blocks.append([i])
            place(i + 1)
            blocks.pop()

    place(0)
    return best[0]


def batch_cost_fn(batch_cost, weights=None, bias=0.0):
    if batch_cost == "sum":
        return lambda c: float(c.sum()) if weights is None else float((c * weights[0] + bias).sum())
    shape = batch_cost if isinstance(batch_cost, BatchCost) else BatchCost(**{
        "padded": {"padded": 1}, "padded-quadratic": {"padded_square": 1}, "quadratic": {"square": 1}}[batch_cost])
    return lambda c: shape(c)


def small_cases(count):
    rng = np.random.default_rng(42)
    for trial in range(count):
        n = int(rng.integers(2, 10))
        kind = trial % 4
        if kind == 0:
            costs = rng.integers(1, 20, n).astype(float)
        elif kind == 1:
            costs = np.round(rng.lognormal(1, 0.7, n), 3)
        elif kind == 2:
            costs = rng.integers(6, 9, n).astype(float)  # near-equal
        else:
            costs = np.where(rng.random(n) < 0.3, rng.integers(30, 60, n), rng.integers(1, 4, n)).astype(float)
        yield trial, rng, n, costs


def test_the_sampler_bound_is_at_most_the_optimum_on_small_instances():
    checked = 0
    for trial, rng, n, costs in small_cases(160):
        batch_size = int(rng.integers(1, n + 1))
        batch_cost = SHAPES[trial % len(SHAPES)]
        weighted = batch_cost == "sum" and trial % 3 == 0
        extra = {"weights": [1.5], "bias": 2.0} if weighted else {}
        drop_last = bool(trial % 5 == 0)
        sampler = BalancedBatchSampler(costs, batch_size, batch_cost=batch_cost, drop_last=drop_last,
                                       shuffle=bool(trial % 2), seed=trial, **extra)
        batches = list(sampler)
        fn = batch_cost_fn(batch_cost, extra.get("weights"), extra.get("bias", 0.0))
        kept = np.array([i for b in batches for i in b])
        counts = [len(b) for b in batches]
        # the optimum over splits of the items the sampler kept, with the counts it made
        opt = least_peak(costs[kept], counts, fn)
        s = sampler.stats()
        assert s["lower_bound"] <= opt * (1 + 1e-12), (trial, costs, batch_size, batch_cost, s, opt)
        assert s["peak_cost"] >= opt * (1 - 1e-12)
        checked += 1
    assert checked == 160


def test_the_distributed_bound_is_at_most_the_optimum_on_small_instances():
    for trial, rng, n, costs in small_cases(80):
        replicas = int(rng.integers(1, 4))
        batch_size = int(rng.integers(1, n + 1))
        batch_cost = SHAPES[trial % len(SHAPES)]
        drop_last = bool(trial % 5 == 0) and n >= replicas * batch_size
        ranks = [DistributedBalancedBatchSampler(costs, batch_size, num_replicas=replicas, rank=r,
                                                 batch_cost=batch_cost, drop_last=drop_last, seed=trial)
                 for r in range(replicas)]
        batches = [b for s in ranks for b in s]  # every batch of the epoch, on some rank
        kept = np.array([i for b in batches for i in b])  # items repeat where there are too few
        opt = least_peak(costs[kept], [len(b) for b in batches], batch_cost_fn(batch_cost))
        s = ranks[0].stats()
        assert s["lower_bound"] <= opt * (1 + 1e-12), (trial, costs, batch_size, replicas, batch_cost, s, opt)
        assert np.max(s["global_peak_cost"]) >= opt * (1 - 1e-12)
