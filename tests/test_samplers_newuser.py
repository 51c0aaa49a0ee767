"""Mistakes a first-time user of the samplers makes, and the messages that set them right."""
import numpy as np
import pytest
import torch

from hullpack.errors import DistributedConfigError, InvalidSizesError
from hullpack.samplers import BalancedBatchSampler, DistributedBalancedBatchSampler, PackedBatchSampler


@pytest.mark.parametrize("data, said", [
    ([torch.randn(n, 8) for n in (3, 5, 7)], r"sizes\[0\] is a Tensor of shape \(3, 8\): an item's data"),
    ([torch.randn(4, 8) for _ in range(3)], r"sizes\[0\] is a Tensor of shape \(4, 8\): an item's data"),
    ([(torch.randn(n, 2), 1.0) for n in (3, 4)], r"sizes\[0\] is a tuple holding a Tensor of shape \(3, 2\)"),
    ([(np.ones((n, 2)), 0) for n in (3, 3)], r"sizes\[0\] is a tuple holding a ndarray of shape \(3, 2\)"),
])
def test_the_items_of_a_plain_dataset_given_as_sizes_say_to_pass_their_sizes(data, said):
    for make in (lambda: BalancedBatchSampler(data, 2), lambda: PackedBatchSampler(data, 100)):
        with pytest.raises(InvalidSizesError, match=said) as info:
            make()
        assert "[len(x) for x in data]" in str(info.value)


def test_rows_of_sizes_as_arrays_are_still_sizes():
    rows = [np.array([3, 6]), np.array([5, 10]), torch.tensor([4, 8])]
    assert sorted(i for b in BalancedBatchSampler(rows, 2) for i in b) == [0, 1, 2]


@pytest.mark.parametrize("given, missing", [
    (dict(rank=1), "num_replicas was not given"),
    (dict(num_replicas=2), "rank was not given"),
    ({}, "num_replicas and rank were not given"),
])
def test_without_a_process_group_the_missing_rank_or_world_size_is_named(given, missing):
    with pytest.raises(DistributedConfigError, match=missing):
        DistributedBalancedBatchSampler([1.0, 2.0, 3.0], batch_size=1, **given)
