"""Exa.TrkX-style hit graphs and a PyG dataset of them.

Edges join hits on adjacent barrel layers (inner to outer) that pass two geometric cuts: the
azimuthal slope ``|dphi / dr| < phi_slope_max`` (a pT threshold) and the extrapolated origin along
the beam ``|z0| < z0_max``. An edge is true when both hits belong to the same particle (adjacent
layers, so they are consecutive hits of its track). Node features are ``(r, phi, z)``, edge
features ``(dr, dphi, dz, dR)`` with ``dR = sqrt(deta^2 + dphi^2)``, scaled to order one.

>>> from hullpack.hep import CollisionGraphs
>>> ds = CollisionGraphs(preset="low", num_events=4, seed=0)
>>> len(ds), ds.sizes.shape
(4, (4, 2))
>>> g = ds[0]
>>> g.x.shape[1], g.edge_attr.shape[1], g.y.shape[0] == g.num_edges
(3, 4, True)
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch_geometric.data import Data, InMemoryDataset

from .._progress import progress
from .events import EventConfig, generate_event, get_preset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GraphCuts:
    """Geometric cuts of the graph construction (mm, rad).

    The default ``phi_slope_max`` keeps particles down to about 0.5 GeV at 2 T, so every true
    segment of the generated tracks (pT >= 0.7 GeV) passes.
    """

    phi_slope_max: float = 0.0007
    z0_max: float = 200.0


def _pair_candidates(phi_a: np.ndarray, phi_b: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (i, j) with the azimuth of b[j] within ``width`` of a[i], wrapping at +-pi."""
    order = np.argsort(phi_b, kind="stable")
    sb = phi_b[order]
    # three copies shifted by 2 pi handle the wrap-around with one sorted search
    ext = np.concatenate([sb - 2 * np.pi, sb, sb + 2 * np.pi])
    ext_idx = np.concatenate([order, order, order])
    lo = np.searchsorted(ext, phi_a - width, side="left")
    hi = np.searchsorted(ext, phi_a + width, side="right")
    counts = hi - lo
    total = int(counts.sum())
    src = np.repeat(np.arange(phi_a.size), counts)
    start = np.repeat(lo - np.cumsum(counts) + counts, counts)
    return src, ext_idx[start + np.arange(total)]


def build_graph(hits: dict[str, np.ndarray], radii, cuts: GraphCuts = GraphCuts()):
    """Edges of one event's hits: ``(edge_index (2, E), truth (E,))`` as numpy arrays.

    ``hits`` is what :func:`~hullpack.hep.events.generate_event` returns (ordered by layer).

    >>> from hullpack.hep.events import PRESETS, generate_event
    >>> hits = generate_event(PRESETS["low"], 0, 0)
    >>> ei, truth = build_graph(hits, PRESETS["low"].radii)
    >>> bool((hits["layer"][ei[1]] == hits["layer"][ei[0]] + 1).all())
    True
    >>> pid = hits["particle_id"]
    >>> bool((truth == ((pid[ei[0]] == pid[ei[1]]) & (pid[ei[0]] >= 0))).all())
    True
    """
    layer, r, phi, z = hits["layer"], hits["r"], hits["phi"], hits["z"]
    pid = hits["particle_id"]
    bounds = np.searchsorted(layer, np.arange(len(radii) + 1))
    srcs, dsts = [], []
    for l in range(len(radii) - 1):
        a0, a1, b0, b1 = bounds[l], bounds[l + 1], bounds[l + 1], bounds[l + 2]
        if a1 == a0 or b1 == b0:
            continue
        dr = radii[l + 1] - radii[l]
        i, j = _pair_candidates(phi[a0:a1], phi[b0:b1], cuts.phi_slope_max * dr)
        i, j = i + a0, j + b0
        dphi = np.angle(np.exp(1j * (phi[j] - phi[i])))
        z0 = z[i] - r[i] * (z[j] - z[i]) / (r[j] - r[i])
        keep = (np.abs(dphi) < cuts.phi_slope_max * (r[j] - r[i])) & (np.abs(z0) < cuts.z0_max)
        srcs.append(i[keep])
        dsts.append(j[keep])
    src = np.concatenate(srcs) if srcs else np.zeros(0, np.int64)
    dst = np.concatenate(dsts) if dsts else np.zeros(0, np.int64)
    truth = (pid[src] == pid[dst]) & (pid[src] >= 0)
    return np.stack([src, dst]).astype(np.int64), truth


