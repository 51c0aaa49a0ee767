"""The compiled core (``core``), and the argument conversions its Python wrappers share.

The wrappers (:mod:`hullpack.packing`, :mod:`hullpack.hull`, :mod:`hullpack.compositions`) accept
friendly input (lists, any integer dtype, numpy scalars) and convert it here before calling the
core, which takes only exact dtypes. A conversion never changes a value: a float that is not a
whole number, an integer beyond the target dtype, a bool where a number is meant, ``inf`` or
``nan`` for an integer, each raises the given error (a ``ValueError`` subclass) naming the
argument and, for arrays, the first offending entry.
"""
from __future__ import annotations

import numbers
import operator

import numpy as np

try:
    from . import _core as core
except ImportError as exc:  # only on a broken install, or sources that shadow an installed hullpack
    import sys
    from pathlib import Path

    # no _core file beside this module: Python says "partially initialized module ... (most likely
    # due to a circular import)", which it is not
    said = ("no compiled core (_core*.so) for this Python in that folder" if "partially initialized module" in str(exc)
            else str(exc))
    raise ImportError(
        f"hullpack's compiled core (hullpack._core) could not be imported for Python "
        f"{sys.version_info.major}.{sys.version_info.minor}: hullpack was imported from "
        f"{Path(__file__).resolve().parent}. If that is a source checkout on the path (the current "
        "directory or PYTHONPATH), it hides the installed hullpack: run from another directory. "
        "Otherwise install hullpack with pip, which builds the core (from a source checkout: "
        f"`pip install -c constraints/cpu.txt '.[test]'`; again after a change of Python). Original error: {said}"
    ) from exc

from .errors import InvalidInputError


def _check_relu_mlp_request() -> None:
    """Warn where ``HULLPACK_RELU_MLP`` (read by the core as it loads, to ask for a slower version
    of its fp32 layer kernel) asked for a version that is not the one running: an unknown name, or
    one this CPU does not have."""
    import os

    asked = os.environ.get("HULLPACK_RELU_MLP")
    if asked and asked != core.relu_mlp_version:
        import warnings

        warnings.warn(f"HULLPACK_RELU_MLP={asked!r}: the fp32 layer kernel runs its {core.relu_mlp_version!r} version; "
                      "the variable takes 'avx2' or 'portable', versions this CPU has, slower than its own",
                      RuntimeWarning, stacklevel=2)


_check_relu_mlp_request()

__all__ = ["core", "call", "as_int", "as_threads", "as_flag", "as_real", "as_int_array", "as_float_array"]

#: the most OpenMP threads the kernels accept
MAX_THREADS = 4096


def call(fn, *args, error: type[ValueError] = InvalidInputError, **kwargs):
    """``fn(*args, **kwargs)`` for a function of the core, its ``ValueError`` re-raised as ``error``
    with the same message (which names the argument)."""
    try:
        return fn(*args, **kwargs)
    except ValueError as exc:
        raise error(str(exc)) from None


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def as_int(value, name: str, *, minimum: int | None = None, maximum: int | None = None,
           error: type[ValueError] = InvalidInputError) -> int:
    """``value`` as a Python int: an int or numpy integer (not a bool), within the bounds given.

    >>> as_int(np.int32(3), "n")
    3
    >>> as_int(2.0, "n")
    Traceback (most recent call last):
    ...
    hullpack.errors.InvalidInputError: n: expected an integer, got 2.0 (float)
    """
    if _is_bool(value) or not isinstance(value, (numbers.Integral, np.integer)):
        raise error(f"{name}: expected an integer, got {value!r} ({type(value).__name__})")
    v = operator.index(value)
    if minimum is not None and v < minimum:
        raise error(f"{name} must be >= {minimum}, got {v}")
    if maximum is not None and v > maximum:
        raise error(f"{name} must be <= {maximum}, got {v}")
    return v


def as_threads(value, name: str = "threads", *, error: type[ValueError] = InvalidInputError) -> int:
    """An OpenMP thread count: ``None`` (0, the OpenMP default: all cores) or an integer (not a bool)
    in 0..4096.

    >>> as_threads(np.int64(2)), as_threads(None)
    (2, 0)
    >>> as_threads(-1)
    Traceback (most recent call last):
    ...
    hullpack.errors.InvalidInputError: threads=-1: expected an integer in 0..4096 (0 or None: all cores)
    """
    if value is None:
        return 0
    if (_is_bool(value) or not isinstance(value, (numbers.Integral, np.integer))
            or not 0 <= operator.index(value) <= MAX_THREADS):
        raise error(f"{name}={value!r}: expected an integer in 0..{MAX_THREADS} (0 or None: all cores)")
    return operator.index(value)


