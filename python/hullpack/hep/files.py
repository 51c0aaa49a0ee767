"""Graphs saved one per file in a folder, as a dataset read from disk (``hullpack bench-memory
--dataset FOLDER``)."""
from __future__ import annotations

import glob
import os
import re
from typing import Sequence

import torch

__all__ = ["GraphFiles"]


class GraphFiles(torch.utils.data.Dataset):
    """A folder of graphs saved one per file with ``torch.save`` (``.pt`` or ``.pth``), read from
    disk when asked for, in the files' natural order (``graph_2.pt`` before ``graph_10.pt``, so
    PyG's ``processed/data_{i}.pt`` is graph ``i``). ``files`` names them; a file that does not hold
    one graph is refused naming it.

    >>> import tempfile
    >>> from torch_geometric.data import Data
    >>> with tempfile.TemporaryDirectory() as root:
    ...     for i in (2, 10):
    ...         torch.save(Data(x=torch.ones(i, 1), edge_index=torch.zeros(2, 0, dtype=torch.long)), f"{root}/g_{i}.pt")
    ...     folder = GraphFiles.find(root)
    ...     len(folder), folder[1].num_nodes
    (2, 10)
    """

    def __init__(self, files: Sequence[str]):
        self.files = list(files)

    @classmethod
    def find(cls, folder: str) -> "GraphFiles | None":
        """The graph files of ``folder`` (else of ``folder/processed``, leaving out PyG's
        ``pre_filter.pt`` and ``pre_transform.pt``), where there are two or more and the first
        holds one graph; None otherwise (one file of many graphs is given by its own path)."""
        def natural(path: str) -> list:
            return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", os.path.basename(path))]

        for where in (folder, os.path.join(folder, "processed")):
            files = [f for ext in ("pt", "pth") for f in glob.glob(os.path.join(where, f"*.{ext}"))
                     if not os.path.basename(f).startswith("pre_")]
            if files:
                files = sorted(files, key=natural)
                first = cls(files)
                try:
                    single = len(files) > 1 and first._load(0) is not None
                except ValueError:
                    single = False
                return first if single else None
        return None

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, i: int):
        from torch_geometric.data import Data

        try:
            obj = torch.load(self.files[i], weights_only=False)
        except Exception as exc:
            raise ValueError(f"graph {i} ({self.files[i]}): cannot load it with torch.load ({exc})") from None
        if not isinstance(obj, Data):
            raise ValueError(f"graph {i} ({self.files[i]}) holds a {type(obj).__name__}, not one torch_geometric "
                             "Data graph; a folder holds one graph per file (move other files out of it)")
        return obj

    def __getitem__(self, i: int):
        return self._load(int(i))
