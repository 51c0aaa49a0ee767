"""Arrays derived from the shipped data, kept on disk between processes (the OQMD compounds of the
screen's DFT comparison and of ``Reference.oqmd``: parsing the 341,700 formulas takes seconds).

Files live in ``$HULLPACK_CACHE_DIR``, else ``$XDG_CACHE_HOME/hullpack`` or ``~/.cache/hullpack``;
``HULLPACK_CACHE_DIR`` set empty turns them off. A file's name holds a digest of the data files
(size and modification time) and of the source files of the code that derives the arrays, so
another release, edited code or other data never read an old file. Files are written whole and
then renamed; a file that cannot be read is derived again and rewritten; an unwritable directory
only costs the saving. Of each kind, the :data:`KEEP` files used last stay (the others are removed
when a new one is written), so that upgrades and edits do not fill the disk."""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import os
import zipfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["cache_file", "oqmd_cache_file", "load_arrays", "save_arrays"]

#: files kept of each kind: the one in use and a few others (several installs sharing the cache)
KEEP = 3


def oqmd_cache_file(kind: str, splits: tuple[str, ...], modules) -> Path | None:
    """:func:`cache_file` for arrays derived from the shipped OQMD ``splits`` by the code of
    ``modules`` (names, e.g. ``"hullpack.elemnet.featurize"``)."""
    from .elemnet.data import oqmd_file

    return cache_file(f"{kind}-{'+'.join(splits)}", [oqmd_file(s) for s in splits],
                      [importlib.import_module(m).__file__ for m in modules])


def cache_file(kind: str, data_files, sources) -> Path | None:
    """The file for ``kind`` derived from ``data_files`` by the code in ``sources`` (paths), or
    None when caching is off or a file cannot be read."""
    root = os.environ.get("HULLPACK_CACHE_DIR")
    if root == "":
        return None
    digest = hashlib.sha256()
    try:  # (Path.home() raises RuntimeError without a home directory)
        base = Path(root) if root else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hullpack"
        for source in sources:
            digest.update(Path(source).read_bytes())
        for path in data_files:
            st = Path(path).stat()
            digest.update(f"{Path(path).name} {st.st_size} {st.st_mtime_ns}".encode())
    except (OSError, RuntimeError):
        return None
    return base / f"{kind}-{digest.hexdigest()[:16]}.npz"


def load_arrays(path: Path | None, names) -> dict | None:
    """The arrays ``names`` from ``path`` (no pickled objects), or None if there is no such file or
    it cannot be read."""
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in names}
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):  # damaged: derived again and rewritten
        return None
    try:
        os.utime(path)  # used now: the last to be pruned
    except OSError:
        pass
    return arrays


def save_arrays(path: Path | None, **arrays) -> None:
    """Writes ``arrays`` to ``path`` whole (a temporary file, then a rename); quietly does nothing
    where that is not possible."""
    if path is None:
        return
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except OSError as exc:  # a read-only home, say: the cache is only a saving
        log.debug("not cached at %s: %s", path, exc)
        with contextlib.suppress(OSError):  # its folder may be no folder at all
            tmp.unlink(missing_ok=True)
        return
    _prune(path)


def _prune(path: Path) -> None:
    """Removes the files of ``path``'s kind beyond the :data:`KEEP` used last."""
    kind = path.name.rsplit("-", 1)[0]
    try:
        files = sorted((f for f in path.parent.glob(f"{kind}-*.npz") if f.name.rsplit("-", 1)[0] == kind),
                       key=lambda f: f.stat().st_mtime_ns, reverse=True)
        for old in files[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError as exc:  # another process pruning at the same time: it does the same
        log.debug("cache not pruned: %s", exc)
