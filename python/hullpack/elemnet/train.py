"""Training ElemNet: Adam on the MAE, warmup then a plateau (or cosine) schedule, early stopping on
the validation split, a full checkpoint every epoch so that a killed run resumes to the same result.

Single process, or DDP under ``torchrun`` (gloo on CPU, nccl on GPU) with
:class:`hullpack.samplers.DistributedBalancedBatchSampler` giving every rank the same batch count.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, overload

import numpy as np
import torch
import torch.nn.functional as F

from .._progress import progress
from ..errors import ModelFileError
from ..naming import plural
from .io import FORMAT as MODEL_FORMAT, as_device, save_model, weights_sha256
from .model import DEFAULT_ARCHITECTURE, DEFAULT_DROPOUT, ElemNet, check_dropout

log = logging.getLogger(__name__)

CHECKPOINT_VERSION = 1
MODEL_FILE_MAGIC = MODEL_FORMAT.encode()
#: what a run on the shipped data records as its data source
OQMD_SOURCE = "OQMD train split (hullpack/data/oqmd), selected on val"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run's result (plus ``epochs``/``patience``, which may be
    raised when resuming a plateau run)."""

    epochs: int = 1000
    batch_size: int = 256
    lr: float = 5e-4
    warmup_epochs: float = 1.0
    schedule: str = "plateau"  # "plateau": x plateau_factor after plateau_patience flat epochs; "cosine"; "constant"
    plateau_factor: float = 0.5
    plateau_patience: int = 6
    min_lr: float = 1e-6
    weight_decay: float = 0.0
    grad_clip: float | None = None
    patience: int = 40  # early stopping: epochs without a new best val MAE
    seed: int = 0
    architecture: str = DEFAULT_ARCHITECTURE
    dropout: tuple[float, ...] = DEFAULT_DROPOUT
    bf16: bool | None = None  # None: where the hardware has it (AVX512-BF16/AMX CPUs, bf16 GPUs)
    # dropout only in epochs 1..dropout_epochs ("early dropout"), None: always. A net trained with
    # dropout to the end predicts markedly worse in eval mode (no dropout) than with dropout on.
    dropout_epochs: int | None = 8

    def __post_init__(self):
        if self.schedule not in ("plateau", "cosine", "constant"):
            raise ValueError(f"schedule={self.schedule!r}: expected 'plateau', 'cosine' or 'constant'")
        for name in ("epochs", "batch_size", "patience", "plateau_patience"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} = {getattr(self, name)} must be >= 1")
        for name, ok, want in (("lr", self.lr > 0, "> 0"), ("plateau_factor", 0 < self.plateau_factor < 1, "in (0, 1)"),
                               ("warmup_epochs", self.warmup_epochs >= 0, ">= 0"),
                               ("min_lr", self.min_lr >= 0, ">= 0"), ("weight_decay", self.weight_decay >= 0, ">= 0"),
                               ("grad_clip", self.grad_clip is None or self.grad_clip > 0, "> 0 (None: no clipping)"),
                               ("dropout_epochs", self.dropout_epochs is None or self.dropout_epochs >= 0,
                                ">= 0 (0: no dropout; None: dropout in every epoch)")):
            if not ok:
                raise ValueError(f"{name} = {getattr(self, name)} must be {want}")
        # checked here, not first when the model is built after the data are read
        object.__setattr__(self, "dropout", check_dropout(self.architecture, self.dropout))

    def resumable_with(self, other: "TrainConfig") -> list[str]:
        """Fields that differ in a way that would change the result of a resumed run."""
        free = {"epochs", "patience", "bf16"} if self.schedule != "cosine" else {"patience", "bf16"}
        return [f.name for f in fields(self)
                if f.name not in free and getattr(self, f.name) != getattr(other, f.name)]


