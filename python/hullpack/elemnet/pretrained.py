"""The default ElemNet shipped with hullpack, and the export that produces it from a run."""
from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import torch

from ..errors import ModelFileError
from .data import data_dir
from .io import as_device, load_model, model_from_contents, read_model_file, save_model
from .model import ElemNet

log = logging.getLogger(__name__)

DEFAULT_FILE = "elemnet_default.pt"
#: the shipped default model, kept beside it when an export replaces it (:func:`export_default`)
SHIPPED_BACKUP_FILE = "elemnet_default.shipped.pt"
#: sha256 of every byte of the default file shipped in format 1, whose own digest covers only the
#: weights: the pin covers its header (architecture, drop rates, metadata) too. Files of format 2
#: (what :func:`export_default` writes) carry a digest of all their bytes and need no pin.
SHIPPED_V1_SHA256 = "4891c804182f6278fc4efdcf4071899192cf5f5d36a68b7b7899f933f13ca727"

#: the weights' sha256 of the shipped default model
SHIPPED_WEIGHTS_SHA256 = "11c1252c00bc915c1e7b2f53c25ee1c32577462fd6c3ae442ebdb930e991e655"
#: the shipped model's errors on the OQMD test split by number of elements of the compound:
#: [MAE, median absolute error (eV/atom), compounds]. Binaries' errors have a long tail (MAE 0.096,
#: median 0.038) beside the 0.042 of all; tests/test_elemnet_finetune_user.py measures them again.
#: A model :func:`export_default` writes records its own (metadata ``test_errors_by_elements``).
SHIPPED_TEST_ERRORS = {"2": [0.0963, 0.0381, 2460], "3": [0.0412, 0.0147, 39377], "4": [0.0304, 0.0169, 9143],
                       "5": [0.0458, 0.0251, 240], "6": [0.0717, 0.0504, 25], "7": [0.0582, 0.0632, 6]}


def errors_by_elements(x, y, predicted) -> dict[str, list]:
    """:data:`SHIPPED_TEST_ERRORS`' table of any model's ``predicted`` energies against ``y`` for
    the fractions ``x`` (numpy arrays): by number of elements present (as a string, a JSON key).

    >>> import numpy as np
    >>> errors_by_elements(np.array([[0.5, 0.5, 0], [1, 0, 0], [0.2, 0.3, 0.5]]), np.zeros(3), np.array([0.1, 0.2, -0.3]))
    {'1': [0.2, 0.2, 1], '2': [0.1, 0.1, 1], '3': [0.3, 0.3, 1]}
    """
    import numpy as np

    err = np.abs(np.asarray(predicted, dtype=np.float64) - np.asarray(y, dtype=np.float64))
    n = (np.asarray(x) > 0).sum(axis=1)
    return {str(k): [round(float(err[n == k].mean()), 4), round(float(np.median(err[n == k])), 4), int((n == k).sum())]
            for k in np.unique(n).tolist()}


def model_test_errors(model) -> dict[str, list] | None:
    """The OQMD test-split errors by number of elements (:data:`SHIPPED_TEST_ERRORS`' form) of a
    hullpack model: those its file records, the shipped model's, or None (unknown).

    >>> model_test_errors(load_pretrained())["2"]
    [0.0963, 0.0381, 2460]
    """
    meta = getattr(model, "metadata", None) or {}
    if meta.get("test_errors_by_elements") is not None:
        return dict(meta["test_errors_by_elements"])
    return dict(SHIPPED_TEST_ERRORS) if meta.get("sha256") == SHIPPED_WEIGHTS_SHA256 else None


#: eV/atom: errors on compounds of one number of elements are quoted beside the MAE over all
#: (``test_mae``) where they differ from it by more than this
ERRORS_APART = 0.005


def errors_apart(errors: dict | None, n_elements: int, mae: float) -> list | None:
    """The ``[MAE, median, compounds]`` of compounds of ``n_elements`` in ``errors`` (a
    :func:`model_test_errors` table, or one read back from a screen's config), where known and more
    than :data:`ERRORS_APART` from ``mae``; None otherwise (nothing worth saying beside ``mae``).

    >>> errors_apart(SHIPPED_TEST_ERRORS, 2, 0.042), errors_apart(SHIPPED_TEST_ERRORS, 3, 0.042)
    ([0.0963, 0.0381, 2460], None)
    """
    these = (errors or {}).get(str(n_elements))
    return these if these and abs(these[0] - mae) > ERRORS_APART else None


