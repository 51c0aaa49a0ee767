"""High-throughput convex-hull screening: enumerate binary, ternary or quaternary systems and a
composition grid, predict every point with ElemNet in constant memory, build the lower hull of each system,
and compare the predicted stable compounds with the DFT hull of the known OQMD compounds.

The modules, in the order data flows through them:

- :mod:`~hullpack.screening.pipeline`: :func:`screen`, the request checks and the result tables;
- :mod:`~hullpack.screening.engine`: :class:`InferenceEngine`, streaming predictions of
  (system, grid point) pairs; :mod:`~hullpack.screening.backend`: the layers after the first
  (oneDNN or torch); :mod:`~hullpack.screening.edges`: shared edges and faces;
- :mod:`~hullpack.screening.certify`: :class:`Certifier`, bf16 hulls checked against fp32;
- :mod:`~hullpack.screening.hulls`: hull tolerance, vertex depth, uncertified hulls;
- :mod:`~hullpack.screening.dft`: the comparison with OQMD; :mod:`~hullpack.screening.result`:
  :class:`ScreenResult` and its tables; :mod:`~hullpack.screening.summary`: its summary's lines;
  :mod:`~hullpack.screening.system_plots`: one system's table and plot;
  :mod:`~hullpack.screening.names`: systems and formulas as chemists (and pymatgen) write them;
  :mod:`~hullpack.screening.outputs`: output folders with a manifest, saved and read back.

>>> import torch
>>> from hullpack.elemnet import ElemNet
>>> torch.manual_seed(0) and None
>>> model = ElemNet("32x2-16x1-1", dropout=())          # a small random model
>>> r = screen(model, elements="Fe Ni O Al", grid=20, progress=False)
>>> len(r.systems), list(r.systems.columns[:4])
(6, ['system', 'A', 'B', 'n_points'])
>>> bool(r.systems["n_fp32"].sum() > 0)                 # bf16, certified in fp32 near the hull
True
>>> r.vertices.columns.tolist()[5:]
['formula', 'energy', 'depth', 'end_depth', 'end_artifact', 'end_element', 'charge_balanced']
>>> r.system("O-Fe")["system"], r.config["grid"]          # names: symbols in alphabetical order
('Fe-O', 'uniform:20')
"""
from .certify import Certifier
from .engine import InferenceEngine
from .names import formula_of, system_name
from .grids import DEFAULT_GRID, MAX_INTERVALS, grid_label, grid_spacing, resolve_grid
from .pipeline import DEFAULT_MIN_DEPTH, PRECISIONS, parse_shard, screen
from .result import ScreenResult

__all__ = ["screen", "ScreenResult", "InferenceEngine", "Certifier", "DEFAULT_GRID", "DEFAULT_MIN_DEPTH",
           "MAX_INTERVALS", "PRECISIONS", "parse_shard", "resolve_grid", "grid_label", "grid_spacing",
           "system_name", "formula_of"]