def hardware_bf16(device: torch.device) -> bool:
    """Whether bf16 matmuls are fast here: a bf16-capable GPU, or a CPU with AMX or AVX512-BF16."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


class LRSchedule:
    """Linear warmup, then ``plateau`` (scaled by ``plateau_factor`` after ``plateau_patience``
    epochs without a better val MAE, down to ``min_lr``), ``cosine`` to ``min_lr`` over ``epochs``,
    or ``constant``. Its state is a small dict so checkpoints restore it exactly."""

    def __init__(self, cfg: TrainConfig, steps_per_epoch: int):
        self.cfg = cfg
        self.steps_per_epoch = steps_per_epoch
        self.warmup_steps = int(round(cfg.warmup_epochs * steps_per_epoch))
        self.step_count, self.scale, self.best, self.bad = 0, 1.0, math.inf, 0

    def lr(self) -> float:
        cfg = self.cfg
        lr = cfg.lr * self.scale
        if self.warmup_steps and self.step_count < self.warmup_steps:
            lr *= (self.step_count + 1) / self.warmup_steps
        if cfg.schedule == "cosine":
            t = min(1.0, self.step_count / (cfg.epochs * self.steps_per_epoch))
            lr = cfg.min_lr + (lr - cfg.min_lr) * 0.5 * (1 + math.cos(math.pi * t))
        return lr

    def step(self) -> None:
        self.step_count += 1

    def epoch_end(self, val_mae: float) -> bool:
        """Counts an epoch's val MAE; True where it lowered the learning rate (a plateau)."""
        if self.cfg.schedule != "plateau":
            return False
        if val_mae < self.best * (1 - 1e-4):
            self.best, self.bad = val_mae, 0
        else:
            self.bad += 1
            if self.bad > self.cfg.plateau_patience:
                self.scale = max(self.scale * self.cfg.plateau_factor, self.cfg.min_lr / self.cfg.lr)
                self.bad = 0
                return True
        return False

    def restart_plateau(self) -> None:
        self.best, self.bad = math.inf, 0

    def state_dict(self) -> dict:
        return {"step_count": self.step_count, "scale": self.scale, "best": self.best, "bad": self.bad}

    def load_state_dict(self, state: dict) -> None:
        self.step_count, self.scale = int(state["step_count"]), float(state["scale"])
        self.best, self.bad = float(state["best"]), int(state["bad"])


@torch.no_grad()
def evaluate_mae(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 8192,
                 bf16: bool = False) -> float:
    """Mean absolute error (eV/atom) of ``model`` on ``(x, y)`` in eval mode (no dropout).

    >>> model = ElemNet("8x1-1", ())
    >>> x = torch.eye(86)[:4]
    >>> round(evaluate_mae(model, x, model(x).detach() + 0.25), 6)
    0.25
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total = 0.0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size].to(device), y[start:start + batch_size].to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            pred = model(xb).float()
        total += float((pred - yb).abs().double().sum())
    model.train(was_training)
    return total / max(len(x), 1)


def _seed_for(*parts: int) -> int:
    """A 63-bit seed mixing seed, epoch and rank (SeedSequence is stable across numpy versions)."""
    # shifted as a Python int: numpy < 2 refuses uint64 >> int (it would mix them as float64)
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint32).view(np.uint64)[0]) >> 1


def _setup_distributed(device: torch.device) -> tuple[int, int, bool]:
    """Join the torchrun process group when WORLD_SIZE > 1; returns ``(rank, world_size, created)``,
    ``created`` where this call made the group (and so ends it)."""
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 and not dist.is_initialized():
        return 0, 1, False
    created = not dist.is_initialized()
    if created:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), created


def _distributed_batches(n: int, batch_size: int, world: int, rank: int, seed: int):
    """This rank's batch sampler: every composition costs the same, so hullpack's
    DistributedBalancedBatchSampler gives all ranks equal, disjoint batches without communication."""
    from ..samplers import DistributedBalancedBatchSampler

    return DistributedBalancedBatchSampler(np.ones(n), batch_size=batch_size, num_replicas=world,
                                           rank=rank, seed=seed)


def _as_tensors(data, what: str = "data") -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, y)`` of ``data`` as float32 tensors; ValueError naming ``what`` (``train_data``) where
    it is no pair of numbers, such as a table or formulas, with the call that makes one of them.

    >>> _as_tensors((["NaCl"], [-2.1]), "train_data")
    Traceback (most recent call last):
    ValueError: train_data: expected (X, y), X the (n, 86) element fractions of each row, y its formation energy (eV/atom); got formulas (str): hullpack.elemnet.featurize(formulas) makes X of formulas, table_arrays(table) (X, y) of a table
    """
    how = "hullpack.elemnet.featurize(formulas) makes X of formulas, table_arrays(table) (X, y) of a table"
    want = f"{what}: expected (X, y), X the (n, 86) element fractions of each row, y its formation energy (eV/atom)"
    if hasattr(data, "columns") or isinstance(data, (str, os.PathLike)):  # a DataFrame, a file's name
        raise ValueError(f"{want}; got a {type(data).__name__}: {how}")
    try:
        x, y = data
    except (TypeError, ValueError):
        raise ValueError(f"{want}; got a {type(data).__name__}: {how}") from None
    try:
        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        y = torch.as_tensor(np.asarray(y, dtype=np.float32)).reshape(-1)
    except (TypeError, ValueError):
        first = next(iter(x), None) if isinstance(x, (list, tuple)) or hasattr(x, "tolist") else None
        got = f"formulas ({type(first).__name__})" if isinstance(first, str) or hasattr(first, "elements") else \
            "values that are no numbers"
        raise ValueError(f"{want}; got {got}: {how}") from None
    if x.ndim != 2 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"{what} must be (X (n, k), y (n,)) with n > 0; got {tuple(x.shape)} and {tuple(y.shape)}")
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ValueError(f"{what} contain NaN or infinite values")
    return x, y


