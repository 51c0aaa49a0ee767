"""hullpack: graph-size-aware batch samplers, and ElemNet convex-hull screening with explainability.

Subpackages:

- :mod:`hullpack.packing` and :mod:`hullpack.samplers`: bin packing and balanced partitioning of
  items by size (C++ core), and torch samplers built on them for GNN training (single GPU and DDP).
- :mod:`hullpack.elemnet`: the ElemNet model, featurization, OQMD data, training and checkpoints.
- :mod:`hullpack.screening` and :mod:`hullpack.hull`: batched ElemNet screening of binary and
  ternary systems with C++ hull kernels, compared with DFT.
- :mod:`hullpack.stability`: any composition against a set of known compounds: energy above hull,
  decomposition energy and products, from N-dimensional hulls per chemical space (C++ core).
- :mod:`hullpack.xai`: SHAP, permutation importance, surrogate trees and the XElemNet analyses.
- :mod:`hullpack.hep`: synthetic collider events and the GNN memory study (the ``hep`` extra).
- :mod:`hullpack.compositions`: system enumeration, composition grids and the fp32 layer kernel.

The command line: ``hullpack --help`` (or ``python -m hullpack``). ``import hullpack`` loads only
numpy and the compiled core; torch, pandas and the optional dependencies load with the subpackage
that needs them. Features whose optional dependency is missing say which extra installs it
(``pip install "hullpack[xai]"``): ``pyg``, ``materials``, ``plot``, ``parquet``, ``xai``, ``hep``,
``screening``, ``stability``, ``all``.
"""
from . import errors
from ._core_loader import core as _core
from ._version import __version__
from .device import cuda_available, cuda_built, cuda_device_count


def build_info() -> dict:
    """What the compiled core was built with, and what it can use now: ``cuda_built`` (the CUDA
    kernels were compiled), ``cuda_devices`` (CUDA devices the kernels can run on now) and ``cuda_available``
    (both: the CUDA paths can run), and ``relu_mlp``: the version of the fp32 layer kernel this CPU
    runs (``"avx512"``, ``"avx2"`` or ``"portable"``, the last much slower; all give the same bits).
    For a bug report also: the ``compiler`` of the core, the ``cuda_compiler`` and
    ``cuda_architectures`` of its CUDA kernels (empty without them), and the ``python``,
    ``platform``, ``numpy`` and ``torch`` versions (read from the installed packages' metadata,
    without importing torch).

    >>> sorted(build_info())[:6]
    ['compiler', 'cuda_architectures', 'cuda_available', 'cuda_built', 'cuda_compiler', 'cuda_devices']
    """
    import platform
    from importlib import metadata

    def installed(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "version": __version__,
        "openmp": bool(_core.with_openmp),
        "relu_mlp": str(_core.relu_mlp_version),
        "cuda_built": cuda_built(),
        "cuda_devices": cuda_device_count(),
        "cuda_available": cuda_available(),
        "compiler": str(_core.compiler),
        "cuda_compiler": str(_core.cuda_compiler),
        "cuda_architectures": str(_core.cuda_architectures),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": installed("numpy"),
        "torch": installed("torch"),
    }


__all__ = ["__version__", "cuda_available", "build_info", "errors"]
