"""ElemNet model files: weights plus everything needed to trust them (format version, architecture,
drop rates, element order, training metadata), every byte of it under one sha256.

Format 2 (written by :func:`save_model`), little-endian::

    b"hullpack-elemnet"       16 bytes
    format version            uint32 (2)
    header length             uint64
    header                    UTF-8 JSON: architecture, dropout, elements, dtype, metadata,
                              weights_sha256, tensors ([name, shape] in storage order)
    weights                   the tensors' bytes, back to back, all in the header's dtype
    sha256                    32 bytes: the digest of every byte before it

The digest is checked before anything in the file is parsed, so a flipped or missing byte anywhere
is a :class:`~hullpack.errors.ModelFileError`, never a model that differs from the one saved.
Format 1 (hullpack 0.1: a ``torch.save`` archive whose sha256 covers the weights only) is still
read, with every field type-checked.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import struct
import sys
import warnings
from pathlib import Path
from typing import Any

import torch

from ..elements import ELEMNET_ELEMENTS
from ..errors import ModelFileError
from .model import ElemNet, parse_architecture

FORMAT = "hullpack-elemnet"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
_MAGIC = FORMAT.encode()  # 16 bytes
_PREFIX = struct.Struct("<16sIQ")  # magic, format version, header length
_DIGEST = 32
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_V1_FIELDS = ("architecture", "dropout", "elements", "sha256", "state_dict")


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 over the weights' names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}|{t.dtype}|{tuple(state_dict[name].shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _json_value(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):  # numpy and torch scalars
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON-like")


def save_model(model: ElemNet, path: str | os.PathLike, *, metadata: dict[str, Any] | None = None,
               dtype: str = "float32") -> Path:
    """Write ``model`` to ``path`` (atomically) with its weights in ``dtype`` ("float32", "float16"
    or "bfloat16"); ``metadata`` holds JSON-like training facts (epoch, val/test MAE, config):
    numbers, strings, booleans, None, lists and dicts (tuples come back as lists).

    >>> import tempfile, os
    >>> path = save_model(ElemNet("8x1-1", ()), os.path.join(tempfile.mkdtemp(), "m.pt"))
    >>> load_model(path).architecture
    '8x1-1'
    """
    if dtype not in _DTYPES:
        raise ValueError(f"dtype={dtype!r}: expected one of {sorted(_DTYPES)}")
    if sys.byteorder != "little":  # pragma: no cover - no big-endian host runs torch wheels
        raise RuntimeError("hullpack model files are little-endian; this host is big-endian")
    state = {k: v.detach().cpu().to(_DTYPES[dtype]).contiguous() for k, v in model.state_dict().items()}
    header = {
        "architecture": model.architecture,
        "dropout": list(model.dropout_rates),
        "elements": list(ELEMNET_ELEMENTS),
        "dtype": dtype,
        "metadata": dict(metadata or {}),
        "weights_sha256": weights_sha256(state),
        "tensors": [[name, list(t.shape)] for name, t in state.items()],
    }
    try:
        text = json.dumps(header, sort_keys=True, default=_json_value).encode()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata must be JSON-like (numbers, strings, lists, dicts): {exc}") from None
    body = b"".join([_PREFIX.pack(_MAGIC, FORMAT_VERSION, len(text)), text]
                    + [t.reshape(-1).view(torch.uint8).numpy().tobytes() for t in state.values()])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(body + hashlib.sha256(body).digest())
    os.replace(tmp, path)
    return path


def _fail(path: Path, what: str) -> ModelFileError:
    return ModelFileError(f"model file {path}: {what}")


def _decode_v2(path: Path, data: bytes) -> dict[str, Any]:
    """Header and weights of a format-2 file whose digest has been checked."""
    _, _, n_header = _PREFIX.unpack_from(data)
    start, end = _PREFIX.size, len(data) - _DIGEST
    if n_header > end - start:
        raise _fail(path, f"its header length {n_header} runs past the end of the file")
    try:
        header = json.loads(data[start:start + n_header].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: "[[[[..."
        raise _fail(path, f"its header is not JSON ({type(exc).__name__}: {str(exc)[:80]})") from None
    if not isinstance(header, dict):
        raise _fail(path, "its header is not a JSON object")
    missing = [k for k in ("architecture", "dropout", "elements", "dtype", "metadata", "weights_sha256",
                           "tensors") if k not in header]
    if missing:
        raise _fail(path, f"its header lacks the fields {missing}")
    dtype = header["dtype"]
    if not isinstance(dtype, str) or dtype not in _DTYPES:
        raise _fail(path, f"weights dtype {dtype!r} is not one of {sorted(_DTYPES)}")
    tensors = header["tensors"]
    if not isinstance(tensors, list) or not all(
            isinstance(t, list) and len(t) == 2 and isinstance(t[0], str) and isinstance(t[1], list)
            and all(type(d) is int and d >= 0 for d in t[1]) for t in tensors):
        raise _fail(path, "its tensor table is not a list of [name, shape] with shapes of ints >= 0")
    names = [t[0] for t in tensors]
    if len(set(names)) != len(names):
        raise _fail(path, "its tensor table names a tensor twice")
    itemsize = _DTYPES[dtype].itemsize
    sizes = [math.prod(shape) * itemsize for _, shape in tensors]
    weights = data[start + n_header:end]
    if sum(sizes) != len(weights):
        raise _fail(path, f"its tensor table describes {sum(sizes)} bytes of weights, the file holds "
                          f"{len(weights)}")
    flat = torch.frombuffer(bytearray(weights), dtype=torch.uint8) if weights else torch.empty(0, dtype=torch.uint8)
    state, offset = {}, 0
    for (name, shape), size in zip(tensors, sizes):
        state[name] = flat[offset:offset + size].view(_DTYPES[dtype]).reshape(shape)
        offset += size
    blob = {k: header[k] for k in ("architecture", "dropout", "elements", "dtype", "metadata")}
    blob.update(sha256=header["weights_sha256"], state_dict=state)
    return blob


def _decode_v1(path: Path, data: bytes) -> dict[str, Any]:
    """The dictionary of a format-1 ``torch.save`` archive (only its weights are under a digest)."""
    try:
        with warnings.catch_warnings():  # a damaged pickle can make torch warn before it raises
            warnings.simplefilter("ignore")
            blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/corrupt zip archives
        if "Weights only load failed" in str(exc):  # whole, intact, but pickled Python objects
            raise ModelFileError(f"{path} is a torch.save archive of Python objects (a whole torch module?), not a "
                                 "hullpack model file (hullpack.elemnet.save_model writes those)") from None
        if "TorchScript" in str(exc):  # whole and intact: torch.jit.save's, which torch.load does not read
            raise ModelFileError(f"{path} is a TorchScript archive (torch.jit.save), not a hullpack ElemNet model "
                                 "file (hullpack train's best.pt, hullpack.elemnet.save_model); a model of your own "
                                 "screens in Python: hullpack.screening.screen(torch.jit.load(path))") from None
        # torch's first sentence says what failed; the rest is generic advice
        reason = str(exc).strip().split(". ")[0][:160]
        raise ModelFileError(f"model file {path} is corrupt or truncated and cannot be read "
                             f"({type(exc).__name__}: {reason}); re-download or re-export it") from None
    if isinstance(blob, dict) and {"optimizer", "schedule", "state"} <= blob.keys():
        raise ModelFileError(f"{path} is a training checkpoint of `hullpack train` (to resume the run), not a "
                             f"model file: load the run's best.pt ({path.with_name('best.pt')})")
    if isinstance(blob, dict) and blob and all(isinstance(k, str) and "." in k and isinstance(v, torch.Tensor)
                                               for k, v in blob.items()):  # torch.save(model.state_dict())
        raise ModelFileError(f"{path} is not a hullpack ElemNet model file but a bare state_dict (weights without "
                             "their architecture nor drop rates): if they are an ElemNet's, load them into an ElemNet "
                             "of its architecture (load_state_dict) and write that with hullpack.elemnet.save_model")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a hullpack ElemNet model file (no '{FORMAT}' header)")
    version = blob.get("format_version")
    if type(version) is not int or version != 1:
        raise ModelFileError(f"{path} has format version {version!r} in a version-1 container: it is corrupt")
    missing = [k for k in _V1_FIELDS if k not in blob]
    if missing:
        raise _fail(path, f"it lacks the fields {missing}")
    state = blob["state_dict"]
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) and v.dtype in _DTYPES.values()
            for k, v in state.items()):
        raise _fail(path, "its state_dict is not a mapping of names to float tensors")
    blob.setdefault("metadata", {})
    blob.setdefault("dtype", "float32")
    return blob


def _check(path: Path, blob: dict[str, Any]) -> dict[str, Any]:
    """Type and consistency checks shared by both formats."""
    if not isinstance(blob["architecture"], str):
        raise _fail(path, f"architecture {blob['architecture']!r} is not a string")
    dropout = blob["dropout"]
    if not isinstance(dropout, (list, tuple)) or not all(
            isinstance(p, (int, float)) and not isinstance(p, bool) for p in dropout):
        raise _fail(path, f"dropout {dropout!r} is not a list of drop rates")
    if not isinstance(blob["metadata"], dict):
        raise _fail(path, "its metadata is not a dictionary")
    elements = blob["elements"]
    if not isinstance(elements, (list, tuple)) or list(elements) != list(ELEMNET_ELEMENTS):
        n = len(elements) if isinstance(elements, (list, tuple)) else "?"
        raise ModelFileError(f"{path} was trained on another element order ({n} elements); it cannot "
                             f"take hullpack's ElemNet input")
    digest = weights_sha256(blob["state_dict"])
    if digest != blob["sha256"]:
        raise ModelFileError(f"{path}: the weights' sha256 {digest[:16]}... does not match the recorded "
                             f"{str(blob['sha256'])[:16]}...: the file is corrupt")
    return blob


def read_model_file(path: str | os.PathLike) -> dict[str, Any]:
    """The checked contents of a model file (a run folder of ``hullpack train`` means its
    ``best.pt``), without building the model: ``architecture``,
    ``dropout``, ``elements``, ``dtype``, ``metadata``, ``sha256`` (of the weights),
    ``state_dict`` (in the stored dtype), ``format_version`` and ``file_sha256`` (of every byte).
    ModelFileError if it is missing, unreadable, truncated, corrupt, of another format or version.

    >>> import tempfile, os
    >>> path = save_model(ElemNet("8x1-1", ()), os.path.join(tempfile.mkdtemp(), "m.pt"), metadata={"epoch": 3})
    >>> blob = read_model_file(path)
    >>> blob["architecture"], blob["format_version"], blob["metadata"]
    ('8x1-1', 2, {'epoch': 3})
    """
    path = Path(path)
    if path.is_dir():  # a run folder of `hullpack train`: its best weights
        if not (path / "best.pt").is_file():
            run = (path / "metrics.jsonl").is_file() or (path / "last.pt").is_file()
            raise ModelFileError(f"model folder {path} holds no best.pt: " + (
                "a run of `hullpack train` writes it at the end of its first epoch: train on (the same command "
                "resumes the run), or give another model" if run else
                "give a model file or a run folder of `hullpack train`"))
        path = path / "best.pt"
    if not path.is_file():
        raise ModelFileError(f"model file {path} " + ("is not a file" if path.exists() else "does not exist"))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"model file {path} cannot be read ({exc})") from None
    if data.startswith(b"PK\x03\x04"):  # format 1: a torch.save zip archive
        blob, version = _decode_v1(path, data), 1
    elif data.startswith(_MAGIC):
        if len(data) < _PREFIX.size + _DIGEST:
            raise ModelFileError(f"model file {path} is truncated ({len(data)} bytes)")
        if hashlib.sha256(data[:-_DIGEST]).digest() != data[-_DIGEST:]:
            raise ModelFileError(f"model file {path} is corrupt or truncated: its sha256 does not match "
                                 "its contents; re-download or re-export it")
        version = _PREFIX.unpack_from(data)[1]
        if version not in READABLE_VERSIONS:
            raise ModelFileError(f"{path} has format version {version}; this hullpack reads versions "
                                 f"{list(READABLE_VERSIONS)}: upgrade hullpack or re-export the model")
        blob = _decode_v2(path, data)
    else:
        raise ModelFileError(f"{path} is not a hullpack ElemNet model file (it starts with neither "
                             f"{_MAGIC!r} nor a torch archive's header)")
    blob = _check(path, blob)
    blob.update(format=FORMAT, format_version=version, file_sha256=hashlib.sha256(data).hexdigest())
    return blob


def as_device(device: Any) -> torch.device:
    """``device`` as a torch device; ValueError for a bad name, or for CUDA where torch sees none."""
    try:
        out = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device={device!r} is not a torch device (e.g. 'cpu', 'cuda', 'cuda:1')") from None
    if out.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r}: this torch ({torch.__version__}) sees no CUDA GPU; use 'cpu'")
    return out


def _build(path: Path, blob: dict[str, Any]) -> ElemNet:
    """The float32 model of a checked file; its shapes are compared on the meta device first, so a
    bad architecture string never allocates real memory."""
    n_tensors = len(blob["state_dict"])
    try:
        n_linear = sum(count for _, count, _ in parse_architecture(blob["architecture"])) + 1
        if 2 * n_linear != n_tensors:  # checked before building anything: a count can be 10**9
            raise ValueError(f"{n_linear} layers need {2 * n_linear} tensors, the file holds {n_tensors}")
        with torch.device("meta"):
            skeleton = ElemNet(blob["architecture"], blob["dropout"])
        want = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
        have = {k: tuple(v.shape) for k, v in blob["state_dict"].items()}
        if want != have:
            raise ValueError("the tensor names or shapes differ")
        model = ElemNet(blob["architecture"], blob["dropout"])
        model.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    except (ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: the weights do not fit architecture "
                             f"{blob['architecture']!r} ({exc})") from None
    return model


def load_model(path: str | os.PathLike, *, architecture: str | None = None,
               device: str | torch.device = "cpu") -> ElemNet:
    """Load a model file written by :func:`save_model` (or a run folder of ``hullpack train``: its
    ``best.pt``) as a float32 ElemNet in eval mode, with
    the file's ``metadata`` in ``model.metadata`` (and the weights' sha256 in
    ``model.metadata["sha256"]``). ``architecture``, when given, must match the file's.

    >>> import tempfile, os
    >>> path = save_model(ElemNet("8x1-1", ()), os.path.join(tempfile.mkdtemp(), "m.pt"), metadata={"epoch": 3})
    >>> model = load_model(path)
    >>> model.metadata["epoch"], model.training
    (3, False)
    """
    device = as_device(device)
    return model_from_contents(path, read_model_file(path), architecture=architecture, device=device)


def model_from_contents(path: str | os.PathLike, blob: dict[str, Any], *, architecture: str | None = None,
                        device: str | torch.device = "cpu") -> ElemNet:
    """The model of :func:`read_model_file`'s result ``blob`` (read from ``path``, named in errors)."""
    device = as_device(device)
    if architecture is not None and architecture != blob["architecture"]:
        raise ModelFileError(f"{path} holds architecture {blob['architecture']!r}, not the "
                             f"requested {architecture!r}")
    model = _build(Path(path), blob)
    model.metadata = dict(blob["metadata"])
    model.metadata.setdefault("sha256", blob["sha256"])
    return model.to(device).eval()
