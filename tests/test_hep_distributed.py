"""Two gloo processes on localhost: DistributedSampler against DistributedBalancedBatchSampler."""
import numpy as np
import pytest

pytest.importorskip("torch_geometric")
from hullpack.hep import CollisionGraphs
from hullpack.hep.distributed import compare_distributed


@pytest.mark.slow  # processes that listen on ports
def test_balanced_sampler_evens_out_the_ranks():
    ds = CollisionGraphs(preset="high", num_events=32, seed=0)
    out = compare_distributed(ds, batch_size=4, world_size=2, hidden=8, num_steps=1)
    torch_s, ours = out["summary"]["DistributedSampler"], out["summary"]["DistributedBalancedBatchSampler"]
    assert torch_s["steps"] == ours["steps"] == 4
    # per step the two ranks' batches cost nearly the same with hullpack, not with random splits
    assert ours["mean_cost_spread"] < 0.05 < torch_s["mean_cost_spread"]
    assert ours["peak_cost_mib"] < torch_s["peak_cost_mib"]
    steps = np.array(out["steps"]["DistributedBalancedBatchSampler"])   # (ranks, steps, 4)
    assert steps.shape == (2, 4, 4) and (steps[:, :, 1] > 0).all()     # compute seconds recorded


@pytest.mark.slow  # processes that listen on ports
def test_distributed_comparison_on_graphs_without_edge_labels_or_features():
    import torch
    from torch_geometric.data import Data

    rng = np.random.default_rng(0)
    graphs = [Data(x=torch.randn(int(n), 5), edge_index=torch.from_numpy(rng.integers(0, n, (2, 3 * n))),
                   y=torch.tensor([1.0])) for n in rng.integers(5, 200, 16)]    # a graph label, no edge_attr
    out = compare_distributed(graphs, batch_size=4, world_size=2, hidden=8, num_steps=1)
    assert out["summary"]["DistributedBalancedBatchSampler"]["steps"] == 2
    assert out["summary"]["DistributedBalancedBatchSampler"]["peak_cost_mib"] > 0


def test_the_comparison_reads_sizes_and_labels_in_one_pass(monkeypatch):
    import collections

    import torch
    import torch.multiprocessing as mp
    from torch_geometric.data import Data

    from hullpack.hep.strategies import dataset_sizes
    from hullpack.hep.train import label_field, pos_weight_of
    from hullpack.samplers import MemoryModel

    class Counting(torch.utils.data.Dataset):   # a dataset that reads its graphs from disk, say
        def __init__(self, graphs):
            self.graphs, self.reads = graphs, collections.Counter()

        def __len__(self):
            return len(self.graphs)

        def __getitem__(self, i):
            self.reads[int(i)] += 1
            return self.graphs[i]

    rng = np.random.default_rng(0)
    graphs = [Data(x=torch.randn(int(n), 3), edge_index=torch.from_numpy(rng.integers(0, n, (2, 3 * n))),
                   y=torch.from_numpy(rng.integers(0, 2, 3 * n)).float()) for n in rng.integers(5, 200, 16)]
    ds = Counting(graphs)
    spawned = {}

    def spawn(fn, args, nprocs, join):
        spawned.update(sizes=args[3], cfg=args[5])

    monkeypatch.setattr(mp, "spawn", spawn)
    try:
        compare_distributed(ds, batch_size=4, hidden=8, num_steps=1, memory=MemoryModel([1.0, 1.0]))
    except FileNotFoundError:        # no ranks ran, so no result file
        pass
    # one pass decides the labels, reads the sizes and counts the true edges (was two, at first three)
    assert set(ds.reads.values()) == {1}
    np.testing.assert_array_equal(spawned["sizes"], dataset_sizes(graphs))
    assert spawned["cfg"]["labels"] == label_field(graphs) == "y"
    y = torch.cat([g.y for g in graphs])                 # the weight as it was computed from every label
    assert spawned["cfg"]["pos_weight"] == pos_weight_of(graphs) == float((y == 0).sum()) / float(y.sum())
    ds.reads.clear()                                     # with the labels named, still one pass
    try:
        compare_distributed(ds, batch_size=4, hidden=8, num_steps=1, memory=MemoryModel([1.0, 1.0]), labels="y")
    except FileNotFoundError:
        pass
    assert set(ds.reads.values()) == {1} and spawned["cfg"]["pos_weight"] == float((y == 0).sum()) / float(y.sum())
