"""Where the memory study's datasets come from: :func:`load_dataset` reads one by name (a synthetic
preset, a file of graphs, a folder of graph files or ``module:attribute``) and :func:`as_graphs` turns
what a file or module holds into a dataset of PyG graphs, refusing anything else with what it holds
and what to give; :func:`repeated_datasets` finds a dataset named twice.

>>> len(load_dataset("low", num_events=3)), repeated_datasets(["low", "high", "low"])
(3, [(2, 'low', 'low')])
"""
from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import torch

from .checks import not_graph_hint
from .events import PRESETS
from .files import GraphFiles

#: events per synthetic preset where ``num_events`` (``--events``) is not given
DEFAULT_EVENTS = 300


EXPECTED = ("give a list of torch_geometric Data (x, edge_index; y with one label per edge for validation "
            "metrics), a PyG dataset, or a file written by InMemoryDataset.save")


def load_dataset(spec: str, *, num_events: int = DEFAULT_EVENTS, seed: int = 0, root: str | None = None):
    """A dataset by name: a preset (``"low"``, ``"high"``: ``num_events`` synthetic events), a file
    saved with ``torch.save`` (a list of PyG ``Data`` or a dataset) or written by PyG's
    ``InMemoryDataset.save`` (a ``processed/data.pt``), or ``"module:attribute"`` naming a dataset or
    a function that returns one (e.g. ``"mypackage.data:make_graphs"``). Anything else is refused
    with a ``ValueError`` saying what is expected.

    >>> len(load_dataset("low", num_events=3))
    3
    >>> load_dataset("nonsense")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown dataset 'nonsense': there is no file or folder of that name (a relative path is read from ...); give a preset (high, low), a .pt file or a folder of graph files, or module:attribute
    """
    from .graphs import CollisionGraphs

    if spec in PRESETS:
        return CollisionGraphs(root, preset=spec, num_events=num_events, seed=seed)
    spec = os.path.expanduser(spec)  # ~/data/graphs.pt, which a shell leaves as it is in --dataset=~/...
    if os.path.isdir(spec):
        folder = GraphFiles.find(spec)  # one graph per file, as PyG's on-disk Dataset writes them
        if folder is not None:
            return folder
        import glob  # a PyG dataset's root: its graphs are in a file under processed/

        found = sorted(glob.glob(os.path.join(spec, "processed", "*.pt")) + glob.glob(os.path.join(spec, "*.pt")))
        found = [f for f in found if not os.path.basename(f).startswith("pre_")][:3]  # PyG's pre_filter.pt, ...
        if len(found) == 1:
            try:
                GraphFiles(found)[0]
            except ValueError:  # not one graph: the file of many graphs to give, as below
                pass
            else:
                raise ValueError(f"dataset {spec!r} is a folder of one graph ({found[0]}); the study batches many "
                                 "graphs: save the others beside it, one graph per file")
        raise ValueError(f"dataset {spec!r} is a folder; give the file that holds the graphs"
                         + (f", e.g. {', '.join(found)}" if found else " (no .pt file found in it)"))
    if os.path.isfile(spec) or spec.endswith((".pt", ".pth")):
        if not os.path.exists(spec):
            raise ValueError(f"dataset file {spec!r} does not exist")
        try:
            obj = torch.load(spec, weights_only=False)
        except (AttributeError, ModuleNotFoundError) as exc:  # a class pickled from the saving script
            raise ValueError(f"cannot load dataset file {spec!r} ({exc}): it holds an object of a class that "
                             "cannot be imported here, such as a dataset class defined in the script that saved "
                             "it; save list(dataset) instead, or give module:attribute") from None
        except Exception as exc:
            ext = os.path.splitext(spec)[1].lower()
            why = "the file is empty (0 bytes)" if os.path.getsize(spec) == 0 else str(exc)
            if ext not in ("", ".pt", ".pth") and os.path.getsize(spec):  # numpy, HDF5, ROOT, CSV ...
                why += (f"; a {ext} file is not one torch.save writes: build torch_geometric Data graphs from its "
                        "arrays and save the list with torch.save(graphs, 'graphs.pt')")
            raise ValueError(f"cannot load dataset file {spec!r} with torch.load ({why}); {EXPECTED}") from None
        return as_graphs(obj, spec)
    if ":" in spec:
        import importlib

        module, _, attr = spec.partition(":")
        try:
            obj = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            top = module.split(".")[0]  # the named module itself not found, not a module it imports
            where = (f": {top} must be installed, or its folder on PYTHONPATH (PYTHONPATH=. for a {top}/ or {top}.py "
                     "in the current folder)") if isinstance(exc, ModuleNotFoundError) and exc.name == top else ""
            raise ValueError(f"dataset {spec!r}: cannot import it ({exc}){where}") from None
        except Exception as exc:  # the module's own code failed while it was imported
            raise ValueError(f"dataset {spec!r}: importing module {module!r} failed ({type(exc).__name__}: {exc}); "
                             f"python -c 'import {module}' shows where") from exc
        if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "__getitem__")):  # a dataset class, a function
            try:
                obj = obj()
            except Exception as exc:
                raise ValueError(f"dataset {spec!r}: calling {attr}() failed ({type(exc).__name__}: {exc}); name a "
                                 "dataset, or a class or function that makes one without arguments") from exc
        return as_graphs(obj, spec)
    raise ValueError(_unknown_dataset(spec, sorted(PRESETS)))


