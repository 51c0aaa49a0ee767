"""The ``hullpack`` command line. Thin: it parses, calls the library and prints.

Each subcommand is a module of this package named in :data:`COMMANDS`: it defines ``NAME`` (the
subcommand), ``HELP`` (one line for ``hullpack --help``), optionally ``DESCRIPTION``,
``add_arguments(parser)`` and ``run(args) -> int``. Adding a subcommand is adding its module and
its name to :data:`COMMANDS`; ``EXAMPLES`` (command lines) end its ``--help``. Errors the user can
fix print one line, ``hullpack COMMAND: ...``, and exit with status 2 (see :mod:`hullpack.cli.common`);
Ctrl-C exits with 130, a reader that stops early (``| head``) with 1, a path that cannot be made or
read with 2 and a stream that cannot be written (a full disk) with 1, none with a traceback. An
option or choice the parser does not know is answered with the nearest one (``did you mean``).

Results go to stdout; notes, progress bars and logging to stderr, as much as -q or -v asks
(:func:`hullpack.cli.common.verbosity`).
"""
from __future__ import annotations

import argparse
import difflib
import errno
import importlib
import logging
import os
import re
import sys

from .common import (EXTRA_OF, NOTES, QUIET, VERBOSE, CommandError, missing_extra_message, verbosity,
                     warnings_as_notes)

#: the subcommand modules, in the order ``hullpack --help`` lists them
COMMANDS = ("info", "train", "predict", "batches", "explain", "bench_memory", "screen", "stability")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = Parser(
        prog="hullpack", formatter_class=HelpFormatter,
        description="Graph-size-aware batch samplers; ElemNet hull screening and explainability. Results go to "
                    "stdout, notes and progress bars to stderr.",
        epilog="examples:\n  hullpack predict Fe2O3 NaCl > energies.csv\n  hullpack COMMAND --help",
    )
    parser.add_argument("--version", action="version", version=f"hullpack {__version__}")
    _add_output_options(parser, default=False)
    # -q and -v also after the subcommand (hullpack screen ... -q); SUPPRESS: absent there, they
    # leave what was given before it alone
    after = argparse.ArgumentParser(add_help=False)
    _add_output_options(after, default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        command = importlib.import_module(f"{__name__}.{name}")
        examples = getattr(command, "EXAMPLES", ())
        # its --help opens with what it does: the DESCRIPTION, else the line hullpack --help lists
        description = getattr(command, "DESCRIPTION", None) or command.HELP
        p = sub.add_parser(command.NAME, help=command.HELP, description=description,
                           # typeshed asks parents of the subparsers' own class; argparse takes any parser
                           parents=[after],  # type: ignore[list-item]
                           formatter_class=HelpFormatter,
                           epilog="examples:\n" + "\n".join(f"  {line}" for line in examples) if examples else None)
        command.add_arguments(p)
        p.set_defaults(func=command.run)
    return parser


class Parser(argparse.ArgumentParser):
    """argparse's parser, but a word it does not know is refused by the subcommand it was given to
    (``hullpack predict: error: unrecognized arguments: --jsn``, with that subcommand's usage), and a
    mistyped option or choice is answered with the nearest one (``did you mean --json?``)."""

    def parse_args(self, args=None, namespace=None):
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            subparsers = [a for a in self._actions if isinstance(a, argparse._SubParsersAction)]
            command = getattr(namespace, "command", None)
            parser = subparsers[0].choices[command] if subparsers and command else self
            parser.error(f"unrecognized arguments: {' '.join(extras)}{_nearest(extras, parser)}")
        return namespace

    def _check_value(self, action, value):
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as exc:
            close = difflib.get_close_matches(str(value), [str(c) for c in action.choices], n=1)
            if not close:
                raise
            raise argparse.ArgumentError(action, f"{exc.message}; did you mean {close[0]!r}?") from None


def _nearest(words: list[str], parser: argparse.ArgumentParser) -> str:
    """`` (did you mean --json?)`` for the first of ``words`` that is a mistyped option of ``parser``.

    >>> _nearest(["--jsn"], build_parser()._subparsers._group_actions[0].choices["info"])
    ' (did you mean --json?)'
    >>> _nearest(["Fe2O3"], build_parser())
    ''
    """
    options = [o for o in parser._option_string_actions if o.startswith("--")]
    for word in words:
        if word.startswith("--"):
            close = difflib.get_close_matches(word.split("=", 1)[0], options, n=1)
            if close:
                return f" (did you mean {close[0]}?)"
    return ""


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help, but an option's default is shown where its help does not say it, and the
    example lines of the epilog are kept as written, not run together."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.option_strings and "default" not in text and action.default is not None
                and not isinstance(action.default, bool) and action.default is not argparse.SUPPRESS):
            text += " (default: %(default)s)"
        return text

    def _fill_text(self, text, width, indent):
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _add_output_options(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", default=default,
                        help="no progress bars or logging below warnings: results, notes (what was left out or read otherwise) and errors only")
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="also debug logging (by default: results, notes, progress bars on a terminal)")


