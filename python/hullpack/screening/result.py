"""The result of a screen: pandas tables, a summary, files (in a folder with a manifest, see
:mod:`~hullpack.screening.outputs`) and plots. :class:`ScreenResult` holds the tables and their
lookups; the summary's lines are written by :mod:`~hullpack.screening.summary`, its folders by
:mod:`~hullpack.screening.outputs` and its per-system tables and plots by
:mod:`~hullpack.screening.system_plots`."""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ScreeningError
from . import system_plots
from .certify import merge_certification
from .dft import by_group_pair, f1_score
from .names import ORDER_NAMES, formula_of, formulas, parse_system, system_name
from .outputs import _SAME_IN_EVERY_SHARD, read_screen, read_shard_folders, save_screen
from .summary import ROBUST_DEPTH, summary_text

# formula_of, formulas and parse_system live in .names and ROBUST_DEPTH in .summary; they stay
# importable from here
__all__ = ["ROBUST_DEPTH", "ScreenResult", "formula_of", "formulas", "parse_system"]


def _nanmean(column: pd.Series) -> float:
    """The mean of the values that are not missing; NaN (without a warning) when there are none."""
    v = column.astype(float).to_numpy()
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else math.nan


def _ratio(num, den) -> float:
    """``num / den``; NaN where ``den`` is 0."""
    return float(num) / float(den) if den else math.nan


