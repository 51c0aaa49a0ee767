"""Packed samplers have the same number of batches in every epoch (trainers read len() once), keep
every item once per epoch and every batch within budget; drop_last, bounds and bad sizes."""
import warnings

import numpy as np
import pytest
import torch

from hullpack.errors import InvalidSizesError
from hullpack.samplers import (BalancedBatchSampler, DistributedBalancedBatchSampler, PackedBatchSampler,
                               as_sizes, graph_sizes)

EPOCHS = range(21)


def hep_like(n=3000, seed=0):
    r = np.random.default_rng(seed)
    atoms = r.integers(20, 226, n)
    return np.column_stack([atoms, atoms * r.integers(20, 40, n)]).astype(float)


def _cases():
    r = np.random.default_rng(1)
    hep = hep_like()
    logn = r.lognormal(3, 1, 4000)
    heavy = np.concatenate([logn, [5_000.0, 7_000.0]])
    return {
        "integer": (r.integers(1, 300, 4000).astype(float), 2000, {}),
        "float lognormal": (logn, 2000, {}),
        "nodes+edges scalar": (hep, 4 * np.median(hep.sum(1)), {}),
        "nodes+edges vector": (hep, [4 * np.median(hep[:, 0]), 4 * np.median(hep[:, 1])], {}),
        "padded": (np.round(logn) + 1, 4000, {"batch_cost": "padded"}),
        "drop_last": (hep, 4 * np.median(hep.sum(1)), {"drop_last": True}),
        "drop_last lognormal": (logn, 1500, {"drop_last": True, "granularity": 0.1}),
        "oversize alone": (heavy, 2000, {"oversize": "alone"}),
        "coarse grid": (hep, 4 * np.median(hep.sum(1)), {"granularity": 0.2}),
    }


CASES = _cases()


def within(sizes, max_cost, batch, batch_cost):
    s = sizes[batch]
    if batch_cost == "padded":
        return len(batch) * s.max() <= max_cost
    total = s.sum(axis=0)
    return bool(np.all(total <= np.asarray(max_cost))) if np.ndim(max_cost) else total.sum() <= max_cost


@pytest.mark.parametrize("name", list(CASES))
def test_packed_len_is_the_same_in_every_epoch(name):
    sizes, max_cost, kw = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sampler = PackedBatchSampler(sizes, max_cost, seed=0, **kw)
    counts, dropped = set(), 0
    for epoch in EPOCHS:
        sampler.set_epoch(epoch)
        batches = list(sampler)
        counts.add(len(sampler))
        assert len(batches) == len(sampler)
        seen = np.concatenate(batches)
        assert np.unique(seen).size == seen.size  # no item twice
        if kw.get("drop_last"):
            dropped = max(dropped, sizes.shape[0] - seen.size)
        else:
            assert seen.size == sizes.shape[0]  # every item once
        oversize = kw.get("oversize") == "alone"
        assert all(within(sizes, max_cost, b, kw.get("batch_cost")) or (oversize and len(b) == 1)
                   for b in batches)
        s = sampler.stats()
        if s["lower_bound"] is not None:
            assert s["batches_over_lower_bound"] >= 1.0
    assert len(counts) == 1, counts


def test_packed_count_moves_on_the_reviewed_hep_sizes_are_gone():
    # These sizes packed into 776, 777, 776 batches in epochs 0-2; with the budget held on the real
    # costs (rounded ones only order the items) every epoch packs at the lower bound.
    sizes = hep_like()
    sampler = PackedBatchSampler(sizes, 4 * np.median(sizes.sum(1)), seed=0)
    counts = []
    for epoch in EPOCHS:
        sampler.set_epoch(epoch)
        counts.append(len(sampler))
    assert counts == [771] * len(EPOCHS) and sampler.stats(0)["lower_bound"] == 771


def test_packed_count_holds_where_epochs_pack_differently():
    # A budget per column: epochs whose packing needs more batches than the count merge or repack.
    sizes = hep_like()
    sampler = PackedBatchSampler(sizes, list(4 * np.median(sizes, axis=0)), seed=0, oversize="alone")
    counts = []
    for epoch in EPOCHS:
        sampler.set_epoch(epoch)
        counts.append(len(list(sampler)))
    assert len(set(counts)) == 1
    # Most epochs are still a shuffled packing of their own, not the unshuffled one.
    stats = [sampler.stats(e) for e in EPOCHS]
    assert sum(s["repacked_unshuffled"] for s in stats) <= len(EPOCHS) // 4
    assert any(s["merged_batches"] for s in stats) and any(s["repacked"] for s in stats)  # both ways are used


