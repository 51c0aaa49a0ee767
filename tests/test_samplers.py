"""hullpack.samplers: the batch samplers, their cost models and their behaviour with DataLoaders."""
import importlib.util
import json
import os
import re
import warnings
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hullpack.errors import DistributedConfigError, InvalidSizesError, OversizeItemError
from hullpack.samplers import (
    BalancedBatchSampler,
    BatchCost,
    DistributedBalancedBatchSampler,
    LinearCost,
    MemoryModel,
    PackedBatchSampler,
    graph_sizes,
)

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def lognormal(n, sigma=1.0, seed=0, k=None):
    shape = n if k is None else (n, k)
    return np.random.default_rng(seed).lognormal(3.0, sigma, shape).round() + 1


def flat(batches):
    return sorted(i for b in batches for i in b)


# ------------------------------------------------------------------------------------------------
# strategies
# ------------------------------------------------------------------------------------------------

sizes_1d = st.lists(st.integers(0, 60), min_size=1, max_size=150).map(lambda v: np.array(v, dtype=float))
sizes_float = st.lists(st.floats(0.0, 100.0, allow_nan=False, allow_infinity=False), min_size=1,
                       max_size=150).map(np.array)
seeds = st.integers(0, 2**31)
epochs = st.integers(0, 50)


# ------------------------------------------------------------------------------------------------
# PackedBatchSampler
# ------------------------------------------------------------------------------------------------

@FAST
@given(sizes=st.one_of(sizes_1d, sizes_float), slack=st.floats(1.0, 4.0), seed=seeds, epoch=epochs,
       shuffle=st.booleans(), method=st.sampled_from(["ffd", "bfd"]))
def test_packed_every_index_once_and_within_budget(sizes, slack, seed, epoch, shuffle, method):
    max_cost = max(float(sizes.max()), 1.0) * slack
    s = PackedBatchSampler(sizes, max_cost, seed=seed, shuffle=shuffle, method=method)
    s.set_epoch(epoch)
    n_expected = len(s)
    batches = list(s)
    assert len(batches) == n_expected
    assert all(len(b) > 0 for b in batches)
    assert flat(batches) == list(range(sizes.size))
    assert max(sizes[b].sum() for b in batches) <= max_cost * (1 + 1e-12)
    st_ = s.stats()
    assert st_["num_batches"] >= st_["lower_bound"] - 1e-9


@FAST
@given(rows=st.lists(st.tuples(st.integers(1, 49), st.integers(0, 199)), min_size=1, max_size=120),
       seed=seeds, epoch=epochs)
def test_packed_multi_column_budgets(rows, seed, epoch):
    sizes = np.array(rows, dtype=float)
    n = sizes.shape[0]
    budget = np.array([120.0, 400.0])
    s = PackedBatchSampler(sizes, budget, seed=seed)
    s.set_epoch(epoch)
    batches = list(s)
    assert len(batches) == len(s)
    assert flat(batches) == list(range(n))
    for b in batches:
        assert np.all(sizes[b].sum(axis=0) <= budget)


def test_packed_quality_and_cost_model():
    sizes = lognormal(5000, k=2)
    cost = LinearCost([1.0, 0.25], bias=3.0)
    s = PackedBatchSampler(sizes, max_cost=4000, cost=cost, seed=1)
    batches = list(s)
    per_item = sizes @ [1.0, 0.25] + 3.0
    assert max(per_item[b].sum() for b in batches) <= 4000
    st_ = s.stats()
    assert st_["num_batches"] <= 1.03 * st_["lower_bound"]  # near-optimal count
    # weights=/bias= is the same model
    s2 = PackedBatchSampler(sizes, max_cost=4000, weights=[1.0, 0.25], bias=3.0, seed=1)
    assert list(s2) == batches


def test_packed_two_columns_scalar_budget_sums_columns():
    sizes = np.array([[3.0, 4.0], [1.0, 1.0], [5.0, 0.0]])
    batches = list(PackedBatchSampler(sizes, max_cost=7, shuffle=False))
    assert max(sizes[b].sum() for b in batches) <= 7
    assert flat(batches) == [0, 1, 2]


@pytest.mark.parametrize("method", ["ffd", "bfd"])
def test_packed_without_shuffle_is_fixed_and_heaviest_first(method):
    sizes = lognormal(500)
    s = PackedBatchSampler(sizes, max_cost=1500, shuffle=False, method=method)
    e0 = list(s)
    s.set_epoch(3)
    assert list(s) == e0
    costs = [sizes[b].sum() for b in e0]
    assert costs == sorted(costs, reverse=True)


def test_packed_oversize_policies():
    sizes = np.array([5.0, 50.0, 3.0, 70.0, 2.0])
    with pytest.raises(OversizeItemError, match=r"^2 item\(s\) cost more than max_cost=10.0 \(first: item 1, cost 50.0\): "
                       r"no batch can hold them. Raise max_cost, or pass oversize='alone' .* or oversize='skip'") as err:
        PackedBatchSampler(sizes, max_cost=10)
    assert err.value.items.tolist() == [1, 3] and err.value.max_cost == 10.0
    with pytest.warns(UserWarning, match="2 item.*own"):
        alone = PackedBatchSampler(sizes, max_cost=10, oversize="alone", seed=0)
    batches = list(alone)
    assert flat(batches) == [0, 1, 2, 3, 4]
    assert [1] in batches and [3] in batches
    assert alone.stats()["oversize_alone"] == 2
    with pytest.warns(UserWarning, match="left out"):
        skip = PackedBatchSampler(sizes, max_cost=10, oversize="skip", seed=0)
    assert flat(skip) == [0, 2, 4]
    assert skip.stats()["oversize_skipped"] == 2
    with pytest.warns(UserWarning), pytest.raises(OversizeItemError, match="nothing to batch"):
        PackedBatchSampler([11.0, 12.0], max_cost=10, oversize="skip")
    with pytest.raises(ValueError, match="oversize="):
        PackedBatchSampler(sizes, max_cost=100, oversize="clip")


def test_packed_drop_last_drops_only_underfilled_remainder():
    sizes = np.array([6.0] * 10 + [1.0])  # 11 items, budget 12: five full batches + a 1-cost remainder
    s = PackedBatchSampler(sizes, max_cost=12, drop_last=True, shuffle=False)
    batches = list(s)
    assert len(batches) == len(s) == 5
    assert all(sizes[b].sum() >= 6 for b in batches)
    assert s.stats()["dropped_items"] == 1
    assert len(PackedBatchSampler(sizes, max_cost=12, shuffle=False)) == 6


@pytest.mark.parametrize("max_cost, batch_cost, alone", [
    (4000.0, "sum", False), ([4000.0, 12000.0], "sum", False), (8192.0, "padded", False), (4000.0, "sum", True)],
    ids=["one-budget", "two-budgets", "padded", "oversize-alone"])
