"""A Lightning Fabric training loop with hullpack batch samplers and Fabric's default sampler handling
(``setup_dataloaders(use_distributed_sampler=True)``), run by tests/test_lightning.py as a script
(Fabric's "ddp" strategy re-runs the script in every process): ``python _fabric_fit.py OUT_DIR
[DEVICES]``.

Every rank writes OUT_DIR/rank<r>.json: for each sampler of KINDS, the number of batches its loader
announced (``len``) and the item indices of each step of each epoch.
"""
import json
import os
import sys

import numpy as np
import torch

import lightning as L

N_ITEMS = 203
EPOCHS = 3
SEED = 5
BATCH_SIZE = 8
MAX_COST = 250.0
KINDS = ("balanced", "packed")


def item_sizes() -> np.ndarray:
    return np.random.default_rng(0).lognormal(3.0, 1.0, N_ITEMS).round() + 1


def make_loader(kind: str) -> torch.utils.data.DataLoader:
    from hullpack.samplers import BalancedBatchSampler, PackedBatchSampler

    sampler = {
        "balanced": lambda: BalancedBatchSampler(item_sizes(), BATCH_SIZE, seed=SEED),
        "packed": lambda: PackedBatchSampler(item_sizes(), MAX_COST, seed=SEED),
    }[kind]()
    data = torch.utils.data.TensorDataset(torch.arange(N_ITEMS), torch.randn(N_ITEMS, 4))
    return torch.utils.data.DataLoader(data, batch_sampler=sampler)


def main(out_dir: str, devices: int) -> None:
    torch.set_num_threads(1)
    fabric = L.Fabric(accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto")
    fabric.launch()
    net = torch.nn.Linear(4, 1)
    model, optimizer = fabric.setup(net, torch.optim.SGD(net.parameters(), lr=0.01))
    record = {"rank": fabric.global_rank, "world": fabric.world_size}
    for kind in KINDS:
        loader = fabric.setup_dataloaders(make_loader(kind))
        steps: dict[int, list[list[int]]] = {}
        for epoch in range(EPOCHS):  # Fabric's loader sets the sampler's epoch at every pass
            for idx, x in loader:
                steps.setdefault(epoch, []).append(idx.tolist())
                fabric.backward(model(x).pow(2).mean())  # DDP all-reduces: a rank with an extra step would hang
                optimizer.step()
                optimizer.zero_grad()
        record[kind] = {"len": len(loader), "steps": steps}
    with open(os.path.join(out_dir, f"rank{fabric.global_rank}.json"), "w") as f:
        json.dump(record, f)
    # The DDP wrapper goes before its process group, as the Trainer's teardown does it: left to the
    # interpreter's exit, the group's last reference died with the wrapper while a gloo thread waited
    # for the GIL, and the process never ended (1 run in 3)
    del model, optimizer
    if torch.distributed.is_initialized():  # as _lightning_fit.py: not left to the teardown
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2)
