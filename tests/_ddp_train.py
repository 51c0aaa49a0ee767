"""Two-process DDP training with DistributedBalancedBatchSampler (gloo on localhost), run by
tests/test_distributed_sampler.py as a script: ``python _ddp_train.py OUT_DIR [WORLD_SIZE]``.

Each rank trains a tiny model on variable-size items for a few epochs (balanced mode, then packed
mode) and writes what it saw to OUT_DIR/rank<r>.json: the indices of every step, the step counts
and a checksum of the final parameters. ``python _ddp_train.py OUT_DIR WORLD_SIZE CASE`` instead
builds every rank's samplers from sizes that differ between ranks as CASE says (see ``mismatched``).
"""
import datetime
import json
import os
import socket
import sys

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

N_ITEMS = 203  # not a multiple of anything involved


def item_sizes() -> np.ndarray:
    return np.random.default_rng(0).lognormal(2.5, 0.8, N_ITEMS).round() + 1


class VariableItems(torch.utils.data.Dataset):
    """Item i is a set of size_i feature rows with one target: a stand-in for a graph."""

    def __init__(self, sizes):
        g = torch.Generator().manual_seed(0)
        self.x = [torch.randn(int(s), 4, generator=g) for s in sizes]
        self.y = [x.mean(0).sum() for x in self.x]

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i], i


def collate(items):
    xs, ys, idx = zip(*items)
    seg = torch.cat([torch.full((x.shape[0],), j) for j, x in enumerate(xs)])
    return torch.cat(xs), seg, torch.stack(ys), list(idx)


def train(rank: int, world: int, port: int, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=30))
    from hullpack.samplers import DistributedBalancedBatchSampler

    torch.manual_seed(0)
    sizes = item_sizes()
    ds = VariableItems(sizes)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    record = {"rank": rank, "epochs": []}
    samplers = {
        # num_replicas and rank come from torch.distributed
        "balanced": DistributedBalancedBatchSampler(sizes, batch_size=8, seed=3),
        "packed": DistributedBalancedBatchSampler(sizes, max_cost=120.0, seed=3),
    }
    for mode, epochs in (("balanced", (0, 1)), ("packed", (0,))):
        sampler = samplers[mode]
        loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, collate_fn=collate)
        for epoch in epochs:
            sampler.set_epoch(epoch)
            steps, losses = [], []
            for x, seg, y, idx in loader:
                counts = torch.bincount(seg, minlength=len(idx))
                pred = torch.zeros(len(idx)).index_add(0, seg, model(x).squeeze(1)) / counts
                loss = torch.nn.functional.mse_loss(pred, y)
                opt.zero_grad()
                loss.backward()  # all-reduce: a rank with an extra step would hang here
                opt.step()
                steps.append(idx)
                losses.append(float(loss))
            record["epochs"].append({"mode": mode, "epoch": epoch, "len": len(sampler), "steps": steps,
                                     "losses": losses})
    record["param_sum"] = float(sum(p.double().sum() for p in model.parameters()))
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(record, f)
    dist.barrier()
    del model, opt  # free DDP before its process group: its teardown can hang otherwise
    dist.destroy_process_group()


def mismatched(rank: int, world: int, port: int, out_dir: str, case: str) -> None:
    """Each rank builds its sampler from sizes that differ from rank 0's (``case``: ``order``, the same
    sizes in another order; ``length``, one item fewer; ``same``, no difference; ``opt-out``, other
    sizes with ``check_ranks=False``) and writes what iterating it gave to OUT_DIR/rank<r>.json."""
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=30))
    from hullpack.samplers import DistributedBalancedBatchSampler, PackedBatchSampler

    sizes = item_sizes()
    if rank > 0 and case in ("order", "opt-out"):
        sizes = np.random.default_rng(rank).permutation(sizes)
    elif rank > 0 and case == "length":
        sizes = sizes[:-1]
    record = {"rank": rank}
    for name, make in (
            ("distributed", lambda: DistributedBalancedBatchSampler(sizes, batch_size=8, seed=3,
                                                                   check_ranks=case != "opt-out")),
            # as PyTorch Lightning re-creates a plain sampler for each rank under DDP
            ("lightning", lambda: PackedBatchSampler(sizes, max_cost=120.0, seed=3, check_ranks=case != "opt-out",
                                                     sampler=torch.utils.data.DistributedSampler(sizes)))):
        try:
            record[name] = {"batches": list(make())}
        except ValueError as exc:
            record[name] = {"error": f"{type(exc).__name__}: {exc}"}
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(record, f)
    dist.barrier()
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    out = sys.argv[1]
    world = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    torch.set_num_threads(1)
    if len(sys.argv) > 3:  # mismatched sizes: ORDER, LENGTH, SAME or OPT-OUT
        mp.spawn(mismatched, args=(world, free_port(), out, sys.argv[3]), nprocs=world, join=True)
    else:
        mp.spawn(train, args=(world, free_port(), out), nprocs=world, join=True)
