"""Streaming inference over a screen's (system, grid point) pairs: what every engine offers
(:class:`EngineBase`: the screen's view of a block, pure elements fixed at 0), and the fast engine
for models that start with a Linear layer on the fractions (:class:`InferenceEngine`: a flat slice
of the pairs chunk by chunk, bf16 binaries along their composition lines, the same on a GPU,
scattered pairs, and arbitrary compositions). Any other model runs through
:class:`hullpack.screening.models.ModelEngine`.

The first layer of a composition with 2-4 elements is a weighted sum of 2-4 columns of its weight
matrix; :func:`hullpack.compositions.first_layer` computes it straight from the integer encoding
(no 86-wide inputs), chunk by chunk into one reused buffer, and the remaining layers run through
torch (:mod:`hullpack.screening.backend`: oneDNN on CPU, cuBLAS on GPU) in fp32 or bf16, with any
row-wise modules between them (activations, LayerNorm) in float32; fp32 on CPU runs through
:func:`hullpack.compositions.relu_mlp` instead where the layers are a ReLU network. bf16
binaries on CPU take their first two layers together along each system's composition line
(:func:`hullpack.compositions.line_layers`, float32: one pass over the second layer's weights per
system instead of its matrix product), then the bf16 layers. Memory stays constant in the number
of systems: a chunk of ``chunk`` pairs at a time.

Pure-element grid points are the references of the hull and are fixed at 0 eV/atom, not predicted.

>>> import torch
>>> from hullpack.compositions import systems, uniform_grid
>>> from hullpack.elemnet import ElemNet
>>> torch.manual_seed(0) and None
>>> engine = InferenceEngine(ElemNet("32x2-16x1-1", dropout=()))
>>> e = engine.predict(systems(2, "Fe Ni O"), uniform_grid(2, 10))
>>> e.shape, e.dtype.name, float(e[0, 0]), float(e[0, -1])   # 3 systems x 11 points; corners at 0
((3, 11), 'float32', 0.0, 0.0)
"""
from __future__ import annotations

import contextlib
import functools
import time
from typing import TypeGuard

import numpy as np
import torch
from torch import nn

from .. import compositions
from ..device import cuda_available
from ..errors import ScreeningError
from ..elements import N_ELEMENTS
from .backend import ROW_MODULES, TailLayers, pick_backend
from .hulls import corner_mask

__all__ = ["EngineBase", "InferenceEngine", "timed_evaluation", "PRECISIONS", "DEFAULT_CHUNK", "DEFAULT_CHUNK_CUDA"]

#: what an engine predicts in
PRECISIONS = ("fp32", "bf16")

#: pairs per chunk on CPU: a (chunk, 1024) first-layer buffer stays in memory; 4,096 was as fast
#: as 16,384 on a 2-core AVX-512 BF16 machine, with 100-150 MiB less at the peak
DEFAULT_CHUNK = 4096
#: pairs per chunk on a GPU: larger matrix products keep it busy
DEFAULT_CHUNK_CUDA = 16384
# pairs per chunk of scattered re-evaluations (two float32 buffers of this x 1024 in numpy)
_PAIR_CHUNK = 4096


def _host_buffer(rows: int, cols: int, bf16: bool) -> tuple[np.ndarray, torch.Tensor, str]:
    """A reused (rows, cols) buffer for the C++ layer kernels, its torch view and its kernel dtype:
    float32, or uint16 bits viewed as bfloat16."""
    buf = np.empty((rows, cols), dtype=np.uint16 if bf16 else np.float32)
    view = torch.from_numpy(buf)
    return (buf, view.view(torch.bfloat16), "bfloat16") if bf16 else (buf, view, "float32")


def timed_evaluation(method):
    """Adds the wall time of an engine's ``method`` (a call that evaluates the model, and calls no
    other such method) to the engine's :attr:`~EngineBase.seconds_evaluating`."""
    @functools.wraps(method)
    def timed(self, *args, **kwargs):
        t = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            self.seconds_evaluating += time.perf_counter() - t
    return timed


