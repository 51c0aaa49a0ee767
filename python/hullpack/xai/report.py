"""Run the XElemNet analyses on a model and write figures, tables and a self-contained report
(Markdown with linked PNGs, HTML with the PNGs embedded); the sections are in
:mod:`hullpack.xai.sections`."""
from __future__ import annotations

import errno
import json
import logging
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
from torch import nn

from ..naming import plural
from ..screening.models import module_device
from ..screening.outputs import json_text
from .base import ENERGY_UNIT, energy_model, ensure_dir, load_model, oqmd_split, records_no_training
from .render import markdown, to_html
from .sections import (_run_alignment, _run_binaries, _run_importance, _run_projection, _run_shap,
                       _run_surrogate)

log = logging.getLogger(__name__)

#: the analyses :func:`explain` runs, in order (alignment uses what shap and importance found)
ANALYSES = ("shap", "importance", "alignment", "surrogate", "binaries", "hulls", "projection")


@dataclass
class ExplainConfig:
    """Sample sizes and seed of :func:`explain` (the defaults take a few minutes on 2 CPU cores)."""

    #: test-split compositions explained with SHAP, and train-split background rows (each of the
    #: sample sizes of a split: one larger than the split takes all of it, and the report says so)
    n_shap: int = 500
    n_background: int = 100
    #: compositions (and samples each) of the KernelExplainer cross-check
    n_kernel: int = 3
    kernel_nsamples: int = 2048
    #: test-split compositions for occlusion importance (None: all) and bootstrap resamples
    n_importance: int | None = None
    n_bootstrap: int = 200
    #: test-split compositions the surrogate tree is fitted to, and the depths tried
    n_surrogate: int = 20000
    depths: tuple[int, ...] = tuple(range(1, 13))
    #: points on [0, 1] of the binary scans (refined around each minimum)
    n_grid: int = 201
    #: grid of the binary hull screen compared with DFT, as :func:`hullpack.screening.screen` takes
    #: it ("reduced:N", "uniform:N" or N); None: the screen's own default (reduced:10, 33 points),
    #: with which its depth threshold was chosen
    hull_grid: str | int | None = None
    seed: int = 0

    def __post_init__(self):
        _check_config(self)  # impossible sizes fail where they are set


