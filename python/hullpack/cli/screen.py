"""``hullpack screen``: screen binary, ternary or quaternary systems for predicted stable compounds,
compare them with DFT, and write tables and figures. On a base install (no extras) it writes the
CSV tables and the summary and names, in one line, what it skipped and the extra that adds it."""
from __future__ import annotations

import argparse
import os
import re
from typing import Any

from ..columns import OPTIMADE_COMPOSITION_COLUMNS
from .common import (COMPOSITION_COLUMNS, ENERGY_COLUMNS, MODEL_HELP, CommandError, add_threads, input_file, missing, note,
                     plural, require)

NAME = "screen"
HELP = "screen binary/ternary/quaternary systems for predicted stable compounds vs DFT"
DESCRIPTION = ("Predict every composition of a grid in every binary (ternary, quaternary) system of ElemNet's "
               "elements with the shipped model (or --model), build the convex hulls, compare with the OQMD "
               "hulls (or --dft FILE, your own), and write CSV and Parquet tables and group-pair heatmaps to --out, with a manifest.json that lists them. "
               "By default the grid holds the fractions with denominators up to 10 and a hull vertex counts as "
               "a stable compound when it lies at least 0.01 eV/atom below the hull of the other points "
               "(--grid uniform:100 --min-depth 0 screens as before). Systems are named Fe-O (symbols in "
               "alphabetical order) and formulas Fe2O3, as pymatgen writes them. Under torchrun the systems are "
               "split across ranks and rank 0 writes the merged result. Parquet, group tables and figures need "
               'the screening extra (pip install "hullpack[screening]"); without it the CSV tables are written.')


#: the library's names of screen()'s parameters in its messages -> this command's options
_PARAMETER = re.compile(r"(?<![\w-])(grid|shard|order|min_depth|match_tol|device|elements|column|energies)=")
_OPTION_OF = {"column": "dft-column", "energies": "dft-energy-column"}
EXAMPLES = ("hullpack screen                                    # all binaries, shipped model",
            'hullpack screen --order 3 --elements "Li Fe Mn Co Ni O" --plot Fe-Ni-O',
            "hullpack screen --shard 2/4 --out part2",
            "hullpack screen --merge part0 part1 part2 part3 --out all")


