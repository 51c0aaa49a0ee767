"""The screen: :func:`screen` checks a request (elements, grid, precision, shard) before any work,
then runs its systems block by block through the engine, the bf16 certification and the hulls,
compares each block with the DFT hulls, and assembles the result tables (:class:`ScreenResult`).
"""
from __future__ import annotations

import functools
import logging
import math
import time
import uuid
import warnings

import numpy as np
import pandas as pd

from .. import compositions
from .._progress import progress as _progress_bar
from ..elemnet.pretrained import model_test_errors
from ..elements import ELEMNET_ELEMENTS
from ..errors import InvalidInputError, ScreeningError
from ..hull import hull_batch
from .backend import cpu_bf16_native
from .certify import Certifier
from .edges import EdgeEnergies, edge_sharing
from .engine import InferenceEngine
from .grids import DEFAULT_GRID, MAX_INTERVALS, default_match_tol, grid_label, grid_spacing, resolve_grid
from .hulls import HULL_TOL, BlockHulls, corner_mask, plain_hulls, vertex_depth
from .models import make_engine
from .models import resolve_model as _load_model
from .names import ORDER_NAMES, charge_balance, formulas, system_names
from .result import ScreenResult
from .tables import chemists_order, point_rows, shallow_labels, system_rows, vertex_rows

__all__ = ["screen", "auto_precision", "parse_shard", "resolve_grid", "grid_label", "grid_spacing", "DEFAULT_GRID", "DEFAULT_MIN_DEPTH",
           "MAX_INTERVALS", "PRECISIONS", "element_energies", "end_depths"]

log = logging.getLogger(__name__)

#: eV/atom: a hull vertex counts as a predicted stable compound when it lies at least this far
#: below the hull of the other points (on the default grids the F1 against DFT peaks at 5 meV/atom
#: for binaries, within 0.003 of 10, and at 10 for ternaries)
DEFAULT_MIN_DEPTH = 0.010
#: (system, point) pairs per block of systems: memory stays flat in the number of systems
_BLOCK_PAIRS = 1 << 18
#: the face points of ternaries (edges) and quaternaries (ternary faces and edges) are shared (in
#: fp32, :mod:`~hullpack.screening.edges`) when each shared prediction replaces at least this
#: many bf16 ones: fp32's cost in bf16 predictions on CPU, about 4 through torch's default (MKL)
#: path and about 2 through oneDNN, so the rule leans towards predicting edges per system
#: (through :func:`~hullpack.compositions.relu_mlp`, fp32 costs less than bf16: 1 then)
EDGE_FP32_COST = 4
PRECISIONS = ("auto", "bf16", "fp32", "bf16-uncertified")


def parse_shard(shard) -> tuple[int, int] | None:
    """``"i/n"`` or ``(i, n)`` -> ``(i, n)`` with ``0 <= i < n``.

    >>> parse_shard("1/4"), parse_shard(None)
    ((1, 4), None)
    """
    if shard is None:
        return None
    try:
        i, n = (int(v) for v in (shard.split("/") if isinstance(shard, str) else shard))
    except (ValueError, TypeError):
        raise ScreeningError(f"shard={shard!r}: expected 'i/n' or (i, n), e.g. '0/4'") from None
    if n < 1:
        raise ScreeningError(f"shard={shard!r}: expected at least 1 shard (n >= 1), e.g. '0/4'")
    if not 0 <= i < n:
        raise ScreeningError(f"shard={shard!r}: shards are numbered from 0: expected 0 <= i < {n}, "
                             f"one of {_shard_range(n)}")
    return i, n


