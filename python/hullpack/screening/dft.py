"""The DFT side of a screen: the known OQMD compounds of each system (the shipped data, all splits),
their convex hull, and how a predicted hull compares with it.

Per system (elements at 0 eV/atom in both hulls):

* **stable-compound precision / recall**: a predicted stable compound matches a DFT hull vertex
  when their compositions differ by at most ``match_tol`` in every fraction (default half the
  grid's smallest spacing); precision = matched predicted compounds / predicted compounds, recall =
  matched DFT vertices / DFT vertices (NaN where the denominator is 0);
* **energy MAE at the DFT hull compositions**: the model evaluated (fp32) at exactly those
  compositions against their DFT energies;
* **stability classification** (as matbench-discovery counts it): every known compound of the system
  is DFT-stable when its DFT energy above the DFT hull is <= 0 (within ``HULL_TOL``), and predicted
  stable when the model's energy at its composition is on or below the predicted hull (the hull of
  the grid predictions and the model's energies at the known compositions); TP/FP/FN/TN and F1.

:func:`by_group_pair` sums the counts over periodic-table group pairs (pymatgen's ``Element.group``;
lanthanides and actinides are group 3) and :func:`plot_group_heatmaps` draws them.

>>> import numpy as np
>>> from hullpack.compositions import systems, uniform_grid
>>> known = DFTCompounds.from_formulas(["FeO", "Fe2O3", "Fe3O4", "FeO2"], [-1.4, -1.7, -1.65, -0.9])
>>> f, e, _ = known.of_system(systems(2, "Fe O")[0])
>>> f[:, 0].round(3).tolist(), e.tolist()          # fraction of O (ElemNet's order: O before Fe)
([0.667, 0.6, 0.571, 0.5], [-0.9, -1.7, -1.65, -1.4])
"""
from __future__ import annotations

import functools
import itertools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._cache import load_arrays, oqmd_cache_file, save_arrays
from ..elemnet.data import TARGET_RANGE
from ..elements import element_groups
from ..errors import ScreeningError
from ..hull import hull_batch
from ..plotting import cell_text_colour
from .hulls import HULL_TOL

log = logging.getLogger(__name__)

__all__ = ["DFTCompounds", "load_dft", "dft_cache_file", "dft_reference", "compare_block", "stable_compounds",
           "match_compositions", "by_group_pair", "plot_group_heatmaps", "f1_score"]

# compositions equal to this many decimals are one composition (the lowest energy is kept)
_DECIMALS = 6
#: most elements of a known compound kept: the highest order a screen compares with DFT
MAX_ELEMENTS = 4