def test_packed_drop_last_leaves_out_random_items_not_the_smallest(max_cost, batch_cost, alone):
    # First/best fit and sorted runs pack the smallest items last: dropping the lightest batch left
    # out the same smallest items every epoch (about 12% of a lognormal set). Shuffled epochs leave
    # out random items of about the dropped batch's cost instead; the kept batches stay within budget
    # (oversize items alone in their batch, over it by definition, did not stop that).
    rng = np.random.default_rng(0)
    nodes = np.clip(rng.lognormal(3.0, 1.0, 3000).round() + 1, 1, 390)
    if alone:
        nodes[[5, 50, 500]] = 5000.0
    sizes = nodes if np.ndim(max_cost) == 0 else np.column_stack([nodes, (nodes * rng.uniform(1, 4, 3000)).round()])
    cost = BatchCost(padded=1) if batch_cost == "padded" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the oversize items' warning
        s = PackedBatchSampler(sizes, max_cost=max_cost, batch_cost=batch_cost, drop_last=True, seed=0,
                               oversize="alone" if alone else "error")
    times_left_out = np.zeros(nodes.size, int)
    for epoch in range(10):
        s.set_epoch(epoch)
        batches = list(s)
        assert len(batches) == len(s)
        for b in batches:
            total = cost(np.sort(sizes[b])[::-1]) if cost else sizes[b].sum(axis=0)
            assert np.all(np.atleast_1d(total) <= np.asarray(max_cost)) or (alone and b == [b[0]] and nodes[b[0]] > 4000)
        kept = np.concatenate(batches)
        assert np.unique(kept).size == kept.size
        out = np.setdiff1d(np.arange(nodes.size), kept)
        assert out.size == s.stats()["dropped_items"] and 0 < out.size < 150
        times_left_out[out] += 1
    assert times_left_out.max() <= 3  # no item left out epoch after epoch
    assert np.median(nodes[times_left_out > 0]) >= 0.7 * np.median(nodes)  # not a size filter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unshuffled = PackedBatchSampler(sizes, max_cost=max_cost, batch_cost=batch_cost, drop_last=True, shuffle=False,
                                        oversize="alone" if alone else "error")
    assert unshuffled.stats()["dropped_items"] > 50  # the lightest batch's smallest items, as documented


# ------------------------------------------------------------------------------------------------
# BalancedBatchSampler
# ------------------------------------------------------------------------------------------------

@FAST
@given(sizes=st.one_of(sizes_1d, sizes_float), bs=st.integers(1, 40), seed=seeds, epoch=epochs,
       shuffle=st.booleans())