def default_path() -> Path:
    """Where the shipped default model file lives (``hullpack/data/elemnet_default.pt``).

    >>> default_path().relative_to(default_path().parents[2]).as_posix()
    'hullpack/data/elemnet_default.pt'
    """
    return data_dir() / DEFAULT_FILE


def shipped_backup_path() -> Path:
    """Where the shipped default model is kept once an export has replaced it
    (``hullpack/data/elemnet_default.shipped.pt``; copied back over :func:`default_path`, it is the
    default again).

    >>> shipped_backup_path().name
    'elemnet_default.shipped.pt'
    """
    return data_dir() / SHIPPED_BACKUP_FILE


def load_pretrained(device: str | torch.device = "cpu") -> ElemNet:
    """The default ElemNet, trained on the OQMD train split and selected on val, in eval mode, on
    ``device``. Its training facts (epoch, val and test MAE in eV/atom, settings) are in
    ``model.metadata``. To load another model file, use :func:`hullpack.elemnet.load_model`.

    >>> model = load_pretrained()
    >>> sorted(k for k in model.metadata if k.endswith("_mae"))
    ['test_mae', 'val_mae']
    >>> model.predict(["Fe2O3"]).shape
    (1,)
    """
    def not_a_device(path: str | bytes | os.PathLike) -> TypeError:
        return TypeError(f"load_pretrained(device={path!r}): that is a file path, not a device; "
                         f"load a model file with hullpack.elemnet.load_model({os.fsdecode(path)!r})")

    if isinstance(device, (os.PathLike, bytes)) or (
            isinstance(device, str) and (device.endswith(".pt") or "/" in device or os.sep in device)):
        raise not_a_device(device)
    try:
        device = as_device(device)
    except ValueError:
        if isinstance(device, str) and os.path.exists(device):  # a run folder or a model file here, named alone
            raise not_a_device(device) from None
        raise
    path = default_path()
    if not path.is_file():
        raise ModelFileError(f"the default model file {path} is not installed; reinstall hullpack "
                             "or export one with `hullpack train --export RUN_DIR`")
    blob = read_model_file(path)
    if blob["format_version"] == 1 and blob["file_sha256"] != SHIPPED_V1_SHA256:
        raise ModelFileError(f"the default model file {path} is not the one hullpack shipped (sha256 "
                             f"{blob['file_sha256'][:16]}..., shipped {SHIPPED_V1_SHA256[:16]}...): "
                             "reinstall hullpack")
    return model_from_contents(path, blob, device=device)


