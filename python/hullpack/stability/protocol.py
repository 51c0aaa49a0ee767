"""The model protocol of Bartel et al. (npj Comput. Mater. 6, 97, 2020): replace the energies of a
subset of a set by a model's predictions, rebuild the hulls, and compare the compounds found stable
with those the DFT energies make stable: precision, recall, F1 and accuracy of the stable class,
and the mean absolute error of the decomposition energy, beside the baseline that calls every
compound stable.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..elements import ALL_ELEMENTS, N_ELEMENTS, not_in_elemnet
from ..hull import DEFAULT_TOL
from ..errors import HullInputError
from .hulls import FORMATION_GAP, Reference, _threads
from .inputs import Parsed, aligned, parse

__all__ = ["ProtocolResult", "model_protocol", "stability_metrics", "subset_copies", "COPY_TOL"]

#: eV/atom: an entry outside the subset at a subset compound's composition and this close to its
#: energy is a copy of that compound (0.0000 as the CLI's summary prints energies)
COPY_TOL = 5e-5


@dataclass
class ProtocolResult:
    """``table``: one row per compound of the subset (``formula``, ``chemsys``, ``n_elements``,
    ``energy_dft``, ``energy_model``, ``e_above_hull_dft``/``_model``,
    ``decomposition_energy_dft``/``_model``, ``stable_dft``/``_model``, ``problem``, ``input``: the
    composition as written);
    ``metrics``: :func:`stability_metrics` over the rows without a problem; ``copies``: how many
    entries outside the subset were left out as copies of subset compounds (:func:`subset_copies`)."""

    table: pd.DataFrame
    metrics: pd.DataFrame
    join: bool = True
    copies: int = 0

    def summary(self, subset: str = "the subset's compounds", rest: str = "the rest of the set") -> str:
        """A few lines a chemist can read. ``subset`` and ``rest`` name the compounds with model
        energies and the other entries in the line on :attr:`copies` (``hullpack stability --compare``:
        "FILE's compounds" and "the reference").

        >>> r = model_protocol(["Fe3O4", "FeO", "Fe2O3", "Fe3O4"], [-1.65, -1.4, -1.7, -1.65],
        ...                    predicted=[-1.6, -1.45], subset=[0, 1])
        >>> print(r.summary().splitlines()[-1])
        1 entry of the rest of the set left out as a copy of the subset's compounds (the same composition, energy within 5e-05 eV/atom): their rows stand for it
        """
        m = self.metrics
        a = m.loc["all"]
        left_out = int(self.table["problem"].notna().sum())
        n = int(a["n"])
        def f(v, spec=".3f"):  # a ratio without a denominator (no compound stable) is NaN: "-", as in the docs
            return "-" if not np.isfinite(v) else format(v, spec)

        undefined = not all(np.isfinite(a[k]) for k in ("precision", "recall", "f1"))
        lines = [f"{n:,} compound{'' if n == 1 else 's'} with model energies ({'joined in one hull' if self.join else 'each alone'}); "
                 f"DFT-stable: {int(a['n_stable_dft']):,} ({f(a['baseline_precision'], '.1%')}), "
                 f"model-stable: {int(a['n_stable_model']):,}",
                 f"stable class: precision {f(a['precision'])}, recall {f(a['recall'])}, F1 {f(a['f1'])}, "
                 f"accuracy {f(a['accuracy'])} (all-stable baseline: F1 {f(a['baseline_f1'])}, "
                 f"accuracy {f(a['baseline_accuracy'])})"
                 + ("; '-': no compound stable by DFT or by the model to count from" if undefined else ""),
                 f"decomposition energy MAE {f(a['mae_decomposition_energy'], '.4f')} eV/atom "
                 f"(formation energy MAE {f(a['mae_energy'], '.4f')})",
                 "by number of elements: " + ", ".join(
                     f"{k}: F1 {f(r['f1'])} (n={int(r['n']):,})" for k, r in m.drop(index="all").iterrows())]
        if not n:  # every subset row bad: no numbers to give
            lines = ["no compound with model energies to compare"]
        if left_out:
            lines.append(f"{left_out:,} of {subset} left out (see the table's 'problem' column)")
        if self.copies:  # kept, each compound would sit beside its own copy: on the hull, never stable
            one = self.copies == 1
            lines.append(f"{self.copies:,} {'entry' if one else 'entries'} of {rest} left out as "
                         f"{'a copy' if one else 'copies'} of {subset} (the same composition, energy within "
                         f"{COPY_TOL:g} eV/atom): their rows stand for {'it' if one else 'them'}")
        return "\n".join(lines)


def stability_metrics(stable_dft, stable_model, dh_dft, dh_model, n_elements, energy_dft=None,
                      energy_model=None) -> pd.DataFrame:
    """Classification of the stable class, overall (``"all"``) and by number of elements: ``n``,
    ``n_stable_dft``, ``n_stable_model``, ``tp``, ``fp``, ``fn``, ``tn``, ``precision``, ``recall``,
    ``f1``, ``accuracy``, ``mae_decomposition_energy`` (eV/atom), ``mae_energy`` (with energies), and
    the all-stable baseline ``baseline_precision`` (the stable fraction), ``baseline_f1``,
    ``baseline_accuracy``. NaN where a ratio has no denominator.

    >>> m = stability_metrics([True, True, False, False], [True, False, True, False],
    ...                       [-0.1, -0.2, 0.1, 0.3], [-0.1, 0.1, -0.1, 0.2], [2, 2, 3, 3])
    >>> m.loc["all", ["precision", "recall", "f1", "accuracy", "baseline_f1"]].tolist()
    [0.5, 0.5, 0.5, 0.5, 0.6666666666666666]
    """
    t, p = np.asarray(stable_dft, dtype=bool), np.asarray(stable_model, dtype=bool)
    err = np.abs(np.asarray(dh_model, dtype=np.float64) - np.asarray(dh_dft, dtype=np.float64))
    e_err = (np.abs(np.asarray(energy_model, dtype=np.float64) - np.asarray(energy_dft, dtype=np.float64))
             if energy_dft is not None and energy_model is not None else np.full(len(t), np.nan))
    k = np.asarray(n_elements)
    groups = [("all", np.ones(len(t), dtype=bool))] + [(int(v), k == v) for v in np.unique(k)]
    rows = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, g in groups:
            tp, fp = int((t & p & g).sum()), int((~t & p & g).sum())
            fn, tn = int((t & ~p & g).sum()), int((~t & ~p & g).sum())
            n = int(g.sum())
            prec = tp / (tp + fp) if tp + fp else np.nan
            rec = tp / (tp + fn) if tp + fn else np.nan
            f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else np.nan
            prev = (tp + fn) / n if n else np.nan
            rows[name] = {
                "n": n, "n_stable_dft": tp + fn, "n_stable_model": tp + fp, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
                "precision": prec, "recall": rec, "f1": f1, "accuracy": (tp + tn) / n if n else np.nan,
                "mae_decomposition_energy": float(err[g].mean()) if n else np.nan,
                "mae_energy": float(np.nanmean(e_err[g])) if n and np.isfinite(e_err[g]).any() else np.nan,
                "baseline_precision": prev, "baseline_f1": 2 * prev / (1 + prev) if n else np.nan,
                "baseline_accuracy": prev,
            }
    return pd.DataFrame.from_dict(rows, orient="index")


def _subset_rows(subset, n: int) -> np.ndarray:
    if subset is None:
        return np.arange(n)
    s = np.asarray(subset)
    if s.dtype == bool:
        if s.shape != (n,):
            raise ValueError(f"subset: a boolean mask needs {n} values (one per composition), got shape {s.shape}")
        return np.flatnonzero(s)
    if s.dtype.kind not in "iu" or s.ndim != 1:
        raise ValueError("subset: expected a boolean mask or integer row positions")
    if len(s) and (s.min() < 0 or s.max() >= n):
        raise ValueError(f"subset: row positions must lie in [0, {n}), got {s.min()}..{s.max()}")
    if len(np.unique(s)) != len(s):
        raise ValueError("subset: row positions repeat")
    return np.sort(s)


def outside_elemnet(parsed: Parsed, rows: np.ndarray) -> dict[int, str]:
    """The rows among ``rows`` of ``parsed`` with elements ElemNet lacks (He, Am, ...), and why ElemNet
    cannot take them: the rows a model cannot predict.

    >>> outside_elemnet(parse(["NaCl", "Na2He", "ArHe"], require_energies=False), np.arange(3))
    {1: "He is not one of ElemNet's 86 elements (no He, Ne, Ar, Po, At, Rn, Fr, Ra, nor any past Pu)", 2: "Ar, He are not among ElemNet's 86 elements (no He, Ne, Ar, Po, At, Rn, Fr, Ra, nor any past Pu)"}
    """
    rows = np.asarray(rows, dtype=np.int64)
    off, el = parsed.offsets, parsed.elements
    outside = np.bincount(np.repeat(np.arange(len(parsed)), np.diff(off))[el >= N_ELEMENTS], minlength=len(parsed))
    return {int(r): not_in_elemnet(sorted(ALL_ELEMENTS[e] for e in el[off[r]:off[r + 1]] if e >= N_ELEMENTS))
            for r in rows[outside[rows] > 0]}


def fractions_matrix(parsed: Parsed, rows: np.ndarray) -> np.ndarray:
    """ElemNet's ``(len(rows), 86)`` float32 input for ``rows`` of ``parsed`` (rows of ElemNet's
    elements only: see :func:`outside_elemnet`)."""
    x = np.zeros((len(rows), N_ELEMENTS), dtype=np.float32)
    off = parsed.offsets
    n_el = np.diff(off)[rows]
    r = np.repeat(np.arange(len(rows)), n_el)
    take = np.repeat(off[rows], n_el) + (np.arange(n_el.sum()) - np.repeat(np.cumsum(n_el) - n_el, n_el))
    x[r, parsed.elements[take]] = parsed.fractions[take]
    return x


def model_energies(model, parsed: Parsed, rows: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    """``model.predict`` of ElemNet's fractions of ``rows`` of ``parsed`` (NaN for a bad row, or one
    with an element ElemNet lacks), and why ElemNet cannot take those (:func:`outside_elemnet`)."""
    rows = np.asarray(rows, dtype=np.int64)
    problems = outside_elemnet(parsed, rows)
    valid = np.array([r not in parsed.problems and r not in problems for r in rows.tolist()], dtype=bool)
    out = np.full(len(rows), np.nan)
    if valid.any():
        out[valid] = np.asarray(model.predict(fractions_matrix(parsed, rows[valid])), dtype=np.float64)
    return out, problems


def _predictions(parsed: Parsed, rows: np.ndarray, predicted, model) -> tuple[np.ndarray, dict[int, str]]:
    """Predicted energies of ``rows`` (NaN where none), and why the model could not take a row."""
    n = len(parsed)
    if (predicted is None) == (model is None):
        raise ValueError("give either predicted= (energies) or model= (something with .predict), not both or none")
    if model is not None:
        return model_energies(model, parsed, rows)
    if isinstance(predicted, (pd.Series, dict)):  # paired by label, never by position (inputs.aligned)
        labels = parsed.index
        predicted = aligned(predicted, labels[rows] if len(predicted) == len(rows) else labels,
                            not labels.equals(pd.RangeIndex(n)), what="predicted")
    p = np.asarray(predicted, dtype=np.float64)
    if p.shape == (len(rows),):
        return p.copy(), {}
    if p.shape == (n,):
        return p[rows], {}
    raise ValueError(f"predicted: expected {len(rows)} values (one per subset row) or {n} (one per row), "
                     f"got shape {p.shape}")


def subset_copies(parsed: Parsed, rows, tol: float = COPY_TOL) -> np.ndarray:
    """The rows of ``parsed`` outside ``rows`` that are copies of one of ``rows``' compounds: the same
    composition (reduced formula) at an energy within ``tol`` eV/atom. Kept, a copy stands beside its
    compound in the DFT truth, both on the hull and neither stable (test compounds drawn from the set
    they are judged against, such as OQMD's own test compounds against OQMD, would give no stable
    compound at all), and the model's energy would be judged against the compound's own DFT energy.
    Elements (one-element rows) are never copies: they keep their energies as the hulls' ends.
    Not the hulls' rule for entries at one composition (:class:`Reference` keeps them all, the lowest,
    then the first, standing for the composition): a copy is left out, every one within ``tol``,
    also one a rounding above or below the compound (a file's energies, rounded when saved).

    >>> p = parse(["Fe3O4", "FeO", "Fe3O4", "Fe3O4", "Fe"], [-1.65, -1.40, -1.65, -1.60, 0.0])
    >>> subset_copies(p, [0, 1]).tolist()  # the second Fe3O4 at the same energy; the third is a polymorph
    [2]
    """
    rows = np.asarray(rows, dtype=np.int64)
    valid, n_el = parsed.valid, parsed.n_elements
    mine = rows[valid[rows] & (n_el[rows] > 1)]
    others = np.setdiff1d(np.flatnonzero(valid & (n_el > 1)), rows)
    pairs = pd.DataFrame({"at": others, "name": parsed.names[others], "energy": parsed.energies[others]}).merge(
        pd.DataFrame({"name": parsed.names[mine], "own": parsed.energies[mine]}), on="name")
    return np.unique(pairs["at"][(pairs["energy"] - pairs["own"]).abs() < tol].to_numpy()).astype(np.int64)


def model_protocol(compositions, energies=None, predicted=None, *, model=None, subset=None, join: bool = True,
                   elements=None, column: str | None = None, tol: float | None = None, threads: int | None = None,
                   errors: str = "warn", progress_bar: bool | None = None) -> ProtocolResult:
    """Compare the stable compounds of a set under DFT energies with those under a model's.

    ``compositions``/``energies`` (DFT, eV/atom): the whole set, in any form
    :func:`hullpack.stability.inputs.parse` reads (or a parsed set). ``subset`` (a boolean mask or row positions;
    default all rows): the compounds whose energies are replaced by ``predicted`` (one value per
    subset row, or one per row; a pandas Series or a dict is paired with the rows by label, as
    :func:`~hullpack.stability.inputs.parse` pairs energies) or by ``model.predict`` of their ElemNet fractions (e.g.
    :func:`hullpack.elemnet.load_pretrained`). The DFT truth is the whole set against itself.
    ``join=True`` (default): the model's compounds enter the hulls together with the other compounds'
    DFT energies; ``join=False``: each subset compound alone against the compounds outside the subset
    (and likewise for its DFT truth). Subset rows with a non-finite prediction, or with an element
    ElemNet lacks (He, Am, ...) for ``model=``, are left out of the model's hulls and of the metrics
    (``problem`` says so and names the element), as are subset rows that could not be read (an
    unknown element, an energy that is not a number). Elements (one-element rows) are the hulls'
    references, not predictions: they keep their DFT energies and are left out of the table and the
    metrics. Rows outside the subset that are copies of a subset compound (the same composition, the
    energy within :data:`COPY_TOL`, 5e-5 eV/atom: :func:`subset_copies`) are left out of both the DFT
    truth and the model's hulls, the subset row standing for each; ``ProtocolResult.copies`` says how
    many (0 when the subset's compounds are not in the rest of the set).

    >>> formulas = ["Fe2O3", "Fe3O4", "FeO", "NiO", "Ni2O3", "FeNi3"]
    >>> dft = [-1.70, -1.62, -1.40, -1.20, -0.80, -0.10]
    >>> r = model_protocol(formulas, dft, predicted=[-1.50, -1.66, -1.50], subset=[0, 1, 2])
    >>> r.table[["formula", "stable_dft", "stable_model"]].values.tolist()
    [['Fe2O3', True, False], ['Fe3O4', True, True], ['FeO', False, True]]
    >>> r.metrics.loc["all", ["precision", "recall", "f1"]].round(3).tolist()
    [0.5, 0.5, 0.5]
    """
    tol = DEFAULT_TOL if tol is None else tol
    parsed = compositions if isinstance(compositions, Parsed) else parse(compositions, energies, elements=elements,
                                                                           column=column, progress_bar=progress_bar)
    parsed.report("input", errors)
    rows = _subset_rows(subset, len(parsed))
    pred, unpredictable = _predictions(parsed, rows, predicted, model)
    # elements are references, not predictions: they keep their energy; a row whose composition could
    # not be read stays, its problem said
    compound = (parsed.n_elements[rows] > 1) | (parsed.n_elements[rows] == 0)
    rows, pred = rows[compound], pred[compound]
    gap = np.abs(pred - parsed.energies[rows])
    if np.isfinite(gap).any() and np.nanmedian(gap) > FORMATION_GAP:
        raise HullInputError(
            f"the model's energies lie a median {np.nanmedian(gap):.2f} eV/atom from the DFT energies of the same "
            "compounds: another convention (formation energies against total energies?); give DFT energies in "
            "the model's convention (ElemNet's: formation energies, elements at 0 eV/atom)")
    nt = _threads(threads)
    copies = subset_copies(parsed, rows)
    if len(copies):  # the subset row stands for its copy, in the truth and in the model's hulls
        parsed = replace(parsed, problems={**parsed.problems,
                                           **{int(r): "a copy of a subset compound" for r in copies}})
    base_problems = dict(parsed.problems)
    model_problems = dict(base_problems)  # the truth keeps subset rows whose prediction failed
    for r, v in zip(rows, pred):
        if not np.isfinite(v) and int(r) not in model_problems:
            model_problems[int(r)] = unpredictable.get(int(r), f"prediction is not finite ({v})")
    swapped = parsed.energies.copy()
    swapped[rows] = pred
    model_set = replace(parsed, energies=swapped, problems=model_problems)
    if join:
        truth = Reference._from_parsed(parsed, tol, nt).stability(rows, threads=nt, progress_bar=progress_bar)
        guess = Reference._from_parsed(model_set, tol, nt).stability(rows, threads=nt, progress_bar=progress_bar)
    else:
        outside = replace(parsed, problems={**base_problems, **{int(r): "in the subset" for r in rows}})
        ref = Reference._from_parsed(outside, tol, nt)
        truth = ref.evaluate(parsed.take(rows), errors="ignore", threads=nt, progress_bar=progress_bar)
        guess = ref.evaluate(model_set.take(rows), errors="ignore", threads=nt, progress_bar=progress_bar)
    table = pd.DataFrame({
        "formula": truth["formula"].to_numpy(), "chemsys": truth["chemsys"].to_numpy(),
        "n_elements": truth["n_elements"].to_numpy(), "energy_dft": parsed.energies[rows], "energy_model": pred,
        "e_above_hull_dft": truth["e_above_hull"].to_numpy(), "e_above_hull_model": guess["e_above_hull"].to_numpy(),
        "decomposition_energy_dft": truth["decomposition_energy"].to_numpy(),
        "decomposition_energy_model": guess["decomposition_energy"].to_numpy(),
        "stable_dft": truth["stable"].to_numpy(), "stable_model": guess["stable"].to_numpy(),
        # None for a good row; e.g. an element only the subset has (join=False)
        "problem": pd.Series([model_problems.get(int(r)) or a or b for r, a, b in
                              zip(rows, truth["problem"], guess["problem"])], dtype=object, index=parsed.index[rows]),
        "input": truth["input"].to_numpy(),  # the composition as written, where `formula` is the reduced one
    }, index=parsed.index[rows])
    ok = table["problem"].isna().to_numpy()
    t = table[ok]
    metrics = stability_metrics(t["stable_dft"].astype(bool), t["stable_model"].astype(bool),
                                t["decomposition_energy_dft"], t["decomposition_energy_model"], t["n_elements"],
                                t["energy_dft"], t["energy_model"])
    return ProtocolResult(table, metrics, join, len(copies))
