"""What the subcommands share: the error that ends a command with one line and exit status 2,
checks of optional dependencies that name the extra to install, argument types, and wording.

>>> plural(1, "file"), plural(3, "file")
('1 file', '3 files')
>>> missing_extra_message("matplotlib")
'needs matplotlib, which is not installed: pip install "hullpack[plot]"'
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
import warnings

from ..columns import COMPOSITION_COLUMNS, ENERGY_COLUMNS, TABLE_SUFFIXES  # noqa: F401 - the commands' help
from ..naming import plural  # the commands' counts

#: optional modules -> the extra of hullpack that installs them
EXTRA_OF = {"matplotlib": "plot", "pyarrow": "parquet", "pymatgen": "materials", "torch_geometric": "pyg",
            "shap": "xai", "sklearn": "xai", "scipy": "xai"}


#: what a command says on stderr besides its results, errors and notes (:func:`note`, always):
#: -q logging of warnings only, by default also INFO logging, progress bars and :func:`message`'s
#: summaries, -v also DEBUG logging
QUIET, NOTES, VERBOSE = 0, 1, 2
_level = NOTES


@contextlib.contextmanager
def verbosity(level: int):
    """Commands inside say as much as ``level`` (QUIET, NOTES or VERBOSE) allows: what
    :func:`message` prints beside the results, the root logger's level and the progress bars (``HULLPACK_QUIET``, read by
    :mod:`hullpack._progress`); all as they were after."""
    global _level
    root = logging.getLogger()
    saved = _level, root.level, os.environ.get("HULLPACK_QUIET")
    _level = level
    root.setLevel({QUIET: logging.WARNING, NOTES: logging.INFO}.get(level, logging.DEBUG))
    if level == QUIET:
        os.environ["HULLPACK_QUIET"] = "1"
    try:
        yield
    finally:
        _level = saved[0]
        root.setLevel(saved[1])
        if saved[2] is None:
            os.environ.pop("HULLPACK_QUIET", None)
        else:
            os.environ["HULLPACK_QUIET"] = saved[2]


def note(command: str, text: str) -> None:
    """``hullpack COMMAND: note: TEXT`` on stderr, with -q too: a note says what was left out or read
    otherwise than one might expect (rows skipped, a formula read as one compound, CSV written for
    Parquet), which can change what the results mean; -q leaves out the progress bars and logging.

    >>> import contextlib, sys
    >>> with contextlib.redirect_stderr(sys.stdout):
    ...     with verbosity(QUIET):
    ...         note("demo", "1 row left out")
    hullpack demo: note: 1 row left out
    """
    print(f"hullpack {command}: note: {text}", file=sys.stderr)


def message(text: str) -> None:
    """``text`` on stderr, unless quiet (-q): what a command says beside the results on stdout."""
    if _level >= NOTES:
        print(text, file=sys.stderr)


class CommandError(Exception):
    """A request the user can fix: :func:`hullpack.cli.main` prints ``hullpack COMMAND: <message>``
    (one line) and exits with status 2."""


def missing_extra_message(module: str | None) -> str | None:
    """One line naming the extra that installs ``module`` (a missing import), or None if no
    extra of hullpack provides it."""
    root = (module or "").split(".")[0]
    if root not in EXTRA_OF:
        return None
    return f'needs {root}, which is not installed: pip install "hullpack[{EXTRA_OF[root]}]"'


def missing(*modules: str) -> list[str]:
    """The ``modules`` that cannot be imported here."""
    out = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            out.append(name)
    return out


def require(extra: str, *modules: str, what: str | None = None, instead: str | None = None) -> None:
    """:class:`CommandError` naming ``extra`` if any of ``modules`` is missing (``what``: the
    option that needs them, if not the whole command; ``instead``: the option that does without).

    >>> require("parquet", "not_installed_here", what="--format parquet", instead="--format csv")
    Traceback (most recent call last):
    hullpack.cli.common.CommandError: --format parquet needs not_installed_here, which is not installed: pip install "hullpack[parquet]" (or --format csv)
    """
    absent = missing(*modules)
    if absent:
        raise CommandError(f"{what + ' ' if what else ''}needs {', '.join(absent)}, which "
                           f"{'is' if len(absent) == 1 else 'are'} not installed: pip install \"hullpack[{extra}]\""
                           + (f" (or {instead})" if instead else ""))


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


#: --model's help where it takes a model to predict with, worded once
MODEL_HELP = "a model file or a run folder of hullpack train (default, or 'default': the shipped model)"

#: --threads' help, worded once for every command that takes it (:func:`add_threads`)
THREADS_HELP = ("CPU threads, an integer >= 1 (0 and negative numbers are refused); default: all cores, or "
                "OMP_NUM_THREADS where set")


def add_threads(parser: argparse.ArgumentParser) -> None:
    """The --threads option, with the same help in every command (:data:`THREADS_HELP`)."""
    parser.add_argument("--threads", type=positive_int, help=THREADS_HELP)


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (a budget of 0 MiB is no budget to pack under)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def input_file(path: str, what: str) -> str:
    """``path`` if it is a readable file, else :class:`CommandError` naming ``what``."""
    if not os.path.exists(path):
        raise CommandError(f"{what} {path!r} does not exist")
    if not os.path.isfile(path):
        raise CommandError(f"{what} {path!r} is not a file")
    return path


def read_input_table(path: str, what: str, **kwargs):
    """The table at ``path`` (:func:`hullpack.stability.inputs.read_table`, ``kwargs`` passed on);
    :class:`CommandError` naming ``what`` (the option, ``--data``) and the file where it is
    missing, empty or unreadable."""
    from hullpack.stability.inputs import read_table

    try:
        return read_table(input_file(path, what), **kwargs)
    except ValueError as exc:  # an empty file, no rows, not Parquet (pyarrow's words name no option)
        text = str(exc)
        raise CommandError(f"{what} {text}" if text.startswith(path) else f"{what} {path}: {text}") from None


def joined_formulas(texts: dict[int, str]) -> dict[int, tuple[str, str]]:
    """Of formulas read as one compound (``texts``, by index), those that look like several in one
    argument: words apart (spaces between them) of which two each read as a formula of more than
    one element (``'Fe2O3 NaCl'``; not ``'Fe2 O3'`` nor ``'Li Fe P O4'``, whose words are an element
    each), with the first two such words.

    >>> joined_formulas({0: "Fe2O3 NaCl", 1: "Fe2 O3", 2: "Li Fe P O4", 3: "CuSO4 H2O LiF", 4: "Ca (OH)2"})
    {0: ('Fe2O3', 'NaCl'), 3: ('CuSO4', 'H2O')}
    """
    import numpy as np

    from hullpack.elemnet import parse_formulas

    words = [(i, word) for i, text in texts.items() for word in text.split()]
    x, bad = parse_formulas([word for _, word in words], all_elements=True)
    compound = np.count_nonzero(x, axis=1) > 1
    compound[[j for j, _, _ in bad]] = False  # a bad word's row is NaN, no compound
    compounds: dict[int, list[str]] = {}
    for (i, word), is_compound in zip(words, compound):
        if is_compound:
            compounds.setdefault(i, []).append(word)
    return {i: (c[0], c[1]) for i, c in compounds.items() if len(c) > 1}


#: texts of a grouped note_joined named in it before "and N more"
_JOINED_SHOWN = 5


def note_joined(command: str, texts: dict[int, str], where, *, grouped: str | None = None) -> None:
    """Spaces join a formula's parts ("Fe2 O3" is Fe2O3), so a formula that looks like several
    (``joined_formulas``) is read as one compound: a note on stderr says so and how to give several
    (``where[i]``: what the note calls ``texts[i]``, "formula 1"). One note per text typed as an
    argument; ``grouped`` (what holds the texts, "--file"): one note for them all, naming the first
    five, as a file's lines may be many, and saying to give each formula a line (a row) of its own.

    >>> import contextlib, sys
    >>> with contextlib.redirect_stderr(sys.stdout):
    ...     note_joined("demo", {0: "Fe2O3 NaCl", 1: "Fe2 O3"}, ["formula 1", "formula 2"])  # doctest: +NORMALIZE_WHITESPACE
    hullpack demo: note: formula 1 'Fe2O3 NaCl' is read as one compound, Fe2O3NaCl, as the spaces within
    a formula join its parts ('Fe2 O3' is Fe2O3); if it is several formulas ('Fe2O3' and 'NaCl'), give
    each as an argument of its own, without quotes around them
    >>> with contextlib.redirect_stderr(sys.stdout):
    ...     note_joined("demo", {0: "Fe2O3 NaCl KCl"}, ["--file line 2"], grouped="--file")  # doctest: +NORMALIZE_WHITESPACE
    hullpack demo: note: 1 formula of --file is read as one compound, as the spaces within a formula join
    its parts ('Fe2 O3' is Fe2O3): --file line 2 'Fe2O3 NaCl KCl' is Fe2O3NaClKCl; if one is several
    formulas ('Fe2O3' and 'NaCl'), give each a line of its own
    """
    joined = joined_formulas({i: t for i, t in texts.items() if len(t.split()) > 1})
    if grouped is None:
        for i, (left, right) in joined.items():
            note(command, f"{where[i]} {texts[i]!r} is read as one compound, {''.join(texts[i].split())}, "
                 f"as the spaces within a formula join its parts ('Fe2 O3' is Fe2O3); if it is several formulas "
                 f"({left!r} and {right!r}), give each as an argument of its own, without quotes around them")
        return
    if not joined:
        return
    shown = "; ".join(f"{where[i]} {texts[i]!r} is {''.join(texts[i].split())}" for i in list(joined)[:_JOINED_SHOWN])
    more = f"; and {len(joined) - _JOINED_SHOWN:,} more" if len(joined) > _JOINED_SHOWN else ""
    first = next(iter(joined))
    left, right = joined[first]
    one = len(joined) == 1
    note(command, f"{plural(len(joined), 'formula')} of {grouped} {'is' if one else 'are'} read as one "
         f"compound{'' if one else ' each'}, as the spaces within a formula join its parts ('Fe2 O3' is Fe2O3): "
         f"{shown}{more}; if one is several formulas ({left!r} and {right!r}), give each "
         f"{'a line' if where[first].startswith(f'{grouped} line') else 'a row'} of its own")


@contextlib.contextmanager
def warnings_as_notes(command: str, about: str = ""):
    """Prints each distinct warning raised inside as a note (:func:`note`),
    ``hullpack COMMAND: note: ABOUT...``, on stderr, instead of Python's warning with its source line: the message's first line there,
    each further line (the rows a table left out, say) indented under it, runs of blanks within a
    line made one. Deprecation warnings are for developers of the code that raised them (Python
    hides them outside ``__main__`` too): torch, shap and matplotlib raise some on import that a
    command's user can do nothing about.

    >>> import contextlib, sys, warnings
    >>> with contextlib.redirect_stderr(sys.stdout), warnings_as_notes("demo", about="--data t.csv: "):
    ...     warnings.warn("2 rows  cannot be used:\\n  row 3 'HeO': He\\n  row 5 '': empty")
    hullpack demo: note: --data t.csv: 2 rows cannot be used:
      row 3 'HeO': He
      row 5 '': empty
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        try:
            yield
        finally:
            seen = set()
            for w in caught:
                lines = [" ".join(line.split()) for line in str(w.message).splitlines()]
                text = "\n  ".join(line for line in lines if line)
                if text not in seen:
                    seen.add(text)
                    note(command, f"{about}{text}")