def test_balanced_every_index_once_with_random_batching_count(sizes, bs, seed, epoch, shuffle):
    n = sizes.size
    bs = min(bs, n)
    s = BalancedBatchSampler(sizes, bs, seed=seed, shuffle=shuffle)
    s.set_epoch(epoch)
    B = -(-n // bs)
    assert len(s) == B
    batches = list(s)
    assert len(batches) == B
    assert flat(batches) == list(range(n))
    counts = [len(b) for b in batches]
    assert max(counts) <= bs and max(counts) - min(counts) <= 1
    st_ = s.stats()
    assert st_["peak_cost"] >= st_["lower_bound"] * (1 - 1e-9)


@FAST
@given(sizes=sizes_float, bs=st.integers(1, 40), seed=seeds, epoch=epochs, shuffle=st.booleans())
def test_balanced_drop_last_exact_batch_size(sizes, bs, seed, epoch, shuffle):
    n = sizes.size
    bs = min(bs, n)
    s = BalancedBatchSampler(sizes, bs, seed=seed, shuffle=shuffle, drop_last=True)
    s.set_epoch(epoch)
    batches = list(s)
    assert len(batches) == len(s) == n // bs
    assert all(len(b) == bs for b in batches)
    seen = flat(batches)
    assert len(set(seen)) == len(seen) == (n // bs) * bs
    if not shuffle:
        assert seen == list(range((n // bs) * bs))  # like DataLoader: the last items sit out


def test_balanced_beats_random_batching_on_heavy_tails():
    sizes = lognormal(4096, sigma=1.0, seed=3)
    for bs in (8, 32):
        s = BalancedBatchSampler(sizes, bs, seed=0)
        st_ = s.stats()
        assert st_["peak_cost"] <= 1.05 * st_["lower_bound"]
        random_peak = max(sizes[np.random.default_rng(0).permutation(4096)].reshape(-1, bs).sum(1))
        assert st_["peak_cost"] < 0.8 * random_peak


def test_balanced_drop_last_drops_different_items_each_epoch():
    sizes = lognormal(103)
    s = BalancedBatchSampler(sizes, 10, drop_last=True, seed=0)
    left_out = []
    for e in range(4):
        s.set_epoch(e)
        left_out.append(set(range(103)) - set(flat(s)))
        assert len(left_out[-1]) == 3
    assert len(set(map(frozenset, left_out))) > 1


# ------------------------------------------------------------------------------------------------
# DistributedBalancedBatchSampler (without processes: every rank built here)
# ------------------------------------------------------------------------------------------------

def ranks(sizes, R, **kw):
    return [DistributedBalancedBatchSampler(sizes, num_replicas=R, rank=r, **kw) for r in range(R)]


@FAST
@given(sizes=st.one_of(sizes_1d, sizes_float), R=st.integers(1, 5), bs=st.integers(1, 16), seed=seeds,
       epoch=epochs, shuffle=st.booleans())
def test_distributed_balanced_equal_lengths_and_each_index_once(sizes, R, bs, seed, epoch, shuffle):
    n = sizes.size
    bs = min(bs, n)
    samplers = ranks(sizes, R, batch_size=bs, seed=seed, shuffle=shuffle)
    for s in samplers:
        s.set_epoch(epoch)
    per_rank = [list(s) for s in samplers]
    steps = -(-n // (R * bs))
    assert [len(b) for b in per_rank] == [len(s) for s in samplers] == [steps] * R
    assert all(0 < len(b) <= bs for batches in per_rank for b in batches)
    seen = flat(sum(per_rank, []))
    padded = samplers[0].stats()["padded_items"]
    assert padded == max(0, steps * R - n) and padded < R
    assert sorted(set(seen)) == list(range(n)) and len(seen) == n + padded


@FAST
@given(sizes=sizes_float, R=st.integers(1, 4), bs=st.integers(1, 16), seed=seeds, epoch=epochs)
def test_distributed_balanced_drop_last(sizes, R, bs, seed, epoch):
    n = sizes.size
    if n < R * bs:
        with pytest.raises(InvalidSizesError, match="drop_last"):
            DistributedBalancedBatchSampler(sizes, bs, num_replicas=R, rank=0, drop_last=True)
        return
    samplers = ranks(sizes, R, batch_size=bs, seed=seed, drop_last=True)
    for s in samplers:
        s.set_epoch(epoch)
    per_rank = [list(s) for s in samplers]
    steps = n // (R * bs)
    assert [len(b) for b in per_rank] == [steps] * R
    assert all(len(b) == bs for batches in per_rank for b in batches)
    seen = flat(sum(per_rank, []))
    assert len(set(seen)) == len(seen) == steps * R * bs


@FAST
@given(sizes=st.one_of(sizes_1d, sizes_float), R=st.integers(1, 5), slack=st.floats(1.0, 3.0), seed=seeds,
       epoch=epochs, drop_last=st.booleans())
def test_distributed_packed_equal_lengths_within_budget(sizes, R, slack, seed, epoch, drop_last):
    max_cost = max(float(sizes.max()), 1.0) * slack
    try:
        samplers = ranks(sizes, R, max_cost=max_cost, seed=seed, drop_last=drop_last)
        for s in samplers:
            s.set_epoch(epoch)
        per_rank = [list(s) for s in samplers]
    except InvalidSizesError as exc:  # drop_last with fewer batches than ranks
        assert drop_last and "drop_last" in str(exc)
        return
    lengths = [len(b) for b in per_rank]
    assert lengths == [len(s) for s in samplers] and len(set(lengths)) == 1 and lengths[0] >= 1
    assert all(len(b) > 0 for batches in per_rank for b in batches)
    assert all(sizes[b].sum() <= max_cost * (1 + 1e-12) for batches in per_rank for b in batches)
    seen = flat(sum(per_rank, []))
    info = samplers[0].stats()
    if drop_last:
        assert len(set(seen)) == len(seen) == sizes.size - info["dropped_items"]
    else:
        assert sorted(set(seen)) == list(range(sizes.size))
        assert len(seen) == sizes.size + info["padded_items"]


def test_distributed_steps_have_near_equal_cost():
    sizes = lognormal(20000, sigma=1.0, seed=5)
    samplers = ranks(sizes, 4, batch_size=32, seed=0)
    costs = np.array([[sizes[b].sum() for b in s] for s in samplers])  # (ranks, steps)
    spread = (costs.max(0) - costs.min(0)) / costs.max(0)
    assert spread.max() < 0.02
    assert samplers[0].stats()["step_cost_spread"] == pytest.approx(spread.mean(), rel=1e-6, abs=1e-9)
    # packed mode: ranks' batches in one step are alike too
    samplers = ranks(sizes, 4, max_cost=5000.0, seed=0)
    costs = np.array([[sizes[b].sum() for b in s] for s in samplers])
    assert np.median((costs.max(0) - costs.min(0)) / costs.max(0)) < 0.02


def step_costs(samplers, sizes):
    """(steps, ranks) costs of the batches each rank runs at each step."""
    return np.array([[sizes[b].sum() for b in s] for s in samplers]).T


def heavy_tail_ranks(**kw):
    # continuous heavy-tailed sizes (no ties), 2 items per batch, 4 ranks: 100 steps whose batch
    # costs span three orders of magnitude, so only grouping by cost makes a step's batches alike
    sizes = np.random.default_rng(11).lognormal(3.0, 1.2, 800)
    return sizes, ranks(sizes, 4, batch_size=2, seed=0, **kw)


def test_distributed_step_groups_batches_of_like_cost():
    sizes, samplers = heavy_tail_ranks()
    costs = step_costs(samplers, sizes)
    assert costs.shape == (100, 4)
    spread = (costs.max(1) - costs.min(1)) / costs.max(1)
    # grouping consecutive batches of the cost order: 0.023 (median 0.007); every S-th: 0.68
    assert spread.mean() < 0.05 and np.median(spread) < 0.02
    assert samplers[0].stats()["step_cost_spread"] == pytest.approx(spread.mean(), rel=1e-9)


def test_distributed_deals_each_step_to_ranks_at_random():
    sizes, samplers = heavy_tail_ranks()
    costs = step_costs(samplers, sizes)
    heaviest = np.bincount(costs.argmax(1), minlength=4)  # how often each rank runs the step's heaviest
    # ~25 each; dealt in cost order instead, rank 0 would always wait for no one (100, 0, 0, 0)
    assert heaviest.sum() == 100 and heaviest.max() <= 45 and heaviest.min() >= 8


def test_distributed_shuffles_steps():
    sizes, samplers = heavy_tail_ranks()
    peak = step_costs(samplers, sizes).max(1)
    rho = np.corrcoef(np.argsort(np.argsort(peak)), np.arange(peak.size))[0, 1]  # Spearman
    assert abs(rho) < 0.3  # not heaviest first (-1) nor lightest first (+1)
    for s in samplers:
        s.set_epoch(1)
    assert not np.array_equal(step_costs(samplers, sizes).max(1), peak)  # another order next epoch
    _, fixed = heavy_tail_ranks(shuffle=False)
    peak = step_costs(fixed, sizes).max(1)
    assert np.all(np.diff(peak) <= 0)  # without shuffle: heaviest step first


def test_distributed_packed_splits_batches_into_two_non_empty_halves():
    # 10 unit items pack into 2 batches of 5 at budget 5 (no shuffle: no rounding up of costs);
    # 3 ranks need a third batch: the batch with the most items is split in two
    samplers = ranks(np.ones(10), 3, max_cost=5.0, shuffle=False)
    per_rank = [list(s) for s in samplers]
    assert [len(b) for b in per_rank] == [1, 1, 1]
    assert sorted(len(b[0]) for b in per_rank) == [2, 3, 5]
    assert flat(sum(per_rank, [])) == list(range(10))
    info = samplers[0].stats()
    assert info["split_batches"] == 1 and info["padded_items"] == 0
    # with shuffle (costs rounded up before packing), over several epochs
    sizes = np.random.default_rng(2).lognormal(3.0, 1.0, 60)
    samplers = ranks(sizes, 4, max_cost=float(sizes.sum()) / 5, seed=3)
    splits = 0
    for epoch in range(6):
        for s in samplers:
            s.set_epoch(epoch)
        per_rank = [list(s) for s in samplers]
        assert all(len(b) > 0 for batches in per_rank for b in batches)
        assert flat(sum(per_rank, [])) == list(range(60))
        splits += samplers[0].stats()["split_batches"]
    assert splits > 0  # the split really ran


def test_distributed_packed_zero_cost_items_are_shared_by_the_halves():
    # four zero-cost items pack into one batch; two ranks need two: neither half may be empty
    per_rank = [list(s) for s in ranks(np.zeros(4), 2, max_cost=1.0)]
    assert [len(b) for b in per_rank] == [1, 1]
    assert sorted(len(b[0]) for b in per_rank) == [2, 2]
    assert flat(sum(per_rank, [])) == [0, 1, 2, 3]


def test_distributed_packed_too_few_items_repeat_instead_of_splitting():
    # 2 single-item batches, 3 ranks: nothing to split, one index repeats
    samplers = ranks(np.ones(2), 3, max_cost=1.0, seed=0)
    seen = flat(sum((list(s) for s in samplers), []))
    assert sorted(set(seen)) == [0, 1] and len(seen) == 3
    assert samplers[0].stats()["padded_items"] == 1


@pytest.mark.parametrize("shuffle", [True, False])
def test_distributed_packed_drop_last_splits_a_packing_too_small_for_the_ranks(shuffle):
    # two items that fit one batch (1.5 x the largest item), 2 ranks: every epoch splits the batch,
    # one item per rank, none dropped or repeated (drop_last refused this setting before)
    sizes = np.array([1.0, 0.4])
    for seed in range(4):
        samplers = ranks(sizes, 2, max_cost=1.5, seed=seed, shuffle=shuffle, drop_last=True)
        for epoch in range(3):
            for s in samplers:
                s.set_epoch(epoch)
            assert sorted(map(len, (list(s) for s in samplers))) == [1, 1]
            assert sorted(flat(sum((list(s) for s in samplers), []))) == [0, 1]
            info = samplers[0].stats()
            assert (info["global_batches"], info["split_batches"], info["dropped_items"], info["padded_items"]) == (
                2, 1, 0, 0)
    # fewer items than ranks: some rank would have no batch, refused before any epoch, naming the way out
    for seed in range(4):
        with pytest.raises(InvalidSizesError, match=r"drop_last=True with 2 item\(s\) on 3 replicas.*"
                                                    r"drop_last=False \(1 item\(s\) repeated.*at most 2 replicas"):
            DistributedBalancedBatchSampler(sizes, max_cost=1.5, num_replicas=3, rank=0, seed=seed,
                                            shuffle=shuffle, drop_last=True)
    # enough items for one step in every epoch: every epoch has one
    sizes = np.random.default_rng(0).lognormal(0.0, 1.0, 40)
    for seed in range(3):
        samplers = ranks(sizes, 2, max_cost=1.5 * float(sizes.max()), seed=seed, drop_last=True, shuffle=shuffle)
        for epoch in range(4):
            for s in samplers:
                s.set_epoch(epoch)
            assert len(samplers[0]) == len(samplers[1]) == len(list(samplers[1])) >= 1


def test_distributed_mode_inference_and_errors():
    sizes = lognormal(100)
    assert DistributedBalancedBatchSampler(sizes, max_cost=500, num_replicas=2, rank=0).mode == "packed"
    assert DistributedBalancedBatchSampler(sizes, 8, num_replicas=2, rank=0).mode == "balanced"
    with pytest.raises(DistributedConfigError, match="rank = 2 must be < num_replicas = 2"):
        DistributedBalancedBatchSampler(sizes, 8, num_replicas=2, rank=2)
    with pytest.raises(DistributedConfigError, match="rank"):
        DistributedBalancedBatchSampler(sizes, 8, num_replicas=2, rank=-1)
    with pytest.raises(DistributedConfigError, match="num_replicas"):
        DistributedBalancedBatchSampler(sizes, 8, num_replicas=0, rank=0)
    with pytest.raises(DistributedConfigError, match="num_replicas = 1099511627776: more than 1,048,576 ranks"):
        DistributedBalancedBatchSampler(sizes, 8, num_replicas=2**40, rank=0)  # was a MemoryError
    with pytest.raises(DistributedConfigError, match="init_process_group"):
        DistributedBalancedBatchSampler(sizes, 8)
    with pytest.raises(ValueError, match="needs batch_size"):
        DistributedBalancedBatchSampler(sizes, num_replicas=2, rank=0)
    with pytest.raises(ValueError, match="mode="):
        DistributedBalancedBatchSampler(sizes, 8, num_replicas=2, rank=0, mode="greedy")
    with pytest.raises(InvalidSizesError, match="drop_last=True with 100 items"):
        DistributedBalancedBatchSampler(sizes, 101, num_replicas=2, rank=0, drop_last=True)


class PeerStore:
    """The key-value store of a group of 2 processes as rank 1 sees it: rank 0 answers each summary
    rank 1 writes with ``answer(summary)`` at once (None: it never answers)."""

    def __init__(self):
        import torch.distributed as dist

        self.store = dist.HashStore()
        self.answer = lambda summary: summary  # both ranks built the same sampler
        self.sent = []

    def __getattr__(self, name):
        return getattr(self.store, name)

    def set(self, key, value):
        self.store.set(key, value)
        head, _, rank = key.rpartition("/")
        if rank == "1":
            self.sent.append(json.loads(value))
            answer = self.answer(self.sent[-1])
            if answer is not None:
                self.store.set(f"{head}/0", json.dumps(answer))


@pytest.fixture
def two_process_group(monkeypatch):
    """torch.distributed as seen inside an initialised group of 2 processes (no processes needed),
    with rank 0 answering through the group's store (a :class:`PeerStore`, returned)."""
    import torch.distributed as dist

    monkeypatch.setattr(dist, "is_available", lambda: True)
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda group=None: 2)
    monkeypatch.setattr(dist, "get_rank", lambda group=None: 1)
    store = PeerStore()
    monkeypatch.setattr(dist.distributed_c10d, "_get_default_store", lambda: store)
    return store


@pytest.mark.parametrize("make,hint", [
    (lambda s, **kw: BalancedBatchSampler(s, 8, **kw), r"DistributedBalancedBatchSampler\(sizes, batch_size=8\)"),
    (lambda s, **kw: PackedBatchSampler(s, 500.0, **kw), r"DistributedBalancedBatchSampler\(sizes, max_cost=500.0\)"),
])
def test_plain_samplers_in_a_process_group(two_process_group, make, hint):
    sizes = lognormal(100)
    s = make(sizes)
    assert len(s) > 0 and s.stats()["num_items"] == 100  # planning is fine, handing out batches is not
    with pytest.raises(DistributedConfigError, match=r"^\w+BatchSampler gives all 2 processes of this "
                       r"torch.distributed group the same batches; use " + hint) as err:
        next(iter(s))
    assert "\n" not in str(err.value)
    # the one-process fix is named with arguments the class takes
    assert re.search(hint[:-2] + r", num_replicas=1, rank=0\) where a process should see every batch", str(err.value))
    # given the rank's DistributedSampler (as PyTorch Lightning passes it): that rank's share
    dist_sampler = torch.utils.data.DistributedSampler(range(100), num_replicas=2, rank=1)
    share = make(sizes, sampler=dist_sampler)
    mode = {"batch_size": 8} if isinstance(s, BalancedBatchSampler) else {"max_cost": 500.0}
    assert list(share) == list(DistributedBalancedBatchSampler(sizes, num_replicas=2, rank=1, **mode))
    # the distributed sampler reads its world from the group
    d = DistributedBalancedBatchSampler(sizes, **mode)
    assert (d.num_replicas, d.rank) == (2, 1) and len(list(d)) == len(d)


def test_sampler_argument_is_checked():
    sizes = lognormal(50)
    with pytest.raises(DistributedConfigError, match="sampler: expected a DistributedSampler"):
        BalancedBatchSampler(sizes, 5, sampler=torch.utils.data.RandomSampler(sizes))
    # a SequentialSampler, the DataLoader's own that Lightning passes back to predict on one device:
    # one process
    for sequential in (torch.utils.data.SequentialSampler(sizes), torch.utils.data.SequentialSampler(range(3))):
        assert list(BalancedBatchSampler(sizes, 5, sampler=sequential)) == list(BalancedBatchSampler(sizes, 5))
        cap = 2 * float(sizes.max())
        assert list(PackedBatchSampler(sizes, cap, sampler=sequential)) == list(PackedBatchSampler(sizes, cap))
        ranked = DistributedBalancedBatchSampler(sizes, 5, num_replicas=2, rank=1, sampler=sequential)
        assert list(ranked) == list(DistributedBalancedBatchSampler(sizes, 5, num_replicas=2, rank=1))
    with pytest.raises(DistributedConfigError, match="disagree with sampler="):
        DistributedBalancedBatchSampler(sizes, 5, num_replicas=3, rank=0,
                                        sampler=torch.utils.data.DistributedSampler(sizes, num_replicas=2, rank=0))
    # a trainer that re-creates a batch sampler around its own sampler without the sizes
    with pytest.raises(DistributedConfigError, match="sizes: got a DistributedSampler, not sizes"):
        BalancedBatchSampler(torch.utils.data.DistributedSampler(sizes, num_replicas=2, rank=0), 5)
    # one replica: the single-process batches
    one = torch.utils.data.DistributedSampler(sizes, num_replicas=1, rank=0)
    assert list(BalancedBatchSampler(sizes, 5, sampler=one)) == list(BalancedBatchSampler(sizes, 5))


def test_a_sampler_iterated_in_a_dataloader_worker_runs_no_collective(two_process_group):
    """A worker process inherits the group's state, not the right to use it: a sampler iterated
    inside an IterableDataset compares nothing there."""
    def answer(summary):
        raise RuntimeError("a check ran in a DataLoader worker")

    two_process_group.answer = answer
    sizes = lognormal(100)

    class Batches(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(DistributedBalancedBatchSampler(sizes, 8, seed=3))

    loader = torch.utils.data.DataLoader(Batches(), batch_size=None, num_workers=1, multiprocessing_context="fork")
    expect = DistributedBalancedBatchSampler(sizes, 8, seed=3, num_replicas=2, rank=1, check_ranks=False)
    assert [[int(i) for i in b] for b in loader] == list(expect)


@pytest.mark.parametrize("other, says", [
    (dict(seed=4), r"rank 1: seed 3, rank 0 seed 4"),
    (dict(epoch=2), r"rank 1: epoch 0, rank 0 epoch 2 \(call set_epoch on every rank\)"),
    (dict(settings="0"), r"rank 1: other settings"),
    (dict(items=99), r"rank 1: 100 items, rank 0 99"),
])
def test_ranks_that_would_plan_from_other_inputs_are_named(two_process_group, other, says):
    """The summaries every rank sends are compared once, at the first batch of the sampler built for
    this process's rank; a sampler built for another rank (or one process) sends none."""
    two_process_group.answer = lambda summary: {**summary, **other}  # rank 0 built its sampler otherwise
    calls = two_process_group.sent
    sizes = lognormal(100)
    for sampler in (DistributedBalancedBatchSampler(sizes, 8, seed=3, num_replicas=2, rank=0),
                    DistributedBalancedBatchSampler(sizes, 8, seed=3, num_replicas=3, rank=1),
                    DistributedBalancedBatchSampler(sizes, 8, seed=3, check_ranks=False)):
        assert len(list(sampler)) == len(sampler) > 0
    assert calls == []
    mine = DistributedBalancedBatchSampler(sizes, 8, seed=3)  # rank 1 of 2, from the group
    with pytest.raises(DistributedConfigError, match=r"^DistributedBalancedBatchSampler: the ranks of this "
                       r"torch.distributed group built their samplers from different inputs \(" + says):
        next(iter(mine))
    assert len(calls) == 1 and calls[0]["items"] == 100 and calls[0]["seed"] == 3
    next(iter(mine))  # compared once: the next iterations run
    assert len(calls) == 1
    with pytest.raises(ValueError, match="check_ranks: expected True or False"):
        BalancedBatchSampler(sizes, 8, check_ranks="no")


def test_a_rank_that_does_not_answer_is_named_after_the_groups_timeout(two_process_group):
    """Rank 0 never takes a first batch (it runs another loop, or never iterates this sampler): rank 1
    waits as long as the group's timeout, then raises naming rank 0 and check_ranks=False."""
    import datetime

    two_process_group.answer = lambda summary: None
    two_process_group.store.set_timeout(datetime.timedelta(milliseconds=300))
    sizes = lognormal(100)
    for make in (lambda: DistributedBalancedBatchSampler(sizes, 8, seed=3),
                 lambda: PackedBatchSampler(sizes, 500.0, sampler=torch.utils.data.DistributedSampler(range(100)))):
        with pytest.raises(DistributedConfigError, match=r"^\w+BatchSampler: rank 0 of this torch.distributed group "
                           r"did not take a first batch from this sampler within the group's timeout \(0:00:00.3"
                           r"00000\).*build it with check_ranks=False"):
            next(iter(make()))
    assert len(two_process_group.sent) == 2


def test_a_rank_that_comes_after_the_others_gave_up_raises(two_process_group):
    """Rank 0 stopped waiting for rank 1 at their first check (it marked the turn given up): rank 1,
    coming later, raises instead of going on alone, and sends nothing."""
    two_process_group.add("hullpack/check_ranks/1/arrived", 1 + 3)  # rank 0 arrived, then gave up
    with pytest.raises(DistributedConfigError, match=r"^DistributedBalancedBatchSampler: the other ranks of this "
                       r"torch.distributed group stopped waiting for rank 1 .*check_ranks=False"):
        next(iter(DistributedBalancedBatchSampler(lognormal(100), 8, seed=3)))
    assert two_process_group.sent == []


def test_a_group_without_a_store_compares_through_one_collective(two_process_group, monkeypatch):
    """The MPI backend's group has no store: the summaries are gathered with all_gather_object."""
    import torch.distributed as dist

    gathered = []

    def all_gather_object(out, obj, group=None):
        gathered.append(obj)
        out[:] = [{**obj, "seed": 4}, obj]  # rank 0 built its sampler with another seed

    monkeypatch.setattr(dist.distributed_c10d, "_get_default_store", lambda: None)
    monkeypatch.setattr(dist, "all_gather_object", all_gather_object)
    with pytest.raises(DistributedConfigError, match=r"rank 1: seed 3, rank 0 seed 4"):
        next(iter(DistributedBalancedBatchSampler(lognormal(100), 8, seed=3)))
    assert len(gathered) == 1 and two_process_group.sent == []


def test_samplers_survive_pickling_as_spawned_processes_need():
    import pickle

    sizes = lognormal(300)
    share = torch.utils.data.DistributedSampler(range(300), num_replicas=3, rank=2)
    kinds = {**all_kinds(sizes), "rank share": PackedBatchSampler(sizes, 600.0, seed=0, sampler=share)}
    for name, s in kinds.items():
        s.set_epoch(2)
        it = iter(s)
        head = [next(it) for _ in range(2)]
        copy = pickle.loads(pickle.dumps(s))
        assert copy.state_dict() == s.state_dict() and copy.state_dict()["batches_done"] == 2, name
        assert list(copy) == list(s) and head == list(s)[:2], name


def test_batch_sampler_sampler_moves_the_epoch():
    for s in all_kinds(lognormal(300)).values():
        first = list(s)
        s.sampler.set_epoch(1)  # what trainers call
        assert s.epoch == 1 and list(s) != first
        assert list(s.sampler) == [i for b in s for i in b] and len(s.sampler) == len(list(s.sampler))


# ------------------------------------------------------------------------------------------------
# epochs, seeds, processes, resume
# ------------------------------------------------------------------------------------------------

def all_kinds(sizes, seed=0):
    return {
        "packed": PackedBatchSampler(sizes, 600.0, seed=seed),
        "balanced": BalancedBatchSampler(sizes, 16, seed=seed),
        "dist_balanced": DistributedBalancedBatchSampler(sizes, 16, num_replicas=3, rank=1, seed=seed),
        "dist_packed": DistributedBalancedBatchSampler(sizes, max_cost=600.0, num_replicas=3, rank=2, seed=seed),
    }


@pytest.mark.parametrize("kind", ["packed", "balanced", "dist_balanced", "dist_packed"])
def test_epochs_differ_and_stay_balanced(kind):
    sizes = np.random.default_rng(0).lognormal(3, 0.7, 2000)  # continuous: no exact ties at all
    s = all_kinds(sizes)[kind]
    epochs = []
    for e in range(3):
        s.set_epoch(e)
        epochs.append(list(s))
        st_ = s.stats()
        if kind.endswith("balanced"):
            assert st_["peak_cost"] <= 1.03 * st_["lower_bound"]
        else:
            assert st_["peak_cost"] <= 600.0
    # different batches, not merely another order of the same batches
    as_sets = [set(map(frozenset, b)) for b in epochs]
    assert len(as_sets[0] & as_sets[1]) < 0.5 * len(as_sets[0])
    assert epochs[1] != epochs[2]
    other_seed = all_kinds(sizes, seed=1)[kind]
    assert list(other_seed) != epochs[0]


def test_same_seed_and_epoch_give_same_batches_in_another_process():
    sizes = lognormal(700, seed=2)
    here = {}
    for name, s in all_kinds(sizes, seed=7).items():
        s.set_epoch(4)
        here[name] = list(s)
    code = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        sys.path.insert(0, {str(__file__.rsplit('/', 1)[0])!r})
        from test_samplers import all_kinds, lognormal
        out = {{}}
        for name, s in all_kinds(lognormal(700, seed=2), seed=7).items():
            s.set_epoch(4)
            out[name] = list(s)
        print(json.dumps(out))
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == here


@pytest.mark.parametrize("kind", ["packed", "balanced", "dist_balanced", "dist_packed"])
def test_resume_mid_epoch_yields_the_rest_of_the_same_epoch(kind):
    sizes = lognormal(900, seed=4)
    s = all_kinds(sizes)[kind]
    s.set_epoch(2)
    full = list(s)
    assert len(full) > 4
    s.set_epoch(2)
    it = iter(s)
    head = [next(it) for _ in range(3)]
    state = s.state_dict()
    assert state["epoch"] == 2 and state["batches_done"] == 3

    fresh = all_kinds(sizes)[kind]
    fresh.load_state_dict(json.loads(json.dumps(state)))  # survives a JSON checkpoint
    assert len(fresh) == len(full)  # the epoch's count, as trainers that count the batches left expect
    fresh.set_epoch(2)  # the usual loop calls set_epoch again: the resume point stays
    rest = list(fresh)
    assert head + rest == full
    # the next full iteration is a whole epoch again
    assert list(fresh) == full
    fresh.set_epoch(3)
    assert len(fresh) == len(list(fresh))


def test_resume_state_checks():
    sizes = lognormal(300)
    s = BalancedBatchSampler(sizes, 10, seed=0)
    state = s.state_dict(batches_done=5)
    # the error says what differs, where the fingerprint alone said nothing a user could act on
    with pytest.raises(ValueError, match="other sizes, seed or settings: other settings"):
        BalancedBatchSampler(sizes, 12, seed=0).load_state_dict(state)
    with pytest.raises(ValueError, match="other sizes, seed or settings: seed 0, this one seed 1"):
        BalancedBatchSampler(sizes, 10, seed=1).load_state_dict(state)
    with pytest.raises(ValueError, match=r"other sizes, seed or settings: as many items \(300\) of other costs"):
        BalancedBatchSampler(sizes[::-1].copy(), 10, seed=0).load_state_dict(state)
    with pytest.raises(ValueError, match="300 items, this one 250 [(]the sizes of another data set or split[)]"):
        BalancedBatchSampler(sizes[:250], 10, seed=0).load_state_dict(state)
    # resuming a job on another number of GPUs: the saved state names both counts
    ranked = DistributedBalancedBatchSampler(sizes, 5, num_replicas=2, rank=0).state_dict(batches_done=5)
    assert ranked["num_replicas"] == 2 and state["num_replicas"] == 1
    with pytest.raises(ValueError, match=r"2 processes \(num_replicas\), this one 4"):
        DistributedBalancedBatchSampler(sizes, 5, num_replicas=4, rank=3).load_state_dict(ranked)
    DistributedBalancedBatchSampler(sizes, 5, num_replicas=2, rank=1).load_state_dict(ranked)  # another rank: fine
    older = {key: value for key, value in ranked.items() if key != "num_replicas"}  # saved before the key existed
    DistributedBalancedBatchSampler(sizes, 5, num_replicas=2, rank=1).load_state_dict(older)
    with pytest.raises(ValueError, match="other sizes, seed or settings: other settings"):
        DistributedBalancedBatchSampler(sizes, 5, num_replicas=4, rank=3).load_state_dict(older)
    with pytest.raises(ValueError, match="only 30 batches"):
        s.state_dict(batches_done=31)
    with pytest.raises(ValueError, match="missing"):
        s.load_state_dict({"epoch": 0})
    # a state from one rank resumes every rank (same step count)
    r0, r1 = ranks(sizes, 2, batch_size=10)
    list(zip(range(4), r0))
    r1_epoch = list(r1)
    r1.load_state_dict(r0.state_dict())
    assert list(r1) == r1_epoch[4:]


# ------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda s: PackedBatchSampler(s, 100.0),
    lambda s: BalancedBatchSampler(s, 2),
    lambda s: DistributedBalancedBatchSampler(s, 2, num_replicas=2, rank=0),
])
@pytest.mark.parametrize("sizes,match", [
    ([], "empty"),
    ([1.0, float("nan"), 2.0], r"sizes\[1\] is not finite"),
    ([1.0, 2.0, float("inf")], r"sizes\[2\] is not finite"),
    ([1.0, -2.0, 3.0], r"sizes\[1\] is negative"),
    ([[1.0, 2.0], [3.0, -1.0]], r"sizes\[1, 1\] is negative"),
    (np.ones((2, 2, 2)), "1-D"),
    (["a", "b"], "expected numbers"),
    (np.ones((3, 0)), "at least one size"),
    (np.array([1, 2**53 + 1, 1], np.int64), r"sizes\[1\] = 9007199254740993 is beyond 2\*\*53"),  # not exact in float64
])
def test_bad_sizes_raise_naming_the_index(make, sizes, match):
    with pytest.raises(InvalidSizesError, match=match):
        make(sizes)


def test_sizes_from_tensors_and_lists_match_arrays():
    sizes = lognormal(64, seed=9)
    expected = list(BalancedBatchSampler(sizes, 8, seed=2))
    assert list(BalancedBatchSampler(torch.from_numpy(sizes), 8, seed=2)) == expected
    assert list(BalancedBatchSampler(sizes.tolist(), 8, seed=2)) == expected


def test_batch_size_above_the_item_count_gives_one_batch_as_torch_does():
    """A small validation set with the training batch size: torch's BatchSampler yields one short
    batch, and so do the balanced samplers; under DDP every rank gets one batch (items repeat to fill
    ranks when there are fewer items than ranks, the documented rule)."""
    sizes = lognormal(20)
    batches = list(BalancedBatchSampler(sizes, 64, seed=3))
    assert len(batches) == 1 and sorted(batches[0]) == list(range(20))
    assert [len(b) for b in torch.utils.data.BatchSampler(range(20), 64, False)] == [20]
    per_rank = [list(DistributedBalancedBatchSampler(sizes, 64, num_replicas=2, rank=r)) for r in range(2)]
    assert [len(b) for b in per_rank] == [1, 1]
    assert sorted(i for b in per_rank for i in b[0]) == list(range(20))


def test_bad_arguments_raise():
    sizes = lognormal(20)
    with pytest.raises(InvalidSizesError, match="drop_last=True with 20 items cannot fill one batch of batch_size 21"):
        BalancedBatchSampler(sizes, 21, drop_last=True)
    for bs in (0, -3):
        with pytest.raises(ValueError, match="batch_size"):
            BalancedBatchSampler(sizes, bs)
    with pytest.raises(ValueError, match="batch_size"):
        BalancedBatchSampler(sizes, 2.5)
    with pytest.raises(ValueError, match="seed"):
        BalancedBatchSampler(sizes, 4, seed=-1)
    with pytest.raises(ValueError, match="epoch"):
        BalancedBatchSampler(sizes, 4).set_epoch(-1)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="max_cost"):
            PackedBatchSampler(sizes, bad)
    with pytest.raises(InvalidSizesError, match="max_cost has 3 entries but sizes have 2"):
        PackedBatchSampler(lognormal(20, k=2), [1e9, 1e9, 1e9])
    with pytest.raises(InvalidSizesError, match=r"but sizes have 5 column\(s\).*shape \(2, 5\) have a row per "
                                                r"budget: pass them transposed, one row per item, sizes.T"):
        PackedBatchSampler(lognormal(5, k=2).T, [1e9, 1e9])  # np.vstack([nodes, edges]) of 5 graphs
    with pytest.raises(ValueError, match="cannot be combined with a cost model"):
        PackedBatchSampler(lognormal(20, k=2), [1e9, 1e9], weights=[1, 1])
    with pytest.raises(InvalidSizesError, match="2 column.*3 weight"):
        BalancedBatchSampler(lognormal(20, k=2), 4, weights=[1, 1, 1])
    with pytest.raises(InvalidSizesError, match=r"weights\[1\] = -1"):
        BalancedBatchSampler(sizes, 4, weights=[1, -1])
    with pytest.raises(ValueError, match="either cost= or weights="):
        BalancedBatchSampler(sizes, 4, cost=LinearCost([1.0]), weights=[1.0])
    with pytest.raises(ValueError, match="method="):
        PackedBatchSampler(sizes, 1e9, method="nf")
    with pytest.raises(InvalidSizesError, match="cost model returned shape"):
        BalancedBatchSampler(sizes, 4, cost=lambda s: s[:3])
    with pytest.raises(InvalidSizesError, match=r"item costs\[0\] is negative"):
        BalancedBatchSampler(sizes, 4, cost=lambda s: -s)
    with pytest.raises(ValueError, match="granularity"):
        BalancedBatchSampler(sizes, 4, granularity=1.5)


# ------------------------------------------------------------------------------------------------
# graph datasets and DataLoaders
# ------------------------------------------------------------------------------------------------

try:  # only the tests that build graphs need PyG: they are marked needs_pyg
    from torch_geometric.data import Data, InMemoryDataset
except ImportError:  # pragma: no cover - PyG is a test dependency
    Data = InMemoryDataset = None
needs_pyg = pytest.mark.skipif(Data is None, reason="needs torch_geometric")


def make_graphs(n=60, seed=0, explicit_num_nodes=False):
    rng = np.random.default_rng(seed)
    graphs = []
    for i in range(n):
        nodes = int(rng.integers(2, 40))
        edges = int(rng.integers(0, 3 * nodes))
        ei = torch.from_numpy(rng.integers(0, nodes, (2, edges)))
        if explicit_num_nodes:  # no node features: the count lives only in num_nodes
            g = Data(edge_index=ei, num_nodes=nodes, y=torch.tensor([float(i)]))
        else:
            g = Data(x=torch.randn(nodes, 3), edge_index=ei, y=torch.tensor([float(i)]))
        graphs.append(g)
    return graphs


if InMemoryDataset is not None:
    class Graphs(InMemoryDataset):
        def __init__(self, graphs, transform=None):
            super().__init__(None, transform=transform)
            self.data, self.slices = self.collate(graphs)


def slow_sizes(graphs):
    return np.array([[g.num_nodes, g.num_edges] for g in graphs], dtype=float)


@needs_pyg
@pytest.mark.parametrize("explicit", [False, True])
def test_graph_sizes_fast_path_matches_iteration(explicit, monkeypatch):
    graphs = make_graphs(explicit_num_nodes=explicit)
    ds = Graphs(graphs)
    # the fast path must not build a single graph
    monkeypatch.setattr(Graphs, "get", lambda self, i: pytest.fail("dataset item was built"))
    np.testing.assert_array_equal(graph_sizes(ds), slow_sizes(graphs))
    sub = ds[[5, 2, 9]]
    np.testing.assert_array_equal(graph_sizes(sub), slow_sizes(graphs)[[5, 2, 9]])
    np.testing.assert_array_equal(graph_sizes(ds, ("num_edges",)), slow_sizes(graphs)[:, 1:])


@needs_pyg
def test_graph_sizes_iterates_lists_transforms_and_callables():
    graphs = make_graphs(20)
    np.testing.assert_array_equal(graph_sizes(graphs), slow_sizes(graphs))
    # a transform may change sizes: the sizes of what the loader will really see
    from torch_geometric.transforms import ToUndirected

    ds = Graphs(graphs, transform=ToUndirected())
    np.testing.assert_array_equal(graph_sizes(ds)[:, 1], [ds[i].num_edges for i in range(20)])
    sq = graph_sizes(graphs, (lambda g: g.num_nodes ** 2,))
    np.testing.assert_array_equal(sq[:, 0], slow_sizes(graphs)[:, 0] ** 2)


@needs_pyg
@pytest.mark.filterwarnings("ignore:Unable to accurately infer 'num_nodes'")
def test_graph_sizes_bad_datasets():
    with pytest.raises(InvalidSizesError, match=r"dataset\[0\] has no size 'num_nodes'"):
        graph_sizes([Data(y=torch.ones(1))])
    tensors = torch.utils.data.TensorDataset(torch.ones(4, 2))
    with pytest.raises(InvalidSizesError, match=r"dataset\[0\] has no size 'num_nodes'"):
        BalancedBatchSampler(tensors, 2)
    with pytest.raises(InvalidSizesError, match="empty"):
        graph_sizes(Graphs(make_graphs(3))[[]])
    with pytest.raises(InvalidSizesError, match="not a number"):
        graph_sizes([Data(x=torch.ones(2, 1), tag="big")], ("tag",))
    with pytest.raises(ValueError, match="fields= only applies"):
        BalancedBatchSampler(np.ones(4), 2, fields=("num_nodes",))


def test_torch_dataloader_integration():
    sizes = lognormal(200, seed=8)
    data = torch.arange(200)
    ds = torch.utils.data.TensorDataset(data)
    for sampler in (PackedBatchSampler(sizes, 800.0), BalancedBatchSampler(sizes, 16)):
        loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler)
        assert len(loader) == len(sampler)
        got = [batch[0].tolist() for batch in loader]
        assert got == list(sampler)
        assert sorted(sum(got, [])) == list(range(200))


@needs_pyg
def test_pyg_dataloader_integration():
    from torch_geometric.loader import DataLoader

    graphs = make_graphs(80, seed=3)
    ds = Graphs(graphs)
    sizes = slow_sizes(graphs)
    samplers = [
        PackedBatchSampler(ds, max_cost=[150, 300]),  # node and edge budget, sizes read from ds
        BalancedBatchSampler(ds, 8, weights=[1.0, 0.5]),
        DistributedBalancedBatchSampler(ds, 8, num_replicas=2, rank=1),
    ]
    for sampler in samplers:
        loader = DataLoader(ds, batch_sampler=sampler)
        seen = []
        for batch, idx in zip(loader, sampler):
            assert batch.num_graphs == len(idx)
            assert batch.y.view(-1).long().tolist() == idx
            assert batch.num_nodes == sizes[idx, 0].sum() and batch.num_edges == sizes[idx, 1].sum()
            seen += idx
        assert len(loader) == len(sampler) and len(seen) == sum(len(b) for b in sampler)
    assert all(np.all(sizes[b].sum(0) <= [150, 300]) for b in samplers[0])


# ------------------------------------------------------------------------------------------------
# cost models
# ------------------------------------------------------------------------------------------------

@st.composite
def probe_batches(draw):
    """Probe batches of a k-column model: summed sizes (m, k) and item counts (m,), m = 4 (k + 2)."""
    k = draw(st.integers(1, 3))
    m = 4 * (k + 2)
    summed = draw(st.lists(st.lists(st.integers(10, 10_000), min_size=k, max_size=k), min_size=m, max_size=m))
    counts = draw(st.lists(st.integers(1, 100), min_size=m, max_size=m))
    return np.array(summed, dtype=float), np.array(counts, dtype=float)


# a weight is 0 or at least 1 byte per unit: growth under a billionth of the peak is taken for none
# (refuse_flat_fit), and 1e-90 would test that threshold, not the fit
WEIGHT = st.one_of(st.just(0.0), st.floats(1.0, 1e4))


@FAST
@given(probes=probe_batches(), w=st.lists(WEIGHT, min_size=3, max_size=3), b=WEIGHT, c0=st.floats(0.0, 1e8))
def test_memory_model_recovers_known_coefficients(probes, w, b, c0):
    summed, counts = probes
    k = summed.shape[1]
    w = np.array(w[:k])
    X = np.column_stack([summed, counts, np.ones(counts.size)])
    # probes that tell the terms apart (shrinking heads for equal ones, which cannot)
    assume(np.linalg.cond(X / np.linalg.norm(X, axis=0)) < 1e4)
    peak = c0 + summed @ w + b * counts
    if not (np.any(w > 0) or b > 0):  # nothing grows with the batch: refused (see below)
        with pytest.raises(InvalidSizesError, match="does not grow"):
            MemoryModel.fit(summed, counts, peak)
        return
    model = MemoryModel.fit(summed, counts, peak)
    scale = max(peak.max(), 1.0)
    np.testing.assert_allclose(model.predict(summed, counts), peak, rtol=1e-6, atol=1e-9 * scale)
    np.testing.assert_allclose(model.weights * summed.mean(0), w * summed.mean(0), atol=1e-5 * scale)
    assert model.bias * counts.mean() == pytest.approx(b * counts.mean(), abs=1e-5 * scale)
    assert model.intercept == pytest.approx(c0, abs=1e-5 * scale)


def test_memory_model_is_non_negative_and_checks_probes():
    rng = np.random.default_rng(0)
    summed = rng.integers(10, 1000, (10, 2)).astype(float)
    counts = rng.integers(1, 50, 10).astype(float)
    peak = 1000 + 5 * summed[:, 0] - 0.5 * summed[:, 1]  # a negative true weight
    m = MemoryModel.fit(summed, counts, peak)
    assert np.all(m.weights >= 0) and m.bias >= 0 and m.intercept >= 0
    with pytest.raises(InvalidSizesError, match="cannot separate"):
        MemoryModel.fit(summed, np.full(10, 4.0), peak)  # constant counts: bias vs intercept
    with pytest.raises(InvalidSizesError, match="one per probe batch"):
        MemoryModel.fit(summed, counts[:5], peak)
    with pytest.raises(InvalidSizesError, match="below the fixed per-batch memory"):
        MemoryModel([1.0], 0.0, intercept=100.0).budget_to_max_cost(50.0)
    again = MemoryModel.from_dict(json.loads(json.dumps(m.to_dict())))
    assert again.to_dict() == m.to_dict()


class _TinyGNN(torch.nn.Module):
    """Message passing on a PyG batch: activations grow with nodes and edges."""

    def __init__(self):
        super().__init__()
        self.node = torch.nn.Linear(3, 32)
        self.edge = torch.nn.Linear(32, 32)
        self.out = torch.nn.Linear(32, 1)

    def forward(self, batch):
        h = torch.relu(self.node(batch.x))
        msg = self.edge(h[batch.edge_index[0]])
        h = h + torch.zeros_like(h).index_add(0, batch.edge_index[1], msg)
        return self.out(torch.relu(h)).sum()


@needs_pyg
def test_memory_model_probe_on_cpu_predicts_unseen_batches():
    torch.manual_seed(0)
    graphs = make_graphs(120, seed=1)
    ds = Graphs(graphs)
    net = _TinyGNN()

    def step(batch):
        net.zero_grad()
        net(batch).backward()

    model = MemoryModel.probe(step, ds, batch_sizes=(1, 4, 16), measure="saved_tensors")
    assert model.probes_["counts"].size == 9
    assert model.max_rel_error_ < 0.05
    # A batch it never saw: the measured saved-tensor bytes match the prediction.
    idx = list(range(30, 62))
    from torch_geometric.data import Batch

    batch = Batch.from_data_list([ds[i] for i in idx])
    saved = {}

    def pack(t):
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step(batch)
    s = graph_sizes(ds)
    predicted = model.predict(s[idx].sum(0), len(idx))
    assert predicted == pytest.approx(sum(saved.values()), rel=0.05)
    # and as a sampler's cost: predicted memory of every packed batch within the budget
    budget = 400_000.0
    sampler = PackedBatchSampler(ds, model.budget_to_max_cost(budget), cost=model)
    assert all(model.predict(s[b].sum(0), len(b)) <= budget * (1 + 1e-9) for b in sampler)


@needs_pyg
def test_a_memory_model_fitted_on_other_fields_than_the_samplers_read_says_to_pass_them():
    ds = Graphs(make_graphs(40, seed=3))
    net = _TinyGNN()

    def step(batch):
        net.zero_grad()
        net(batch).backward()

    model = MemoryModel.probe(step, ds, fields=("num_nodes",), batch_sizes=(1, 4, 16), measure="saved_tensors")
    with pytest.raises(InvalidSizesError, match=r"sizes have 2 column\(s\) but the cost model has 1 weight.*"
                                                r"\('num_nodes', 'num_edges'\) unless fields= says otherwise"):
        BalancedBatchSampler(ds, 8, cost=model)
    sampler = BalancedBatchSampler(ds, 8, cost=model, fields=("num_nodes",))
    assert sorted(i for b in sampler for i in b) == list(range(40))


def test_memory_model_refuses_probes_that_measure_no_growth():
    # A step measured where it does not run (the model on the CPU while measure="cuda" watches the
    # GPU, or no gradients with "saved_tensors") measures the same peak for every batch; the fit
    # would price every item at 0 bytes and a sampler would put the whole dataset in one batch.
    sizes = lognormal(50, seed=2)

    def step(indices):
        x = torch.ones(int(sizes[indices].sum()), 4, requires_grad=True)
        with torch.no_grad():
            (x * x).sum()

    with pytest.raises(InvalidSizesError, match=r"15 probe batches does not grow .*measured 0 to 0 bytes"):
        MemoryModel.probe(step, sizes=sizes, measure="saved_tensors")
    rng = np.random.default_rng(0)
    summed, counts = rng.integers(10, 1000, (6, 2)).astype(float), rng.integers(1, 50, 6).astype(float)
    with pytest.raises(InvalidSizesError, match="measured 5e[+]06 to 5e[+]06 bytes"):
        MemoryModel.fit(summed, counts, np.full(6, 5e6))  # the fixed memory alone
    assert MemoryModel.fit(summed, counts, 5e6 + 8 * counts).bias == pytest.approx(8.0)
    # A padded model fitted to flat peaks came out as const plus a rounding error, and packed 1,000
    # items into one batch; bad peaks are named where they are.
    probes = [rng.integers(10, 500, size=int(m)) for m in rng.integers(1, 64, 12)]
    with pytest.raises(InvalidSizesError, match="12 probe batches does not grow"):
        BatchCost.fit(probes, np.full(12, 5e6), terms=("padded", "padded_square", "const"))
    with pytest.raises(InvalidSizesError, match=r"peak_bytes\[5\] is not finite"):
        BatchCost.fit(probes, np.r_[np.full(5, 5e6), np.nan, np.full(6, 5e6)])
    fitted = BatchCost.fit(probes, [5e6 + 3.0 * len(b) * b.max() for b in probes], terms=("padded", "const"))
    assert fitted.padded == pytest.approx(3.0) and fitted.const == pytest.approx(5e6)


def test_memory_model_probe_with_sizes_only_passes_indices():
    sizes = lognormal(50, seed=2)
    calls = []

    def step(indices):
        calls.append(indices)
        x = torch.ones(int(sizes[indices].sum()), 4, requires_grad=True)
        (x * x).sum().backward()  # saves x: 16 bytes per unit of size

    model = MemoryModel.probe(step, sizes=sizes, batch_sizes=(1, 3, 9), measure="saved_tensors")
    assert len(calls) == 9 and all(isinstance(c, list) for c in calls)
    assert model.weights[0] == pytest.approx(16.0, rel=1e-6)
    assert model.bias == pytest.approx(0.0, abs=1e-6) and model.intercept == pytest.approx(0.0, abs=1e-3)
    with pytest.raises(ValueError, match="measure="):
        MemoryModel.probe(step, sizes=sizes, measure="rss")


# ------------------------------------------------------------------------------------------------
# the documentation's examples run
# ------------------------------------------------------------------------------------------------

DOC = Path(__file__).resolve().parents[1] / "docs" / "samplers.md"


def _doc_blocks():
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def _doc_params():
    params = []
    for i, block in enumerate(_doc_blocks()):
        marks = [pytest.mark.slow] if "mp.spawn" in block else []
        if "torch_geometric" in block:
            marks.append(needs_pyg)
        if "import lightning" in block or "from accelerate" in block:
            marks.append(pytest.mark.skipif(
                not all(importlib.util.find_spec(m) for m in ("lightning", "accelerate")),
                reason="needs lightning and accelerate"))
        if "from ignite" in block or "import ignite" in block:
            marks.append(pytest.mark.skipif(importlib.util.find_spec("ignite") is None, reason="needs pytorch-ignite"))
        params.append(pytest.param(i, marks=marks))
    return params


@pytest.mark.filterwarnings("ignore::UserWarning")  # trainers' advice on workers, logging and devices
@pytest.mark.parametrize("i", _doc_params())
def test_docs_samplers_md_examples_run(i, tmp_path):
    code = _doc_blocks()[i]
    # every example checks what it shows: a block that only prints would pass whatever it printed
    assert re.search(r"^\s*assert ", code, flags=re.M), f"docs/samplers.md block {i} asserts nothing"
    if "mp.spawn" in code:  # the DDP script: run it as a script, as users do
        script = tmp_path / "ddp_train.py"
        script.write_text(code)
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
        env.update(OMP_NUM_THREADS="1", HULLPACK_QUIET="1")
        res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                             env=env, cwd=tmp_path)
        assert res.returncode == 0, res.stderr[-3000:]
        assert "epoch 1:" in res.stdout and "steps per rank" in res.stdout
    else:
        exec(compile(code, f"{DOC.name}[{i}]", "exec"), {"__name__": "docs_example"})


def test_cli_batches_reports_quality(tmp_path, capsys):
    from hullpack.cli import main

    path = tmp_path / "sizes.txt"
    np.savetxt(path, lognormal(500, seed=6))
    assert main(["batches", str(path), "--batch-size", "16", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["num_batches"] == 32 and out["num_items"] == 500
    assert out["lower_bound"] <= out["peak_cost"] < out["random_batching_peak_cost"]
    assert main(["batches", str(path), "--max-cost", "2000", "--num-replicas", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["num_replicas"] == 3 and out["peak_cost"] <= 2000
