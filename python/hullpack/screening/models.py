"""Which model a screen runs, and the engine that runs it.

:func:`resolve_model` turns a screen's ``model`` argument into a model: None (the shipped ElemNet),
a model file or a training run's folder (``hullpack train``), a torch module, or any callable that
maps an ``(n, 86)`` float32 tensor of element fractions (:data:`hullpack.elements.ELEMNET_ELEMENTS`
order) to ``n`` energies in eV/atom. :func:`make_engine` runs a model through the fast
:class:`~hullpack.screening.engine.InferenceEngine` (first-layer gather, line layers, oneDNN) where
it starts with a Linear layer on the fractions, its other modules are ones that engine runs, and it
agrees with the model's own forward on probe compositions; anything else runs through
:class:`ModelEngine`, which calls the model on batches of dense fractions.

>>> import torch
>>> torch.manual_seed(0) and None
>>> mlp = torch.nn.Sequential(torch.nn.Linear(86, 32), torch.nn.LayerNorm(32), torch.nn.GELU(),
...                           torch.nn.Linear(32, 1))
>>> type(make_engine(mlp)).__name__                       # a Linear on the fractions: the fast engine
'InferenceEngine'
>>> type(make_engine(lambda x: mlp(x).squeeze(-1) - x[:, 0])).__name__    # anything else
'ModelEngine'
"""
from __future__ import annotations

import contextlib
import logging
import os
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import compositions
from ..elements import N_ELEMENTS
from ..errors import ModelFileError, ScreeningError
from .engine import EngineBase, InferenceEngine, timed_evaluation

log = logging.getLogger(__name__)

__all__ = ["resolve_model", "make_engine", "module_device", "evaluating", "ModelEngine", "PROBE_TOL"]

#: eV/atom: the fast engine is used only where it agrees with the model's forward within this
#: (absolute and relative) on the probe compositions; their float32 sums differ by about 1e-6
PROBE_TOL = 1e-4
_N_PROBE = 48


def resolve_model(model):
    """The model a screen's ``model`` argument names: None or ``"default"`` -> the shipped ElemNet;
    a path -> the model file there (``hullpack train``'s ``RUN/best.pt`` or any file of
    :func:`hullpack.elemnet.save_model`; a run folder means its ``best.pt``), read by
    :func:`hullpack.elemnet.resolve_model`; a torch module -> itself, left in the mode it is in
    (the engines call it in eval mode, :func:`evaluating`); any other callable -> itself.
    :class:`~hullpack.errors.ModelFileError` for a path that holds no model,
    :class:`~hullpack.errors.ScreeningError` for anything else."""
    from ..elemnet import resolve_model as elemnet_model

    if model is None or isinstance(model, (str, os.PathLike)):
        path = Path(model if model is not None else "default")
        if model not in (None, "default") and not path.exists():
            raise ModelFileError(f"model file {str(model)!r} does not exist; give a file written by "
                                 "`hullpack train` / hullpack.elemnet.save_model, or 'default' for the shipped model")
        try:
            return elemnet_model(model)
        except ModelFileError as exc:
            if path.name == "last.pt" and (path.parent / "best.pt").is_file():
                raise ModelFileError(f"{path} is a training checkpoint (for resuming), not a model file; "
                                     f"screen with {path.parent / 'best.pt'}") from None
            if path.is_file() and zipfile.is_zipfile(path) and "checkpoint" not in str(exc):
                if "TorchScript archive" in str(exc):  # told apart by the model file reader (elemnet.io)
                    raise ModelFileError(f"{path} is a TorchScript archive (torch.jit.save), not a hullpack model "
                                         "file; to screen it, load it in Python with torch.jit.load and pass the "
                                         "module to hullpack.screening.screen(model, ...) (what a model must "
                                         "map: help(hullpack.screening.screen))") from None
                raise ModelFileError(_own_torch_file(str(exc))) from None
            raise
    if callable(model):  # a torch module too
        return model
    raise ScreeningError(f"model: expected None, a model file, a torch module or a callable mapping (n, "
                         f"{N_ELEMENTS}) fractions to (n,) energies, got {type(model).__name__}")