def test_split_to_a_count_past_the_batches_with_two_items_splits_again():
    sampler = PackedBatchSampler(np.ones(40), 40.0, shuffle=False)  # one batch of 40 items
    offsets, items, padded = sampler.budget.split(np.array([0, 40]), np.arange(40), 9, np.random.default_rng(0),
                                                  False, pad=False)
    assert padded == 0 and offsets.size == 11 and sorted(items.tolist()) == list(range(40))
    assert np.diff(offsets).min() >= 1


def test_epochs_whose_count_matches_keep_their_packing():
    sizes = hep_like()
    max_cost = 4 * np.median(sizes.sum(1))
    a = PackedBatchSampler(sizes, max_cost, seed=0)
    b = PackedBatchSampler(sizes, max_cost, seed=0)
    for epoch in (0, 3, 2):  # the plan of epoch 0 does not depend on the order epochs are asked for
        b.set_epoch(epoch)
        a.set_epoch(epoch)
        assert list(a) == list(b)
    s0 = a.stats(0)
    assert not (s0["split_batches"] or s0["merged_batches"] or s0["repacked"] or s0["repacked_unshuffled"])


def test_shuffle_off_gives_the_unshuffled_packing_every_epoch():
    sizes = hep_like()
    sampler = PackedBatchSampler(sizes, 4 * np.median(sizes.sum(1)), shuffle=False)
    first = list(sampler)
    sampler.set_epoch(5)
    assert list(sampler) == first
    assert sampler.stats()["split_batches"] == 0


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("vector", [False, True])
def test_distributed_packed_steps_equal_on_ranks_and_over_epochs(drop_last, vector):
    sizes = hep_like(2000, seed=2)
    max_cost = ([4 * np.median(sizes[:, 0]), 4 * np.median(sizes[:, 1])] if vector
                else 4 * np.median(sizes.sum(1)))
    R = 3
    ranks = [DistributedBalancedBatchSampler(sizes, max_cost=max_cost, num_replicas=R, rank=r, seed=0,
                                             drop_last=drop_last) for r in range(R)]
    lens = set()
    for epoch in range(12):
        seen = []
        for s in ranks:
            s.set_epoch(epoch)
            batches = list(s)
            lens.add(len(batches))
            seen += [i for b in batches for i in b]
            assert all(within(sizes, max_cost, b, None) for b in batches)
        assert len(seen) == len(set(seen))
        if not drop_last:
            assert sorted(seen) == list(range(sizes.shape[0]))
        assert ranks[0].stats()["global_batches"] % R == 0
    assert len(lens) == 1, lens


def test_drop_last_that_drops_everything_raises_naming_drop_last():
    with pytest.raises(InvalidSizesError, match="drop_last=True leaves no batches"):
        PackedBatchSampler(np.arange(1, 34.0), 1e9, drop_last=True)
    with pytest.raises(InvalidSizesError, match=r"drop_last=True with 33 item\(s\) on 40 replicas"):
        DistributedBalancedBatchSampler(np.arange(1, 34.0), max_cost=1e9, num_replicas=40, rank=0, drop_last=True)


@pytest.mark.parametrize("R", [2, 3, 33])
def test_drop_last_on_ranks_splits_a_packing_into_fewer_batches_than_ranks(R):
    """33 items in one batch on R ranks: drop_last splits it into R batches, one a rank, nothing
    dropped or repeated (it refused this before: one batch rounds down to no step)."""
    sizes = np.arange(1, 34.0)
    ranks = [DistributedBalancedBatchSampler(sizes, max_cost=1e9, num_replicas=R, rank=r, drop_last=True)
             for r in range(R)]
    for epoch in (0, 2):
        for s in ranks:
            s.set_epoch(epoch)
        batches = [list(s) for s in ranks]
        assert [len(b) for b in batches] == [len(s) for s in ranks] == [1] * R
        assert sorted(i for rank in batches for b in rank for i in b) == list(range(33))
        info = ranks[0].stats()
        assert (info["global_batches"], info["split_batches"], info["dropped_items"], info["padded_items"]) == (
            R, R - 1, 0, 0)
        if R == 2:  # halves of near-equal cost: 280 and 281
            assert sorted(sum(rank[0]) + len(rank[0]) for rank in batches) == [280, 281]
    # the same batches as without drop_last, which splits the same way (into R batches too)
    even = [DistributedBalancedBatchSampler(sizes, max_cost=1e9, num_replicas=R, rank=r) for r in range(R)]
    for s in even + ranks:
        s.set_epoch(1)
    assert [list(s) for s in even] == [list(s) for s in ranks]


