"""hullpack samplers in trainers that manage samplers themselves, under their default settings:
PyTorch Lightning (one process, and DDP with 2 gloo processes) and HF accelerate (one process)."""
import importlib.util
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from hullpack.errors import DistributedConfigError
from hullpack.samplers import BalancedBatchSampler, DistributedBalancedBatchSampler, LinearCost, PackedBatchSampler
from hullpack.samplers.trainers import accelerate_shard

L = pytest.importorskip("lightning")

HERE = os.path.dirname(os.path.abspath(__file__))


def script_module(name: str):
    """A script of this folder (_lightning_fit, _lightning_predict, _accelerate_fit) imported as a
    module, for the settings and classes the tests share with the processes it runs in."""
    sys.path.insert(0, HERE)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(HERE)


def process_env(**settings: str) -> dict:
    """The environment of the processes a test starts: one thread each, no warnings, ``settings``, and
    none of the launcher's variables this process may have inherited (the run sets its own)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore", **settings)
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    return env


N = 203


def sizes_of(n=N, k=None, seed=0):
    return np.random.default_rng(seed).lognormal(3.0, 1.0, n if k is None else (n, k)).round() + 1


def dataset(n=N):
    return TensorDataset(torch.arange(n), torch.randn(n, 4))


def quiet_trainer(**kw):
    defaults = {"accelerator": "cpu", "logger": False, "enable_checkpointing": False, "enable_progress_bar": False,
                "enable_model_summary": False, "num_sanity_val_steps": 0}
    return L.Trainer(**{**defaults, **kw})


class Recorder(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(4, 1)
        self.steps = {}

    def training_step(self, batch, batch_idx):
        idx, x = batch
        self.steps.setdefault(self.current_epoch, []).append(idx.tolist())
        return self.net(x).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def epoch_batches(sampler, epoch):
    sampler.set_epoch(epoch)
    return list(sampler)


@pytest.mark.parametrize("make", [lambda s: BalancedBatchSampler(s, 8, seed=3),
                                  lambda s: PackedBatchSampler(s, 250.0, seed=3)], ids=["balanced", "packed"])
def test_single_process_trainer_gives_a_new_epoch_every_epoch(make):
    sampler = make(sizes_of())
    model = Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice on workers and logging
        quiet_trainer(devices=1, max_epochs=3).fit(model, DataLoader(dataset(), batch_sampler=sampler))
    assert sorted(model.steps) == [0, 1, 2]
    for epoch, steps in model.steps.items():
        assert sorted(i for b in steps for i in b) == list(range(N))
        # the trainer moved the sampler through its epochs: the batches of that epoch, in order
        assert steps == epoch_batches(make(sizes_of()), epoch)
    assert model.steps[0] != model.steps[1] != model.steps[2]


def test_trainer_with_default_arguments_trains_every_item_in_every_packed_epoch(tmp_path):
    # Sizes and budgets (one per column) whose epochs 1 and 2 pack into more batches than the count,
    # 802, and are packed again: Lightning reads len() once, so an epoch with more batches than the
    # first would lose its last ones.
    r = np.random.default_rng(0)
    atoms = r.integers(20, 226, 3000)
    sizes = np.column_stack([atoms, atoms * r.integers(20, 40, 3000)]).astype(float)
    sampler = PackedBatchSampler(sizes, list(4 * np.median(sizes, axis=0)), seed=5, oversize="alone")
    model = Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice on workers and logging
        trainer = L.Trainer(accelerator="cpu", max_epochs=3, default_root_dir=tmp_path)  # defaults, files in tmp
        trainer.fit(model, DataLoader(dataset(3000), batch_sampler=sampler))
    assert sorted(model.steps) == [0, 1, 2]
    for epoch, steps in model.steps.items():
        assert len(steps) == 802
        assert sorted(i for b in steps for i in b) == list(range(3000))
    assert sampler.stats(1)["repacked"] and sampler.stats(2)["repacked"]  # the case this guards


@pytest.mark.parametrize("make", [lambda s: BalancedBatchSampler(s, 8, seed=3),
                                  lambda s: PackedBatchSampler(s, 250.0, seed=3)], ids=["balanced", "packed"])
def test_fit_resumed_from_a_checkpoint_gives_the_resumed_epochs_their_batches(make, tmp_path):
    """Trainer.fit(ckpt_path=...) creates the loader's iterator before it sets the resumed epoch: the
    sampler reads the epoch at the first batch, so epoch 2 gets epoch 2's batches, not epoch 0's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice on workers and logging
        quiet_trainer(devices=1, max_epochs=2, enable_checkpointing=True, default_root_dir=tmp_path).fit(
            Recorder(), DataLoader(dataset(), batch_sampler=make(sizes_of())))
        (checkpoint,) = tmp_path.glob("**/*.ckpt")  # the default ModelCheckpoint's, at the end of epoch 1
        resumed = Recorder()
        quiet_trainer(devices=1, max_epochs=4).fit(resumed, DataLoader(dataset(), batch_sampler=make(sizes_of())),
                                                   ckpt_path=checkpoint)
    assert sorted(resumed.steps) == [2, 3]
    for epoch, steps in resumed.steps.items():
        assert steps == epoch_batches(make(sizes_of()), epoch)