def _own_torch_file(message: str) -> str:
    """The message for a complete ``torch.save`` archive that is no hullpack model file: a whole
    module (pickled objects, which a model file never holds) or a state dict, and how to screen it."""
    return (f"{message}; to screen a model of your own, load it in Python and pass the module to "
            "hullpack.screening.screen(model, ...) (what a model must map: help(hullpack.screening.screen)); an "
            "ElemNet saved with hullpack.elemnet.save_model screens here")


@contextlib.contextmanager
def evaluating(model):
    """Runs the ``with`` block with a torch module in eval mode (dropout off, batch norm on its
    running statistics, which stay as they are) and then puts each of its submodules back in the
    mode it was in: a model screened between training epochs goes on training as it was. Anything
    else is left alone."""
    if not isinstance(model, nn.Module):
        yield model
        return
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, training in modes:
            m.training = training


def _call_failed(model, x: torch.Tensor, exc: Exception) -> ScreeningError:
    """The error of a model that failed on the tensor ``x`` of fractions, with its own error and,
    for a module whose floating-point parameters are not float32, how to make them so."""
    dtypes = sorted({str(t.dtype).replace("torch.", "") for t in model.parameters() if t.is_floating_point()}
                    - {"float32"}) if isinstance(model, nn.Module) else []
    hint = (f" (its parameters are {', '.join(dtypes)}: model.float() converts them to the float32 the "
            "fractions come in)" if dtypes else "")
    first = next((m for m in model.modules() if isinstance(m, nn.Linear)), None) if isinstance(model, nn.Module) \
        else None
    if first is not None and first.in_features != N_ELEMENTS:  # a model of other inputs: say so, and the way out
        hint += (f" (its first Linear layer takes {first.in_features} inputs, not ElemNet's {N_ELEMENTS} element "
                 "fractions in hullpack.elements.ELEMNET_ELEMENTS order: wrap it in a function that puts each "
                 "fraction in your model's column for that element, as help(hullpack.screening.screen) shows)")
    return ScreeningError(f"model: calling it on a ({len(x)}, {N_ELEMENTS}) float32 tensor of fractions failed: "
                          f"{type(exc).__name__}: {exc}{hint}")