class EngineBase:
    """What every engine shares: its ``device`` (``"cpu"`` or ``"cuda"``), ``chunk`` (pairs per
    batch: ``DEFAULT_CHUNK`` on CPU, ``DEFAULT_CHUNK_CUDA`` on a GPU, unless given), ``threads``
    (default: torch's), the count of model evaluations by precision (:attr:`n_evaluated`) and the
    seconds they took (:attr:`seconds_evaluating`, the first-layer gather included), and
    :meth:`predict`, a block of a screen with its pure elements at 0. A subclass provides
    ``predict_flat``, ``predict_pairs`` and ``predict_fractions``, and says whether it has a bf16
    path (:attr:`supports_bf16`) and which kernel runs its bf16 predictions (:meth:`kernel`)."""

    #: whether "bf16" differs from "fp32" (a model that ignores bf16 autocast has no bf16 path)
    supports_bf16 = True
    #: the layers after the first ("onednn" or "torch"), where the engine has them
    backend = "torch"

    def __init__(self, *, device: str = "cpu", chunk: int | None = None, threads: int | None = None):
        if chunk is not None and chunk < 1:
            raise ScreeningError(f"chunk = {chunk} must be >= 1")
        self.device = torch.device(device)
        if self.device.type == "cuda":
            if not cuda_available():
                raise ScreeningError("device='cuda': hullpack's CUDA kernels were not built or no CUDA "
                                     "device is usable (see hullpack.build_info()); use device='cpu'")
        elif self.device.type != "cpu":
            raise ScreeningError(f"device={device!r}: expected 'cpu' or 'cuda'")
        self.chunk = int(chunk) if chunk else DEFAULT_CHUNK_CUDA if self.device.type == "cuda" else DEFAULT_CHUNK
        self.threads = int(threads) if threads else torch.get_num_threads()
        #: model evaluations so far, by precision (what a screen's throughput is counted in)
        self.n_evaluated = {"fp32": 0, "bf16": 0}
        #: wall seconds spent evaluating the model so far (where a screen's time goes, beside its hulls)
        self.seconds_evaluating = 0.0

    @contextlib.contextmanager
    def uncounted(self):
        """Predictions made inside the ``with`` block are left out of :attr:`n_evaluated` (a probe
        of the model, the element references: not the screen's points)."""
        counted = dict(self.n_evaluated)
        try:
            yield self
        finally:
            self.n_evaluated.update(counted)

    def _check(self, precision: str) -> None:
        if precision not in PRECISIONS:
            raise ScreeningError(f"precision={precision!r}: expected 'fp32' or 'bf16'")

    def kernel(self, table: np.ndarray) -> str:
        """The kernel of this engine's bf16 predictions of ``table``'s systems, in words."""
        return "cuda" if self.device.type == "cuda" else "products"

    def predict(self, table: np.ndarray, grid: np.ndarray, precision: str = "fp32", *, bar=None,
                edges=None) -> np.ndarray:
        """Energies ``(n_systems, n_points)`` float32 of every system of ``table`` at every point of
        ``grid``; pure-element points are 0 (the references), not predicted. With ``edges`` (a
        ternary or quaternary screen's :class:`~hullpack.screening.edges.EdgeEnergies`), the points on
        the systems' faces are their shared fp32 energies."""
        grid = np.ascontiguousarray(grid, dtype=np.int32)
        skip = corner_mask(grid) | (edges.mask if edges is not None else False)
        todo = grid[~skip]
        e = np.zeros((len(table), len(grid)), dtype=np.float32)
        if len(todo) and len(table):
            e[:, ~skip] = self.predict_flat(table, todo, precision, bar=bar).reshape(len(table), len(todo))
        if edges is not None:
            edges.fill(table, e)
            if bar is not None:
                bar.update(len(table) * int(edges.mask.sum()))
        return e

    # -- provided by subclasses ------------------------------------------------------------------
    def predict_flat(self, table: np.ndarray, grid: np.ndarray, precision: str = "fp32", *,
                     start: int = 0, count: int | None = None, out: np.ndarray | None = None,
                     bar=None) -> np.ndarray:  # pragma: no cover - abstract
        """Energies (float32) of the flat pairs ``start .. start + count - 1`` of ``table x grid``
        (pair ``q``: system ``q // len(grid)``, point ``q % len(grid)``)."""
        raise NotImplementedError

    def predict_pairs(self, table: np.ndarray, grid: np.ndarray, systems_idx: np.ndarray,
                      points_idx: np.ndarray, precision: str = "fp32") -> np.ndarray:  # pragma: no cover - abstract
        """Energies (float32) of arbitrary pairs ``(systems_idx[i], points_idx[i])``, as
        :meth:`predict_flat` computes them on the same ``grid``."""
        raise NotImplementedError

    def predict_fractions(self, table_rows: np.ndarray,
                          fractions: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """fp32 energies at arbitrary compositions: ``fractions[i]`` over the elements
        ``table_rows[i]`` (same shapes, fractions rows summing to 1), e.g. DFT compounds."""
        raise NotImplementedError

    @staticmethod
    def _pair_indices(table: np.ndarray, grid: np.ndarray, systems_idx, points_idx):
        """The checked int64 ``(systems_idx, points_idx)`` of a ``predict_pairs`` call."""
        s = np.asarray(systems_idx, dtype=np.int64)
        p = np.asarray(points_idx, dtype=np.int64)
        for name, idx, size in (("systems_idx", s, len(table)), ("points_idx", p, len(grid))):
            if idx.shape != s.shape or (idx.size and not 0 <= idx.min() <= idx.max() < size):
                raise ScreeningError(f"{name}: expected {len(s)} indices in 0..{size - 1}")
        return s, p


def _plain_sequential(m) -> TypeGuard[nn.Sequential]:
    """Whether ``m`` is a Sequential whose forward is Sequential's (a subclass may change it)."""
    return isinstance(m, nn.Sequential) and type(m).forward is nn.Sequential.forward


def flat_modules(model: nn.Module) -> list[nn.Module]:
    """The modules of ``model`` (of an ElemNet, its ``net``) in order, nested Sequentials expanded,
    Dropout and Identity left out (eval mode); [] for a module whose forward is not a list of
    modules. Only a Sequential with Sequential's forward counts, and ElemNet, whose forward is its
    ``net``'s: another module's forward may add to what it holds (``self.net(x) - x[:, 6] *
    x[:, 22]``) where the probe compositions of :func:`~hullpack.screening.models.make_engine`
    would not see it."""
    from ..elemnet.model import ElemNet

    net = model.net if isinstance(model, ElemNet) and type(model).forward is ElemNet.forward else model
    if not _plain_sequential(net):
        return []
    out: list[nn.Module] = []
    for m in net:
        if _plain_sequential(m):
            out += flat_modules(m)
        elif not isinstance(m, (nn.Dropout, nn.Identity)):
            out.append(m)  # a Sequential with a forward of its own stays whole: not a layer the engine runs
    return out


def _unsupported(layers: list[nn.Module]) -> str | None:
    """Why the fast engine cannot run these modules, or None."""
    if not layers or not isinstance(layers[0], nn.Linear) or layers[0].in_features != N_ELEMENTS:
        return f"the first layer is not a Linear layer on the {N_ELEMENTS} fractions"
    width = None
    for m in layers:
        if isinstance(m, nn.Linear):
            if width is not None and m.in_features != width:
                return f"a Linear layer takes {m.in_features} inputs after {width} outputs"
            width = m.out_features
        elif not isinstance(m, ROW_MODULES):
            return f"it contains {type(m).__name__} (supported between Linear layers: ReLU, Dropout, " \
                   "LayerNorm and elementwise activations)"
        elif isinstance(m, nn.LayerNorm) and tuple(m.normalized_shape) != (width,):
            return f"a LayerNorm normalises {tuple(m.normalized_shape)} after {width} outputs"
    last = [m for m in layers if isinstance(m, nn.Linear)][-1]
    if last.out_features != 1:
        return f"the last Linear layer has {last.out_features} outputs, not 1"
    return None


class InferenceEngine(EngineBase):
    """A model that starts with a Linear layer on the fractions (``model``, or an ElemNet's ``net``: a
    Sequential of Linear layers from 86 inputs to 1 output with ReLU, Dropout, LayerNorm or
    elementwise activations between them, as ElemNet) prepared for streaming: the first layer's
    weights transposed for the gather, the rest in fp32 and bf16 copies (:attr:`tail`). ``chunk``:
    pairs per batch (default ``DEFAULT_CHUNK`` on CPU, ``DEFAULT_CHUNK_CUDA`` on a GPU).
    ``threads`` sets the gather's CPU threads (default: torch's current setting). ``backend`` runs
    the layers after the first on CPU: ``"onednn"`` (oneDNN linear layers, weights packed once, bias and ReLU fused),
    ``"torch"`` (``torch.nn.functional.linear``; always on a GPU), or ``"auto"``: oneDNN where
    torch has it, and fp32 through :func:`hullpack.compositions.relu_mlp` (zero activations
    skipped) where the layers are Linear layers with a ReLU after each but the last and the
    parameters are finite (:attr:`fp32_kernel` says which runs).
    """

    def __init__(self, model: nn.Module, *, device: str = "cpu", chunk: int | None = None,
                 threads: int | None = None, backend: str = "auto"):
        why = self.unsupported(model)
        if why is not None:
            raise ScreeningError(f"model: expected an ElemNet-shaped model (a Sequential of Linear layers from "
                                 f"{N_ELEMENTS} inputs to 1 output with ReLU, Dropout, LayerNorm or elementwise "
                                 f"activations between them), but {why}; hullpack.screening.models.make_engine "
                                 "runs any model")
        super().__init__(device=device, chunk=chunk, threads=threads)
        layers = flat_modules(model)
        first = layers[0]
        assert isinstance(first, nn.Linear)  # unsupported() checked
        with torch.no_grad():
            self.weight_t = first.weight.detach().float().T.contiguous().cpu().numpy()  # (86, h)
            bias = first.bias if first.bias is not None else torch.zeros(first.out_features)
            self.bias = bias.detach().float().contiguous().cpu().numpy()
            self.width = self.weight_t.shape[1]
            # the first ReLU is applied in place to the gather's output; the rest runs as listed
            rest = layers[1:]
            first_relu = bool(rest) and isinstance(rest[0], nn.ReLU)
            if first_relu:
                rest = rest[1:]
            self.backend = pick_backend(backend, self.device)
            # oneDNN's fused ReLU maps NaN to 0 and relu_mlp needs finite weights: non-finite
            # parameters take the plain products, and NaN reaches the output
            finite = all(bool(torch.isfinite(t).all()) for m in layers if isinstance(m, nn.Linear)
                         for t in (m.weight, m.bias) if t is not None)
            #: the layers after the first, per precision
            self.tail = TailLayers(rest, device=self.device, backend=self.backend, first_relu=first_relu,
                                   finite=finite, chunk=self.chunk, sparse=backend == "auto")
            # bf16 binaries on CPU: the first two layers in float32 along each system's line
            # (compositions.line_layers), then the bf16 layers after the second
            self._line = None
            if (self.device.type == "cpu" and first_relu and finite and len(rest) > 2
                    and isinstance(rest[0], nn.Linear) and isinstance(rest[1], nn.ReLU)):
                if self.tail.relu_layers is not None:  # the same tiles and bias
                    self._line = self.tail.relu_layers[0]
                else:
                    w2 = rest[0].weight.detach().float().cpu().numpy()
                    b2 = rest[0].bias if rest[0].bias is not None else torch.zeros(rest[0].out_features)
                    self._line = (compositions.line_weight_tiles(w2), b2.detach().float().cpu().numpy())
        if self.device.type == "cuda":
            self._wt_dev = torch.from_numpy(self.weight_t).to(self.device)
            self._b_dev = torch.from_numpy(self.bias).to(self.device)

    @staticmethod
    def unsupported(model) -> str | None:
        """Why this engine cannot run ``model``, in words, or None where it can (its structure:
        whether it computes what its layers do is :func:`hullpack.screening.models.make_engine`'s
        check)."""
        if not isinstance(model, nn.Module):
            return "it is not a torch module"
        layers = flat_modules(model)
        if not layers:
            return "it is neither a Sequential nor an ElemNet (its forward is not a list of layers)"
        return _unsupported(layers)

    @property
    def fp32_kernel(self) -> str:
        """What runs the fp32 layers after the first: ``"relu_mlp"`` (hullpack's kernel, zero
        activations skipped), ``"onednn"`` or ``"torch"``."""
        return self.tail.fp32_kernel

    @property
    def runs_lines(self) -> bool:
        """Whether bf16 binaries run their first two layers along each system's composition line
        (CPU, a model with a ReLU after each of its first two layers and finite parameters)."""
        return self._line is not None

    def kernel(self, table: np.ndarray) -> str:
        """The kernel of this engine's bf16 predictions of ``table``'s systems: ``"line layers"``
        (bf16 binaries on CPU), ``"products"`` (the gather, then the layers' matrix products) or
        ``"cuda"``."""
        return "line layers" if self._uses_line(table, "bf16") else super().kernel(table)

    @timed_evaluation
    @torch.no_grad()
    def predict_flat(self, table: np.ndarray, grid: np.ndarray, precision: str = "fp32", *,
                     start: int = 0, count: int | None = None, out: np.ndarray | None = None,
                     bar=None) -> np.ndarray:
        """Energies (float32) of the flat pairs ``start .. start + count - 1`` of ``table x grid``
        (pair ``q``: system ``q // len(grid)``, point ``q % len(grid)``), ``chunk`` at a time
        (bf16 binaries on CPU: whole systems along their lines). Every point is predicted (pure
        elements too); see :meth:`predict` for the screen's view."""
        self._check(precision)
        table = np.ascontiguousarray(table, dtype=np.int32)
        grid = np.ascontiguousarray(grid, dtype=np.int32)
        total = table.shape[0] * grid.shape[0]
        count = total - start if count is None else int(count)
        if out is None:
            out = np.empty(count, dtype=np.float32)
        if count == 0:
            return out
        self.n_evaluated[precision] += count
        if self.device.type == "cuda":
            return self._predict_flat_cuda(table, grid, precision, start, count, out, bar)
        if self._uses_line(table, precision):
            return self._predict_flat_lines(table, grid, start, count, out, bar)
        n = min(self.chunk, count)
        buf, tbuf, dtype = _host_buffer(n, self.width, precision == "bf16")
        for q0 in range(0, count, n):
            m = min(n, count - q0)
            compositions.first_layer(table, grid, self.weight_t, self.bias, start + q0, m, out=buf[:m],
                                     dtype=dtype, threads=self.threads)
            out[q0:q0 + m] = self.tail.run(tbuf[:m], precision).numpy()
            if bar is not None:
                bar.update(m)
        return out

    def _uses_line(self, table: np.ndarray, precision: str) -> bool:
        return precision == "bf16" and self._line is not None and table.shape[1] == 2

    def _predict_flat_lines(self, table, grid, start, count, out, bar):
        """bf16 binaries on CPU: the first two layers of whole systems along their lines (float32,
        rounded to bf16 once), then the bf16 layers; pairs outside ``start .. start + count - 1``
        of the first and last system are computed and dropped."""
        n_pts = len(grid)
        per = max(1, self.chunk // n_pts)  # whole systems per chunk
        tiles, b2 = self._line
        buf, tbuf, _ = _host_buffer(per * n_pts, len(b2), bf16=True)
        first_sys, stop = start // n_pts, start + count
        for s0 in range(first_sys, -(-stop // n_pts), per):
            n = min(per, -(-stop // n_pts) - s0)
            compositions.line_layers(table, grid, self.weight_t, self.bias, tiles, b2, s0, n,
                                     out=buf[:n * n_pts], dtype="bfloat16", threads=self.threads)
            e = self.tail.run(tbuf[:n * n_pts], "bf16", first=1).numpy()
            lo, hi = max(start, s0 * n_pts), min(stop, (s0 + n) * n_pts)  # flat pairs of this chunk
            out[lo - start:hi - start] = e[lo - s0 * n_pts:hi - s0 * n_pts]
            if bar is not None:
                bar.update(hi - lo)
        return out

    def _predict_flat_cuda(self, table, grid, precision, start, count, out, bar):
        dt = torch.float32 if precision == "fp32" else torch.bfloat16
        t_dev = torch.from_numpy(table).to(self.device)
        g_dev = torch.from_numpy(grid).to(self.device)
        n = min(self.chunk, count)
        buf = torch.empty((n, self.width), dtype=dt, device=self.device)
        res = torch.empty(count, dtype=torch.float32, device=self.device)
        for q0 in range(0, count, n):
            m = min(n, count - q0)
            compositions.first_layer_cuda(t_dev, g_dev, self._wt_dev, self._b_dev, start + q0, m, buf[:m])
            res[q0:q0 + m] = self.tail.run(buf[:m], precision)
            if bar is not None:
                bar.update(m)
        out[:] = res.cpu().numpy()
        return out

    def _gathered(self, els: np.ndarray, frac: np.ndarray) -> torch.Tensor:
        """First-layer pre-activations (float32, on the engine's device) of compositions ``frac``
        (float32) over elements ``els``, with the gather kernel's float32 operations in its order
        (``f * w``, then ``+``)."""
        if self.device.type == "cuda":  # on the GPU: no (n, width) arrays through the host
            els_d = torch.from_numpy(np.ascontiguousarray(els, dtype=np.int64)).to(self.device)
            frac_d = torch.from_numpy(np.ascontiguousarray(frac, dtype=np.float32)).to(self.device)
            h = self._b_dev.expand(len(els), -1).clone()
            for j in range(els.shape[1]):
                h += self._wt_dev[els_d[:, j]] * frac_d[:, j:j + 1]
            return h
        acc = np.empty((len(els), self.width), dtype=np.float32)
        acc[:] = self.bias
        tmp = np.empty_like(acc)
        for j in range(els.shape[1]):
            np.take(self.weight_t, els[:, j], axis=0, out=tmp)
            tmp *= frac[:, j:j + 1]
            acc += tmp
        return torch.from_numpy(acc)

    def _pair_chunk(self) -> int:
        # on the host, small chunks keep numpy's temporaries in cache; a GPU wants whole chunks
        return self.chunk if self.device.type == "cuda" else min(self.chunk, _PAIR_CHUNK)

    @timed_evaluation
    @torch.no_grad()
    def predict_pairs(self, table: np.ndarray, grid: np.ndarray, systems_idx: np.ndarray,
                      points_idx: np.ndarray, precision: str = "fp32") -> np.ndarray:
        """Energies (float32) of arbitrary pairs ``(systems_idx[i], points_idx[i])``, as
        :meth:`predict_flat` computes them on the same ``grid``: bit for bit on CPU with
        :func:`~hullpack.compositions.relu_mlp` or the oneDNN backend (whose result for a row does
        not depend on the batch), through the same kernels:
        bf16 binaries along their lines (:func:`~hullpack.compositions.line_layers` over the
        systems asked, on the whole ``grid``), otherwise the gather kernel
        (:func:`~hullpack.compositions.first_layer_pairs`) and the layers' products. On a GPU the
        first layer is gathered on the device with the kernel's float32 operations in its order,
        and cuBLAS may round a row differently in a batch of another size."""
        self._check(precision)
        table = np.ascontiguousarray(table, dtype=np.int32)
        grid = np.ascontiguousarray(grid, dtype=np.int32)
        s, p = self._pair_indices(table, grid, systems_idx, points_idx)
        out = np.empty(len(s), dtype=np.float32)
        self.n_evaluated[precision] += len(s)
        n = self._pair_chunk()
        if self.device.type == "cuda":
            for q0 in range(0, len(s), n):
                ss, pp = s[q0:q0 + n], p[q0:q0 + n]
                th = self._gathered(table[ss], compositions.grid_fractions(grid[pp]).astype(np.float32))
                out[q0:q0 + len(ss)] = self.tail.run(th.to(torch.bfloat16) if precision == "bf16" else th,
                                                  precision).cpu().numpy()
            return out
        if self._uses_line(table, precision):
            return self._pairs_lines(table, grid, s, p, out)
        buf, tbuf, dtype = _host_buffer(min(n, len(s)), self.width, precision == "bf16")
        for q0 in range(0, len(s), n):
            m = min(n, len(s) - q0)
            compositions.first_layer_pairs(table, grid, s[q0:q0 + m], p[q0:q0 + m], self.weight_t, self.bias,
                                           out=buf[:m], dtype=dtype, threads=self.threads)
            out[q0:q0 + m] = self.tail.run(tbuf[:m], precision).numpy()
        return out

    def _pairs_lines(self, table, grid, s, p, out):
        """bf16 binary pairs along their lines, as :meth:`_predict_flat_lines` computes them: each
        system asked runs through the line kernel on the whole ``grid`` (whose points set the
        kernel's order of sums), then only the rows asked go through the bf16 layers."""
        n_pts = len(grid)
        tiles, b2 = self._line
        uniq, inv = np.unique(s, return_inverse=True)
        per = max(1, self.chunk // n_pts)
        buf, tbuf, _ = _host_buffer(per * n_pts, len(b2), bf16=True)
        order = np.argsort(inv, kind="stable")  # the pairs, system by system
        bounds = np.searchsorted(inv[order], np.arange(0, len(uniq) + per, per))
        for c, u0 in enumerate(range(0, len(uniq), per)):
            n = min(per, len(uniq) - u0)
            compositions.line_layers(table[uniq[u0:u0 + n]], grid, self.weight_t, self.bias, tiles, b2, 0, n,
                                     out=buf[:n * n_pts], dtype="bfloat16", threads=self.threads)
            q = order[bounds[c]:bounds[c + 1]]
            rows = torch.from_numpy((inv[q] - u0) * n_pts + p[q])
            out[q] = self.tail.run(tbuf[rows], "bf16", first=1).numpy()
        return out

    @timed_evaluation
    @torch.no_grad()
    def predict_fractions(self, table_rows: np.ndarray, fractions: np.ndarray) -> np.ndarray:
        """fp32 energies at arbitrary compositions: ``fractions[i]`` over the elements
        ``table_rows[i]`` (same shapes, fractions rows summing to 1), e.g. DFT compounds."""
        fr = np.asarray(fractions, dtype=np.float32)
        els = np.asarray(table_rows, dtype=np.int64)
        out = np.empty(len(fr), dtype=np.float32)
        self.n_evaluated["fp32"] += len(fr)
        n = self._pair_chunk()
        for q0 in range(0, len(fr), n):
            h = self._gathered(els[q0:q0 + n], fr[q0:q0 + n])
            out[q0:q0 + len(h)] = self.tail.run(h, "fp32").cpu().numpy()
        return out
