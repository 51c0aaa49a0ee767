"""The result of a screen: pandas tables, a summary, files (in a folder with a manifest, see
:mod:`~hullpack.screening.outputs`) and plots."""
from __future__ import annotations

import importlib.util
import math
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..elements import ELEMNET_ELEMENTS
from ..errors import ScreeningError
from ..plotting import draw_ternary_facets, finish_figure, label_triangle, place_labels, triangle_xy
from .names import (
    ORDER_NAMES,
    alphabetical_order,
    formula_of,
    formulas,
    parse_system,
    system_name,
)
from .outputs import write_outputs

# formula_of, formulas and parse_system live in .names; they stay importable from here
__all__ = ["ROBUST_DEPTH", "ScreenResult", "formula_of", "formulas", "parse_system"]

#: eV/atom: a predicted stable compound at least this far below the hull of the other points is
#: counted as robust in :meth:`ScreenResult.summary`: deeper than the shipped model's typical
#: error (test MAE 0.042 eV/atom); on the shipped data such compounds matched a DFT-stable one
#: about twice as often as those within 10-25 meV/atom (docs/screening.md, "Defaults")
ROBUST_DEPTH = 0.050


# what shards of one screen share (ScreenResult.concat refuses others)
_SAME_IN_EVERY_SHARD = ("order", "elements", "grid", "n_points", "min_depth", "match_tol", "model", "dft")
#: the tables of a screen, as files in its folder (``systems.parquet`` / ``systems.csv``)
_TABLES = ("systems", "vertices", "points")
#: what :meth:`ScreenResult.read` takes from a folder's manifest besides its files (the settings,
#: the counts and times, and each table's column types); a folder whose manifest lacks one was
#: written by an earlier release
_MANIFEST_NEEDS = ("config", "stats", "tables")
#: the type pandas gives a column of text it reads or builds (``str`` in pandas 3, ``object`` before)
_TEXT = pd.Series([""]).dtype


def _count(n: int, noun: str) -> str:
    """``"1 system"``, ``"3,655 systems"``, ``"2 vertices"``."""
    plural = noun[:-2] + "ices" if noun.endswith("ex") else noun + "s"
    return f"{n:,} {noun if n == 1 else plural}"


def _nanmean(column: pd.Series) -> float:
    """The mean of the values that are not missing; NaN (without a warning) when there are none."""
    v = column.astype(float).to_numpy()
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else math.nan


def _ratio(num, den) -> float:
    """``num / den``; NaN where ``den`` is 0."""
    return float(num) / float(den) if den else math.nan


def _metric(value: float) -> str:
    """A metric as the summary prints it: three decimals, or "undefined" (nothing to count)."""
    return f"{value:.3f}" if np.isfinite(value) else "undefined"


def _known_formulas(els: np.ndarray, fractions: np.ndarray) -> list[str]:
    """The formulas of known compounds given as fractions over ``els`` (small whole numbers of
    atoms: 0.4, 0.6 -> Fe2O3)."""
    from fractions import Fraction

    out = []
    for f in fractions:
        fr = [Fraction(float(v)).limit_denominator(1000) for v in f]
        den = math.lcm(*(x.denominator for x in fr))
        out.append(formula_of(els, [int(x * den) for x in fr]))
    return out


