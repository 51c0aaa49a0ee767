"""A PyTorch Lightning fit with a hullpack batch sampler and the Trainer's default sampler handling,
run by tests/test_lightning.py as a script (Lightning's "ddp" strategy re-runs the script in every
process): ``python _lightning_fit.py OUT_DIR STRATEGY KIND WHERE [DEVICES [STAGE]]``.

KIND is the sampler (``balanced``, ``packed`` or ``distributed``; with ``-reordered``, every process
but the first builds it from the sizes in reverse order; with ``-pyg``, it batches PyG graphs of
those sizes through ``torch_geometric.loader.DataLoader``), WHERE where the DataLoader is built
(``script``: before ``Trainer.fit``, passed to it; ``hook``: in ``train_dataloader()``). STAGE is
``all`` (the default: EPOCHS epochs), ``first`` (EPOCHS - 1 epochs, checkpointed into OUT_DIR) or
``resume`` (from that checkpoint to EPOCHS). Every rank writes OUT_DIR/rank<r>.json: the item
indices of each step of each epoch this fit ran and the batch count Lightning announced.
"""
import glob
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


def item_sizes() -> np.ndarray:
    return np.random.default_rng(0).lognormal(3.0, 1.0, N_ITEMS).round() + 1


def make_loader(kind: str) -> torch.utils.data.DataLoader:
    from hullpack.samplers import BalancedBatchSampler, DistributedBalancedBatchSampler, PackedBatchSampler

    sizes = item_sizes()
    pyg = kind.endswith("-pyg")
    kind = kind.removesuffix("-pyg")
    if kind.endswith("-reordered"):  # every process but the first reads the items in another order
        kind = kind[:-len("-reordered")]
        sizes = sizes[::-1] if int(os.environ.get("LOCAL_RANK", "0")) > 0 else sizes
    sampler = {
        "balanced": lambda: BalancedBatchSampler(sizes, BATCH_SIZE, seed=SEED),
        "packed": lambda: PackedBatchSampler(sizes, MAX_COST, seed=SEED),
        "distributed": lambda: DistributedBalancedBatchSampler(sizes, BATCH_SIZE, seed=SEED),
    }[kind]()
    if pyg:  # graph i has sizes[i] nodes and knows its index
        from torch_geometric.data import Data
        from torch_geometric.loader import DataLoader

        graphs = [Data(x=torch.randn(int(n), 4), idx=torch.tensor([i])) for i, n in enumerate(item_sizes())]
        return DataLoader(graphs, batch_sampler=sampler)
    data = torch.utils.data.TensorDataset(torch.arange(N_ITEMS), torch.randn(N_ITEMS, 4))
    return torch.utils.data.DataLoader(data, batch_sampler=sampler)


class Recorder(L.LightningModule):
    def __init__(self, out_dir: str, kind: str | None = None):
        super().__init__()
        self.net = torch.nn.Linear(4, 1)
        self.out_dir, self.kind = out_dir, kind
        self.steps: dict[int, list[list[int]]] = {}
        self.announced: dict[int, int] = {}

    def train_dataloader(self):
        return make_loader(self.kind)

    def on_train_epoch_start(self):
        self.announced[self.current_epoch] = int(self.trainer.num_training_batches)

    def training_step(self, batch, batch_idx):
        idx, x = (batch.idx, batch.x) if hasattr(batch, "num_graphs") else batch
        self.steps.setdefault(self.current_epoch, []).append(idx.tolist())
        return self.net(x).pow(2).mean()  # DDP all-reduces: a rank with an extra step would hang

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def on_train_end(self):
        record = {"rank": self.global_rank, "world": self.trainer.world_size, "announced": self.announced,
                  "steps": self.steps}
        with open(os.path.join(self.out_dir, f"rank{self.global_rank}.json"), "w") as f:
            json.dump(record, f)


def main(out_dir: str, strategy: str, kind: str, where: str, devices: int, stage: str = "all") -> None:
    torch.set_num_threads(1)
    checkpoint = None
    if stage == "resume":
        (checkpoint,) = glob.glob(os.path.join(out_dir, "**", "*.ckpt"), recursive=True)
    trainer = L.Trainer(accelerator="cpu", devices=devices, strategy=strategy,
                        max_epochs=EPOCHS - 1 if stage == "first" else EPOCHS, default_root_dir=out_dir,
                        logger=False, enable_checkpointing=stage == "first", enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0)
    if where == "hook":
        trainer.fit(Recorder(out_dir, kind), ckpt_path=checkpoint)
    else:
        trainer.fit(Recorder(out_dir), train_dataloaders=make_loader(kind), ckpt_path=checkpoint)
    if torch.distributed.is_initialized():  # as _lightning_predict.py: not left to the teardown
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    out, strategy, kind, where = sys.argv[1:5]
    main(out, strategy, kind, where, int(sys.argv[5]) if len(sys.argv) > 5 else 2, *sys.argv[6:7])
