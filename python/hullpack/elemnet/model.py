"""The ElemNet network (Jha et al., Sci. Rep. 8, 17593, 2018): a deep fully connected net from the
86 elemental fractions of a composition to its formation enthalpy in eV/atom."""
from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from ..elements import N_ELEMENTS

#: the original's layer string: ``<width>x<count>`` blocks, ``D`` = dropout after the block's last layer
DEFAULT_ARCHITECTURE = "1024x4D-512x3D-256x3D-128x3D-64x2-32x1-1"
#: drop rates of the ``D`` blocks in order (the original's keep probabilities 0.8, 0.9, 0.7, 0.8)
DEFAULT_DROPOUT: tuple[float, ...] = (0.2, 0.1, 0.3, 0.2)

_BLOCK = re.compile(r"^(\d+)x(\d+)(D?)$")


def parse_architecture(architecture: str) -> list[tuple[int, int, bool]]:
    """Hidden blocks ``(width, count, dropout)`` of an architecture string; the last token must be
    ``1`` (the linear output).

    >>> parse_architecture("64x2D-32x1-1")
    [(64, 2, True), (32, 1, False)]
    """
    tokens = str(architecture).strip().split("-")
    if len(tokens) < 1 or tokens[-1] != "1":
        raise ValueError(f"architecture {architecture!r} must end with '-1' (the single output)")
    blocks = []
    for tok in tokens[:-1]:
        m = _BLOCK.match(tok)
        if m is None or int(m.group(1)) < 1 or int(m.group(2)) < 1:
            raise ValueError(f"architecture {architecture!r}: block {tok!r} is not '<width>x<count>[D]'")
        blocks.append((int(m.group(1)), int(m.group(2)), m.group(3) == "D"))
    return blocks


def check_dropout(architecture: str, dropout: Sequence[float]) -> tuple[float, ...]:
    """``dropout`` as a tuple of floats if it gives one drop rate in [0, 1) per ``D`` block of
    ``architecture``, else ValueError saying what to give.

    >>> check_dropout("64x2D-32x1-1", [0.1])
    (0.1,)
    """
    rates = tuple(float(p) for p in dropout)
    n_d = sum(d for _, _, d in parse_architecture(architecture))
    if len(rates) != n_d:
        default = " (the default rates, which fit the default architecture)" \
            if rates == DEFAULT_DROPOUT and architecture != DEFAULT_ARCHITECTURE else ""
        python, cli = ("()", "''") if n_d == 0 else (str((0.1,) * n_d), ",".join(["0.1"] * n_d))
        raise ValueError(f"architecture {architecture!r} has {n_d} dropout block{'' if n_d == 1 else 's'} (D) but "
                         f"{len(rates)} drop rate{'' if len(rates) == 1 else 's'} {'was' if len(rates) == 1 else 'were'} "
                         f"given{default}: give {'none: ' if n_d == 0 else 'one per D block, such as '}dropout={python} "
                         f"(--dropout {cli} on the command line)")
    if any(not 0.0 <= p < 1.0 for p in rates):
        raise ValueError(f"drop rates must lie in [0, 1): {list(rates)} (a drop rate, not a keep probability)")
    return rates


#: how far a row of fractions may sum from 1 (float32 fractions of a formula: ~1e-7)
FRACTION_SUM_TOLERANCE = 1e-3


def _check_fractions(x: np.ndarray) -> None:
    """ValueError naming the rows of ``x`` (rows of NaN aside) that are not element fractions: a
    negative value, or a sum off 1 by more than :data:`FRACTION_SUM_TOLERANCE`."""
    sums, negative = x.sum(axis=1, dtype=np.float64), np.asarray((x < 0).any(axis=1))
    off = np.flatnonzero(~np.isnan(sums) & ((np.abs(sums - 1) > FRACTION_SUM_TOLERANCE) | negative))
    if off.size:
        shown = ", ".join(f"row {i} (sum {sums[i]:.6g}{', a negative value' if negative[i] else ''})" for i in off[:5])
        more = f" and {off.size - 5} more" if off.size > 5 else ""
        raise ValueError(f"{off.size} of {len(x)} rows of the fraction array are not element fractions (each row's "
                         f"fractions are >= 0 and sum to 1): {shown}{more}; divide each row by its sum "
                         "(x / x.sum(axis=1, keepdims=True)) or give the formulas")


