"""Two gloo processes on localhost: DistributedSampler against DistributedBalancedBatchSampler."""
import numpy as np

from hullpack.hep import CollisionGraphs
from hullpack.hep.distributed import compare_distributed


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


def test_distributed_comparison_on_graphs_without_edge_labels_or_features():
    import torch
    from torch_geometric.data import Data

    rng = np.random.default_rng(0)
    graphs = [Data(x=torch.randn(int(n), 5), edge_index=torch.from_numpy(rng.integers(0, n, (2, 3 * n))),
                   y=torch.tensor([1.0])) for n in rng.integers(5, 200, 16)]    # a graph label, no edge_attr
    out = compare_distributed(graphs, batch_size=4, world_size=2, hidden=8, num_steps=1)
    assert out["summary"]["DistributedBalancedBatchSampler"]["steps"] == 2
    assert out["summary"]["DistributedBalancedBatchSampler"]["peak_cost_mib"] > 0
