"""Packing and splitting items when a batch does not cost the sum of its items.

Padded tensors cost ``count x longest``, dense attention over them ``count x longest**2``, attention
within each item the sum of squared lengths. Under such costs a batch's price is set by its longest
item, so items are sorted by length and cut into contiguous runs:

- :func:`pack_runs` packs into as few batches as it can under a budget (for the padded family the
  fewest there are);
- :func:`cut_sorted` splits into a fixed number of batches (for the padded family the least peak
  there is);
- :func:`run_costs` prices batches and :func:`lower_bound_runs` bounds the batch count.

A cost shape is six non-negative weights in the order of :data:`TERMS`, or anything with a
``terms`` attribute holding them (a :class:`hullpack.samplers.BatchCost`).

>>> lengths = [10, 9, 8, 3, 3, 2, 2, 1]
>>> bins, n = pack_runs(lengths, capacity=30, terms=[0, 1, 0, 0, 0, 0])   # count x longest <= 30
>>> n, run_costs(lengths, bins, n, [0, 1, 0, 0, 0, 0]).tolist()
(2, [30.0, 15.0])
"""
from __future__ import annotations

import numpy as np

from ._core_loader import as_float_array, as_int
from ._core_loader import core as _core
from ._packing_inputs import as_bins, as_capacity, as_keys, as_order, as_sizes, call_checked, check_missing, oversize_error
from .errors import InvalidInputError

__all__ = ["pack_runs", "cut_sorted", "run_costs", "lower_bound_runs", "alone_cost", "TERMS"]

#: The terms of a batch cost shape, in the order :func:`pack_runs` and friends take them: a batch of
#: ``m`` items whose longest has length ``L`` costs ``sum * sum(lengths) + padded * m * L + square *
#: sum(lengths**2) + padded_square * m * L**2 + count * m + constant``.
TERMS = ("sum", "padded", "square", "padded_square", "count", "constant")


def _as_terms(terms) -> np.ndarray:
    """Six non-negative finite floats in the order of :data:`TERMS` (or an object with ``.terms``)."""
    terms = getattr(terms, "terms", terms)
    check_missing(terms, None, "terms", fix=f"give six numbers, one per term of {TERMS}", error=InvalidInputError)
    arr = as_float_array(terms, "terms")
    if arr.shape != (len(TERMS),):
        raise InvalidInputError(f"terms: expected {len(TERMS)} values {TERMS}, got shape {arr.shape}")
    bad = np.flatnonzero(~(np.isfinite(arr) & (arr >= 0)))
    if bad.size:
        raise InvalidInputError(f"terms[{bad[0]}] ({TERMS[bad[0]]}) = {arr[bad[0]]} must be finite and >= 0")
    return arr


def _as_scalar_capacity(capacity) -> float:
    return float(as_capacity(capacity, 1)[0])


def alone_cost(lengths: np.ndarray, terms) -> np.ndarray:
    """What each item costs in a batch of its own, under ``terms`` (see :data:`TERMS`)."""
    with np.errstate(over="ignore"):
        alone = terms[5] + terms[4] + (terms[0] + terms[1]) * lengths
        if terms[2] + terms[3]:
            alone = alone + (terms[2] + terms[3]) * lengths**2
    return alone


def _check_alone(lengths: np.ndarray, terms: np.ndarray, capacity: float) -> None:
    """OversizeItemError naming the first item that alone costs more than the capacity."""
    alone = alone_cost(lengths, terms)
    over = np.flatnonzero(alone > capacity)
    if over.size:
        i = int(over[0])
        raise oversize_error(f"item {i} (length {float(lengths[i])}) alone costs {float(alone[i])} > capacity "
                             f"{float(capacity)}", over, "batch")


