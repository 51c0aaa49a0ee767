"""hullpack samplers under PyTorch Ignite, as docs/samplers.md shows them: an ``Engine`` (or
``create_supervised_trainer``) over a ``DataLoader(dataset, batch_sampler=...)`` with an
``EPOCH_STARTED`` handler that sets the sampler's epoch, resumed from an Ignite ``Checkpoint`` taken
mid-epoch, and in 2 gloo processes under ``idist.Parallel`` with ``idist.auto_dataloader``."""
import importlib
import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from hullpack.samplers import BalancedBatchSampler, DistributedBalancedBatchSampler, PackedBatchSampler

pytest.importorskip("ignite")
import ignite.distributed as idist  # noqa: E402
from ignite.engine import Engine, Events, create_supervised_trainer  # noqa: E402
from ignite.handlers import Checkpoint  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
N = 203
MAKERS = {"balanced": lambda s: BalancedBatchSampler(s, 8, seed=3),
          "packed": lambda s: PackedBatchSampler(s, 250.0, seed=3)}


def sizes_of(n=N):
    return np.random.default_rng(0).lognormal(3.0, 1.0, n).round() + 1


def dataset(n=N):
    return TensorDataset(torch.arange(n), torch.randn(n, 4))


def epoch_batches(sampler, epoch):
    sampler.set_epoch(epoch)
    return list(sampler)


def recording_engine(sampler, handler="skip", stop_at=None):
    """An Engine that records the item indices of every step by epoch (0-based) and raises Interrupted
    before iteration ``stop_at``. ``handler``: "skip", docs/samplers.md's EPOCH_STARTED handler (set
    the epoch, skip the steps a resumed epoch has done); "set_epoch", its first line alone; None, none."""
    steps = {}

    def step(engine, batch):
        if engine.state.iteration == stop_at:
            raise Interrupted
        steps.setdefault(engine.state.epoch - 1, []).append(batch[0].tolist())

    trainer = Engine(step)
    if handler is not None:
        @trainer.on(Events.EPOCH_STARTED)
        def set_sampler_epoch(engine):
            sampler.set_epoch(engine.state.epoch - 1)
            done = engine.state.iteration % engine.state.epoch_length  # > 0 only in an epoch resumed mid-way
            if done and handler == "skip":
                sampler.load_state_dict(sampler.state_dict(batches_done=done))
    return trainer, steps


class Interrupted(Exception):
    pass


@pytest.mark.parametrize("kind", list(MAKERS))
def test_without_a_handler_every_epoch_repeats_epoch_0(kind):
    """Ignite's Engine calls no set_epoch: every epoch gets epoch 0's batches, in the same order."""
    sampler = MAKERS[kind](sizes_of())
    trainer, steps = recording_engine(sampler, handler=None)
    trainer.run(DataLoader(dataset(), batch_sampler=sampler), max_epochs=3)
    assert steps[0] == steps[1] == steps[2] == epoch_batches(MAKERS[kind](sizes_of()), 0)


@pytest.mark.parametrize("loader_of", [lambda data, s: DataLoader(data, batch_sampler=s),
                                       lambda data, s: idist.auto_dataloader(data, batch_sampler=s)],
                         ids=["DataLoader", "auto_dataloader"])
@pytest.mark.parametrize("kind", list(MAKERS))
def test_supervised_trainer_with_the_handler_gives_every_epoch_its_batches(kind, loader_of):
    sampler = MAKERS[kind](sizes_of())
    loader = loader_of(dataset(), sampler)
    assert loader.batch_sampler is sampler  # auto_dataloader in one process keeps it as given
    model = torch.nn.Linear(4, 1)
    trainer = create_supervised_trainer(model, torch.optim.SGD(model.parameters(), lr=0.01),
                                        lambda y_pred, y: y_pred.pow(2).mean(),
                                        prepare_batch=lambda batch, device, non_blocking: (batch[1], batch[0]))
    steps = {}

    @trainer.on(Events.EPOCH_STARTED)
    def set_sampler_epoch(engine):
        sampler.set_epoch(engine.state.epoch - 1)

    @trainer.on(Events.ITERATION_STARTED)
    def record(engine):
        steps.setdefault(engine.state.epoch - 1, []).append(engine.state.batch[0].tolist())

    state = trainer.run(loader, max_epochs=3)
    assert state.epoch_length == len(loader) == len(sampler)  # Ignite's default: len(loader), read once
    for epoch, batches in steps.items():
        assert sorted(i for b in batches for i in b) == list(range(N))  # every item once
        assert batches == epoch_batches(MAKERS[kind](sizes_of()), epoch)
    assert steps[0] != steps[1] != steps[2]


