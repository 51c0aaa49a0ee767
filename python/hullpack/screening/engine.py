"""Streaming ElemNet inference over a screen's (system, grid point) pairs, and bf16 screens whose
hulls are certified against fp32.

The first layer of a composition with 2-3 elements is a weighted sum of 2-3 columns of its weight
matrix; :func:`hullpack.compositions.first_layer` computes it straight from the integer encoding
(no 86-wide inputs), chunk by chunk into one reused buffer, and the remaining layers run through
torch (oneDNN on CPU, cuBLAS on GPU) in fp32 or bf16. bf16 binaries on CPU take their first two
layers together along each system's composition line (:func:`hullpack.compositions.line_layers`,
float32: one pass over the second layer's weights per system instead of its matrix product), then
the bf16 layers. Memory stays constant in the number of systems: a chunk of ``chunk`` pairs at a
time.

Pure-element grid points are the references of the hull and are fixed at 0 eV/atom, not predicted.

**Certification** (``precision="bf16"``): let ``delta`` bound ``|E_bf16 - E_fp32|`` (per system).
The hull ``U`` of the points already evaluated in fp32 (with the references) lies on or above the
hull of an all-fp32 screen, since that is the hull of a superset. A point not yet evaluated whose
lowest possible fp32 energy ``E_bf16 - delta`` lies above ``U`` can neither be an fp32 vertex nor
lower the hull. So: evaluate the bf16 hull vertices in fp32, build ``U``, evaluate every point with
``E_bf16 - delta <= U``, rebuild ``U``, and repeat until no point is selected; then ``U`` is the
fp32 hull and its vertices are exactly an all-fp32 screen's. (This selects about the points within
``delta`` of the hull, half the band of the simpler rule "within ``2 * delta`` of the bf16 hull",
which needs no iteration.) ``delta`` is estimated on a seeded calibration sample (the largest error
seen, times a safety factor, per element) and verified on every re-evaluated point: a system whose
points show an error above half its delta gets its delta doubled (until it is at least twice the
error) and the selection continues with it.

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

import functools
import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .. import compositions
from ..errors import ScreeningError
from ..elements import N_ELEMENTS
from ..hull import hull_batch

log = logging.getLogger(__name__)

__all__ = ["InferenceEngine", "EdgeEnergies", "Certifier", "CertifiedHulls", "plain_hulls", "corner_mask",
           "DEFAULT_CHUNK", "DEFAULT_CHUNK_CUDA", "HULL_TOL"]

#: pairs per chunk on CPU: a (chunk, 1024) first-layer buffer stays in memory; 4,096 was as fast
#: as 16,384 on a 2-core AVX-512 BF16 machine, with 100-150 MiB less at the peak
DEFAULT_CHUNK = 4096
#: pairs per chunk on a GPU: larger matrix products keep it busy
DEFAULT_CHUNK_CUDA = 16384
#: eV/atom: hull tolerance for fp32 model energies (their rounding noise is ~1e-7)
HULL_TOL = 1e-6
#: calibration delta = this factor x the largest |bf16 - fp32| seen on the calibration sample
SAFETY = 1.5
#: calibration pairs: one in this many of a screen's (at least ``Certifier.n_calibration``): the
#: largest error seen grows with the sample, and a large screen has more points that can be missed
CALIBRATION_SHARE = 256
#: verification: a system's delta must stay >= this factor x the largest error seen on its points
#: (1 would only catch outright failures; 2 also widens deltas that were nearly exceeded, at ~1% more
#: fp32 work on the binaries, and removed the rare misses that 1 left)
MARGIN = 2.0
# pairs per chunk of scattered re-evaluations (two float32 buffers of this x 1024 in numpy)
_PAIR_CHUNK = 4096
# eV/atom: where points not yet evaluated in fp32 are put to take them out of a hull
_LIFT = 1e3


@functools.cache
def _onednn_unusable() -> str | None:
    """Why torch's oneDNN fused linear cannot serve here (it fails, or disagrees with ``F.linear``),
    or None where it can; checked once per process."""
    try:
        x = torch.linspace(-1, 1, 24).reshape(3, 8)
        w, b = torch.linspace(-0.5, 0.5, 32).reshape(4, 8), torch.linspace(0, 0.3, 4)
        y = torch.ops.mkldnn._linear_pointwise(x, torch.ops.mkldnn._reorder_linear_weight(w, None), b, "relu", [], "")
    except Exception as exc:  # a torch without oneDNN's fused linear (or a changed signature)
        return str(exc)
    if not torch.allclose(y, torch.nn.functional.linear(x, w, b).relu(), atol=1e-6):
        return "results differ from torch.nn.functional.linear"
    return None


def _host_buffer(rows: int, cols: int, bf16: bool) -> tuple[np.ndarray, torch.Tensor, str]:
    """A reused (rows, cols) buffer for the C++ layer kernels, its torch view and its kernel dtype:
    float32, or uint16 bits viewed as bfloat16."""
    buf = np.empty((rows, cols), dtype=np.uint16 if bf16 else np.float32)
    view = torch.from_numpy(buf)
    return (buf, view.view(torch.bfloat16), "bfloat16") if bf16 else (buf, view, "float32")


def corner_mask(grid: np.ndarray) -> np.ndarray:
    """True for the grid points that are pure elements (one non-zero numerator).

    >>> corner_mask(np.array([[2, 0], [1, 1], [0, 2]])).tolist()
    [True, False, True]
    """
    return (np.asarray(grid) != 0).sum(axis=1) == 1


class InferenceEngine:
    """An ElemNet-shaped model (``model.net``: Linear/ReLU/Dropout, first layer 86 inputs, one
    output) prepared for streaming: the first layer's weights transposed for the gather, the rest
    in fp32 and in bf16 copies. ``chunk``: pairs per batch (default ``DEFAULT_CHUNK`` on CPU,
    ``DEFAULT_CHUNK_CUDA`` on a GPU). ``threads`` sets torch's and the gather's CPU threads
    (default: torch's current setting). ``backend`` runs the layers after the first on CPU:
    ``"onednn"`` (oneDNN linear layers, weights packed once, bias and ReLU fused), ``"torch"``
    (``torch.nn.functional.linear``; always on a GPU), or ``"auto"``: oneDNN where torch has it.
    """

    def __init__(self, model: nn.Module, *, device: str = "cpu", chunk: int | None = None,
                 threads: int | None = None, backend: str = "auto"):
        net = getattr(model, "net", model)
        layers = [m for m in net if not isinstance(m, nn.Dropout)] if isinstance(net, nn.Sequential) else None
        if (not layers or not isinstance(layers[0], nn.Linear) or layers[0].in_features != 86
                or not all(isinstance(m, (nn.Linear, nn.ReLU)) for m in layers)
                or not isinstance(layers[-1], nn.Linear) or layers[-1].out_features != 1):
            raise ScreeningError("model: expected an ElemNet (a Sequential `net` of Linear/ReLU/Dropout "
                                 "layers from 86 inputs to 1 output)")
        if chunk is not None and chunk < 1:
            raise ScreeningError(f"chunk = {chunk} must be >= 1")
        self.device = torch.device(device)
        if self.device.type == "cuda":
            from .. import cuda_available

            if not cuda_available():
                raise ScreeningError("device='cuda': hullpack's CUDA kernels were not built or no CUDA "
                                     "device is usable (see hullpack.build_info()); use device='cpu'")
        elif self.device.type != "cpu":
            raise ScreeningError(f"device={device!r}: expected 'cpu' or 'cuda'")
        self.chunk = int(chunk) if chunk else DEFAULT_CHUNK_CUDA if self.device.type == "cuda" else DEFAULT_CHUNK
        self.threads = int(threads) if threads else torch.get_num_threads()
        #: model evaluations so far, by precision (what a screen's throughput is counted in)
        self.n_evaluated = {"fp32": 0, "bf16": 0}
        first = layers[0]
        with torch.no_grad():
            self.weight_t = first.weight.detach().float().T.contiguous().cpu().numpy()  # (86, h)
            self.bias = first.bias.detach().float().contiguous().cpu().numpy()
            self.width = self.weight_t.shape[1]
            # the first ReLU is applied in place to the gather's output; the rest runs as listed
            rest = layers[1:]
            first_relu = self._first_relu = bool(rest) and isinstance(rest[0], nn.ReLU)
            if first_relu:
                rest = rest[1:]
            self.backend = self._pick_backend(backend)
            # oneDNN's fused ReLU maps NaN to 0; with non-finite parameters, NaN must reach the output
            self._fuse_relu = all(bool(torch.isfinite(t).all()) for m in layers if isinstance(m, nn.Linear)
                                  for t in (m.weight, m.bias))
            #: per precision, the layers after the first: (weight, bias, ReLU after it)
            self._layers = {name: self._prepare(rest, dt) for name, dt in
                            (("fp32", torch.float32), ("bf16", torch.bfloat16))}
            # bf16 binaries on CPU: the first two layers in float32 along each system's line
            # (compositions.line_layers), then bf16; "bf16-line" is the same per pair
            self._line = None
            if (self.device.type == "cpu" and first_relu and self._fuse_relu and len(rest) > 2
                    and isinstance(rest[0], nn.Linear) and isinstance(rest[1], nn.ReLU)):
                w2 = rest[0].weight.detach().float().cpu().numpy()
                self._line = (compositions.line_weight_tiles(w2), rest[0].bias.detach().float().cpu().numpy())
                self._layers["bf16-line"] = self._layers["fp32"][:1] + self._layers["bf16"][1:]
            self.n_linear = sum(isinstance(m, nn.Linear) for m in layers)
            self.flops_per_prediction = 2 * sum(m.in_features * m.out_features for m in layers
                                                if isinstance(m, nn.Linear))
        if self.device.type == "cuda":
            self._wt_dev = torch.from_numpy(self.weight_t).to(self.device)
            self._b_dev = torch.from_numpy(self.bias).to(self.device)

    # -- the layers after the first ------------------------------------------------------------
    def _pick_backend(self, backend: str) -> str:
        if backend not in ("auto", "onednn", "torch"):
            raise ScreeningError(f"backend={backend!r}: expected 'auto', 'onednn' or 'torch'")
        if self.device.type == "cuda" or backend == "torch":
            return "torch"
        why = _onednn_unusable()
        if why is None:
            return "onednn"
        if backend == "onednn":
            raise ScreeningError(f"backend='onednn': torch's oneDNN linear is not usable here ({why})")
        log.info("screening: oneDNN fused linear unavailable (%s); using torch.nn.functional.linear", why)
        return "torch"

    def _prepare(self, rest: list, dtype: torch.dtype) -> list:
        layers = []
        for k, m in enumerate(rest):
            if isinstance(m, nn.Linear):
                w = m.weight.detach().to(self.device, dtype).contiguous()
                if self.backend == "onednn":  # packed once into oneDNN's blocked layout
                    w = torch.ops.mkldnn._reorder_linear_weight(w, None)
                relu = k + 1 < len(rest) and isinstance(rest[k + 1], nn.ReLU)
                layers.append((w, m.bias.detach().to(self.device, dtype).contiguous(), relu))
        return layers

    def _tail(self, h: torch.Tensor, precision: str, first: int = 0) -> torch.Tensor:
        """ReLU of the first layer's pre-activations ``h`` (in place, if the model has one there),
        then the remaining layers; with ``first = 1``, ``h`` is already the second layer's output
        (after its ReLU). On CPU they run as oneDNN linear layers with bias and ReLU fused
        (``backend="onednn"``): its fp32 kernels use the whole AVX-512 width where torch's default
        BLAS may not (MKL on AMD CPUs runs at about half the rate), and a row's result does not
        depend on the batch."""
        if first == 0 and self._first_relu:
            h.relu_()
        out = []
        for start, stop, rows in self._pieces(h.shape[0]):
            x = h[start:stop]
            if rows > stop - start:
                x = torch.cat([x, x.new_zeros(rows - (stop - start), x.shape[1])])
            for w, b, relu in self._layers[precision][first:]:
                if x.dtype != b.dtype:  # "bf16-line": float32 into the bf16 layers
                    x = x.to(b.dtype)
                if self.backend == "onednn":
                    fused = relu and self._fuse_relu
                    x = torch.ops.mkldnn._linear_pointwise(x, w, b, "relu" if fused else "none", [], "")
                    relu = relu and not fused
                else:
                    x = torch.nn.functional.linear(x, w, b)
                if relu:
                    x = x.relu_()
            out.append(x[:stop - start])
        return (out[0] if len(out) == 1 else torch.cat(out)).reshape(-1).float()

    def _pieces(self, m: int) -> list[tuple[int, int, int]]:
        """How ``m`` rows run: ``(start, stop, rows)`` products of ``rows >= stop - start`` rows
        (zero-padded). oneDNN keeps compiled kernels for every row count it meets (about 0.5 MB per
        layer and precision, never freed), and the certification's re-evaluations come in every
        size; so on CPU the rows run as whole granules (``chunk / 8`` rows, at least 512, or the
        chunk if smaller) in one product and the rest in another, padded to a power of two of at
        least 64: at most about 12 sizes ever occur. A row's result does not depend on them."""
        granule = max(min(512, self.chunk), -(-self.chunk // 8))
        whole = m - m % granule
        if self.device.type == "cuda" or whole == m:
            return [(0, m, m)]
        rest = [(whole, m, max(64, 1 << (m - whole - 1).bit_length()))]
        return [(0, whole, whole)] + rest if whole else rest

    def _check(self, precision: str) -> None:
        if precision not in ("fp32", "bf16"):
            raise ScreeningError(f"precision={precision!r}: expected 'fp32' or 'bf16'")

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
            out[q0:q0 + m] = self._tail(tbuf[:m], precision).numpy()
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
            e = self._tail(tbuf[:n * n_pts], "bf16", first=1).numpy()
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
            res[q0:q0 + m] = self._tail(buf[:m], precision)
            if bar is not None:
                bar.update(m)
        out[:] = res.cpu().numpy()
        return out

    def predict(self, table: np.ndarray, grid: np.ndarray, precision: str = "fp32", *, bar=None,
                edges: "EdgeEnergies | None" = None) -> np.ndarray:
        """Energies ``(n_systems, n_points)`` float32 of every system of ``table`` at every point of
        ``grid``; pure-element points are 0 (the references), not predicted. With ``edges`` (a
        ternary screen's :class:`EdgeEnergies`), the points on the edges are their fp32 energies."""
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
        h = np.empty((len(els), self.width), dtype=np.float32)
        h[:] = self.bias
        tmp = np.empty_like(h)
        for j in range(els.shape[1]):
            np.take(self.weight_t, els[:, j], axis=0, out=tmp)
            tmp *= frac[:, j:j + 1]
            h += tmp
        return torch.from_numpy(h)

    def _pair_chunk(self) -> int:
        # on the host, small chunks keep numpy's temporaries in cache; a GPU wants whole chunks
        return self.chunk if self.device.type == "cuda" else min(self.chunk, _PAIR_CHUNK)

    @torch.no_grad()
    def predict_pairs(self, table: np.ndarray, grid: np.ndarray, systems_idx: np.ndarray,
                      points_idx: np.ndarray, precision: str = "fp32") -> np.ndarray:
        """Energies (float32) of arbitrary pairs ``(systems_idx[i], points_idx[i])``, as
        :meth:`predict_flat` computes them (bit for bit with the oneDNN backend; bf16 binaries, which
        run along lines there, take their second layer in float32 here). The first layer comes from
        the gather kernel (:func:`~hullpack.compositions.first_layer_pairs`); on a GPU it is gathered
        on the device with the kernel's float32 operations in its order."""
        self._check(precision)
        s = np.asarray(systems_idx, dtype=np.int64)
        p = np.asarray(points_idx, dtype=np.int64)
        table = np.ascontiguousarray(table, dtype=np.int32)
        grid = np.ascontiguousarray(grid, dtype=np.int32)
        for name, idx, size in (("systems_idx", s, len(table)), ("points_idx", p, len(grid))):
            if idx.shape != s.shape or (idx.size and not 0 <= idx.min() <= idx.max() < size):
                raise ScreeningError(f"{name}: expected {len(s)} indices in 0..{size - 1}")
        out = np.empty(len(s), dtype=np.float32)
        self.n_evaluated[precision] += len(s)
        n = self._pair_chunk()
        if self.device.type == "cuda":
            for q0 in range(0, len(s), n):
                ss, pp = s[q0:q0 + n], p[q0:q0 + n]
                th = self._gathered(table[ss], compositions.grid_fractions(grid[pp]).astype(np.float32))
                out[q0:q0 + len(ss)] = self._tail(th.to(torch.bfloat16) if precision == "bf16" else th,
                                                  precision).cpu().numpy()
            return out
        if self._uses_line(table, precision):
            precision = "bf16-line"  # as along the lines: the second layer in float32
        buf, tbuf, dtype = _host_buffer(min(n, len(s)), self.width, precision == "bf16")
        for q0 in range(0, len(s), n):
            m = min(n, len(s) - q0)
            compositions.first_layer_pairs(table, grid, s[q0:q0 + m], p[q0:q0 + m], self.weight_t, self.bias,
                                           out=buf[:m], dtype=dtype, threads=self.threads)
            out[q0:q0 + m] = self._tail(tbuf[:m], precision).numpy()
        return out

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
            out[q0:q0 + len(h)] = self._tail(h, "fp32").cpu().numpy()
        return out


class EdgeEnergies:
    """fp32 energies at the edge points of a ternary grid (compositions of two of a system's three
    elements), computed once per pair of elements for a whole screen: every ternary that contains a
    pair shares its edge, so at step 0.05, 57 of a system's 228 predicted points come from 19 per
    pair. They enter the hulls as exact fp32 energies, which the certification never re-evaluates.

    >>> import torch
    >>> from hullpack.compositions import systems, uniform_grid
    >>> from hullpack.elemnet import ElemNet
    >>> torch.manual_seed(0) and None
    >>> engine = InferenceEngine(ElemNet("32x2-16x1-1", dropout=()))
    >>> table, grid = systems(3, "Fe Ni O Al"), uniform_grid(3, 10)
    >>> edges = EdgeEnergies(table, grid).evaluate(engine)
    >>> int(edges.mask.sum()), edges.energies.shape, edges.sharing   # 27 edge points; 6 pairs x 9
    (27, (6, 9), 2.0)
    >>> e = engine.predict(table, grid, "fp32", edges=edges)
    >>> bool(np.allclose(e, engine.predict(table, grid, "fp32"), atol=1e-6))
    True
    """

    def __init__(self, table: np.ndarray, grid: np.ndarray):
        table = np.asarray(table, dtype=np.int32)
        grid = np.ascontiguousarray(grid, dtype=np.int32)
        if table.ndim != 2 or table.shape[1] != 3 or grid.ndim != 2 or grid.shape[1] != 3:
            raise ScreeningError("EdgeEnergies: expected a ternary system table and grid (3 columns)")
        nonzero = grid != 0
        self.mask = nonzero.sum(axis=1) == 2
        sides = ((0, 1), (0, 2), (1, 2))
        # the pairs of elements that occur on some edge, and the distinct binary compositions
        # (reduced numerators, so an edge's point equals the same fraction on any other edge)
        self.pairs = np.unique(np.vstack([table[:, [i, j]] for i, j in sides]), axis=0)
        self._row = np.full((N_ELEMENTS, N_ELEMENTS), -1, dtype=np.int64)
        self._row[self.pairs[:, 0], self.pairs[:, 1]] = np.arange(len(self.pairs))
        points, numerators = [], []
        for i, j in sides:
            pts = np.flatnonzero(self.mask & nonzero[:, i] & nonzero[:, j])
            num = grid[pts][:, [i, j]]
            points.append(pts)
            numerators.append(num // np.gcd(num[:, 0], num[:, 1])[:, None])
        binary, column = np.unique(np.vstack(numerators), axis=0, return_inverse=True)
        column = column.reshape(-1)
        bounds = np.cumsum([0] + [len(p) for p in points])
        self._sides = [(i, j, pts, column[bounds[k]:bounds[k + 1]])
                       for k, ((i, j), pts) in enumerate(zip(sides, points))]
        self._binary = binary
        #: edge points of the systems per pair composition evaluated: what sharing saves (a
        #: contiguous slice of a screen shares less than the whole)
        self.sharing = len(table) * int(self.mask.sum()) / max(1, len(self.pairs) * len(binary))
        #: (n_pairs, n_compositions) fp32 energies of every pair at every distinct edge composition
        self.energies = None

    def evaluate(self, engine: InferenceEngine) -> "EdgeEnergies":
        """Predicts the edge energies in fp32; returns self."""
        self.energies = engine.predict_flat(self.pairs, self._binary, "fp32").reshape(len(self.pairs), -1)
        return self

    def fill(self, table: np.ndarray, e: np.ndarray) -> None:
        """Writes the edge energies of ``table``'s systems into ``e`` (n_systems, n_points)."""
        table = np.asarray(table)
        for i, j, pts, cols in self._sides:
            rows = self._row[table[:, i], table[:, j]]
            if len(rows) and rows.min() < 0:
                raise ScreeningError("EdgeEnergies.fill: a system has a pair of elements not in this screen's table")
            e[:, pts] = self.energies[rows][:, cols]


@dataclass
class CertifiedHulls:
    """Energies and hulls of a block of systems (see :meth:`Certifier.run`)."""

    #: (n_systems, n_points) float32; fp32 at every re-evaluated point
    energies: np.ndarray
    e_above_hull: np.ndarray
    is_vertex: np.ndarray
    valid: np.ndarray
    #: (n_systems,) how many points were re-evaluated in fp32
    n_fp32: np.ndarray
    #: (n_systems,) the delta (eV/atom) each system's selection finally used (NaN: uncertified)
    delta: np.ndarray | None = None
    stats: dict = field(default_factory=dict)


class Certifier:
    """bf16 screens whose hull vertices equal an fp32 screen's (module docstring).

    The bf16 error depends strongly on the elements (a few elements' weight columns amplify it), so
    ``delta`` is kept per element: ``SAFETY`` x the largest error seen on calibration pairs that
    contain the element, and a system's delta is the largest of its elements'. :meth:`calibrate`
    draws seeded random pairs of a whole screen (one in ``CALIBRATION_SHARE``, at least
    ``n_calibration``) and evaluates them both ways; :func:`hullpack.screening.screen` calls it on
    all its systems before the first block, and :meth:`run` calls it on its own block if nothing
    did, unless ``delta`` (eV/atom, the same for every element) is given. A system whose
    re-evaluated points show an error above ``delta / margin`` gets its delta doubled until it is at
    least ``margin`` times that error, and its selection goes on with it.
    """

    def __init__(self, engine: InferenceEngine, *, delta: float | None = None, n_calibration: int = 8192,
                 seed: int = 0, tol: float = HULL_TOL, safety: float = SAFETY, margin: float = MARGIN):
        self.engine, self.tol, self.seed = engine, float(tol), int(seed)
        self.safety, self.margin = float(safety), float(margin)
        self.n_calibration = int(n_calibration)
        self.delta_element = None if delta is None else np.full(86, float(delta))
        self.n_doublings = 0
        self.max_error_seen = 0.0

    def calibrate(self, table: np.ndarray, inner: np.ndarray) -> np.ndarray:
        """Per-element deltas from seeded random pairs of ``table x inner`` (all of a screen's
        systems: a sample of one block would see only the elements of its systems' first column)."""
        total = len(table) * len(inner)
        rng = np.random.default_rng(self.seed)
        size = min(total, max(self.n_calibration, total // CALIBRATION_SHARE))
        q = np.sort(rng.choice(total, size=size, replace=False))
        s, p = q // len(inner), q % len(inner)
        e16 = self.engine.predict_pairs(table, inner, s, p, "bf16")
        e32 = self.engine.predict_pairs(table, inner, s, p, "fp32")
        err = np.abs(e16.astype(np.float64) - e32)
        err[~np.isfinite(err)] = 0.0
        worst = float(err.max()) if err.size else 0.0
        self.max_error_seen = max(self.max_error_seen, worst)
        per = np.zeros(86)
        seen = np.zeros(86, dtype=bool)
        for j in range(table.shape[1]):
            np.maximum.at(per, table[s, j], err)
            seen[table[s, j]] = True
        per[~seen] = worst  # elements the sample missed: the global worst
        # a floor so a degenerate sample (a constant model) still leaves room for rounding
        self.delta_element = self.safety * np.maximum(per, 1e-4)
        log.info("bf16 certification: calibrated on %d pairs, max |bf16 - fp32| = %.3g eV/atom, "
                 "median element delta = %.3g", len(q), worst, float(np.median(self.delta_element)))
        return self.delta_element

    def run(self, table: np.ndarray, grid: np.ndarray, *, bar=None, threads: int | None = None,
            edges: EdgeEnergies | None = None) -> CertifiedHulls:
        """bf16 energies of ``table x grid``, then fp32 at every point the selection of the module
        docstring picks (about those within ``delta`` of the hull), and the hulls of the result.
        With ``edges``, the edge points of ternaries are fp32 from the start."""
        eng = self.engine
        table = np.ascontiguousarray(table, dtype=np.int32)
        grid = np.ascontiguousarray(grid, dtype=np.int32)
        corner = corner_mask(grid)
        inner_idx = np.flatnonzero(~corner)
        fr = compositions.grid_fractions(grid)
        e = eng.predict(table, grid, "bf16", bar=bar, edges=edges)
        e16 = e.copy()
        hb = hull_batch(fr, e, tol=self.tol, decomposition=False, nonfinite="nan", threads=threads)
        if self.delta_element is None and len(inner_idx) and len(table):
            self.calibrate(table, grid[inner_idx])
        delta = (self.delta_element[table].max(axis=1) if len(table) and self.delta_element is not None
                 else np.zeros(len(table)))
        exact = corner | (edges.mask if edges is not None else False)  # references, cached fp32 edges
        done = np.zeros(e.shape, dtype=bool)
        done[:, exact] = True
        # first the bf16 vertices, and every point of a system whose bf16 hull failed (NaN)
        pick = ~done & (hb.is_vertex | ~(hb.e_above_hull >= 0))
        rounds = 0
        while True:
            s, p = np.nonzero(pick)
            if len(s):
                e32 = eng.predict_pairs(table, grid, s, p, "fp32")
                err = np.abs(e16[s, p].astype(np.float64) - e32)
                err[~np.isfinite(err)] = 0.0
                e[s, p] = e32
                done[s, p] = True
                worst = np.zeros(len(table))
                np.maximum.at(worst, s, err)
                self.max_error_seen = max(self.max_error_seen, float(worst.max()))
                bad = np.flatnonzero(self.margin * worst > delta)
                for i in bad:  # the bound (nearly) failed on a point it covered: widen it for that system
                    delta[i] = max(delta[i], 1e-6)  # a zero delta cannot double
                    while delta[i] < self.margin * worst[i]:
                        delta[i] *= 2
                        self.n_doublings += 1
                if len(bad):
                    log.debug("bf16 certification: %d system(s) exceeded their delta; doubled", len(bad))
            rounds += 1
            # U: the hull of the fp32 points alone (the rest lifted out of the way) lies on or above
            # the fp32 hull; a point whose lowest possible fp32 energy E_bf16 - delta is above U can
            # neither be a vertex nor change the hull
            lifted = np.where(done, e, _LIFT)
            hu = hull_batch(fr, lifted, tol=self.tol, decomposition=False, nonfinite="nan", threads=threads)
            upper = _LIFT - hu.e_above_hull
            with np.errstate(invalid="ignore"):
                pick = ~done & ~(e16 - delta[:, None] > upper + self.tol)
            if not pick.any():
                break
        h = hull_batch(fr, e, tol=self.tol, decomposition=False, nonfinite="nan", threads=threads)
        n_fp32 = done[:, ~exact].sum(axis=1).astype(np.int32)
        return CertifiedHulls(e, h.e_above_hull, h.is_vertex, h.valid, n_fp32, delta,
                              {"n_fp32": int(n_fp32.sum()), "n_pred": int(len(table) * len(inner_idx)),
                               "rounds": rounds})


def vertex_depth(fractions: np.ndarray, energies: np.ndarray, is_vertex: np.ndarray, *,
                 threads: int | None = None, tol: float = HULL_TOL) -> np.ndarray:
    """How far each hull vertex lies below the hull of all the other points of its system (eV/atom,
    > 0): its decomposition energy with the sign flipped, the margin by which it is predicted
    stable. NaN where ``is_vertex`` is False. ``fractions`` (n_points, k) is the shared grid,
    ``energies`` / ``is_vertex`` (n_systems, n_points).

    >>> grid = np.array([[0.75, 0.25], [0.5, 0.5], [0.25, 0.75]])
    >>> e = np.array([[-0.10, -0.30, -0.20]])           # vertices: the last two points
    >>> vertex_depth(grid, e, np.array([[False, True, True]])).round(3).tolist()
    [[nan, 0.15, 0.05]]
    """
    depth = np.full(energies.shape, np.nan)
    s, p = np.nonzero(is_vertex)
    if len(s):
        # one system per vertex: its own energies with the vertex lifted out of the way, so the
        # lifted point's energy above hull measures the hull of the others at its composition
        lifted = np.asarray(energies, dtype=np.float64)[s]  # fancy indexing copies
        lifted[np.arange(len(s)), p] = _LIFT
        h = hull_batch(fractions, lifted, tol=tol, decomposition=False, nonfinite="nan", threads=threads,
                       progress_bar=False)
        depth[s, p] = (_LIFT - h.e_above_hull[np.arange(len(s)), p]) - energies[s, p]
    return depth


def plain_hulls(engine: InferenceEngine, table: np.ndarray, grid: np.ndarray, precision: str, *,
                bar=None, threads: int | None = None, tol: float = HULL_TOL,
                edges: EdgeEnergies | None = None) -> CertifiedHulls:
    """Energies and hulls of one precision, without certification (edge points from ``edges``,
    fp32, where given)."""
    e = engine.predict(table, grid, precision, bar=bar, edges=edges)
    h = hull_batch(compositions.grid_fractions(grid), e, tol=tol, decomposition=False, nonfinite="nan",
                   threads=threads)
    n = np.zeros(len(table), np.int32) if precision == "bf16" else np.full(
        len(table), int((~corner_mask(grid)).sum()), np.int32)
    return CertifiedHulls(e, h.e_above_hull, h.is_vertex, h.valid, n, np.full(len(table), math.nan))
