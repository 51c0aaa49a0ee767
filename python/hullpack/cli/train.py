"""``hullpack train``: train ElemNet on the shipped OQMD data or a table of formulas and formation
energies (resuming a run folder), or export a run's best weights as a model file."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from dataclasses import replace

from .common import (COMPOSITION_COLUMNS, ENERGY_COLUMNS, TABLE_SUFFIXES, CommandError, add_threads, plural,
                     positive_float, positive_int, read_input_table, warnings_as_notes)

log = logging.getLogger("hullpack.cli.train")

NAME = "train"
VAL_FRACTION = 0.1  # of --data held out for validation when no --val-data is given
FEW_VAL_ROWS = 20  # a validation set of fewer rows is noted: best.pt and early stopping rest on them
HELP = "train ElemNet on OQMD or your own formulas and energies (resumes RUN_DIR), or export a run"
DESCRIPTION = ("Train ElemNet on the shipped OQMD train split, selecting on val, or on --data (a table of formulas "
               "and formation energies in eV/atom). RUN_DIR receives best.pt (the best-val weights: the model "
               "file for hullpack predict --model and hullpack explain --model), last.pt (the checkpoint a "
               "resumed run starts from; not a model file), metrics.jsonl (one JSON line per epoch) and "
               "config.json (the run's settings and data). "
               "Run it again on RUN_DIR to resume: settings not given are the run's own; --epochs and "
               "--patience may be raised. --init MODEL (--init default: the shipped model) fine-tunes a trained "
               "model on --data instead of starting from random weights. Under torchrun it trains with DDP. "
               "Defaults are those of hullpack.elemnet.TrainConfig.")
EXAMPLES = ("hullpack train runs/oqmd                               # resumes runs/oqmd if it holds a run",
            "hullpack train runs/mine --data mine.csv --val-fraction 0.1 --epochs 40",
            "hullpack train runs/tuned --data mine.csv --init default  # fine-tune the shipped model",
            "hullpack train --export runs/mine --out mine.pt")


def add_arguments(p: argparse.ArgumentParser) -> None:
    # defaults live in hullpack.elemnet.TrainConfig (not imported here: it pulls in torch)
    p.add_argument("run_dir", nargs="?", metavar="RUN_DIR", help="checkpoints, best weights, metrics.jsonl and config.json go here")
    p.add_argument("--data", metavar="FILE", help="train on this table (" + ", ".join(TABLE_SUFFIXES) + ") "
                   "instead of OQMD: a formula column (the first of " + ", ".join(COMPOSITION_COLUMNS) + ", or "
                   "--formula-column) and a formation energy column in eV/atom (the first of "
                   + ", ".join(ENERGY_COLUMNS) + ", or --energy-column); energies that look negated or per "
                   "formula unit, against the shipped model's, are noted before training")
    p.add_argument("--val-data", metavar="FILE", help="with --data: the validation table (default: --val-fraction "
                   "of --data, held out at random by --seed, a composition at a time: polymorphs of one composition all train "
                   "or all validate)")
    p.add_argument("--val-fraction", type=float, help="with --data and no --val-data: the share of "
                   f"rows held out for validation, whole compositions at a time (default {VAL_FRACTION})")
    p.add_argument("--formula-column", metavar="NAME", help="with --data: the formula column")
    p.add_argument("--energy-column", metavar="NAME", help="with --data: the formation energy column (eV/atom)")
    p.add_argument("--val-formula-column", metavar="NAME", help="with --val-data: its formula column (default: "
                   "--formula-column, else found as in --data)")
    p.add_argument("--val-energy-column", metavar="NAME", help="with --val-data: its formation energy column "
                   "(eV/atom; default: --energy-column, else found as in --data)")
    p.add_argument("--errors", choices=("raise", "skip"), help="with --data: rows whose formula "
                   "cannot be featurized or whose energy is missing: stop (raise, the default; a resumed run: its "
                   "own) or leave them out (skip, named in a note)")
    p.add_argument("--init", metavar="MODEL", help="fine-tune: start from this model's weights (a model file, a run "
                   "folder, or 'default': the shipped model trained on OQMD) instead of random ones; its "
                   "architecture and drop rates are the run's, with dropout off unless --dropout-epochs is "
                   "given. Its val MAE before training counts as epoch 0: "
                   "best.pt keeps the starting weights unless an epoch does better; --lr is then 1e-4 unless given")
    p.add_argument("--export", metavar="RUN_DIR", help="export RUN_DIR/best.pt as an fp16 model file "
                   "(--out), after measuring its MAE on the OQMD test split, then exit")
    p.add_argument("--out", metavar="FILE", help="with --export: the model file to write; 'default' replaces "
                   "the default model inside the installed package, which every command then uses (with "
                   "--overwrite; the shipped file is kept as elemnet_default.shipped.pt)")
    p.add_argument("--overwrite", action="store_true", help="with --export RUN_DIR --out default: replace the "
                   "default model")
    p.add_argument("--epochs", type=positive_int, help="most epochs in all (default 1000)")
    p.add_argument("--batch-size", type=positive_int, help="default 256 (per process under DDP)")
    p.add_argument("--lr", type=positive_float, help="peak learning rate, default 5e-4 (1e-4 with --init)")
    p.add_argument("--warmup-epochs", type=float, help="linear warmup, default 1")
    p.add_argument("--schedule", choices=("plateau", "cosine", "constant"), help="default plateau")
    p.add_argument("--plateau-factor", type=float, help="default 0.5")
    p.add_argument("--plateau-patience", type=positive_int, help="default 6")
    p.add_argument("--min-lr", type=float, help="default 1e-6")
    p.add_argument("--weight-decay", type=float, help="default 0")
    p.add_argument("--grad-clip", type=float, help="max gradient norm, default none")
    p.add_argument("--patience", type=positive_int, help="early stopping on val MAE, default 40 epochs")
    p.add_argument("--seed", type=int, help="default 0")
    p.add_argument("--architecture", help="default 1024x4D-512x3D-256x3D-128x3D-64x2-32x1-1")
    p.add_argument("--dropout", help="comma-separated drop rates of the D blocks (default 0.2,0.1,0.3,0.2)")
    p.add_argument("--dropout-epochs", type=int,
                   help="train with dropout only in the first N epochs (default 8; 0: never)")
    p.add_argument("--bf16", choices=("auto", "on", "off"), help="bf16 autocast: auto (where the hardware has "
                   "it), on or off (default auto; a resumed run keeps its own)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto")
    add_threads(p)
    p.add_argument("--stop-after", type=positive_int, help="return after this many epochs (resumable)")


def _table(path: str, what: str, args: argparse.Namespace):
    """``(X, y)`` of the --data or --val-data table (``what``), and the columns read."""
    from hullpack.elemnet import table_arrays, table_columns
    from hullpack.errors import CompositionError
    if not path.lower().endswith(TABLE_SUFFIXES):
        raise CommandError(f"{what} {path!r}: expected a table, {' or '.join(TABLE_SUFFIXES)}")
    df = read_input_table(path, what)
    formula_column, energy_column = args.formula_column, args.energy_column
    how = ("--formula-column", "--energy-column")
    if what == "--val-data":  # its own column names where given, else those of --data
        formula_column = args.val_formula_column or formula_column
        energy_column = args.val_energy_column or energy_column
        how = ("--val-formula-column", "--val-energy-column")
    try:
        columns = table_columns(df, formula_column=formula_column, energy_column=energy_column, how=how)
        with warnings_as_notes(NAME, about=f"{what} {path}: "):  # the rows left out, said now, not after training
            arrays = table_arrays(df, formula_column=columns[0], energy_column=columns[1], errors=args.errors,
                                  how=how)
        return arrays, columns
    except CompositionError as exc:
        hint = "\n(none is left)" if args.errors == "skip" else "" if len(exc.bad) == len(df) else \
            "\n(--errors skip leaves them out)"  # not where it would leave none
        raise CommandError(f"{what} {path}: {exc}{hint}") from None
    except ValueError as exc:
        hint = ""
        for what_column, own, base in (("formula", args.val_formula_column, args.formula_column),
                                       ("energy", args.val_energy_column, args.energy_column)):
            if what == "--val-data" and base and not own and \
                    str(exc).startswith(f"{what_column} column {base!r} is not among"):
                hint = (f" (--{what_column}-column names the column of --data; --val-{what_column}-column names "
                        "that of --val-data)")
        raise CommandError(f"{what} {path}: {exc}{hint}") from None


def _note_few(n_val: int, holds: str, more: str) -> None:
    """A note where the validation set has fewer than :data:`FEW_VAL_ROWS` rows: its MAE, the epoch
    best.pt keeps and early stopping rest on them, which a user reading best_val_mae may not expect."""
    if n_val < FEW_VAL_ROWS:
        with warnings_as_notes(NAME):
            warnings.warn(f"{holds} {plural(n_val, 'row')} for validation: the val MAE, the epoch best.pt keeps and "
                          f"early stopping rest on {'it' if n_val == 1 else 'them'} alone ({more})", stacklevel=2)


def _note_seen_by_shipped(x_val) -> None:
    """A note where --init default fine-tunes on validation compositions of OQMD's train split, which
    the shipped model was trained on: it has fit them, so its validation MAE there flatters the
    starting weights, and best.pt may keep them for no other reason."""
    from hullpack.elemnet.data import oqmd_arrays, shared_compositions

    shared, total = shared_compositions(oqmd_arrays("train")[0], x_val)
    if shared:
        with warnings_as_notes(NAME, about="--init default: "):
            warnings.warn(f"{shared} of the {plural(total, 'validation composition')} are in OQMD's train split, which "
                          "the shipped model was trained on: its validation MAE on them flatters the starting weights "
                          "(best.pt may keep them for that); validate on compositions OQMD's train split lacks "
                          "(--val-data) to choose on new ones", stacklevel=2)


#: rows of --data (the first ones) whose energies are compared with the shipped model's
_CONVENTION_ROWS = 5000


def _note_other_convention(x, y, what: str) -> None:
    """A note where the energies ``y`` of --data (``what``; fractions ``x``) look like another
    convention than formation energies per atom next to the shipped model's energies of the same
    rows (the first :data:`_CONVENTION_ROWS`): the opposite sign, or per formula unit
    (:func:`hullpack.stability.energies.reference_mismatch`). Such numbers pass every range check
    and would train the model on another quantity; said before training."""
    from hullpack.elemnet import load_pretrained
    from hullpack.elements import ELEMNET_ELEMENTS
    from hullpack.stability.energies import reference_mismatch
    from hullpack.stability.inputs import parse

    x, y = x[:_CONVENTION_ROWS], y[:_CONVENTION_ROWS]
    notes = reference_mismatch(parse(x, y, elements=list(ELEMNET_ELEMENTS)), load_pretrained().predict(x), 3,
                               rows_named="rows the shipped model predicts", source="the shipped model")
    if notes:
        with warnings_as_notes(NAME, about=f"{what}: "):
            for text in notes:
                warnings.warn(text, stacklevel=2)


def _user_data(args: argparse.Namespace, seed: int, new_run: bool = True):
    """Training and validation ``(X, y)`` of --data (and --val-data; else compositions held out by
    ``seed``), and where they came from. A ``new_run``'s energies are checked for another convention
    (a resumed run's were when it began)."""
    from hullpack.elemnet import hold_out
    from hullpack.elemnet.data import shared_compositions

    (x, y), (fcol, ecol) = _table(args.data, "--data", args)
    source = f"{args.data} (formula column {fcol}, energy column {ecol} in eV/atom; {len(y)} rows)"
    if new_run:
        _note_other_convention(x, y, f"--data {args.data}")
    log.info("--data: %s", source)
    if args.val_data:
        val, (val_fcol, val_ecol) = _table(args.val_data, "--val-data", args)
        shared, total = shared_compositions(x, val[0])
        if shared:  # said before training: the best epoch is chosen on these
            with warnings_as_notes(NAME, about=f"--val-data {args.val_data}: "):
                verb = "is" if shared == 1 else "are"
                warnings.warn(f"{shared} of its {plural(total, 'composition')} {verb} also in --data {args.data}: "
                              "validation measures them as trained on, not how the model does on new "
                              "compositions (leave --val-data out to hold some of --data out instead)", stacklevel=2)
        _note_few(len(val[1]), f"--val-data {args.val_data} holds", "give a larger --val-data")
        return (x, y), val, (f"{source}, selected on {args.val_data} (formula column {val_fcol}, energy column "
                             f"{val_ecol}; {len(val[1])} rows)")
    fraction = VAL_FRACTION if args.val_fraction is None else args.val_fraction
    if not 0 < fraction < 1:
        raise CommandError(f"--val-fraction {fraction}: expected a share between 0 and 1")
    try:
        tr, val = hold_out(x, fraction, seed)
    except ValueError as exc:
        raise CommandError(f"--data {args.data}: {exc}") from None
    _note_few(len(val), f"--val-fraction {fraction:g} holds out", "a larger --val-fraction holds out more, or "
              "--val-data gives a table of its own")
    return (x[tr], y[tr]), (x[val], y[val]), (f"{source}, selected on {len(val)} rows held out at random a "
                                              f"composition at a time (--val-fraction {fraction:g}, seed {seed})")


#: the options that say how --data and --val-data are read: a run keeps them (its data_options), and
#: a resumed run reads its tables the same way where they are not given
DATA_OPTIONS = ("errors", "val_fraction", "formula_column", "energy_column", "val_formula_column", "val_energy_column")


def _data_options(args: argparse.Namespace) -> dict:
    """The :data:`DATA_OPTIONS` of this run, as it read its tables (--val-fraction only without --val-data)."""
    options = {k: getattr(args, k) for k in DATA_OPTIONS}
    if args.val_data:
        options.pop("val_fraction")
    elif options["val_fraction"] is None:
        options["val_fraction"] = VAL_FRACTION
    return options


def _run_data_options(args: argparse.Namespace, run: dict) -> None:
    """Sets the :data:`DATA_OPTIONS` not given to those of the resumed run (``run``): "settings not
    given are the run's own". Given ones stay, and the data digest checks them with the rest. The
    --val-data ones only with --val-data, --val-fraction only without."""
    for name in DATA_OPTIONS:
        applies = not name.startswith("val_") or (name == "val_fraction") != bool(args.val_data)
        if applies and getattr(args, name) is None and run.get(name) is not None:
            setattr(args, name, run[name])


def _check_new_run_dir(run_dir: str) -> None:
    """CommandError where a new run may not go into ``run_dir``: a folder of another command's
    outputs (a screen's or a stability run's, known by its manifest) or of other files."""
    from hullpack.elemnet.train import check_run_dir
    from hullpack.screening.outputs import MANIFEST, read_manifest

    try:
        manifest = read_manifest(run_dir)
    except ValueError:  # a manifest.json of something else: named below with the other files
        manifest = None
    if manifest is not None:
        raise CommandError(f"RUN_DIR {run_dir}: holds the outputs of a hullpack {manifest.get('kind', 'screen')} (its "
                           f"{MANIFEST}): train into a new or empty folder")
    check_run_dir(run_dir)


def run(args: argparse.Namespace) -> int:
    from hullpack.elemnet import (TrainConfig, export_default, fine_tuning_defaults, read_checkpoint, resolve_model,
                                  run_config, train)
    from hullpack.errors import ModelFileError

    if args.overwrite and not args.export:
        raise CommandError("--overwrite goes with --export RUN_DIR --out default (it replaces the default model); "
                           "a run folder is resumed, or refused where it holds other files, never overwritten")
    if args.export:
        if not args.out:  # the package's own file is replaced only when asked for by name
            raise CommandError("--export needs --out FILE (the model file to write), or --out default --overwrite "
                               "to replace the shipped model inside the installed package")
        meta = export_default(args.export, out=None if args.out == "default" else args.out, overwrite=args.overwrite)
        print(json.dumps({k: meta.get(k) for k in ("epoch", "val_mae", "test_mae", "n_test", "test_data", "trained_on",
                                                   "source_run")}))
        return 0
    if not args.run_dir:
        raise CommandError("give RUN_DIR (or --export RUN_DIR)")
    if args.device != "auto":  # before the data are read: a machine without CUDA says so at once
        from hullpack.elemnet.io import as_device

        as_device(args.device)
    if os.path.isfile(args.run_dir):
        raise CommandError(f"RUN_DIR {args.run_dir!r} is a file: RUN_DIR is the folder the run writes to and resumes "
                           "from (a table to train on goes with --data)")
    data_options = ("val_data", "val_fraction", "formula_column", "energy_column", "val_formula_column",
                    "val_energy_column")
    if not args.data and any(getattr(args, k) is not None for k in data_options):
        raise CommandError("--val-data, --val-fraction, --formula-column, --energy-column and their --val- forms go "
                           "with --data: give --data too (OQMD's validation set is its own)")
    given = [f"--{k.replace('_', '-')}" for k in ("val_formula_column", "val_energy_column") if getattr(args, k)]
    if given and not args.val_data:
        raise CommandError(f"{' and '.join(given)} name{'s' if len(given) == 1 else ''} the columns of --val-data: "
                           "give --val-data too (--formula-column and --energy-column name those of --data)")
    if args.val_data and args.val_fraction is not None:
        raise CommandError(f"--val-fraction {args.val_fraction} holds rows of --data out for validation; --val-data "
                           f"{args.val_data} is the validation set: give one of them")
    names = ("epochs", "batch_size", "lr", "warmup_epochs", "schedule", "plateau_factor",
             "plateau_patience", "min_lr", "weight_decay", "grad_clip", "patience", "seed",
             "architecture", "dropout_epochs")
    settings = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    if args.dropout is not None:
        try:
            settings["dropout"] = tuple(float(p) for p in args.dropout.split(",") if p.strip())
        except ValueError:
            raise CommandError(f"--dropout {args.dropout!r}: expected comma-separated drop rates, "
                               "such as 0.2,0.1") from None
    if args.bf16 is not None:  # else auto for a new run, a resumed run's own setting
        settings["bf16"] = {"auto": None, "on": True, "off": False}[args.bf16]
    # a resumed run keeps its own settings where none are given; its checkpoint is read once, for
    # those settings and to resume from (it holds the weights and the optimizer's state)
    checkpoint = read_checkpoint(args.run_dir)
    if checkpoint is None:  # before the data are read: a folder of other files is refused at once
        _check_new_run_dir(args.run_dir)
    elif args.data:  # the run's own way of reading its tables, where not given
        _run_data_options(args, checkpoint.get("data_options") or {})
    args.errors = args.errors or "raise"
    init = args.init
    if init == "default" and checkpoint is None and not args.data:  # the shipped model on the data it has fit
        raise CommandError("--init default fine-tunes the shipped model on your table: give it with --data (without "
                           "--data the run would train the shipped model again on the OQMD data it was trained on)")
    if init and checkpoint is None:  # a fine-tuned model keeps its shape: settings not given are its own
        try:
            init = resolve_model(init)  # read once: train() starts from it
        except (ModelFileError, FileNotFoundError, IsADirectoryError) as exc:
            hint = "" if os.path.exists(args.init) and not args.init.lower().endswith(TABLE_SUFFIXES) else \
                " (--init takes a model file, a run folder of hullpack train or default; a table goes with --data)"
            raise CommandError(f"--init {args.init}: {exc}{hint}") from None
        settings = {**fine_tuning_defaults(init, settings), **settings}  # dropout off unless --dropout-epochs
        for name, value in (("architecture", init.architecture), ("dropout", tuple(init.dropout_rates))):
            if settings.get(name, value) != value:
                raise CommandError(f"--init {args.init}: its {name} is {value!r}, --{name} asks {settings[name]!r}: "
                                   f"fine-tuning keeps the model's {name}; leave --{name} out")
    cfg = replace(run_config(checkpoint) if checkpoint is not None else TrainConfig(), **settings)
    train_data = val_data = source = None
    if args.data:
        train_data, val_data, source = _user_data(args, cfg.seed, new_run=checkpoint is None)
        if args.init == "default" and checkpoint is None:  # said once, before the first epoch
            _note_seen_by_shipped(val_data[0])
    try:
        out = train(args.run_dir, cfg, train_data=train_data, val_data=val_data, data_source=source,
                    device=args.device, num_threads=args.threads, stop_after=args.stop_after, checkpoint=checkpoint,
                    init=init, data_options=_data_options(args) if args.data else None)
    except FloatingPointError as exc:  # diverged: one line saying what to change
        raise CommandError(str(exc)) from None
    except KeyboardInterrupt:  # Ctrl-C: last.pt holds every finished epoch
        done = read_checkpoint(args.run_dir)
        epochs = plural(done["state"]["epoch"] if done else 0, "finished epoch")
        print(f"hullpack train: interrupted; {args.run_dir} holds {epochs}: run the same command again to resume",
              file=sys.stderr)
        return 130
    out.pop("history"), out.pop("model")
    out["best_model"] = os.path.join(args.run_dir, "best.pt")
    print(json.dumps(out))
    return 0