def test_every_packed_epoch_fits_the_epoch_length_ignite_read():
    """Ignite reads len(loader) once as every epoch's length: sizes and budgets (one per column) whose
    epochs 1 and 2 pack into more batches than the count, 802, still give 802 in every epoch, every
    item in it."""
    r = np.random.default_rng(0)
    atoms = r.integers(20, 226, 3000)
    sizes = np.column_stack([atoms, atoms * r.integers(20, 40, 3000)]).astype(float)
    sampler = PackedBatchSampler(sizes, list(4 * np.median(sizes, axis=0)), seed=5, oversize="alone")
    trainer, steps = recording_engine(sampler)
    state = trainer.run(DataLoader(dataset(3000), batch_sampler=sampler), max_epochs=3)
    assert state.epoch_length == 802
    for batches in steps.values():
        assert len(batches) == 802 and sorted(i for b in batches for i in b) == list(range(3000))
    assert sampler.stats(1)["repacked"] and sampler.stats(2)["repacked"]  # the case this guards


def interrupted_and_resumed(tmp_path, make, num_workers, handler="skip", stop_at=26 + 7):
    """Train 3 epochs of 26 steps with a Checkpoint every 4 iterations, stop before ``stop_at``, and
    resume from the last checkpoint (at 32: 6 steps into epoch 1) with a new engine, loader and
    sampler: the steps of the resumed run."""
    def run(stop_at=None, resume=False):
        sampler = make(sizes_of())
        trainer, steps = recording_engine(sampler, handler, stop_at=stop_at)
        if resume:
            (last,) = tmp_path.glob("*.pt")
            Checkpoint.load_objects({"trainer": trainer}, torch.load(last, weights_only=False))
        else:
            trainer.add_event_handler(Events.ITERATION_COMPLETED(every=4),
                                      Checkpoint({"trainer": trainer}, str(tmp_path), n_saved=1))
        try:
            trainer.run(DataLoader(dataset(), batch_sampler=sampler, num_workers=num_workers), max_epochs=3)
        except Interrupted:
            pass
        return steps

    run(stop_at=stop_at)
    assert [p.name for p in tmp_path.glob("*.pt")] == ["trainer_32.pt"]
    return run(resume=True)


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("kind", list(MAKERS))
def test_resumed_from_a_mid_epoch_checkpoint_the_handler_continues_the_epoch(kind, num_workers, tmp_path):
    """Ignite resumes the trainer's iteration, not the loader: the handler's second line has the
    sampler skip the steps done, so the resumed run trains what the uninterrupted one did, with or
    without workers (which fetch ahead: the count comes from the engine, not the sampler)."""
    make = MAKERS[kind]
    resumed = interrupted_and_resumed(tmp_path, make, num_workers)
    assert sorted(resumed) == [1, 2]
    assert resumed[1] == epoch_batches(make(sizes_of()), 1)[6:]
    assert resumed[2] == epoch_batches(make(sizes_of()), 2)


def test_resumed_without_the_skip_the_epoch_restarts_and_later_epochs_shift(tmp_path):
    """With set_epoch alone, the resumed epoch trains its first 20 of 26 steps (6 twice, the last 6
    never), and Ignite's next epoch continues that pass: its last 6 steps, then 20 of the next epoch's."""
    make = MAKERS["balanced"]
    steps = interrupted_and_resumed(tmp_path, make, 0, handler="set_epoch")
    epoch1, epoch2 = epoch_batches(make(sizes_of()), 1), epoch_batches(make(sizes_of()), 2)
    assert steps[1] == epoch1[:20]
    assert steps[2] == epoch1[20:] + epoch2[:20]


