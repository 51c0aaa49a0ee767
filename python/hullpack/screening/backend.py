"""The layers after the first of a model that starts with a Linear layer on the fractions, ready to
run on batches of first-layer outputs: fp32 and bf16 copies of the Linear weights; on CPU oneDNN
linear layers (weights packed once into oneDNN's layout, bias and ReLU fused) where torch's oneDNN
fused linear works, else ``torch.nn.functional.linear`` (always on a GPU); the row-wise modules
between them (:data:`ROW_MODULES`: activations, LayerNorm) run as they are, in float32; and the
padding of row counts that bounds the kernels oneDNN compiles (:func:`row_pieces`).

fp32 on CPU, where the layers are Linear layers with a ReLU after each but the last (ElemNet) and
finite parameters, runs through hullpack's kernel :func:`hullpack.compositions.relu_mlp` instead:
it skips the activations that are exactly zero (about nine in ten of ElemNet's after its first
layers), which makes fp32 several times faster than oneDNN's fp32 products and faster than its bf16
ones on CPUs without AMX, with the same bits on every x86-64 CPU.
"""
from __future__ import annotations

import copy
import functools
import logging

import torch
from torch import nn

from .. import _core, compositions
from ..errors import ScreeningError

log = logging.getLogger(__name__)

__all__ = ["BACKENDS", "FP32_TAIL_WIDTH", "FP32_TAIL_SHARE", "ROW_MODULES", "cpu_bf16_native", "onednn_unusable", "pick_backend", "row_pieces", "TailLayers"]

#: what ``InferenceEngine(backend=...)`` accepts
BACKENDS = ("auto", "onednn", "torch")
#: in bf16 predictions, the last Linear layers with at most this many inputs run in fp32 where they
#: are at most FP32_TAIL_SHARE of the layers' multiply-adds: ElemNet's 64 -> 64 -> 32 -> 1 end,
#: 0.13% of its arithmetic, where rounding to bf16 added about a fifth of the bf16 error (and so of
#: the points the certification re-evaluates)
FP32_TAIL_WIDTH = 64
FP32_TAIL_SHARE = 0.01
#: modules the tail runs between its Linear layers: each maps a row to a row, whatever the batch
#: (so a point's energy never depends on the points it runs with); Dropout is left out (eval mode)
ROW_MODULES = (nn.ReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.ELU, nn.Softplus, nn.Mish,
               nn.Hardswish, nn.ReLU6, nn.LayerNorm, nn.Identity)


@functools.cache
def onednn_unusable(dtype: torch.dtype = torch.float32) -> str | None:
    """Why torch's oneDNN fused linear cannot serve in ``dtype`` here (it fails, or disagrees with
    ``F.linear``), or None where it can; checked once per process and dtype. Its bf16 path needs
    AVX-512 (BW, VL, DQ) or AVX-NE-CONVERT: an AVX2-only CPU runs bf16 through ``F.linear``."""
    try:
        x = torch.linspace(-1, 1, 24).reshape(3, 8).to(dtype)
        w, b = torch.linspace(-0.5, 0.5, 32).reshape(4, 8).to(dtype), torch.linspace(0, 0.3, 4).to(dtype)
        y = torch.ops.mkldnn._linear_pointwise(x, torch.ops.mkldnn._reorder_linear_weight(w, None), b, "relu", [], "")
    except Exception as exc:  # a torch without oneDNN's fused linear (or a changed signature), a CPU without the dtype
        return str(exc)
    if not torch.allclose(y.float(), torch.nn.functional.linear(x, w, b).relu().float(), atol=1e-6 if dtype == torch.float32 else 1e-2):
        return "results differ from torch.nn.functional.linear"
    return None


@functools.cache
def cpu_bf16_native() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AVX-512 BF16 or AMX): elsewhere torch emulates
    bf16 products, several times slower than fp32 (ElemNet's shapes on an AVX2-only AMD EPYC: 19
    against 157 GFLOP/s)."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch without these probes: take the safe, exact precision
        return False


