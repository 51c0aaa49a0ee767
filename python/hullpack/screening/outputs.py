"""Output folders of a screen: a folder holds the files of one screen and a ``manifest.json`` that
lists them, so that the files of two screens never mix and a failed write leaves nothing behind.
``hullpack stability`` keeps its folders by the same rules (``kind="stability"``): a folder holds
one kind of run, and a stability run replaces the files the previous one listed.

The rules, checked by :func:`check_folder` (the command line calls it before any work) and applied
by :func:`write_outputs` (every writer of :class:`~hullpack.screening.result.ScreenResult`):

* the path is a folder, or does not exist yet and can be created (a file is refused);
* a folder whose manifest belongs to another screen is refused unless ``overwrite``, which removes
  the files that manifest lists, and nothing else, before the new files move in;
* a folder that holds files named like a screen's outputs but no manifest is refused, overwrite or
  not (nothing says which of its files a screen wrote); other files in the folder are left alone;
* files of the same screen written again (the CSV tables, then the Parquet tables) join its
  manifest;
* files are written into a hidden staging folder inside the folder and moved in only once all of
  them are written; on an error the staging folder is removed and the folder is as it was.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp()) / "out"
>>> [p.name for p in write_outputs(d, "run-1", [lambda s: [s / "a.txt"] if (s / "a.txt").write_text("a") else []])]
['a.txt']
>>> sorted(p.name for p in d.iterdir()), read_manifest(d)["files"][0]["name"]
(['a.txt', 'manifest.json'], 'a.txt')
>>> check_folder(d, "run-2")
Traceback (most recent call last):
...
hullpack.errors.ScreeningError: out ...: holds another screen's outputs (1 file listed in its manifest.json, ...
"""
from __future__ import annotations

import fnmatch
import json
import math
import os
import shutil
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ScreeningError

__all__ = ["MANIFEST", "OUTPUT_PATTERNS", "check_folder", "json_text", "read_manifest", "write_outputs"]

MANIFEST = "manifest.json"
#: names of the files a screen writes (besides ``SYSTEM.png`` plots): a folder holding such files
#: without a manifest is refused
OUTPUT_PATTERNS = ("systems.*", "vertices.*", "points.*", "groups.csv", "groups_*.png")
#: per kind of run: what to call it, and the names of its files
_KINDS = {"screen": ("screen", OUTPUT_PATTERNS),
          # a folder of an earlier release's stability run (no manifest) takes the new files beside its own
          "stability": ("stability run", ())}
_STAGING = ".hullpack-staging-"


