"""ElemNet model files: weights plus everything needed to trust them (format version, architecture,
element order, training metadata, sha256 of the weights)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch

from ..elements import ELEMNET_ELEMENTS
from ..errors import ModelFileError
from .model import ElemNet

FORMAT = "hullpack-elemnet"
FORMAT_VERSION = 1
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 over the weights' names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_model(model: ElemNet, path: str | os.PathLike, *, metadata: dict[str, Any] | None = None,
               dtype: str = "float32") -> Path:
    """Write ``model`` to ``path`` (atomically) with its weights in ``dtype`` ("float32", "float16"
    or "bfloat16"); ``metadata`` holds JSON-like training facts (epoch, val/test MAE, config).

    >>> import tempfile, os
    >>> path = save_model(ElemNet("8x1-1", ()), os.path.join(tempfile.mkdtemp(), "m.pt"))
    >>> load_model(path).architecture
    '8x1-1'
    """
    if dtype not in _DTYPES:
        raise ValueError(f"dtype={dtype!r}: expected one of {sorted(_DTYPES)}")
    state = {k: v.detach().cpu().to(_DTYPES[dtype]).clone() for k, v in model.state_dict().items()}
    blob = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": model.architecture,
        "dropout": list(model.dropout_rates),
        "elements": list(ELEMNET_ELEMENTS),
        "dtype": dtype,
        "sha256": weights_sha256(state),
        "metadata": dict(metadata or {}),
        "state_dict": state,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(blob, tmp)
    os.replace(tmp, path)
    return path


def read_model_file(path: str | os.PathLike) -> dict[str, Any]:
    """The checked contents of a model file (without building the model); ModelFileError if it is
    missing, unreadable, truncated, of another format or version, or its weights fail the sha256."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist")
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":  # torch.save writes a zip archive
            raise ModelFileError(f"{path} is not a hullpack ElemNet model file (not a torch archive)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/corrupt zip archives
        # torch's first sentence says what failed; the rest is generic advice
        reason = str(exc).strip().split(". ")[0][:160]
        raise ModelFileError(f"model file {path} is corrupt or truncated and cannot be read "
                             f"({type(exc).__name__}: {reason}); re-download or re-export it") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a hullpack ElemNet model file (no '{FORMAT}' header)")
    version = blob.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{path} has format version {version!r}; this hullpack reads version "
                             f"{FORMAT_VERSION}: upgrade hullpack or re-export the model")
    missing = [k for k in ("architecture", "dropout", "elements", "sha256", "state_dict") if k not in blob]
    if missing:
        raise ModelFileError(f"{path} lacks the fields {missing}")
    if list(blob["elements"]) != list(ELEMNET_ELEMENTS):
        raise ModelFileError(f"{path} was trained on another element order ({len(blob['elements'])} "
                             f"elements); it cannot take hullpack's ElemNet input")
    digest = weights_sha256(blob["state_dict"])
    if digest != blob["sha256"]:
        raise ModelFileError(f"{path}: the weights' sha256 {digest[:16]}... does not match the recorded "
                             f"{str(blob['sha256'])[:16]}...: the file is corrupt")
    return blob


def load_model(path: str | os.PathLike, *, architecture: str | None = None,
               device: str | torch.device = "cpu") -> ElemNet:
    """Load a model file written by :func:`save_model` as a float32 ElemNet in eval mode, with
    the file's ``metadata`` in ``model.metadata``. ``architecture``, when given, must match the file's.
    """
    blob = read_model_file(path)
    if architecture is not None and architecture != blob["architecture"]:
        raise ModelFileError(f"{path} holds architecture {blob['architecture']!r}, not the "
                             f"requested {architecture!r}")
    try:
        model = ElemNet(blob["architecture"], blob["dropout"])
        model.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    except (ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: the weights do not fit architecture "
                             f"{blob['architecture']!r} ({exc})") from None
    model.metadata = dict(blob.get("metadata") or {})
    model.metadata.setdefault("sha256", blob["sha256"])
    return model.to(device).eval()