def as_flag(value, name: str, *, error: type[ValueError] = InvalidInputError) -> bool:
    """``True`` or ``False`` (Python's or numpy's); anything else is an error, never truthiness."""
    if not _is_bool(value):
        raise error(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def as_real(value, name: str, *, error: type[ValueError] = InvalidInputError) -> float:
    """A real number (int, float or numpy scalar, not a bool) as a Python float."""
    if _is_bool(value) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        raise error(f"{name}: expected a number, got {value!r} ({type(value).__name__})")
    return float(value)


def as_float_array(values, name: str, *, error: type[ValueError] = InvalidInputError) -> np.ndarray:
    """``values`` (numbers: any float or integer dtype, or a list of numbers) as a C-contiguous
    float64 array. Bools, strings and other objects are refused rather than read as numbers.

    >>> as_float_array([1, 2.5], "sizes").tolist()
    [1.0, 2.5]
    >>> as_float_array([True, False], "sizes")
    Traceback (most recent call last):
    ...
    hullpack.errors.InvalidInputError: sizes: expected numbers convertible to float64, got dtype bool
    """
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise error(f"{name}: expected numbers convertible to float64, got {type(values).__name__} ({exc})") from None
    _refuse_non_numbers(values, arr, name, "a number", error)
    if arr.dtype.kind not in "fiu" and not (arr.dtype.kind == "O" and arr.size == 0):
        if arr.dtype.kind == "O":  # e.g. Python ints beyond int64
            try:
                return np.asarray(arr, dtype=np.float64, order="C")
            except (TypeError, ValueError, OverflowError) as exc:
                raise error(f"{name}: expected numbers convertible to float64 ({exc})") from None
        raise error(f"{name}: expected numbers convertible to float64, got dtype {arr.dtype}")
    return np.asarray(arr, dtype=np.float64, order="C")


def _where(name: str, shape: tuple, flat: int) -> str:
    return f"{name}[{', '.join(map(str, np.unravel_index(flat, shape)))}]" if shape else name


def _refuse_non_numbers(values, arr: np.ndarray, name: str, what: str, error: type[ValueError]) -> None:
    """Raise ``error`` naming the first entry of ``values`` (``arr``: it as an array) that numpy would
    read as a number though it is none: None (NaN to numpy), a string among objects (``'-0.2'``
    becomes -0.2), a bool among objects or in a list of numbers (``[0, True]`` becomes ``[0, 1]``)."""
    if arr.dtype.kind == "O":
        flat = arr.reshape(-1).tolist()
    elif isinstance(values, (list, tuple)) and arr.dtype.kind in "iuf" and arr.size:
        objects = np.empty(0, dtype=object)
        try:
            objects = np.asarray(values, dtype=object)
        except (TypeError, ValueError):
            pass
        if objects.shape != arr.shape or not {bool, np.bool_} & set(map(type, objects.flat)):
            return
        flat = objects.reshape(-1).tolist()
    else:
        return
    for j, v in enumerate(flat):
        if v is None:
            raise error(f"{_where(name, arr.shape, j)} is missing (None): expected {what}")
        if _is_bool(v) or isinstance(v, (str, bytes)):
            raise error(f"{_where(name, arr.shape, j)} = {v!r} is not {what}")


def as_int_array(values, name: str, dtype=np.int64, *, floats: bool = True,
                 error: type[ValueError] = InvalidInputError) -> np.ndarray:
    """``values`` as a C-contiguous array of ``dtype`` (int32 or int64) holding the same numbers.

    Integer arrays and lists convert when every value fits ``dtype``; float arrays (unless
    ``floats=False``) when every value is a whole number that fits (so ``[10.0, 22.0]`` is fine and
    ``[10.9, 22.1]`` is not); bool arrays, strings and other objects are refused.

    >>> as_int_array([3, 1], "order").tolist()
    [3, 1]
    >>> as_int_array(np.array([0, 2**32]), "grid", np.int32)
    Traceback (most recent call last):
    ...
    hullpack.errors.InvalidInputError: grid[1] = 4294967296 is out of range for int32
    """
    target = np.dtype(dtype)
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError, OverflowError) as exc:
        raise error(f"{name}: expected integers, got {type(values).__name__} ({exc})") from None
    lo, hi = int(np.iinfo(target).min), int(np.iinfo(target).max)
    kind = arr.dtype.kind
    if arr.size == 0 and kind in "iuf":
        return np.zeros(arr.shape, dtype=target)
    if kind == "O":  # Python ints beyond int64, or mixed objects: one at a time
        flat = arr.reshape(-1)
        ints = []
        for j, v in enumerate(flat.tolist()):
            if _is_bool(v) or not isinstance(v, numbers.Integral):
                raise error(f"{_where(name, arr.shape, j)} = {v!r} is not an integer")
            if not lo <= int(v) <= hi:
                raise error(f"{_where(name, arr.shape, j)} = {v} is out of range for {target}")
            ints.append(int(v))
        return np.array(ints, dtype=target).reshape(arr.shape)
    if kind == "b" or kind not in ("iuf" if floats else "iu"):
        raise error(f"{name}: expected integers, got dtype {arr.dtype}")
    _refuse_non_numbers(values, arr, name, "an integer", error)
    if kind == "f":
        bad = np.flatnonzero(~np.isfinite(arr) | (arr != np.trunc(arr)))
        if bad.size:
            j = int(bad[0])
            raise error(f"{_where(name, arr.shape, j)} = {float(arr.reshape(-1)[j])} is not an integer")
        out = (arr < lo) | (arr >= float(hi) + 1.0)  # hi + 1 is a power of two, exact in float
    elif kind == "u":
        out = arr > np.array(hi).astype(arr.dtype) if np.iinfo(arr.dtype).max > hi else np.zeros(arr.shape, bool)
    else:
        info = np.iinfo(arr.dtype)
        out = (arr < lo) | (arr > hi) if info.min < lo or info.max > hi else np.zeros(arr.shape, bool)
    bad = np.flatnonzero(out)
    if bad.size:
        j = int(bad[0])
        v = arr.reshape(-1)[j]
        raise error(f"{_where(name, arr.shape, j)} = {float(v) if kind == 'f' else int(v)} is out of range for {target}")
    return np.asarray(arr, dtype=target, order="C")