def event_graph(config: EventConfig | str, seed: int, index: int, cuts: GraphCuts = GraphCuts()) -> Data:
    """One event as a PyG ``Data``: ``x`` (r, phi, z), ``edge_index``, ``edge_attr``, ``y`` (0/1 per edge).

    >>> g = event_graph("low", seed=0, index=1)
    >>> g.y.dtype, bool(g.y.sum() > 0)
    (torch.float32, True)
    """
    config = get_preset(config)
    hits = generate_event(config, seed, index)
    ei, truth = build_graph(hits, config.radii, cuts)
    r, phi, z = hits["r"], hits["phi"], hits["z"]
    s, d = ei
    dr, dz = r[d] - r[s], z[d] - z[s]
    dphi = np.angle(np.exp(1j * (phi[d] - phi[s])))
    eta = np.arcsinh(z / r)
    dR = np.hypot(eta[d] - eta[s], dphi)
    x = np.stack([r / 1000.0, phi / np.pi, z / 1000.0], axis=1)
    edge_attr = np.stack([dr / 1000.0, dphi * 10.0, dz / 1000.0, dR], axis=1)
    return Data(x=torch.from_numpy(x.astype(np.float32)), edge_index=torch.from_numpy(ei),
                edge_attr=torch.from_numpy(edge_attr.astype(np.float32)),
                y=torch.from_numpy(truth.astype(np.float32)))


class CollisionGraphs(InMemoryDataset):
    """``num_events`` synthetic events of a preset (``"low"``, ``"high"`` or an :class:`EventConfig`)
    as an in-memory PyG dataset of hit graphs, with each graph's ``(num_nodes, num_edges)`` in
    :attr:`sizes`.

    With ``root`` the graphs are generated once and cached under ``root/processed`` (the file
    name encodes the config, cuts, seed and count); without it they live only in memory.
    Event ``i`` depends only on ``(seed, i)``, so a larger dataset extends a smaller one.
    ``log_progress=False`` hides the progress bar of the generation (shown only on a terminal).

    >>> ds = CollisionGraphs(preset="high", num_events=3, seed=1)
    >>> ds.sizes[:, 1].tolist() == [g.num_edges for g in ds]
    True
    """

    def __init__(self, root: str | None = None, preset: EventConfig | str = "high", num_events: int = 1000,
                 seed: int = 0, cuts: GraphCuts = GraphCuts(), transform=None, log_progress: bool = True):
        if int(num_events) < 1:
            raise ValueError(f"num_events = {num_events} must be >= 1")
        self.config = get_preset(preset)
        self.preset_name = preset if isinstance(preset, str) else "custom"
        self.num_events, self.seed, self.cuts = int(num_events), int(seed), cuts
        key = json.dumps([asdict(self.config), asdict(cuts), self.seed, self.num_events], sort_keys=True)
        self._tag = f"{self.preset_name}_{self.num_events}_{self.seed}_{hashlib.sha1(key.encode()).hexdigest()[:10]}"
        self._cache_on_disk = root is not None
        self._log_progress = bool(log_progress)
        super().__init__(root, transform, log=False)
        if root is None:
            self.data, self.slices = self.collate(self._generate())
            self._sizes = self._compute_sizes()
        else:
            self.load(self.processed_paths[0])
            self._sizes = np.load(self.processed_paths[1])

    @property
    def raw_file_names(self) -> list[str]:
        return []

    @property
    def processed_file_names(self) -> list[str]:
        return [f"events_{self._tag}.pt", f"sizes_{self._tag}.npy"]

    @property
    def has_process(self) -> bool:  # without a root nothing is cached on disk
        return self._cache_on_disk

    def _generate(self) -> list[Data]:
        bar = progress(range(self.num_events), desc=f"generating {self.preset_name} events", unit="event",
                       show=None if self._log_progress else False)
        return [event_graph(self.config, self.seed, i, self.cuts) for i in bar]

    def _compute_sizes(self) -> np.ndarray:
        nodes = np.diff(self.slices["x"].numpy())
        edges = np.diff(self.slices["edge_index"].numpy())
        return np.stack([nodes, edges], axis=1).astype(np.float64)

    def process(self) -> None:
        graphs = self._generate()
        self.save(graphs, self.processed_paths[0])
        self.data, self.slices = self.collate(graphs)
        np.save(self.processed_paths[1], self._compute_sizes())
        log.info("saved %d events to %s", len(graphs), self.processed_paths[0])

    @property
    def sizes(self) -> np.ndarray:
        """``(len(self), 2)`` float64 array: ``num_nodes`` and ``num_edges`` of every graph."""
        return self._sizes[np.asarray(self.indices(), dtype=np.int64)]