@dataclass(frozen=True)
class DFTCompounds:
    """Known compounds of 2 to 4 elements: ``elements`` (n, 4) int32 ElemNet indices ascending
    (-1 padded for binaries and ternaries; an element ElemNet lacks, such as Po in a file of your
    own, has an index past its 86, so such compounds never fall in a screened system), ``fractions`` (n, 4) float64 over those elements,
    ``energy`` (n,) formation energy in eV/atom; one row per distinct composition (its lowest
    energy). ``name``: what summaries, tables and plots call the set ("OQMD" for the shipped one)."""

    elements: np.ndarray
    fractions: np.ndarray
    energy: np.ndarray
    name: str = "DFT"

    @classmethod
    def from_formulas(cls, formulas, energies, *, name: str = "DFT") -> "DFTCompounds":
        """From formulas and their formation energies; rows of 1 element or more than 4 are left
        out, and so are formulas that cannot be parsed (for your own data, :meth:`read` names them)."""
        from ..elemnet.featurize import parse_formulas

        x, bad = parse_formulas(list(formulas))
        y = np.asarray(energies, dtype=np.float64)
        ok = np.ones(len(x), dtype=bool)
        ok[[b[0] for b in bad]] = False
        nz = (x > 0) & ok[:, None]
        k = nz.sum(axis=1)
        keep = np.flatnonzero((k >= 2) & (k <= MAX_ELEMENTS) & np.isfinite(y))
        rows, cols = np.nonzero(nz[keep])
        return cls._from_pairs(len(keep), rows, cols, x[keep][rows, cols], y[keep], name)

    @classmethod
    def read(cls, source, energies=None, *, name: str | None = None, column: str | None = None) -> "DFTCompounds":
        """Known compounds from your own database, to compare a screen with (``screen(...,
        compare_dft=...)``, ``hullpack screen --dft FILE``): a table file (CSV, TSV, Parquet, JSON,
        JSON lines: :func:`hullpack.columns.read_table`), a DataFrame,
        formulas, pymatgen entries, any form :func:`hullpack.stability.inputs.parse` reads.
        Formulas: the column ``column``, else the first present of
        :data:`~hullpack.stability.inputs.COMPOSITION_COLUMNS`: ``formula`` (JARVIS, OQMD),
        ``composition``, ``formula_pretty`` / ``pretty_formula`` (Materials Project),
        ``reduced_formula``, ``compound`` (AFLOW), ``name`` (OQMD); in an OPTIMADE answer (the JSON
        of a provider's ``/structures`` query, its entries read as rows) where none of those is,
        :data:`~hullpack.columns.OPTIMADE_COMPOSITION_COLUMNS`: ``chemical_formula_reduced``,
        ``chemical_formula_descriptive``. Energies are formation energies in eV/atom, the
        elements at 0: ``energies`` (values or a column name), else the first present of
        :data:`~hullpack.stability.inputs.ENERGY_COLUMNS`: ``formation_energy_per_atom``
        (Materials Project), ``formation_energy_peratom`` (JARVIS), ``e_form``, ``formation_energy``,
        ``enthalpy_formation_atom`` (AFLOW), ``delta_e`` (OQMD), papers' ``formation_enthalpy``,
        ``enthalpy_of_formation``, ``heat_of_formation``, ``dhf``, ``delta_hf``, ``delta_h_f``, then
        ``energy``, ``energy_per_atom``, ``target``; where none is, an OPTIMADE provider's formation energy under its prefix
        (:data:`~hullpack.columns.FORMATION_ENERGY_COLUMNS`: OQMD's ``_oqmd_delta_e``, Alexandria's
        ``_alexandria_formation_energy_per_atom``; where several are, as Materials Project's, one per
        functional: ``_mp_stability.r2scan.formation_energy_per_atom``, name one as ``energies``,
        ``--dft-energy-column`` on the command line). Total energies are refused (an element below 0
        eV/atom, or :func:`~hullpack.stability.inputs.looks_total`; Materials Project's
        ``energy_per_atom`` is one), and so are other units (a header's ``(meV/atom)``, or a median
        outside -20..5 eV/atom). Bad rows (unparsable, unknown
        elements, energies missing or outside ElemNet's -20..5 eV/atom) are left out, named by a
        warning (a file's rows as "row 1" for the first under the header, a DataFrame's by its
        index); rows of one element (the hull's ends, at 0 by definition) or more than 4 are left
        out. ``name`` (default: the file's name, else "reference") labels the set.

        >>> import pandas as pd
        >>> mine = DFTCompounds.read(pd.DataFrame({"formula": ["Fe", "FeO", "Fe2O3"],
        ...                                        "formation_energy_per_atom": [0.0, -1.4, -1.7]}), name="mine")
        >>> mine.name, len(mine.energy), mine.energy.tolist()
        ('mine', 2, [-1.7, -1.4])
        >>> aflow = pd.DataFrame({"compound": ["Fe2O3", "FeO"], "enthalpy_formation_atom": [-1.7, -1.4]})
        >>> DFTCompounds.read(aflow, name="AFLOW").energy.tolist()           # AFLOW's column names
        [-1.7, -1.4]
        >>> optimade = pd.DataFrame({"chemical_formula_reduced": ["Fe2O3", "FeO"], "_oqmd_delta_e": [-1.7, -1.4]})
        >>> DFTCompounds.read(optimade, name="OQMD").energy.tolist()         # OQMD's OPTIMADE fields
        [-1.7, -1.4]
        """
        from ..columns import ENERGY_COLUMNS, find_column
        from ..stability.inputs import parse, read_table

        if name is None:
            name = Path(source).name if isinstance(source, (str, Path)) else "reference"
        try:
            if isinstance(source, (str, Path)):
                source = read_table(source)
                source.index = pd.Index([f"row {i}" for i in range(1, len(source) + 1)])  # 1: under the header
            if energies is None and isinstance(source, pd.DataFrame):
                energies = find_column(source, None, ENERGY_COLUMNS, "formation energy (eV/atom)",
                                       how="energies=")
            parsed = parse(source, energies, column=column)
        except ValueError as exc:
            raise ScreeningError(f"DFT compounds ({name}): {exc}") from None
        _refuse_total_energies(parsed, name)
        lo, hi = TARGET_RANGE  # ElemNet's filter of the OQMD data: outside it, a failed calculation
        for r in np.flatnonzero(parsed.valid & ~((parsed.energies > lo) & (parsed.energies < hi))):
            parsed.problems[int(r)] = f"formation energy {parsed.energies[r]:.4g} eV/atom outside {lo:g}..{hi:g}"
        ordered = sorted(parsed.problems.items())  # the warning names the bad rows in file order
        parsed.problems.clear()
        parsed.problems.update(ordered)
        parsed.report(f"DFT compounds ({name})", "warn", done="used")
        n_el, valid = parsed.n_elements, parsed.valid
        keep = np.flatnonzero(valid & (n_el >= 2) & (n_el <= MAX_ELEMENTS))
        offsets, els, fr, e = parsed.core_arrays(keep)
        rows = np.repeat(np.arange(len(keep)), np.diff(offsets))
        return cls._from_pairs(len(keep), rows, els, fr, e, name)

    @classmethod
    def _from_pairs(cls, n: int, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, energy: np.ndarray,
                    name: str) -> "DFTCompounds":
        """From ``n`` compounds given as (row, element, amount) triples, rows ascending and each
        row's elements ascending: fractions normalised, one row per composition (lowest energy)."""
        els = np.full((n, MAX_ELEMENTS), -1, dtype=np.int32)
        fr = np.zeros((n, MAX_ELEMENTS), dtype=np.float64)
        slot = np.arange(len(rows)) - np.searchsorted(rows, np.arange(n))[rows]
        els[rows, slot] = cols
        fr[rows, slot] = vals
        fr /= fr.sum(axis=1, keepdims=True)
        df = pd.DataFrame({"a": els[:, 0], "b": els[:, 1], "c": els[:, 2], "d": els[:, 3],
                           "fa": fr[:, 0].round(_DECIMALS), "fb": fr[:, 1].round(_DECIMALS),
                           "fc": fr[:, 2].round(_DECIMALS), "e": np.asarray(energy, dtype=np.float64)})
        df = df.sort_values("e", kind="stable").drop_duplicates(["a", "b", "c", "d", "fa", "fb", "fc"])
        df = df.sort_values(["a", "b", "c", "d", "fb", "fa", "fc"], kind="stable")
        idx = df.index.to_numpy()
        return cls(els[idx], fr[idx], df["e"].to_numpy(), name)

    @functools.cached_property
    def sha256(self) -> str:
        """The digest of the compounds (elements, fractions, energies), whatever the set is called:
        shards compared with sets of the same name but other compounds do not merge."""
        import hashlib

        h = hashlib.sha256()
        for a in (self.elements, self.fractions, self.energy):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()

    @functools.cached_property
    def _index(self) -> dict:
        keys: dict[tuple, list[int]] = {}
        for i, row in enumerate(map(tuple, self.elements.tolist())):
            keys.setdefault(row, []).append(i)
        return {k: np.array(v, dtype=np.int64) for k, v in keys.items()}

    def rows_of(self, system) -> np.ndarray:
        """Rows whose elements all belong to ``system`` (2-4 ElemNet indices, ascending)."""
        sys_ = [int(v) for v in system]
        width = self.elements.shape[1]
        subsets = [sub + (-1,) * (width - k) for k in range(2, min(len(sys_), width) + 1)
                   for sub in itertools.combinations(sys_, k)]
        parts = [self._index[s] for s in subsets if s in self._index]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def of_system(self, system) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(fractions over the system's elements (n, order), energies (n,), rows)`` of its compounds."""
        sys_ = np.asarray([int(v) for v in system])
        rows = self.rows_of(sys_)
        f = np.zeros((len(rows), len(sys_)))
        for j in range(self.elements.shape[1]):
            el = self.elements[rows, j]
            pos = np.searchsorted(sys_, el)
            has = el >= 0
            f[np.flatnonzero(has), pos[has]] = self.fractions[rows[has], j]
        return f, self.energy[rows], rows


def _refuse_total_energies(parsed, name: str) -> None:
    """:class:`~hullpack.errors.ScreeningError` if ``parsed``'s energies look like total energies per
    atom rather than formation energies (:func:`~hullpack.stability.inputs.total_energy_signs`)."""
    from ..stability.inputs import total_energy_signs

    signs = total_energy_signs(parsed)
    if signs is not None:
        raise ScreeningError(f"DFT compounds ({name}): {signs}: these look like total energies; the comparison "
                             "needs formation energies per atom (elements at 0)")


def dft_reference(compare_dft) -> DFTCompounds | None:
    """What a screen compares with: ``True``: the shipped OQMD compounds (:func:`load_dft`);
    ``False``/``None``: nothing; a :class:`DFTCompounds`; anything else: your own compounds, read by
    :meth:`DFTCompounds.read` (a CSV or Parquet path, a DataFrame, ...)."""
    if compare_dft is None or isinstance(compare_dft, (bool, np.bool_)):
        return load_dft() if compare_dft else None
    if isinstance(compare_dft, DFTCompounds):
        return compare_dft
    return DFTCompounds.read(compare_dft)


@functools.lru_cache(maxsize=2)
def load_dft(splits: tuple[str, ...] = ("train", "val", "test")) -> DFTCompounds:
    """The shipped OQMD compounds (ElemNet's filter, -20 < dH < 5 eV/atom) of 2 to 4 elements, all
    splits by default, lowest energy per composition. Kept for the process, and on disk between
    processes (:mod:`hullpack._cache`): reading and parsing the 341,700 formulas takes seconds.

    >>> d = load_dft()
    >>> f, e, _ = d.of_system([6, 22])                     # O-Fe
    >>> len(e) > 5, f.shape[1]
    (True, 2)
    """
    from ..elemnet.data import load_oqmd

    path = dft_cache_file(splits)
    z = load_arrays(path, ("elements", "fractions", "energy"))
    if z is not None and z["elements"].shape == z["fractions"].shape == (len(z["energy"]), MAX_ELEMENTS):
        return DFTCompounds(z["elements"], z["fractions"], z["energy"], "OQMD")
    frames = [load_oqmd(s) for s in splits]
    df = pd.concat(frames, ignore_index=True)
    d = DFTCompounds.from_formulas(df["formula"].tolist(), df["target"].to_numpy(), name="OQMD")
    log.debug("DFT compounds: %d distinct compositions of 2-4 elements from OQMD %s", len(d.energy), "+".join(splits))
    save_arrays(path, elements=d.elements, fractions=d.fractions, energy=d.energy)
    return d


def dft_cache_file(splits: tuple[str, ...] = ("train", "val", "test")) -> Path | None:
    """The file :func:`load_dft` keeps the compounds of ``splits`` in (:mod:`hullpack._cache`), or
    None when caching is off."""
    return oqmd_cache_file("oqmd-compounds", splits,
                           (__name__, "hullpack.elemnet.data", "hullpack.elemnet.featurize", "hullpack.elements"))


def _csr(parts: list[np.ndarray], width: int) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(p) for p in parts])
    flat = np.concatenate(parts) if parts else np.zeros((0, width))
    return flat, offsets


