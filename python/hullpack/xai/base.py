"""What every XElemNet analysis shares: the model as an energy function of element fractions, checked
inputs, and the compositions the analyses are run on (element data: :func:`hullpack.elements.element_table`)."""
from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator, Mapping
from itertools import combinations
from numbers import Number
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..elements import ELEMENT_INDEX, ELEMNET_ELEMENTS, ELEMNET_LACKS, N_ELEMENTS
from ..errors import CompositionError, ModelFileError
from ..screening.models import make_engine, module_device

if TYPE_CHECKING:  # pragma: no cover
    from ..elemnet import ElemNet

log = logging.getLogger(__name__)

#: eV/atom; the unit of every energy the analyses report
ENERGY_UNIT = "eV/atom"
_ROW_SUM_TOL = 1e-3  # float32 fractions written to 4-6 digits still sum to 1 within this


def xai_import(module: str, what: str):
    """``module`` imported, or an ImportError that says ``what`` needs it and names the xai extra
    (a base install has none of shap, scikit-learn or scipy)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{what} needs {module.split('.')[0]}: pip install \"hullpack[xai]\"") from None


# --------------------------------------------------------------------------------------------- model

def energy_model(model: nn.Module) -> nn.Module:
    """``model`` in eval mode after checking that it maps ``(n, 86)`` fractions to ``(n,)`` or
    ``(n, 1)`` energies; :class:`hullpack.errors.ModelFileError` if not.

    >>> m = energy_model(torch.nn.Linear(86, 1))
    >>> predict(m, np.eye(86, dtype=np.float32)[:3]).shape
    (3,)
    """
    _require_module(model)
    model.eval()
    probe = torch.full((2, N_ELEMENTS), 1.0 / N_ELEMENTS, device=module_device(model) or torch.device("cpu"))
    try:
        with torch.no_grad():
            out = model(probe)
    except Exception as exc:  # any failure means the module does not take ElemNet's input
        raise ModelFileError(f"the model cannot take (n, {N_ELEMENTS}) element fractions "
                             f"({type(exc).__name__}: {exc})") from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) not in ((2,), (2, 1)):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ModelFileError(f"the model maps (2, {N_ELEMENTS}) fractions to {shape}; the analyses "
                             "need one energy per composition, (n,) or (n, 1)")
    return model


def _require_module(model: Any) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module mapping (n, {N_ELEMENTS}) fractions to energies, got "
                        f"{type(model).__name__} (read a model file with hullpack.xai.load_model)")


@torch.no_grad()
def predict(model: nn.Module, x: Any, *, batch_size: int = 8192) -> np.ndarray:
    """Energies (float64, eV/atom) of ``x``, in eval mode, batch by batch: ``(n, 86)`` fractions
    (an array, tensor or list of rows; checked for shape and finite values but, so that mixtures
    off the composition simplex can be evaluated, not for summing to 1), or formulas (a string,
    or a list of strings or element -> amount dicts, featurized and checked by :func:`as_fractions`).

    >>> predict(torch.nn.Linear(86, 1), np.zeros((0, 86), np.float32)).shape
    (0,)
    >>> predict(torch.nn.Linear(86, 1), ["NaCl", "Fe2O3"]).shape
    (2,)
    """
    _require_module(model)
    if _are_formulas(x):
        x = as_fractions(x, name="x")
    x = _fraction_array(x, "x")
    device = module_device(model) or torch.device("cpu")
    out = np.empty(len(x), dtype=np.float64)
    for start in range(0, len(x), batch_size):
        xb = torch.from_numpy(x[start:start + batch_size]).to(device)
        out[start:start + len(xb)] = model(xb).reshape(-1).double().cpu().numpy()
    return out


def pure_energies(model: nn.Module) -> pd.Series:
    """The model's predicted energy (eV/atom) of each of the 86 pure elements, indexed by symbol:
    the reference of the ``"elements"`` SHAP values, ideally 0.

    >>> pure_energies(torch.nn.Linear(86, 1)).index[:3].tolist()
    ['H', 'Li', 'Be']
    """
    return pd.Series(predict(model, np.eye(N_ELEMENTS, dtype=np.float32)), index=list(ELEMNET_ELEMENTS),
                     name="pure")


class FastEnergies:
    """A model's energies through the screen's engine (:func:`hullpack.screening.models.make_engine`):
    the first layer gathered from the few elements a composition holds, and on CPU the fp32 ReLU
    layers through :func:`~hullpack.compositions.relu_mlp`, several times faster than the dense
    forward for an ElemNet (any other model is called on batches). Energies equal the dense
    forward's up to float32 rounding (the sums run in another order). For analyses that make many
    predictions of one model, which must not change while this is used.

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(86, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    >>> x = np.eye(86, dtype=np.float32)[:3]
    >>> bool(np.allclose(FastEnergies(net)(x), predict(net, x), atol=1e-6))
    True
    """

    def __init__(self, model: nn.Module):
        self.engine = make_engine(model, device=(module_device(model) or torch.device("cpu")).type)

    def pairs(self, elements: np.ndarray, fractions: np.ndarray) -> np.ndarray:
        """Energies (float64) of compositions ``fractions[i]`` (float32) over element indices
        ``elements[i]`` (same shapes, ``(n, k)``)."""
        return self.engine.predict_fractions(elements, fractions).astype(np.float64)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Energies (float64) of dense ``(n, 86)`` fractions, their nonzero columns gathered (rows
        padded with element 0 at fraction 0)."""
        x = np.asarray(x, dtype=np.float32)
        width = max(1, int((x != 0).sum(axis=1).max(initial=0)))
        order = np.argsort(x == 0, axis=1, kind="stable")[:, :width]  # the nonzero columns first
        fractions = np.take_along_axis(x, order, axis=1)
        elements = np.where(fractions != 0, order, 0)
        return self.pairs(elements, np.ascontiguousarray(fractions))


def _are_formulas(x: Any) -> bool:
    """Whether ``x`` holds formulas (strings, mappings, pymatgen compositions) rather than numbers."""
    if isinstance(x, (str, Mapping)):
        return True
    if isinstance(x, (pd.Series, pd.Index)):
        x = x.tolist()
    return (isinstance(x, (list, tuple)) and len(x) > 0
            and not isinstance(x[0], (Number, list, tuple, np.ndarray, torch.Tensor)))


def records_no_training(model: nn.Module) -> bool:
    """Whether ``model`` has ``metadata`` (as hullpack's model files do) that records no training:
    no epoch and no MAE, as :func:`check_trained` refuses it."""
    meta = getattr(model, "metadata", None)
    return isinstance(meta, dict) and not {"epoch", "val_mae", "test_mae"} & set(meta)


def check_trained(model: nn.Module, *, where: str = "the model") -> None:
    """Refuse a model that was never trained: one whose ``metadata`` (as written by hullpack's
    training) records no epoch, or whose energies do not vary over compositions.

    >>> flat = torch.nn.Linear(86, 1)
    >>> _ = torch.nn.init.zeros_(flat.weight)
    >>> try:
    ...     check_trained(flat)
    ... except ModelFileError as exc:
    ...     print(str(exc)[:36])
    the model predicts the same energy (
    """
    if records_no_training(model):
        raise ModelFileError(f"{where} records no training (its metadata has no epoch or MAE): "
                             "explaining an untrained network says nothing about chemistry; train "
                             "one with `hullpack train`, or pass allow_untrained=True / --allow-untrained")
    x, _ = equiatomic_binaries()
    e = predict(model, np.vstack([np.eye(N_ELEMENTS, dtype=np.float32), x]))
    if not np.all(np.isfinite(e)):
        raise ModelFileError(f"{where} predicts non-finite energies (first at composition "
                             f"{int(np.flatnonzero(~np.isfinite(e))[0])} of the pure elements and "
                             "equiatomic binaries): its weights are broken")
    if np.ptp(e) < 1e-4:
        raise ModelFileError(f"{where} predicts the same energy ({e[0]:.4g} {ENERGY_UNIT}) for every pure "
                             "element and equiatomic binary: it is untrained or collapsed")


def load_model(path: str | os.PathLike | None = None, *, allow_untrained: bool = False) -> ElemNet:
    """The model to explain: hullpack's shipped default when ``path`` is None or ``"default"``,
    else a model file written by :func:`hullpack.elemnet.save_model` or a run folder of ``hullpack
    train`` (its ``best.pt``), as :func:`hullpack.elemnet.resolve_model` reads them. Missing,
    corrupt and untrained files raise :class:`hullpack.errors.ModelFileError`.

    >>> load_model("default").metadata["sha256"] == load_model().metadata["sha256"]
    True
    """
    from ..elemnet import resolve_model

    model = resolve_model(path)
    if not allow_untrained:
        check_trained(model, where=model.source)  # the shipped default model, or the path given
    return model


# ------------------------------------------------------------------------------------- compositions

def as_fractions(compositions: Any, *, name: str = "compositions") -> np.ndarray:
    """``(n, 86)`` float32 element fractions from formulas (through
    :func:`hullpack.elemnet.featurize`) or from an array of fractions, checked: non-empty, finite,
    non-negative, rows summing to 1. :class:`hullpack.errors.CompositionError` names the first bad row.

    >>> as_fractions(["NaCl"])[0, [8, 14]]
    array([0.5, 0.5], dtype=float32)
    >>> try:
    ...     as_fractions(np.zeros((2, 86)))
    ... except CompositionError as exc:
    ...     print(exc)
    compositions row 0 sums to 0 instead of 1: fractions must describe a composition
    """
    if isinstance(compositions, (pd.Series, pd.Index, Iterator)):  # a generator of formulas, too
        compositions = list(compositions)
    if not _are_formulas(compositions) and not (isinstance(compositions, np.ndarray)
                                                and compositions.dtype.kind not in "fiub"):
        x = _fraction_array(compositions, name)  # numbers: an array, a tensor, a list of rows
    else:
        from ..elemnet import featurize

        if isinstance(compositions, (str, Mapping)):
            compositions = [compositions]
        try:
            x = featurize(list(compositions))
        except CompositionError as exc:  # say which argument held them (compositions or background)
            raise CompositionError(f"{name}: {exc}", exc.bad) from None
    if len(x) == 0:
        raise CompositionError(f"{name} is empty: give at least one composition")
    neg = (x < 0).any(axis=1)
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise CompositionError(f"{name} row {i} has a negative fraction of "
                               f"{ELEMNET_ELEMENTS[int(np.argmin(x[i]))]}")
    sums = x.sum(axis=1, dtype=np.float64)
    off = np.abs(sums - 1.0) > _ROW_SUM_TOL
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise CompositionError(f"{name} row {i} sums to {sums[i]:.4g} instead of 1: fractions must "
                               "describe a composition")
    return x


def named_fractions(compositions: Any, *, name: str = "compositions") -> tuple[np.ndarray, list[str]]:
    """:func:`as_fractions` of ``compositions`` and a name for each row: the formula as given where
    it is a string (``NaOH``, ``CH3NH3PbI3``: as the chemist wrote it), else :func:`formulas_of`
    the fractions (pymatgen compositions, dicts, arrays).

    >>> named_fractions(["NaOH", "Ca(OH)2"])[1], named_fractions(np.eye(86, dtype=np.float32)[[6]])[1]
    (['NaOH', 'Ca(OH)2'], ['O2'])
    """
    if isinstance(compositions, (pd.Series, pd.Index, Iterator)):  # read once, for both
        compositions = list(compositions)
    x = as_fractions(compositions, name=name)
    given = [compositions] if isinstance(compositions, str) else compositions
    if isinstance(given, (list, tuple)) and all(isinstance(c, str) for c in given):
        return x, [c.strip() for c in given]
    return x, formulas_of(x)


def _fraction_array(x: Any, name: str) -> np.ndarray:
    """``x`` as a writeable, contiguous ``(n, 86)`` float32 array of finite numbers;
    CompositionError naming the shape or the first non-finite row."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
    try:
        x = np.ascontiguousarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:  # ragged rows, text among numbers
        raise CompositionError(f"{name} is neither formulas nor an (n, {N_ELEMENTS}) array of element "
                               f"fractions ({exc})") from None
    if x.size == 0 and x.ndim == 1:  # an empty list: no rows
        x = x.reshape(0, N_ELEMENTS)
    if x.ndim != 2 or x.shape[1] != N_ELEMENTS:
        raise CompositionError(f"{name} must be an (n, {N_ELEMENTS}) array of element fractions in "
                               f"hullpack.elements.ELEMNET_ELEMENTS order, got shape {x.shape}")
    if not x.flags.writeable:  # torch warns on read-only buffers (the cached binaries are)
        x = x.copy()
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise CompositionError(f"{name} row {int(np.flatnonzero(bad)[0])} has a non-finite fraction")
    return x


def formulas_of(x: np.ndarray, *, digits: int = 4, most_atoms: int = 24) -> list[str]:
    """Formulas of fraction rows as a chemist writes them (:mod:`hullpack.naming`, pymatgen's order):
    the reduced formula where the fractions are those of at most ``most_atoms`` whole atoms, else
    amounts to ``digits`` significant digits.

    >>> from hullpack.elemnet import featurize
    >>> formulas_of(featurize(["LiFePO4", "Fe2O3", "NaCl", "O", "Li0.5CoO2", "Fe0.1234Ni0.8766"]))
    ['LiFePO4', 'Fe2O3', 'NaCl', 'O2', 'Li(CoO2)2', 'Fe0.1408Ni']
    """
    from ..naming import amounts_formula, reduced_formula

    out = []
    for row in np.asarray(x, dtype=np.float64):
        cols = np.flatnonzero(row > 0)
        symbols, f = [ELEMNET_ELEMENTS[c] for c in cols], row[cols] / max(row[cols].sum(), 1e-30)
        atoms = next((n for n in range(1, most_atoms + 1)
                      if np.allclose(f * n, np.rint(f * n), rtol=0, atol=1e-4) and (np.rint(f * n) >= 1).all()), None)
        out.append(reduced_formula(symbols, np.rint(f * atoms).astype(int)) if atoms
                   else amounts_formula(symbols, f, digits) if len(cols) else "")
    return out


def elements_arg(elements: Iterable[str] | None) -> list[str]:
    """Checked element symbols (all 86 when None; one symbol as a string is a list of one);
    CompositionError names unknown ones.

    >>> elements_arg("Fe")
    ['Fe']
    """
    if elements is None:
        return list(ELEMNET_ELEMENTS)
    elements = [elements] if isinstance(elements, str) else [str(e) for e in elements]  # "Fe", not "F", "e"
    unknown = [(i, e, "not one of ElemNet's 86 elements") for i, e in enumerate(elements) if e not in ELEMENT_INDEX]
    if unknown:
        raise CompositionError(f"unknown elements {[u[1] for u in unknown]}: ElemNet covers "
                               f"{N_ELEMENTS} elements ({ELEMNET_LACKS})", unknown)
    if not elements:
        raise CompositionError("the element list is empty: give element symbols, or None for all 86 of ElemNet's")
    return elements


def binary_fractions(a: Iterable[str], b: Iterable[str], x: float | np.ndarray) -> np.ndarray:
    """Rows of ``A_x B_(1-x)`` for paired symbols ``a[i], b[i]`` at fraction(s) ``x`` of A.

    >>> binary_fractions(["Na"], ["Cl"], 0.25)[0, [8, 14]]
    array([0.25, 0.75], dtype=float32)
    """
    ia = np.array([ELEMENT_INDEX[s] for s in a], dtype=np.int64)
    ib = np.array([ELEMENT_INDEX[s] for s in b], dtype=np.int64)
    xa = np.broadcast_to(np.asarray(x, dtype=np.float32), ia.shape)
    out = np.zeros((len(ia), N_ELEMENTS), dtype=np.float32)
    rows = np.arange(len(ia))
    out[rows, ib] += 1 - xa
    out[rows, ia] += xa
    return out


@functools.lru_cache(maxsize=1)
def _equiatomic() -> tuple[np.ndarray, tuple[tuple[str, str], ...]]:
    pairs = tuple(combinations(ELEMNET_ELEMENTS, 2))
    x = binary_fractions([p[0] for p in pairs], [p[1] for p in pairs], 0.5)
    x.setflags(write=False)
    return x, pairs


def equiatomic_binaries() -> tuple[np.ndarray, list[tuple[str, str]]]:
    """All 3,655 equiatomic binaries AB of ElemNet's elements: ``(x, [(A, B), ...])``.

    >>> x, pairs = equiatomic_binaries()
    >>> x.shape, pairs[0]
    ((3655, 86), ('H', 'Li'))
    """
    x, pairs = _equiatomic()
    return x, list(pairs)


def random_compositions(n: int, *, seed: int = 0, n_elements: tuple[int, ...] = (2, 3, 4)) -> np.ndarray:
    """``n`` random compositions: a uniform number of elements from ``n_elements``, elements drawn
    uniformly, fractions from a flat Dirichlet. For tests, benchmarks and synthetic studies.

    >>> x = random_compositions(5, seed=1)
    >>> x.shape, bool(np.allclose(x.sum(axis=1), 1))
    ((5, 86), True)
    """
    if n < 1:
        raise CompositionError(f"n = {n}: ask for at least one composition")
    rng = np.random.default_rng(seed)
    x = np.zeros((n, N_ELEMENTS), dtype=np.float32)
    ks = rng.choice(np.asarray(n_elements), size=n)
    for i, k in enumerate(ks):
        cols = rng.choice(N_ELEMENTS, size=int(k), replace=False)
        x[i, cols] = rng.dirichlet(np.ones(int(k)))
    return x


def oqmd_split(split: str = "test", *, n: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of an OQMD split shipped with hullpack (through :mod:`hullpack.elemnet`), optionally
    a random subsample of ``n`` rows (without replacement, by ``seed``)."""
    from ..elemnet import oqmd_arrays

    x, y = oqmd_arrays(split)
    if n is not None and n < len(x):
        idx = np.sort(np.random.default_rng(seed).choice(len(x), size=n, replace=False))
        x, y = x[idx], y[idx]
    return x, y


#: the properties :func:`~hullpack.elements.element_table` holds that alignment correlates with,
#: and their units
PROPERTIES: dict[str, str] = {
    "electronegativity": "Pauling",
    "group": "",
    "period": "",
    "ionization_energy": "eV",
    "atomic_radius": "Å",
}


def ensure_dir(path: str | os.PathLike) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return path