class Interrupted(Exception):
    pass


@pytest.mark.parametrize("num_workers", [0, 2])
def test_fit_resumed_mid_epoch_with_a_stateful_dataloader_continues_the_epoch(num_workers, tmp_path):
    """Lightning saves a StatefulDataLoader's state, the sampler's with it: the resumed epoch yields the
    batches left, and len() stays the epoch's, so the epochs after it are whole."""
    stateful = pytest.importorskip("torchdata.stateful_dataloader")
    from lightning.pytorch.callbacks import ModelCheckpoint

    def loader():
        return stateful.StatefulDataLoader(dataset(), batch_sampler=BalancedBatchSampler(sizes_of(), 8, seed=3),
                                           num_workers=num_workers)

    class StopsInEpoch1(Recorder):
        def on_train_batch_start(self, batch, batch_idx):
            if (self.current_epoch, batch_idx) == (1, 6):
                raise Interrupted

    every_2_steps = ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=2, save_top_k=-1,
                                    save_on_train_epoch_end=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice on workers and logging
        with pytest.raises(Interrupted):
            quiet_trainer(devices=1, max_epochs=3, enable_checkpointing=True, callbacks=[every_2_steps]).fit(
                StopsInEpoch1(), loader())
        batches_per_epoch = len(epoch_batches(BalancedBatchSampler(sizes_of(), 8, seed=3), 0))
        checkpoint = tmp_path / f"epoch=1-step={batches_per_epoch + 4}.ckpt"  # 4 batches into epoch 1
        resumed = Recorder()
        quiet_trainer(devices=1, max_epochs=3).fit(resumed, loader(), ckpt_path=checkpoint)
    assert sorted(resumed.steps) == [1, 2]
    assert resumed.steps[1] == epoch_batches(BalancedBatchSampler(sizes_of(), 8, seed=3), 1)[4:]
    assert resumed.steps[2] == epoch_batches(BalancedBatchSampler(sizes_of(), 8, seed=3), 2)


def lightning_recreated(loader, sampler, predicting=False):
    """The DataLoader Lightning builds from ``loader`` when it adds ``sampler`` (its DDP route)."""
    from lightning.pytorch.trainer.states import RunningStage
    from lightning.pytorch.utilities.data import _update_dataloader

    return _update_dataloader(loader, sampler, mode=RunningStage.PREDICTING if predicting else None)


