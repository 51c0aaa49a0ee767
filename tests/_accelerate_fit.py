"""A training loop under HF accelerate with every loader through ``accelerator.prepare()``, run by
tests/test_lightning.py in 2 processes (``torchrun --standalone --nproc_per_node 2``):
``_accelerate_fit.py OUT_DIR``.

Every rank writes OUT_DIR/rank<r>.json: for each sampler kind the item indices of each step of each
epoch, ``len()`` of the prepared loader, what ``gather_for_metrics`` returned for per-item outputs,
the steps of epoch RESUMED_EPOCH left after ``skip_first_batches`` and after a stateful loader's
``load_state_dict`` (when torchdata is installed), and the errors for ``split_batches=True`` and, for
a plain and a distributed sampler, ``dispatch_batches=True``, and for samplers built from the sizes
in another order in every process but the first.
"""
import importlib.util
import json
import os
import sys

import numpy as np
import torch
from accelerate import Accelerator, DataLoaderConfiguration

N_ITEMS = 203
EPOCHS = 2
SEED = 5
BATCH_SIZE = 8
MAX_COST = 250.0
SKIP = 3
RESUMED_EPOCH = 1
KINDS = ("balanced", "packed", "distributed", "distributed-packed")


def item_sizes() -> np.ndarray:
    return np.random.default_rng(0).lognormal(3.0, 1.0, N_ITEMS).round() + 1


def make_sampler(kind: str):
    from hullpack.samplers import BalancedBatchSampler, DistributedBalancedBatchSampler, PackedBatchSampler

    sizes = item_sizes()
    return {
        "balanced": lambda: BalancedBatchSampler(sizes, BATCH_SIZE, seed=SEED),
        "packed": lambda: PackedBatchSampler(sizes, MAX_COST, seed=SEED),
        "distributed": lambda: DistributedBalancedBatchSampler(sizes, BATCH_SIZE, seed=SEED),
        "distributed-packed": lambda: DistributedBalancedBatchSampler(sizes, max_cost=MAX_COST, seed=SEED),
    }[kind]()


def make_loader(kind: str, **kw) -> torch.utils.data.DataLoader:
    data = torch.utils.data.TensorDataset(torch.arange(N_ITEMS), torch.randn(N_ITEMS, 4))
    return torch.utils.data.DataLoader(data, batch_sampler=make_sampler(kind), **kw)


def main(out_dir: str) -> None:
    accelerator = Accelerator(cpu=True)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    model, optimizer = accelerator.prepare(model, optimizer)
    record = {"world": accelerator.num_processes}
    for kind in KINDS:
        workers = {"num_workers": 2} if kind == "packed" else {}
        loader = accelerator.prepare(make_loader(kind, **workers))
        steps, gathered = {}, {}
        for epoch in range(EPOCHS):
            steps[epoch], outputs = [], []
            for index, x in loader:
                loss = model(x).pow(2).mean()
                accelerator.backward(loss)
                optimizer.step()
                optimizer.zero_grad()
                steps[epoch].append(index.tolist())
                # batches hold different numbers of items: gather them as objects (or pad_across_processes)
                outputs += accelerator.gather_for_metrics(index.tolist(), use_gather_object=True)
            gathered[epoch] = outputs
        loader.set_epoch(RESUMED_EPOCH)  # resume that epoch after SKIP steps, as after load_state()
        skipped = accelerator.skip_first_batches(loader, SKIP)
        record[kind] = {"len": len(loader), "steps": steps, "gathered": gathered,
                        "after_skip": [index.tolist() for index, _ in skipped]}
    if importlib.util.find_spec("torchdata") is not None:
        stateful = Accelerator(cpu=True, dataloader_config=DataLoaderConfiguration(use_stateful_dataloader=True))
        for kind in ("balanced", "packed"):
            loader = stateful.prepare(make_loader(kind))
            loader.set_epoch(RESUMED_EPOCH)
            for step, _ in enumerate(loader):
                if step == SKIP - 1:
                    state = loader.state_dict()  # SKIP steps done
                    break
            resumed = stateful.prepare(make_loader(kind))
            resumed.set_epoch(RESUMED_EPOCH)  # several processes: the state holds no epoch, only a count
            resumed.load_state_dict(state)
            record[kind]["after_state"] = [index.tolist() for index, _ in resumed]
    for setting, kind in (("split_batches", "balanced"), ("dispatch_batches", "balanced"),
                          ("dispatch_batches", "distributed")):
        refused = Accelerator(cpu=True, dataloader_config=DataLoaderConfiguration(**{setting: True}))
        try:
            list(refused.prepare(make_loader(kind)))
            record[f"{setting} {kind}"] = None
        except Exception as exc:  # noqa: BLE001 - recorded for the test to check
            record[f"{setting} {kind}"] = f"{type(exc).__name__}: {exc}"
    # every process but the first builds its sampler from the sizes in another order
    sizes = item_sizes()[::-1] if accelerator.process_index > 0 else item_sizes()
    from hullpack.samplers import DistributedBalancedBatchSampler, PackedBatchSampler
    data = torch.utils.data.TensorDataset(torch.arange(N_ITEMS), torch.randn(N_ITEMS, 4))
    for kind, sampler in (("packed", PackedBatchSampler(sizes, MAX_COST, seed=SEED)),
                          ("distributed", DistributedBalancedBatchSampler(sizes, BATCH_SIZE, seed=SEED))):
        try:
            list(accelerator.prepare(torch.utils.data.DataLoader(data, batch_sampler=sampler)))
            record[f"reordered {kind}"] = None
        except Exception as exc:  # noqa: BLE001 - recorded for the test to check
            record[f"reordered {kind}"] = f"{type(exc).__name__}: {exc}"
    with open(os.path.join(out_dir, f"rank{accelerator.process_index}.json"), "w") as f:
        json.dump(record, f)
    # destroy the process group before exit: left to the interpreter's teardown, gloo's threads can
    # abort the process ("terminate called without an active exception")
    accelerator.end_training()


if __name__ == "__main__":
    main(sys.argv[1])
