"""Item sizes for the samplers: from arrays and tensors, or read once from a PyG dataset.

Sizes are never computed by collating batches: an ``InMemoryDataset`` is read from its ``slices``
(boundaries of every attribute in the one big collated tensor), any other dataset is iterated once.
"""
from __future__ import annotations

import logging
import numbers
from collections.abc import Iterable, Iterator, Mapping, Set
from typing import Any, Callable, Sequence, Union

import numpy as np

from ..errors import InvalidSizesError
from .._packing_inputs import check_missing, first_non_number
from .._progress import progress

log = logging.getLogger(__name__)

#: A size column: an attribute name of a graph (``"num_nodes"``) or a function of the graph.
Field = Union[str, Callable[[Any], float]]

#: The columns read from a graph dataset unless told otherwise.
DEFAULT_FIELDS: tuple[str, ...] = ("num_nodes", "num_edges")

# Attribute keys PyG itself uses to infer node and edge counts (torch_geometric.data.storage).
_NODE_KEYS = ("x", "feat", "pos", "batch", "node_type", "n_id")
_EDGE_KEYS = ("edge_index", "edge_weight", "edge_attr", "edge_type", "e_id")


# the largest integer range float64 holds exactly: integer sizes beyond it would be rounded
_EXACT_INTEGERS = 2 ** 53
# what an integer size beyond it is told
_BEYOND_EXACT = ("is beyond 2**53: costs are float64, which holds integers exactly only up to 2**53; "
                 "express the sizes in a larger unit")

#: Sizes with more columns than this, and more columns than rows, are refused as transposed.
_MAX_COLUMNS = 8