def _probe_compositions() -> tuple[np.ndarray, np.ndarray]:
    """Seeded compositions of 1-3 elements: ``(elements (n, 3), fractions (n, 3) float32)``."""
    rng = np.random.default_rng(12345)
    els = np.array([rng.choice(N_ELEMENTS, 3, replace=False) for _ in range(_N_PROBE)])
    frac = rng.dirichlet(np.ones(3), _N_PROBE)
    frac[: _N_PROBE // 3, 2] = 0  # binaries
    frac[: _N_PROBE // 6, 1] = 0  # pure elements
    return els, (frac / frac.sum(axis=1, keepdims=True)).astype(np.float32)


def dense_fractions(els: np.ndarray, frac: np.ndarray, rows: int | None = None) -> np.ndarray:
    """``(rows, 86)`` float32 inputs (default ``rows = len(els)``): row i holds ``frac[i, j]`` at
    column ``els[i, j]``; the rows past ``len(els)`` repeat the last one, so that every row is a
    composition (its fractions sum to 1), as a model that checks its inputs requires.

    >>> dense_fractions(np.array([[0, 6]]), np.array([[0.25, 0.75]]), rows=2)[:, [0, 6]].tolist()
    [[0.25, 0.75], [0.25, 0.75]]
    """
    n = len(els)
    x = np.zeros((n if rows is None else rows, N_ELEMENTS), dtype=np.float32)
    if n:
        x[np.arange(n)[:, None], np.asarray(els, dtype=np.int64)] = frac
        x[n:] = x[n - 1]
    return x


def _energies_of(out, rows: int, what: str) -> torch.Tensor:
    """A model's output for ``rows`` inputs as a flat float32 tensor; ScreeningError if it is not
    ``rows`` numbers."""
    try:
        t = torch.as_tensor(out)
    except (TypeError, ValueError, RuntimeError):
        raise ScreeningError(f"model: {what} returned {type(out).__name__}, not a tensor or array of "
                             "energies") from None
    if t.numel() != rows or (t.ndim > 1 and t.shape[0] != rows):
        raise ScreeningError(f"model: {what} returned shape {tuple(t.shape)}; expected ({rows},) energies "
                             f"for ({rows}, {N_ELEMENTS}) fractions")
    return t.detach().reshape(-1).float()


def module_device(model) -> torch.device | None:
    """The device of a torch module's first parameter or buffer; None for a module with neither,
    or for a plain callable."""
    if isinstance(model, nn.Module):
        for t in list(model.parameters()) + list(model.buffers()):
            return t.device
    return None


@torch.no_grad()
def _agrees(engine: InferenceEngine, model: nn.Module) -> bool:
    """Whether ``engine`` (fp32) gives ``model``'s own forward on the probe compositions, within
    :data:`PROBE_TOL` (a forward that is not its Sequential's, e.g. a scaled output, does not).
    Where the forward is not finite the engine may be: a non-finite weight of an element that is
    absent reaches the dense product (0 x NaN) but not the gather."""
    els, frac = _probe_compositions()
    with engine.uncounted():  # the probe is not part of a screen
        fast = engine.predict_fractions(els, frac)
    x = torch.from_numpy(dense_fractions(els, frac)).to(module_device(model) or "cpu")
    try:
        with evaluating(model):
            ref = _energies_of(model(x), len(x), "its forward").cpu().numpy()
    except Exception:  # ModelEngine names what is wrong with the model's forward
        return False
    both = np.isfinite(fast) & np.isfinite(ref)
    return bool(np.allclose(fast[both], ref[both], rtol=PROBE_TOL, atol=PROBE_TOL)
                and not (~np.isfinite(fast) & np.isfinite(ref)).any())


def make_engine(model, *, device: str = "cpu", chunk: int | None = None, threads: int | None = None,
                backend: str = "auto") -> EngineBase:
    """The engine for ``model`` (a module or callable, e.g. from :func:`resolve_model`): an
    :class:`~hullpack.screening.engine.InferenceEngine` where its structure allows
    (:meth:`InferenceEngine.unsupported` says why not) and it agrees with the model's forward on
    probe compositions, else a :class:`ModelEngine`. Which one ran is logged at INFO."""
    if isinstance(model, nn.Module):
        why = InferenceEngine.unsupported(model)
        if why is None:
            engine = InferenceEngine(model, device=device, chunk=chunk, threads=threads, backend=backend)
            if _agrees(engine, model):
                return engine
            why = "its forward is not the Sequential of its layers"
        log.info("screening: the fast engine cannot run this model (%s); calling the model on batches", why)
    elif not callable(model):
        raise ScreeningError(f"model: expected a torch module or a callable, got {type(model).__name__}")
    return ModelEngine(model, device=device, chunk=chunk, threads=threads)


class ModelEngine(EngineBase):
    """Any model: a torch module or callable mapping an ``(n, 86)`` float32 tensor of fractions (on
    ``device``) to ``n`` energies (a tensor or array of shape ``(n,)`` or ``(n, 1)``), called on
    batches of dense fractions, always ``chunk`` rows per call (copies of its last row pad the last
    batch), so that a point's energy does not depend on the points it ran with (BLAS libraries pick
    their kernels by the number of rows). bf16 runs the model under ``torch.autocast`` with bfloat16; a model
    whose output autocast does not change (on the probe compositions), or that fails under autocast
    (``.numpy()`` of a bfloat16 tensor), has no bf16 path (:attr:`supports_bf16` False: screens run
    it in fp32). The model is checked on probe
    compositions when the engine is made: :class:`~hullpack.errors.ScreeningError` says what is
    wrong with its output.

    >>> engine = ModelEngine(lambda x: -x[:, 0] * x[:, 1])          # mixing of the first two elements
    >>> from hullpack.compositions import systems, uniform_grid
    >>> engine.predict(systems(2, "H Li"), uniform_grid(2, 4))[0].round(4).tolist()
    [0.0, -0.1875, -0.25, -0.1875, 0.0]
    >>> engine.supports_bf16                                    # autocast changes nothing here
    False
    """

    def __init__(self, model, *, device: str = "cpu", chunk: int | None = None, threads: int | None = None):
        super().__init__(device=device, chunk=chunk, threads=threads)
        if not callable(model):
            raise ScreeningError(f"model: expected a torch module or a callable, got {type(model).__name__}")
        where = module_device(model)
        if where is not None and where.type != self.device.type:
            raise ScreeningError(f"model: its parameters are on {where} but device={str(self.device)!r}; move it "
                                 f"(model.to({self.device.type!r})) or pass device={where.type!r}")
        self.model = model
        els, frac = _probe_compositions()
        x = torch.from_numpy(dense_fractions(els, frac)).to(self.device)
        what = f"calling it on a ({len(x)}, {N_ELEMENTS}) float32 tensor"
        with torch.no_grad(), evaluating(model):
            try:
                e32 = _energies_of(self.model(x), len(x), what)
            except ScreeningError:
                raise
            except Exception as exc:  # the model's own error, named
                raise _call_failed(model, x, exc) from None
            try:  # a model that runs in float32 only (numpy of a bf16 tensor, say) has no bf16 path
                with torch.autocast(self.device.type, dtype=torch.bfloat16):
                    e16 = _energies_of(self.model(x), len(x), what + " under bf16 autocast")
            except Exception as exc:
                log.info("screening: the model fails under bf16 autocast (%s: %s); it runs in fp32",
                         type(exc).__name__, exc)
                e16 = e32
        self.supports_bf16 = not torch.equal(e32, e16)

    def kernel(self, table: np.ndarray) -> str:
        return "model under bf16 autocast" if self.device.type == "cpu" else "model under bf16 autocast (cuda)"

    @timed_evaluation
    @torch.no_grad()
    def _energies(self, els: np.ndarray, frac: np.ndarray, precision: str) -> np.ndarray:
        """The model's energies (float32) of compositions ``frac`` over ``els``, ``chunk`` rows per call."""
        out = np.empty(len(els), dtype=np.float32)
        self.n_evaluated[precision] += len(els)
        with evaluating(self.model):
            for q0 in range(0, len(els), self.chunk):
                m = min(self.chunk, len(els) - q0)
                x = torch.from_numpy(dense_fractions(els[q0:q0 + m], frac[q0:q0 + m], self.chunk)).to(self.device)
                try:
                    with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                        e = _energies_of(self.model(x), self.chunk, "the model")
                except ScreeningError:
                    raise
                except Exception as exc:  # the model's own error on compositions of the screen, named
                    raise _call_failed(self.model, x, exc) from None
                out[q0:q0 + m] = e[:m].cpu().numpy()
        return out

    def predict_flat(self, table: np.ndarray, grid: np.ndarray, precision: str = "fp32", *,
                     start: int = 0, count: int | None = None, out: np.ndarray | None = None,
                     bar=None) -> np.ndarray:
        """Energies (float32) of the flat pairs ``start .. start + count - 1`` of ``table x grid``
        (pair ``q``: system ``q // len(grid)``, point ``q % len(grid)``)."""
        self._check(precision)
        table = np.asarray(table, dtype=np.int64)
        grid = np.asarray(grid)
        count = len(table) * len(grid) - start if count is None else int(count)
        out = np.empty(count, dtype=np.float32) if out is None else out
        fr = compositions.grid_fractions(grid).astype(np.float32)
        step = self.chunk * 8  # index arrays for a few calls at a time
        for q0 in range(0, count, step):
            q = np.arange(start + q0, start + min(count, q0 + step))
            out[q0:q0 + len(q)] = self._energies(table[q // len(grid)], fr[q % len(grid)], precision)
            if bar is not None:
                bar.update(len(q))
        return out

    def predict_pairs(self, table: np.ndarray, grid: np.ndarray, systems_idx: np.ndarray,
                      points_idx: np.ndarray, precision: str = "fp32") -> np.ndarray:
        """Energies (float32) of arbitrary pairs ``(systems_idx[i], points_idx[i])``: the same
        numbers :meth:`predict_flat` gives them (calls of ``chunk`` rows either way)."""
        self._check(precision)
        table = np.asarray(table, dtype=np.int64)
        s, p = self._pair_indices(table, grid, systems_idx, points_idx)
        fr = compositions.grid_fractions(np.asarray(grid)).astype(np.float32)
        return self._energies(table[s], fr[p], precision)

    def predict_fractions(self, table_rows: np.ndarray, fractions: np.ndarray) -> np.ndarray:
        """fp32 energies at arbitrary compositions: ``fractions[i]`` over the elements
        ``table_rows[i]`` (same shapes, fractions rows summing to 1), e.g. DFT compounds."""
        return self._energies(np.asarray(table_rows, dtype=np.int64), np.asarray(fractions, dtype=np.float32), "fp32")

