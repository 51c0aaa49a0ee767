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

A screen's folder is written by :func:`save_screen` (:meth:`ScreenResult.save
<hullpack.screening.result.ScreenResult.save>`) and read back by :func:`read_screen` and
:func:`read_shard_folders` (:meth:`ScreenResult.read <hullpack.screening.result.ScreenResult.read>`,
:meth:`ScreenResult.read_shards <hullpack.screening.result.ScreenResult.read_shards>`).

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
import importlib.util
import json
import math
import os
import shutil
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ..errors import ScreeningError
from ..naming import plural
from .dft import plot_group_heatmaps
from .names import parse_system, system_name

__all__ = ["MANIFEST", "OUTPUT_PATTERNS", "check_folder", "json_text", "read_manifest", "read_screen",
           "read_shard_folders", "save_screen", "write_outputs"]

MANIFEST = "manifest.json"
#: names of the files a screen writes (besides ``SYSTEM.png`` plots): a folder holding such files
#: without a manifest is refused
OUTPUT_PATTERNS = ("systems.*", "vertices.*", "points.*", "groups.csv", "groups_*.png")
#: per kind of run: what to call it, and the names of its files
_KINDS = {"screen": ("screen", OUTPUT_PATTERNS),
          # a folder of an earlier release's stability run (no manifest) takes the new files beside its own
          "stability": ("stability run", ())}
_STAGING = ".hullpack-staging-"
# what shards of one screen share (ScreenResult.concat refuses others)
_SAME_IN_EVERY_SHARD = ("order", "elements", "grid", "n_points", "min_depth", "match_tol", "model", "dft")
#: the tables of a screen, as files in its folder (``systems.parquet`` / ``systems.csv``)
_TABLES = ("systems", "vertices", "points")
#: what :func:`read_screen` takes from a folder's manifest besides its files (the settings,
#: the counts and times, and each table's column types); a folder whose manifest lacks one was
#: written by an earlier release
_MANIFEST_NEEDS = ("config", "stats", "tables")
#: the type pandas gives a column of text it reads or builds (``str`` in pandas 3, ``object`` before)
_TEXT = pd.Series([""]).dtype


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
        shard = (manifest.get("config") or {}).get("shard") if kind == "screen" else None
        if shard:  # shards of one screen into one folder: replacing one loses it
            raise ScreeningError(f"{where}: holds the outputs of shard {shard[0]}/{shard[1]} of a screen; each shard "
                                 "needs a folder of its own (part0, part1, ...), which hullpack screen --merge part0 "
                                 "part1 ... --out all (ScreenResult.read_shards) joins into the whole screen; or "
                                 "replace that shard's outputs with overwrite=True (hullpack screen --overwrite)")
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


def _need(module: str, what: str, extra: str, instead: str = "") -> None:
    """ImportError naming the extra that installs ``module``, before ``what`` starts any work."""
    if importlib.util.find_spec(module) is None:
        raise ImportError(f'{what}: needs {module}, which is not installed: pip install "hullpack[{extra}]"{instead}')


def _read_table(path: Path, types: dict) -> pd.DataFrame:
    """One table of a screen's folder (Parquet or CSV) with the column types ``types`` recorded
    by :func:`save_screen`: text stays text (an empty ``stable`` is "", the formula ``NaN``
    is no missing value) and counts, flags and missing values keep their pandas types."""
    is_text = {c: t in ("object", "str", "string") for c, t in types.items()}
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
    else:
        # pandas before 3 reads a float's shortest repr back exactly only with the round-trip parser
        exact = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
        df = pd.read_csv(path, dtype={c: str for c, t in is_text.items() if t}, keep_default_na=False,
                         na_values={c: [""] for c, t in is_text.items() if not t}, **exact)
    if list(df.columns) != list(types):
        raise ScreeningError(f"{path}: its columns are not those its manifest.json records: was it edited? "
                             "Screen it again (the same options, --overwrite)")
    try:
        return df.astype({c: _TEXT if is_text[c] else t for c, t in types.items() if str(df[c].dtype) != t})
    except (TypeError, ValueError) as exc:
        raise ScreeningError(f"{path}: a column does not hold the type its manifest.json records ({exc}); "
                             "screen it again (the same options, --overwrite)") from None


def save_screen(result, directory, *, csv: bool = True, parquet: bool = True, groups: bool = False,
                heatmaps: bool = False, plots=(), overwrite: bool = False, record: dict | None = None) -> list[Path]:
    """Writes the files of :meth:`ScreenResult.save
    <hullpack.screening.result.ScreenResult.save>` for ``result``; returns their paths."""
    tables = {"systems": result.systems, "vertices": result.vertices, "points": result.points}
    names = [system_name(n) for n in plots]  # bad names fail before writing
    if parquet:  # missing libraries, too, before writing
        _need("pyarrow", "ScreenResult.save(parquet=True)", "parquet", " (or parquet=False)")
    if heatmaps or any(len(parse_system(n)) <= 3 for n in names):
        _need("matplotlib", "ScreenResult.save(plots=..., heatmaps=...)", "plot")

    def write_tables(suffix, write):
        def writer(d):
            paths = [d / f"{name}.{suffix}" for name, df in tables.items() if df is not None]
            for path in paths:
                write(tables[path.stem], path)
            return paths
        return writer

    group_table = result.group_table() if groups or heatmaps else None  # needs the DFT comparison

    def write_groups(d):
        group_table.to_csv(d / "groups.csv", index=False)
        return [d / "groups.csv"]

    def write_plot(d, name):
        if len(parse_system(name)) > 3:  # quaternaries: a table, not a figure
            result.system_table(name).to_csv(d / f"{name}.csv", index=False)
            return [d / f"{name}.csv"]
        result.plot_system(name, d / f"{name}.png")
        return [d / f"{name}.png"]

    writers = []
    if csv:
        writers.append(write_tables("csv", lambda df, path: df.to_csv(path, index=False)))
    if parquet:
        writers.append(write_tables("parquet", lambda df, path: df.to_parquet(path, index=False)))
    if groups:
        writers.append(write_groups)
    if heatmaps:
        writers.append(lambda d: plot_group_heatmaps(group_table, d))
    writers += [lambda d, name=name: write_plot(d, name) for name in names]
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in result.config.items()
              if k not in ("grid_array", "run_id")}
    # what read_screen() needs besides the files: counts and times, and the column types CSV loses
    column_types = {name: {c: str(t) for c, t in df.dtypes.items()} for name, df in tables.items() if df is not None}
    return write_outputs(directory, result.run_id, writers, overwrite=overwrite,
                         record={"config": config, "stats": result.stats, "tables": column_types, **(record or {})})


def read_screen(folder) -> tuple[dict, dict, dict]:
    """The tables, ``config`` and ``stats`` of the screen saved in ``folder``, as
    :meth:`ScreenResult.read <hullpack.screening.result.ScreenResult.read>` reads them:
    ``({"systems": .., "vertices": .., "points": ..}, config, stats)``, without ``points`` where the
    folder has none."""
    where = f"screen folder {str(folder)!r}"
    path = Path(folder)
    if not path.is_dir():
        raise ScreeningError(f"{where} {'is a file, not a folder' if path.exists() else 'does not exist'}: "
                             "give a folder written by hullpack screen --out")
    manifest = read_manifest(path, where=where)
    if manifest is None:
        raise ScreeningError(f"{where} has no {MANIFEST}: it is not a folder written by hullpack screen --out")
    if manifest.get("kind", "screen") != "screen":
        raise ScreeningError(f"{where} holds the outputs of a {manifest['kind']} run, not of a screen")
    lacking = [k for k in _MANIFEST_NEEDS if not isinstance(manifest.get(k), dict)]
    lacking += [f"config.{k}" for k in (*_SAME_IN_EVERY_SHARD, "shard") if "config" not in lacking
                and k not in manifest["config"]]
    if lacking:
        from .. import __version__

        raise ScreeningError(f"{where} was written by hullpack {manifest.get('hullpack', 'of an unknown version')}, "
                             f"whose {MANIFEST} lacks {', '.join(lacking)}, which reading a screen back needs: "
                             f"screen it again with hullpack {__version__} (the same options, --overwrite)")
    listed = {f.get("name") for f in manifest["files"] if isinstance(f, dict)}
    parquet_ok = importlib.util.find_spec("pyarrow") is not None
    tables = {}
    for name in _TABLES:
        kinds = [k for k in ("parquet", "csv") if f"{name}.{k}" in listed and (k == "csv" or parquet_ok)]
        types = manifest["tables"].get(name)
        if not kinds or types is None:
            if name == "points":
                continue
            more = (f" ({name}.parquet needs pyarrow: pip install \"hullpack[parquet]\")"
                    if f"{name}.parquet" in listed else " (hullpack screen --plot-only writes no tables)")
            raise ScreeningError(f"{where} holds no {name} table{more}")
        file = path / f"{name}.{kinds[0]}"
        if not file.is_file():
            raise ScreeningError(f"{where}: {file.name}, listed in its {MANIFEST}, is missing; screen it again "
                                 "(the same options, --overwrite)")
        tables[name] = _read_table(file, types)
    config = dict(manifest["config"])
    if config.get("shard") is not None:
        config["shard"] = tuple(config["shard"])
    config["run_id"] = manifest["run_id"]  # written again into this folder, it is the same screen
    return tables, config, dict(manifest["stats"])


def read_shard_folders(folders, read) -> tuple[list, list[str]]:
    """The results of a screen's shards, read from ``folders`` (in any order) by ``read``, and their
    folders, both in shard order, for :meth:`ScreenResult.read_shards
    <hullpack.screening.result.ScreenResult.read_shards>` to merge; refuses what that refuses."""
    folders = [str(f) for f in folders]
    if not folders:
        raise ScreeningError("no shard folders to merge")
    seen: dict[Path, str] = {}
    for f in folders:
        key = Path(f).resolve()
        if key in seen:
            both = "" if seen[key] == f else f" ({seen[key]!r} and {f!r} are one folder)"
            raise ScreeningError(f"shard folder {f!r} is given twice{both}; give each shard's folder once")
        seen[key] = f
    parts = [read(f) for f in folders]
    shards = [p.config.get("shard") for p in parts]
    whole = [f for f, sh in zip(folders, shards) if sh is None]
    if whole:
        raise ScreeningError(f"screen folder {whole[0]!r} holds a whole screen, not a shard (written without "
                             "--shard, or merged already): merge only the folders of one screen's shards")
    splits = list(dict.fromkeys(n for _, n in shards))
    if len(splits) > 1:
        raise ScreeningError("these folders hold shards of different splits of the systems: "
                             + ", ".join(f"{f}: {i}/{n}" for f, (i, n) in zip(folders, shards)))
    n = splits[0]
    by_index: dict[int, str] = {}
    for f, (i, _) in zip(folders, shards):
        if i in by_index:
            raise ScreeningError(f"shard {i}/{n} is given twice: {by_index[i]!r} and {f!r}; give each shard "
                                 "once")
        by_index[i] = f
    missing = [i for i in range(n) if i not in by_index]
    if missing:
        one = len(missing) == 1
        raise ScreeningError(f"{plural(len(missing), 'shard')} of {n} {'is' if one else 'are'} missing "
                             f"({', '.join(f'{i}/{n}' for i in missing[:10])}{' ...' if len(missing) > 10 else ''}): "
                             f"screen {'it' if one else 'them'} with hullpack screen --shard {missing[0]}/{n}"
                             f"{'' if one else ' (and so on)'} and the same options, and give "
                             f"{'its folder' if one else 'their folders'} too")
    order = sorted(range(len(parts)), key=lambda k: shards[k][0])
    return [parts[k] for k in order], [folders[k] for k in order]