@dataclass
class ScreenResult:
    """Tables of a screen (see :func:`hullpack.screening.screen`).

    Systems are named as pymatgen names a chemical system (``"Fe-O"``: symbols in alphabetical
    order; :meth:`system` and :meth:`plot_system` take them in any order) and formulas are
    pymatgen's reduced formulas (``"Fe2O3"``); the element columns ``A``, ``B`` (``C``, ``D``) and
    fractions ``x_A``, ``x_B`` (``x_C``, ``x_D``) follow the system's name.

    ``systems``: one row per system: ``system``, the elements ``A``, ``B`` (``C``, ``D``), ``n_points``,
    ``n_vertices`` (hull vertices, pure elements excluded), ``n_stable`` (those at least
    ``min_depth`` below the hull of the other points: the predicted stable compounds, end artifacts
    included), ``n_end_artifact`` (those that are end artifacts, below), ``stable`` (their formulas,
    ";"-separated, from the first element of the name towards the last: a binary's by increasing
    fraction of ``B``), ``shallow`` (the hull vertices less than ``min_depth`` deep, which do not
    count, in the same order with their depths in meV/atom: ``"Fe3O4 (3.1)"``), ``min_energy``
    (lowest predicted energy; 0, the elements', where no point is below 0) and ``min_formula`` (its compound; empty where no point is below 0), ``nonfinite``
    (True: a prediction was NaN/inf; the system has no hull), ``n_fp32`` (points re-evaluated in
    fp32 by the bf16 certification) and, with the DFT comparison, ``n_dft``, ``n_dft_stable``,
    ``tp_pred``, ``tp_dft``, ``tp_pred_end``, ``tp_dft_end`` (matches owed to end artifacts),
    ``precision``, ``recall``, ``mae_dft_hull``, ``stab_tp/fp/fn/tn``, ``stab_f1``, ``agree``.
    ``vertices``: one row per predicted stable compound, in the order of ``stable``: ``system``,
    elements, ``x_A``.. fractions, ``formula``, ``energy``, ``depth`` (eV/atom below the hull of the
    other points: how far the compound is predicted stable), ``end_depth`` (the same with the element
    ends at the model's own energies where those are below 0, ``config["element_energies"]``),
    ``end_artifact`` (``end_depth`` below ``min_depth``: stable only because an end is pinned at 0)
    and ``end_element`` (the end it owes that to). ``points`` (on request): every grid point of
    every system with its elements, fractions and ``formula`` as ``vertices`` has them, ``energy``,
    ``e_above_hull``, ``is_vertex``, ``depth`` (a vertex's, as in ``vertices``; NaN off the
    vertices) and ``bf16`` (True where the energy is a bf16 prediction, not
    evaluated in fp32: in a certified bf16 screen, the points its selection and audit left alone).
    """

    systems: pd.DataFrame
    vertices: pd.DataFrame
    points: pd.DataFrame | None = None
    config: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    #: the model, for :meth:`plot_system` (not saved, not sent between processes)
    model: object = field(default=None, repr=False, compare=False)
    #: the known compounds compared with (a :class:`~hullpack.screening.dft.DFTCompounds`; None
    #: without the comparison: plots then show the shipped OQMD set); not saved, not sent
    dft: object = field(default=None, repr=False, compare=False)

    @property
    def order(self) -> int:
        return int(self.config.get("order", 2))

    @classmethod
    def concat(cls, parts: list["ScreenResult"], *, labels: list[str] | None = None) -> "ScreenResult":
        """Merge the results of shards (in shard order) into one; shards of different screens
        (another grid, order, element set, depth threshold, model or DFT set) are refused, and so
        are shards of which some have ``points`` and others not. Where shards ran
        in different precisions (``"auto"`` on different machines), ``config["precision"]``
        names them all (``"bf16+fp32"``). ``labels``: the parts' names in messages (their folders).
        :meth:`read_shards` merges the folders of a screen's shards."""
        given = labels is not None  # name the parts in messages (else list the distinct values)
        if labels is None:
            labels = [f"part {k}" for k in range(len(parts))]
        named = [(p, label) for p, label in zip(parts, labels) if p is not None]
        parts = [p for p, _ in named]
        if not parts:
            raise ScreeningError("no results to merge")
        for key in _SAME_IN_EVERY_SHARD:
            values = [str(p.config.get(key)) for p in parts]
            if len(set(values)) > 1:
                which = (", ".join(f"{label}: {v}" for (_, label), v in zip(named, values)) if given
                         else ", ".join(dict.fromkeys(values)))
                raise ScreeningError(f"these results are not shards of one screen: their {key} "
                                     f"{'differ' if key == 'elements' else 'differs'} ({which})")
        digests = [p.config.get("dft_sha256") for p in parts]  # None: no DFT, or a folder of an earlier release
        if len(set(digests) - {None}) > 1:
            which = ", ".join(f"{label}: {d[:12] if d else None}" for (_, label), d in zip(named, digests))
            raise ScreeningError(f"these results are not shards of one screen: their DFT sets, named alike "
                                 f"({parts[0].config.get('dft')}), hold other compounds (sha256 {which})")
        with_points = [p.points is not None for p in parts]
        if any(with_points) and not all(with_points):
            lack = [label for (_, label), has in zip(named, with_points) if not has]
            raise ScreeningError(f"{', '.join(lack)} {'has' if len(lack) == 1 else 'have'} no points table and the "
                                 "others have one: screen every shard with points=True (hullpack screen --points), "
                                 "or none")
        pts = [p.points for p in parts if p.points is not None]
        stats: dict[str, Any] = {}
        for p in parts:
            for k, v in p.stats.items():
                if isinstance(v, dict):  # n_evaluated: model evaluations by precision, summed
                    stats[k] = {m: stats.get(k, {}).get(m, 0) + n for m, n in v.items()}
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    stats[k] = max(stats.get(k, 0), v) if k.startswith(("seconds", "peak", "delta")) else stats.get(k, 0) + v
        cfg = dict(parts[0].config)
        cfg.update(shard=None, run_id=uuid.uuid4().hex)  # the merged result is a screen of its own
        cfg["merged_shards"] = sum(p.config.get("merged_shards") or (p.config.get("shard") is not None) for p in parts)
        for key in ("precision", "fp32_kernel", "backend", "engine", "device"):  # "auto" may pick per host
            values = sorted({str(p.config.get(key)) for p in parts})
            if len(values) > 1:
                cfg[key] = "+".join(values)
        if any(p.config.get("certification") for p in parts):
            cfg["certification"] = merge_certification([p.config.get("certification") for p in parts])
        systems = pd.concat([p.systems for p in parts], ignore_index=True)
        if "n_elements" in cfg:  # the elements of the merged systems, as a whole screen counts its own
            letters = [c for c in "ABCD" if c in systems]
            cfg["n_elements"] = int(pd.unique(systems[letters].to_numpy().ravel()).size) if len(systems) else 0
        return cls(systems, pd.concat([p.vertices for p in parts], ignore_index=True),
                   pd.concat(pts, ignore_index=True) if pts else None, cfg, stats, parts[0].model, parts[0].dft)

    def summary(self) -> str:
        """A few lines: systems, stable compounds, certification and DFT agreement."""
        return summary_text(self)

    def system(self, name: str) -> pd.Series:
        """The ``systems`` row of a system named in any order of its symbols (``"O-Fe"`` finds
        ``"Fe-O"``); :class:`~hullpack.errors.ScreeningError` if this screen does not have it."""
        canonical = system_name(name)
        rows = self.systems[self.systems["system"] == canonical]
        if not len(rows):
            elements = self.config.get("elements") or []
            raise ScreeningError(f"system {name!r} ({canonical}) is not in this screen (the "
                                 f"{ORDER_NAMES.get(self.order, f'order-{self.order}')} systems of "
                                 f"{' '.join(elements) if len(elements) <= 20 else f'{len(elements)} elements'})")
        return rows.iloc[0]

    def dft_metrics(self) -> dict:
        """The DFT comparison over the whole screen (needs ``compare_dft=True``): counts, stable-
        compound precision and recall, the same without the ``end_artifact`` vertices
        (``precision_without_end``, ``recall_without_end``), stability F1, mean MAE at the DFT hull
        compositions and the share of systems whose stable sets agree: ``agree`` over all systems
        (two empty sets agree), ``agree_with_compounds`` over the ``n_systems_with_compounds`` where
        either set has a compound. NaN where a ratio has nothing to count. A system with a non-finite
        prediction (``nonfinite``) has no hull and is compared with nothing: its known compounds
        are not counted."""
        s = self.systems
        if "stab_tp" not in s:
            raise ScreeningError("DFT metrics need a screen with compare_dft=True")
        tp, fp, fn = (float(s[c].sum()) for c in ("stab_tp", "stab_fp", "stab_fn"))
        compared = s["tp_pred"].notna()
        n_pred, n_dft = float(s["n_stable"][compared].sum()), float(s["n_dft_stable"].sum())
        any_side = ((s["n_stable"] > 0) | (s["n_dft_stable"] > 0).fillna(False)) & compared
        out = {"n_dft": int(s["n_dft"][compared].sum()), "n_dft_stable": int(n_dft),  # no system without a hull
               "precision": _ratio(s["tp_pred"].sum(), n_pred), "recall": _ratio(s["tp_dft"].sum(), n_dft),
               "stability_f1": float(f1_score(tp, fp, fn)),
               "mae_dft_hull": _nanmean(s["mae_dft_hull"]), "agree": _nanmean(s["agree"]),
               "agree_with_compounds": _nanmean(s["agree"][any_side]), "n_systems_with_compounds": int(any_side.sum())}
        if "tp_pred_end" in s:
            n_end = float(s["n_end_artifact"][compared].sum())
            out.update(n_end_artifact=int(s["n_end_artifact"].sum()),
                       precision_without_end=_ratio(s["tp_pred"].sum() - s["tp_pred_end"].sum(), n_pred - n_end),
                       recall_without_end=_ratio(s["tp_dft"].sum() - s["tp_dft_end"].sum(), n_dft))
        return out

    @property
    def run_id(self) -> str:
        """This result's identity in the manifests of the folders it writes to (one per screen;
        a merge of shards is a screen of its own)."""
        return self.config.setdefault("run_id", uuid.uuid4().hex)

    def save(self, directory, *, csv: bool = True, parquet: bool = True, groups: bool = False,
             heatmaps: bool = False, plots=(), overwrite: bool = False, record: dict | None = None) -> list[Path]:
        """Write this screen's files into ``directory`` with a ``manifest.json`` that lists them:
        the tables (``systems``, ``vertices``, with ``points=True`` also ``points``) as CSV and/or
        Parquet (pyarrow), ``groups.csv`` (:meth:`group_table`), the group-pair heatmaps
        (:meth:`plot_groups`) and ``SYSTEM.png`` for each system named in ``plots`` (``SYSTEM.csv``,
        :meth:`system_table`, for a quaternary). A folder that
        holds another screen's outputs is refused unless ``overwrite=True``, which removes the files
        its manifest lists; files are staged and moved in only once all are written (the rules:
        :mod:`hullpack.screening.outputs`). ``record``: more fields for the manifest. Returns the
        paths written."""
        return save_screen(self, directory, csv=csv, parquet=parquet, groups=groups, heatmaps=heatmaps,
                           plots=plots, overwrite=overwrite, record=record)

    @classmethod
    def read(cls, folder) -> "ScreenResult":
        """The screen saved in ``folder`` (by :meth:`save` or ``hullpack screen --out``): its tables
        from Parquet where the folder has them and pyarrow is installed, else from CSV, with the
        column types of a fresh screen (formulas such as ``NaN``, sodium nitride, stay text);
        ``config``, ``stats`` and the certification from its ``manifest.json``. The result has no
        model attached (:meth:`plot_system` and :meth:`system_table` need one: screen that system
        again). A folder that is not a screen's, lacks its tables (``--plot-only`` writes none) or
        was written by an earlier release whose manifest lacks what this needs raises
        :class:`~hullpack.errors.ScreeningError`.

        >>> import tempfile
        >>> from hullpack.screening import screen
        >>> r = screen(elements="Fe O", progress=False, compare_dft=False)
        >>> folder = tempfile.mkdtemp() + "/fe-o"
        >>> _ = r.save(folder, parquet=False)
        >>> back = ScreenResult.read(folder)
        >>> back.vertices["formula"].tolist() == r.vertices["formula"].tolist(), back.config["grid"]
        (True, 'reduced:10')
        """
        tables, config, stats = read_screen(folder)
        return cls(tables["systems"], tables["vertices"], tables.get("points"), config, stats)

    @classmethod
    def read_shards(cls, folders) -> "ScreenResult":
        """The whole screen from the folders of its shards (``hullpack screen --shard i/n --out
        FOLDER``, each read by :meth:`read`), given in any order: they are merged by shard index
        (:meth:`concat`), so the result equals the unsharded screen's tables row for row. Refused,
        naming the folders: a folder given twice, a folder of a whole screen, shards of different
        splits (``/3`` and ``/4``) or of different screens, a shard given twice or missing.

        >>> import tempfile
        >>> from hullpack.screening import screen
        >>> root = tempfile.mkdtemp()
        >>> for i in range(2):
        ...     _ = screen(elements="Fe Ni O", shard=f"{i}/2", progress=False, compare_dft=False).save(
        ...         f"{root}/part{i}", parquet=False)
        >>> ScreenResult.read_shards([f"{root}/part1", f"{root}/part0"]).systems["system"].tolist()
        ['Fe-O', 'Ni-O', 'Fe-Ni']
        """
        parts, labels = read_shard_folders(folders, cls.read)
        return cls.concat(parts, labels=labels)

    def to_parquet(self, directory, *, overwrite: bool = False) -> list[Path]:
        """``systems.parquet``, ``vertices.parquet`` (and ``points.parquet``) into ``directory``
        (:meth:`save`'s rules: a manifest, another screen's folder refused unless ``overwrite``)."""
        return self.save(directory, csv=False, overwrite=overwrite)

    def to_csv(self, directory, *, overwrite: bool = False) -> list[Path]:
        """The same tables as CSV."""
        return self.save(directory, parquet=False, overwrite=overwrite)

    def group_table(self) -> pd.DataFrame:
        """DFT metrics summed over periodic-table group pairs (screens with the DFT comparison; a
        ternary system counts under each of its three element pairs)."""
        if "stab_tp" not in self.systems:
            raise ScreeningError("group tables need a screen with compare_dft=True")
        return by_group_pair(self.systems)

    def plot_groups(self, directory, *, overwrite: bool = False) -> list[Path]:
        """Group-pair heatmaps (PNG) of the DFT metrics into ``directory`` (:meth:`save`'s rules)."""
        return self.save(directory, csv=False, parquet=False, heatmaps=True, overwrite=overwrite)

    def system_table(self, name: str) -> pd.DataFrame:
        """One system ("Fe-Li-O-P", any order of the symbols, any order 2 to 4) as a table, the
        quaternaries' answer to :meth:`plot_system`: the predicted stable compounds (the model
        in fp32 on this screen's grid, hull vertices at least ``min_depth`` deep) and the known DFT
        stable compounds (those the screen compared with, else the shipped OQMD set), one row each,
        lowest energy first: ``source`` ("model", or the known set's name: "OQMD"), ``formula``,
        ``x_<symbol>`` fractions (symbols in the name's order), ``energy``
        (eV/atom), ``depth`` (below the hull of the other points of the same source) and
        ``matched`` (a compound of the other source lies within ``match_tol`` in every fraction).
        """
        return system_plots.system_table(self, name)

    def plot_system(self, name: str, path=None):
        """Draw one system ("Fe-O", any order of the symbols): the model's points on this screen's
        grid, the predicted hull and its vertices, the stable compounds among them (at least
        ``min_depth`` deep) labelled by formula, the known DFT compounds (those the screen compared
        with, else the shipped OQMD set) and their hull, whose stable compounds that no predicted one
        matches are labelled too (in red); a line plot for a binary (the fraction of
        the alphabetically second element across: "fraction of O in Fe-O"), a composition triangle
        for a ternary. Saves to ``path`` (PNG) when given; returns the figure. Quaternaries are not
        drawn (:class:`~hullpack.errors.ScreeningError`): :meth:`system_table` lists them.
        """
        return system_plots.plot_system(self, name, path)
