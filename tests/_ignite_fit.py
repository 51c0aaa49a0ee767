"""A PyTorch Ignite training run with hullpack batch samplers in 2 gloo processes, run by
tests/test_ignite.py as a script: ``python _ignite_fit.py OUT_DIR PORT``.

``idist.Parallel(backend="gloo", nproc_per_node=2)`` starts the processes; each builds a
``DistributedBalancedBatchSampler`` (balanced and packed) in the function it runs, gives it to
``idist.auto_dataloader(dataset, batch_sampler=...)`` and trains with ``create_supervised_trainer``
on an ``idist.auto_model`` (DDP), the sampler's epoch set by an ``EPOCH_STARTED`` handler, as
docs/samplers.md shows. Every rank writes OUT_DIR/rank<r>.json: for each kind, the warnings
``auto_dataloader`` gave, whether it kept the batch sampler, ``len(loader)``, the engine's
``epoch_length`` and the item indices of each step of each epoch; the steps of a run resumed from
an Ignite ``Checkpoint`` taken mid-epoch; and the error of a plain ``BalancedBatchSampler`` there, and what
``setup_common_training_handlers(train_sampler=...)`` says to a hullpack sampler.
"""
import gc
import json
import os
import sys
import warnings

import numpy as np
import torch

import ignite.distributed as idist
from ignite.contrib.engines.common import setup_common_training_handlers
from ignite.engine import Engine, Events, create_supervised_trainer
from ignite.handlers import Checkpoint

N_ITEMS = 203
EPOCHS = 3
SEED = 5
BATCH_SIZE = 8
MAX_COST = 250.0
KINDS = ("distributed", "distributed-packed")
STOP_AT = 20  # the interrupted run stops before this iteration, 6 steps into epoch 1 (of 13 steps)
SAVE_EVERY = 4  # a checkpoint every 4 iterations: the last before STOP_AT, at 16, is 3 steps into epoch 1


def item_sizes() -> np.ndarray:
    return np.random.default_rng(0).lognormal(3.0, 1.0, N_ITEMS).round() + 1


def dataset() -> torch.utils.data.TensorDataset:
    # (features, index): the loss ignores the index, the recorder reads it
    return torch.utils.data.TensorDataset(torch.randn(N_ITEMS, 4, generator=torch.Generator().manual_seed(0)),
                                          torch.arange(N_ITEMS))


def make_sampler(kind: str):
    from hullpack.samplers import BalancedBatchSampler, DistributedBalancedBatchSampler

    mode = {"max_cost": MAX_COST} if kind.endswith("packed") else {"batch_size": BATCH_SIZE}
    if kind == "plain":
        return BalancedBatchSampler(item_sizes(), BATCH_SIZE, seed=SEED)
    return DistributedBalancedBatchSampler(item_sizes(), seed=SEED, **mode)


class Interrupted(Exception):
    pass


def train(kind: str, model, optimizer, stop_at: int | None = None, checkpoint_dir: str | None = None,
          resume_from: str | None = None) -> dict:
    """One Ignite run over EPOCHS epochs: what auto_dataloader did and the steps each epoch took."""
    sampler = make_sampler(kind)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loader = idist.auto_dataloader(dataset(), batch_sampler=sampler)
    trainer = create_supervised_trainer(model, optimizer, lambda y_pred, y: y_pred.pow(2).mean(),
                                        device=idist.device())
    steps: dict[int, list[list[int]]] = {}

    @trainer.on(Events.EPOCH_STARTED)
    def set_sampler_epoch(engine):  # the handler of docs/samplers.md
        sampler.set_epoch(engine.state.epoch - 1)
        done = engine.state.iteration % engine.state.epoch_length  # > 0 only in an epoch resumed mid-way
        if done:
            sampler.load_state_dict(sampler.state_dict(batches_done=done))

    @trainer.on(Events.ITERATION_STARTED)
    def record(engine):
        if engine.state.iteration == stop_at:
            raise Interrupted  # on every rank at the same step, before its all-reduce
        steps.setdefault(engine.state.epoch - 1, []).append(engine.state.batch[1].tolist())

    to_save = {"trainer": trainer, "model": model, "optimizer": optimizer}
    if checkpoint_dir is not None:
        trainer.add_event_handler(Events.ITERATION_COMPLETED(every=SAVE_EVERY),
                                  Checkpoint(to_save, checkpoint_dir, n_saved=1))
    if resume_from is not None:
        Checkpoint.load_objects(to_save, torch.load(resume_from, map_location="cpu", weights_only=False))
    try:
        trainer.run(loader, max_epochs=EPOCHS)
    except Interrupted:
        pass
    return {"warnings": [str(w.message) for w in caught], "kept": loader.batch_sampler is sampler,
            "len": len(loader), "epoch_length": trainer.state.epoch_length, "steps": steps}


def training(local_rank: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = idist.auto_model(torch.nn.Linear(4, 1))  # DDP over gloo: a rank with an extra step would hang
    optimizer = idist.auto_optim(torch.optim.SGD(model.parameters(), lr=0.01))
    rank = idist.get_rank()
    record = {"rank": rank, "world": idist.get_world_size()}
    for kind in KINDS:
        record[kind] = train(kind, model, optimizer)

    checkpoints = os.path.join(out_dir, "checkpoints")
    train("distributed", model, optimizer, stop_at=STOP_AT, checkpoint_dir=checkpoints)
    idist.barrier()  # rank 0 has written the checkpoint
    (last,) = os.listdir(checkpoints)
    record["resumed"] = train("distributed", model, optimizer, resume_from=os.path.join(checkpoints, last))
    record["checkpoint"] = last

    try:
        train("plain", model, optimizer)
        record["plain"] = None
    except Exception as exc:  # noqa: BLE001 - recorded for the test to check
        record["plain"] = f"{type(exc).__name__}: {exc}"
    try:  # Ignite's own set_epoch handler, which its distributed setup adds for a DistributedSampler only
        setup_common_training_handlers(Engine(lambda engine, batch: None), train_sampler=make_sampler("distributed"))
        record["common handlers"] = None
    except Exception as exc:  # noqa: BLE001 - recorded for the test to check
        record["common handlers"] = f"{type(exc).__name__}: {exc}"
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(record, f)
    # The DDP wrapper goes before the process group that idist.Parallel destroys when this returns:
    # left to the interpreter's exit, a gloo wrapper can keep a rank from ending (see _fabric_fit.py)
    del model, optimizer
    gc.collect()


if __name__ == "__main__":
    with idist.Parallel(backend="gloo", nproc_per_node=2, master_port=int(sys.argv[2])) as parallel:
        parallel.run(training, sys.argv[1])
