"""The samplers beyond graphs: padded sequences, loaders whose dataset disagrees with the sizes,
sizes given in the forms users hold them."""
import gc
import sys
import warnings

import numpy as np
import pytest
import torch

from hullpack.errors import InvalidSizesError
from hullpack.samplers import BalancedBatchSampler, DistributedBalancedBatchSampler, PackedBatchSampler


def _lengths(kind, n=4_000, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "protein":  # lognormal, a long tail cut at 4,000 residues
        return np.clip(np.rint(rng.lognormal(5.6, 0.6, n)), 20, 4_000)
    if kind == "text":  # Pareto-tailed token counts
        return np.clip(np.rint(rng.pareto(1.2, n) * 30 + 5), 5, 2_048)
    return np.where(rng.random(n) < 0.9, rng.integers(8, 64, n), rng.integers(500, 1_024, n)).astype(float)


def _bucketed(lengths, budget):
    """Sort by length and cut greedily so that count x longest stays within the budget."""
    batches, count, longest = 0, 0, 0.0
    for length in np.sort(lengths):
        if count and (count + 1) * max(longest, length) > budget:
            batches, count, longest = batches + 1, 0, 0.0
        count, longest = count + 1, max(longest, length)
    return batches + 1


@pytest.mark.parametrize("kind", ["protein", "text", "bimodal"])
def test_padded_packing_holds_the_padded_budget_in_about_as_few_batches_as_length_bucketing(kind):
    lengths, budget = _lengths(kind), 16_384
    sampler = PackedBatchSampler(lengths, max_cost=budget, batch_cost="padded", seed=0)
    for epoch in range(2):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert sorted(i for b in batches for i in b) == list(range(lengths.size))  # every item once
        assert max(len(b) * lengths[b].max() for b in batches) <= budget
        assert len(batches) == len(sampler) <= _bucketed(lengths, budget) + 2
    again = PackedBatchSampler(lengths, max_cost=budget, batch_cost="padded", seed=0)
    again.set_epoch(1)
    assert list(again) == batches


class _Items(torch.utils.data.Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i >= self.n:
            raise IndexError(i)
        return i


@pytest.mark.parametrize("make", [lambda s: PackedBatchSampler(s, max_cost=100),
                                  lambda s: BalancedBatchSampler(s, 8),
                                  lambda s: DistributedBalancedBatchSampler(s, 8, num_replicas=2, rank=1)])
def test_a_loader_over_fewer_items_than_sizes_is_refused_naming_both_counts(make):
    sampler = make(np.full(50, 10.0))
    loader = torch.utils.data.DataLoader(_Items(40), batch_sampler=sampler)
    with pytest.raises(InvalidSizesError, match=r"built from 50 sizes but the DataLoader's dataset \(_Items\) "
                                                r"has 40 items: its batches would ask for items 40\.\.49"):
        list(loader)


def test_a_loader_over_fewer_graphs_than_sizes_is_refused_with_workers(monkeypatch):
    from torch_geometric.data import Data
    from torch_geometric.loader import DataLoader

    graphs = [Data(x=torch.zeros(5, 2), edge_index=torch.zeros(2, 0, dtype=torch.long)) for _ in range(40)]
    loader = DataLoader(graphs, batch_sampler=PackedBatchSampler(np.full(50, 5.0), max_cost=50), num_workers=2)
    unraisable = []  # the half-built iterator's __del__ ("Exception ignored in ...") reports nothing
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with pytest.raises(InvalidSizesError, match="has 40 items"):
        iter(loader)
    gc.collect()
    assert not unraisable


def test_a_loader_over_more_items_than_sizes_warns_and_loads_the_sized_ones():
    loader = torch.utils.data.DataLoader(_Items(60), batch_sampler=BalancedBatchSampler(np.full(50, 10.0), 8),
                                         collate_fn=list)
    with pytest.warns(UserWarning, match=r"has 60 items: items 50\.\.59 will never be loaded"):
        seen = sorted(i for b in loader for i in b)
    assert seen == list(range(50))


def test_a_loader_over_as_many_items_as_sizes_says_nothing():
    loader = torch.utils.data.DataLoader(_Items(50), batch_sampler=BalancedBatchSampler(np.full(50, 10.0), 8),
                                         collate_fn=list)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sorted(i for b in loader for i in b) == list(range(50))


def test_dict_values_as_sizes_are_told_to_pass_a_list():
    with pytest.raises(InvalidSizesError, match=r"got a dict_values, not an array of sizes; pass list\(\.\.\.\) of it,"):
        PackedBatchSampler({"a": 3, "b": 5}.values(), max_cost=10)
    with pytest.raises(InvalidSizesError) as err:  # a set has no order: no list(...) advice
        PackedBatchSampler({3, 5}, max_cost=10)
    assert "list(" not in str(err.value)