def pack_runs(lengths, capacity, terms, order=None, keys=None) -> tuple[np.ndarray, int]:
    """Pack items into as few batches as possible when a batch costs more than the sum of its
    items: padded tensors (``count x longest``), attention (``count x longest**2``), mixed with
    per-item terms (see :data:`TERMS`).

    Items are sorted by decreasing length (a stable sort over ``order``, as in :func:`pack`) and
    cut into the longest contiguous runs whose cost stays within ``capacity``. For the padded
    family (``sum`` and ``square`` zero) this is optimal: any packing can be rearranged into runs
    of the sorted order without more batches (an exchange argument), and greedy cutting needs the
    fewest runs. With ``sum`` or ``square`` terms it is optimal among packings into runs of the
    length order (any length bucketing is one), and :func:`lower_bound_runs` says how far from
    optimal it can be. Runs are numbered longest first. O(n log n).

    Args:
        lengths: ``(n,)`` non-negative finite lengths (tokens, nodes).
        capacity: the budget of one batch, in the units of the cost.
        terms: six non-negative weights in the order of :data:`TERMS` (or a
            :class:`~hullpack.samplers.BatchCost`).
        order: a permutation of ``range(n)`` that breaks ties between equal lengths.
        keys: ``(n,)`` non-negative finite values that order the items in place of their lengths,
            e.g. lengths rounded to a coarse grid, so that near-equal items trade places from one
            ``order`` to the next (as the samplers do every epoch). Runs are still priced on the
            lengths, by their longest item wherever it lies in the run; the optimality above is
            for the length order.

    Returns:
        ``(bin_of_item, n_bins)``.

    Raises:
        OversizeItemError: an item that alone costs more than ``capacity``.

    >>> lengths = [10, 9, 8, 3, 3, 2, 2, 1]
    >>> bins, n = pack_runs(lengths, capacity=30, terms=[0, 1, 0, 0, 0, 0])   # count x longest <= 30
    >>> bins.tolist(), n
    ([0, 0, 0, 1, 1, 1, 1, 1], 2)
    >>> run_costs(lengths, bins, n, [0, 1, 0, 0, 0, 0]).tolist()              # 3 x 10, 5 x 3 padded
    [30.0, 15.0]
    """
    arr = as_sizes(lengths, "lengths", two_d=False)
    t = _as_terms(terms)
    cap = _as_scalar_capacity(capacity)
    perm = as_order(order, arr.shape[0])
    key_arr = as_keys(keys, arr.shape[0])
    bins, n_bins, _ = call_checked(_core.pack_runs, arr, t, cap, perm, key_arr,
                                   values={"lengths": arr, "keys": key_arr}, then=lambda: _check_alone(arr, t, cap))
    return bins, int(n_bins)


def cut_sorted(keys, n_batches: int, order=None) -> np.ndarray:
    """Split items sorted by decreasing key (ties in ``order``) into ``n_batches`` contiguous runs
    of ``n // n_batches`` items, the last ``n % n_batches`` runs one more: the shorter runs hold
    the longest items.

    For padded costs (``count x longest``, ``count x longest**2``, plus per-batch and per-item
    constants) this gives the least peak of any split with these cardinalities (the batch holding
    the longest item costs its count times that length whatever else it holds, and the larger
    batches start as far down the order as they can), and the least total padding when
    ``n_batches`` divides ``n``.

    >>> cut_sorted([5, 1, 4, 2, 3, 3, 0], n_batches=3).tolist()
    [0, 2, 0, 2, 1, 1, 2]
    """
    arr = as_sizes(keys, "keys", two_d=False)
    n_batches = as_int(n_batches, "n_batches", minimum=1)
    if n_batches > arr.shape[0]:
        raise InvalidInputError(f"n_batches={n_batches} exceeds the number of items ({arr.shape[0]})")
    return call_checked(_core.cut_sorted, arr, n_batches, as_order(order, arr.shape[0]), values={"keys": arr})


def run_costs(lengths, bin_of_item, n_bins: int, terms) -> np.ndarray:
    """The cost of every batch under a batch cost shape (:data:`TERMS`); 0 for an empty batch.

    Lengths must be finite and >= 0, as :func:`pack_runs` takes them: a batch is priced by its
    longest item, which a NaN or negative length would silently leave out.

    >>> run_costs([4, 1, 3], [0, 0, 1], 2, terms=[0, 1, 0, 0, 0, 0]).tolist()   # 2 x 4, 1 x 3
    [8.0, 3.0]
    """
    arr = as_sizes(lengths, "lengths", two_d=False)
    bins = as_bins(bin_of_item, arr.shape[0])
    n_bins, t = as_int(n_bins, "n_bins", minimum=0), _as_terms(terms)
    return call_checked(_core.run_costs, arr, bins, n_bins, t, values={"lengths": arr})


def lower_bound_runs(lengths, capacity, terms) -> float:
    """A lower bound on the number of batches of cost <= ``capacity`` under a batch cost shape:
    the larger of a volume bound (every item costs at least what it would as its batch's longest)
    and the exact optimum of the shape without its ``sum`` and ``square`` terms. For the padded
    family it is the optimum itself, which :func:`pack_runs` attains.

    >>> lower_bound_runs([10, 9, 8, 3, 3, 2, 2, 1], capacity=30, terms=[0, 1, 0, 0, 0, 0])
    2.0
    """
    arr = as_sizes(lengths, "lengths", two_d=False)
    t = _as_terms(terms)
    cap = _as_scalar_capacity(capacity)
    return float(call_checked(_core.lower_bound_runs, arr, t, cap, values={"lengths": arr},
                              then=lambda: _check_alone(arr, t, cap)))
