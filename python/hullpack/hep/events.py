"""Synthetic collider events: charged particles on helices through a cylindrical barrel detector.

Each event has a hard-scatter vertex plus pile-up: the number of pile-up vertices is Poisson with a
mean that itself varies from event to event (lognormal), and every vertex adds a heavy-tailed
(lognormal) number of charged tracks. Tracks start at the beam line, bend in a solenoid field
``bz`` (tesla) and are intersected with the barrel layers (TrackML-like radii); hits are smeared,
a few are lost (``efficiency``) and uniform noise hits are added. Everything is numpy-vectorised;
event ``i`` of ``seed`` is the same whichever other events are generated.

>>> from hullpack.hep.events import PRESETS, generate_event
>>> hits = generate_event(PRESETS["low"], seed=0, index=0)
>>> sorted(hits)
['layer', 'particle_id', 'phi', 'r', 'z']
>>> bool((hits["r"] > 0).all()), bool(hits["layer"].max() < len(PRESETS["low"].radii))
(True, True)
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

# TrackML barrel: pixel (4 layers), short strips (4), long strips (2); radii and half-lengths in mm.
TRACKML_RADII = (32.0, 72.0, 116.0, 172.0, 260.0, 360.0, 500.0, 660.0, 820.0, 1020.0)
TRACKML_HALF_LENGTHS = (455.0, 455.0, 455.0, 455.0, 1030.0, 1030.0, 1030.0, 1030.0, 1030.0, 1030.0)
# Hit resolution (mm): pixels ~15 um, strips ~50-100 um across, strips are long along z.
TRACKML_SIGMA_RPHI = (0.015,) * 4 + (0.05,) * 4 + (0.1,) * 2
TRACKML_SIGMA_Z = (0.05,) * 4 + (0.5,) * 4 + (1.0,) * 2


@dataclass(frozen=True)
class EventConfig:
    """How events are generated. The defaults describe the ``"high"`` pile-up preset's detector.

    >>> EventConfig(pileup=10.0).pileup
    10.0
    """

    #: median number of pile-up vertices per event (the Poisson mean's median)
    pileup: float = 80.0
    #: lognormal sigma of the Poisson mean from event to event (heavier tail with larger values)
    pileup_sigma: float = 0.7
    #: median charged tracks per pile-up vertex, and the lognormal sigma of that count
    tracks_per_vertex: float = 3.0
    tracks_sigma: float = 0.8
    #: median charged tracks of the hard-scatter vertex
    hard_scatter_tracks: float = 20.0
    #: transverse momentum spectrum: pT >= pt_min (GeV), power law pT^-pt_power
    pt_min: float = 0.7
    pt_power: float = 3.0
    eta_max: float = 2.5
    #: solenoid field (tesla)
    bz: float = 2.0
    #: luminous region: vertex z spread (mm)
    vertex_sigma_z: float = 55.0
    #: probability that a crossing leaves a hit
    efficiency: float = 0.98
    #: noise hits per layer as a fraction of that layer's real hits
    noise_fraction: float = 0.05
    radii: tuple = TRACKML_RADII
    half_lengths: tuple = TRACKML_HALF_LENGTHS
    sigma_rphi: tuple = TRACKML_SIGMA_RPHI
    sigma_z: tuple = TRACKML_SIGMA_Z

    def __post_init__(self):
        n = len(self.radii)
        if n < 2 or any(len(t) != n for t in (self.half_lengths, self.sigma_rphi, self.sigma_z)):
            raise ValueError("radii, half_lengths, sigma_rphi and sigma_z need one entry per layer (>= 2 layers)")
        if list(self.radii) != sorted(self.radii) or self.radii[0] <= 0:
            raise ValueError(f"radii must be positive and increasing, got {self.radii}")
        for name in ("pileup", "tracks_per_vertex", "hard_scatter_tracks", "pt_min", "bz", "eta_max"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} = {getattr(self, name)} must be > 0")
        if not 0 < self.efficiency <= 1 or not 0 <= self.noise_fraction < 1:
            raise ValueError("efficiency must be in (0, 1] and noise_fraction in [0, 1)")

    def replace(self, **changes) -> "EventConfig":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


#: Low pile-up (a few vertices) and high pile-up (tens of vertices, heavy tail); their graph sizes
#: differ by more than 10x.
PRESETS: dict[str, EventConfig] = {
    "low": EventConfig(pileup=3.0),
    "high": EventConfig(pileup=80.0),
}


def get_preset(name: str | EventConfig) -> EventConfig:
    """The :class:`EventConfig` of a preset name (or the config itself)."""
    if isinstance(name, EventConfig):
        return name
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)} or pass an EventConfig") from None


def _lognormal_count(rng: np.random.Generator, median: float, sigma: float, size=None) -> np.ndarray:
    return np.maximum(1, np.round(rng.lognormal(np.log(median), sigma, size))).astype(np.int64)


def generate_event(config: EventConfig, seed: int, index: int) -> dict[str, np.ndarray]:
    """Hits of one event: ``r``, ``phi``, ``z`` (mm, rad), ``layer`` and ``particle_id`` (-1: noise).

    Deterministic in ``(seed, index)``. Hits are ordered by layer.
    """
    c = config
    rng = np.random.default_rng([int(seed), int(index), 0x4E50])
    mu = c.pileup * np.exp(rng.normal(0.0, c.pileup_sigma) - c.pileup_sigma ** 2 / 2)
    n_vertices = 1 + rng.poisson(mu)
    tracks = _lognormal_count(rng, c.tracks_per_vertex, c.tracks_sigma, n_vertices)
    tracks[0] = _lognormal_count(rng, c.hard_scatter_tracks, 0.5)
    vz = rng.normal(0.0, c.vertex_sigma_z, n_vertices)
    P = int(tracks.sum())
    z0 = np.repeat(vz, tracks)
    # pT from a power law above pt_min (inverse CDF), uniform eta and phi, charge +-1
    pt = c.pt_min * (1.0 - rng.random(P)) ** (-1.0 / (c.pt_power - 1.0))
    eta = rng.uniform(-c.eta_max, c.eta_max, P)
    phi0 = rng.uniform(-np.pi, np.pi, P)
    q = rng.choice(np.array([-1.0, 1.0]), P)

    radius = 1000.0 * pt / (0.3 * c.bz)  # helix radius in mm
    r = np.asarray(c.radii)[None, :]
    arg = r / (2.0 * radius[:, None])  # (P, L): sin of half the turning angle at that layer
    reach = arg < 1.0
    half_turn = np.arcsin(np.minimum(arg, 1.0))
    s = 2.0 * radius[:, None] * half_turn  # transverse arc length to the layer
    z = z0[:, None] + s * np.sinh(eta)[:, None]
    phi = phi0[:, None] - q[:, None] * half_turn
    hit = reach & (np.abs(z) < np.asarray(c.half_lengths)[None, :]) & (rng.random(z.shape) < c.efficiency)
    pid, layer = np.nonzero(hit)
    phi, z = phi[pid, layer], z[pid, layer]
    rr = np.asarray(c.radii)[layer]
    phi = phi + rng.normal(0.0, 1.0, phi.size) * np.asarray(c.sigma_rphi)[layer] / rr
    z = z + rng.normal(0.0, 1.0, z.size) * np.asarray(c.sigma_z)[layer]

    # noise: per layer a Poisson number of hits uniform over the layer's surface
    n_noise = rng.poisson(c.noise_fraction * np.bincount(layer, minlength=len(c.radii)))
    nl = np.repeat(np.arange(len(c.radii)), n_noise)
    noise_phi = rng.uniform(-np.pi, np.pi, nl.size)
    noise_z = rng.uniform(-1.0, 1.0, nl.size) * np.asarray(c.half_lengths)[nl]

    layer = np.concatenate([layer, nl])
    order = np.argsort(layer, kind="stable")
    return {
        "r": np.concatenate([rr, np.asarray(c.radii)[nl]])[order],
        "phi": np.angle(np.exp(1j * np.concatenate([phi, noise_phi])))[order],  # wrap to (-pi, pi]
        "z": np.concatenate([z, noise_z])[order],
        "layer": layer[order],
        "particle_id": np.concatenate([pid, np.full(nl.size, -1)])[order],
    }