def add_arguments(p: argparse.ArgumentParser) -> None:
    # default None, read as 2: a screen of 3 or more --elements without --order notes what it left out
    p.add_argument("--order", type=int, default=None, help="2 (binaries, default), 3 (ternaries) or 4 (quaternaries: "
                   "give --elements; a quaternary's --plot is a table, SYSTEM.csv)")
    p.add_argument("--elements", help='element symbols, e.g. "Fe Ni O" or Fe,Ni,O (default: all 86; '
                   'required with --order 4)')
    p.add_argument("--grid", metavar="SPEC", help="reduced:N (every composition whose fractions have "
                   "denominators up to N; default reduced:10), uniform:N or N (step 1/N)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "bf16-uncertified"), default="auto",
                   help="auto (default): fp32 where it was measured no slower: on CPU for ReLU networks such as "
                        "ElemNet (hullpack's fp32 layers skip zero activations) and for any model where the CPU has "
                        "no bf16 arithmetic, on a GPU for models that start with a Linear layer; else bf16, which "
                        "re-evaluates every hull vertex and every point near the hull in fp32, validated by "
                        "calibration and audit")
    p.add_argument("--model", help=MODEL_HELP + "; a model of your own (torch.save, TorchScript, any callable) screens from Python: "
                   "hullpack.screening.screen(model, ...), inputs in hullpack.elements.ELEMNET_ELEMENTS order")
    p.add_argument("--out", default="hullpack-screen", help="output folder (default ./hullpack-screen); one "
                   "that holds another screen's outputs is refused unless --overwrite")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the outputs of the screen that wrote --out before (the files its manifest.json "
                        "lists, nothing else)")
    p.add_argument("--plot", metavar="SYSTEM", help="also draw one system, e.g. Fe-O or Fe-Ni-O; a quaternary "
                   "(Fe-Li-O-P) is listed instead: its stable compounds, predicted and known, printed and written "
                   "to SYSTEM.csv")
    p.add_argument("--plot-only", action="store_true", help="with --plot: screen and draw only that system (no "
                   "tables; --order, --elements, --shard, --points and --no-dft are refused with it)")
    p.add_argument("--shard", metavar="I/N", help="screen the I-th of N slices of the systems (0-based); --merge joins the "
                   "shards' --out folders into the whole screen")
    p.add_argument("--merge", nargs="+", metavar="FOLDER",
                   help="merge the --out folders of a screen's shards (--shard i/n, in any order) into --out: the "
                        "tables, groups and heatmaps of the whole screen, and its summary printed; the screen's "
                        "settings come from the shards' manifests")
    p.add_argument("--points", action="store_true", help="also write every grid point (large)")
    p.add_argument("--no-dft", action="store_true", help="skip the comparison with the OQMD hulls")
    p.add_argument("--dft", metavar="FILE", help="compare with these known compounds instead of the shipped OQMD "
                   "set: a table file (CSV, TSV, Parquet, JSON) or a saved OPTIMADE answer of formulas and "
                   "formation energies in eV/atom (elements at 0), e.g. from Materials Project, JARVIS, AFLOW or "
                   "OQMD; also drawn by --plot")
    p.add_argument("--dft-column", metavar="NAME", help="--dft FILE's formula column (default: the first of "
                   + ", ".join(COMPOSITION_COLUMNS) + "; in an OPTIMADE answer "
                   + " or ".join(OPTIMADE_COMPOSITION_COLUMNS) + ")")
    p.add_argument("--dft-energy-column", metavar="NAME", help="--dft FILE's formation energy column (eV/atom; "
                   "default: the first of " + ", ".join(ENERGY_COLUMNS) + "; in an OPTIMADE answer, a formation "
                   "energy of these after its provider's prefix, e.g. _oqmd_delta_e; Materials Project's "
                   "energy_per_atom is a total energy and is refused)")
    p.add_argument("--min-depth", type=float, metavar="EV",
                   help="count a hull vertex as stable only if it lies this far (eV/atom) below the hull "
                        "of the other points (default 0.01; 0: every vertex)")
    p.add_argument("--match-tol", type=float, metavar="DX",
                   help="composition tolerance when matching predicted and DFT stable compounds "
                        "(default: half the grid's smallest spacing)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    add_threads(p)


def _gather(result, world: int, rank: int):
    """Rank 0: the merged result of every rank's shard; other ranks: None."""
    import torch.distributed as dist

    from hullpack.screening import ScreenResult

    if not dist.is_initialized():
        dist.init_process_group("gloo")
    model, known, result.model, result.dft = result.model, result.dft, None, None  # not sent between processes
    parts: list[Any] | None = [None] * world if rank == 0 else None  # rank 0's: every rank's shard
    dist.gather_object(result, parts, dst=0)
    dist.destroy_process_group()
    if parts is None:  # not rank 0
        return None
    merged = ScreenResult.concat(parts)
    merged.model, merged.dft = model, known
    return merged


def _save(result, args, plot: str | None, skipped: list[tuple[str, str]]) -> list:
    """The tables (CSV; Parquet with pyarrow), after a DFT comparison the group tables (pymatgen)
    and heatmaps (matplotlib), and the plot, in one write into --out with its manifest; what it
    cannot write goes to ``skipped``."""
    tables = not args.plot_only
    parquet = tables and not missing("pyarrow")
    if tables and not parquet:
        skipped.append(("Parquet tables", "pyarrow"))
    groups = heatmaps = False
    if tables and "stab_tp" in result.systems and len(result.systems):
        if missing("pymatgen"):
            skipped.append(("group-pair tables and heatmaps", "pymatgen"))
        else:
            groups = True
            heatmaps = not missing("matplotlib")
            if not heatmaps:
                skipped.append(("group-pair heatmaps", "matplotlib"))
    options = {k: v for k, v in vars(args).items() if k != "func"}
    return result.save(args.out, csv=tables, parquet=parquet, groups=groups, heatmaps=heatmaps,
                       plots=[plot] if plot else [], overwrite=args.overwrite,
                       record={"command": "hullpack screen", "options": options})


def cli_words(message: str) -> str:
    """A library message as this command says it: its options in place of the Python parameters.

    >>> cli_words("out 'o': holds another screen's outputs; replace them with overwrite=True (hullpack screen --overwrite)")
    "--out 'o': holds another screen's outputs; replace them with --overwrite"
    >>> cli_words("grid='reduced:x': expected ...; min_depth=-1: expected >= 0")
    "--grid 'reduced:x': expected ...; --min-depth -1: expected >= 0"
    """
    message = message.replace("overwrite=True (hullpack screen --overwrite)", "--overwrite")
    message = re.sub(r"^(out|elements)\b", r"--\1", message)
    return _PARAMETER.sub(lambda m: f"--{_OPTION_OF.get(m[1], m[1].replace('_', '-'))} ", message)


def _read_dft(args: argparse.Namespace):
    """--dft FILE's compounds, its columns named by --dft-column / --dft-energy-column or found
    among the recognised names; a missing column is named in this command's words."""
    import pandas as pd

    from hullpack.columns import find_column
    from hullpack.screening.dft import DFTCompounds
    from hullpack.stability.inputs import read_table

    df = read_table(input_file(args.dft, "--dft"))
    # its bad rows named as hullpack predict and stability name them: the first under the header is row 1
    df.index = pd.Index([f"--dft row {i}" for i in range(1, len(df) + 1)])
    where = f"--dft {args.dft}"
    try:
        column = find_column(df, args.dft_column, COMPOSITION_COLUMNS, "formula", how="--dft-column")
        energy = find_column(df, args.dft_energy_column, ENERGY_COLUMNS, "formation energy",
                             how="--dft-energy-column")
    except ValueError as exc:
        raise CommandError(f"{where}: {exc}") from None
    return DFTCompounds.read(df, energy, column=column, name=os.path.basename(args.dft))


def run(args: argparse.Namespace) -> int:
    from hullpack.errors import ScreeningError

    try:
        return _run(args)
    except ScreeningError as exc:  # the library names its parameters; say it with this command's options
        raise CommandError(cli_words(str(exc))) from None


#: options that set what a screen computes: --merge takes them from the shards' manifests
_SCREEN_OPTIONS = ("order", "elements", "grid", "precision", "model", "plot", "plot_only", "shard", "points",
                   "no_dft", "dft", "dft_column", "dft_energy_column", "min_depth", "match_tol", "device", "threads")
#: options of a screen of many systems, which --plot-only's screen of one system has no use for: its
#: order and elements are the system's, it writes no tables, and it compares only with --dft FILE
_NOT_FOR_PLOT_ONLY = ("order", "elements", "shard", "points", "no_dft")


def _given(args: argparse.Namespace, options) -> list[str]:
    """The options among ``options`` (their ``args`` names) that this command line sets to other
    than their defaults, as they are written (``--min-depth``)."""
    defaults = argparse.ArgumentParser()
    add_arguments(defaults)
    return [f"--{o.replace('_', '-')}" for o in options if getattr(args, o) != defaults.get_default(o)]


def _merge(args: argparse.Namespace) -> int:
    """--merge FOLDER...: the shards' folders read back, merged in shard order, written to --out
    and summarised, as the unsharded screen would have been."""
    from hullpack.screening import ScreenResult
    from hullpack.screening.outputs import MANIFEST, check_folder

    given = _given(args, _SCREEN_OPTIONS)
    if given:
        raise CommandError(f"--merge takes the screen's settings from the shards' manifests: {', '.join(given)} "
                           "cannot be given with it (give them to each --shard screen; draw a system with "
                           "--plot SYSTEM --plot-only and the shards' --model and --grid)")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise CommandError("--merge reads and writes folders: run it once, not under torchrun")
    out = os.path.realpath(args.out)
    for folder in args.merge:
        if os.path.realpath(folder) == out:
            raise CommandError(f"--out {args.out!r} is one of the shard folders to merge: give a new folder")
    check_folder(args.out, None, overwrite=args.overwrite)  # before reading the shards
    result = ScreenResult.read_shards(args.merge)
    skipped: list[tuple[str, str]] = []
    files = _save(result, args, None, skipped)
    print(result.summary())
    print(f"merged {plural(len(args.merge), 'shard')} of one screen ({', '.join(args.merge)})")
    _note_skipped(skipped)
    print(f"wrote {plural(len(files), 'file')} and {MANIFEST} to {os.path.abspath(args.out)}")
    return 0


def _check_plot_is_screened(plot: str, args: argparse.Namespace, world: int) -> None:
    """--plot SYSTEM draws a system of this screen, beside its tables: one it does not screen
    (another order, an element outside --elements, another shard) is refused before any work,
    with the two ways to get what was meant."""
    import numpy as np

    from hullpack import compositions
    from hullpack.screening.names import ORDER_NAMES, parse_system, system_names
    from hullpack.screening.pipeline import parse_shard

    n = len(parse_system(plot))
    alone = f"draw it alone with --plot {plot} --plot-only"
    if n != args.order:
        raise CommandError(f"--plot {plot} is a {ORDER_NAMES[n]} system and this screen screens {ORDER_NAMES[args.order]}"
                           f" systems (--order {args.order}): give --order {n}, or {alone}")
    try:
        table = compositions.systems(args.order, args.elements)
        shard = parse_shard(args.shard) if world == 1 else None  # under torchrun rank 0 writes them all
    except ValueError:
        return  # the screen itself names what is wrong with --elements or --shard
    if args.elements is not None and plot not in system_names(table):
        raise CommandError(f"--plot {plot} is not among the systems of --elements {args.elements!r}: add its "
                           f"elements to --elements, or {alone}")
    if shard is not None:
        where = [k for k, part in enumerate(np.array_split(table, shard[1])) if plot in system_names(part)]
        if where and where[0] != shard[0]:
            raise CommandError(f"--plot {plot} is screened by shard {where[0]}/{shard[1]}, not {shard[0]}/{shard[1]}: "
                               f"give it to that shard's command, or {alone}")


def _note_higher_orders(elements: list[str]) -> None:
    """A note on stderr that a screen of binaries (no --order) left out the ternary (quaternary)
    systems of its --elements, and the option that screens them."""
    from math import comb

    from hullpack.screening.names import ORDER_NAMES

    left = [(k, comb(len(elements), k)) for k in (3, 4) if comb(len(elements), k)]  # orders a screen runs
    if not left:
        return
    systems = " and ".join(plural(count, f"{ORDER_NAMES[k]} system") for k, count in left)
    how = (" or ".join(f"--order {k} ({ORDER_NAMES[k]})" for k, _ in left) if len(left) > 1
           else f"--order {left[0][0]}")
    note(NAME, f"no --order given: screened only the binary systems of {' '.join(sorted(elements))}, not their "
         f"{systems}; add {how} to screen {'it' if sum(c for _, c in left) == 1 else 'them'}")


def _note_skipped(skipped: list[tuple[str, str]]) -> None:
    """One line on stderr: what was not written and the extra that adds it."""
    if skipped:
        needs = sorted({module for _, module in skipped})
        note(NAME, f"skipped {', '.join(what for what, _ in skipped)} "
             f"({', '.join(needs)} not installed): pip install \"hullpack[screening]\"")


def _run(args: argparse.Namespace) -> int:
    from hullpack.errors import ScreeningError
    from hullpack.screening import screen
    from hullpack.screening.names import parse_system, system_name
    from hullpack.screening.outputs import MANIFEST, check_folder
    from hullpack.screening.summary import system_line

    if args.merge:
        return _merge(args)
    binaries_by_default = args.order is None and args.elements is not None and not args.plot_only
    if args.order is None and not args.plot_only:  # --plot-only takes the order of its system
        args.order = 2

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1 and args.shard:
        raise CommandError("--shard and torchrun both split the systems; use one")
    if args.plot_only and not args.plot:
        raise CommandError("--plot-only draws the system of --plot SYSTEM: give --plot too")
    if args.dft and args.no_dft:
        raise CommandError("--dft FILE compares with FILE's compounds and --no-dft with none: give one")
    for option, value in (("--dft-column", args.dft_column), ("--dft-energy-column", args.dft_energy_column)):
        if value and not args.dft:
            raise CommandError(f"{option} names a column of --dft FILE: give --dft too")
    try:
        plot = system_name(args.plot) if args.plot else None  # a bad name stops before any work
    except ScreeningError as exc:  # "system 'FeO': expected ...": the name came as --plot
        raise CommandError(re.sub(r"^system ", "--plot ", str(exc))) from None
    if args.plot_only:
        unused = _given(args, _NOT_FOR_PLOT_ONLY)
        if unused:
            raise CommandError(f"--plot-only screens and draws {plot} alone (its own order and elements, no tables, "
                               f"compared only with --dft FILE; drawn with the OQMD compounds without it): {', '.join(unused)} "
                               f"{'has' if len(unused) == 1 else 'have'} no effect with it; leave "
                               f"{'it' if len(unused) == 1 else 'them'} out, or drop --plot-only to screen "
                               f"the systems and draw {plot} beside their tables")
    table_only = plot is not None and len(parse_system(plot)) > 3  # a quaternary: a table, not a figure
    if plot is not None and not args.plot_only:
        _check_plot_is_screened(plot, args, world)
    if args.plot and not table_only:
        require("plot", "matplotlib", what="--plot")
    check_folder(args.out, None, overwrite=args.overwrite)  # every rank: a refused --out stops them all
    depth = {} if args.min_depth is None else {"min_depth": args.min_depth}
    compare_dft = not args.no_dft  # True: the shipped OQMD compounds
    if args.dft:
        compare_dft = _read_dft(args)  # refused before any work
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.plot_only:
        if rank != 0:
            return 0
        assert plot is not None  # --plot-only needs --plot (checked above)
        plot_elements = parse_system(plot)
        result = screen(args.model, order=len(plot_elements), elements=plot_elements.tolist(), grid=args.grid,
                        precision=args.precision, compare_dft=compare_dft if args.dft else False, device=args.device,
                        match_tol=args.match_tol, progress=not args.quiet,  # the figure matches within it
                        **depth)
    else:
        result = screen(args.model, order=args.order, elements=args.elements, grid=args.grid,
                        precision=args.precision, points=args.points, compare_dft=compare_dft,
                        match_tol=args.match_tol, device=args.device,
                        shard=f"{rank}/{world}" if world > 1 else args.shard, progress=not args.quiet and rank == 0,
                        **depth)
        if world > 1:
            result = _gather(result, world, rank)
            if result is None:
                return 0
    skipped: list[tuple[str, str]] = []
    files = _save(result, args, plot, skipped)
    if not args.plot_only:
        print(result.summary())
        if plot is not None and not table_only:
            print(system_line(result, plot))
    if table_only:
        assert plot is not None  # a quaternary named by --plot
        import pandas as pd

        with pd.option_context("display.width", 120, "display.max_columns", 20, "display.max_rows", 60):
            print(f"{plot}: a quaternary is listed, not drawn (also in {plot}.csv)\n"
                  f"{result.system_table(plot).to_string(index=False, float_format=lambda v: f'{v:.4f}')}")
    if binaries_by_default:
        _note_higher_orders(result.config["elements"])
    _note_skipped(skipped)
    print(f"wrote {plural(len(files), 'file')} and {MANIFEST} to {os.path.abspath(args.out)}")
    return 0