def resolve_model(spec: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> ElemNet:
    """The model that ``spec`` names, where a command or a run takes a model: ``None`` or
    ``"default"``, the shipped model (:func:`load_pretrained`); else a model file or a run folder
    of ``hullpack train`` (:func:`~hullpack.elemnet.load_model`). Its ``source`` attribute says
    which, in words (what a fine-tuning run records as its start).

    >>> resolve_model("default").source
    'the shipped default model (elemnet_default.pt)'
    """
    if spec is None or (isinstance(spec, str) and spec == "default"):
        model, source = load_pretrained(device), f"the shipped default model ({DEFAULT_FILE})"
    else:
        model, source = load_model(spec, device=device), os.fspath(spec)
    model.source = source
    return model


def export_default(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, *,
                   dtype: str = "float16", overwrite: bool = False) -> dict:
    """Export the best-val weights of a training run (``RUN_DIR/best.pt``) as a model file
    (``out``; None: the default model inside the installed package), fp16 by default (~9 MB),
    after evaluating its test-split MAE once, on the exported (rounded) weights; the MAE goes into
    the file's metadata. Returns that metadata.

    Replacing the default model takes ``overwrite=True`` (``hullpack train --export RUN_DIR --out
    default --overwrite``): every command and :func:`load_pretrained` use it from then on. The
    shipped file is first kept as :func:`shipped_backup_path` (where none is kept yet), and a
    warning gives the new test MAE against the replaced model's and how to restore the shipped one.

    This is the only place hullpack looks at the OQMD test split. ``test_data`` in the metadata
    names it; a run trained on other data (``trained_on``: ``hullpack train --data``, fine-tuning
    on one's own table) is measured there too, and a warning says that this is no held-out part of
    its own data (which may even hold test compositions).
    """
    from .data import oqmd_arrays
    from .train import OQMD_SOURCE, evaluate_mae

    run_dir = Path(run_dir)
    best = run_dir / "best.pt" if run_dir.is_dir() else run_dir  # a run folder, or its best.pt named
    src = read_model_file(run_dir)  # a folder without best.pt is named as such
    model = load_model(best)
    out = Path(out) if out is not None else default_path()
    # said before the test MAE is measured (seconds); the default named by its path is the default too
    replaced = _replaceable_default(overwrite) if out.resolve() == default_path().resolve() else None
    meta = dict(src.get("metadata") or {})
    meta.update({"source_run": str(best.parent.resolve()), "weights_dtype": dtype,
                 "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
    tmp = out.with_name(out.name + ".export")
    save_model(model, tmp, metadata=meta, dtype=dtype)
    rounded = load_model(tmp)  # the MAE is that of the weights as shipped
    x, y = oqmd_arrays("test")
    meta["test_mae"] = evaluate_mae(rounded, torch.from_numpy(x), torch.from_numpy(y))
    with torch.no_grad():
        predicted = torch.cat([rounded(torch.from_numpy(x[i:i + 8192])) for i in range(0, len(x), 8192)])
    meta["test_errors_by_elements"] = errors_by_elements(x, y, predicted.numpy().ravel())
    meta["n_test"] = int(len(y))
    meta["test_data"] = "OQMD test split (hullpack/data/oqmd)"
    trained_on = meta.get("trained_on", OQMD_SOURCE)
    if trained_on != OQMD_SOURCE:
        log.warning("%s was trained on %s: its test_mae is measured on the OQMD test split, not on a held-out part "
                    "of those data (which may hold test compositions)", run_dir, trained_on)
    meta.setdefault("val_mae", None)
    if replaced is not None:
        _keep_shipped(out)
    save_model(rounded, out, metadata=meta, dtype=dtype)
    tmp.unlink()
    if replaced is not None:
        _say_replaced(out, meta["test_mae"], replaced)
    log.info("exported %s (epoch %s, val MAE %.4f) to %s: test MAE %.4f eV/atom", best,
             meta.get("epoch"), meta.get("val_mae") or float("nan"), out, meta["test_mae"])
    return meta


def _replaceable_default(overwrite: bool) -> dict | None:
    """The metadata of the default model file an export is to replace ({} where it has none,
    None where there is no file): ValueError unless ``overwrite``, as every command would use the
    export from then on."""
    path = default_path()
    if not path.is_file():
        return None
    if not overwrite:
        raise ValueError(f"the default model {path} is the one every command and load_pretrained() use: replace it "
                         "with overwrite=True (--overwrite), which keeps the shipped file as "
                         f"{SHIPPED_BACKUP_FILE}, or export to a file of your own (out=, --out FILE) and give it "
                         "as the model (--model FILE, load_model(FILE))")
    try:
        return dict(read_model_file(path).get("metadata") or {})
    except ModelFileError:  # a damaged default is replaced all the same; its test MAE is unknown
        return {}


def _keep_shipped(default: Path) -> None:
    """Copies the default model file to :func:`shipped_backup_path` before it is first replaced;
    a later export replaces an export, and the shipped file stays kept."""
    backup = shipped_backup_path()
    if not backup.is_file():
        tmp = backup.with_name(backup.name + ".tmp")
        shutil.copy2(default, tmp)
        os.replace(tmp, backup)


def _say_replaced(default: Path, test_mae: float, replaced: dict) -> None:
    """Warns that the default model was replaced: its test MAE against the replaced one's, and how
    to restore the shipped file."""
    old = replaced.get("test_mae")
    than = "the replaced model's is unknown" if old is None else \
        f"{abs(test_mae - old):.4f} {'better' if test_mae < old else 'worse'} than the replaced model's {old:.4f}"
    backup = shipped_backup_path()
    log.warning("replaced the default model %s: its test MAE is %.4f eV/atom, %s; the shipped model is kept as %s: "
                "`cp %s %s` restores it", default, test_mae, than, backup, backup, default)