RECREATED = {
    "balanced": (lambda s, **w: BalancedBatchSampler(s, 8, seed=1, **w),
                 lambda s, **w: DistributedBalancedBatchSampler(s, 8, seed=1, **w)),
    "packed two budgets": (lambda s, **w: PackedBatchSampler(s, [600.0, 600.0], seed=1, **w),
                           lambda s, **w: DistributedBalancedBatchSampler(s, max_cost=[600.0, 600.0], seed=1, **w)),
    "packed cost model": (lambda s, **w: PackedBatchSampler(s, 900.0, cost=LinearCost([1.0, 0.5], 2.0), seed=1,
                                                            drop_last=True, **w),
                          lambda s, **w: DistributedBalancedBatchSampler(s, max_cost=900.0, weights=[1.0, 0.5],
                                                                         bias=2.0, seed=1, drop_last=True, **w)),
    # built in each of 3 processes for its rank, then re-created by the trainer for that rank
    "distributed": (lambda s, **w: DistributedBalancedBatchSampler(s, 8, seed=1, shuffle=False, **w),
                    lambda s, **w: DistributedBalancedBatchSampler(s, 8, seed=1, shuffle=False, **w)),
}


@pytest.mark.parametrize("kind", list(RECREATED))
def test_lightning_recreation_gives_each_rank_its_share(kind):
    make, reference = RECREATED[kind]
    sizes = sizes_of(k=2)
    world = 3 if kind == "distributed" else 2
    per_rank = []
    for rank in range(world):
        own = {"num_replicas": world, "rank": rank} if kind == "distributed" else {}
        loader = DataLoader(dataset(), batch_sampler=make(sizes, **own))
        new = lightning_recreated(loader, DistributedSampler(loader.dataset, num_replicas=world, rank=rank))
        assert type(new.batch_sampler) is type(loader.batch_sampler)
        from lightning.fabric.utilities.data import _set_sampler_epoch

        _set_sampler_epoch(new, 4)  # what the fit loop does at every epoch
        expected = epoch_batches(reference(sizes, num_replicas=world, rank=rank), 4)
        got = [idx.tolist() for idx, _ in new]
        assert got == expected and len(new) == len(expected)
        per_rank.append(got)
    assert len({len(b) for b in per_rank}) == 1  # equal steps on every rank
    seen = sorted(i for batches in per_rank for b in batches for i in b)
    assert len(seen) == len(set(seen))  # nothing twice
    if kind != "packed cost model":  # drop_last=True there leaves the lightest batches out
        assert seen == list(range(N))


class GraphBatches(BalancedBatchSampler):
    """A subclass with a constructor of its own, as users write to fix their settings in one place."""

    def __init__(self, sizes, sampler=None):
        super().__init__(sizes, 8, seed=1, sampler=sampler)


class FixedBatches(BalancedBatchSampler):
    def __init__(self, sizes):
        super().__init__(sizes, 8, seed=1)


class ForwardingBatches(BalancedBatchSampler):
    def __init__(self, sizes, **kwargs):
        super().__init__(sizes, 8, seed=1, **kwargs)


def test_lightning_recreates_a_subclass_with_its_own_constructor():
    """Lightning re-creates a subclass from the arguments its own constructor was given, as it does for
    BatchSampler subclasses: GraphBatches(sizes, sampler=...), not BalancedBatchSampler's arguments."""
    sizes = sizes_of()
    for cls in (GraphBatches, ForwardingBatches):
        per_rank = []
        for rank in range(2):
            loader = DataLoader(dataset(), batch_sampler=cls(sizes))
            new = lightning_recreated(loader, DistributedSampler(loader.dataset, num_replicas=2, rank=rank))
            assert type(new.batch_sampler) is cls
            reference = DistributedBalancedBatchSampler(sizes, 8, seed=1, num_replicas=2, rank=rank)
            per_rank.append([idx.tolist() for idx, _ in new])
            assert per_rank[-1] == list(reference)
        assert sorted(i for batches in per_rank for b in batches for i in b) == list(range(N))
    # a constructor without sampler=: Lightning says what to add
    loader = DataLoader(dataset(), batch_sampler=FixedBatches(sizes))
    with pytest.raises(TypeError, match="expose an argument `sampler`"):
        lightning_recreated(loader, DistributedSampler(loader.dataset, num_replicas=2, rank=0))