def row_pieces(m: int, chunk: int, device: torch.device) -> list[tuple[int, int, int]]:
    """How ``m`` rows run: ``(start, stop, rows)`` products of ``rows >= stop - start`` rows
    (zero-padded). oneDNN keeps compiled kernels for every row count it meets (about 0.5 MB per
    layer and precision, never freed), and the certification's re-evaluations come in every size;
    so on CPU the rows run as whole granules (``chunk / 8`` rows, at least 512, or the chunk if
    smaller) in one product and the rest in another, padded to a power of two of at least 64: at
    most about 12 sizes ever occur. A row's result does not depend on them (oneDNN).

    >>> row_pieces(5000, 4096, torch.device("cpu"))
    [(0, 4608, 4608), (4608, 5000, 512)]
    """
    granule = max(min(512, chunk), -(-chunk // 8))
    whole = m - m % granule
    if device.type == "cuda" or whole == m:
        return [(0, m, m)]
    rest = [(whole, m, max(64, 1 << (m - whole - 1).bit_length()))]
    return [(0, whole, whole)] + rest if whole else rest


def pick_backend(backend: str, device: torch.device) -> str:
    """``"onednn"`` or ``"torch"`` for a requested ``backend`` (one of :data:`BACKENDS`) on ``device``;
    :class:`~hullpack.errors.ScreeningError` for an unknown one, or ``"onednn"`` where it cannot run."""
    if backend not in BACKENDS:
        raise ScreeningError(f"backend={backend!r}: expected 'auto', 'onednn' or 'torch'")
    if device.type == "cuda" or backend == "torch":
        return "torch"
    why = onednn_unusable()
    if why is None:
        return "onednn"
    if backend == "onednn":
        raise ScreeningError(f"backend='onednn': torch's oneDNN linear is not usable here ({why})")
    log.info("screening: oneDNN fused linear unavailable (%s); using torch.nn.functional.linear", why)
    return "torch"


class TailLayers:
    """``rest``, the modules after the first Linear (and its ReLU, if ``first_relu``), prepared per
    precision: :attr:`layers` maps ``"fp32"`` and ``"bf16"`` to a list of steps on ``device``: a
    Linear as a ``(weight, bias, ReLU after it, oneDNN-packed)`` tuple, any other module of :data:`ROW_MODULES`
    as itself (a float32 copy, run in float32 in both precisions). In ``"bf16"`` the last Linear
    layers with at most :data:`FP32_TAIL_WIDTH` inputs are the fp32 ones where they are cheap
    (:data:`FP32_TAIL_SHARE`); where :attr:`relu_layers` runs fp32, ``"fp32"`` is not
    kept. More precisions may be added as lists of such steps. ``backend`` is ``"onednn"`` or ``"torch"`` (see
    :func:`pick_backend`; the bf16 steps use ``"torch"`` where oneDNN has no bf16 path); ``finite``: whether every parameter of the model is finite (oneDNN may
    fuse the ReLUs only then: it maps NaN to 0); ``chunk``: the engine's rows per batch, which sets
    the padding granule (:meth:`pieces`); ``sparse``: fp32 on CPU through
    :func:`~hullpack.compositions.relu_mlp` where the layers allow (:attr:`relu_layers`)."""

    def __init__(self, rest: list[nn.Module], *, device: torch.device, backend: str, first_relu: bool,
                 finite: bool, chunk: int, sparse: bool = True):
        self.device, self.backend, self.chunk = device, backend, int(chunk)
        self.first_relu, self.fuse_relu = bool(first_relu), bool(finite)
        modules = [m if isinstance(m, nn.Linear) else copy.deepcopy(m).float().to(device).eval() for m in rest]
        #: per precision, the steps after the first layer: (weight, bias, ReLU after it) or a module
        self.layers = {name: self._prepare(modules, dt) for name, dt in
                       (("fp32", torch.float32), ("bf16", torch.bfloat16))}
        narrow = len(self._shapes)  # from this step on every Linear is narrow
        while narrow > 0 and self._shapes[narrow - 1][0] <= FP32_TAIL_WIDTH:
            narrow -= 1
        macs = [i * o for i, o in self._shapes]
        if sum(macs[narrow:]) <= FP32_TAIL_SHARE * sum(macs):
            self.layers["bf16"] = self.layers["bf16"][:narrow] + self.layers["fp32"][narrow:]
        #: fp32 on CPU through :func:`~hullpack.compositions.relu_mlp`: ``(tiles, bias)`` per Linear
        #: layer, where the first layer has a ReLU (its inputs are mostly zero), every step is a
        #: Linear with a ReLU after it but the last, the parameters are finite (the kernel's rows are
        #: independent only then) and the CPU has a vector version of the kernel (the portable one
        #: is slower than the products); else None
        self.relu_layers = None
        relus = [step[2] if isinstance(step, tuple) else None for step in self.layers["fp32"]]
        if (sparse and finite and first_relu and device.type == "cpu" and _core.relu_mlp_version != "portable"
                and relus and relus == [True] * (len(relus) - 1) + [False]):
            linear = [m for m in rest if isinstance(m, nn.Linear)]
            self.relu_layers = [(compositions.line_weight_tiles(m.weight.detach().float().cpu().numpy()),
                                 (m.bias.detach() if m.bias is not None else torch.zeros(m.out_features))
                                 .float().cpu().numpy()) for m in linear]
            del self.layers["fp32"]  # relu_mlp runs every fp32 step; bf16 keeps the narrow ones it shares

    @property
    def fp32_kernel(self) -> str:
        """What runs the fp32 layers: ``"relu_mlp"`` (hullpack's kernel, skipping zero
        activations), ``"onednn"`` or ``"torch"``."""
        return "relu_mlp" if self.relu_layers is not None else self.backend

    def _prepare(self, rest: list, dtype: torch.dtype) -> list:
        steps, fused, self._shapes = [], False, []  # (inputs, outputs) per step; (0, 0): a module
        onednn = self.backend == "onednn" and onednn_unusable(dtype) is None
        for k, m in enumerate(rest):
            if isinstance(m, nn.Linear):
                w = m.weight.detach().to(self.device, dtype).contiguous()
                if onednn:  # packed once into oneDNN's blocked layout
                    w = torch.ops.mkldnn._reorder_linear_weight(w, None)
                b = (m.bias.detach() if m.bias is not None else torch.zeros(m.out_features)).to(self.device, dtype)
                fused = k + 1 < len(rest) and isinstance(rest[k + 1], nn.ReLU)  # the ReLU joins the product
                steps.append((w, b.contiguous(), fused, onednn))
                self._shapes.append((m.in_features, m.out_features))
            elif isinstance(m, nn.ReLU) and fused:
                fused = False
            else:
                steps.append(m)
                self._shapes.append((0, 0))
        return steps

    def run(self, h: torch.Tensor, precision: str, first: int = 0) -> torch.Tensor:
        """ReLU of the first layer's pre-activations ``h`` (in place, if the model has one there),
        then the remaining steps of ``precision``; with ``first = 1``, ``h`` is already the output
        of the first step (the second Linear, after its ReLU). Returns the energies, float32, flat.
        On CPU the Linear layers run as oneDNN linear layers with bias and ReLU fused
        (``backend="onednn"``): its fp32 kernels use the whole AVX-512 width where torch's default
        BLAS may not (MKL on AMD CPUs runs at about half the rate), and a row's result does not
        depend on the batch."""
        if first == 0 and self.first_relu:
            h.relu_()
        if precision == "fp32" and self.relu_layers is not None:
            if first:
                raise ValueError("fp32 through relu_mlp runs from the first layer's output (first = 0)")
            y = compositions.relu_mlp(h.numpy(), self.relu_layers, threads=torch.get_num_threads())
            return torch.from_numpy(y).reshape(-1)
        out = []
        for start, stop, rows in self.pieces(h.shape[0]):
            x = h[start:stop]
            if rows > stop - start:
                x = torch.cat([x, x.new_zeros(rows - (stop - start), x.shape[1])])
            for step in self.layers[precision][first:]:
                if isinstance(step, nn.Module):  # a row-wise module, in float32
                    x = step(x.float())
                    continue
                w, b, relu, onednn = step
                if x.dtype != b.dtype:  # a mixed precision, or after a module: into this layer's dtype
                    x = x.to(b.dtype)
                if onednn:
                    fused = relu and self.fuse_relu
                    x = torch.ops.mkldnn._linear_pointwise(x, w, b, "relu" if fused else "none", [], "")
                    relu = relu and not fused
                else:
                    x = torch.nn.functional.linear(x, w, b)
                if relu:
                    x = x.relu_()
            out.append(x[:stop - start])
        return (out[0] if len(out) == 1 else torch.cat(out)).reshape(-1).float()

    def pieces(self, m: int) -> list[tuple[int, int, int]]:
        """:func:`row_pieces` of ``m`` rows at this tail's chunk and device."""
        return row_pieces(m, self.chunk, self.device)
