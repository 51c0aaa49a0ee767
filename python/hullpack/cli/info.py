"""``hullpack info``: the version, what the compiled core was built with and can use now, and, for a
bug report, where hullpack is installed, the versions of its optional dependencies and whether its
shipped data are there."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "info"
HELP = "show the version, what the compiled core was built with, and the install for a bug report"
EXAMPLES = ("hullpack info", "hullpack info --json > build.json")

#: optional dependencies whose versions a bug report needs (besides numpy and torch, in build_info)
OPTIONAL = ("pandas", "pymatgen", "matplotlib", "shap", "lightning")
#: the shipped files, inside the package; named here, not taken from hullpack.elemnet, which loads torch
SHIPPED = {"default_model": "data/elemnet_default.pt", "oqmd_data": "data/oqmd"}
#: the shipped default model, kept there once an export replaced it (hullpack.elemnet.pretrained's)
SHIPPED_BACKUP = "data/elemnet_default.shipped.pt"
#: what the versions of relu_mlp are: the kernel of ElemNet's fp32 layers that the CPU runs
RELU_MLP = {"avx512": "AVX-512 version", "avx2": "AVX2+FMA version",
            "portable": "portable version, much slower: no AVX2 and FMA here"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _shipped(root: Path, key: str) -> str:
    """The path of a shipped file, or that it is missing; the default model's says whether an
    export replaced it."""
    path = root / SHIPPED[key]
    if not path.exists():
        return f"missing ({path}): reinstall hullpack"
    if key == "default_model" and (root / SHIPPED_BACKUP).is_file():
        return f"{path} (an export replaced the shipped one, kept as {root / SHIPPED_BACKUP})"
    return str(path)


def report() -> dict:
    """:func:`hullpack.build_info`, then where hullpack is installed (``location``), the versions
    of :data:`OPTIONAL` ("not installed" where absent) and the paths of the shipped model and OQMD
    data ("missing (PATH)" where absent). Imports neither torch nor the optional packages."""
    import hullpack

    root = Path(hullpack.__file__).resolve().parent
    info = hullpack.build_info()
    info["location"] = str(root)
    info.update({name: _version(name) for name in OPTIONAL})
    info.update({key: _shipped(root, key) for key in SHIPPED})
    return info


def run(args: argparse.Namespace) -> int:
    info = report()
    if args.json:
        print(json.dumps(info))
    else:
        width = max(map(len, info))
        for key, value in info.items():  # "" (no CUDA compiler, no architectures in a CPU build) read as a gap
            text = "none" if value == "" else str(value)
            if key == "relu_mlp" and value in RELU_MLP:
                text += f" (the CPU kernel of ElemNet's fp32 layers: its {RELU_MLP[value]})"
            print(f"{key:>{width}}: {text}")
    return 0