def _compounds_of(table: np.ndarray, dft: DFTCompounds):
    """The known compounds of every system of ``table``, CSR: fractions (over the system's
    elements), energies, their system, offsets, and their rows in ``dft``."""
    parts_f, parts_e, parts_r, owner = [], [], [], []
    for s in range(len(table)):
        f, e, rows = dft.of_system(table[s])
        parts_f.append(f)
        parts_e.append(e)
        parts_r.append(rows)
        owner.append(np.full(len(e), s))
    f_dft, off = _csr(parts_f, table.shape[1])
    e_dft = np.concatenate(parts_e) if parts_e else np.zeros(0)
    rows = np.concatenate(parts_r).astype(np.int64) if parts_r else np.zeros(0, np.int64)
    sys_of = np.concatenate(owner).astype(np.int64) if owner else np.zeros(0, np.int64)
    return f_dft, e_dft, sys_of, off, rows


def stable_compounds(table: np.ndarray, dft: DFTCompounds, *, threads: int | None = None):
    """The DFT-stable compounds (the vertices of each system's DFT hull, elements at 0) of every
    system of ``table``: ``(system index, fractions over the system's elements, row in dft)``.

    >>> from hullpack.compositions import systems
    >>> known = DFTCompounds.from_formulas(["FeO", "Fe2O3", "FeO2"], [-1.5, -1.7, -0.5])
    >>> s, f, rows = stable_compounds(systems(2, "Fe O"), known)
    >>> s.tolist(), f[:, 0].round(2).tolist()                   # FeO2 lies above the hull
    ([0, 0], [0.6, 0.5])
    """
    table = np.asarray(table)
    f_dft, e_dft, sys_of, off, rows = _compounds_of(table, dft)
    if not len(e_dft):
        return sys_of, f_dft, rows
    v = hull_batch(f_dft, e_dft, off, tol=HULL_TOL, decomposition=False, threads=threads).is_vertex
    return sys_of[v], f_dft[v], rows[v]