def as_sizes(sizes: Any, name: str = "sizes") -> np.ndarray:
    """Validate sizes and return them as a C-contiguous float64 array of shape ``(n,)`` or ``(n, k)``.

    Raises :class:`~hullpack.errors.InvalidSizesError` naming the first bad entry; also for a single
    number, True/False values (a mask is not sizes), sparse or meta tensors, and 2-D sizes that look
    transposed: more than 8 columns and more columns than rows (``np.vstack([nodes, edges])``, shape
    ``(2, n)``, where ``(n, 2)`` is meant). bfloat16 tensors are read as float32.

    >>> as_sizes([3, 1, 2])
    array([3., 1., 2.])
    >>> as_sizes([[1, 2], [3, float("nan")]])
    Traceback (most recent call last):
    ...
    hullpack.errors.InvalidSizesError: sizes[1, 1] is not finite (nan); sizes must be finite and >= 0
    """
    if hasattr(sizes, "detach") and hasattr(sizes, "cpu"):  # a torch tensor
        sizes = _tensor_values(sizes, name)
    if isinstance(sizes, Mapping):  # numpy reads a dict as one object; its values are columns or items
        keys = ", ".join(repr(k) for k in list(sizes)[:4]) + (", ..." if len(sizes) > 4 else "")
        raise InvalidSizesError(
            f"{name}: got a {type(sizes).__name__} (keys {keys}), not an array of sizes; pass its columns as "
            "one (n, k) array, np.column_stack([d['num_nodes'], d['num_edges']]) or pandas.DataFrame(d), or "
            "its values in item order")
    try:
        raw = np.asarray(sizes)
    except (ValueError, TypeError) as exc:
        _refuse_data_items(sizes, name)
        ragged = _ragged_row(sizes)
        if ragged:
            raise InvalidSizesError(f"{name}{ragged}: give every item the same number of sizes, one row per "
                                    "item (say [nodes, edges] for each)") from None
        raise InvalidSizesError(f"{name}: cannot be read as a numeric array ({exc})") from None
    if raw.ndim == 0:  # a number is not a dataset (numbers inside a list are fine)
        what = (f"a single number ({raw.item()!r}), not one size per item" if raw.dtype.kind in "biufc" else
                f"a {type(sizes).__name__}, not an array of sizes")
        once = ("list(...) of it (an iterator is read once), " if isinstance(sizes, Iterator) else
                "list(...) of it, " if isinstance(sizes, Iterable) and not isinstance(sizes, (str, bytes, Set)) else "")
        raise InvalidSizesError(
            f"{name}: got {what}; pass {once}a 1-D array of item sizes, an (n, k) array, or a PyG dataset")
    if raw.dtype.kind == "b":
        raise InvalidSizesError(
            f"{name}: got an array of dtype {raw.dtype} (True/False), not sizes; pass numbers (a mask "
            "as sizes would make every item cost 0 or 1: convert it with .astype(int) if that is meant)")
    if raw.ndim == 2 and raw.shape[1] > max(_MAX_COLUMNS, raw.shape[0]):
        raise InvalidSizesError(
            f"{name}: looks transposed: pass (n, k) sizes, one row per item; got shape {raw.shape} (more than "
            f"{_MAX_COLUMNS} columns and more columns than rows); np.column_stack([nodes, edges]) stacks columns")
    check_missing(sizes, raw, name, lambda mask: _where(mask, sizes))
    where = _first_non_number(sizes, raw)
    if where and raw.dtype.kind in "iuf":  # numpy read [3, True] as numbers
        raise InvalidSizesError(
            f"{name}{where}: a True/False among the sizes, not a size; pass numbers (a mask or a flag as a "
            "size would make the item cost 0 or 1: int() it if that is meant)")
    if raw.dtype.kind == "O" and raw.ndim and not where:  # numbers held as objects (pandas' nullable dtypes)
        raw = np.asarray(raw.tolist())
        if raw.dtype.kind == "O":  # numbers numpy holds in no numeric dtype: an int beyond int64, a Fraction
            _refuse_unheld(raw, sizes, name)
    if raw.dtype.kind not in "biuf":
        raise InvalidSizesError(
            f"{name}{where}: expected numbers, got an array of dtype {raw.dtype}; pass a 1-D array of item "
            f"sizes, an (n, k) array, or a PyG dataset{_size_columns_hint(sizes)}"
        )
    if raw.dtype.kind in "iu" and raw.size and int(np.abs(raw).max()) > _EXACT_INTEGERS:
        big = np.abs(raw) > _EXACT_INTEGERS
        raise InvalidSizesError(
            f"{name}{_where(big, sizes)} = {raw[_index(big)]} {_BEYOND_EXACT}")
    arr = np.ascontiguousarray(raw, dtype=np.float64)
    if arr.ndim not in (1, 2):
        _refuse_data_items(sizes, name)
        raise InvalidSizesError(f"{name}: expected a 1-D (n,) or 2-D (n, k) array, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise InvalidSizesError(f"{name}: is empty; there is nothing to batch")
    if arr.ndim == 2 and arr.shape[1] == 0:
        raise InvalidSizesError(f"{name}: has shape {arr.shape}; every item needs at least one size")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise InvalidSizesError(
            f"{name}{_where(bad, sizes)} is not finite ({arr[_index(bad)]}); sizes must be finite and >= 0"
        )
    neg = arr < 0
    if neg.any():
        raise InvalidSizesError(f"{name}{_where(neg, sizes)} is negative ({arr[_index(neg)]}); sizes must be >= 0")
    return arr


def _refuse_unheld(raw: np.ndarray, sizes: Any, name: str) -> None:
    """InvalidSizesError naming the first of the real numbers ``raw`` holds as objects that float64
    would not hold exactly (an int beyond 2**53) or that numpy reads as no number (a Fraction)."""
    bad = np.fromiter((not isinstance(x, (float, np.number)) and not (type(x) is int and abs(x) <= _EXACT_INTEGERS)
                       for x in raw.flat), bool, raw.size).reshape(raw.shape)
    if bad.any():
        value = raw[_index(bad)]
        why = _BEYOND_EXACT if isinstance(value, int) else (
            f"is a {type(value).__name__}, which numpy holds in no numeric dtype; convert the sizes with float()")
        raise InvalidSizesError(f"{name}{_where(bad, sizes)} = {value!r} {why}")


def _size_columns_hint(sizes: Any) -> str:
    """For a DataFrame with columns that are not numbers (ids, formulas): how to pass its sizes alone."""
    if not hasattr(sizes, "select_dtypes"):
        return ""
    numeric = [c for c in sizes.select_dtypes("number").columns]
    return (f"; of a DataFrame, pass the size columns alone, e.g. frame[{numeric!r}]" if numeric else
            "; of a DataFrame, pass the size columns alone, converted to numbers (pandas.to_numeric)")


def _refuse_data_items(sizes: Any, name: str) -> None:
    """InvalidSizesError for a list whose first entry is an item's data rather than its sizes: a
    tensor of features (2-D or more), or a row holding one, such as the ``(x, y)`` pairs of a plain
    PyTorch dataset."""
    if not isinstance(sizes, (list, tuple)) or not sizes:
        return
    first = sizes[0]
    held = first if getattr(first, "ndim", 0) >= 2 else None
    if held is None and isinstance(first, (list, tuple)):
        held = next((x for x in first if getattr(x, "ndim", 0) >= 1), None)
    if held is None:
        return
    what = f"a {type(held).__name__} of shape {tuple(held.shape)}"
    raise InvalidSizesError(
        f"{name}[0] is {what if held is first else f'a {type(first).__name__} holding {what}'}: an item's data, "
        "not its sizes; pass one size per item, such as [len(x) for x in data] (or rows [nodes, edges]), "
        "or a PyG dataset")


def _ragged_row(sizes: Any) -> str:
    """``"[i] has 1 entry where [0] has 2"`` for the first row of a list of rows whose length differs
    from the first row's, else ``""``."""
    if not isinstance(sizes, (list, tuple)) or not sizes:
        return ""
    lengths = [len(row) if isinstance(row, (list, tuple)) or bool(getattr(row, "ndim", 0)) else None for row in sizes]
    bad = next((i for i, k in enumerate(lengths) if k != lengths[0]), None)
    if bad is None:
        return ""
    said = ["a single number" if k is None else f"{k} entr{'y' if k == 1 else 'ies'}"
            for k in (lengths[bad], lengths[0])]
    return f"[{bad}] has {said[0]} where [0] has {said[1]}"


def _tensor_values(tensor: Any, name: str) -> np.ndarray:
    """A torch tensor's values as numpy: bfloat16 (which numpy lacks) as float32; sparse and meta
    tensors refused, as they hold no dense values."""
    import torch

    if tensor.layout != torch.strided or tensor.device.type == "meta":
        where = "on the meta device" if tensor.device.type == "meta" else f"with layout {tensor.layout}"
        raise InvalidSizesError(f"{name}: got a tensor {where}, which holds no dense values; pass a dense "
                                "tensor of sizes (e.g. tensor.to_dense())")
    tensor = tensor.detach().cpu()
    return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()


def _first_non_number(sizes: Any, raw: np.ndarray) -> str:
    """``"[i] = value"`` for the first entry of ``sizes`` that is not a real number, else ``""``."""
    found = first_non_number(sizes, raw)
    if found is None:
        return ""
    at, x = found
    return f"[{', '.join(map(str, at))}]{row_labels(sizes, at)} = {x!r}"


def _index(mask: np.ndarray) -> tuple:
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def _where(mask: np.ndarray, sizes: Any) -> str:
    """``"[i]"`` or ``"[i, j]"`` for the first True entry of ``mask``, with its pandas labels."""
    at = _index(mask)
    return f"[{', '.join(map(str, at))}]{row_labels(sizes, at)}"


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def is_positions(index) -> bool:
    """Whether a pandas index holds only the positions 0..n-1 (a default index), no labels."""
    return np.array_equal(np.asarray(index), np.arange(len(index)))


def row_labels(sizes: Any, at: tuple) -> str:
    """The pandas labels of position ``at`` of ``sizes``: its row where the index is not the
    positions (graph ids, a filtered frame) and a DataFrame's column, as
    ``" (row 'mp-1234', column 'num_edges')"``; ``""`` for anything else."""
    index, columns = getattr(sizes, "index", None), getattr(sizes, "columns", None)
    if index is None or not hasattr(index, "equals") or len(index) <= at[0]:
        return ""
    parts = []
    if not is_positions(index):
        label = index[at[0]]  # numpy scalars as plain numbers: row 11, not row np.int64(11)
        label = tuple(map(_plain, label)) if isinstance(label, tuple) else _plain(label)
        parts.append(f"row {label!r}")
    if columns is not None and len(at) == 2 and len(columns) > at[1]:
        parts.append(f"column {columns[at[1]]!r}")
    return f" ({', '.join(parts)})" if parts else ""


def is_dataset(obj: Any) -> bool:
    """Whether ``obj`` looks like a dataset of graphs rather than an array of sizes.

    Arrays and anything numpy reads as one (tensors, pandas Series and DataFrames), ``range`` and
    lists of numbers or rows are sizes; a list of graph objects is a dataset.

    >>> import pandas as pd
    >>> is_dataset([1.0, 2.0]), is_dataset(np.ones(3)), is_dataset(pd.Series([3, 5])), is_dataset(range(1, 9))
    (False, False, False, False)
    """
    if _array_like(obj) or isinstance(obj, (range, str, bytes, Mapping)):  # Mappings: refused as sizes
        return False
    if isinstance(obj, (list, tuple)):
        scalar_or_row = (numbers.Number, str, bytes, list, tuple)
        return len(obj) > 0 and not (_array_like(obj[0]) or isinstance(obj[0], scalar_or_row))
    return hasattr(obj, "__getitem__") and hasattr(obj, "__len__")


def _array_like(obj: Any) -> bool:
    # numpy arrays and scalars, torch tensors, pandas objects: all convert through __array__
    return hasattr(obj, "__array__")


def graph_sizes(dataset: Any, fields: Sequence[Field] = DEFAULT_FIELDS, *,
                show_progress: bool | None = None) -> np.ndarray:
    """Per-graph sizes of a dataset as an ``(n, len(fields))`` float64 array, read once.

    ``fields`` are graph attributes (``"num_nodes"``, ``"num_edges"``, or any attribute holding a
    number) or functions of a graph. A PyG ``InMemoryDataset`` without a ``transform`` is read from
    its ``slices`` without building a single graph; anything else (an on-disk ``Dataset``, a list of
    ``Data``, a dataset with a transform, which may change sizes) is iterated once with a progress
    bar.

    >>> import torch
    >>> from torch_geometric.data import Data
    >>> graphs = [Data(x=torch.zeros(n, 2), edge_index=torch.zeros(2, 2 * n, dtype=torch.long))
    ...           for n in (3, 5)]
    >>> graph_sizes(graphs)
    array([[ 3.,  6.],
           [ 5., 10.]])
    """
    fields = tuple(fields)
    if not fields:
        raise InvalidSizesError("fields: give at least one size field, e.g. ('num_nodes',)")
    n = len(dataset)
    if n == 0:
        raise InvalidSizesError("dataset is empty; there is nothing to batch")
    fast = _sizes_from_slices(dataset, fields)
    if fast is not None:
        log.debug("read %d graph sizes from the dataset's slices", n)
        return as_sizes(fast, "dataset sizes")
    out = np.empty((n, len(fields)), dtype=np.float64)
    bar = progress(range(n), total=n, desc="reading graph sizes", unit="graph",
                   show=show_progress)
    for i in bar:
        item = dataset[i]
        for j, field in enumerate(fields):
            value = field(item) if callable(field) else (
                item.get(field) if isinstance(item, Mapping) else getattr(item, field, None))
            if value is None:
                name = getattr(field, "__name__", field)
                raise InvalidSizesError(
                    f"dataset[{i}] has no size {name!r} (got None); give graphs that attribute (or key) "
                    f"(e.g. set data.num_nodes), choose other fields, or pass sizes as an array"
                )
            try:
                out[i, j] = float(value)
            except (TypeError, ValueError):
                raise InvalidSizesError(
                    f"dataset[{i}]: size {getattr(field, '__name__', field)!r} is not a number ({value!r})"
                ) from None
    return as_sizes(out, "dataset sizes")


def _sizes_from_slices(dataset: Any, fields: tuple) -> np.ndarray | None:
    """Sizes from an InMemoryDataset's slices, or None where that would not match ``dataset[i]``."""
    try:
        from torch_geometric.data import Data, InMemoryDataset
    except ImportError:  # pragma: no cover - without PyG there are no PyG datasets
        return None
    if not isinstance(dataset, InMemoryDataset) or getattr(dataset, "transform", None) is not None:
        return None
    data, slices = getattr(dataset, "_data", None), getattr(dataset, "slices", None)
    if slices is None or not isinstance(data, Data) or type(data) is not Data:  # HeteroData, subclasses: iterate
        return None
    store = data._store
    columns = []
    for field in fields:
        if field == "num_nodes":
            col = _node_counts(store, slices)
        elif field == "num_edges":
            col = _first_count(store, slices, _EDGE_KEYS)
        else:
            return None
        if col is None:
            return None
        columns.append(col)
    idx = np.asarray(dataset.indices(), dtype=np.int64)
    return np.stack(columns, axis=1)[idx]


def _node_counts(store, slices) -> np.ndarray | None:
    if "num_nodes" in store:
        # Explicit per-graph counts survive collation only as the private `_num_nodes` list.
        per_graph = getattr(store, "_num_nodes", None)
        return None if per_graph is None else np.asarray(per_graph, dtype=np.float64)
    return _first_count(store, slices, _NODE_KEYS)


def _first_count(store, slices, keys) -> np.ndarray | None:
    # Same rule as PyG: the first attribute (in storage order) whose key is a node/edge key.
    import torch

    for key, value in store.items():
        if key in keys and isinstance(value, torch.Tensor):
            if key not in slices or not isinstance(slices[key], torch.Tensor):
                return None
            return np.diff(slices[key].numpy()).astype(np.float64)
    return None
