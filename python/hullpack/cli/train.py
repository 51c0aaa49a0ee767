"""``hullpack train``: train ElemNet on the shipped OQMD data (resuming a run folder), or export a
run's best weights as the shipped default model."""
from __future__ import annotations

import argparse
import json

from .common import CommandError, positive_int

NAME = "train"
HELP = "train ElemNet on the shipped OQMD data (resumes RUN_DIR), or export a run"
DESCRIPTION = ("Train ElemNet on the OQMD train split, selecting on val. Run it again with the same settings "
               "to resume. Under torchrun it trains with DDP. Defaults are those of hullpack.elemnet.TrainConfig.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    # defaults live in hullpack.elemnet.TrainConfig (not imported here: it pulls in torch)
    p.add_argument("run_dir", nargs="?", help="checkpoints, best weights and metrics.jsonl go here")
    p.add_argument("--export", metavar="RUN_DIR", help="export RUN_DIR/best.pt as the shipped default "
                   "model (fp16) after measuring its test MAE, then exit")
    p.add_argument("--out", help="with --export: write here instead of the package's default file")
    p.add_argument("--epochs", type=int, help="most epochs in all (default 1000)")
    p.add_argument("--batch-size", type=int, help="default 256 (per process under DDP)")
    p.add_argument("--lr", type=float, help="peak learning rate, default 5e-4")
    p.add_argument("--warmup-epochs", type=float, help="linear warmup, default 1")
    p.add_argument("--schedule", choices=("plateau", "cosine", "constant"), help="default plateau")
    p.add_argument("--plateau-factor", type=float, help="default 0.5")
    p.add_argument("--plateau-patience", type=int, help="default 6")
    p.add_argument("--min-lr", type=float, help="default 1e-6")
    p.add_argument("--weight-decay", type=float, help="default 0")
    p.add_argument("--grad-clip", type=float, help="max gradient norm, default none")
    p.add_argument("--patience", type=int, help="early stopping on val MAE, default 40 epochs")
    p.add_argument("--seed", type=int, help="default 0")
    p.add_argument("--architecture", help="default 1024x4D-512x3D-256x3D-128x3D-64x2-32x1-1")
    p.add_argument("--dropout", help="comma-separated drop rates of the D blocks (default 0.2,0.1,0.3,0.2)")
    p.add_argument("--dropout-epochs", type=int,
                   help="train with dropout only in the first N epochs (default 8; 0: never)")
    p.add_argument("--bf16", choices=("auto", "on", "off"), default="auto")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto")
    p.add_argument("--threads", type=positive_int, help="torch CPU threads")
    p.add_argument("--stop-after", type=int, help="return after this many epochs (resumable)")


def run(args: argparse.Namespace) -> int:
    from hullpack.elemnet import TrainConfig, export_default, train

    if args.export:
        meta = export_default(args.export, out=args.out)
        print(json.dumps({k: meta.get(k) for k in ("epoch", "val_mae", "test_mae", "n_test", "source_run")}))
        return 0
    if not args.run_dir:
        raise CommandError("give RUN_DIR (or --export RUN_DIR)")
    names = ("epochs", "batch_size", "lr", "warmup_epochs", "schedule", "plateau_factor",
             "plateau_patience", "min_lr", "weight_decay", "grad_clip", "patience", "seed",
             "architecture", "dropout_epochs")
    settings = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    if args.dropout is not None:
        settings["dropout"] = tuple(float(p) for p in args.dropout.split(",") if p.strip())
    settings["bf16"] = {"auto": None, "on": True, "off": False}[args.bf16]
    out = train(args.run_dir, TrainConfig(**settings), device=args.device,
                num_threads=args.threads, stop_after=args.stop_after)
    out.pop("history"), out.pop("model")
    print(json.dumps(out))
    return 0