def compare_block(table: np.ndarray, grid_fractions: np.ndarray, energies: np.ndarray, is_vertex: np.ndarray,
                  valid: np.ndarray, dft: DFTCompounds, predict_fractions, *, match_tol: float,
                  threads: int | None = None, end_artifact: np.ndarray | None = None) -> pd.DataFrame:
    """DFT metrics (one row per system of ``table``) for predicted hulls over a shared grid.

    ``energies`` / ``is_vertex`` (n_systems, n_points) are the screen's; ``predict_fractions(rows,
    fractions)`` returns the model's fp32 energies at arbitrary compositions (``rows[i]`` the
    system's elements). Systems flagged not ``valid`` get NaN metrics. ``end_artifact`` (the same
    shape; the screen's ``end_artifact`` vertices) adds ``tp_pred_end`` (those that match a DFT
    stable compound) and ``tp_dft_end`` (DFT stable compounds matched by them alone), so that
    precision and recall can be told without them.
    """
    n_sys, order = table.shape
    gf = np.asarray(grid_fractions, dtype=np.float64)
    f_dft, e_dft, sys_of, off, _ = _compounds_of(table, dft)
    n_dft = np.diff(off)
    cols = {"n_dft": n_dft}
    if len(e_dft):
        hd = hull_batch(f_dft, e_dft, off, tol=HULL_TOL, decomposition=False, threads=threads)
        dft_stable = hd.e_above_hull <= HULL_TOL  # on the DFT hull (vertices and points on facets)
        dft_vertex = hd.is_vertex
        # the model at exactly the known compositions
        e_model = predict_fractions(table[sys_of], f_dft).astype(np.float64)
        # predicted hull of the grid plus those points, CSR: system s = its grid, then its compounds
        P = gf.shape[0]
        ok = valid[sys_of] & np.isfinite(e_model)
        counts = P + n_dft
        off2 = np.zeros(n_sys + 1, dtype=np.int64)
        off2[1:] = np.cumsum(counts)
        f2 = np.empty((off2[-1], order))
        e2 = np.empty(off2[-1])
        pos_grid = (off2[:-1, None] + np.arange(P)[None, :]).ravel()
        f2[pos_grid] = np.tile(gf, (n_sys, 1))
        e2[pos_grid] = np.asarray(energies, dtype=np.float64).ravel()
        pos_dft = off2[sys_of] + P + (np.arange(len(e_dft)) - off[sys_of])
        f2[pos_dft] = f_dft
        e2[pos_dft] = np.where(np.isfinite(e_model), e_model, 0.0)
        hp = hull_batch(f2, e2, off2, tol=HULL_TOL, decomposition=False, nonfinite="nan", threads=threads)
        pred_stable = (hp.e_above_hull[pos_dft] <= HULL_TOL) & ok
        ok_sys = np.bincount(sys_of, weights=~ok, minlength=n_sys) == 0
        cnt = lambda m: np.bincount(sys_of, weights=m, minlength=n_sys).astype(np.int64)  # noqa: E731
        cols["n_dft_stable"] = cnt(dft_vertex)
        cols["stab_tp"] = cnt(dft_stable & pred_stable)
        cols["stab_fp"] = cnt(~dft_stable & pred_stable)
        cols["stab_fn"] = cnt(dft_stable & ~pred_stable)
        cols["stab_tn"] = cnt(~dft_stable & ~pred_stable)
        err = np.abs(e_model - e_dft)
        n_v = cnt(dft_vertex)
        with np.errstate(invalid="ignore", divide="ignore"):
            cols["mae_dft_hull"] = np.bincount(sys_of, weights=np.where(dft_vertex, err, 0.0),
                                               minlength=n_sys) / n_v
        cols["mae_dft_hull"] = np.where(n_v > 0, cols["mae_dft_hull"], np.nan)
        # composition matching of hull vertices
        pv_s, pv_p = np.nonzero(is_vertex)
        dv = np.flatnonzero(dft_vertex)
        matched_pred, matched_dft = match_compositions(pv_s, gf[pv_p], sys_of[dv], f_dft[dv], n_sys, match_tol)
        cols["tp_pred"] = np.bincount(pv_s[matched_pred], minlength=n_sys)
        cols["tp_dft"] = np.bincount(sys_of[dv][matched_dft], minlength=n_sys)
        if end_artifact is not None:
            end = np.asarray(end_artifact, dtype=bool)[pv_s, pv_p]
            _, matched_rest = match_compositions(pv_s[~end], gf[pv_p[~end]], sys_of[dv], f_dft[dv], n_sys, match_tol)
            cols["tp_pred_end"] = np.bincount(pv_s[matched_pred & end], minlength=n_sys)
            cols["tp_dft_end"] = cols["tp_dft"] - np.bincount(sys_of[dv][matched_rest], minlength=n_sys)
        bad_sys = ~(valid & ok_sys)
    else:
        z = np.zeros(n_sys, dtype=np.int64)
        cols.update(n_dft_stable=z, stab_tp=z, stab_fp=z, stab_fn=z, stab_tn=z, mae_dft_hull=np.full(n_sys, np.nan))
        pv_s = np.nonzero(is_vertex)[0]
        cols["tp_pred"], cols["tp_dft"] = z, z
        if end_artifact is not None:
            cols["tp_pred_end"], cols["tp_dft_end"] = z, z
        bad_sys = ~valid
    out = pd.DataFrame(cols)
    n_pred = np.bincount(pv_s, minlength=n_sys)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["precision"] = np.where(n_pred > 0, out["tp_pred"] / np.maximum(n_pred, 1), np.nan)
        out["recall"] = np.where(out["n_dft_stable"] > 0, out["tp_dft"] / np.maximum(out["n_dft_stable"], 1), np.nan)
        out["stab_f1"] = f1_score(out["stab_tp"], out["stab_fp"], out["stab_fn"])
    # the stable sets agree: every predicted vertex matches a DFT one and vice versa
    out["agree"] = (out["tp_pred"] == n_pred) & (out["tp_dft"] == out["n_dft_stable"])
    # nullable dtypes: the metrics of systems without a hull are missing, the others keep their type
    for c in out.columns:
        if c == "agree":
            out[c] = out[c].astype("boolean")
        elif c != "n_dft" and out[c].dtype.kind in "iu":
            out[c] = out[c].astype("Int64")
    metric_cols = [c for c in out.columns if c != "n_dft"]
    out.loc[bad_sys, metric_cols] = pd.NA
    return out