class ElemNet(nn.Module):
    """ElemNet: ReLU after every hidden layer, dropout after the last layer of each ``D`` block,
    Glorot-uniform weights and zero biases. The default has 4,631,361 parameters.

    Input: ``(batch, 86)`` element fractions in :data:`hullpack.elements.ELEMNET_ELEMENTS` order;
    output: ``(batch,)`` formation enthalpy in eV/atom.

    >>> model = ElemNet()
    >>> sum(p.numel() for p in model.parameters())
    4631361
    >>> [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    [0.2, 0.1, 0.3, 0.2]
    >>> model.eval()(torch.zeros(3, 86)).shape
    torch.Size([3])
    """

    #: what a loaded model's file says of it (training facts, ``sha256``): set by :func:`load_model`
    metadata: dict[str, Any]
    #: where a loaded model came from (its file, or the shipped default): set by :func:`resolve_model`
    source: str

    def __init__(self, architecture: str = DEFAULT_ARCHITECTURE,
                 dropout: Sequence[float] = DEFAULT_DROPOUT, n_inputs: int = N_ELEMENTS):
        super().__init__()
        blocks = parse_architecture(architecture)
        dropout = check_dropout(architecture, dropout)
        self.architecture = str(architecture)
        self.dropout_rates = tuple(dropout)
        self.n_inputs = int(n_inputs)
        layers: list[nn.Module] = []
        width_in, rates = self.n_inputs, iter(dropout)
        for width, count, has_dropout in blocks:
            for _ in range(count):
                layers += [nn.Linear(width_in, width), nn.ReLU()]
                width_in = width
            if has_dropout:
                layers.append(nn.Dropout(next(rates)))
        layers.append(nn.Linear(width_in, 1))
        self.net = nn.Sequential(*layers)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform weights and zero biases, as the original."""
        for m in self.net:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)

    @torch.no_grad()
    def predict(self, formulas: Iterable | str | np.ndarray, *, batch_size: int = 8192,
                bf16: bool = False, errors: str = "raise") -> np.ndarray:
        """Formation enthalpies (eV/atom, float64 numpy) of formulas, pymatgen Compositions, or an
        ``(n, 86)`` fraction array, in eval mode (no dropout), ``batch_size`` at a time.

        An array's rows are element fractions, each summing to 1 (a row of NaN, as
        :func:`~hullpack.elemnet.parse_formulas` marks a bad entry, gives NaN); ValueError naming the
        rows that are not (amounts such as Fe2O3's 2 and 3, negative values), which the model would
        map to meaningless energies.

        ``errors`` is passed to :func:`hullpack.elemnet.featurize`: ``"raise"`` (default) raises
        :class:`hullpack.errors.CompositionError` listing every bad entry, ``"nan"`` returns NaN for
        them, ``"skip"`` leaves them out (with a warning naming them). ``bf16=True`` uses bf16
        autocast: several times faster on CPUs with AVX512-BF16/AMX; the shipped model's energies move
        by 1.6 meV/atom from fp32 on average over 5,000 OQMD test compositions, 24 meV/atom at most.

        >>> model = ElemNet()
        >>> model.predict(["Fe2O3", "NaCl"]).shape
        (2,)
        >>> import warnings; warnings.simplefilter("ignore")
        >>> bool(np.isnan(model.predict(["Fe2O3", "He"], errors="nan")[1]))
        True
        """
        from .featurize import featurize

        if isinstance(formulas, np.ndarray) and formulas.ndim == 2 and formulas.dtype.kind == "f":
            x = np.asarray(formulas, dtype=np.float32)
            if x.shape[1] != self.n_inputs:
                raise ValueError(f"fraction array has {x.shape[1]} columns, the model takes {self.n_inputs}")
            if self.n_inputs == N_ELEMENTS:
                _check_fractions(x)
        else:
            x = featurize(formulas, errors=errors)
        if batch_size < 1:
            raise ValueError(f"batch_size = {batch_size} must be >= 1")
        was_training = self.training
        self.eval()
        try:
            device = next(self.parameters()).device
            out = np.full(len(x), np.nan, dtype=np.float64)
            ok = ~np.isnan(x).any(axis=1)
            xv = torch.from_numpy(np.ascontiguousarray(x[ok]))
            preds = []
            for start in range(0, len(xv), batch_size):
                xb = xv[start:start + batch_size].to(device)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bool(bf16)):
                    preds.append(self(xb).float().cpu())
            if preds:
                out[ok] = torch.cat(preds).double().numpy()
            return out
        finally:
            self.train(was_training)