def _read_table(path: Path, types: dict) -> pd.DataFrame:
    """One table of a screen's folder (Parquet or CSV) with the column types ``types`` recorded
    by :meth:`ScreenResult.save`: text stays text (an empty ``stable`` is "", the formula ``NaN``
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


def _need(module: str, what: str, extra: str, instead: str = "") -> None:
    """ImportError naming the extra that installs ``module``, before ``what`` starts any work."""
    if importlib.util.find_spec(module) is None:
        raise ImportError(f'{what}: needs {module}, which is not installed: pip install "hullpack[{extra}]"{instead}')


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
    fraction of ``B``), ``min_energy`` (lowest predicted energy; 0, the elements', where no point is
    below 0) and ``min_formula`` (its compound; empty where no point is below 0), ``nonfinite``
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
    ``e_above_hull``, ``is_vertex`` and ``bf16`` (True where the energy is a bf16 prediction, not
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
        with_points = [p.points is not None for p in parts]
        if any(with_points) and not all(with_points):
            lack = [label for (_, label), has in zip(named, with_points) if not has]
            raise ScreeningError(f"{', '.join(lack)} {'has' if len(lack) == 1 else 'have'} no points table and the "
                                 "others have one: screen every shard with points=True (hullpack screen --points), "
                                 "or none")
        pts = [p.points for p in parts if p.points is not None]
        stats = {}
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
            from .certify import merge_certification

            cfg["certification"] = merge_certification([p.config.get("certification") for p in parts])
        systems = pd.concat([p.systems for p in parts], ignore_index=True)
        if "n_elements" in cfg:  # the elements of the merged systems, as a whole screen counts its own
            letters = [c for c in "ABCD" if c in systems]
            cfg["n_elements"] = int(pd.unique(systems[letters].to_numpy().ravel()).size) if len(systems) else 0
        return cls(systems, pd.concat([p.vertices for p in parts], ignore_index=True),
                   pd.concat(pts, ignore_index=True) if pts else None, cfg, stats, parts[0].model, parts[0].dft)

    def summary(self) -> str:
        """A few lines: systems, stable compounds, certification and DFT agreement."""
        s = self.systems
        n_points = int(s["n_points"].iloc[0]) if len(s) else self.config.get("n_points", 0)
        kind = ORDER_NAMES.get(self.order, f"order-{self.order}")
        grid = f" ({self.config['grid']})" if self.config.get("grid") else ""
        shard = self.config.get("shard")  # (i, n); None for a whole screen and a merge of shards
        part = f" (shard {shard[0]}/{shard[1]} of the screen's systems; every figure below is the shard's)" if shard else ""
        lines = [f"{_count(len(s), kind + ' system')}{part} x {n_points} grid points{grid}, precision "
                 f"{self.config.get('precision')}", *self._stable_lines()]
        if "n_fp32" in s and self.config.get("certification"):  # a certified screen, or shards with one
            from .certify import certification_lines

            shared = int(self.stats.get("n_shared_fp32", 0))  # edge (face) points, fp32 from the start
            lines += certification_lines(self.config.get("certification"), int(s["n_fp32"].sum()) + shared,
                                         self.stats.get("n_predictions", 0), shared=shared)
        bad = int(s["nonfinite"].sum())
        if bad:
            lines.append(f"systems with non-finite predictions: {bad} ({', '.join(s.loc[s['nonfinite'], 'system'][:10])})")
        if "stab_tp" in s:
            lines += self._dft_lines()
        if "seconds_total" in self.stats:
            total, work, dft = (self.stats.get(k, 0) for k in ("seconds_total", "seconds_screen", "seconds_dft"))
            compares = "stab_tp" in s  # without a DFT comparison no DFT data is loaded or compared
            setup = "model" + (", data" if compares else "") + (", calibration" if self.config.get("certification") else "")
            compared = f"{dft:.1f} s DFT comparison, " if compares else ""
            merged = self.config.get("merged_shards")  # shards run side by side: the slowest one's times
            lines.append(f"time{f' of the slowest of {merged} shards' if merged else ''}: {total:.1f} s ({work:.1f} s "
                         f"inference + hulls, {compared}"
                         f"{max(total - work - dft, 0):.1f} s set-up: {setup})")
        return "\n".join(lines)

    def _stable_lines(self) -> list[str]:
        """The summary's lines on the predicted stable compounds: how many, how deep, how many
        shallower hull vertices the depth threshold left out, and how many owe their depth to an
        element end pinned at 0 (``end_artifact``)."""
        s, v = self.systems, self.vertices
        n, min_depth = int(s["n_stable"].sum()), float(self.config.get("min_depth", 0.0))
        rule = (f"hull vertices at least {1000 * min_depth:g} meV/atom below the hull of the other points"
                if min_depth > 0 else "every hull vertex")
        if "n_vertices" in s and min_depth > 0:
            rule += f"; {_count(int(s['n_vertices'].sum()) - n, 'shallower vertex')} not counted"
        distinct = v["formula"].nunique() if "formula" in v else n
        shared = (f", {distinct:,} distinct (a compound on a shared edge or face counts in each system that has it, "
                  "here and below)" if distinct < n else "")
        lines = [f"predicted stable compounds: {n:,} in {_count(int((s['n_stable'] > 0).sum()), 'system')}{shared} "
                 f"({rule})"]
        end = v["end_artifact"].to_numpy(bool) if "end_artifact" in v else np.zeros(len(v), bool)
        deep = v["depth"].to_numpy(float) >= ROBUST_DEPTH
        counts_robust = n and min_depth < ROBUST_DEPTH
        if counts_robust:
            robust = int((deep & ~end).sum())
            band = f"{1000 * ROBUST_DEPTH:g} meV/atom"
            mae = self.config.get("model_test_mae")  # in the metadata of hullpack's model files
            if mae is None:
                why = ""
            elif mae < ROBUST_DEPTH:
                why = f", more than the model's test MAE of {1000 * mae:.0f} meV/atom"
            else:
                why = f"; the model's test MAE of {1000 * mae:.0f} meV/atom is larger, so these too may be noise"
            but = ", not counting the end artifacts below" if (deep & end).any() else ""
            lines.append(f"  {robust:,} robust (at least {band} deep{why}{but}), "
                         f"{int((~deep).sum()):,} within {band} of the hull of the others")
        if end.any():
            lines.append(self._end_line(v[end], min_depth, int((deep & end).sum()) if counts_robust else None))
        return lines

    def _end_line(self, flagged: pd.DataFrame, min_depth: float, deep: int | None) -> str:
        """The summary's line on the ``end_artifact`` vertices: how many, next to which elements
        (the model's own energy of each), and how many of them looked robust."""
        energies = self.config.get("element_energies") or {}
        by_element = Counter(flagged["end_element"].tolist()).most_common()
        shown = [f"{el} at {energies[el]:.3f} eV/atom: {k:,}" if el in energies else f"{el}: {k:,}"
                 for el, k in by_element[:4]]
        more = f", {_count(len(by_element) - 4, 'more element')}" if len(by_element) > 4 else ""
        after = (f"less than {1000 * min_depth:g} meV/atom deep" if min_depth > 0 else "no longer hull vertices")
        robust = f"; {deep:,} of them at least {1000 * ROBUST_DEPTH:g} meV/atom deep otherwise" if deep else ""
        return (f"  {len(flagged):,} only because an element end is pinned at 0 eV/atom while the model predicts "
                f"the pure element below 0 ({'; '.join(shown)}{more}): with the ends at the model's energies "
                f"they are {after} (column end_artifact{robust})")

    def _dft_lines(self) -> list[str]:
        """The summary's lines on the DFT comparison; only the metrics that mean something."""
        m = self.dft_metrics()
        known = self.config.get("dft") or "OQMD"
        if m["n_dft"] == 0:
            return [f"DFT ({known}): no known compounds in these systems, so nothing to compare with"]
        if m["n_dft_stable"] == 0:
            lines = [f"DFT ({known}) stable compounds: none among the {_count(m['n_dft'], 'known compound')} of these "
                     "systems (all lie above the hull of the elements), so no precision or recall"]
        else:
            per_system = " (counted in each system that has them)" if self.order > 2 and len(self.systems) > 1 else ""
            lines = [f"DFT ({known}) stable compounds: {m['n_dft_stable']:,}{per_system}; predicted-stable precision "
                     f"{_metric(m['precision'])}, recall {m['recall']:.3f} (composition within "
                     f"{self.config.get('match_tol', float('nan')):.4g})"]
            if m.get("n_end_artifact"):
                lines.append(f"  without the {m['n_end_artifact']:,} end artifacts: precision "
                             f"{_metric(m['precision_without_end'])}, recall {m['recall_without_end']:.3f}")
        mae = m["mae_dft_hull"]  # NaN without DFT stable compounds
        lines.append(f"stability F1 over {_count(m['n_dft'], 'known compound')}: {_metric(m['stability_f1'])}"
                     + (f"; MAE at DFT hull compositions {mae:.3f} eV/atom (mean over systems)" if np.isfinite(mae) else ""))
        if m["n_systems_with_compounds"]:
            lines.append(f"stable sets agree in {m['agree_with_compounds']:.1%} of the "
                         f"{_count(m['n_systems_with_compounds'], 'system')} with a predicted or DFT stable compound "
                         f"({m['agree']:.1%} of all systems, counting those where both sets are empty)")
        return lines

    def system(self, name: str) -> pd.Series:
        """The ``systems`` row of a system named in any order of its symbols (``"O-Fe"`` finds
        ``"Fe-O"``); :class:`~hullpack.errors.ScreeningError` if this screen does not have it."""
        canonical = system_name(name)
        rows = self.systems[self.systems["system"] == canonical]
        if not len(rows):
            raise ScreeningError(f"system {name!r} ({canonical}) is not in this screen")
        return rows.iloc[0]

    def dft_metrics(self) -> dict:
        """The DFT comparison over the whole screen (needs ``compare_dft=True``): counts, stable-
        compound precision and recall, the same without the ``end_artifact`` vertices
        (``precision_without_end``, ``recall_without_end``), stability F1, mean MAE at the DFT hull
        compositions and the share of systems whose stable sets agree: ``agree`` over all systems
        (two empty sets agree), ``agree_with_compounds`` over the ``n_systems_with_compounds`` where
        either set has a compound. NaN where a ratio has nothing to count."""
        from .dft import f1_score

        s = self.systems
        if "stab_tp" not in s:
            raise ScreeningError("DFT metrics need a screen with compare_dft=True")
        tp, fp, fn = (float(s[c].sum()) for c in ("stab_tp", "stab_fp", "stab_fn"))
        compared = s["tp_pred"].notna()
        n_pred, n_dft = float(s["n_stable"][compared].sum()), float(s["n_dft_stable"].sum())
        any_side = ((s["n_stable"] > 0) | (s["n_dft_stable"] > 0).fillna(False)) & compared
        out = {"n_dft": int(s["n_dft"].sum()), "n_dft_stable": int(n_dft),
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
        tables = {"systems": self.systems, "vertices": self.vertices, "points": self.points}
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

        group_table = self.group_table() if groups or heatmaps else None  # needs the DFT comparison

        def write_groups(d):
            group_table.to_csv(d / "groups.csv", index=False)
            return [d / "groups.csv"]

        def write_plot(d, name):
            if len(parse_system(name)) > 3:  # quaternaries: a table, not a figure
                self.system_table(name).to_csv(d / f"{name}.csv", index=False)
                return [d / f"{name}.csv"]
            self.plot_system(name, d / f"{name}.png")
            return [d / f"{name}.png"]

        writers = []
        if csv:
            writers.append(write_tables("csv", lambda df, path: df.to_csv(path, index=False)))
        if parquet:
            writers.append(write_tables("parquet", lambda df, path: df.to_parquet(path, index=False)))
        if groups:
            writers.append(write_groups)
        if heatmaps:
            from .dft import plot_group_heatmaps

            writers.append(lambda d: plot_group_heatmaps(group_table, d))
        writers += [lambda d, name=name: write_plot(d, name) for name in names]
        config = {k: list(v) if isinstance(v, tuple) else v for k, v in self.config.items()
                  if k not in ("grid_array", "run_id")}
        # what read() needs besides the files: counts and times, and the column types CSV loses
        column_types = {name: {c: str(t) for c, t in df.dtypes.items()} for name, df in tables.items() if df is not None}
        return write_outputs(directory, self.run_id, writers, overwrite=overwrite,
                             record={"config": config, "stats": self.stats, "tables": column_types, **(record or {})})

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
        from .outputs import MANIFEST, read_manifest

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
        return cls(tables["systems"], tables["vertices"], tables.get("points"), config, dict(manifest["stats"]))

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
        folders = [str(f) for f in folders]
        if not folders:
            raise ScreeningError("no shard folders to merge")
        seen = {}
        for f in folders:
            key = Path(f).resolve()
            if key in seen:
                both = "" if seen[key] == f else f" ({seen[key]!r} and {f!r} are one folder)"
                raise ScreeningError(f"shard folder {f!r} is given twice{both}; give each shard's folder once")
            seen[key] = f
        parts = [cls.read(f) for f in folders]
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
        by_index = {}
        for f, (i, _) in zip(folders, shards):
            if i in by_index:
                raise ScreeningError(f"shard {i}/{n} is given twice: {by_index[i]!r} and {f!r}; give each shard "
                                     "once")
            by_index[i] = f
        missing = [i for i in range(n) if i not in by_index]
        if missing:
            one = len(missing) == 1
            raise ScreeningError(f"{_count(len(missing), 'shard')} of {n} {'is' if one else 'are'} missing "
                                 f"({', '.join(f'{i}/{n}' for i in missing[:10])}{' ...' if len(missing) > 10 else ''}): "
                                 f"screen {'it' if one else 'them'} with hullpack screen --shard {missing[0]}/{n}"
                                 f"{'' if one else ' (and so on)'} and the same options, and give "
                                 f"{'its folder' if one else 'their folders'} too")
        order = sorted(range(len(parts)), key=lambda k: shards[k][0])
        return cls.concat([parts[k] for k in order], labels=[folders[k] for k in order])

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
        from .dft import by_group_pair

        if "stab_tp" not in self.systems:
            raise ScreeningError("group tables need a screen with compare_dft=True")
        return by_group_pair(self.systems)

    def plot_groups(self, directory, *, overwrite: bool = False) -> list[Path]:
        """Group-pair heatmaps (PNG) of the DFT metrics into ``directory`` (:meth:`save`'s rules)."""
        return self.save(directory, csv=False, parquet=False, heatmaps=True, overwrite=overwrite)

    def _one_system(self, els: np.ndarray, what: str) -> dict:
        """One system predicted again in fp32 on this screen's grid (its order's default grid if
        the screen's is of another order), its hull, stable compounds and known DFT compounds."""
        from .. import compositions
        from ..hull import lower_hull
        from .dft import load_dft
        from .hulls import HULL_TOL, vertex_depth
        from .models import make_engine
        from .pipeline import resolve_grid

        if self.model is None:
            raise ScreeningError(f"this result has no model attached (loaded from files?): screen again to {what}")
        order = len(els)
        grid = self.config.get("grid_array")
        if grid is None or np.asarray(grid).shape[1] != order:
            grid = resolve_grid(order)
        grid = np.asarray(grid, dtype=np.int32)
        e = make_engine(self.model).predict(els[None, :], grid, "fp32")[0].astype(np.float64)
        fr = compositions.grid_fractions(grid)
        h = lower_hull(fr, e, tol=HULL_TOL)
        depth = vertex_depth(fr, e[None, :], h.is_vertex[None, :])[0]
        stable = h.is_vertex & (depth >= float(self.config.get("min_depth", 0.0)))
        known = self.dft if self.dft is not None else load_dft()
        fd, ed, _ = known.of_system(els)
        perm = alphabetical_order(els[None, :])[0]       # columns in the order of the system's name
        return dict(grid=grid, fr=fr, e=e, h=h, depth=depth, stable=stable, fd=fd, ed=ed, perm=perm, known=known.name,
                    labels=formulas(els[None, :], grid, np.zeros(int(stable.sum()), np.int64), np.flatnonzero(stable)),
                    names=[ELEMNET_ELEMENTS[els[k]] for k in perm])

    def _match(self, predicted: np.ndarray, known: np.ndarray):
        """Which of one system's predicted and known stable compounds (fractions) the other source
        matches within the screen's ``match_tol``: (predicted matched, known matched)."""
        from .dft import match_compositions

        return match_compositions(np.zeros(len(predicted), np.int64), predicted, np.zeros(len(known), np.int64), known,
                                  1, float(self.config.get("match_tol", 0.0)))

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
        from ..hull import hull_batch
        from .hulls import HULL_TOL

        els = parse_system(name)
        one = self._one_system(els, "tabulate a system")
        perm, stable = one["perm"], one["stable"]
        fd, ed = one["fd"], one["ed"]
        if len(ed):
            hd = hull_batch(fd, ed, np.array([0, len(ed)]), tol=HULL_TOL, decomposition=False, depth=True)
            dv = np.flatnonzero(hd.is_vertex)
            d_depth = hd.vertex_depth[dv]
        else:
            dv, d_depth = np.zeros(0, np.int64), np.zeros(0)
        pf, df_ = one["fr"][stable], fd[dv]
        mp, md = self._match(pf, df_)

        d_formulas = _known_formulas(els, df_)
        parts = []
        for source, f, e, depth, form, matched in (
                ("model", pf, one["e"][stable], one["depth"][stable], list(one["labels"]), mp),
                (one["known"], df_, ed[dv], d_depth, d_formulas, md)):
            part = pd.DataFrame({"source": source, "formula": pd.Series(form, dtype=object)})
            for j, sym in zip(perm, one["names"]):
                part[f"x_{sym}"] = f[:, j]
            part["energy"], part["depth"], part["matched"] = e, depth, matched
            parts.append(part.sort_values("energy", kind="stable"))
        return pd.concat(parts, ignore_index=True)

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
        els = parse_system(name)
        if len(els) > 3:
            raise ScreeningError(f"system {name!r} is a quaternary: it is not drawn; "
                                 f"ScreenResult.system_table({name!r}) lists its predicted and known stable "
                                 "compounds (the command line writes it to SYSTEM.csv)")
        _need("matplotlib", "ScreenResult.plot_system", "plot")
        import matplotlib

        if path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from ..hull import lower_hull
        from .hulls import HULL_TOL

        one = self._one_system(els, "plot")
        fr, e, h, stable, labels = (one[k] for k in ("fr", "e", "h", "stable", "labels"))
        fd, ed, perm, names, known = one["fd"], one["ed"], one["perm"], one["names"], one["known"]
        order = len(els)
        system = "-".join(names)
        fig, ax = plt.subplots(figsize=(7, 5) if order == 2 else (7, 6.2))
        if order == 2:
            x, xd = fr[:, perm[1]], fd[:, perm[1]]
            ax.plot(x, e, ".", ms=3, color="0.6", label="model (grid)")
            hv = np.r_[0.0, x[h.is_vertex], 1.0], np.r_[0.0, e[h.is_vertex], 0.0]
            o = np.argsort(hv[0])
            ax.plot(hv[0][o], hv[1][o], "-", color="C0", label="predicted hull")
            ax.plot(x[h.is_vertex], e[h.is_vertex], "o", color="C0", ms=3, mfc="none", label="predicted hull vertices")
            ax.plot(x[stable], e[stable], "o", color="C0", ms=5, label="predicted stable")
            named = x[stable], e[stable]
            if len(ed):
                hd = lower_hull(fd, ed, tol=HULL_TOL)
                ax.plot(xd, ed, "x", color="C3", ms=5, label=f"{known} compounds")
                dv = np.r_[0.0, xd[hd.is_vertex], 1.0], np.r_[0.0, ed[hd.is_vertex], 0.0]
                o = np.argsort(dv[0])
                ax.plot(dv[0][o], dv[1][o], "--s", color="C3", ms=5, mfc="none", label="DFT hull")
                known_xy = xd[hd.is_vertex], ed[hd.is_vertex]
            ax.axhline(0, color="k", lw=0.5)
            ax.set_xlabel(f"fraction of {names[1]} in {system}")
            ax.set_ylabel("formation energy (eV/atom)")
        else:
            def xy(f):  # fractions in ElemNet's column order -> the triangle of the name's order
                return triangle_xy(f, perm)
            px, py = xy(fr)
            sc = ax.scatter(px, py, c=e, s=12, cmap="viridis", label="model (grid)")
            fig.colorbar(sc, ax=ax, label="predicted energy (eV/atom)", shrink=0.8)
            draw_ternary_facets(ax, h.facets, fr, perm, color="C0", ls="-", lw=0.7)
            vx, vy = xy(fr[h.is_vertex])
            ax.plot(vx, vy, "o", color="C0", ms=3, mfc="none", label="predicted hull vertices")
            sx, sy = xy(fr[stable])
            ax.plot(sx, sy, "o", color="C0", ms=6, label="predicted stable")
            named = sx, sy
            if len(ed):
                hd = lower_hull(fd, ed, tol=HULL_TOL)
                draw_ternary_facets(ax, hd.facets, fd, perm, color="C3", ls="--", lw=0.7)
                dx, dy = xy(fd)
                ax.plot(dx, dy, "x", color="C3", ms=5, label=f"{known} compounds")
                sx, sy = xy(fd[hd.is_vertex])
                ax.plot(sx, sy, "s", color="C3", mfc="none", ms=8, label="DFT stable")
                known_xy = sx, sy
            label_triangle(ax, names)
        # the predicted stable compounds' formulas, and those of the DFT stable compounds no
        # predicted one matches (a matched one sits under its predicted twin's label)
        px_, py_, texts, colors = *named, list(labels), ["C0"] * len(labels)
        if len(ed):
            dft_stable = fd[hd.is_vertex]
            missed = ~np.asarray(self._match(fr[stable], dft_stable)[1], bool)
            px_, py_ = np.r_[px_, known_xy[0][missed]], np.r_[py_, known_xy[1][missed]]
            texts += _known_formulas(els, dft_stable[missed])
            colors += ["C3"] * int(missed.sum())
        place_labels(ax, px_, py_, texts, color=colors)
        return finish_figure(fig, ax, f"{system}: predicted vs DFT ({known}) convex hull", path)