@dataclass
class _Report:
    out: Path
    blocks: list[tuple] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    #: the files written, relative to ``out``
    files: list[str] = field(default_factory=list)

    def h(self, text: str, level: int = 2) -> None:
        self.blocks.append(("h", level, text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def csv(self, df: pd.DataFrame, name: str, *, index: bool = True) -> None:
        """``tables/<name>.csv``, without a table in the report."""
        df.to_csv(ensure_dir(self.out / "tables") / f"{name}.csv", index=index)
        self.files.append(f"tables/{name}.csv")

    def table(self, df: pd.DataFrame, name: str, *, index: bool = True, floatfmt: str = "{:.4g}") -> None:
        self.csv(df, name, index=index)
        self.blocks.append(("table", df, index, floatfmt))

    def figure(self, fig, name: str, caption: str) -> None:
        from .plots import save

        path = save(fig, self.out / f"{name}.png")
        self.files.append(path.name)
        self.blocks.append(("img", path.name, caption))


class _Data:
    """The OQMD splits, loaded once and only if an analysis needs them. A sample size larger than
    its split takes the whole split, and says so in :attr:`notes` (and the log); :attr:`clipped`
    has the sizes asked for and used, by :class:`ExplainConfig` field."""

    def __init__(self, seed: int):
        self.seed = seed
        self._test: tuple[np.ndarray, np.ndarray] | None = None
        self._train_x: np.ndarray | None = None
        self.notes: list[str] = []
        self.clipped: dict[str, dict[str, int]] = {}

    def _clip(self, field: str, n: int | None, split: str, size: int) -> int | None:
        """``n``, or None (all rows) where it is None or more than the split's ``size``, noting that."""
        if n is not None and n > size:
            note = (f"{field} = {n:,} is more than the {size:,} compositions of the OQMD {split} split: all of "
                    "them are used.")
            log.warning(note)
            self.notes.append(note)
            self.clipped[field] = {"asked": int(n), "used": int(size)}
            return None
        return n

    def test(self, n: int | None = None, field: str = "n") -> tuple[np.ndarray, np.ndarray]:
        if self._test is None:
            self._test = oqmd_split("test")
        x, y = self._test
        n = self._clip(field, n, "test", len(x))
        if n is not None and n < len(x):
            idx = np.sort(np.random.default_rng(self.seed).choice(len(x), n, replace=False))
            return x[idx], y[idx]
        return x, y

    def background(self, n: int, field: str = "n_background") -> np.ndarray:
        if self._train_x is None:
            self._train_x, _ = oqmd_split("train")
        rows = self._clip(field, n, "train", len(self._train_x))
        if rows is None:
            return self._train_x
        idx = np.sort(np.random.default_rng(self.seed + 1).choice(len(self._train_x), rows, replace=False))
        return self._train_x[idx]


# the hull screen's section stays here, beside explain: it asks this module's module_device where
# the model is, and that is where a GPU model is faked on a machine without one

#: how the hull section says the screen's precision (``config["precision"]``)
_PRECISION_WORDS = {"fp32": "fp32 inference",
                    "bf16": "bf16 inference certified against fp32: every hull vertex and every point near the "
                            "hull evaluated in fp32",
                    "bf16-uncertified": "bf16 inference, not certified"}


def _run_hulls(model, r: _Report, data: _Data, cfg: ExplainConfig, found: dict) -> None:
    from ..errors import ScreeningError
    from ..screening import screen
    from . import plots
    from .binaries import hull_agreement_by_group

    r.h("Binary hulls against DFT")
    try:
        # on the model's device, as the other analyses run it (a module without parameters: the CPU)
        res = screen(model, order=2, grid=cfg.hull_grid, device=str(module_device(model) or "cpu"))
    except ScreeningError as exc:  # a model the screen cannot run (it says why)
        r.p(f"Skipped: {exc}.")
        return
    s = res.systems
    r.csv(s, "hull_screen_systems", index=False)
    known = s[s["n_dft_stable"].fillna(0) > 0]
    # agreement where there is something to agree on, as the screen's summary and groups_agree.png
    # count it: a system with a predicted or a DFT stable compound (two empty sets agree trivially)
    either = s[(s["n_stable"] > 0) | (s["n_dft_stable"].fillna(0) > 0)]
    predicted = int((s["n_stable"] > 0).sum())
    cfg_s = res.config
    r.p(f"All {len(s):,} binary systems screened on {cfg_s['n_points']} compositions each (grid {cfg_s['grid']}; "
        f"`hullpack.screening.screen`, {_PRECISION_WORDS.get(str(cfg_s.get('precision')), cfg_s.get('precision'))}) "
        "and compared with the "
        f"hull of the OQMD compounds shipped with hullpack; {len(known):,} systems have a DFT-stable compound, "
        f"{predicted:,} a predicted one, {len(either):,} either. "
        f"A predicted stable compound is a hull vertex at least {1000 * cfg_s['min_depth']:g} meV/atom below the "
        "hull of the other points; precision and recall match them with the DFT-stable compounds (compositions "
        f"within {cfg_s['match_tol']:.4g} in the fraction of either element), and a system agrees when both sets match one to one (agreement is "
        "counted over the systems with a predicted or a DFT-stable compound, as `hullpack screen` counts it). "
        "Stability F1 classifies the known compounds as on or above the hull (DFT against the model's energies "
        f"at those compositions); mae_dft_hull is the model's mean absolute error ({ENERGY_UNIT}) at the DFT hull "
        "compositions, averaged over the systems. Rows of the figures: group of the less electronegative element."
        + ("" if predicted else " The model predicts no stable compound in any system, so precision (the share of "
           "predicted stable compounds that DFT confirms) is undefined: blank in the table, null in results.json."))
    m = res.dft_metrics()
    numbers = {"grid": cfg_s["grid"], "systems": int(len(s)), "systems_with_dft_stable": int(len(known)),
               "systems_with_predicted_stable": predicted, "systems_with_compounds": m["n_systems_with_compounds"],
               "agree_with_compounds": m["agree_with_compounds"],
               **{k: m[k] for k in ("precision", "recall", "stability_f1", "mae_dft_hull")}}
    end = _end_artifacts(s, m, cfg_s["min_depth"])
    if end is not None:
        r.p(end[0])
        numbers.update(end[1])
    r.table(pd.DataFrame([numbers]), "hull_summary", index=False, floatfmt="{:.3f}")
    r.figure(plots.matrix_heatmap(hull_agreement_by_group(either, "agree"),
                                  counts=hull_agreement_by_group(either, "agree", agg="count"),
                                  title="share of systems whose stable sets agree with DFT", label="agreement",
                                  xlabel="group of B", ylabel="group of A"),
             "hull_agreement", "Share of binary systems (with a predicted or a DFT-stable compound) whose "
             "predicted and DFT stable sets agree, by group pair (n = systems; grey: none).")
    counts = hull_agreement_by_group(known, "stab_f1", agg="count")
    r.figure(plots.matrix_heatmap(hull_agreement_by_group(known, "stab_f1"), counts=counts,
                                  title="stability F1 by group pair", label="F1", xlabel="group of B",
                                  ylabel="group of A"),
             "hull_f1", "Stability F1 of the known compounds by group pair (mean over the n systems with a "
             "DFT-stable compound; grey: none).")
    r.numbers["hulls"] = numbers


def _end_artifacts(s: pd.DataFrame, m: dict, min_depth: float) -> tuple[str, dict[str, Any]] | None:
    """The hull section's words and numbers on the predicted stable compounds that are stable only
    because the screen pins each element end at 0 eV/atom where the model predicts the pure element
    below 0 (the screen's ``end_artifact``); None where there are none. A model whose pure elements
    are far below 0 (a briefly trained one) can owe most of its predicted compounds to them."""
    n_end = int(s["n_end_artifact"].sum()) if "n_end_artifact" in s else 0
    if not n_end:
        return None
    n_stable = int(s["n_stable"].sum())
    systems = int(((s["n_stable"] - s["n_end_artifact"]) > 0).sum())
    rates = {name: m.get(f"{name}_without_end") for name in ("precision", "recall")}
    numbers = {"predicted_stable": n_stable, "end_artifacts": n_end,
               "systems_with_predicted_stable_without_end": systems,
               **{f"{name}_without_end": v for name, v in rates.items()}}
    pr = ", ".join(f"{name} {v:.3f}" for name, v in rates.items() if isinstance(v, float) and np.isfinite(v))
    words = (f"{n_end:,} of the {plural(n_stable, 'predicted stable compound')} ({n_end / n_stable:.0%}) are stable "
             "only because the screen puts each element end at 0 eV/atom while the model predicts that pure element "
             f"below 0: with the ends at the model's own energies they are less than {1000 * min_depth:g} meV/atom deep "
             "(column n_end_artifact of tables/hull_screen_systems.csv). Without them "
             f"{plural(systems, 'system')} {'has' if systems == 1 else 'have'} a predicted stable compound"
             + (f"; {pr} (results.json: precision_without_end, recall_without_end)." if pr else "."))
    return words, numbers


_RUNNERS: dict[str, Callable] = {"shap": _run_shap, "importance": _run_importance, "alignment": _run_alignment,
                                 "surrogate": _run_surrogate, "binaries": _run_binaries, "hulls": _run_hulls,
                                 "projection": _run_projection}


def _describe_model(model: nn.Module, source: str) -> dict[str, Any]:
    meta = dict(getattr(model, "metadata", {}) or {})
    info = {"source": source, "architecture": getattr(model, "architecture", type(model).__name__),
            "parameters": int(sum(p.numel() for p in model.parameters()))}
    for k in ("epoch", "val_mae", "test_mae", "sha256", "trained_on"):
        if k in meta:
            info[k] = meta[k]
    if isinstance(meta.get("init"), dict):  # fine-tuned (hullpack train --init): from which model
        info["init"] = meta["init"].get("source")
    if records_no_training(model):
        info["trained"] = False  # a model file that records no training (explained with allow_untrained)
    return info


def _model_words(info: dict[str, Any]) -> str:
    """The report's first line on the model, each figure with its unit and what it is: what the
    model was trained on (its validation MAE is measured on that data's validation rows, not on
    OQMD's) and, for a fine-tuned model, from which model; epoch 0 of a fine-tuning run is the
    starting weights, which no epoch bettered.

    >>> _model_words({"source": "run/best.pt", "architecture": "64x2D-32x1-1", "parameters": 11841,
    ...               "epoch": 2, "val_mae": 0.57742, "sha256": "ab12"})
    'run/best.pt; architecture 64x2D-32x1-1, 11,841 parameters; weights of epoch 2; validation MAE 0.5774 eV/atom (as the model file records it)'
    >>> _model_words({"source": "tuned", "architecture": "64x2D-32x1-1", "parameters": 11841, "epoch": 0,
    ...               "trained_on": "mine.csv (300 rows)", "init": "the shipped default model"})
    'tuned; architecture 64x2D-32x1-1, 11,841 parameters; trained on mine.csv (300 rows), fine-tuned from the shipped default model; weights of epoch 0: the starting weights, unchanged (no epoch of fine-tuning did better on validation)'
    """
    words = [str(info["source"]), f"architecture {info['architecture']}, {info['parameters']:,} parameters"]
    trained = [f"trained on {info['trained_on']}"] if info.get("trained_on") else []
    if info.get("init"):
        trained.append(f"fine-tuned from {info['init']}")
    if trained:
        words.append(", ".join(trained))
    if info.get("init") and info.get("epoch") == 0:
        words.append("weights of epoch 0: the starting weights, unchanged (no epoch of fine-tuning did better on "
                     "validation)")
    elif "epoch" in info:
        words.append(f"weights of epoch {info['epoch']}")
    maes = [f"{name} MAE {info[k]:.4f} {ENERGY_UNIT}" for k, name in (("val_mae", "validation"), ("test_mae", "test"))
            if isinstance(info.get(k), (int, float))]
    if maes:
        words.append(", ".join(maes) + " (as the model file records it)")
    if info.get("trained") is False:
        words.append("**its file records no training** (no epoch or MAE): what follows describes those weights, "
                     "not what a trained model learned about chemistry")
    return "; ".join(words)


def _check_config(cfg: ExplainConfig) -> None:
    """Refuse impossible sizes before any work (and before loading the model)."""
    low = {"n_shap": 1, "n_background": 1, "n_kernel": 1, "kernel_nsamples": 10, "n_bootstrap": 1,
           "n_surrogate": 20, "n_grid": 3, "seed": 0}  # numpy's generators take seeds >= 0
    for name, least in low.items():
        if getattr(cfg, name) < least:
            raise ValueError(f"{name} = {getattr(cfg, name)} must be >= {least}")
    if cfg.hull_grid is not None:
        from ..screening.pipeline import resolve_grid

        try:
            resolve_grid(2, cfg.hull_grid)
        except ValueError as exc:  # "grid='x': expected 'uniform:N' ..."
            raise ValueError(f"hull_grid = {cfg.hull_grid!r}: {str(exc).partition(': ')[2]}") from None
    if cfg.n_importance is not None and cfg.n_importance < 1:
        raise ValueError(f"n_importance = {cfg.n_importance} must be >= 1 (leave it unset for the whole test split)")
    if not cfg.depths or min(cfg.depths) < 1:
        raise ValueError(f"depths {cfg.depths} must be positive integers")


def explain(out_dir: str | os.PathLike, model: nn.Module | None = None, *, model_path: str | os.PathLike | None = None,
            only: Iterable[str] | None = None, config: ExplainConfig | None = None,
            allow_untrained: bool = False) -> dict[str, Any]:
    """Run the analyses (``only``: a subset of :data:`ANALYSES`, or one comma-separated string) on
    ``model``, the model file ``model_path``, or hullpack's shipped default, and write into
    ``out_dir``: one PNG per figure, ``tables/*.csv``, ``report.md`` (PNG links), ``report.html``
    (self-contained) and ``results.json`` (the key numbers, also returned; ``"files"`` lists what
    was written). An analysis that raises is logged with its traceback and reported as failed
    (``results["failed"]``: name -> error); the others still run. Figures and tables that an
    earlier report in ``out_dir`` wrote and this one did not are removed.
    """
    t_start = time.perf_counter()
    cfg = config or ExplainConfig()
    if isinstance(only, str):  # "shap,surrogate", as on the command line
        only = only.split(",")
    names = list(ANALYSES) if only is None else [str(a).strip() for a in only if str(a).strip()]
    unknown = [a for a in names if a not in ANALYSES]
    if unknown or not names:
        raise ValueError(f"unknown analyses {unknown}; choose from {', '.join(ANALYSES)}")
    _check_config(cfg)
    if Path(out_dir).exists() and not Path(out_dir).is_dir():  # before the minutes of work, not after
        raise ValueError(f"out_dir {str(out_dir)!r} is a file; the report needs a folder (it is created if missing)")
    if model is None:
        model = load_model(model_path, allow_untrained=allow_untrained)
        source = model.source  # resolve_model's words: the shipped default model, or the path given
    else:
        source = type(model).__name__
    model = energy_model(model)
    out = ensure_dir(out_dir)
    if not os.access(out, os.W_OK | os.X_OK):  # before the minutes of work: every file written would fail
        raise PermissionError(errno.EACCES, "the report's folder is not writable; give one you can write to", str(out))
    r = _Report(out)
    info = _describe_model(model, source)
    r.h("XElemNet report", 1)
    r.p(f"Model: {_model_words(info)}. Energies in {ENERGY_UNIT}. Seed {cfg.seed}.")
    r.numbers["model"] = info
    r.numbers["config"] = asdict(cfg)
    data = _Data(cfg.seed)
    found: dict[str, pd.Series] = {}
    timings, failed = {}, {}
    previous = _files_of_last_report(out)
    for name in [a for a in ANALYSES if a in names]:
        t0 = time.perf_counter()
        log.info("running %s", name)
        start = len(r.blocks)
        try:
            _RUNNERS[name](model, r, data, cfg, found)
        except Exception as exc:  # one analysis failing must not lose what the others found
            log.error("%s failed; the report keeps the other analyses", name, exc_info=True)
            failed[name] = f"{type(exc).__name__}: {exc}"
            del r.blocks[start:]
            r.h(f"{name}: failed")
            r.p(f"**Failed**: {failed[name]} (the traceback is in the log).")
        notes, data.notes = data.notes, []
        if notes:  # a sample size cut to its split: said under the section's heading
            r.blocks.insert(start + 1, ("p", "Sample size: " + " ".join(notes)))
        timings[name] = round(time.perf_counter() - t0, 2)
        log.info("%s %s in %.1f s", name, "failed" if name in failed else "done", timings[name])
    r.numbers["seconds"] = timings
    if data.clipped:
        r.numbers["clipped"] = data.clipped
    if failed:
        r.numbers["failed"] = failed
    r.p("Seconds per analysis: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()) + ".")
    (out / "report.md").write_text(markdown(r.blocks), encoding="utf-8")
    (out / "report.html").write_text(to_html(r.blocks, out, "XElemNet report"), encoding="utf-8")
    r.numbers["files"] = sorted({*r.files, "report.md", "report.html", "results.json"})
    (out / "results.json").write_text(json_text(r.numbers, indent=2, default=_json_default), encoding="utf-8")
    for stale in previous - set(r.numbers["files"]):  # figures and tables of an earlier run into out_dir
        (out / stale).unlink(missing_ok=True)
    log.info("report written to %s in %.1f s", out, time.perf_counter() - t_start)
    return r.numbers


def _files_of_last_report(out: Path) -> set[str]:
    """The figures and tables an earlier report in ``out`` wrote (its results.json lists them)."""
    try:
        files = json.loads((out / "results.json").read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):  # none, or not one of ours
        return set()
    # only plain names inside out, as this module writes them
    return {f for f in files if isinstance(f, str) and re.fullmatch(r"(tables/)?[\w.-]+\.(png|csv)", f)}


def _json_default(v: Any):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return str(v)  # tuples never get here: json writes them as lists


__all__ = ["ANALYSES", "ExplainConfig", "explain"]