def _data_digest(*tensors: torch.Tensor) -> str:
    """The first 16 hex digits of a sha256 over the training and validation arrays: a resumed run
    must see the same data, not only the same row counts."""
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def read_checkpoint(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The checkpoint of the run in ``run_dir`` (its ``last.pt``, or that file itself: settings,
    data digest, weights, optimizer and schedule states, history), or None if none is there. A
    caller that needs the run's settings before resuming it reads the file once: :func:`run_config`
    and :func:`train` (``checkpoint=``) both take what this returns. A model file (``best.pt``)
    is a :class:`~hullpack.errors.ModelFileError` saying that :func:`load_model` reads it.

    >>> import tempfile
    >>> read_checkpoint(tempfile.mkdtemp()) is None
    True
    """
    path = Path(run_dir)
    last = path if path.is_file() else path / "last.pt"
    if not last.is_file():
        return None
    with open(last, "rb") as f:
        is_model_file = f.read(len(MODEL_FILE_MAGIC)) == MODEL_FILE_MAGIC
    checkpoint, reason = None, "it is a model file"
    if not is_model_file:
        try:
            checkpoint, reason = torch.load(last, map_location="cpu", weights_only=True), "it holds no training state"
        except Exception as exc:  # torch raises many types for what is not one of its archives
            reason = f"{type(exc).__name__}: {str(exc).strip().split('. ')[0][:120]}"
    if not (isinstance(checkpoint, dict) and {"config", "model", "optimizer", "state"} <= checkpoint.keys()):
        raise ModelFileError(f"{last} is not a training checkpoint of `hullpack train` ({reason}); a run folder's "
                             "last.pt is one, and hullpack.elemnet.load_model reads model files such as best.pt")
    return checkpoint


@overload
def run_config(run_dir: dict[str, Any]) -> TrainConfig: ...
@overload
def run_config(run_dir: str | os.PathLike) -> TrainConfig | None: ...
def run_config(run_dir: str | os.PathLike | dict[str, Any]) -> TrainConfig | None:
    """The settings of the run in ``run_dir`` (from its ``last.pt``; or of a checkpoint that
    :func:`read_checkpoint` returned), or None if none is there: what resuming it needs.

    >>> import tempfile
    >>> run_config(tempfile.mkdtemp()) is None
    True
    """
    checkpoint = run_dir if isinstance(run_dir, dict) else read_checkpoint(run_dir)
    return None if checkpoint is None else _config_of(checkpoint)


def _config_of(checkpoint: dict) -> TrainConfig:
    config: dict[str, Any] = {k: tuple(v) if k == "dropout" else v for k, v in checkpoint["config"].items()}
    return TrainConfig(**config)


#: The learning rate a fine-tuning run takes where none is given: the shipped model fine-tuned on
#: four kinds of table (another database's per-element shifts on 2,000 rows and on 100, an oxide
#: correction on 1,000, unchanged OQMD energies of one chemistry on 1,000; two seeds each) reached
#: a held-out MAE within 0.7% of the best of 5e-5, 1e-4, 2e-4 and 5e-4 on every table, where the
#: from-scratch 5e-4 was up to 4.0% worse (benchmarks/bench_finetune.py, results/finetune.json).
FINE_TUNING_LR = 1e-4


def fine_tuning_defaults(model: ElemNet, overrides: dict[str, Any]) -> dict[str, Any]:
    """The settings a fine-tuning run of ``model`` takes where none are given, as ``hullpack train
    --init`` takes them: the model's architecture and drop rates (the rates only where the
    architecture is the model's), ``dropout_epochs=0``: switched on again, dropout pulls a model
    trained to its end without it away from where it was (one epoch of the shipped model at lr 1e-4
    on 180 OQMD rows: val MAE 0.050 -> 0.058 with dropout, 0.057 without; five: 0.118 and 0.054),
    and :data:`FINE_TUNING_LR`.

    >>> fine_tuning_defaults(ElemNet("8x1D-1", (0.1,)), {})
    {'dropout_epochs': 0, 'lr': 0.0001, 'architecture': '8x1D-1', 'dropout': (0.1,)}
    """
    defaults: dict[str, Any] = {"dropout_epochs": 0, "lr": FINE_TUNING_LR}
    if overrides.get("architecture", model.architecture) == model.architecture:
        defaults.update(architecture=model.architecture, dropout=tuple(model.dropout_rates))
    return defaults


def _initial_weights(model: ElemNet, cfg: TrainConfig) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The weights a fine-tuning run starts from, and what to record of them (one that
    :func:`~hullpack.elemnet.pretrained.resolve_model` loaded is named by its source). ValueError
    when its architecture or drop rates are not the run's."""
    source = getattr(model, "source", None) or "an ElemNet given to hullpack.elemnet.train"
    for name, have, want in (("architecture", model.architecture, cfg.architecture),
                             ("dropout", tuple(model.dropout_rates), tuple(cfg.dropout))):
        if have != want:
            raise ValueError(f"init: {source} has {name} {have!r}, the run asks {want!r}; fine-tuning keeps the "
                             f"model's {name}: leave {name} unset (and config=None) or give {have!r}")
    state = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    return state, {"source": source, "sha256": weights_sha256(state)}


def _rows(data: dict[str, Any]) -> str:
    """A run's data record (``n_train``, ``n_val``, ``world_size``) in words.

    >>> _rows({"n_train": 1800, "n_val": 200, "world_size": 1, "sha256": "ab"})
    '1,800 training and 200 validation rows'
    """
    world = data.get("world_size", 1)
    return (f"{data.get('n_train', 0):,} training and {data.get('n_val', 0):,} validation rows"
            + (f" on {world} processes" if world != 1 else ""))


#: the files a run of :func:`train` writes into its folder (and their ``.tmp`` forms, renamed into place)
RUN_FILES = ("last.pt", "best.pt", "metrics.jsonl", "config.json")


def check_run_dir(run_dir: str | os.PathLike) -> None:
    """ValueError where a new run may not go into ``run_dir``: a folder that holds files no run of
    :func:`train` writes (another command's outputs, data), named in the message, which a run
    would mix its own into. A folder that does not exist yet, an empty one, one that holds a run
    (resumed) or one a run left before its first epoch is fine; hidden files (``.DS_Store``) are
    passed over.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> check_run_dir(d / "new")
    >>> _ = (d / "systems.csv").write_text("system\\n")
    >>> check_run_dir(d)
    Traceback (most recent call last):
    ValueError: run folder ... holds files no run of hullpack train writes (systems.csv): train into a new or empty folder
    """
    path = Path(run_dir)
    if not path.is_dir():
        return
    ours = set(RUN_FILES) | {f"{name}.tmp" for name in RUN_FILES}
    others = sorted(f.name for f in path.iterdir() if f.name not in ours and not f.name.startswith("."))
    if others:
        raise ValueError(f"run folder {os.fspath(path)} holds files no run of hullpack train writes "
                         f"({', '.join(others[:4])}{', ...' if len(others) > 4 else ''}): train into a new or empty "
                         "folder")


def _save_atomic(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train(run_dir: str | os.PathLike, config: TrainConfig | None = None, *, train_data=None,
          val_data=None, device: str | torch.device | None = None, num_threads: int | None = None,
          stop_after: int | None = None, data_source: str | None = None, checkpoint: dict[str, Any] | None = None,
          init: str | os.PathLike | ElemNet | None = None, data_options: dict[str, Any] | None = None,
          **overrides) -> dict[str, Any]:
    """Train ElemNet, or resume the run in ``run_dir`` where one is there.

    ``run_dir`` receives ``last.pt`` (model, optimizer, schedule, RNG states, history; written
    atomically after every epoch), ``best.pt`` (the best-val weights so far, a model file for
    :func:`hullpack.elemnet.load_model`), ``metrics.jsonl`` (one JSON line per epoch) and
    ``config.json`` (the run's settings, data and device, as ``last.pt`` holds them). Calling
    again with the same settings continues where it stopped and reaches bit-for-bit the weights an
    uninterrupted run would (same device and thread count); ``epochs`` and ``patience`` may be raised.
    A new run refuses a folder that holds other files (:func:`check_run_dir`).

    Data default to the shipped OQMD train and val splits (the test split is never looked at);
    ``train_data``/``val_data`` take ``(X, y)`` arrays instead (:func:`hullpack.elemnet.table_arrays`
    makes them from a table of formulas and energies; ``train_data`` without ``val_data`` is selected
    on the OQMD val split, with a warning: :func:`~hullpack.elemnet.hold_out` holds some of it out for
    ``val_data``), and ``data_source`` says in ``best.pt``'s
    metadata (``trained_on``) where they came from, and ``data_options`` (JSON-like) how they were
    read, kept with the run (``last.pt``, ``config.json``; a resumed run keeps its own where None):
    ``hullpack train`` keeps its ``--errors``, ``--val-fraction`` and column options there, to read
    the tables the same way when it resumes. Settings come from ``config`` and/or
    keyword overrides of :class:`TrainConfig` fields. ``checkpoint``: ``run_dir/last.pt`` as
    :func:`read_checkpoint` returned it, where the caller has read it already (for the run's
    settings): the run resumes from it without reading the file again, and updates it as it goes
    on. ``stop_after`` returns after that many epochs in this call (the run stays resumable).
    Returns a summary dict (epochs done, best epoch, best val MAE, why it stopped, the per-epoch
    history as in ``metrics.jsonl``, and ``model``: the final weights, in eval mode; the best-val
    weights are in ``run_dir/best.pt``). A run whose weights stop being finite numbers raises
    FloatingPointError at the end of that epoch, which it does not record.

    Progress: each epoch's losses, val MAE and learning rate go to the ``hullpack.elemnet.train``
    logger at INFO level, which Python shows only once logging is set up
    (``logging.basicConfig(level=logging.INFO)``); a progress bar over each epoch's batches shows
    where stderr is a terminal (not in a notebook), unless ``HULLPACK_QUIET`` is set. Whatever is
    shown, ``run_dir/metrics.jsonl`` gets a line per epoch as it ends.

    Validation differs from ``hullpack train --data``'s: ``train_data`` without ``val_data`` is
    selected on the OQMD val split, where the command holds 10% of the table out. To do as the
    command does: ``tr, va = hold_out(x, 0.1, seed=0)``, then ``train(run_dir, train_data=(x[tr],
    y[tr]), val_data=(x[va], y[va]))``.

    ``init`` fine-tunes: the run starts from the weights of a model file, a run folder,
    ``"default"`` (the shipped model, :func:`~hullpack.elemnet.load_pretrained`) or an ElemNet,
    whose architecture and drop rates must be the run's (``best.pt``'s metadata names it, with
    the sha256 of its float32 weights, as ``init``). Its val MAE before any training is
    ``init_val_mae`` in the summary and counts as epoch 0, the first line of ``metrics.jsonl`` and
    of the history (with ``init``: the source, and no train loss): where no epoch beats it,
    ``best.pt`` holds the starting weights (``best_epoch`` 0). The targets are the model's own (formation
    energies in eV/atom, no scaling), so nothing is renormalised. Resuming needs the same ``init``
    or none. Without ``config``, the settings not given are the model's, as ``hullpack train --init``
    takes them (:func:`fine_tuning_defaults`): its architecture and drop rates,
    ``dropout_epochs=0`` (dropout off: switched on again, it pulls a model trained to its end without
    it away from where it was) and ``lr=1e-4`` (:data:`FINE_TUNING_LR`); ``config``'s are taken as
    they are.

    >>> import numpy as np, tempfile
    >>> rng = np.random.default_rng(0)
    >>> x = rng.dirichlet(np.ones(86), 256).astype("float32"); y = x[:, 0] - x[:, 1]
    >>> out = train(tempfile.mkdtemp(), train_data=(x, y), val_data=(x, y), epochs=2,
    ...             architecture="32x2D-1", dropout=(0.1,), batch_size=64)
    >>> out["epochs_done"], out["stopped"]
    (2, 'epochs')
    """
    run_dir = Path(run_dir)
    if checkpoint is not None and not (run_dir / "last.pt").is_file():
        raise ValueError(f"checkpoint: given, but {run_dir} holds no last.pt: pass what read_checkpoint(run_dir) "
                         "returns (None there), or nothing")
    ck = checkpoint if checkpoint is not None else read_checkpoint(run_dir)
    if isinstance(init, str) and init == "default" and train_data is None and ck is None:
        raise ValueError("init='default' fine-tunes the shipped model on train_data: give train_data (without it "
                         "the run would train the shipped model again on the OQMD data it was trained on)")
    if init is not None:  # read once, before the settings: those not given are the model's own
        from .pretrained import resolve_model

        init = init if isinstance(init, ElemNet) else resolve_model(init)
    if config is None and ck is not None and ck.get("init") is not None:  # a fine-tuning run resumed: its own
        run = _config_of(ck)                                              # settings where fine-tuning has defaults
        overrides = {**{k: getattr(run, k) for k in ("architecture", "dropout", "dropout_epochs", "lr")}, **overrides}
    elif config is None and init is not None:
        overrides = {**fine_tuning_defaults(init, overrides), **overrides}
    cfg = replace(config or TrainConfig(), **overrides)
    if num_threads:
        torch.set_num_threads(int(num_threads))
    if device is None or device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = as_device(device)  # ValueError for a bad name or CUDA where there is none
    rank, world, own_group = _setup_distributed(device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
        torch.cuda.set_device(device)
    bf16 = hardware_bf16(device) if cfg.bf16 is None else bool(cfg.bf16)
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)

    from .data import oqmd_arrays

    if rank == 0 and ck is None:  # rank 0 alone looks, before it writes anything (as below)
        check_run_dir(run_dir)
    if rank == 0 and ck is None and (run_dir / "best.pt").is_file() and not (run_dir / "metrics.jsonl").is_file():
        # a model file put there (an export, a copy), not a run: a new run would overwrite it at its first epoch.
        # Rank 0 alone asks, before it writes anything: another rank could find its epoch-0 best.pt
        raise ValueError(f"{run_dir} holds a best.pt but no run of hullpack train (no last.pt nor metrics.jsonl): a "
                         f"new run would overwrite it: use a new run directory (init={os.fspath(run_dir / 'best.pt')!r}, "
                         "--init on the command line, fine-tunes that model there)")
    if ck is not None and train_data is None and ck.get("data_source", OQMD_SOURCE) != OQMD_SOURCE:
        raise ValueError(f"{run_dir} holds a run trained on {ck['data_source']}, not on the shipped OQMD data: resume "
                         "it with the same data (--data, and --val-data if it had one; train_data=, val_data=): a "
                         "run folder keeps no copy of them")
    x_tr, y_tr = _as_tensors(train_data if train_data is not None else oqmd_arrays("train"), "train_data")
    x_va, y_va = _as_tensors(val_data if val_data is not None else oqmd_arrays("val"), "val_data")
    n = len(x_tr)

    sampler = None
    if world > 1:
        sampler = _distributed_batches(n, cfg.batch_size, world, rank, cfg.seed)
        steps_per_epoch = len(sampler)
    else:
        steps_per_epoch = -(-n // cfg.batch_size)

    torch.manual_seed(cfg.seed)  # same initial weights on every rank
    model = ElemNet(cfg.architecture, cfg.dropout, n_inputs=x_tr.shape[1]).to(device)
    init_state, init_id = _initial_weights(init, cfg) if init is not None else (None, None)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = LRSchedule(cfg, steps_per_epoch)
    state: dict[str, Any] = {"epoch": 0, "best_val_mae": math.inf, "best_epoch": 0, "history": [],
                             "stopped": None}
    last, best_path, metrics_path = run_dir / "last.pt", run_dir / "best.pt", run_dir / "metrics.jsonl"
    data_id = {"n_train": n, "n_val": len(x_va), "world_size": world,
               "sha256": _data_digest(x_tr, y_tr, x_va, y_va)}
    if data_source is None:
        data_source = (OQMD_SOURCE if train_data is None
                       else "train_data given to hullpack.elemnet.train")
        if train_data is not None and val_data is None:
            data_source += ", selected on the OQMD val split"
    if train_data is not None and val_data is None and rank == 0 and ck is None:
        log.warning("train_data without val_data: best.pt and early stopping are chosen on the shipped OQMD val "
                    "split, not on your data; give val_data (hullpack.elemnet.hold_out holds some of yours out)")

    def best_metadata(epoch: int, val_mae: float) -> dict[str, Any]:
        meta = {"epoch": epoch, "val_mae": val_mae, "config": asdict(cfg), "data": data_id, "trained_on": data_source}
        if init_id is not None:
            meta.update(init=init_id, init_val_mae=state.get("init_val_mae"))
        return meta

    # last.pt as this process last read or wrote it, and its 'stopped': why the run stops is recorded
    # in it without reading it back
    saved, saved_stopped = None, None
    if ck is not None:
        old = _config_of(ck)
        diff = old.resumable_with(cfg)
        # runs saved before the data digest existed are compared on their row counts
        same_data = all(data_id.get(k) == v for k, v in ck["data"].items())
        if init_id is not None and ck.get("init", {}).get("sha256") != init_id["sha256"]:
            had = ck.get("init", {}).get("source") or "no init (trained from scratch)"
            raise ValueError(f"{run_dir} holds a run started from {had}, not from {init_id['source']}: resume it "
                             "without init (its weights are in last.pt) or use a new run directory")
        init_id = ck.get("init")
        if data_options is None:
            data_options = ck.get("data_options")
        if diff or not same_data:
            what = ", ".join(f"{k}: run has {getattr(old, k)!r}, asked {getattr(cfg, k)!r}" for k in diff)
            if not same_data:
                had = ck["data"]
                what += (f"{'; ' if what else ''}data: run has {_rows(had)} from {ck.get('data_source', '?')}, now "
                         f"{_rows(data_id)} from {data_source}")
                if all(had.get(k) == data_id[k] for k in ("n_train", "n_val", "world_size")):
                    what += (f" (as many rows, other values: data sha256 {had.get('sha256', '?')}, now "
                             f"{data_id['sha256']})")
            tune = "" if same_data else (f" (a new one with init={os.fspath(run_dir)!r}, --init on the command line, "
                                         "fine-tunes this run's best weights on the new data)")
            raise ValueError(f"{run_dir} holds a run with other settings ({what}); resume with the "
                             f"same settings or use a new run directory{tune}")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        schedule.load_state_dict(ck["schedule"])
        state = ck["state"]
        torch.set_rng_state(ck["rng"]["torch"])
        saved, saved_stopped = ck, state.get("stopped")
        state["stopped"] = None  # the loop re-checks: epochs or patience may have been raised
        log.info("resuming %s after epoch %d (best val MAE %.4f eV/atom at epoch %d)", run_dir,
                 state["epoch"], state["best_val_mae"], state["best_epoch"])
    else:
        if init_state is not None:
            assert init_id is not None  # read with init_state
            model.load_state_dict(init_state)
            t0 = time.perf_counter()
            state["init_val_mae"] = evaluate_mae(model, x_va, y_va)
            # the starting weights are epoch 0: fine-tuning keeps them unless an epoch does better, and
            # the log's first line says so (no training: no train loss, learning rate nor dropout)
            state["best_val_mae"] = state["init_val_mae"]
            state["history"].append({"epoch": 0, "train_loss": None, "val_mae": state["init_val_mae"],
                                     "best_val_mae": state["init_val_mae"], "best_epoch": 0, "lr": None,
                                     "epoch_s": round(time.perf_counter() - t0, 2), "train_samples_per_s": None,
                                     "bf16": False, "dropout": False, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                     "init": init_id["source"]})
            log.info("fine-tuning %s: val MAE %.4f eV/atom before training", init_id["source"], state["init_val_mae"])
            if rank == 0:
                save_model(model, best_path, metadata=best_metadata(0, state["init_val_mae"]))
    def write_about() -> None:
        """config.json: what the run is, readable without torch; as last.pt has it (a resumed run's
        with its first epoch here: one that has no epoch left to run changes neither)."""
        from .. import __version__

        about = {"config": asdict(cfg), "trained_on": data_source, "data_options": data_options, "data": data_id,
                 "init": init_id, "device": str(device), "bf16": bf16, "hullpack": __version__}
        (run_dir / "config.json.tmp").write_text(json.dumps(about, indent=2) + "\n")
        os.replace(run_dir / "config.json.tmp", run_dir / "config.json")

    if rank == 0:  # the log is (re)built from the history, so it never holds an epoch twice
        if ck is None:
            write_about()
        metrics_path.write_text("".join(json.dumps(r) + "\n" for r in state["history"]))

    net: torch.nn.Module = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def done(epoch: int) -> str | None:
        """Why the run stops after ``epoch``: "epochs" (all asked for are done), "early_stopping"
        (``patience`` epochs without a better val MAE), or None: it goes on."""
        if epoch >= cfg.epochs:
            return "epochs"
        if epoch - state["best_epoch"] >= cfg.patience and (state["best_epoch"] > 0 or init_id is not None):
            return "early_stopping"
        return None

    epoch = state["epoch"]
    if done(epoch) is None:
        log.info("training ElemNet on %d rows (%s, bf16=%s, world size %d), %d steps/epoch", n, device,
                 bf16, world, steps_per_epoch)
    elif done(epoch) == "epochs":  # a resumed run asked for no more epochs than it has: said, not silently passed
        log.info("%s: already trained %s (asked %d): nothing to do; epochs (--epochs) more than %d to go on",
                 run_dir, plural(epoch, "epoch"), cfg.epochs, epoch)
    else:
        flat = epoch - state["best_epoch"]
        log.info("%s: stopped early after epoch %d, %s without a better val MAE than epoch %d's (patience %d): "
                 "nothing to do; a patience (--patience) more than %d to go on", run_dir, epoch, plural(flat, "epoch"),
                 state["best_epoch"], cfg.patience, flat)
    done_here, stopped = 0, state.get("stopped")
    while stopped is None:
        stopped = done(epoch)
        if stopped is not None:
            break
        if stop_after is not None and done_here >= stop_after:
            break
        epoch += 1
        t0 = time.perf_counter()
        if sampler is not None:
            sampler.set_epoch(epoch)
            batches = [torch.as_tensor(b) for b in sampler]
        else:
            order = torch.from_numpy(np.random.default_rng([cfg.seed, epoch]).permutation(n))
            batches = list(order.split(cfg.batch_size))
        torch.manual_seed(_seed_for(cfg.seed, epoch, rank))  # dropout masks, reproducible per epoch
        dropout_on = cfg.dropout_epochs is None or epoch <= cfg.dropout_epochs
        rates = iter(model.dropout_rates)
        for m in model.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = next(rates) if dropout_on else 0.0
        if cfg.dropout_epochs is not None and epoch == cfg.dropout_epochs + 1:
            schedule.restart_plateau()  # val measured before now is no guide to the dropout-free net
        net.train()
        loss_sum, seen = 0.0, 0
        bar = progress(total=len(batches), desc=f"epoch {epoch}", unit="batch")
        for i, idx in enumerate(batches):
            xb, yb = x_tr[idx].to(device, non_blocking=True), y_tr[idx].to(device, non_blocking=True)
            for group in opt.param_groups:
                group["lr"] = schedule.lr()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                pred = net(xb)
            loss = F.l1_loss(pred.float(), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            schedule.step()
            loss_sum += float(loss.detach()) * len(idx)
            seen += len(idx)
            bar.update(1)
            if i % 50 == 0:
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}")
        bar.close()
        train_s = time.perf_counter() - t0
        val_mae = evaluate_mae(model, x_va, y_va)
        if not math.isfinite(val_mae):  # NaN weights stay NaN: say so now, not after every epoch left
            kept = f"{run_dir} keeps epoch {epoch - 1}" if epoch > 1 else f"{run_dir} holds no finished epoch"
            raise FloatingPointError(f"training diverged in epoch {epoch}: the val MAE is {val_mae} (the weights are "
                                     f"no longer finite numbers). Lower the learning rate (lr {cfg.lr:g}, --lr) or clip "
                                     f"the gradients (grad_clip, --grad-clip) in a new run directory; {kept}")
        lr_used = schedule.lr()
        improved = val_mae < state["best_val_mae"]
        if improved:
            state["best_val_mae"], state["best_epoch"] = val_mae, epoch
        lowered = schedule.epoch_end(val_mae)
        record = {"epoch": epoch, "train_loss": loss_sum / max(seen, 1), "val_mae": val_mae,
                  "best_val_mae": state["best_val_mae"], "best_epoch": state["best_epoch"],
                  "lr": lr_used, "epoch_s": round(time.perf_counter() - t0, 2),
                  "train_samples_per_s": round(seen * world / train_s, 1), "bf16": bf16, "dropout": dropout_on,
                  "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
        state["history"].append(record)
        state["epoch"] = epoch
        done_here += 1
        if rank == 0:
            if improved:
                save_model(model, best_path, metadata=best_metadata(epoch, val_mae))
            saved = {"version": CHECKPOINT_VERSION, "config": asdict(cfg), "data": data_id,
                     "data_source": data_source, "data_options": data_options, "model": model.state_dict(), "optimizer": opt.state_dict(),
                     "schedule": schedule.state_dict(), "state": state, "rng": {"torch": torch.get_rng_state()}}
            if init_id is not None:
                saved["init"] = init_id
            saved_stopped = state["stopped"]
            _save_atomic(saved, last)
            if done_here == 1 and ck is not None:  # a new run's was written before its first epoch
                write_about()
            with open(metrics_path, "a") as f:
                f.write(json.dumps(record) + "\n")
        log.info("epoch %d: train loss (MAE in training mode) %.4f, val MAE %.4f eV/atom (best %.4f @ %d), lr %.3g, "
                 "%.1f s", epoch, record["train_loss"], val_mae, state["best_val_mae"], state["best_epoch"], lr_used,
                 record["epoch_s"])
        if lowered:  # after the epoch whose val MAE lowered it, from the next epoch on
            log.info("val MAE flat for %d epochs: lr -> %.3g from epoch %d", cfg.plateau_patience + 1, schedule.lr(),
                     epoch + 1)
    if stopped is not None and rank == 0 and saved is not None and saved_stopped != stopped:
        saved["state"]["stopped"] = stopped
        _save_atomic(saved, last)
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
        if own_group:  # ended while Python is alive: at the interpreter's teardown gloo's threads can abort
            del net  # DDP before its process group: its teardown can hang otherwise
            dist.destroy_process_group()
    return {"run_dir": str(run_dir), "epochs_done": state["epoch"], "best_epoch": state["best_epoch"],
            "best_val_mae": state["best_val_mae"], "stopped": stopped or "stop_after",
            "init_val_mae": state.get("init_val_mae"), "bf16": bf16, "history": state["history"],
            "model": model.eval()}