def json_text(value, *, indent: int = 1, default=str) -> str:
    """``value`` as standard JSON (RFC 8259), which has no NaN or Infinity: a float that is not
    finite (a bound with nothing to bound, a metric with nothing to count) is written as null, where
    Python's ``json`` writes ``NaN``, which JavaScript's ``JSON.parse`` and other strict readers
    refuse. ``default`` turns what JSON cannot hold (numpy numbers, paths) into something it can.

    >>> json_text({"bound": float("nan"), "n": [1, float("inf"), 0.5]}, indent=None)
    '{"bound": null, "n": [1, null, 0.5]}'
    """
    def finite(v):
        if isinstance(v, float):  # numpy's float64 too
            return v if math.isfinite(v) else None
        if isinstance(v, dict):
            return {k: finite(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [finite(x) for x in v]
        return v

    def default_finite(v):
        return finite(default(v))

    return json.dumps(finite(value), indent=indent, default=default_finite, allow_nan=False)


def read_manifest(folder, *, where: str | None = None) -> dict | None:
    """The manifest of ``folder`` (None if it has none); a ``manifest.json`` that is not one of
    hullpack's raises :class:`~hullpack.errors.ScreeningError`, naming the folder as ``where``
    (default: ``out 'FOLDER'``, the folder a run writes to)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    where = where or f"out {str(folder)!r}"
    todo = "remove it or choose another folder" if where.startswith("out ") else "it is not a hullpack run's folder"
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ScreeningError(f"{where}: {MANIFEST} cannot be read ({exc}); {todo}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list) or "run_id" not in manifest:
        raise ScreeningError(f"{where}: {MANIFEST} is not a hullpack run's manifest; {todo}")
    return manifest


def _listed(manifest: dict) -> list[str]:
    """The plain file names a manifest lists (anything with a path in it is ignored)."""
    names = [str(f.get("name", "")) if isinstance(f, dict) else "" for f in manifest["files"]]
    return [n for n in names if n and n == Path(n).name and n not in (".", "..", MANIFEST)]


def check_folder(folder, run_id: str | None, *, overwrite: bool = False, kind: str = "screen") -> dict | None:
    """Raises :class:`~hullpack.errors.ScreeningError` (naming the folder and what to do) if the
    screen ``run_id`` (None: a screen still to run) may not write into ``folder``; returns the
    folder's manifest, if it has one. Writes nothing. ``kind``: of the run ("screen", "stability");
    a folder whose manifest is another kind's is refused, overwrite or not."""
    what, patterns = _KINDS[kind]
    p = Path(folder)
    where = f"out {str(folder)!r}"
    if p.exists() and not p.is_dir():
        raise ScreeningError(f"{where} is a file, not a folder: give a new or empty folder for the screen's outputs")
    if not p.exists():
        parent = next(a for a in p.absolute().parents if a.exists())
        if not parent.is_dir():
            raise ScreeningError(f"{where}: {str(parent)!r} is a file, so the folder cannot be created")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ScreeningError(f"{where}: cannot create the folder, {str(parent)!r} is not writable")
        return None
    if not os.access(p, os.W_OK | os.X_OK):
        raise ScreeningError(f"{where} is not writable")
    manifest = read_manifest(p)
    if manifest is not None:
        theirs = manifest.get("kind", "screen")
        if theirs != kind:
            raise ScreeningError(f"{where}: holds the outputs of a {_KINDS.get(theirs, (theirs,))[0]}; choose "
                                 "another folder")
        if overwrite or (run_id is not None and manifest["run_id"] == run_id):
            return manifest
        n = len(_listed(manifest))
        raise ScreeningError(f"{where}: holds another {what}'s outputs ({n} file{'' if n == 1 else 's'} listed in "
                             f"its {MANIFEST}, written {manifest.get('written', 'at an unknown time')}); replace "
                             "them with overwrite=True (hullpack screen --overwrite) or choose another folder")
    stray = sorted(f.name for f in p.iterdir() if any(fnmatch.fnmatch(f.name, pat) for pat in patterns))
    if stray:
        raise ScreeningError(f"{where}: holds {what} outputs without a {MANIFEST} ({', '.join(stray[:4])}"
                             f"{' ...' if len(stray) > 4 else ''}), so which files to replace is unknown; remove "
                             "them or choose another folder")
    return None


def write_outputs(folder, run_id: str, writers: Iterable[Callable[[Path], list]], *, overwrite: bool = False,
                  record: dict | None = None, kind: str = "screen") -> list[Path]:
    """Runs each writer on a staging folder (it writes its files there and returns their paths),
    then moves the files into ``folder`` and lists them in its manifest, under the rules above.
    ``record``: more JSON-able fields for the manifest (the command, the screen's settings).
    Returns the paths of the files written, in ``folder``."""
    p = Path(folder)
    previous = check_folder(p, run_id, overwrite=overwrite, kind=kind)
    created = not p.exists()
    p.mkdir(parents=True, exist_ok=True)
    stage = p / f"{_STAGING}{run_id[:12]}-{os.getpid()}"
    done = False
    try:
        stage.mkdir()
        names: list[str] = []
        for writer in writers:
            for path in writer(stage):
                path = Path(path)
                if path.parent.resolve() != stage.resolve() or not path.is_file():
                    raise ScreeningError(f"a writer wrote {str(path)!r}, not a file in the staging folder")
                if path.name not in names:
                    names.append(path.name)
        files = []
        if previous is not None and previous["run_id"] == run_id:
            files = [f for f in previous["files"] if isinstance(f, dict) and f.get("name") not in names]
        elif previous is not None:  # overwrite: the other screen's files go, nothing else
            for name in _listed(previous):
                old = p / name
                if old.is_file() or old.is_symlink():
                    old.unlink()
            (p / MANIFEST).unlink()
        for name in names:
            os.replace(stage / name, p / name)
            files.append({"name": name, "bytes": (p / name).stat().st_size})
        from .. import __version__

        manifest = {"run_id": run_id, "kind": kind, "hullpack": __version__,
                    "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    **(record or {}), "files": files}
        (stage / MANIFEST).write_text(json_text(manifest, indent=1) + "\n")
        os.replace(stage / MANIFEST, p / MANIFEST)
        done = True
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if not done and created:
            try:
                p.rmdir()
            except OSError:
                pass
    return [p / name for name in names]