def f1_score(tp, fp, fn):
    """F1 = 2 TP / (2 TP + FP + FN) from counts (arrays or scalars); NaN where nothing was counted.

    >>> f1_score(1, 1, 1).item(), bool(np.isnan(f1_score(0, 0, 0)))
    (0.5, True)
    """
    tp, fp, fn = (np.asarray(v, dtype=np.float64) for v in (tp, fp, fn))
    d = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(d > 0, 2 * tp / np.where(d > 0, d, 1), np.nan)


def match_compositions(ps: np.ndarray, pf: np.ndarray, ds: np.ndarray, df_: np.ndarray, n_sys: int, tol: float):
    """Which predicted compounds (system ``ps``, fractions ``pf``) have a DFT compound (system
    ``ds``, fractions ``df_``) of the same system within ``tol`` in every fraction, and which DFT
    compounds have a predicted one: two boolean arrays.

    >>> p, d = match_compositions(np.array([0, 0]), np.array([[0.5, 0.5], [0.3, 0.7]]),
    ...                           np.array([0]), np.array([[0.6, 0.4]]), 1, 0.11)
    >>> p.tolist(), d.tolist()
    ([True, False], [True])
    """
    mp = np.zeros(len(ps), dtype=bool)
    md = np.zeros(len(ds), dtype=bool)
    if not len(ps) or not len(ds):
        return mp, md
    po, do = np.argsort(ps, kind="stable"), np.argsort(ds, kind="stable")
    pcount, dcount = np.bincount(ps, minlength=n_sys), np.bincount(ds, minlength=n_sys)
    pstart = np.concatenate([[0], np.cumsum(pcount)])
    dstart = np.concatenate([[0], np.cumsum(dcount)])
    # all (predicted, DFT) pairs of each system, vectorised through repeat
    pairs_per = pcount * dcount
    sys_rep = np.repeat(np.arange(n_sys), pairs_per)
    k = np.arange(pairs_per.sum()) - np.repeat(np.concatenate([[0], np.cumsum(pairs_per)[:-1]]), pairs_per)
    i = po[pstart[sys_rep] + k // np.maximum(dcount[sys_rep], 1)]
    j = do[dstart[sys_rep] + k % np.maximum(dcount[sys_rep], 1)]
    close = np.abs(pf[i] - df_[j]).max(axis=1) <= tol + 1e-12
    mp[i[close]] = True
    md[j[close]] = True
    return mp, md


def by_group_pair(systems: pd.DataFrame) -> pd.DataFrame:
    """Sum a screen's DFT counts over unordered group pairs ``(group_lo, group_hi)``: systems,
    precision, recall, stability F1, mean MAE at the DFT hull compositions, agreement rate over
    all systems (``agree``: two empty stable sets agree) and over the systems with a predicted or
    DFT stable compound (``agree_with_compounds``, NaN where there is none; the summary's figure).

    ``systems`` needs the columns ``A``, ``B`` (symbols) and those of :func:`compare_block`; a
    ternary screen (column ``C`` too) counts each system under each of its three element pairs, a
    quaternary screen (``D`` too) under each of its six.
    """
    from ..elements import ELEMENT_INDEX

    letters = [c for c in "ABCD" if c in systems.columns]
    if len(letters) > 2:
        systems = pd.concat([systems.assign(A=systems[a], B=systems[b]) for a, b in itertools.combinations(letters, 2)],
                            ignore_index=True)
    g = element_groups()
    ga = g[[ELEMENT_INDEX[a] for a in systems["A"]]]
    gb = g[[ELEMENT_INDEX[b] for b in systems["B"]]]
    df = systems.assign(group_lo=np.minimum(ga, gb), group_hi=np.maximum(ga, gb),
                        n_pred_stable=systems["n_stable"])
    df = df[df["tp_pred"].notna()]
    either = (df["n_stable"] > 0) | (df["n_dft_stable"] > 0)
    df = df.assign(agree_with_compounds=df["agree"].astype("Float64").where(either))
    agg = df.groupby(["group_lo", "group_hi"]).agg(
        n_systems=("A", "size"), n_pred_stable=("n_pred_stable", "sum"), n_dft_stable=("n_dft_stable", "sum"),
        tp_pred=("tp_pred", "sum"), tp_dft=("tp_dft", "sum"), stab_tp=("stab_tp", "sum"),
        stab_fp=("stab_fp", "sum"), stab_fn=("stab_fn", "sum"), mae_dft_hull=("mae_dft_hull", "mean"),
        agree=("agree", "mean"), agree_with_compounds=("agree_with_compounds", "mean"))
    agg["agree_with_compounds"] = agg["agree_with_compounds"].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        agg["precision"] = np.where(agg["n_pred_stable"] > 0, agg["tp_pred"] / agg["n_pred_stable"], np.nan)
        agg["recall"] = np.where(agg["n_dft_stable"] > 0, agg["tp_dft"] / agg["n_dft_stable"], np.nan)
    agg["stab_f1"] = f1_score(agg["stab_tp"], agg["stab_fp"], agg["stab_fn"])
    return agg.reset_index()


#: the group-pair heatmaps: metric of :func:`by_group_pair` -> (file stem, title); ratios run
#: over a fixed 0..1 scale, so that figures of different screens compare
GROUP_HEATMAPS = {
    "stab_f1": ("stab_f1", "stability F1 of the known compounds"),
    "precision": ("precision", "stable-compound precision"),
    "recall": ("recall", "stable-compound recall"),
    "mae_dft_hull": ("mae_dft_hull", "MAE at DFT hull compositions (eV/atom)"),
    "agree_with_compounds": ("agree", "share of systems with a predicted or DFT stable compound\n"
                                      "whose stable sets agree"),
}


def heatmap_scale(metric: str, values: np.ndarray) -> tuple[float, str]:
    """The top of a group-pair heatmap's colour scale (its bottom is 0) and matplotlib's
    ``extend`` for its colour bar: 1 for the ratios, whatever the values; for the MAE the 95th
    percentile of the cells, with an arrow ("max") where some lie above it.

    >>> heatmap_scale("stab_f1", np.array([0.4, 0.75, np.nan]))
    (1.0, 'neither')
    >>> top, extend = heatmap_scale("mae_dft_hull", np.r_[np.full(19, 0.02), 0.7])
    >>> round(top, 3), extend
    (0.054, 'max')
    """
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if metric != "mae_dft_hull":
        return 1.0, "neither"
    top = float(np.percentile(finite, 95)) if finite.size else 0.0
    top = top if top > 0 else max(float(finite.max()) if finite.size else 0.0, 1.0)
    return top, "max" if finite.size and finite.max() > top else "neither"


def plot_group_heatmaps(groups: pd.DataFrame, out_dir, *, metrics=tuple(GROUP_HEATMAPS)) -> list[Path]:
    """One 18x18 group-pair heatmap (PNG) per metric of :func:`by_group_pair` into ``out_dir``
    (``groups_<stem>.png``, :data:`GROUP_HEATMAPS`), each cell's value written in it; ratios on a
    0..1 scale, the MAE from 0 to its 95th percentile over the cells (the colour bar's arrow
    marks the cells above); returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for m in metrics:
        stem, title = GROUP_HEATMAPS.get(m, (m, m))
        mat = np.full((18, 18), np.nan)
        for lo, hi, v in zip(groups["group_lo"], groups["group_hi"], groups[m]):
            mat[lo - 1, hi - 1] = mat[hi - 1, lo - 1] = v
        vmax, extend = heatmap_scale(m, mat)
        fig, ax = plt.subplots(figsize=(8, 7))
        im = ax.imshow(mat, origin="lower", extent=(0.5, 18.5, 0.5, 18.5), vmin=0.0, vmax=vmax,
                       cmap="viridis_r" if m == "mae_dft_hull" else "viridis")
        cmap, norm = im.get_cmap(), im.norm
        for i, j in zip(*np.nonzero(np.isfinite(mat))):
            ax.text(j + 1, i + 1, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=5,
                    color=cell_text_colour(cmap(norm(mat[i, j]))))
        ax.set_xticks(range(1, 19))
        ax.set_yticks(range(1, 19))
        ax.set_xlabel("group")
        ax.set_ylabel("group")
        ax.set_title(title + "\n(blank: no system with a value)", fontsize=10)
        fig.colorbar(im, ax=ax, extend=extend)
        fig.tight_layout()
        path = out_dir / f"groups_{stem}.png"
        fig.savefig(path, dpi=130)
        plt.close(fig)
        paths.append(path)
    return paths
