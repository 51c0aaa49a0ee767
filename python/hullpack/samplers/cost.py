"""Cost models: what one item costs a batch, from its sizes.

:class:`LinearCost` is ``cost = sizes @ weights + bias`` per item, so a batch costs the sum of its
items. :class:`MemoryModel` is a :class:`LinearCost` in bytes, fitted from the peak memory of a few
probe batches, plus a fixed per-batch ``intercept`` (parameters, gradients, optimizer state) that
:meth:`MemoryModel.budget_to_max_cost` subtracts from a memory budget.
"""
from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from typing import Any, Callable, Sequence

import numpy as np

from .._packing_inputs import check_missing, first_non_number
from ..errors import InvalidSizesError
from .._progress import progress
from ._sizes import DEFAULT_FIELDS, as_sizes, graph_sizes, is_dataset, is_positions

log = logging.getLogger(__name__)


def labelled(values: Any) -> str | None:
    """Why ``values``, given for one number per size column, is not read: a dict or a labelled pandas
    Series, whose keys a vector would ignore, taking their order for the columns'; else None."""
    if isinstance(values, Mapping):
        return f"a dict ({values!r}) is not read by its keys"
    labels = getattr(values, "index", None)
    if hasattr(values, "to_numpy") and labels is not None and not is_positions(labels):
        return f"a pandas Series labelled {list(labels)!r} is not read by its labels"
    return None


def _vector(values: Any, name: str) -> np.ndarray:
    why = labelled(values)
    if why:
        raise InvalidSizesError(f"{name}: {why}; give a list with one number per size column in the order of the "
                                "columns")
    check_missing(values, None, name, fix="give a number for every size column")
    refuse_non_numbers(values, name, InvalidSizesError)
    try:
        v = np.atleast_1d(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError):
        raise InvalidSizesError(f"{name}: expected a vector of numbers, got {values!r}") from None
    if v.ndim != 1 or v.size == 0:
        raise InvalidSizesError(f"{name}: expected a non-empty 1-D vector, got shape {v.shape}")
    for i, x in enumerate(v):
        if not np.isfinite(x) or x < 0:
            raise InvalidSizesError(f"{name}[{i}] = {x}: must be finite and >= 0")
    return v


def refuse_non_numbers(values: Any, name: str, error: type[ValueError]) -> None:
    """``error`` naming the first entry of ``values`` (a number or a vector of them) that is a string,
    a bool or another object that float() would read as a number all the same ("10", True)."""
    try:
        raw = np.asarray(values)
    except (TypeError, ValueError):
        return  # the conversion that follows says why
    found = first_non_number(values, raw) if raw.ndim else (
        ((), raw.item()) if raw.dtype.kind in "bUS" else None)
    if found is not None:
        at = f"[{', '.join(map(str, found[0]))}]" if found[0] else ""
        raise error(f"{name}{at} = {found[1]!r} is not a number: give {'numbers' if raw.ndim else 'a number'}")


def _scalar(value: Any, name: str) -> float:
    refuse_non_numbers(value, name, InvalidSizesError)
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InvalidSizesError(f"{name}: expected a number, got {value!r}") from None
    if not np.isfinite(x) or x < 0:
        raise InvalidSizesError(f"{name} = {x}: must be finite and >= 0")
    return x


