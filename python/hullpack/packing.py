"""Bin packing and balanced partitioning of items by size, on the compiled core.

Two problems, both on per-item costs (a graph's node count, edge count, a memory estimate):

- :func:`pack` puts items into as few bins as it can without any bin exceeding a capacity
  (first-fit-decreasing or best-fit-decreasing, in O(n log n); for integer sizes best fit over
  histograms in O(n + largest size)); costs may have several dimensions, e.g. a node budget and an
  edge budget at once.
- :func:`balance` splits items into a fixed number of batches of (near) fixed size while keeping
  the heaviest batch as light as it can (largest first with a cardinality constraint, then
  exchanges with the heaviest batch).

When a batch does not cost the sum of its items (padded tensors cost ``count x longest``),
:mod:`hullpack.packing_runs` packs and splits items sorted by length into contiguous runs.
:mod:`hullpack.packing_auto` holds what ``pack(method="auto")`` tries after first fit.

:func:`lower_bound` says how far from optimal a result can be at most; :func:`batch_costs` and
:func:`group` turn an assignment into per-batch totals and index lists.

>>> import numpy as np
>>> from hullpack import packing
>>> sizes = np.array([5.0, 4.0, 3.0, 3.0, 2.0, 2.0, 1.0])
>>> bins, n_bins = packing.pack(sizes, capacity=8.0)
>>> bins.tolist(), n_bins
([0, 1, 0, 1, 2, 2, 1], 3)
>>> packing.batch_costs(sizes, bins, n_bins).tolist()
[8.0, 8.0, 4.0]
>>> packing.lower_bound(sizes, capacity=8.0)
3.0

Ties (equal costs) are broken by ``order``: pass a seeded permutation to get different, equally
good assignments per epoch.
"""
from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np

from ._core_loader import as_int, call
from ._core_loader import core as _core
from ._packing_inputs import as_bins, as_capacity, as_keys, as_order, as_sizes, call_checked, check_oversize
from ._packing_inputs import check_missing, first_non_number, oversize_error  # noqa: F401 (named here before)
from .errors import InvalidInputError
from .packing_auto import fewer_bins_by_balancing, fewer_bins_by_spreading

__all__ = ["pack", "balance", "lower_bound", "batch_costs", "group"]

log = logging.getLogger(__name__)


