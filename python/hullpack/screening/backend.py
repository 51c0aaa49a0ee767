"""The layers after the first of an ElemNet-shaped model, ready to run on batches of first-layer
outputs: fp32 and bf16 copies of the weights; on CPU oneDNN linear layers (weights packed once
into oneDNN's layout, bias and ReLU fused) where torch's oneDNN fused linear works, else
``torch.nn.functional.linear`` (always on a GPU); and the padding of row counts that bounds the
kernels oneDNN compiles.
"""
from __future__ import annotations

import functools
import logging

import torch
from torch import nn

from ..errors import ScreeningError

log = logging.getLogger(__name__)

__all__ = ["BACKENDS", "onednn_unusable", "pick_backend", "TailLayers"]

#: what ``InferenceEngine(backend=...)`` accepts
BACKENDS = ("auto", "onednn", "torch")


@functools.cache
def onednn_unusable() -> str | None:
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
    precision: :attr:`layers` maps ``"fp32"`` and ``"bf16"`` to ``(weight, bias, ReLU after it)``
    triples on ``device`` (more precisions may be added, e.g. mixed ones). ``backend`` is
    ``"onednn"`` or ``"torch"`` (see :func:`pick_backend`); ``fuse_relu``: whether oneDNN may fuse
    the ReLUs (it maps NaN to 0, so not with non-finite parameters); ``chunk``: the engine's rows
    per batch, which sets the padding granule (:meth:`pieces`)."""

    def __init__(self, rest: list[nn.Module], *, device: torch.device, backend: str, first_relu: bool,
                 fuse_relu: bool, chunk: int):
        self.device, self.backend, self.chunk = device, backend, int(chunk)
        self.first_relu, self.fuse_relu = bool(first_relu), bool(fuse_relu)
        #: per precision, the layers after the first: (weight, bias, ReLU after it)
        self.layers = {name: self._prepare(rest, dt) for name, dt in
                       (("fp32", torch.float32), ("bf16", torch.bfloat16))}

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

    def run(self, h: torch.Tensor, precision: str, first: int = 0) -> torch.Tensor:
        """ReLU of the first layer's pre-activations ``h`` (in place, if the model has one there),
        then the remaining layers of ``precision``; with ``first = 1``, ``h`` is already the second
        layer's output (after its ReLU). Returns the energies, float32, flat. On CPU they run as
        oneDNN linear layers with bias and ReLU fused (``backend="onednn"``): its fp32 kernels use
        the whole AVX-512 width where torch's default BLAS may not (MKL on AMD CPUs runs at about
        half the rate), and a row's result does not depend on the batch."""
        if first == 0 and self.first_relu:
            h.relu_()
        out = []
        for start, stop, rows in self.pieces(h.shape[0]):
            x = h[start:stop]
            if rows > stop - start:
                x = torch.cat([x, x.new_zeros(rows - (stop - start), x.shape[1])])
            for w, b, relu in self.layers[precision][first:]:
                if x.dtype != b.dtype:  # a mixed precision: float32 into the bf16 layers
                    x = x.to(b.dtype)
                if self.backend == "onednn":
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
