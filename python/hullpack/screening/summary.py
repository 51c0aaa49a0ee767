"""The text summary of a screen (:meth:`ScreenResult.summary
<hullpack.screening.result.ScreenResult.summary>`): systems, stable compounds, certification, DFT
agreement and times, with the small formatting helpers its lines share.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from ..naming import plural
from .names import ORDER_NAMES

__all__ = ["ROBUST_DEPTH", "summary_text", "system_line"]

#: eV/atom: a predicted stable compound at least this far below the hull of the other points is
#: counted as robust in :meth:`ScreenResult.summary`: deeper than the shipped model's typical
#: error (test MAE 0.042 eV/atom); on the shipped data such compounds matched a DFT-stable one
#: about twice as often as those within 10-25 meV/atom (docs/screening.md, "Defaults")
ROBUST_DEPTH = 0.050
#: the summary names the shallow vertices (column ``shallow``), and the robust compounds not
#: charge-balanced, where there are at most this many; a screen of many systems has thousands,
#: which the columns list
_NAMED_SHALLOW = 8


def _metric(value: float) -> str:
    """A metric as the summary prints it: three decimals, or "undefined" (nothing to count)."""
    return f"{value:.3f}" if np.isfinite(value) else "undefined"


def summary_text(result) -> str:
    """The lines of :meth:`ScreenResult.summary <hullpack.screening.result.ScreenResult.summary>`
    for ``result``, joined."""
    s, config, stats = result.systems, result.config, result.stats
    n_points = int(s["n_points"].iloc[0]) if len(s) else config.get("n_points", 0)
    kind = ORDER_NAMES.get(result.order, f"order-{result.order}")
    grid = f" ({config['grid']})" if config.get("grid") else ""
    shard = config.get("shard")  # (i, n); None for a whole screen and a merge of shards
    part = f" (shard {shard[0]}/{shard[1]} of the screen's systems; every figure below is the shard's)" if shard else ""
    lines = [f"{plural(len(s), kind + ' system')}{part} x {n_points} grid points{grid}, precision "
             f"{config.get('precision')}", *_stable_lines(result)]
    if "n_fp32" in s and config.get("certification"):  # a certified screen, or shards with one
        from .certify import certification_lines

        shared = int(stats.get("n_shared_fp32", 0))  # edge (face) points, fp32 from the start
        lines += certification_lines(config.get("certification"), int(s["n_fp32"].sum()) + shared,
                                     stats.get("n_predictions", 0), shared=shared)
    bad = int(s["nonfinite"].sum())
    if bad:
        compared = ": no hull, and not compared with DFT below" if "stab_tp" in s else ": no hull"
        lines.append(f"systems with non-finite predictions: {bad} ({', '.join(s.loc[s['nonfinite'], 'system'][:10])}"
                     f"{', ...' if bad > 10 else ''}){compared}")
    if "stab_tp" in s:
        lines += _dft_lines(result)
    if "seconds_total" in stats:
        total, work, dft = (stats.get(k, 0) for k in ("seconds_total", "seconds_screen", "seconds_dft"))
        compares = "stab_tp" in s  # without a DFT comparison no DFT data is loaded or compared
        setup = "model" + (", data" if compares else "") + (", calibration" if config.get("certification") else "")
        compared = f"{dft:.1f} s DFT comparison, " if compares else ""
        merged = config.get("merged_shards")  # shards run side by side: the slowest one's times
        lines.append(f"time{f' of the slowest of {merged} shards' if merged else ''}: {total:.1f} s ({work:.1f} s "
                     f"inference + hulls, {compared}"
                     f"{max(total - work - dft, 0):.1f} s set-up: {setup})")
    return "\n".join(lines)


def _stable_lines(result) -> list[str]:
    """The summary's lines on the predicted stable compounds: how many, how deep, how many
    shallower hull vertices the depth threshold left out, and how many owe their depth to an
    element end pinned at 0 (``end_artifact``)."""
    s, v = result.systems, result.vertices
    n, min_depth = int(s["n_stable"].sum()), float(result.config.get("min_depth", 0.0))
    rule = (f"hull vertices at least {1000 * min_depth:g} meV/atom below the hull of the other points"
            if min_depth > 0 else "every hull vertex")
    if "n_vertices" in s and min_depth > 0:
        rule += f"; {plural(int(s['n_vertices'].sum()) - n, 'shallower vertex')} not counted"
    distinct = v["formula"].nunique() if "formula" in v else n
    shared = (f", {distinct:,} distinct (a compound on a shared edge or face counts in each system that has it, "
              "here and below)" if distinct < n else "")
    lines = [f"predicted stable compounds: {n:,} in {plural(int((s['n_stable'] > 0).sum()), 'system')}{shared} "
             f"({rule})"]
    if "shallow" in s and min_depth > 0:
        lines += _shallow_lines(s, min_depth)
    end = v["end_artifact"].to_numpy(bool) if "end_artifact" in v else np.zeros(len(v), bool)
    deep = v["depth"].to_numpy(float) >= ROBUST_DEPTH
    counts_robust = n and min_depth < ROBUST_DEPTH
    if counts_robust:
        robust = int((deep & ~end).sum())
        band = f"{1000 * ROBUST_DEPTH:g} meV/atom"
        mae, split = _model_mae(result)
        if mae is None:
            why = ""
        elif mae < ROBUST_DEPTH:
            why = f", more than the model's {split} MAE of {1000 * mae:.0f} meV/atom"
        else:
            why = f"; the model's {split} MAE of {1000 * mae:.0f} meV/atom is larger, so these too may be noise"
        but = ", not counting the end artifacts below" if (deep & end).any() else ""
        order = _order_errors(result, mae) if mae is not None else ""
        lines.append(f"  {robust:,} robust (at least {band} deep{why}{but}{order}), "
                     f"{int((~deep).sum()):,} within {band} of the hull of the others")
        if "charge_balanced" in v:  # absent from the tables of a screen saved before the column
            flagged = deep & ~end & ~v["charge_balanced"].fillna(True).to_numpy(bool)  # NA: not checked
            unbalanced = int(flagged.sum())
            if unbalanced:
                named = f" ({', '.join(v['formula'][flagged])})" if unbalanced <= _NAMED_SHALLOW else ""
                lines.append(f"  {unbalanced:,} of the robust ones not charge-balanced{named}: nitrides, oxides, chalcogenides "
                             "or halides whose atoms take no known oxidation states summing to zero (column "
                             "charge_balanced; such predictions rarely match a DFT-stable compound)")
    if end.any():
        lines.append(_end_line(result.config, v[end], min_depth, int((deep & end).sum()) if counts_robust else None))
    return lines


def _not_counted(min_depth: float) -> str:
    """How the summary introduces the vertices of the column ``shallow``."""
    return f"shallower than {1000 * min_depth:g} meV/atom, not counted (depth in meV/atom)"


def _shallow_lines(s: pd.DataFrame, min_depth: float) -> list[str]:
    """The summary's line naming the hull vertices left out as too shallow, with their depths, or
    where there are many, where to find them."""
    some = s[s["shallow"] != ""]
    n = int(s["n_vertices"].sum() - s["n_stable"].sum())
    if not len(some):
        return []
    if n > _NAMED_SHALLOW:
        return [f"  {_not_counted(min_depth)}: {n:,} vertices in {plural(len(some), 'system')}, listed by "
                "system in the column shallow of systems"]
    named = "; ".join(f"{name}: {shallow.replace(';', ', ')}" for name, shallow in zip(some["system"], some["shallow"]))
    return [f"  {_not_counted(min_depth)}: {named}"]


def system_line(result, name: str) -> str:
    """One system of ``result`` in a line: its stable compounds, those of them not charge-balanced,
    and the hull vertices too shallow to count, e.g. ``Fe-O: stable FeO;Fe4O5;Fe2O3;Fe3O5; shallower
    than 10 meV/atom, not counted (depth in meV/atom): Fe3O4 (3.1)``, ``Cl-Na: stable NaCl;NaCl3; not
    charge-balanced: NaCl3``."""
    row = result.system(name)
    if row["nonfinite"]:
        return f"{row['system']}: no hull (non-finite predictions)"
    line = f"{row['system']}: stable {row['stable'] or 'none'}"
    v = result.vertices
    if "charge_balanced" in v:  # absent from the tables of a screen saved before the column
        mine = v[v["system"] == row["system"]]
        unbalanced = mine.loc[~mine["charge_balanced"].fillna(True).to_numpy(bool), "formula"].tolist()
        if unbalanced:
            line += f"; not charge-balanced: {', '.join(unbalanced)}"
    if row.get("shallow"):
        line += f"; {_not_counted(float(result.config.get('min_depth', 0.0)))}: {row['shallow'].replace(';', ', ')}"
    return line


def _model_mae(result) -> tuple[float | None, str]:
    """The model's MAE (eV/atom) and the split it was measured on: the test MAE a screen records
    (the shipped model's), else the validation MAE of a ``hullpack train`` model's metadata;
    ``(None, "")`` where neither is known (a model of your own, a result read from files)."""
    mae = result.config.get("model_test_mae")  # in the metadata of hullpack's model files
    if mae is not None:
        return float(mae), "test"
    val = (getattr(result.model, "metadata", None) or {}).get("val_mae")
    return (float(val), "validation") if val is not None else (None, "")


def _order_errors(result, mae: float) -> str:
    """The model's test errors on compounds of the screen's order, where known and apart from its
    MAE over all (``mae``; :func:`~hullpack.elemnet.pretrained.errors_apart`), as the summary's robust line ends: "; its test MAE on
    binary compounds is 96 meV/atom, median 38"."""
    from ..elemnet.pretrained import errors_apart  # torch: imported where a model's errors are quoted

    errors = errors_apart(result.config.get("model_test_errors"), result.order, mae)
    if errors is None:
        return ""
    kind = ORDER_NAMES.get(result.order, f"{result.order}-element")
    return f"; its test MAE on {kind} compounds is {1000 * errors[0]:.0f} meV/atom, median {1000 * errors[1]:.0f}"


def _end_line(config: dict, flagged: pd.DataFrame, min_depth: float, deep: int | None) -> str:
    """The summary's line on the ``end_artifact`` vertices: how many, next to which elements
    (the model's own energy of each), and how many of them looked robust."""
    energies = config.get("element_energies") or {}
    by_element = Counter(flagged["end_element"].tolist()).most_common()
    shown = [f"{el} at {energies[el]:.3f} eV/atom: {k:,}" if el in energies else f"{el}: {k:,}"
             for el, k in by_element[:4]]
    more = f", {plural(len(by_element) - 4, 'more element')}" if len(by_element) > 4 else ""
    after = (f"less than {1000 * min_depth:g} meV/atom deep" if min_depth > 0 else "no longer hull vertices")
    robust = f"; {deep:,} of them at least {1000 * ROBUST_DEPTH:g} meV/atom deep otherwise" if deep else ""
    return (f"  {len(flagged):,} only because an element end is pinned at 0 eV/atom while the model predicts "
            f"the pure element below 0 ({'; '.join(shown)}{more}): with the ends at the model's energies "
            f"they are {after} (column end_artifact{robust})")


def _dft_lines(result) -> list[str]:
    """The summary's lines on the DFT comparison; only the metrics that mean something."""
    m = result.dft_metrics()
    known = result.config.get("dft") or "OQMD"
    if m["n_dft"] == 0:
        s = result.systems
        if (s["nonfinite"] & (s["n_dft"] > 0)).any():
            return [f"DFT ({known}): its compounds in these systems are all in systems with non-finite "
                    "predictions, so nothing to compare with"]
        return [f"DFT ({known}): no known compounds in these systems, so nothing to compare with"]
    if m["n_dft_stable"] == 0:
        lines = [f"DFT ({known}) stable compounds: none among the {plural(m['n_dft'], 'known compound')} of these "
                 "systems (all lie above the hull of the elements), so no precision or recall"]
    else:
        per_system = " (counted in each system that has them)" if result.order > 2 and len(result.systems) > 1 else ""
        lines = [f"DFT ({known}) stable compounds: {m['n_dft_stable']:,}{per_system}; predicted-stable precision "
                 f"{_metric(m['precision'])}, recall {m['recall']:.3f} (composition within "
                 f"{result.config.get('match_tol', float('nan')):.4g})"]
        if m.get("n_end_artifact"):
            lines.append(f"  without the {m['n_end_artifact']:,} end artifacts: precision "
                         f"{_metric(m['precision_without_end'])}, recall {m['recall_without_end']:.3f}")
    mae = m["mae_dft_hull"]  # NaN without DFT stable compounds
    lines.append(f"stability F1 over {plural(m['n_dft'], 'known compound')}: {_metric(m['stability_f1'])}"
                 + (f"; MAE at DFT hull compositions {mae:.3f} eV/atom (mean over systems)" if np.isfinite(mae) else ""))
    if m["n_systems_with_compounds"]:
        lines.append(f"stable sets agree in {m['agree_with_compounds']:.1%} of the "
                     f"{plural(m['n_systems_with_compounds'], 'system')} with a predicted or DFT stable compound "
                     f"({m['agree']:.1%} of all systems, counting those where both sets are empty)")
    return lines
