"""Input checks shared by :mod:`hullpack.packing`, :mod:`hullpack.packing_runs` and the samplers.

The core validates its arguments too; these convert them to the arrays it takes and, where they are
wrong, name the bad entry (its index, what it holds) and what to do, with hullpack's own error
classes. One home for them, below every module that packs.

>>> as_sizes([3, 1, 2]).tolist()
[3.0, 1.0, 2.0]
>>> as_sizes([3, None, 2])
Traceback (most recent call last):
...
hullpack.errors.InvalidSizesError: sizes[1] is missing (None): drop those items or fill them in first
>>> as_capacity(8, 2).tolist()
[8.0, 8.0]
"""
from __future__ import annotations

import itertools
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from ._core_loader import as_float_array, as_int_array
from .errors import InvalidInputError, InvalidSizesError, OversizeItemError

__all__ = ["as_sizes", "check_missing", "first_non_number", "check_values", "call_checked", "as_capacity",
           "check_oversize", "oversize_error", "as_order", "as_bins"]


def as_sizes(sizes, name: str = "sizes", *, two_d: bool = True) -> np.ndarray:
    """float64, C-contiguous, (n,) or (n, k) with n >= 1, k >= 1; a missing entry (None, pandas' NA
    or NaN) is named as missing, not as the NaN it would become. Torch tensors are read on the CPU
    (bfloat16, which numpy lacks, as float32), as the samplers read them."""
    if hasattr(sizes, "detach") and hasattr(sizes, "cpu"):  # a torch tensor, without importing torch
        sizes = sizes.detach().cpu()
        sizes = sizes.float() if str(sizes.dtype) == "torch.bfloat16" else sizes
    try:
        raw = np.asarray(sizes)
    except (TypeError, ValueError):
        raw = None  # as_float_array says why
    if raw is not None:
        check_missing(sizes, raw, name)
        found = first_non_number(sizes, raw)
        if found is not None:
            raise InvalidSizesError(f"{name}[{', '.join(map(str, found[0]))}] = {found[1]!r} is not a number: "
                                    "every item needs a numeric size")
    arr = as_float_array(sizes if raw is None else raw, name, error=InvalidSizesError)
    if arr.ndim not in ((1, 2) if two_d else (1,)):
        want = "(n,) or (n, k)" if two_d else "(n,)"
        raise InvalidSizesError(f"{name} must have shape {want}, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise InvalidSizesError(f"{name} is empty: there is nothing to pack")
    if arr.ndim == 2 and arr.shape[1] == 0:
        raise InvalidSizesError(f"{name} has shape {arr.shape}: each item needs at least one cost")
    return arr


def check_missing(sizes, raw: np.ndarray | None, name: str, where=None,
                  fix: str = "drop those items or fill them in first",
                  error: type[ValueError] = InvalidSizesError) -> None:
    """Raise ``error`` naming the first missing entry of ``sizes``: None or pandas' NA among objects,
    an entry under the mask of a numpy masked array (which ``np.asarray`` reads as the value under
    it), or NaN in a pandas object (pandas' mark of a missing value, also what None becomes in a
    Series of numbers). ``raw`` is ``sizes`` as an array (None: read it as objects); ``where(mask)`` names
    an entry (default ``[i, j]``); ``fix`` says what to do. Objects are scanned one by one, numbers
    in one pass; a NaN outside pandas is left to the finiteness check.
    """
    if raw is None:
        raw = _objects(sizes)
    if np.ma.isMaskedArray(sizes) and np.ma.getmaskarray(sizes).any():  # numpy reads the values under the mask
        mask, raw = np.ma.getmaskarray(sizes), np.ma.getdata(sizes)
    elif raw.dtype.kind == "O":
        mask = np.fromiter((x is None or type(x).__name__ == "NAType" for x in raw.flat), bool, raw.size)
    elif raw.dtype.kind == "f" and hasattr(sizes, "isna"):
        mask = np.isnan(raw)
    else:
        return
    if not mask.any():
        return
    at = int(np.argmax(mask.reshape(-1)))
    what = "masked" if np.ma.isMaskedArray(sizes) else "NaN" if raw.dtype.kind == "f" else repr(raw.reshape(-1)[at])
    place = where(mask.reshape(raw.shape)) if where is not None else (
        f"[{', '.join(str(int(i)) for i in np.unravel_index(at, raw.shape))}]" if raw.ndim else "")
    count = f"; {int(mask.sum())} missing in all" if mask.sum() > 1 else ""
    raise error(f"{name}{place} is missing ({what}{count}): {fix}")


def first_non_number(sizes, raw: np.ndarray) -> tuple[tuple[int, ...], object] | None:
    """``(position, value)`` of the first entry of ``sizes`` (``raw``: it as an array) that is not
    a real number (a string, a bool among numbers, an object), else None. An array of numbers (or
    of bools alone, refused as a whole) holds none; where numpy read a list or tuple as numbers,
    only a bool can be among them (numpy reads ``[3, True]`` as ``[3, 1]``)."""
    given = isinstance(sizes, (list, tuple))
    if raw.ndim == 0 or raw.dtype.kind == "b" or (raw.dtype.kind in "iuf" and not given):
        return None
    numbers_only = raw.dtype.kind in "iuf"
    if numbers_only and _plain_numbers(sizes, raw.ndim):
        return None
    if given:  # scanned as given: numpy turns [3, "x"] into strings throughout, [3, True] into numbers
        objects = _objects(sizes)
        raw = objects if objects.shape == raw.shape else raw
    for i, x in enumerate(raw.flat):
        if numbers_only and not isinstance(x, (bool, np.bool_)):
            continue
        x = x.item() if isinstance(x, np.generic) else x
        if isinstance(x, (bool, str, bytes)) or not isinstance(x, numbers.Real):
            return tuple(int(j) for j in np.unravel_index(i, raw.shape)), x
    return None


def _plain_numbers(sizes: list | tuple, ndim: int) -> bool:
    """Whether a list (or tuple) of numbers, or of rows of numbers, holds only numbers of types that
    are neither bools nor anything else than real numbers: one look at the set of their types (in C),
    where a scan of every entry in Python took 0.3 s per million. False where it cannot tell."""
    if ndim == 2 and all(type(row) in (list, tuple) for row in sizes):
        values: Iterable[Any] = itertools.chain.from_iterable(sizes)
    elif ndim != 1:
        return False
    else:
        values = sizes
    return all(issubclass(kind, numbers.Real) and kind not in (bool, np.bool_) for kind in set(map(type, values)))


def _where(arr: np.ndarray, flat: int) -> str:
    """'name[i]' or 'name[i, d]' for a flat index into arr."""
    if arr.ndim == 1:
        return f"[{flat}]"
    i, d = divmod(flat, arr.shape[1])
    return f"[{i}, {d}]"


def check_values(arr: np.ndarray, name: str) -> None:
    """InvalidSizesError naming the first non-finite or negative entry."""
    what = "key" if name == "keys" else "cost"  # keys only order the items
    flat = arr.reshape(-1)
    bad = np.flatnonzero(~np.isfinite(flat))
    if bad.size:
        j = int(bad[0])
        raise InvalidSizesError(
            f"{name}{_where(arr, j)} is not finite ({flat[j]}): every item needs a finite {what} "
            f"({bad.size} such entries); drop or repair those items first")
    neg = np.flatnonzero(flat < 0)
    if neg.size:
        j = int(neg[0])
        raise InvalidSizesError(
            f"{name}{_where(arr, j)} is negative ({flat[j]}): {what}s must be >= 0 "
            f"({neg.size} such entries)")


def call_checked(fn, *args, values: dict[str, np.ndarray | None], then=None):
    """``fn(*args)`` for a function of the core. Where the core refuses (a ``ValueError``), the input
    at fault is named with hullpack's own error classes first: :func:`check_values` on each array of
    ``values`` (its name: it; None is left out), in order, then ``then()`` (such as
    :func:`check_oversize`); else the core's message is raised as :class:`InvalidInputError`. The
    checks run only on a refusal, so valid input pays nothing for them."""
    try:
        return fn(*args)
    except ValueError as exc:
        for name, arr in values.items():
            if arr is not None:
                check_values(arr, name)
        if then is not None:
            then()
        raise InvalidInputError(str(exc)) from None


def _objects(values) -> np.ndarray:
    """``values`` as an array of objects, to look for missing entries (empty where numpy cannot)."""
    try:
        return np.asarray(values, dtype=object)
    except (TypeError, ValueError):
        return np.empty(0, dtype=object)


_CAPACITY = "give the capacity of a bin, a number or one per cost dimension"


def as_capacity(capacity, k: int) -> np.ndarray:
    check_missing(capacity, None, "capacity", fix=_CAPACITY, error=InvalidInputError)
    cap = as_float_array(capacity, "capacity")
    if cap.ndim == 0:
        cap = np.full(k, float(cap))
    if cap.shape != (k,):
        raise InvalidInputError(f"capacity must be a scalar or have one value per cost dimension ({k}), "
                                f"got shape {cap.shape}")
    bad = np.flatnonzero(~(np.isfinite(cap) & (cap > 0)))
    if bad.size:
        raise InvalidInputError(f"capacity[{bad[0]}] = {cap[bad[0]]} must be finite and > 0")
    return np.ascontiguousarray(cap)


def check_oversize(sizes: np.ndarray, cap: np.ndarray) -> None:
    """OversizeItemError naming the first item larger than the capacity in some dimension."""
    over = sizes > cap if sizes.ndim == 2 else sizes > cap[0]
    items = np.flatnonzero(over.any(axis=1) if sizes.ndim == 2 else over)
    if items.size:
        i = int(items[0])
        dim = int(np.argmax(over[i])) if sizes.ndim == 2 else 0
        size, where = (sizes[i, dim], f" in dimension {dim}") if sizes.ndim == 2 else (sizes[i], "")
        raise oversize_error(f"item {i} has size {float(size)} > capacity {float(cap[dim])}{where}", items, "bin")


def oversize_error(first: str, items: np.ndarray, unit: str) -> OversizeItemError:
    """The error for items that fit no ``unit`` (bin, batch) alone: ``first`` says what the first of
    them (``items``, positions) costs against the capacity; the message adds how many there are and
    the ways out. The positions are kept as ``.items``."""
    many = items.size > 1
    them, each = ("them", "each") if many else ("it", "it")
    exc = OversizeItemError(
        f"{first}: it fits no {unit} ({f'the first of {items.size} such items' if many else 'the only such item'}). "
        f"Raise the capacity, or pack without {them} (drop {them}, or give {each} a {unit} of its own); the "
        "samplers do either with oversize='skip' or oversize='alone'")
    exc.items = items
    return exc


def as_order(order, n: int) -> np.ndarray | None:
    """None, or an int64 array of length n (the core checks that it is a permutation)."""
    if order is None:
        return None
    arr = as_int_array(order, "order", floats=False)
    if arr.shape != (n,):
        raise InvalidInputError(f"order must have shape ({n},), one entry per item, got {arr.shape}")
    return arr


def as_keys(keys, n: int) -> np.ndarray | None:
    """None, or float64 ``(n,)`` values that order the items in place of their costs (the caller's
    ``call_checked`` names a non-finite or negative one)."""
    if keys is None:
        return None
    arr = as_sizes(keys, "keys", two_d=False)
    if arr.shape != (n,):
        raise InvalidInputError(f"keys must have shape ({n},), one per item, got {arr.shape}")
    return arr




def as_bins(bin_of_item, n: int | None) -> np.ndarray:
    """``bin_of_item`` as an int64 array of shape ``(n,)`` (any length where ``n`` is None)."""
    arr = as_int_array(bin_of_item, "bin_of_item", floats=False)
    if arr.ndim != 1 or (n is not None and arr.shape[0] != n):
        want = f"({n},)" if n is not None else "(n,)"
        raise InvalidInputError(f"bin_of_item must have shape {want}, one bin per item, got {arr.shape}")
    return arr