def _unknown_dataset(spec: str, presets: list[str]) -> str:
    """Why ``spec`` names no dataset, with the likeliest fix: a preset in other letter case, a module
    and attribute joined by a dot, else a file or folder that is not there (a typo of a path).

    >>> _unknown_dataset("Low", ["high", "low"])
    "unknown dataset 'Low': did you mean the preset 'low'? (presets are lower case); give a preset (high, low), a .pt file or a folder of graph files, or module:attribute"
    >>> _unknown_dataset("json.decoder", ["high", "low"])
    "unknown dataset 'json.decoder': to name an attribute of a module, join them with a colon: json:decoder; give a preset (high, low), a .pt file or a folder of graph files, or module:attribute"
    """
    import importlib.util

    options = f"give a preset ({', '.join(presets)}), a .pt file or a folder of graph files, or module:attribute"
    if spec.lower() in presets:
        return (f"unknown dataset {spec!r}: did you mean the preset {spec.lower()!r}? (presets are lower case); "
                f"{options}")
    head, _, tail = spec.rpartition(".")
    top = head.split(".")[0]
    if top.isidentifier() and tail.isidentifier() and importlib.util.find_spec(top) is not None:
        return (f"unknown dataset {spec!r}: to name an attribute of a module, join them with a colon: "
                f"{head}:{tail}; {options}")
    return (f"unknown dataset {spec!r}: there is no file or folder of that name (a relative path is read from "
            f"{os.getcwd()}); {options}")


def as_graphs(obj: Any, name: str):
    """``obj`` as a dataset of PyG graphs: a list or dataset of ``Data`` as it is, the
    ``(data, slices[, class])`` tuple of ``InMemoryDataset.save`` as an ``InMemoryDataset``; a
    ``ValueError`` naming ``name`` and what it holds otherwise.

    >>> as_graphs({"train": [], "val": []}, "d.pt")
    Traceback (most recent call last):
    ...
    ValueError: dataset 'd.pt' holds a dict (keys 'train', 'val'): save one of its lists of graphs on its own, torch.save(d['train'], path); give a list of torch_geometric Data (x, edge_index; y with one label per edge for validation metrics), a PyG dataset, or a file written by InMemoryDataset.save
    """
    from torch_geometric.data import Data, InMemoryDataset
    from torch_geometric.data.data import BaseData

    if isinstance(obj, tuple) and len(obj) in (2, 3) and isinstance(obj[0], (dict, BaseData)) \
            and isinstance(obj[1], dict):  # InMemoryDataset.save, or torch.save(collate(...)) of older PyG
        data, slices = obj[0], obj[1]
        cls = obj[2] if len(obj) == 3 else Data
        dataset = InMemoryDataset()
        dataset._data, dataset.slices = (cls.from_dict(data) if isinstance(data, dict) else data), slices
        return dataset
    if isinstance(obj, BaseData):
        folder = os.path.dirname(name) or "."
        beside = f", or give its folder, --dataset {folder}, read as one graph per file" \
            if os.path.isfile(name) and GraphFiles.find(folder) is not None else ""
        raise ValueError(f"dataset {name!r} is a single graph ({type(obj).__name__}); the study batches many "
                         f"graphs: save a list of them, torch.save([graph, ...], path){beside}")
    if isinstance(obj, dict) and obj:  # splits saved together, {"train": [...], "val": [...]}
        keys = ", ".join(repr(k) for k in list(obj)[:5])
        raise ValueError(f"dataset {name!r} holds a dict (keys {keys}): save one of its lists of graphs on its own, "
                         f"torch.save(d[{next(iter(obj))!r}], path); {EXPECTED}")
    if isinstance(obj, (str, bytes, dict, np.ndarray)) or torch.is_tensor(obj) or not (hasattr(obj, "__len__") and hasattr(obj, "__getitem__")):
        raise ValueError(f"dataset {name!r} holds a {type(obj).__name__}; {EXPECTED}")
    if len(obj) == 0:
        raise ValueError(f"dataset {name!r} holds no graphs; {EXPECTED}")
    items = obj if isinstance(obj, (list, tuple)) else [obj[0]]
    bad = next((i for i, g in enumerate(items) if not isinstance(g, BaseData)), None)
    if bad is not None:
        hint = not_graph_hint(items[bad])
        raise ValueError(f"dataset {name!r}: item {bad} is a {type(items[bad]).__name__}, not a graph"
                         + (hint or f"; {EXPECTED}"))
    return list(obj) if isinstance(obj, tuple) else obj



def repeated_datasets(specs: Sequence[str]) -> list[tuple[int, str, str]]:
    """``(position, spec, earlier spec)`` for every dataset named again: the same name, or the same file or
    folder by another path (``g.pt`` and ``./g.pt``, a link to it). A preset is its name, whatever files exist.

    >>> repeated_datasets(["low", "high", "low"])
    [(2, 'low', 'low')]
    """
    seen: dict[Any, str] = {}
    out = []
    for i, spec in enumerate(specs):
        key: Any = spec
        if spec not in PRESETS and os.path.exists(spec):  # a file, or a folder of graph files
            st = os.stat(spec)
            key = (st.st_dev, st.st_ino)
        if key in seen:
            out.append((i, spec, seen[key]))
        else:
            seen[key] = spec
    return out
