"""A PyTorch Lightning prediction with a hullpack batch sampler, run by tests/test_lightning.py as a
script on two CPU processes (Lightning's "ddp" strategy re-runs the script in every process):
``python _lightning_predict.py OUT_DIR``. Every rank writes OUT_DIR/rank<r>.json: the item indices
of each batch it predicted. :class:`Predictor` also serves the tests that predict in-process.
"""
import json
import sys

import numpy as np
import torch

import lightning as L

N_ITEMS = 13
SEED = 2


def item_sizes() -> np.ndarray:
    return np.random.default_rng(0).lognormal(3.0, 1.0, N_ITEMS).round() + 1


class Predictor(L.LightningModule):
    """Predicts each batch of ``(indices, features)`` and returns its item indices; with ``out_dir``
    each rank writes them all to ``out_dir/rank<r>.json`` at the end."""

    def __init__(self, out_dir: str | None = None):
        super().__init__()
        self.net = torch.nn.Linear(4, 1)
        self.out_dir = out_dir

    def predict_step(self, batch, batch_idx):
        idx, x = batch
        self.net(x)
        return idx.tolist()

    def on_predict_epoch_end(self):
        if self.out_dir is not None:
            with open(f"{self.out_dir}/rank{self.global_rank}.json", "w") as f:
                json.dump(self.trainer.predict_loop.predictions, f)


if __name__ == "__main__":
    from hullpack.samplers import BalancedBatchSampler

    torch.set_num_threads(1)
    data = torch.utils.data.TensorDataset(torch.arange(N_ITEMS), torch.randn(N_ITEMS, 4))
    loader = torch.utils.data.DataLoader(data, batch_sampler=BalancedBatchSampler(item_sizes(), 1, seed=SEED))
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.predict(Predictor(sys.argv[1]), loader)
    # Lightning leaves a gloo group to the interpreter's teardown, where gloo's threads can abort the
    # process ("terminate called without an active exception"): end it while Python is alive
    torch.distributed.destroy_process_group()
