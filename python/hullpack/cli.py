"""The ``hullpack`` command line. Thin: it parses, calls the library and prints.

Each subcommand has an ``_add_<name>`` function that declares its arguments and sets ``func``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys


def _cmd_info(args: argparse.Namespace) -> int:
    import hullpack

    info = hullpack.build_info()
    if args.json:
        print(json.dumps(info))
    else:
        for key, value in info.items():
            print(f"{key:>13}: {value}")
    return 0


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="show the version and what the compiled core was built with")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)


def build_parser() -> argparse.ArgumentParser:
    from hullpack import __version__

    parser = argparse.ArgumentParser(
        prog="hullpack",
        description="Graph-size-aware batch samplers; ElemNet hull screening and explainability.",
    )
    parser.add_argument("--version", action="version", version=f"hullpack {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings only")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_info,):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.quiet:
        os.environ["HULLPACK_QUIET"] = "1"  # read by hullpack._progress
    if args.command is None:
        parser.print_help()
        return 0
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
