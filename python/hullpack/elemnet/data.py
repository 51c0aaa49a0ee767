"""The OQMD formation-enthalpy set ElemNet trained on, shipped in ``hullpack/data/oqmd`` (CC BY 4.0;
see its SOURCE.md), with ElemNet's filter -20 < dH < 5 eV/atom."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
#: ElemNet's filter on the target (eV/atom), open interval
TARGET_RANGE = (-20.0, 5.0)


def data_dir() -> Path:
    """The folder of hullpack's shipped data."""
    return Path(__file__).resolve().parent.parent / "data"


def oqmd_file(split: str) -> Path:
    """The shipped file of one OQMD split."""
    return data_dir() / "oqmd" / f"{split}.csv.gz"


def load_oqmd(split: str, *, filter: bool = True) -> pd.DataFrame:
    """One OQMD split as a DataFrame with columns ``formula`` and ``target`` (eV/atom).

    With ``filter`` (default) rows outside ElemNet's -20 < dH < 5 eV/atom are removed; how many is
    logged and kept in ``df.attrs["n_removed"]``.

    >>> df = load_oqmd("val")
    >>> list(df.columns), len(df) + df.attrs["n_removed"]
    (['formula', 'target'], 51255)
    """
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: expected one of {SPLITS}")
    path = oqmd_file(split)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the package data was not installed")
    df = pd.read_csv(path, dtype={"formula": str, "target": np.float64}, keep_default_na=False)
    n_removed = 0
    if filter:
        lo, hi = TARGET_RANGE
        keep = (df["target"] > lo) & (df["target"] < hi)
        n_removed = int((~keep).sum())
        df = df[keep].reset_index(drop=True)
        log.debug("OQMD %s: %d rows, removed %d outside %g < dH < %g eV/atom",
                 split, len(df), n_removed, lo, hi)
    df.attrs["n_removed"] = n_removed
    df.attrs["split"] = split
    return df


def oqmd_arrays(split: str, *, filter: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)``: the ``(n, 86)`` float32 fractions and float32 targets of one split.

    >>> x, y = oqmd_arrays("test")
    >>> x.shape[1], x.dtype.name, y.dtype.name, len(x) == len(y)
    (86, 'float32', 'float32', True)
    """
    from .featurize import featurize

    df = load_oqmd(split, filter=filter)
    return featurize(df["formula"].tolist()), df["target"].to_numpy(np.float32)