def _shard_range(n: int) -> str:
    """The shards of a split into ``n``, in words: ``0/3, 1/3, 2/3`` or ``0/10 .. 9/10``."""
    return ", ".join(f"{i}/{n}" for i in range(n)) if n <= 3 else f"0/{n} .. {n - 1}/{n}"


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where there is no glibc."""
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def _trim_heap() -> None:
    """Hands the C heap's free memory back to the system (nothing without glibc). Without it the
    resident size crept up by about 20 MiB per block of a long screen: arrays of a new size each
    round fragment the heap, and freed pieces stayed resident."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def screen(model=None, order: int = 2, elements=None, grid=None, precision: str = "auto", points: bool = False,
           compare_dft=True, device: str = "cpu", shard=None, progress: bool = True, *,
           match_tol: float | None = None, min_depth: float = DEFAULT_MIN_DEPTH, threads: int | None = None,
           chunk: int | None = None, seed: int = 0) -> ScreenResult:
    """Screen every binary (``order=2``), ternary (``order=3``) or quaternary (``order=4``) system
    of ``elements`` (default: ElemNet's 86; symbols, a string like ``"Fe Ni O"``, or indices in
    :data:`~hullpack.elements.ELEMNET_ELEMENTS`, which are not atomic numbers: Fe is 22) on a
    composition grid. Quaternaries: all ``C(n, 4)`` systems of the ``n`` elements given (``elements``
    is required: all 86 would make 2.1 million systems), hulls by the N-dimensional kernel, tables
    but no plots (:meth:`ScreenResult.system_table <hullpack.screening.ScreenResult.system_table>`).

    ``model``: None (the shipped ElemNet), a model file or ``hullpack train`` run folder, or any torch
    module or callable mapping an ``(n, 86)`` float32 tensor of fractions (columns in
    :data:`~hullpack.elements.ELEMNET_ELEMENTS` order) to ``n`` energies (eV/atom; see "Your own
    model" below). ``grid``: None (:data:`DEFAULT_GRID`: ``"reduced:10"``,
    every composition whose fractions have denominators up to 10: 33 points per binary, 205 per
    ternary, 831 per quaternary), ``"reduced:N"``, ``"uniform:N"`` or an int ``N`` (step ``1/N``;
    ``"uniform:100"`` / ``"uniform:20"`` were the defaults before), or an integer array of
    numerators (see :func:`resolve_grid`).
    ``precision``: ``"auto"`` (default: ``"fp32"`` or certified ``"bf16"``, by a rule
    measured on AVX-512 and AVX2 CPUs and a GPU, :func:`auto_precision`: ``"fp32"`` on an x86-64 CPU with
    AVX2+FMA where the model is a ReLU network with finite parameters, such as ElemNet, whose fp32
    layers skip their zero activations (:func:`hullpack.compositions.relu_mlp`), for
    ElemNet-shaped models on a GPU, and for any model on a CPU without bf16 arithmetic; else ``"bf16"``), ``"fp32"`` (every point in float32), ``"bf16"`` (bf16 inference, every hull vertex
    and every point near the hull re-evaluated in fp32, validated against fp32 by calibration and
    audit: see :mod:`hullpack.screening.certify` for what is guaranteed; a model without a bf16 path
    runs in fp32), or ``"bf16-uncertified"``. ``config["precision"]`` says which ran. ``points``: also return every
    point. ``compare_dft``: compare with the hulls of known compounds: ``True``, the shipped OQMD
    set; ``False``, none; or your own, formation energies in eV/atom from another database (a CSV or
    Parquet path, a DataFrame with formula and energy columns, or a
    :class:`~hullpack.screening.dft.DFTCompounds`; see :meth:`DFTCompounds.read
    <hullpack.screening.dft.DFTCompounds.read>`); ``match_tol``: composition tolerance,
    default half the grid's smallest spacing, :func:`grid_spacing`. ``shard``: ``"i/n"`` screens
    the i-th of n contiguous slices of the systems. ``device``: ``"cpu"`` or ``"cuda"``.
    ``threads``: CPU threads for the gather, torch (set with ``torch.set_num_threads``, which stays
    set) and the hull kernels; default: torch's.
    ``min_depth`` (eV/atom, default :data:`DEFAULT_MIN_DEPTH`: 0.010): a hull vertex counts as a
    predicted stable compound only if it lies at least this far below the hull of the other points
    (the ``depth`` column of ``vertices`` and ``points``; ``n_vertices`` in ``systems`` counts every
    vertex, and ``shallow`` names those left out, with their depths in meV/atom); on a
    fine grid a smooth prediction has many shallow vertices side by side, and 0 counts them all.
    Depths come from the screen's energies (in a bf16 screen, bf16 at the points not re-evaluated),
    so a vertex whose depth is within the bf16 error of ``min_depth`` may count differently from an
    fp32 screen. The element ends of every hull are at 0; a stable compound that is less than
    ``min_depth`` deep with the ends at the model's own energies for the pure elements (where below
    0) is flagged ``end_artifact`` in ``vertices`` (:func:`end_depths`), kept in ``n_stable`` and
    counted apart.
    Systems are named ``"Fe-O"`` (symbols in alphabetical order) and formulas ``"Fe2O3"``, as
    pymatgen writes them (:mod:`hullpack.screening.names`).

    Bad requests raise :class:`~hullpack.errors.ScreeningError` / ``ModelFileError`` (both
    ``ValueError``) before any work. Systems with non-finite predictions are kept, flagged in
    ``nonfinite``, with a warning.

    Your own model: it is called (in eval mode, on ``device``) on an ``(n, 86)`` float32 tensor of
    element fractions, rows summing to 1, columns in :data:`~hullpack.elements.ELEMNET_ELEMENTS`
    order (by atomic number without He, Ne, Ar, Po, At, Rn, Fr, Ra and all past Pu: Fe is column 22,
    not 25), and must return ``n`` formation energies in eV/atom (shape ``(n,)`` or ``(n, 1)``, a
    tensor or a numpy array). The fast engine runs a ``torch.nn.Sequential`` whose first layer is
    ``Linear(86, h)`` on those fractions, followed only by Linear, ReLU, Dropout, Identity,
    LayerNorm and elementwise activations (pass ``model.net`` where your module's forward is that
    Sequential alone); any other model is called on batches of dense fractions, slower
    (``config["engine"]`` says which ran). A file of ``torch.save`` or ``torch.jit.save`` is loaded
    in Python (``torch.load``, ``torch.jit.load``) and the module passed. Nothing tells a model's
    element order from its weights: a model whose inputs are other columns screens silently wrong
    unless they are put in place, by re-indexing its first Linear layer (which keeps the fast
    engine; the columns of elements outside the 86 are dropped, their fractions being 0) or by
    wrapping it in a function:

    >>> import torch
    >>> from hullpack.elements import ELEMNET_ELEMENTS
    >>> my_order = sorted(ELEMNET_ELEMENTS)              # the element of each of your model's inputs
    >>> cols = [my_order.index(s) for s in ELEMNET_ELEMENTS]
    >>> mine = torch.nn.Sequential(torch.nn.Linear(len(my_order), 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    >>> first = torch.nn.Linear(86, 16)                  # the same layer, its columns in ElemNet's order
    >>> first.load_state_dict({"weight": mine[0].weight[:, cols], "bias": mine[0].bias})
    <All keys matched successfully>
    >>> r = screen(torch.nn.Sequential(first, *mine[1:]), elements="Fe O", compare_dft=False, progress=False)
    >>> def in_my_order(x):                              # any model: x holds ElemNet's columns
    ...     z = x.new_zeros(len(x), len(my_order))
    ...     z[:, cols] = x
    ...     return mine(z)
    >>> w = screen(in_my_order, elements="Fe O", compare_dft=False, progress=False)
    >>> r.config["engine"], w.config["engine"], bool(abs(r.systems.min_energy - w.systems.min_energy).max() < 1e-5)
    ('InferenceEngine', 'ModelEngine', True)
    """
    t_start = time.perf_counter()
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order not in ORDER_NAMES:
        raise ScreeningError(f"order={order!r}: expected 2 (binaries), 3 (ternaries) or 4 (quaternaries)")
    order = int(order)
    if precision not in PRECISIONS:
        raise ScreeningError(f"precision={precision!r}: expected one of {PRECISIONS}")
    if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ScreeningError(f"device={device!r}: expected 'cpu' or 'cuda'")
    if order >= 4 and elements is None:
        raise ScreeningError(f"elements: order={order} needs an element subset (e.g. elements=\"Li Fe Mn P O\"); "
                             f"all 86 elements make {math.comb(86, order):,} systems (pass them explicitly to "
                             "screen them all)")
    try:
        table = compositions.systems(order, elements)  # names unknown symbols, refuses too few
    except InvalidInputError as exc:
        raise ScreeningError(_too_few(order, elements) or str(exc)) from None
    g = resolve_grid(order, grid)
    sh = parse_shard(shard)
    den = int(np.lcm.reduce(g.sum(axis=1).astype(np.int64)))
    match_tol = float(default_match_tol(order, grid, g) if match_tol is None else match_tol)
    if not match_tol >= 0:
        raise ScreeningError(f"match_tol={match_tol}: expected >= 0")
    if not (np.isfinite(min_depth) and min_depth >= 0):
        raise ScreeningError(f"min_depth={min_depth}: expected a finite number >= 0 (eV/atom)")
    from .dft import dft_reference

    dft = dft_reference(compare_dft)  # a file of your own is read (and refused) before any work
    net = _load_model(model)
    if threads:
        import torch

        torch.set_num_threads(int(threads))  # oneDNN's threads too, not only the gather's
    engine = make_engine(net, device=str(device), chunk=chunk, threads=threads)
    if precision == "auto":
        precision = auto_precision(engine)
    if precision != "fp32" and not engine.supports_bf16:
        log.info("screening: the model has no bf16 path (autocast changes nothing); screening in fp32")
        precision = "fp32"
    whole = table  # a shard calibrates, and decides on shared edges, as the whole screen does
    references = element_energies(engine)
    if sh is not None:
        table = np.array_split(table, sh[1])[sh[0]]

    names = system_names(table)
    fr = compositions.grid_fractions(g)
    inner = ~corner_mask(g)
    n_inner = int(inner.sum())
    block = max(1, _BLOCK_PAIRS // max(n_inner, 1))
    certifier = Certifier(engine, seed=seed) if precision == "bf16" else None
    if certifier is not None and n_inner and len(table):
        certifier.calibrate(whole, g[inner], screened=table)  # the whole screen, not a block or shard
    # ternaries share their edges, quaternaries their faces and edges: each subset's compositions
    # are predicted once, in fp32, where that saves work (EDGE_FP32_COST)
    edges = EdgeEnergies(table, g) if order >= 3 else None
    fp32_cost = 1 if precision == "fp32" or getattr(engine, "fp32_kernel", None) == "relu_mlp" else EDGE_FP32_COST
    if edges is not None and edges.mask.any() and edge_sharing(whole, g) >= fp32_cost:
        edges.evaluate(engine)
    else:
        edges = None
    sys_parts, vert_parts, pt_parts, dft_parts = [], [], [], []
    t_screen = t_dft = t_end_check = t_evaluating = 0.0
    letters = "ABCD"[:order]
    with _progress_bar(total=len(table) * n_inner, desc="screen", unit="pred",
                       show=None if progress else False) as bar:
        for s0 in range(0, max(len(table), 1), block):  # an empty shard: one empty block, empty tables
            t0, evaluated0 = time.perf_counter(), engine.seconds_evaluating
            tb = table[s0:s0 + block]
            if not len(tb):
                res = _no_hulls(len(g))
            elif certifier is not None:
                res = certifier.run(tb, g, bar=bar, threads=threads, edges=edges)
            else:
                res = plain_hulls(engine, tb, g, "fp32" if precision == "fp32" else "bf16", bar=bar,
                                  threads=threads, edges=edges)
            depth = vertex_depth(fr, res.energies, res.is_vertex, threads=threads)
            stable = res.is_vertex & (depth >= min_depth)
            t_end = time.perf_counter()
            end_depth, end_element = end_depths(tb, fr, res.energies, stable, depth, references, threads=threads)
            end_artifact = stable & ~(end_depth >= max(min_depth, HULL_TOL))
            t_end_check += time.perf_counter() - t_end
            s, p = chemists_order(tb, fr, stable)
            vf = formulas(tb, g, s, p)
            shallow = shallow_labels(tb, g, fr, res.is_vertex & ~stable, depth)  # named, not dropped unseen
            sys_parts.append(system_rows(tb, names[s0:s0 + block], g, res, stable, end_artifact, letters, vf, shallow))
            vert_parts.append(vertex_rows(tb, names[s0:s0 + block], fr, res, s, p, letters, vf, depth=depth,
                                           end_depth=end_depth, end_artifact=end_artifact, end_element=end_element,
                                           charge_balanced=charge_balance(tb, g, s, p)))
            if points:
                pt_parts.append(point_rows(tb, names[s0:s0 + block], g, fr, res, letters, depth))
            t1 = time.perf_counter()
            t_screen += t1 - t0
            t_evaluating += engine.seconds_evaluating - evaluated0
            if dft is not None:
                from .dft import compare_block

                dft_parts.append(compare_block(tb, fr, res.energies, stable, res.valid, dft,
                                               engine.predict_fractions, match_tol=match_tol, threads=threads,
                                               end_artifact=end_artifact))
                t_dft += time.perf_counter() - t1
            _trim_heap()
    systems_df = pd.concat(sys_parts, ignore_index=True)
    if dft_parts:
        systems_df = pd.concat([systems_df, pd.concat(dft_parts, ignore_index=True)], axis=1)
    bad = systems_df.loc[systems_df["nonfinite"], "system"].tolist()
    if bad:
        msg = (f"{len(bad)} system(s) have non-finite predictions and no hull (flagged in the 'nonfinite' "
               f"column): {', '.join(bad[:10])}{' ...' if len(bad) > 10 else ''}")
        log.warning(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
    # n_predictions: the screen's points; n_evaluated: the model evaluations made for them, by
    # precision (shared edges, the calibration sample, fp32 re-evaluations and the DFT side included);
    # seconds_screen: the blocks (inference, hulls, depths, tables), seconds_evaluating of it the model's
    stats = {"n_systems": int(len(table)), "n_predictions": int(len(table) * n_inner),
             "n_evaluated": dict(engine.n_evaluated), "n_fp32": int(systems_df["n_fp32"].sum()),
             # the screen's points on edges (faces) shared between systems: fp32 from the start
             "n_shared_fp32": int(len(table) * (edges.mask & inner).sum()) if edges is not None else 0,
             "seconds_screen": t_screen, "seconds_end_check": t_end_check, "seconds_dft": t_dft,
             "seconds_evaluating": t_evaluating, "seconds_total": time.perf_counter() - t_start}
    if certifier is not None:
        stats.update(delta_doublings=certifier.n_doublings, delta_max_error_seen=certifier.max_error_seen)
    config = {"order": order, "precision": precision, "n_points": int(len(g)), "grid_denominator": den,
              "match_tol": match_tol, "min_depth": float(min_depth), "dft": None if dft is None else dft.name,
              "dft_sha256": None if dft is None else dft.sha256, "device": str(device),
              "backend": engine.backend, "fp32_kernel": getattr(engine, "fp32_kernel", engine.backend), "shard": sh,
              "n_elements": int(len(np.unique(table))) if len(table) else 0,
              "elements": [ELEMNET_ELEMENTS[k] for k in np.unique(whole)],  # the whole screen's, in every shard
              "grid_array": g, "model": model_digest(net),
              "model_test_mae": getattr(net, "metadata", {}).get("test_mae"),
              "model_test_errors": model_test_errors(net),  # by number of elements: binaries' differ
              "engine": type(engine).__name__, "certification": certifier.report() if certifier else None,
              "element_energies": {ELEMNET_ELEMENTS[k]: float(references[k]) for k in np.unique(whole)}}
    config.update(grid=grid_label(order, grid), run_id=uuid.uuid4().hex)
    return ScreenResult(systems_df, pd.concat(vert_parts, ignore_index=True),
                        pd.concat(pt_parts, ignore_index=True) if points else None, config, stats, net, dft)


def model_digest(net) -> str | None:
    """The screened model's identity (``config["model"]``, the manifest; shards of different models
    do not merge): the weights' sha256 that a hullpack model file records, or the same digest of a
    torch module's parameters and buffers (:func:`hullpack.elemnet.io.weights_sha256`), so that two
    modules of your own tell apart; None for a callable that is no module."""
    recorded = (getattr(net, "metadata", None) or {}).get("sha256")
    if recorded is not None:
        return recorded
    import torch

    if not isinstance(net, torch.nn.Module):
        return None
    from ..elemnet.io import weights_sha256

    return weights_sha256(net.state_dict())


def auto_precision(engine) -> str:
    """What ``precision="auto"`` runs on ``engine``: ``"fp32"`` where fp32 was measured to be no
    slower than certified bf16, the other precision whose hull vertices carry fp32 energies (on CPU, a ReLU
    network whose fp32 layers skip their zero activations through a vector version of
    :func:`~hullpack.compositions.relu_mlp`; on a GPU, the fast engine, whose screen is bound by
    the host rather than by inference; on a CPU without bf16 arithmetic, any model:
    :func:`~hullpack.screening.backend.cpu_bf16_native`), else ``"bf16"`` (certified)."""
    if getattr(engine, "fp32_kernel", None) == "relu_mlp":
        return "fp32"
    if engine.device.type == "cuda" and isinstance(engine, InferenceEngine):
        return "fp32"
    if engine.device.type == "cpu" and not cpu_bf16_native():
        return "fp32"
    return "bf16"


def _too_few(order: int, elements) -> str | None:
    """The message for 2 or more valid elements, but fewer than ``order``; None otherwise."""
    try:
        given = np.unique(compositions.systems(2, elements)).tolist()
    except InvalidInputError:
        return None
    if len(given) >= order:
        return None
    return (f"elements: only {len(given)} given ({', '.join(ELEMNET_ELEMENTS[i] for i in given)}); order={order} "
            f"needs at least {order}, so there is no {ORDER_NAMES[order]} system to screen")


def _no_hulls(n_points: int) -> BlockHulls:
    """The hulls of no systems (an empty shard)."""
    empty = np.zeros((0, n_points))
    return BlockHulls(empty.astype(np.float32), empty, empty.astype(bool), np.zeros(0, bool),
                      np.zeros(0, np.int32), np.zeros(0))


def element_energies(engine) -> np.ndarray:
    """The model's own fp32 energy (eV/atom) of each of ElemNet's 86 pure elements, in
    :data:`~hullpack.elements.ELEMNET_ELEMENTS` order. A screen's hulls keep their element ends at
    0 (an element's formation energy, by definition); these values only serve :func:`end_depths`.
    All 86 in one batch, so that every shard gets the same numbers; they are left out of
    ``engine.n_evaluated``, which counts the screen's points and their checks."""
    n = len(ELEMNET_ELEMENTS)
    with engine.uncounted():
        return engine.predict_fractions(np.arange(n)[:, None], np.ones((n, 1))).astype(np.float64)


def end_depths(table: np.ndarray, fractions: np.ndarray, energies: np.ndarray, stable: np.ndarray,
               depth: np.ndarray, references: np.ndarray, *, threads: int | None = None):
    """How deep each ``stable`` vertex lies when the element ends of its system sit at the model's
    own energies (``references``, :func:`element_energies`) wherever those are below 0, instead of
    at 0; and which element's end lowers it most. Returns ``(end_depth, end_element)``, both
    ``(n_systems, n_points)``: eV/atom (NaN off the stable vertices; ``depth`` itself where no end of
    the system is below 0), and an ElemNet index (-1 where no end lowers it).

    The hull with ends at energies ``mu`` is the hull (ends at 0) of the energies minus the plane
    ``sum_i x_i mu_i``, and subtracting a plane keeps every vertical distance, so one hull of the
    shifted energies per system gives the depths (:func:`hullpack.hull.hull_batch` with
    ``depth=True``; a point that is no longer a vertex gets minus its energy above that hull).
    Lower ends only lower the hull of the other points: the depth falls, by at most
    ``sum_i x_i |mu_i|`` at the vertex; the element with the largest term is ``end_element``.

    >>> from hullpack.compositions import grid_fractions, uniform_grid
    >>> fr = grid_fractions(uniform_grid(2, 4))            # fraction of O, then Fe: ElemNet's order
    >>> e = np.array([[0.0, -0.4, -0.6, -0.25, 0.0]])      # (O, Fe) fractions (1,0) .. (0,1)
    >>> mu = np.zeros(86); mu[6] = -1.0                    # the model puts pure O at -1 eV/atom
    >>> stable = np.array([[False, True, True, False, False]])
    >>> d, el = end_depths(np.array([[6, 22]]), fr, e, stable, np.full((1, 5), 0.1), mu)
    >>> d.round(3).tolist()[0][1:3], el.tolist()[0][1:3]   # the O-rich vertex owes its depth to O's end
    ([-0.4, 0.1], [6, 6])
    """
    mu = np.asarray(references, dtype=np.float64)[np.asarray(table, dtype=np.int64)]  # columns as the grid's
    mu = np.where(np.isfinite(mu) & (mu < 0), mu, 0.0)
    end_depth = np.where(stable, depth, np.nan)
    end_element = np.full(stable.shape, -1, dtype=np.int32)
    rows = np.flatnonzero(stable.any(axis=1) & (mu < 0).any(axis=1))
    if len(rows):
        shifted = np.asarray(energies, dtype=np.float64)[rows] - mu[rows] @ np.asarray(fractions).T
        h = hull_batch(fractions, shifted, tol=HULL_TOL, decomposition=False, depth=True, nonfinite="nan",
                       threads=threads, progress_bar=False)
        # removing a point that is no vertex leaves the hull as it is: its depth below the hull of
        # the others is minus its energy above the hull
        assert h.vertex_depth is not None  # depth=True
        d = np.where(h.is_vertex, h.vertex_depth, -h.e_above_hull)
        end_depth[rows] = np.where(stable[rows], d, np.nan)
        s, p = np.nonzero(stable[rows])
        drop = fractions[p] * -mu[rows][s]  # each end's term of the bound on the fall
        j = drop.argmax(axis=1)
        some = drop[np.arange(len(s)), j] > 0
        end_element[rows[s[some]], p[some]] = table[rows[s[some]], j[some]]
    return end_depth, end_element