def test_accelerate_shards_a_subclass_with_its_own_constructor():
    """accelerate's shard of each process builds the sampler again for its rank from the subclass's
    own constructor's arguments, as Lightning does; without a sampler argument it says what to add."""
    shards = pytest.importorskip("accelerate.data_loader")
    sizes = sizes_of()
    for cls in (GraphBatches, ForwardingBatches):
        for r in range(2):
            shard = shards.BatchSamplerShard(cls(sizes), num_processes=2, process_index=r)
            reference = DistributedBalancedBatchSampler(sizes, 8, seed=1, num_replicas=2, rank=r)
            assert list(shard) == epoch_batches(reference, 0), (cls, r)
    with pytest.raises(DistributedConfigError, match="FixedBatches.__init__ takes no 'sampler' argument"):
        list(shards.BatchSamplerShard(FixedBatches(sizes), num_processes=2, process_index=0))


def test_lightning_recreation_for_prediction_keeps_every_item():
    from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSamplerWrapper

    sizes = sizes_of()
    loader = DataLoader(dataset(), batch_sampler=BalancedBatchSampler(sizes, 10, drop_last=True, seed=0))
    assert sum(len(b) for b in loader.batch_sampler) == 200  # drop_last: 3 items sit out
    wrapped = UnrepeatedDistributedSamplerWrapper(loader.sampler, num_replicas=1, rank=0, shuffle=False)
    new = lightning_recreated(loader, wrapped, predicting=True)
    assert sorted(i for idx, _ in new for i in idx.tolist()) == list(range(N))  # predicting: all of them


PREDICTED = {  # sizes, the sampler, whether training on 2, 3 or 4 ranks repeats items
    "balanced bs=1": (sizes_of(), lambda s: BalancedBatchSampler(s, 1, seed=2, drop_last=True), True),
    "balanced": (sizes_of(), lambda s: BalancedBatchSampler(s, 8, seed=2), False),
    "packed one item a batch": (np.arange(10.0, 15.0), lambda s: PackedBatchSampler(s, 14.0, seed=2), True),
    "packed small set": (sizes_of(7), lambda s: PackedBatchSampler(s, 3 * float(s.max()), shuffle=False), False),
}


@pytest.mark.parametrize("kind", list(PREDICTED))
@pytest.mark.parametrize("world", [2, 3, 4])
def test_lightning_prediction_on_several_devices_predicts_every_item_once(kind, world):
    """trainer.predict re-creates the batch sampler with Lightning's UnrepeatedDistributedSampler
    (and drop_last=False): every item in one batch of one rank, none repeated, the ranks' counts at
    most one apart; where training repeats nothing, the batches are training's with drop_last=False."""
    from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSamplerWrapper

    sizes, make, repeated = PREDICTED[kind]
    n = len(sizes)
    predicted, trained = [], []
    for rank in range(world):
        loader = DataLoader(dataset(n), batch_sampler=make(sizes))
        share = UnrepeatedDistributedSamplerWrapper(loader.sampler, num_replicas=world, rank=rank, shuffle=False)
        new = lightning_recreated(loader, share, predicting=True)
        predicted.append([idx.tolist() for idx, _ in new])
        assert len(new) == len(predicted[-1]) >= 1
        kwargs = {**loader.batch_sampler.init_kwargs(), "drop_last": False,
                  "sampler": DistributedSampler(loader.dataset, num_replicas=world, rank=rank)}
        trained.append(list(type(loader.batch_sampler)(**kwargs)))
    items = [i for batches in predicted for b in batches for i in b]
    assert sorted(items) == list(range(n))  # every item once
    assert max(map(len, predicted)) - min(map(len, predicted)) <= 1
    repeats = sum(len(b) for batches in trained for b in batches) - n
    assert (repeats > 0) == repeated
    if repeats:  # training: equal counts, some items twice
        assert len({len(b) for b in trained}) == 1 and sum(map(len, predicted)) == sum(map(len, trained)) - repeats
    else:
        assert predicted == trained


