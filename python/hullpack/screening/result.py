"""The result of a screen: pandas tables, a summary, files and plots."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..elements import ELEMENT_INDEX, ELEMNET_ELEMENTS
from ..errors import ScreeningError

__all__ = ["ScreenResult", "formula_of", "formulas", "parse_system"]


def parse_system(name: str) -> np.ndarray:
    """The element indices (ascending: ElemNet's order) of a system named by 2 or 3 distinct
    element symbols joined by ``-`` (``,`` and spaces also separate), in any order;
    :class:`~hullpack.errors.ScreeningError` says what is wrong with any other name.

    >>> parse_system("Fe-O").tolist(), parse_system("O-Ni-Fe").tolist()
    ([6, 22], [6, 22, 24])
    >>> parse_system("FeO")
    Traceback (most recent call last):
    ...
    hullpack.errors.ScreeningError: system 'FeO': expected 2 or 3 distinct element symbols of ElemNet's 86 joined by '-' (e.g. 'Fe-O'); unknown: FeO
    """
    symbols = [t for t in str(name).replace(",", "-").replace(" ", "-").split("-") if t]
    unknown = [t for t in symbols if t not in ELEMENT_INDEX]
    if unknown or len(symbols) not in (2, 3) or len(set(symbols)) != len(symbols):
        raise ScreeningError(f"system {name!r}: expected 2 or 3 distinct element symbols of ElemNet's 86 "
                             f"joined by '-' (e.g. 'Fe-O'){'; unknown: ' + ', '.join(unknown) if unknown else ''}")
    return np.array(sorted(ELEMENT_INDEX[t] for t in symbols), dtype=np.int32)


def formula_of(elements, numerators) -> str:
    """A formula from element indices and integer amounts, reduced by their gcd (amount 1 omitted).

    >>> formula_of([6, 22], [3, 2]), formula_of([6, 22], [50, 50]), formula_of([6, 22], [1, 0])
    ('O3Fe2', 'OFe', 'O')
    """
    nums = [int(n) for n in numerators]
    g = math.gcd(*nums) or 1
    return "".join(ELEMNET_ELEMENTS[int(e)] + (str(n // g) if n // g != 1 else "")
                   for e, n in zip(elements, nums) if n)


def formulas(table: np.ndarray, grid: np.ndarray, systems_idx, points_idx) -> np.ndarray:
    """:func:`formula_of` for many (system, grid point) pairs at once: an object array of the
    formulas of ``grid[points_idx[i]]`` over the elements ``table[systems_idx[i]]``.

    >>> formulas(np.array([[6, 22]]), np.array([[3, 2], [50, 50], [1, 0]]), [0, 0, 0], [0, 1, 2]).tolist()
    ['O3Fe2', 'OFe', 'O']
    """
    grid = np.asarray(grid, dtype=np.int64)
    s, p = np.asarray(systems_idx, dtype=np.int64), np.asarray(points_idx, dtype=np.int64)
    reduced = grid // np.maximum(np.gcd.reduce(grid, axis=1), 1)[:, None]
    # per grid point and element: its amount as written ("" for 1), "" and absent for 0
    amount = np.where(reduced == 1, "", reduced.astype(str)).astype(object)
    symbols = np.array(ELEMNET_ELEMENTS, dtype=object)
    out = np.full(len(s), "", dtype=object)
    for j in range(grid.shape[1]):
        part = symbols[np.asarray(table)[s, j]] + amount[p, j]
        out += np.where(reduced[p, j] > 0, part, "")
    return out


def _count(n: int, noun: str) -> str:
    """``"1 system"``, ``"3,655 systems"``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _nanmean(column: pd.Series) -> float:
    """The mean of the values that are not missing; NaN (without a warning) when there are none."""
    v = column.astype(float).to_numpy()
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else math.nan


@dataclass
class ScreenResult:
    """Tables of a screen (see :func:`hullpack.screening.screen`).

    ``systems``: one row per system: ``system`` ("A-B"), the elements ``A``, ``B`` (``C``),
    ``n_points``, ``n_stable`` (predicted hull vertices, pure elements excluded), ``stable``
    (their formulas, ";"-separated), ``min_energy`` and ``min_formula`` (lowest predicted energy),
    ``nonfinite`` (True: a prediction was NaN/inf; the system has no hull), ``n_fp32`` (points
    re-evaluated in fp32 by the bf16 certification) and, with the DFT comparison, ``n_dft``,
    ``n_dft_stable``, ``tp_pred``, ``tp_dft``, ``precision``, ``recall``, ``mae_dft_hull``,
    ``stab_tp/fp/fn/tn``, ``stab_f1``, ``agree``.
    ``vertices``: one row per predicted stable compound: ``system``, elements, ``x_A``.. fractions,
    ``formula``, ``energy``, ``depth`` (eV/atom below the hull of the other points: how far the
    compound is predicted stable). ``points`` (on request): every grid point of every system with
    ``energy``, ``e_above_hull``, ``is_vertex``.
    """

    systems: pd.DataFrame
    vertices: pd.DataFrame
    points: pd.DataFrame | None = None
    config: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    #: the model, for :meth:`plot_system` (not saved, not sent between processes)
    model: object = field(default=None, repr=False, compare=False)

    @property
    def order(self) -> int:
        return int(self.config.get("order", 2))

    @classmethod
    def concat(cls, parts: list["ScreenResult"]) -> "ScreenResult":
        """Merge the results of shards (in shard order) into one."""
        parts = [p for p in parts if p is not None]
        if not parts:
            raise ScreeningError("no results to merge")
        pts = [p.points for p in parts if p.points is not None]
        stats = {}
        for p in parts:
            for k, v in p.stats.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    stats[k] = max(stats.get(k, 0), v) if k.startswith(("seconds", "peak", "delta")) else stats.get(k, 0) + v
        cfg = dict(parts[0].config)
        cfg["shard"] = None
        if any(p.config.get("certification") for p in parts):
            from .certify import merge_certification

            cfg["certification"] = merge_certification([p.config.get("certification") for p in parts])
        return cls(pd.concat([p.systems for p in parts], ignore_index=True),
                   pd.concat([p.vertices for p in parts], ignore_index=True),
                   pd.concat(pts, ignore_index=True) if pts else None, cfg, stats, parts[0].model)

    def summary(self) -> str:
        """A few lines: systems, stable compounds, certification and DFT agreement."""
        s = self.systems
        n_points = int(s["n_points"].iloc[0]) if len(s) else self.config.get("n_points", 0)
        kind = "binary" if self.order == 2 else "ternary"
        lines = [f"{_count(len(s), kind + ' system')} x {n_points} grid points, precision "
                 f"{self.config.get('precision')}",
                 f"predicted stable compounds: {int(s['n_stable'].sum()):,} in "
                 f"{_count(int((s['n_stable'] > 0).sum()), 'system')}"]
        if "n_fp32" in s and self.config.get("precision") == "bf16":
            from .certify import certification_lines

            lines += certification_lines(self.config.get("certification"), int(s["n_fp32"].sum()),
                                         self.stats.get("n_predictions", 0))
        bad = int(s["nonfinite"].sum())
        if bad:
            lines.append(f"systems with non-finite predictions: {bad} ({', '.join(s.loc[s['nonfinite'], 'system'][:10])})")
        if "stab_tp" in s:
            m = self.dft_metrics()
            lines.append(f"DFT (OQMD) stable compounds: {m['n_dft_stable']:,}; predicted-stable precision "
                         f"{m['precision']:.3f}, recall {m['recall']:.3f} (composition within "
                         f"{self.config.get('match_tol', float('nan')):.4g})")
            lines.append(f"stability F1 over {m['n_dft']:,} known compounds: {m['stability_f1']:.3f}; MAE at DFT hull "
                         f"compositions {m['mae_dft_hull']:.3f} eV/atom (mean over systems); stable sets "
                         f"agree in {m['agree']:.1%} of systems")
        if "seconds_total" in self.stats:
            lines.append(f"time: {self.stats['seconds_total']:.1f} s ({self.stats.get('seconds_screen', 0):.1f} s "
                         f"inference + hulls, {self.stats.get('seconds_dft', 0):.1f} s DFT comparison)")
        return "\n".join(lines)

    def dft_metrics(self) -> dict:
        """The DFT comparison over the whole screen (needs ``compare_dft=True``): counts, stable-
        compound precision and recall, stability F1, mean MAE at the DFT hull compositions and the
        share of systems whose stable sets agree."""
        from .dft import f1_score

        s = self.systems
        if "stab_tp" not in s:
            raise ScreeningError("DFT metrics need a screen with compare_dft=True")
        tp, fp, fn = (float(s[c].sum()) for c in ("stab_tp", "stab_fp", "stab_fn"))
        n_pred, n_dft = float(s["n_stable"][s["tp_pred"].notna()].sum()), float(s["n_dft_stable"].sum())
        return {"n_dft": int(s["n_dft"].sum()), "n_dft_stable": int(n_dft),
                "precision": float(s["tp_pred"].sum() / n_pred) if n_pred else float("nan"),
                "recall": float(s["tp_dft"].sum() / n_dft) if n_dft else float("nan"),
                "stability_f1": float(f1_score(tp, fp, fn)),
                "mae_dft_hull": _nanmean(s["mae_dft_hull"]), "agree": _nanmean(s["agree"])}

    def _write(self, directory, suffix: str, write) -> list[Path]:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        tables = {"systems": self.systems, "vertices": self.vertices, "points": self.points}
        paths = []
        for name, df in tables.items():
            if df is not None:
                paths.append(d / f"{name}.{suffix}")
                write(df, paths[-1])
        return paths

    def to_parquet(self, directory) -> list[Path]:
        """``systems.parquet``, ``vertices.parquet`` (and ``points.parquet``) into ``directory``."""
        return self._write(directory, "parquet", lambda df, path: df.to_parquet(path, index=False))

    def to_csv(self, directory) -> list[Path]:
        """The same tables as CSV."""
        return self._write(directory, "csv", lambda df, path: df.to_csv(path, index=False))

    def group_table(self) -> pd.DataFrame:
        """DFT metrics summed over periodic-table group pairs (screens with the DFT comparison; a
        ternary system counts under each of its three element pairs)."""
        from .dft import by_group_pair

        if "stab_tp" not in self.systems:
            raise ScreeningError("group tables need a screen with compare_dft=True")
        return by_group_pair(self.systems)

    def plot_groups(self, directory) -> list[Path]:
        """Group-pair heatmaps (PNG) of the DFT metrics into ``directory``."""
        from .dft import plot_group_heatmaps

        return plot_group_heatmaps(self.group_table(), directory)

    def plot_system(self, name: str, path=None):
        """Draw one system ("Fe-O", any order of the symbols): the model's points on this screen's
        grid, the predicted hull, the known DFT compounds and the DFT hull; a line plot for a binary,
        a composition triangle for a ternary. Saves to ``path`` (PNG) when given; returns the figure.
        """
        import matplotlib

        if path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from .. import compositions
        from ..hull import lower_hull
        from .dft import load_dft
        from .hulls import HULL_TOL
        from .models import make_engine

        els = parse_system(name)
        if self.model is None:
            raise ScreeningError("this result has no model attached (loaded from files?): screen again to plot")
        order = len(els)
        grid = self.config.get("grid_array")
        if grid is None or np.asarray(grid).shape[1] != order:
            grid = compositions.uniform_grid(order, 100 if order == 2 else 20)
        grid = np.asarray(grid, dtype=np.int32)
        eng = make_engine(self.model)
        e = eng.predict(els[None, :], grid, "fp32")[0].astype(np.float64)
        fr = compositions.grid_fractions(grid)
        h = lower_hull(fr, e, tol=HULL_TOL)
        dft = load_dft()
        fd, ed, _ = dft.of_system(els)
        names = [ELEMNET_ELEMENTS[i] for i in els]
        fig, ax = plt.subplots(figsize=(7, 5) if order == 2 else (7, 6.2))
        if order == 2:
            x = fr[:, 1]
            ax.plot(x, e, ".", ms=3, color="0.6", label="model (grid)")
            hv = np.r_[0.0, x[h.is_vertex], 1.0], np.r_[0.0, e[h.is_vertex], 0.0]
            o = np.argsort(hv[0])
            ax.plot(hv[0][o], hv[1][o], "-o", color="C0", ms=5, label="predicted hull")
            if len(ed):
                hd = lower_hull(fd, ed, tol=HULL_TOL)
                ax.plot(fd[:, 1], ed, "x", color="C3", ms=5, label="OQMD compounds")
                dv = np.r_[0.0, fd[hd.is_vertex, 1], 1.0], np.r_[0.0, ed[hd.is_vertex], 0.0]
                o = np.argsort(dv[0])
                ax.plot(dv[0][o], dv[1][o], "--s", color="C3", ms=5, mfc="none", label="DFT hull")
            ax.axhline(0, color="k", lw=0.5)
            ax.set_xlabel(f"fraction of {names[1]} in {names[0]}-{names[1]}")
            ax.set_ylabel("formation energy (eV/atom)")
        else:
            def xy(f):
                return f[:, 1] + 0.5 * f[:, 2], f[:, 2] * (3 ** 0.5) / 2
            px, py = xy(fr)
            sc = ax.scatter(px, py, c=e, s=12, cmap="viridis", label="model (grid)")
            fig.colorbar(sc, ax=ax, label="predicted energy (eV/atom)", shrink=0.8)
            corners = np.eye(3)

            def draw_facets(hull, f, color, ls):
                for tri in hull.facets:
                    pts = np.array([corners[-1 - v] if v < 0 else f[v] for v in tri])
                    tx, ty = xy(np.vstack([pts, pts[:1]]))
                    ax.plot(tx, ty, ls, color=color, lw=0.7)
            draw_facets(h, fr, "C0", "-")
            vx, vy = xy(fr[h.is_vertex])
            ax.plot(vx, vy, "o", color="C0", ms=6, label="predicted stable")
            if len(ed):
                hd = lower_hull(fd, ed, tol=HULL_TOL)
                draw_facets(hd, fd, "C3", "--")
                dx, dy = xy(fd)
                ax.plot(dx, dy, "x", color="C3", ms=5, label="OQMD compounds")
                sx, sy = xy(fd[hd.is_vertex])
                ax.plot(sx, sy, "s", color="C3", mfc="none", ms=8, label="DFT stable")
            for k, (cx, cy) in enumerate(zip(*xy(corners))):
                ax.annotate(names[k], (cx, cy), textcoords="offset points", xytext=(0, 6 if k == 2 else -14),
                            ha="center")
            ax.set_aspect("equal")
            ax.axis("off")
        ax.set_title(f"{'-'.join(names)}: predicted vs DFT (OQMD) convex hull")
        ax.legend(fontsize=8, loc="best")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
            plt.close(fig)
        return fig
