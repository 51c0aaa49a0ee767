"""The report's sections, one function per analysis: each runs it on the model and writes its text,
tables, figures and key numbers into the report (:func:`hullpack.xai.explain` calls them; the hull
screen's section is in :mod:`hullpack.xai.report`)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..naming import plural
from .base import ENERGY_UNIT, predict, pure_energies

if TYPE_CHECKING:  # only for the annotations: the report imports this module
    from .report import ExplainConfig, _Data, _Report

_KERNEL_BACKGROUND = 20  # background rows of the KernelExplainer cross-check


def _run_shap(model, r: _Report, data: _Data, cfg: ExplainConfig, found: dict) -> None:
    from . import plots
    from .attributions import kernel_check, shap_summary, shap_values

    x, _ = data.test(cfg.n_shap, "n_shap")
    ex = shap_values(model, x, "elements")
    pred = predict(model, x)
    additivity = float(np.abs(ex.values.sum(axis=1) + ex.base_values - pred).max())
    typical = float(np.median(np.abs(pred - ex.base_values)))  # what the values of a composition add up to
    summary = shap_summary(ex)
    found["shap"] = summary["mean_abs"]
    # the pure elements' own predictions, furthest from 0 first: the reference each value is taken against
    present = summary.index[summary["n_present"] > 0]
    off = pure_energies(model)[present].sort_values(key=abs, ascending=False).head(3)
    r.h("SHAP attributions")
    r.p(f"DeepLIFT/DeepSHAP attributions of the predicted energy of {plural(len(x), 'OQMD test composition')} to "
        f"{'its' if len(x) == 1 else 'their'} element fractions ({ex.compute_time:.1f} s). Reference: each "
        "composition's own elements, pure, weighted "
        "by fraction (absent elements get exactly zero), so the values of the present elements add up to the "
        f"predicted energy below the pure elements' line{_additivity_words(additivity, typical)}. Mean reference energy {ex.base_values.mean():+.3f} {ENERGY_UNIT} (the "
        "model's pure elements; ideally 0). The pure elements furthest from 0 among those present: "
        + ", ".join(f"{e} {v:+.3f}" for e, v in off.items()) + f" {ENERGY_UNIT}; where a pure element's "
        "prediction is off 0, a compound's values add up to its energy below those predictions, not to its "
        "formation energy.")
    top = summary.dropna(subset=["mean_abs"]).head(15)[["n_present", "mean_abs", "mean"]]
    r.p("Elements by mean |SHAP| over the compositions that contain them (n_present); an element present in "
        "only a few compositions can rank high by chance.")
    r.table(top.rename(columns={"mean_abs": f"mean abs SHAP ({ENERGY_UNIT})", "mean": f"mean SHAP ({ENERGY_UNIT})"}),
            "shap_top")
    r.figure(plots.shap_figure(ex, "bar"), "shap_bar",
             f"Mean |SHAP| per element over all {plural(len(x), 'composition')}, counting 0 where the element is absent, so "
             "common elements rank higher than in the table above, which averages over the compositions containing "
             "the element (shap.plots.bar).")
    r.figure(plots.shap_figure(ex, "beeswarm"), "shap_beeswarm",
             "SHAP values per composition and element; colour = the element's fraction (shap.plots.beeswarm).")
    r.figure(plots.periodic_table_heatmap(summary["mean"], title="mean SHAP where present",
                                          label=f"mean SHAP ({ENERGY_UNIT}); blue: lowers the predicted energy, red: raises it", center=0.0, fmt="{:.2f}"),
             "periodic_shap", "Mean SHAP per element over the compositions containing it (blue: lowers the "
             "energy); grey: never present.")
    bg = data.background(cfg.n_background)
    # the usual DeepSHAP for comparison, on at most 100 of the compositions (it costs n x background)
    ex_bg = shap_values(model, x[:100], bg, n_background=cfg.n_background, seed=cfg.seed)
    sb = shap_summary(ex_bg)
    r.p(f"Against a background of {plural(len(bg), 'OQMD train composition')} instead (usual DeepSHAP, on "
        f"{len(ex_bg.values):,} of the compositions; {ex_bg.compute_time:.1f} s), "
        f"absent elements carry {sb.attrs['absent_share']:.1%} of all |attribution|: an element missing from a "
        "composition gets -E_background[x_e] times its DeepLIFT multiplier, the effect of not containing it. "
        f"Top elements by mean |SHAP| where present: {', '.join(sb.dropna(subset=['mean_abs']).index[:8])}.")
    n_kernel_bg = min(_KERNEL_BACKGROUND, len(bg))  # KernelExplainer costs nsamples x background rows
    kc = kernel_check(model, x, "elements", n_points=cfg.n_kernel, nsamples=cfg.kernel_nsamples, seed=cfg.seed)
    kb = kernel_check(model, x, bg, n_points=cfg.n_kernel, n_background=n_kernel_bg, nsamples=cfg.kernel_nsamples,
                      seed=cfg.seed)
    kc.insert(0, "reference", "elements")
    kb.insert(0, "reference", plural(n_kernel_bg, "OQMD train composition"))
    kall = pd.concat([kc, kb], ignore_index=True)
    found_here = "; ".join(
        f"against {'their own elements' if ref == 'elements' else ref}, {g['same_sign'].mean():.0%} of the element values share their sign and the summed "
        f"difference is {g['relative_diff'].median():.0%} of the summed |DeepLIFT| (median)"
        for ref, g in kall.groupby("reference", sort=False))
    r.p("Cross-check with the model-agnostic KernelExplainer on a few compositions, each method against the "
        "same reference. Kernel SHAP evaluates the network on mixtures off the composition simplex and "
        "DeepLIFT is not the Shapley value of a nonlinear network, so the two need not agree; here "
        f"{found_here}. In the table, elements counts the element values compared (the composition's own, or "
        "all those in it or its reference); max_abs_diff, the largest difference of one element's two values, "
        "and the additivity errors, how far each method's values miss the prediction less the reference, are "
        f"in {ENERGY_UNIT}.")
    r.table(kall, "shap_kernel_check", index=False)
    r.numbers["shap"] = {"n": len(x), "reference": "elements", "seconds": ex.compute_time,
                         "additivity_max_error": additivity, "additive": additivity <= _ADDITIVE,
                         "median_abs_explained": typical, "pure_energy_furthest": off.round(4).to_dict(), "top": top.index[:10].tolist(),
                         # how many compositions each top element's mean is over (one can rank first)
                         "top_n_present": top["n_present"].iloc[:10].astype(int).tolist(),
                         "background_rows": len(bg), "background_absent_share": sb.attrs["absent_share"],
                         "kernel_same_sign": kall["same_sign"].tolist(),
                         "kernel_relative_diff": kall["relative_diff"].tolist()}


_ADDITIVE = 1e-4  # eV/atom: values that add up within this add up (float32 sums of a ReLU network's exact DeepLIFT)


def _additivity_words(error: float, typical: float) -> str:
    """How well the SHAP values add up, as measured: ``error`` the largest gap between their sum
    and the prediction less the reference, ``typical`` the median of what they add up to (eV/atom).

    >>> _additivity_words(3e-7, 0.5)
    ' (within 3.0e-07 eV/atom)'
    >>> print(_additivity_words(0.04, 0.07))  # doctest: +ELLIPSIS
     only approximately: within 0.04 eV/atom ... **Warning**: that is 57% of the median 0.07 eV/atom ...
    """
    if error <= _ADDITIVE:
        return f" (within {error:.1e} {ENERGY_UNIT})"
    words = (f" only approximately: within {error:.2g} {ENERGY_UNIT} (the largest gap over the compositions; "
             "shap's DeepLIFT rules add up exactly for Linear and ReLU layers, and this network has others)")
    if error > 0.1 * typical:
        words += (f". **Warning**: that is {error / max(typical, 1e-12):.0%} of the median {typical:.2g} {ENERGY_UNIT} "
                  "the values of a composition add up to: read single values as rough")
    return words


def _in_none(n: int) -> str:
    """The occlusion paragraph's count of the elements no test composition contains.

    >>> _in_none(0)
    'every element is in at least one of them'
    >>> _in_none(1)
    '1 element is in none of them: nothing was removed, so it is listed last'
    >>> _in_none(3)
    '3 elements are in none of them: nothing was removed, so they are listed last'
    """
    if n == 0:
        return "every element is in at least one of them"
    if n == 1:
        return "1 element is in none of them: nothing was removed, so it is listed last"
    return f"{n} elements are in none of them: nothing was removed, so they are listed last"


def _run_importance(model, r: _Report, data: _Data, cfg: ExplainConfig, found: dict) -> None:
    from . import plots
    from .importance import occlusion_importance

    x, y = data.test(cfg.n_importance, "n_importance")
    df = occlusion_importance(model, x, y, n_bootstrap=cfg.n_bootstrap, seed=cfg.seed)
    found["occlusion"] = df["delta_mae"].where(df["n_containing"] > 0)  # never occluded: not measured
    r.h("Occlusion importance")
    r.p(f"Each element is removed from every one of the {plural(len(x), 'OQMD test composition')} that contains it "
        f"(other fractions renormalised) and the MAE against DFT is measured again. Unoccluded MAE: "
        f"{df.attrs['mae']:.4f} {ENERGY_UNIT}. ΔMAE (delta_mae, ci_low, ci_high) is over all {plural(len(x), 'composition')} "
        f"(common elements weigh more; {_in_none(int((df['n_containing'] == 0).sum()))}); "
        "ΔMAE affected (delta_mae_affected, affected_ci_low, affected_ci_high) is the mean over the compositions "
        f"containing the element (n_containing); both in {ENERGY_UNIT}. Intervals: "
        f"{df.attrs['ci']:.0%} bootstrap percentile, {plural(cfg.n_bootstrap, 'resample')}.")
    r.table(df.head(20), "occlusion_importance_top")
    r.csv(df, "occlusion_importance")
    r.figure(plots.importance_bar(df, title=f"occlusion importance ({plural(len(x), 'OQMD test composition')})",
                                  label=f"ΔMAE over all {plural(len(x), 'composition')} ({ENERGY_UNIT})"),
             "importance_bar",
             f"ΔMAE ({ENERGY_UNIT}) when the element is removed, top 25 of the elements in at least one "
             "composition, with bootstrap intervals.")
    r.figure(plots.periodic_table_heatmap(df["delta_mae_affected"], title="ΔMAE over compositions containing the element",
                                          label=f"ΔMAE over the compositions containing it ({ENERGY_UNIT}); "
                                          "red: removing the element raises the error, blue: lowers it",
                                          center=0.0, fmt="{:.2f}"),
             "periodic_importance", "Occlusion ΔMAE per element, averaged over the compositions that contain it "
             "(red: the predictions are worse without the element, so the model relies on it; blue: better "
             "without it); grey: in none of the compositions.")
    r.numbers["importance"] = {"n": len(x), "mae": df.attrs["mae"], "top": df.index[:10].tolist(),
                               "top_delta_mae": df["delta_mae"].iloc[:10].round(5).tolist()}


#: the axis of each per-element quantity in the alignment figure (what the short names in its table mean)
_QUANTITY_LABELS = {"response": "mean energy of its equiatomic AB", "occlusion": "occlusion ΔMAE",
                    "shap": "mean |SHAP| where present"}


def _run_alignment(model, r: _Report, data: _Data, cfg: ExplainConfig, found: dict) -> None:
    from . import plots
    from .alignment import element_response, property_alignment

    resp = element_response(model)
    q = pd.DataFrame({"response": resp["mean"]})
    units = {"response": ENERGY_UNIT}
    if "occlusion" in found:
        q["occlusion"] = found["occlusion"]
        units["occlusion"] = ENERGY_UNIT
    if "shap" in found:
        q["shap"] = found["shap"]
        units["shap"] = ENERGY_UNIT
    al = property_alignment(q)
    r.h("Element-property alignment")
    r.p("Per-element quantities against pymatgen's element data, by Spearman rank correlation: "
        f"**response** is the mean predicted energy ({ENERGY_UNIT}) of the 85 equiatomic binaries AB the "
        "element forms; **occlusion** is its ΔMAE over all the occlusion compositions (delta_mae: common elements "
        "weigh more) and **shap** its mean |SHAP| where present (when those analyses ran; "
        "elements they never saw are left out, n). A rank correlation says how a quantity varies with a property "
        "across elements, not that the model uses the property (the inputs are fractions only); with "
        f"{plural(len(al), 'pair')} tested, about {0.05 * len(al):.1f} would reach p < 0.05 by chance alone.")
    r.table(al, "alignment", index=False)
    r.p(f"The ten elements of lowest response ({ENERGY_UNIT}): the mean and the lowest predicted energy of their "
        "equiatomic binaries, the partner of the lowest (min_partner), and the model's energy of the pure element "
        "(pure; 0 by definition in the data it learned from).")
    r.table(resp.sort_values("mean").head(10), "response_most_negative", floatfmt="{:.3f}")
    r.figure(plots.alignment_scatter(q, al, units=units, labels=_QUANTITY_LABELS), "alignment_scatter",
             "Per-element quantities against element properties; colour = group; ρ: Spearman.")
    r.figure(plots.periodic_table_heatmap(resp["mean"], title="learned response: mean energy of equiatomic AB",
                                          label=f"mean predicted energy ({ENERGY_UNIT})", center=0.0),
             "periodic_response", f"Mean predicted energy ({ENERGY_UNIT}) of the element's 85 equiatomic binaries.")
    best = al.dropna(subset=["rho"]).iloc[0] if al["rho"].notna().any() else None
    r.numbers["alignment"] = {
        "rows": [{k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in row.items()}
                 for row in al.to_dict("records")],
        "strongest": None if best is None else f"{best['quantity']} ~ {best['property']}: rho {best['rho']:+.2f}"}


def _run_surrogate(model, r: _Report, data: _Data, cfg: ExplainConfig, found: dict) -> None:
    from . import plots
    from .surrogate import fit_surrogate

    x, _ = data.test(cfg.n_surrogate, "n_surrogate")
    s = fit_surrogate(model, x, depths=cfg.depths, seed=cfg.seed)
    r.h("Surrogate decision tree")
    numbers = {"n": len(x), "depth": s.depth, "r2_test": s.r2, "fidelity": s.fidelity["r2_test"].round(4).to_dict(),
               "top_split_elements": s.splits["element"].head(5).tolist(), "no_split": s.no_split}
    if s.no_split:
        r.p(f"Regression trees were fitted to the model's predictions on {plural(len(x), 'OQMD test composition')} (inputs: "
            f"the 86 fractions), fidelity measured on a held-out quarter, but the tree found no split at any "
            f"depth tried: {s.no_split}. It is one leaf predicting the mean (held-out R² {s.r2:.3f}), so it has "
            "no rules to show.")
        r.table(s.fidelity, "surrogate_fidelity")
        r.numbers["surrogate"] = numbers
        return
    r.p(f"Regression trees fitted to the model's predictions on {plural(len(x), 'OQMD test composition')} (inputs: "
        f"the 86 fractions), fidelity measured on a held-out quarter. Chosen depth {s.depth} (the smallest "
        f"within 0.02 of the best held-out R²): R² {s.r2:.3f}, {int(s.fidelity.loc[s.depth, 'n_leaves']):,} leaves"
        + ("; the deepest tried, so a deeper tree may follow the model more closely (ExplainConfig.depths)."
           if s.depth == max(cfg.depths) and len(cfg.depths) > 1 else "."))
    levels = plots.split_levels(s.tree, 3)  # those of the table of splits and of the figure
    r.p("The tables: per depth, R² of the tree against the model's predictions on its training (r2_train) and "
        f"held-out (r2_test) compositions, and mae_test, the mean |tree - model| on the held-out ones ({ENERGY_UNIT}; "
        f"against the model, not DFT); the splits of the chosen tree's top {plural(levels, 'level')} "
        "(depth 0: the root), each "
        "reading x_element <= threshold (a fraction) to the left, over the training compositions that reach it "
        "(samples), with the mean predicted energy on either side "
        f"(mean_left, mean_right; {ENERGY_UNIT}) and gain, its share of the tree's whole decrease in squared error; "
        "and each element's importance, its splits' share of that decrease (summing to 1 over the elements).")
    r.table(s.fidelity, "surrogate_fidelity")
    r.table(s.splits.head(15), "surrogate_top_splits", index=False)
    r.table(s.importance.head(10).to_frame(), "surrogate_importance")
    r.figure(plots.fidelity_plot(s.fidelity, chosen=s.depth), "surrogate_fidelity",
             "Fidelity (R² of the tree against the model) against tree depth.")
    r.figure(plots.tree_plot(s.tree, max_depth=3), "surrogate_tree",
             f"The chosen tree's top {('level' if levels == 1 else f'{levels} levels')} of splits, those of the "
             "table of splits: each split reads 'x_element <= fraction'.")
    r.numbers["surrogate"] = numbers


def _meV(ev: float) -> str:
    """An energy threshold in the words of the report.

    >>> _meV(0.01)
    '10 meV/atom'
    """
    return f"{1000 * ev:g} meV/atom"


def _run_binaries(model, r: _Report, data: _Data, cfg: ExplainConfig, found: dict) -> None:
    from ..screening import DEFAULT_MIN_DEPTH
    from . import plots
    from .binaries import ANION_GROUPS, CATION_GROUPS, all_pairs_scan, cation_anion_elements, group_matrix

    allp = all_pairs_scan(model, n_grid=cfg.n_grid)
    r.csv(allp, "binary_scan_all_pairs", index=False)
    cations, anions = cation_anion_elements()
    study = allp[allp["A"].isin(cations) & allp["B"].isin(anions)].reset_index(drop=True)
    no_compound = int((~study["forms"]).sum())
    r.h("Binary systems: x_p against x_e")
    r.p(f"For every pair A-B the predicted energy of A_x B_(1-x) is scanned on {plural(cfg.n_grid, 'point')} (refined "
        "around the minimum); x_p is the fraction of A at the lowest energy (A = the less electronegative "
        "element). x_e is the charge-balanced fraction from common oxidation states (pymatgen); where there "
        "are several, the one nearest x_p. Study set: A in groups 1-3 (no H; the lanthanides and actinides "
        "counted in group 3), B in groups 15-17, "
        f"{plural(len(study), 'pair')}. A pair where the model predicts no compound (nothing along the line lies at least "
        f"{_meV(DEFAULT_MIN_DEPTH)} below both pure elements' predictions, the hull screen's depth threshold: its "
        "lowest energy is then a pure element, x_p 0 or 1) has no x_p in the paper's sense: it is left out of the "
        "deviations and their means, and "
        f"counted apart (no_compound): {no_compound:,} of the {plural(len(study), 'study pair')}"
        + (f", mean |x_p - x_e| {float(study['abs_deviation'].mean()):.3f} over the other "
           f"{int(study['abs_deviation'].count()):,}." if study["abs_deviation"].notna().any() else "."))
    by = study.assign(no_compound=~study["forms"]).groupby(["group_A", "group_B"]).agg(
        pairs=("x_p", "size"), no_compound=("no_compound", "sum"), mean_abs_deviation=("abs_deviation", "mean"),
                                                    mean_deviation=("deviation", "mean"),
                                                    forms=("forms", "mean")).reset_index()
    r.table(by, "xp_xe_by_group", index=False, floatfmt="{:.3f}")
    if study["deviation"].notna().any():
        r.figure(plots.xp_xe_plot(study), "xp_xe", "x_p against x_e (left) and the deviation x_p - x_e by anion "
                 "group (right), over the pairs with a predicted compound.")
        pair_dev = study.pivot(index="A", columns="B", values="deviation").reindex(index=cations, columns=anions)
        r.figure(plots.matrix_heatmap(pair_dev, title="x_p - x_e per pair", label="x_p - x_e", center=0.0,
                                      cmap="RdBu_r", xlabel="B (anion)", ylabel="A (cation)"),
                 "xp_xe_pairs", "x_p - x_e for each cation (rows) and anion (columns); blue: fewer cations than "
                 "charge balance; grey: no predicted compound.")
    else:
        r.p("The model predicts no compound in any study pair: there is no x_p to set against x_e, and no figure "
            "of it.")
    dev = group_matrix(allp, "abs_deviation")
    counts = group_matrix(allp, "abs_deviation", agg="count")
    forms = group_matrix(allp, "forms")
    pairs = group_matrix(allp, "forms", agg="count")
    r.p("All 3,655 pairs by group of A (rows; the less electronegative element) and group of B (columns): "
        "mean |x_p - x_e| where a compound is predicted and a charge-balanced composition exists, and the share "
        "of pairs with a "
        "predicted compound: the lowest predicted energy along A_x B_(1-x) lies between the pure elements, at least "
        f"{_meV(DEFAULT_MIN_DEPTH)} below both of their predictions (a dip below the line between them that stays "
        "above the lower one, or less than that below it, does not count; x_p is then that element).")
    if dev.notna().any(axis=None):
        r.figure(plots.matrix_heatmap(dev, title="mean |x_p - x_e| by group pair", label="mean |x_p - x_e|",
                                      counts=counts, xlabel="group of B", ylabel="group of A"),
                 "group_deviation", "Mean |x_p - x_e| by group pair (n = pairs with a predicted compound and a "
                 "charge-balanced composition; grey: none).")
    else:
        r.p("No pair with a charge-balanced composition has a predicted compound: no mean |x_p - x_e| to draw.")
    r.figure(plots.matrix_heatmap(forms, title="share of pairs with a predicted compound", label="share forming",
                                  counts=pairs, cmap="magma", xlabel="group of B", ylabel="group of A"),
             "group_forms", "Share of element pairs whose lowest predicted energy lies between the pure elements, "
             f"at least {_meV(DEFAULT_MIN_DEPTH)} below both of their predictions (n = pairs; grey: no pair of those "
             "groups).")
    r.numbers["binaries"] = {
        "pairs": len(allp), "study_pairs": len(study), "min_depth": DEFAULT_MIN_DEPTH,
        # over the pairs with a predicted compound (and an x_e); those without are counted apart
        "study_pairs_without_compound": no_compound,
        "study_mean_abs_deviation": float(study["abs_deviation"].mean()),
        "study_share_within_0.05": float((study["abs_deviation"].dropna() <= 0.05).mean()),
        "by_group": {f"{int(a)}x{int(b)}": float(v) for a, b, v in
                     by[["group_A", "group_B", "mean_abs_deviation"]].itertuples(index=False)
                     if a in CATION_GROUPS and b in ANION_GROUPS},
        "share_forming": float(allp["forms"].mean())}


def _run_projection(model, r: _Report, data: _Data, cfg: ExplainConfig, found: dict) -> None:
    from . import plots
    from .projection import layer_projection

    p = layer_projection(model)
    r.h("Hidden-layer projection")
    layers = "the one hidden layer" if len(p.layers) == 1 else f"each of the {len(p.layers)} hidden layers"
    chance = p.summary.groupby("set", sort=False)["chance_separation"].first().reindex(["pure", "binary"])
    r.p(f"PCA of the activations of {layers}, for the 86 pure elements and "
        "the 3,655 equiatomic binaries (coloured by the group of the less electronegative element). "
        "Separation: the between-group share of the variance in the first two components (1: each group "
        "collapses to a point). Random group labels give "
        + " and ".join(f"{c:.3f} for the {'pure elements' if k == 'pure' else 'binaries'}"
                       for k, c in chance.items())
        + " on average, (groups - 1) / (points - 1): a separation near that is no sorting by group.")
    sep = (p.summary.pivot(index="layer", columns="set", values="group_separation").reindex(p.layers)
           .rename(columns=lambda c: f"separation ({c})"))
    # the figures' names of the layers (layer 1 .. n, with the width), and the module of each
    sep.index = pd.Index([f"layer {k} ({w}): {name}" for k, (name, w) in enumerate(zip(p.layers, p.widths), 1)],
                         name="layer (width): module")
    r.table(sep, "projection_separation", floatfmt="{:.3f}")
    r.figure(plots.pca_grid(p, "pure"), "pca_pure", "Hidden-layer PCA of the pure elements, coloured by group.")
    r.figure(plots.pca_grid(p, "binary"), "pca_binary", "Hidden-layer PCA of the equiatomic binaries, coloured by the cation's group.")
    s = p.summary
    r.numbers["projection"] = {
        "layers": len(p.layers),
        "separation_pure": s[s["set"] == "pure"]["group_separation"].round(4).tolist(),
        "separation_binary": s[s["set"] == "binary"]["group_separation"].round(4).tolist(),
        "chance_separation_pure": float(chance["pure"]), "chance_separation_binary": float(chance["binary"])}

