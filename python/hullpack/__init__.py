"""hullpack: graph-size-aware batch samplers, and ElemNet convex-hull screening with explainability.

Subpackages:

- :mod:`hullpack.packing` and :mod:`hullpack.samplers`: bin packing and balanced partitioning of
  items by size (C++ core), and torch samplers built on them for GNN training (single GPU and DDP).
- :mod:`hullpack.elemnet`: the ElemNet model, featurization, OQMD data, training and checkpoints.
- :mod:`hullpack.screening` and :mod:`hullpack.hull`: batched ElemNet screening of binary and
  ternary systems with C++ hull kernels, compared with DFT.
- :mod:`hullpack.xai`: SHAP, permutation importance, surrogate trees and the XElemNet analyses.
"""
from . import errors
from ._core_loader import core as _core
from ._version import __version__


def cuda_available() -> bool:
    """Whether hullpack's CUDA kernels were built and a CUDA device is usable now.

    >>> import hullpack
    >>> isinstance(hullpack.cuda_available(), bool)
    True
    """
    return bool(_core.with_cuda) and _core.cuda_device_count() > 0


def build_info() -> dict:
    """What the compiled core was built with.

    >>> sorted(build_info())
    ['cuda', 'cuda_devices', 'openmp', 'version']
    """
    return {
        "version": __version__,
        "openmp": bool(_core.with_openmp),
        "cuda": bool(_core.with_cuda),
        "cuda_devices": int(_core.cuda_device_count()),
    }


__all__ = ["__version__", "cuda_available", "build_info", "errors"]