def weighted_sum(sizes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sizes @ weights`` over the last axis in plain double arithmetic, one column after another:
    the same bits on every machine, so every process of a job computes the same costs and batches.
    A BLAS product (numpy's ``@``) fuses multiply-adds or sums in another order depending on the CPU,
    and costs that differ in the last bit can give two machines different batches."""
    out = sizes[..., 0] * weights[0]
    for j in range(1, weights.size):
        out = out + sizes[..., j] * weights[j]
    return out


class LinearCost:
    """Per-item cost ``sizes @ weights + bias``; a batch costs the sum over its items.

    ``weights`` has one entry per size column (``k``); ``bias`` is a fixed cost per item.

    >>> cost = LinearCost([1.0, 0.5], bias=2.0)       # nodes + edges / 2 + 2 per graph
    >>> cost([[10, 20], [4, 0]])
    array([22.,  6.])
    >>> cost.batch_cost([14, 20], 2)                  # summed sizes of a batch, item count
    28.0
    """

    def __init__(self, weights: Sequence[float] | np.ndarray, bias: float = 0.0):
        self.weights = _vector(weights, "weights")
        self.bias = _scalar(bias, "bias")

    @property
    def k(self) -> int:
        """Number of size columns the model expects."""
        return int(self.weights.size)

    def _as_matrix(self, sizes: Any) -> np.ndarray:
        s = as_sizes(sizes)
        if s.ndim == 1:
            s = s[:, None]
        if s.shape[1] != self.k:
            raise InvalidSizesError(
                f"sizes have {s.shape[1]} column(s) but the cost model has {self.k} weight(s); "
                "give one weight per size column (sizes read from a dataset have one column per field, "
                f"{DEFAULT_FIELDS} unless fields= says otherwise: pass the fields the model was fitted on)"
            )
        return s

    def __call__(self, sizes: Any) -> np.ndarray:
        """Cost of every item, shape ``(n,)``."""
        return weighted_sum(self._as_matrix(sizes), self.weights) + self.bias

    def batch_cost(self, summed_sizes: Any, count: Any) -> Any:
        """Cost of batches given their summed sizes ``(k,)`` or ``(m, k)`` and item counts."""
        s = np.asarray(summed_sizes, dtype=np.float64)
        out = weighted_sum(s, self.weights) + np.asarray(count, dtype=np.float64) * self.bias
        return float(out) if np.ndim(out) == 0 else out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weights={self.weights.tolist()}, bias={self.bias:g})"


def nnls_small(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Exact non-negative least squares for a handful of columns.

    The NNLS optimum is the unconstrained least-squares fit on its own support, so trying every
    support and keeping the best non-negative fit is exact; with at most ~10 columns it is instant.
    """
    p = X.shape[1]
    scale = np.linalg.norm(X, axis=0)
    scale[scale == 0] = 1.0
    Xs = X / scale
    y_scale = float(np.linalg.norm(y)) or 1.0  # residuals compared on a unit scale, whatever the units
    y = y / y_scale
    best, best_res = np.zeros(p), float(y @ y)
    for r in range(1, p + 1):
        for support in itertools.combinations(range(p), r):
            cols = list(support)
            coef, *_ = np.linalg.lstsq(Xs[:, cols], y, rcond=None)
            if np.any(coef < 0):
                continue
            res = float(np.sum((Xs[:, cols] @ coef - y) ** 2))
            if res < best_res * (1 - 1e-9):
                best_res = res
                best = np.zeros(p)
                best[cols] = coef
    return best * y_scale / scale


def refuse_flat_fit(growth: np.ndarray, peaks: np.ndarray) -> None:
    """Raise where the fitted terms that grow with a batch (``growth``: their part of each probe's
    predicted peak) add nothing to any probe: a model that prices every batch alike would let a
    sampler put all items in one batch. Measurements taken where the step does not run look so."""
    if float(growth.max(initial=0.0)) > 1e-9 * max(float(peaks.max(initial=0.0)), 1.0):
        return
    raise InvalidSizesError(
        f"the peak memory of the {peaks.size} probe batches does not grow with their sizes or item counts "
        f"(measured {peaks.min():.6g} to {peaks.max():.6g} bytes), so the fit would price every batch alike "
        "and a sampler would put all items in one batch. Measure where the training step runs; with "
        "MemoryModel.probe(), step_fn must run the forward and backward pass on the GPU for measure='cuda' "
        "(move the model and the batch there), and with gradients for measure='saved_tensors' (not under "
        "torch.no_grad())")


class SavedTensorBytes:
    """Context manager counting the bytes of the tensors autograd saves for backward inside it: the
    activations, the part of a training step's memory that grows with the batch. Each storage is
    counted once (several ops often save the same tensor). ``on_save`` is called at every save.

    >>> import torch
    >>> w = torch.ones(4, 4, requires_grad=True)
    >>> with SavedTensorBytes() as saved:
    ...     loss = (torch.ones(8, 4) @ w).relu().sum()
    >>> saved.nbytes                       # the input of the matmul and the output of the ReLU
    256
    """

    def __init__(self, on_save: Callable[[], None] | None = None):
        self._saved: dict[int, int] = {}
        self._on_save = on_save

    @property
    def nbytes(self) -> int:
        return int(sum(self._saved.values()))

    def _pack(self, t):
        try:
            st = t.untyped_storage()
            self._saved[st.data_ptr()] = st.nbytes()
        except (RuntimeError, NotImplementedError):  # sparse and other storage-less tensors
            self._saved[id(t)] = t.numel() * t.element_size()
        if self._on_save is not None:
            self._on_save()
        return t

    def __enter__(self) -> "SavedTensorBytes":
        import torch

        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)


class MemoryModel(LinearCost):
    """Peak memory of a batch in bytes: ``intercept + summed_sizes @ weights + count * bias``.

    Fit it from probe batches with :meth:`fit` (your own measurements) or :meth:`probe` (runs your
    training step on a few batches and measures). Used as a sampler's ``cost``, an item costs
    ``sizes @ weights + bias`` bytes, and :meth:`budget_to_max_cost` turns a memory budget into the
    sampler's ``max_cost`` by taking off the fixed ``intercept``.

    >>> rng = np.random.default_rng(0)
    >>> summed = rng.integers(100, 5000, size=(12, 2)).astype(float)   # nodes, edges per probe
    >>> counts = rng.integers(1, 64, size=12).astype(float)
    >>> peak = 1e6 + summed @ [512.0, 96.0] + 2048.0 * counts
    >>> m = MemoryModel.fit(summed, counts, peak)
    >>> np.round(m.weights, 3).tolist(), round(m.bias, 3), round(m.intercept)
    ([512.0, 96.0], 2048.0, 1000000)
    >>> round(m.budget_to_max_cost(8e6))     # the fit is exact to ~1e-13: its last bits vary by BLAS
    7000000
    """

    def __init__(self, weights: Sequence[float] | np.ndarray, bias: float = 0.0, intercept: float = 0.0):
        super().__init__(weights, bias)
        self.intercept = _scalar(intercept, "intercept")
        #: The probe batches the model was fitted on (``summed_sizes``, ``counts``, ``peak_bytes``).
        self.probes_: dict[str, np.ndarray] | None = None
        #: Largest relative error of the fit on its probe batches.
        self.max_rel_error_: float | None = None

    @classmethod
    def fit(cls, summed_sizes: Any, counts: Any, peak_bytes: Any, *,
            fit_intercept: bool = True) -> "MemoryModel":
        """Fit weights, bias and intercept (all >= 0) to measured peaks by least squares.

        ``summed_sizes`` is ``(m, k)`` (or ``(m,)`` for one column): the sizes of each probe batch
        summed over its items; ``counts`` ``(m,)`` the number of items; ``peak_bytes`` ``(m,)``.
        The probes must vary enough to tell the terms apart (different counts and sizes).
        """
        S = as_sizes(summed_sizes, "summed_sizes")
        if S.ndim == 1:
            S = S[:, None]
        m, k = S.shape
        c = as_sizes(counts, "counts")
        y = as_sizes(peak_bytes, "peak_bytes")
        if c.shape != (m,) or y.shape != (m,):
            raise InvalidSizesError(
                f"counts {c.shape} and peak_bytes {y.shape} must both have shape ({m},), one per probe batch"
            )
        X = np.column_stack([S, c] + ([np.ones(m)] if fit_intercept else []))
        p = X.shape[1]
        if p > 12:
            raise InvalidSizesError(f"too many size columns ({k}) to fit; at most 10 are supported")
        rank = np.linalg.matrix_rank(X / np.maximum(np.linalg.norm(X, axis=0), 1e-300))
        if rank < p:
            raise InvalidSizesError(
                f"the {m} probe batches cannot separate the {p} terms of the model (rank {rank}); "
                "use probes with different item counts and different summed sizes"
            )
        coef = nnls_small(X, y)
        refuse_flat_fit(X[:, :k + 1] @ coef[:k + 1], y)
        model = cls(coef[:k], float(coef[k]), float(coef[k + 1]) if fit_intercept else 0.0)
        model.probes_ = {"summed_sizes": S, "counts": c, "peak_bytes": y}
        pred = X @ coef
        model.max_rel_error_ = float(np.max(np.abs(pred - y) / np.maximum(y, 1.0)))
        log.info("fitted %r on %d probes (max relative error %.3g)", model, m, model.max_rel_error_)
        return model

    def predict(self, summed_sizes: Any, counts: Any) -> Any:
        """Predicted peak bytes of batches from their summed sizes and item counts."""
        return self.intercept + self.batch_cost(summed_sizes, counts)

    def budget_to_max_cost(self, budget_bytes: float) -> float:
        """The samplers' ``max_cost`` for a memory budget: ``budget_bytes - intercept``.

        Leave yourself a margin (allocator fragmentation, the CUDA context): e.g. pass 90% of the
        device memory.
        """
        budget = _scalar(budget_bytes, "budget_bytes")
        left = budget - self.intercept
        if left <= 0:
            raise InvalidSizesError(
                f"budget of {budget:.4g} bytes is below the fixed per-batch memory of "
                f"{self.intercept:.4g} bytes (model, gradients, optimizer state); raise the budget"
            )
        return left

    def to_dict(self) -> dict:
        """Plain-Python form, for saving next to a checkpoint; :meth:`from_dict` reads it back."""
        return {"weights": self.weights.tolist(), "bias": self.bias, "intercept": self.intercept}

    @classmethod
    def from_dict(cls, d: dict) -> "MemoryModel":
        """Inverse of :meth:`to_dict`."""
        return cls(d["weights"], d["bias"], d["intercept"])

    def __repr__(self) -> str:
        weights = ", ".join(f"{w:.7g}" for w in self.weights)  # not 3275.999999999938
        return f"MemoryModel(weights=[{weights}], bias={self.bias:.7g}, intercept={self.intercept:.7g})"

    @classmethod
    def probe(cls, step_fn: Callable[[Any], Any], dataset: Any = None, *, sizes: Any = None,
              fields: Sequence = DEFAULT_FIELDS, batch_sizes: Sequence[int] = (1, 2, 4, 8, 16),
              collate_fn: Callable | None = None, measure: str = "auto", seed: int = 0,
              fit_intercept: bool = True) -> "MemoryModel":
        """Run ``step_fn`` on a few probe batches, measure peak memory, and :meth:`fit`.

        For every count in ``batch_sizes`` three batches are probed: the largest items, items
        around the median and random items (seeded), so counts and sizes both vary.
        ``step_fn(batch)`` should do what a training step does (forward and backward). With a
        ``dataset`` the batch is collated (``Batch.from_data_list`` for PyG graphs,
        ``default_collate`` otherwise, or ``collate_fn``); with only ``sizes`` it receives the list
        of item indices. Sizes are read from the dataset (``fields``) unless given.

        ``measure``: ``"cuda"`` measures ``torch.cuda.max_memory_allocated`` around each step
        (after one warm-up step, so optimizer state already exists); ``"saved_tensors"`` sums the
        bytes of tensors saved for backward (activations, the part that grows with the batch),
        which works on the CPU; ``"auto"`` picks ``"cuda"`` when CUDA is available.
        """
        import torch

        if sizes is None:
            if dataset is None:
                raise InvalidSizesError("probe: pass a dataset, sizes, or both")
            sizes = graph_sizes(dataset, fields)
        elif is_dataset(sizes):
            sizes = graph_sizes(sizes, fields)
        s = as_sizes(sizes)
        s2 = s[:, None] if s.ndim == 1 else s
        n = s2.shape[0]
        if dataset is not None and len(dataset) != n:
            raise InvalidSizesError(f"sizes has {n} items but the dataset has {len(dataset)}")
        if measure == "auto":
            measure = "cuda" if torch.cuda.is_available() else "saved_tensors"
        if measure not in ("cuda", "saved_tensors"):
            raise ValueError(f"measure={measure!r}: expected 'auto', 'cuda' or 'saved_tensors'")
        counts = sorted({min(int(b), n) for b in batch_sizes if int(b) > 0})
        if not counts:
            raise InvalidSizesError("batch_sizes: give at least one positive batch size")

        # Order items by total size relative to each column's mean, so columns weigh alike.
        total = (s2 / np.maximum(s2.mean(axis=0), 1e-300)).sum(axis=1)
        by_size = np.argsort(-total, kind="stable")
        rng = np.random.default_rng(seed)
        batches = []
        for b in counts:
            mid = max(0, min(n - b, n // 2 - b // 2))
            batches += [by_size[:b], by_size[mid:mid + b], rng.choice(n, size=b, replace=False)]

        def make(idx: np.ndarray) -> Any:
            items = [int(i) for i in idx]
            if dataset is None:
                return items
            samples = [dataset[i] for i in items]
            if collate_fn is not None:
                return collate_fn(samples)
            if hasattr(samples[0], "num_nodes") and hasattr(samples[0], "stores"):
                from torch_geometric.data import Batch

                return Batch.from_data_list(samples)
            return torch.utils.data.default_collate(samples)

        def peak_of(batch: Any) -> float:
            if measure == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                step_fn(batch)
                torch.cuda.synchronize()
                return float(torch.cuda.max_memory_allocated())
            with SavedTensorBytes() as saved:
                step_fn(batch)
            return float(saved.nbytes)

        if measure == "cuda":
            step_fn(make(batches[0]))  # warm-up: lazily created optimizer state is not a batch cost
        summed, peaks, nitems = [], [], []
        for idx in progress(batches, desc="probing memory", unit="batch"):
            peaks.append(peak_of(make(idx)))
            summed.append(s2[idx].sum(axis=0))
            nitems.append(len(idx))
        return cls.fit(np.array(summed), np.array(nitems, dtype=np.float64), np.array(peaks),
                       fit_intercept=fit_intercept)


def resolve_cost(cost: Any, weights: Any, bias: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """The cost model from a sampler's ``cost=`` or ``weights=``/``bias=`` arguments (or None)."""
    if cost is not None and (weights is not None or bias is not None):
        raise ValueError("pass either cost= or weights=/bias=, not both")
    if weights is not None:
        return LinearCost(weights, 0.0 if bias is None else bias)
    if bias is not None:
        raise ValueError("bias= needs weights= (one weight per size column)")
    if cost is not None and not callable(cost):
        raise ValueError("cost: expected a LinearCost, MemoryModel or function of sizes, got "
                         f"{type(cost).__name__}")
    return cost


def item_costs(sizes: np.ndarray, model: Callable[[np.ndarray], np.ndarray] | None) -> np.ndarray:
    """Cost of every item, shape ``(n,)``: the model's, else the sizes summed over columns."""
    if model is None:
        return sizes if sizes.ndim == 1 else np.ascontiguousarray(sizes.sum(axis=1))
    out = np.asarray(model(sizes), dtype=np.float64)
    if out.shape != (sizes.shape[0],):
        raise InvalidSizesError(
            f"cost model returned shape {out.shape}; expected one cost per item ({sizes.shape[0]},)"
        )
    return as_sizes(out, "item costs")
