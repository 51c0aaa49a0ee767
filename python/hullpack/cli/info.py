"""``hullpack info``: the version and what the compiled core was built with and can use now."""
from __future__ import annotations

import argparse
import json

NAME = "info"
HELP = "show the version and what the compiled core was built with"
EXAMPLES = ("hullpack info", "hullpack info --json > build.json")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    import hullpack

    info = hullpack.build_info()
    if args.json:
        print(json.dumps(info))
    else:
        width = max(map(len, info))
        for key, value in info.items():  # "" (no CUDA compiler, no architectures in a CPU build) read as a gap
            print(f"{key:>{width}}: {'none' if value == '' else value}")
    return 0