def test_deterministic_trainer_refuses_a_hullpack_sampler():
    """create_supervised_trainer(deterministic=True) wraps the batch sampler in Ignite's
    ReproducibleBatchSampler, which takes only a torch BatchSampler: the default engine is the one."""
    sampler = BalancedBatchSampler(sizes_of(), 8, seed=3)
    model = torch.nn.Linear(4, 1)
    trainer = create_supervised_trainer(model, torch.optim.SGD(model.parameters(), lr=0.01),
                                        lambda y_pred, y: y_pred.pow(2).mean(), deterministic=True,
                                        prepare_batch=lambda batch, device, non_blocking: (batch[1], batch[0]))
    with pytest.raises(TypeError, match="batch_sampler should be torch.utils.data.sampler.BatchSampler"):
        trainer.run(DataLoader(dataset(), batch_sampler=sampler), max_epochs=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_script(args, cwd, timeout=300):
    """Run a script of this folder in a session of its own, killing all of its processes (the ones
    idist.Parallel spawns included) if it outlives ``timeout``."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore", HULLPACK_QUIET="1")
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=cwd, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{args[0]} ran past {timeout} s: {err[-3000:]}")
    return proc.returncode, out, err


@pytest.mark.slow
def test_ignite_parallel_two_gloo_processes(tmp_path):
    """idist.Parallel(backend="gloo", nproc_per_node=2) with idist.auto_dataloader(batch_sampler=
    DistributedBalancedBatchSampler(...)): auto_dataloader warns and keeps it, each rank trains its
    share (equal steps, every index once per epoch across ranks, a new plan every epoch), a run
    resumed from a mid-epoch Checkpoint continues as the uninterrupted one, a plain sampler is
    refused on both ranks, and Ignite's setup_common_training_handlers refuses a hullpack sampler as
    train_sampler (the handler of docs/samplers.md does its job)."""
    sys.path.insert(0, HERE)
    try:
        fit = importlib.import_module("_ignite_fit")
    finally:
        sys.path.remove(HERE)
    rc, out, err = run_script([os.path.join(HERE, "_ignite_fit.py"), str(tmp_path), str(free_port())], tmp_path)
    assert rc == 0, out[-2000:] + err[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    for kind in fit.KINDS:
        mode = {"max_cost": fit.MAX_COST} if kind.endswith("packed") else {"batch_size": fit.BATCH_SIZE}
        for r, record in enumerate(ranks):
            assert record[kind]["kept"] and any("Found batch_sampler" in w for w in record[kind]["warnings"])
            assert record[kind]["epoch_length"] == record[kind]["len"] == ranks[0][kind]["len"] > 0
            reference = DistributedBalancedBatchSampler(fit.item_sizes(), num_replicas=2, rank=r, seed=fit.SEED,
                                                        **mode)
            for epoch in range(fit.EPOCHS):
                assert record[kind]["steps"][str(epoch)] == epoch_batches(reference, epoch), (kind, r, epoch)
        for epoch in map(str, range(fit.EPOCHS)):
            assert len(ranks[0][kind]["steps"][epoch]) == len(ranks[1][kind]["steps"][epoch])
            seen = sorted(i for record in ranks for b in record[kind]["steps"][epoch] for i in b)
            assert seen == list(range(fit.N_ITEMS)), kind  # every index once per epoch across ranks
        assert ranks[0][kind]["steps"]["0"] != ranks[0][kind]["steps"]["1"]
    steps = ranks[0]["distributed"]["len"]
    done = int(ranks[0]["checkpoint"].split("_")[1].split(".")[0]) - steps  # steps of epoch 1 in the checkpoint
    assert 0 < done < steps
    for r, record in enumerate(ranks):  # the resumed run: the rest of epoch 1, then epoch 2 whole
        assert record["resumed"]["steps"] == {"1": record["distributed"]["steps"]["1"][done:],
                                              "2": record["distributed"]["steps"]["2"]}
        assert record["plain"].startswith("DistributedConfigError: BalancedBatchSampler gives all 2 processes")
        assert record["common handlers"] == ("TypeError: Train sampler should be torch DistributedSampler and have "
                                             "`set_epoch` method")