def _check_batches(n: int, n_batches: int, batch_size: int) -> None:
    need = -(-n // batch_size)
    if n_batches != need:
        raise InvalidInputError(
            f"n_batches={n_batches} and batch_size={batch_size} do not fit n={n} items: each batch "
            f"holds at most batch_size items and none may be left empty, so n_batches must be "
            f"ceil(n / batch_size) = {need}")


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------

def pack(sizes, capacity, method: Literal["ffd", "bfd", "hist", "auto"] = "ffd",
         order=None, keys=None) -> tuple[np.ndarray, int]:
    """Pack items into as few bins as possible, no bin exceeding ``capacity``.

    Items are taken by decreasing cost, with a *stable* sort over ``order`` (default: item index
    order), so items of equal cost keep their relative order in ``order``; each item then goes to
    the first bin with room (``"ffd"``) or to the fullest bin with room (``"bfd"``, ties to the
    lowest-numbered bin). A bin has room when ``load + size <= capacity`` in every dimension. Bins
    are numbered in the order they are opened, and none is empty. One cost dimension takes
    O(n log n): a radix sort, then an 8-ary tree over bin loads (first fit) or an ordered set of
    loads (best fit), never a scan of the open bins.

    ``"hist"`` is best fit for one column of integer sizes (node counts, token lengths) over
    histograms: O(n + S + bins) for sizes up to S, two passes over the items. Bins are those of
    ``"bfd"`` up to which of several equally full bins an item joins (the same number of bins);
    equal sizes are taken in the order of ``order``; bins are numbered in the order they are
    opened. It needs a capacity of 1 to 2**20 (else use ``"ffd"``/``"bfd"``).

    With several cost dimensions (``sizes`` of shape ``(n, k)``), items are ordered by their largest
    normalised cost ``max_d sizes[i, d] / capacity[d]``; best fit picks the bin whose normalised
    fill ``sum_d load[d] / capacity[d]`` is largest. A tree search over the bins, pruned with
    per-dimension minimum loads and stopped at the first bin that surely fits, finds the first/best
    fit; its visits come from a pool (a fixed credit plus one per tree level per item), so the
    whole packing is O(n k log bins) in the worst case. While the pool lasts the answer is exact
    first/best fit; an item whose search runs dry goes to the first of the 32 most recently opened
    bins that fits (best fit: the fullest) or the first bin that surely fits, whichever comes
    first, else to a new bin. Every capacity holds either way. Beyond a few thousand items most
    searches run dry; with 4 dimensions and 2e4-3e5 items the bin count stayed within one bin of
    exact first fit's for node/edge-like sizes and within 0.6% for anti-correlated ones.

    ``"auto"`` runs ``"hist"`` for one column of integer sizes and first fit otherwise, and where
    that leaves a single cost dimension above the lower bound (many items of similar size per bin,
    where first fit strands a little room in every bin) it also tries balanced partitions into
    fewer bins (:func:`balance`, each checked against the capacity; a bisection over the bin count,
    so a few more O(n log n) passes) and keeps whichever uses fewer bins. With several cost
    dimensions it tries spreading the items over as many bins as the lower bound says, each in the
    bin whose loads best complement its costs, items that fit nowhere there placed afterwards by
    first fit (three O(n k log n) tries at most, bisecting the bin count), which keeps the room
    first fit strands in one dimension of bins full in another. Beyond :data:`AUTO_BALANCE_MAX` (4M) items, with one cost dimension,
    and :data:`AUTO_SPREAD_MAX` (16M), with several, it skips those tries. The samplers pack with
    ``"auto"``; pass it here too for the fewest bins under several budgets: first fit alone, the
    default, took 1.35x the lower bound's bins on QM9-like molecules mixed 95:5 with proteins under
    node and edge budgets, ``"auto"`` 1.03x (``benchmarks/bench_distributions.py``).

    Args:
        sizes: ``(n,)`` or ``(n, k)`` non-negative finite costs.
        capacity: the budget per bin, a scalar or one value per dimension, each > 0. A scalar is
            the budget of every dimension (each column within it, not their sum: a scalar
            ``max_cost`` of :class:`~hullpack.samplers.PackedBatchSampler` budgets the sum).
        method: ``"ffd"`` (first-fit-decreasing), ``"bfd"`` (best-fit-decreasing), ``"hist"``
            (best fit over histograms of integer sizes) or ``"auto"``.
        order: a permutation of ``range(n)`` that breaks ties between equal costs.
        keys: ``(n,)`` non-negative finite values that set the order items are taken in (decreasing,
            ties in ``order``) in place of their costs, e.g. costs rounded to a coarse grid, so that
            near-equal items trade places from one ``order`` to the next, as the samplers do every
            epoch; every capacity is still checked on ``sizes``. Not with ``"hist"`` (``"auto"``
            packs one column by first fit instead).

    Returns:
        ``(bin_of_item, n_bins)``: an int64 array giving each item's bin in ``0..n_bins-1``.

    Raises:
        InvalidSizesError: empty, mis-shaped, non-finite or negative sizes (the index is named).
        OversizeItemError: an item larger than the capacity (the index and size are named).
        ValueError: a bad capacity, method, order or keys; ``"hist"`` with sizes that are not all
            integers or a capacity above 2**20, or with keys.

    >>> import numpy as np
    >>> pack([4, 4, 3, 3, 2, 2], capacity=6)
    (array([0, 1, 2, 2, 0, 1]), 3)
    >>> pack([4, 4, 3, 3, 2, 2], capacity=6, method="bfd")[1]
    3
    >>> # Equal sizes: the order decides which item goes where.
    >>> pack([2, 2, 2], capacity=4, order=[2, 1, 0])
    (array([1, 0, 0]), 2)
    >>> # Two budgets at once: nodes <= 100 and edges <= 300 per bin.
    >>> nodes_edges = np.array([[60, 100], [50, 250], [40, 50], [30, 200]])
    >>> pack(nodes_edges, capacity=[100, 300])
    (array([1, 0, 0, 1]), 2)
    >>> # Integer sizes: best fit over histograms.
    >>> pack([4, 4, 3, 3, 2, 2], capacity=6, method="hist")[1]
    3
    >>> # Keys order the items; the capacity holds for the sizes: 3.2 and 2.8 tie at key 3.
    >>> pack([3.2, 2.8, 3.0], capacity=6, keys=[3, 3, 3], order=[1, 2, 0])
    (array([1, 0, 0]), 2)
    """
    arr = as_sizes(sizes)
    if arr.ndim == 2 and arr.shape[1] == 1:  # one column: the one-budget paths (histograms, balancing)
        arr = arr[:, 0]
    k = 1 if arr.ndim == 1 else arr.shape[1]
    cap = as_capacity(capacity, k)
    if method not in ("ffd", "bfd", "hist", "auto"):
        raise InvalidInputError(f"method must be 'ffd', 'bfd', 'hist' or 'auto', got {method!r}")
    perm = as_order(order, arr.shape[0])
    key_arr = as_keys(keys, arr.shape[0])
    if key_arr is not None and method == "hist":
        raise InvalidInputError("method='hist' orders items by their integer sizes and takes no keys; "
                                "use method='ffd', 'bfd' or 'auto'")
    # where the core refuses, the sizes at fault are named with hullpack's own error classes
    refused: dict[str, Any] = {"values": {"sizes": arr, "keys": key_arr}, "then": lambda: check_oversize(arr, cap)}
    result = None
    if method in ("hist", "auto") and k == 1 and key_arr is None:
        result = call_checked(_core.pack_histogram, arr, float(cap[0]), perm, **refused)
        if result is None and method == "hist":
            what = f"a capacity of {cap[0]}" if not 1 <= cap[0] < 2**20 + 1 else "sizes that are not all integers"
            raise InvalidInputError(f"method='hist' needs one column of integer sizes and a capacity of 1 to "
                                    f"2**20, got {what}; use method='ffd' or 'bfd'")
    elif method == "hist":
        raise InvalidInputError(f"method='hist' packs one column of sizes, got shape {arr.shape}")
    bins, n_bins = result if result is not None else call_checked(
        _core.pack, arr, cap, "ffd" if method == "auto" else method, perm, key_arr, **refused)
    if method == "auto" and k == 1 and arr.shape[0] <= AUTO_BALANCE_MAX:
        bins, n_bins = fewer_bins_by_balancing(arr, float(cap[0]), perm, bins, int(n_bins), key_arr)
    elif method == "auto" and k > 1 and arr.shape[0] <= AUTO_SPREAD_MAX:
        bins, n_bins = fewer_bins_by_spreading(arr, cap, perm, bins, int(n_bins), key_arr)
    log.debug("pack: %d items into %d bins (%s)", arr.shape[0], n_bins, method)
    return bins, int(n_bins)


#: ``pack(method="auto")`` tries balanced partitions into fewer bins up to this many items: each
#: try is a balancing pass (seconds at 1e7 items) for at most a percent or two fewer bins.
AUTO_BALANCE_MAX = 1 << 22
#: ``pack(method="auto")`` spreads several cost dimensions up to this many items: 1-6 s per million
#: items (up to three tries), where first fit alone leaves up to a third more bins at 5M graphs
#: (benchmarks/bench_budgets_scale.py, benchmarks/bench_distributions.py).
AUTO_SPREAD_MAX = 1 << 24


_REFINE = {"none": "none", "lightest": "lightest", "exchange": "exchange", False: "none", True: "exchange"}


def _as_refine(refine) -> str:
    """The refinement's name: a flag (True: ``"exchange"``) or one of the names."""
    key = bool(refine) if isinstance(refine, (bool, np.bool_)) else refine
    if not isinstance(key, (bool, str)) or key not in _REFINE:
        raise InvalidInputError(f"refine: expected True, False, 'none', 'lightest' or 'exchange', got {refine!r}")
    return _REFINE[key]


def balance(costs, n_batches: int, batch_size: int, order=None,
            refine: bool | Literal["none", "lightest", "exchange"] = True, keys=None) -> np.ndarray:
    """Split items into ``n_batches`` batches of near-equal size with the lightest heaviest batch.

    The number of batches is fixed (as with random batching, so an epoch has the same number of
    steps), and so are the batch sizes: ``n % n_batches`` batches get ``ceil(n / n_batches)`` items
    and the others ``floor(n / n_batches)``, never more than ``batch_size``. Items are dealt largest
    first (decreasing ``keys``, default ``costs``; ties in the order of ``order``), then refined on
    the real ``costs``:

    - ``refine=True`` or ``"exchange"`` (default): each item goes to the batch with room whose load
      plus its free slots times the mean remaining cost is least (so a batch that got a large item
      is kept for small ones); then, repeatedly, the exchange between the heaviest batch and any
      other batch that lowers the heaviest: a swap of one item for a cheaper one, of two for two (in
      batches of at most 9 items), or a move from a batch of ``q + 1`` items to one of ``q``. The
      search is bounded (``8 n + 2**24`` item visits at most), so the whole split takes
      O(n log n) time, and for ``n <= 65536`` it is never heavier than the plain split below (up to
      the rounding of sums).
    - ``"lightest"``: each item goes to the lightest batch with room (ties to the lowest-numbered
      batch), then items are swapped between the heaviest and the lightest batch while that lowers
      the heaviest (the default before ``"exchange"``).
    - ``False`` or ``"none"``: that plain largest-first split alone.

    No refinement ever raises the peak. ``keys`` lets the largest-first pass deal by other values
    than the costs it balances, e.g. costs rounded to a coarse grid, whose ties ``order`` breaks
    differently in every epoch. Equal arguments give equal batches on any machine.

    Args:
        costs: ``(n,)`` non-negative finite costs.
        n_batches: the number of batches, ``ceil(n / batch_size)``.
        batch_size: the most items a batch may hold.
        order: a permutation of ``range(n)`` that breaks ties between equal keys.
        refine: how to improve on largest first (see above).
        keys: ``(n,)`` non-negative finite values that order the largest-first pass (default: costs).

    Returns:
        ``bin_of_item``: an int64 array giving each item's batch in ``0..n_batches-1``.

    >>> import numpy as np
    >>> costs = np.array([9.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
    >>> bins = balance(costs, n_batches=2, batch_size=4)
    >>> batch_costs(costs, bins, 2).tolist()
    [19.0, 18.0]
    >>> lower_bound(costs, n_batches=2, batch_size=4)
    19.0
    >>> sorted(np.bincount(balance(np.ones(10), n_batches=3, batch_size=4)).tolist())
    [3, 3, 4]
    >>> # The refinements compared: peak batch cost (the lower bound is 36).
    >>> costs = np.array([20.0, 12, 10, 10, 9, 7, 2, 1])
    >>> [float(batch_costs(costs, balance(costs, 2, 4, refine=r), 2).max()) for r in (False, "lightest", True)]
    [38.0, 37.0, 36.0]
    """
    arr = as_sizes(costs, "costs", two_d=False)
    n = arr.shape[0]
    n_batches = as_int(n_batches, "n_batches", minimum=1)
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    _check_batches(n, n_batches, batch_size)
    perm = as_order(order, n)
    how = _as_refine(refine)
    key_arr = as_keys(keys, n)
    bins = call_checked(_core.balance, arr, n_batches, batch_size, perm, how, key_arr,
                        values={"costs": arr, "keys": key_arr})
    log.debug("balance: %d items into %d batches of <= %d (%s)", n, n_batches, batch_size, how)
    return bins


def lower_bound(sizes, *, capacity=None, n_batches: int | None = None,
                batch_size: int | None = None) -> float:
    """A lower bound on what any assignment can achieve, to judge :func:`pack` and :func:`balance`.

    - Packing (``capacity`` given): the least number of bins, the larger of
      ``max_d ceil(total_d / capacity_d)`` and the number of items above half the capacity in one
      dimension (no two of them can share a bin).
    - Balancing (``n_batches``, ``batch_size`` or both given; ``n_batches`` defaults to
      ``ceil(n / batch_size)``): the least possible peak batch cost over splits into ``n_batches``
      batches of ``q = n // n_batches`` or ``q + 1`` items, the largest of: the mean batch cost;
      for the ``t`` largest items spread over ``s`` batches, which hold at least ``s q - t`` other
      items, their least mean load (minimised over ``s``, for ``t`` up to ``2 n_batches`` and on a
      grid beyond); the largest item plus the ``q - 1`` smallest, and generally, as some batch holds
      ``j + 1`` of the ``j n_batches + 1`` largest items, the ``j + 1`` smallest of those plus the
      ``q - j - 1`` smallest items; and light batches: at least ``n_batches - t / (J + 1)``
      batches hold at most ``J`` of the ``t`` largest items, they carry at most the largest sum
      such batches can hold, and the other batches carry the rest (minimised over how many are
      light, for ``J = 0..3``; this binds when a few large items must share batches); and
      exclusion: below twice the ``m``-th largest item (plus the ``q - 2`` smallest), the ``m``
      largest sit one to a batch and the items too large to join them must fit, with their share of
      the rest, in the other ``n_batches - m`` batches (the least peak where they do, for every
      ``m``; this binds on heavy tails cut at a cap); and full batches: the ``n % n_batches``
      batches of ``q + 1`` items with the ``g`` others that hold any of the ``t`` largest items
      carry those and at least the smallest of the rest (minimised over ``g``, for every ``t``; this
      binds on near-equal costs, where the peak is a batch of ``q + 1`` items). With integer
      costs (and a total below ``2**53``) every batch cost is an integer, and so is the bound
      (rounded up); other costs get a bound a relative ``1e-12`` below the largest part, as a
      batch cost summed in floating point may round below the exact sums. Each part is proved in the core's ``balance_bound.cpp``; O(n) after a radix
      sort.

    Packing refuses an item larger than the capacity (no number of bins holds it) with
    :class:`~hullpack.errors.OversizeItemError` naming it, as :func:`pack` and
    :func:`hullpack.packing_runs.lower_bound_runs` do; leave such items out first.

    >>> lower_bound([5, 4, 3, 3, 2, 2, 1], capacity=8)
    3.0
    >>> lower_bound([9, 7, 6, 5, 4, 3, 2, 1], n_batches=2, batch_size=4)
    19.0
    >>> round(lower_bound([9.0, 7, 6, 5, 4, 3, 2, 1.5], n_batches=2), 9)
    18.75
    >>> lower_bound([100, 1, 1, 1, 1, 1], batch_size=3)
    102.0
    >>> lower_bound([7] * 10, n_batches=3)   # batches of 3, 3 and 4 items (the mean: 23.3)
    28.0
    """
    packing = capacity is not None
    balancing = n_batches is not None or batch_size is not None
    if packing == balancing:
        raise InvalidInputError("give either capacity (packing) or n_batches/batch_size (balancing)")
    if packing:
        arr = as_sizes(sizes)
        cap = as_capacity(capacity, 1 if arr.ndim == 1 else arr.shape[1])
        compute = lambda: _core.lower_bound_pack(arr, cap)  # noqa: E731
    else:
        arr = as_sizes(sizes, "costs", two_d=False)
        n = arr.shape[0]
        if n_batches is None:
            n_batches = -(-n // as_int(batch_size, "batch_size", minimum=1))
        n_batches = as_int(n_batches, "n_batches", minimum=1)
        if batch_size is not None:
            _check_batches(n, n_batches, as_int(batch_size, "batch_size", minimum=1))
        elif n_batches > n:
            raise InvalidInputError(f"n_batches={n_batches} exceeds the number of items ({n})")
        compute = lambda: _core.lower_bound_balance(arr, n_batches)  # noqa: E731
    return float(call_checked(compute, values={"sizes" if packing else "costs": arr},
                              then=(lambda: check_oversize(arr, cap)) if packing else None))


def batch_costs(costs, bin_of_item, n_bins: int) -> np.ndarray:
    """Total cost of each bin: ``(n_bins,)`` for ``(n,)`` costs, ``(n_bins, k)`` for ``(n, k)``.

    Costs must be finite and >= 0, as :func:`pack` takes them: the first NaN, infinite or negative
    entry is named (:class:`~hullpack.errors.InvalidSizesError`) rather than summed into a NaN or
    negative total.

    >>> batch_costs([1.0, 2.0, 3.0, 4.0], [1, 0, 1, 0], 2)
    array([6., 4.])
    >>> batch_costs([[1, 10], [2, 20], [3, 30]], [0, 0, 1], 2)
    array([[ 3., 30.],
           [ 3., 30.]])
    """
    arr = as_sizes(costs, "costs")
    bins = as_bins(bin_of_item, arr.shape[0])
    n_bins = as_int(n_bins, "n_bins", minimum=0)
    return call_checked(_core.batch_costs, arr, bins, n_bins, values={"costs": arr})


def group(bin_of_item, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Items of each bin, CSR style: bin ``b`` holds ``items[offsets[b]:offsets[b + 1]]``.

    Items of a bin are listed in ascending position order.

    >>> offsets, items = group([1, 0, 1, 0, 2], 3)
    >>> offsets.tolist(), items.tolist()
    ([0, 2, 4, 5], [1, 3, 0, 2, 4])
    >>> [items[offsets[b]:offsets[b + 1]].tolist() for b in range(3)]
    [[1, 3], [0, 2], [4]]
    """
    bins = as_bins(bin_of_item, None)
    return call(_core.group, bins, as_int(n_bins, "n_bins", minimum=0))