def test_lightning_prediction_on_one_device_predicts_every_item():
    """On one device Lightning re-creates the batch sampler around the DataLoader's SequentialSampler
    (with drop_last=False): it yields the batches of the sampler built so; it raised before."""
    sizes = sizes_of()
    loader = DataLoader(dataset(), batch_sampler=BalancedBatchSampler(sizes, 10, seed=0, drop_last=True))
    new = lightning_recreated(loader, loader.sampler, predicting=True)
    expected = list(BalancedBatchSampler(sizes, 10, seed=0))
    assert [idx.tolist() for idx, _ in new] == expected and len(new) == 21


@pytest.mark.parametrize("make", [lambda s: BalancedBatchSampler(s, 8, seed=3, drop_last=True),
                                  lambda s: PackedBatchSampler(s, 250.0, seed=3)], ids=["balanced", "packed"])
def test_trainer_predict_on_one_device_predicts_every_item(make):
    loader = DataLoader(dataset(), batch_sampler=make(sizes_of()))
    out = quiet_trainer(devices=1).predict(script_module("_lightning_predict").Predictor(), loader)
    assert sorted(i for idx in out for i in idx) == list(range(N))


@pytest.mark.slow
def test_lightning_ddp_prediction_predicts_every_item_once(tmp_path):
    """13 graphs, batch_size=1, 2 processes: training repeats one graph to give both ranks 7 steps;
    prediction runs 7 and 6 batches, every graph once."""
    run = script_module("_lightning_predict")
    env = process_env()
    res = subprocess.run([sys.executable, os.path.join(HERE, "_lightning_predict.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert sorted(map(len, ranks)) == [6, 7]
    assert run.N_ITEMS == 13 and sorted(i for batches in ranks for b in batches for i in b) == list(range(13))
    for r, batches in enumerate(ranks):
        expected = DistributedBalancedBatchSampler(run.item_sizes(), 1, num_replicas=2, rank=r, seed=run.SEED,
                                                   even=False)
        assert batches == list(expected)


def test_a_conflicting_world_is_named():
    from hullpack.errors import DistributedConfigError

    sizes = sizes_of()
    loader = DataLoader(dataset(), batch_sampler=DistributedBalancedBatchSampler(sizes, 8, num_replicas=3, rank=0))
    with pytest.raises(DistributedConfigError, match=r"num_replicas = 3 and rank = 0 disagree with sampler="):
        lightning_recreated(loader, DistributedSampler(loader.dataset, num_replicas=2, rank=0))


def run_fit(out_dir, strategy, kind, where, stage="all"):
    env = process_env(HULLPACK_QUIET="1")
    res = subprocess.run([sys.executable, os.path.join(HERE, "_lightning_fit.py"), str(out_dir), strategy, kind,
                          where, "2", stage], capture_output=True, text=True, timeout=300, env=env, cwd=out_dir)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    return [json.loads((out_dir / f"rank{r}.json").read_text()) for r in (0, 1)]


@pytest.mark.slow
@pytest.mark.parametrize("strategy,kind,where", [("ddp", "balanced", "script"), ("ddp_spawn", "packed", "hook"),
                                                  ("ddp", "packed-pyg", "script")])
def test_lightning_ddp_with_default_trainer_arguments(tmp_path, strategy, kind, where):
    """packed-pyg: PyG graphs through torch_geometric.loader.DataLoader, which Lightning re-creates too."""
    if kind.endswith("-pyg"):
        pytest.importorskip("torch_geometric")
    fit = script_module("_lightning_fit")
    ranks = run_fit(tmp_path, strategy, kind, where)
    assert [r["world"] for r in ranks] == [2, 2]
    mode = {"batch_size": fit.BATCH_SIZE} if kind == "balanced" else {"max_cost": fit.MAX_COST}
    for epoch in map(str, range(fit.EPOCHS)):
        steps = [r["steps"][epoch] for r in ranks]
        # equal steps on every rank, as announced before the epoch
        assert len(steps[0]) == len(steps[1]) == ranks[0]["announced"][epoch] == ranks[1]["announced"][epoch] > 0
        seen = sorted(i for rank_steps in steps for b in rank_steps for i in b)
        assert seen == list(range(fit.N_ITEMS))  # every index exactly once per epoch across ranks
        for r, rank_steps in enumerate(steps):  # each rank's share of DistributedBalancedBatchSampler's plan
            reference = DistributedBalancedBatchSampler(fit.item_sizes(), num_replicas=2, rank=r, seed=fit.SEED, **mode)
            assert rank_steps == epoch_batches(reference, int(epoch))
    assert ranks[0]["steps"]["0"] != ranks[0]["steps"]["1"] != ranks[0]["steps"]["2"]  # a new permutation


@pytest.mark.slow
def test_lightning_ddp_with_sizes_in_another_order_on_one_rank_stops_every_rank(tmp_path):
    """A plain sampler that Lightning re-creates for each rank, built from the sizes in another order on
    rank 1: both ranks stop at the first batch with the same error instead of training some items
    twice and others never (and neither waits for the other)."""
    env = process_env(HULLPACK_QUIET="1")
    res = subprocess.run([sys.executable, os.path.join(HERE, "_lightning_fit.py"), str(tmp_path), "ddp",
                          "packed-reordered", "script", "2"], capture_output=True, text=True, timeout=300, env=env,
                         cwd=tmp_path)
    assert res.returncode != 0
    for rank in (0, 1):
        assert (f"[rank{rank}]: hullpack.errors.DistributedConfigError: PackedBatchSampler: the ranks of this "
                "torch.distributed group built their samplers from different inputs (rank 1: as many items (203) "
                "of other costs: other sizes, the same sizes in another order, or another cost model)") in res.stderr
    assert not list(tmp_path.glob("rank*.json"))  # no epoch was trained


@pytest.mark.slow
def test_lightning_ddp_resumed_from_a_checkpoint(tmp_path):
    """Each rank's resumed epoch is that epoch's share, not epoch 0's (the trainer sets the epoch after
    it creates the loader's iterator)."""
    fit = script_module("_lightning_fit")
    run_fit(tmp_path, "ddp", "balanced", "script", stage="first")
    ranks = run_fit(tmp_path, "ddp", "balanced", "script", stage="resume")
    last = fit.EPOCHS - 1
    for r, record in enumerate(ranks):
        assert list(record["steps"]) == [str(last)]
        reference = DistributedBalancedBatchSampler(fit.item_sizes(), fit.BATCH_SIZE, num_replicas=2, rank=r,
                                                    seed=fit.SEED)
        assert record["steps"][str(last)] == epoch_batches(reference, last) != epoch_batches(reference, 0)


def test_fabric_on_one_device_gives_every_item_once_and_a_new_epoch_every_pass():
    """Fabric's loader sets the sampler's epoch at every pass, as Lightning's Trainer does."""
    fit = script_module("_fabric_fit")
    fabric = L.Fabric(accelerator="cpu", devices=1)
    for kind in fit.KINDS:
        loader = fabric.setup_dataloaders(fit.make_loader(kind))
        epochs = [[idx.tolist() for idx, _ in loader] for _ in range(fit.EPOCHS)]
        for epoch, steps in enumerate(epochs):
            assert sorted(i for b in steps for i in b) == list(range(fit.N_ITEMS)), kind
            assert steps == epoch_batches(fit.make_loader(kind).batch_sampler, epoch), kind
        assert epochs[0] != epochs[1] != epochs[2], kind


@pytest.mark.slow
def test_fabric_ddp_with_default_arguments(tmp_path):
    """Fabric's setup_dataloaders under DDP re-creates the batch sampler for each rank, as the Trainer
    does: each rank gets its share of DistributedBalancedBatchSampler's plan, equal steps, every index
    once per epoch across ranks."""
    fit = script_module("_fabric_fit")
    env = process_env(HULLPACK_QUIET="1")
    res = subprocess.run([sys.executable, os.path.join(HERE, "_fabric_fit.py"), str(tmp_path), "2"],
                         capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    for kind in fit.KINDS:
        mode = {"batch_size": fit.BATCH_SIZE} if kind == "balanced" else {"max_cost": fit.MAX_COST}
        for epoch in map(str, range(fit.EPOCHS)):
            steps = [r[kind]["steps"][epoch] for r in ranks]
            assert len(steps[0]) == len(steps[1]) == ranks[0][kind]["len"] == ranks[1][kind]["len"] > 0, kind
            seen = sorted(i for rank_steps in steps for b in rank_steps for i in b)
            assert seen == list(range(fit.N_ITEMS)), kind  # every index exactly once per epoch across ranks
            for r, rank_steps in enumerate(steps):
                reference = DistributedBalancedBatchSampler(fit.item_sizes(), num_replicas=2, rank=r, seed=fit.SEED,
                                                            **mode)
                assert rank_steps == epoch_batches(reference, int(epoch)), (kind, r)
        assert ranks[0][kind]["steps"]["0"] != ranks[0][kind]["steps"]["1"]  # a new permutation


def test_accelerate_prepare_single_process():
    accelerate = pytest.importorskip("accelerate")
    sizes = sizes_of()
    accelerator = accelerate.Accelerator(cpu=True)
    for make in (lambda: BalancedBatchSampler(sizes, 8, seed=2), lambda: PackedBatchSampler(sizes, 250.0, seed=2)):
        loader = accelerator.prepare(DataLoader(dataset(), batch_sampler=make()))
        epochs = [[idx.tolist() for idx, _ in loader] for _ in range(3)]  # accelerate counts the epochs
        for epoch, steps in enumerate(epochs):
            assert sorted(i for b in steps for i in b) == list(range(N))
            assert steps == epoch_batches(make(), epoch)
        assert epochs[0] != epochs[1] != epochs[2]


def test_accelerate_prepared_loader_resumes_mid_epoch_as_the_docs_say():
    """Under prepare() the sampler runs a batch ahead of the loop (accelerate looks one batch ahead),
    and a new prepared loader sets epoch 0: the recipe in docs/samplers.md resumes exactly."""
    accelerate = pytest.importorskip("accelerate")
    sizes = sizes_of()
    accelerator = accelerate.Accelerator(cpu=True)
    sampler = PackedBatchSampler(sizes, 250.0, seed=2)
    loader = accelerator.prepare(DataLoader(dataset(), batch_sampler=sampler))
    [None for _ in loader]  # epoch 0
    done = []
    for step, (idx, _) in enumerate(loader):  # epoch 1, stopped after 5 steps
        done.append(idx.tolist())
        if step == 4:
            break
    assert sampler.state_dict()["batches_done"] == 6  # one ahead, with num_workers=0
    state = sampler.state_dict(batches_done=5)

    resumed = PackedBatchSampler(sizes, 250.0, seed=2)
    new_loader = accelerator.prepare(DataLoader(dataset(), batch_sampler=resumed))
    new_loader.set_epoch(1)
    resumed.load_state_dict(state)
    assert done + [idx.tolist() for idx, _ in new_loader] == epoch_batches(PackedBatchSampler(sizes, 250.0, seed=2), 1)


@pytest.mark.slow
def test_accelerate_prepare_in_two_processes(tmp_path):
    """accelerate's prepare() deals each process its rank's batches: DistributedBalancedBatchSampler's
    (every index once per epoch across processes, equal steps), whole batches, exact metrics."""
    pytest.importorskip("accelerate")
    fit = script_module("_accelerate_fit")
    env = process_env(HULLPACK_QUIET="1")
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          os.path.join(HERE, "_accelerate_fit.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    for kind in fit.KINDS:
        mode = {"batch_size": fit.BATCH_SIZE} if kind in ("balanced", "distributed") else {"max_cost": fit.MAX_COST}
        for epoch in map(str, range(fit.EPOCHS)):
            steps = [r[kind]["steps"][epoch] for r in ranks]
            assert len(steps[0]) == len(steps[1]) == ranks[0][kind]["len"] > 0
            seen = sorted(i for rank_steps in steps for b in rank_steps for i in b)
            assert seen == list(range(fit.N_ITEMS)), kind  # every index exactly once per epoch across ranks
            assert sorted(ranks[0][kind]["gathered"][epoch]) == seen  # nothing cut, nothing repeated
            for r, rank_steps in enumerate(steps):  # each rank's share, as under DDP and Lightning
                reference = DistributedBalancedBatchSampler(fit.item_sizes(), num_replicas=2, rank=r, seed=fit.SEED,
                                                            **mode)
                assert rank_steps == epoch_batches(reference, int(epoch)), (kind, r)
        assert ranks[0][kind]["steps"]["0"] != ranks[0][kind]["steps"]["1"]  # a new epoch each pass
        for r in (0, 1):  # skip_first_batches resumes this rank's epoch after fit.SKIP of its batches
            reference = DistributedBalancedBatchSampler(fit.item_sizes(), num_replicas=2, rank=r, seed=fit.SEED, **mode)
            assert ranks[r][kind]["after_skip"] == epoch_batches(reference, fit.RESUMED_EPOCH)[fit.SKIP:], (kind, r)
            if kind in ("balanced", "packed") and importlib.util.find_spec("torchdata") is not None:
                # a stateful loader's state, loaded after set_epoch, resumes the same
                assert ranks[r][kind]["after_state"] == ranks[r][kind]["after_skip"], (kind, r)
    for r in (0, 1):  # refused in every process, none left waiting for the others
        for setting, kind in (("split_batches", "balanced"), ("dispatch_batches", "balanced"),
                              ("dispatch_batches", "distributed")):
            error = ranks[r][f"{setting} {kind}"]
            assert error.startswith("DistributedConfigError") and f"{setting}=True" in error, (setting, kind, error)
        for kind, name in (("packed", "PackedBatchSampler"), ("distributed", "DistributedBalancedBatchSampler")):
            error = ranks[r][f"reordered {kind}"]  # sizes in another order on rank 1: refused on both
            assert error.startswith(f"DistributedConfigError: {name}: the ranks of this torch.distributed group "
                                    "built their samplers from different inputs (rank 1: as many items (203)"), error


@pytest.mark.parametrize("make", [lambda s: BalancedBatchSampler(s, 8, seed=2), lambda s: PackedBatchSampler(s, 250.0, seed=2),
                                  lambda s: BalancedBatchSampler(s, 8, seed=2, drop_last=True)],
                         ids=["balanced", "packed", "balanced-drop-last"])
def test_accelerate_shard_keeps_each_process_its_ranks_batches(make):
    """What accelerate.prepare() builds for each of 3 processes, iterated in this one."""
    shards = pytest.importorskip("accelerate.data_loader")
    sizes = sizes_of()
    sampler = make(sizes)
    mode = {"max_cost": 250.0} if isinstance(sampler, PackedBatchSampler) else {"batch_size": 8}
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        for r in range(3):
            shard = shards.BatchSamplerShard(sampler, num_processes=3, process_index=r)
            assert shard.batch_size is None  # batches of any length: none dropped or repeated
            reference = DistributedBalancedBatchSampler(sizes, num_replicas=3, rank=r, seed=2,
                                                        drop_last=sampler.drop_last, **mode)
            assert list(shard) == epoch_batches(reference, epoch)
            assert len(shard) == len(reference)
    if isinstance(sampler, BalancedBatchSampler):
        assert sampler.batch_size == 8  # read anywhere else


def test_accelerate_shard_refusals_name_the_setting():
    shards = pytest.importorskip("accelerate.data_loader")
    sizes = sizes_of()
    for_one = DistributedBalancedBatchSampler(sizes, 8, num_replicas=1, rank=0)
    with pytest.raises(DistributedConfigError, match="built for rank 0 of 1, but accelerate runs it as process 1 of 2"):
        list(shards.BatchSamplerShard(for_one, num_processes=2, process_index=1))
    split = shards.BatchSamplerShard(BalancedBatchSampler(sizes, 8), num_processes=2, process_index=0,
                                     split_batches=True)
    with pytest.raises(DistributedConfigError, match="split_batches=True cuts every batch"):
        list(split)
    # a shard over another sampler of the same class is not this one's: direct iteration still guarded
    assert accelerate_shard(None, for_one) is None