def _missing_module(exc: ImportError) -> str | None:
    """The optional module whose absence raised ``exc``: the module not found (``import pyarrow``),
    else, for a plain ImportError that a library raises itself, the first optional module its
    message names (pandas' ``to_parquet`` without pyarrow: "Unable to find a usable engine; tried
    using: 'pyarrow', 'fastparquet'"). None for a module that is there but lacks a name.

    >>> _missing_module(ModuleNotFoundError("No module named 'sklearn'", name="sklearn"))
    'sklearn'
    >>> _missing_module(ImportError("Unable to find a usable engine; tried using: 'pyarrow', 'fastparquet'."))
    'pyarrow'
    >>> _missing_module(ImportError("cannot import name 'Foo' from 'pymatgen.core'", name="pymatgen.core")) is None
    True
    """
    if isinstance(exc, ModuleNotFoundError):
        return exc.name
    if exc.name is not None:  # "cannot import name 'x' from 'pymatgen.core'": installed, another version
        return None
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", str(exc)))
    return next((module for module in EXTRA_OF if module in words), None)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")  # the level: verbosity's
    # OpenMP threads that spin while waiting are many times slower when another process shares the
    # cores; effective only before torch is first imported (every command imports it lazily)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        with verbosity(QUIET if args.quiet else VERBOSE if args.verbose else NOTES), warnings_as_notes(args.command):
            status = int(args.func(args) or 0)
        sys.stdout.flush()  # here, not at exit: a reader gone by then (| head) is handled below
        return status
    except KeyboardInterrupt:  # Ctrl-C: the shell's status for it, without a traceback
        print(f"hullpack {args.command}: interrupted", file=sys.stderr)
        return 130
    except CommandError as exc:
        print(f"hullpack {args.command}: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:  # an optional dependency the command reached without checking
        message = missing_extra_message(_missing_module(exc))
        if message is None:
            raise
        print(f"hullpack {args.command}: {message}", file=sys.stderr)
        return 2
    except ValueError as exc:  # hullpack's errors name the bad input; no traceback for those
        print(f"hullpack {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped early (hullpack predict ... | head): no traceback
        _stdout_to_nothing()
        return 1
    except OSError as exc:  # a path given that cannot be made or read (RUN_DIR inside a file); a full disk
        print(f"hullpack {args.command}: {_path_problem(exc)}", file=sys.stderr)
        if exc.filename is not None:
            return 2
        try:  # stdout itself may be what failed (> /dev/full): Python would fail again, flushing it at exit
            sys.stdout.flush()
        except OSError:
            _stdout_to_nothing()
        return 1


def _path_problem(exc: OSError) -> str:
    """``exc`` in a line: where a file stands in a path that needs a folder there (``--out
    f.csv/m.pt``: mkdir says "File exists", open says "Not a directory"), the file is named as such."""
    name = exc.filename
    if name is None:
        return str(exc.strerror or exc)
    in_the_way = str(name)
    while in_the_way and not os.path.exists(in_the_way):
        in_the_way = os.path.dirname(in_the_way)
    if in_the_way and os.path.isfile(in_the_way) and in_the_way != os.path.normpath(str(name)):
        return f"{name}: {in_the_way} is a file, where the path needs a folder"
    if in_the_way and os.path.isfile(in_the_way) and exc.errno == errno.EEXIST:  # made as a folder
        return f"{name}: a file, where the path needs a folder"
    return f"{name}: {exc.strerror or exc}"


def _stdout_to_nothing() -> None:
    """Point stdout at nothing: Python flushes it again at exit, which fails where writing it did."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