def test_drop_last_bound_is_for_the_items_kept():
    sampler = PackedBatchSampler(np.full(5000, 21.0), 672, drop_last=True)
    s = sampler.stats()
    assert (s["num_batches"], s["dropped_items"], s["lower_bound"]) == (156, 8, 156.0)
    assert s["batches_over_lower_bound"] == 1.0
    d = DistributedBalancedBatchSampler(np.full(5000, 21.0), max_cost=672, num_replicas=3, rank=0, drop_last=True)
    assert d.stats()["global_batches"] >= d.stats()["lower_bound"] == 156.0
    b = BalancedBatchSampler(np.full(5000, 21.0), 32, drop_last=True).stats()
    assert b["peak_over_lower_bound"] >= 1.0


@pytest.mark.parametrize("bad, match", [
    (np.array([True, False, True]), "dtype bool"),
    (torch.tensor([True, False]), "dtype bool"),
    # a flag among numbers, which numpy reads as 1 or 0
    ([3, True, 5], r"sizes\[1\] = True: a True/False among the sizes, not a size"),
    ([[3, 6], [np.True_, 8]], r"sizes\[1, 0\] = True: a True/False among the sizes"),
    (np.vstack([np.arange(1, 5001.0), np.arange(1, 5001.0)]), r"looks transposed.*\(2, 5000\)"),
    (np.float64(5.0), "single number"),
    (np.array(5.0), "single number"),
    (torch.arange(1, 41).to_sparse(), "layout"),
    (torch.empty(3, device="meta"), "meta"),
    # columns held in a dict (a Hugging Face dataset's ds[:], say): a bare KeyError 0 before
    ({"num_nodes": [3, 4], "num_edges": [6, 8]}, r"got a dict \(keys 'num_nodes', 'num_edges'\).*column_stack"),
    ((n for n in [3, 4, 5]), r"got a generator, not an array of sizes; pass list\(...\) of it"),
    ({3, 4, 5}, "got a set, not an array of sizes"),
    ("3 4 5", "got a str, not an array of sizes"),
])
def test_sizes_that_are_not_sizes_are_refused(bad, match):
    with pytest.raises(InvalidSizesError, match=match):
        PackedBatchSampler(bad, 100.0)
    with pytest.raises(InvalidSizesError, match=match):
        BalancedBatchSampler(bad, 2)


def test_graphs_held_as_dicts_are_read_by_key():
    rows = [{"num_nodes": 3, "num_edges": 6}, {"num_nodes": 5, "num_edges": 12}, {"num_nodes": 4}]
    assert graph_sizes(rows[:2]).tolist() == [[3.0, 6.0], [5.0, 12.0]]
    assert PackedBatchSampler(rows, 20.0, fields=("num_nodes",)).sizes.tolist() == [[3.0], [5.0], [4.0]]
    with pytest.raises(InvalidSizesError, match=r"dataset\[2\] has no size 'num_edges'"):
        graph_sizes(rows)


def test_sizes_that_are_sizes_are_read():
    assert as_sizes(torch.arange(1, 41).bfloat16()).tolist() == list(range(1, 41))
    assert as_sizes([np.float64(3), torch.tensor(4.0)]).tolist() == [3.0, 4.0]  # 0-d inside a list
    assert as_sizes(np.ones((9, 9))).shape == (9, 9)  # not more columns than rows: kept
    assert as_sizes(np.ones((3, 8))).shape == (3, 8)  # 8 columns at most: kept


@pytest.mark.parametrize("batch_size", [torch.tensor(8), np.array(8), np.int64(8)])
def test_batch_size_may_be_a_0d_integer(batch_size):
    assert len(BalancedBatchSampler(np.arange(1, 41.0), batch_size)) == 5


@pytest.mark.parametrize("batch_size", [torch.tensor(8.0), torch.tensor(True), np.array(8.0), np.bool_(True)])
def test_batch_size_refuses_floats_and_bools(batch_size):
    with pytest.raises(ValueError, match="batch_size: expected an integer"):
        BalancedBatchSampler(np.arange(1, 41.0), batch_size)
