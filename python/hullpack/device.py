"""Which devices hullpack's compiled core can run on: whether its CUDA kernels were built, how many
CUDA devices answer, and so whether the CUDA paths can run now. The package root re-exports
:func:`cuda_available`; the modules that offer ``device="cuda"`` check it here.

>>> cuda_available() == (cuda_built() and cuda_device_count() > 0)
True
"""
from __future__ import annotations

from ._core_loader import core as _core

__all__ = ["cuda_built", "cuda_device_count", "cuda_available"]


def cuda_built() -> bool:
    """Whether the compiled core contains its CUDA kernels (it was built where CUDA was found)."""
    return bool(_core.with_cuda)


def cuda_device_count() -> int:
    """CUDA devices the core's kernels can run on now: those of compute capability at least the
    lowest architecture they were built for (``build_info()["cuda_architectures"]``; a T4, 7.5,
    does not count for the default 80 and 90); 0 in a build without CUDA."""
    return int(_core.cuda_device_count())


def cuda_available() -> bool:
    """Whether hullpack's CUDA kernels were built and a CUDA device is usable now.

    >>> isinstance(cuda_available(), bool)
    True
    """
    return cuda_built() and cuda_device_count() > 0
