"""The hulls of a reference set, built once (:class:`Reference`), and the result tables of queries
against them: a set's own stability, and candidates against a reference (see the package docstring
for the definitions)."""
from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from .._cache import load_arrays, oqmd_cache_file, save_arrays
from ..columns import FORMATION_ENERGY_COLUMNS, ID_COLUMNS, first_present, header_key, is_hull_distance
from .._core_loader import as_threads
from .._core_loader import core as _core
from .._progress import progress
from ..elements import ALL_ELEMENT_INDEX, ALL_ELEMENTS, N_ALL_ELEMENTS
from ..errors import HullInputError
from ..hull import DEFAULT_TOL
from .energies import above_elements, lowest_of_elements, per_unit_example, reference_mismatch, total_energy_signs
from .inputs import Parsed, parse, table_columns
from ..naming import formulas, join_rows

__all__ = ["Reference", "stability", "RESULT_COLUMNS", "REFERENCE_COLUMNS", "REFERENCE_ID", "parse_decomposition",
           "known_stable", "on_reference_hull", "MODEL_ERROR", "ON_HULL"]

log = logging.getLogger(__name__)

#: columns of every result table, in order
RESULT_COLUMNS = ("formula", "chemsys", "n_elements", "energy", "e_above_hull", "decomposition_energy",
                  "stable", "decomposition", "problem", "input")
#: columns a table of candidates against a reference adds after :data:`RESULT_COLUMNS`: whether the
#: reference holds the candidate's composition, its lowest energy there and that entry's energy
#: above the reference's own hull (0: on the hull)
REFERENCE_COLUMNS = ("in_reference", "reference_energy", "reference_e_above_hull")
#: the column after :data:`REFERENCE_COLUMNS` where the reference was built from a table with an id
#: column (the first of :data:`~hullpack.columns.ID_COLUMNS`: ``material_id``, ``jid``, ...): that
#: entry's id (None/NaN where the reference holds no entry of the composition)
REFERENCE_ID = "reference_id"

#: eV/atom: a reference entry this close to its hull is on it (tables print 4 decimals)
ON_HULL = 5e-5
#: eV/atom: a model's energy further above the reference's at a compound on the reference's hull is
#: a large model error (over twice the shipped ElemNet's test MAE, 42 meV/atom), not a known stable compound
MODEL_ERROR = 0.1

_CHUNK = 65536   # queries per call of the core when a progress bar is shown
# each element's name as a product: its reduced formula (O2, N2, Fe)
_ELEMENT_NAMES = formulas(np.arange(N_ALL_ELEMENTS + 1), np.arange(N_ALL_ELEMENTS), np.ones(N_ALL_ELEMENTS, dtype=np.int64))
# eV/atom: decomposition energy below energy above hull by more than this (and tol) marks a row
# above a stable entry of its own composition (the two agree to rounding elsewhere)
_POLYMORPH_GAP = 1e-7
#: eV/atom: candidates whose median energy lies further above their elements' entries in a reference
#: of total energies are formation energies (of another convention), not total energies
FORMATION_GAP = 1.0


_PARSED_ARRAYS = ("offsets", "elements", "fractions", "energies", "names", "texts", "problem_rows", "problem_texts")


def _oqmd_parsed(splits: tuple[str, ...]) -> Parsed:
    """The shipped OQMD rows of ``splits`` parsed, from the disk cache (:mod:`hullpack._cache`)
    where it holds them."""
    from ..elemnet.data import load_oqmd

    path = oqmd_cache_file("oqmd-parsed", splits, ("hullpack.stability.inputs", "hullpack.elemnet.data",
                                                   "hullpack.elemnet.featurize", "hullpack.elements", "hullpack.naming"))
    z = load_arrays(path, _PARSED_ARRAYS)
    if z is not None and len(z["offsets"]) == len(z["energies"]) + 1 == len(z["names"]) + 1 == len(z["texts"]) + 1:
        problems = dict(zip(z["problem_rows"].tolist(), z["problem_texts"].tolist()))
        return Parsed(z["offsets"], z["elements"], z["fractions"], z["energies"],
                      np.char.decode(z["names"], "ascii").astype(object), problems, pd.RangeIndex(len(z["energies"])),
                      np.char.decode(z["texts"], "ascii").tolist())
    df = pd.concat([load_oqmd(s) for s in splits], ignore_index=True)
    parsed = parse(df, "target")
    rows = np.fromiter(parsed.problems, dtype=np.int64, count=len(parsed.problems))
    try:  # formulas and names as ASCII bytes: a quarter of the size of numpy's unicode
        names, texts = (np.char.encode(np.asarray(v, dtype=str), "ascii") for v in (parsed.names, parsed.texts))
    except UnicodeEncodeError:
        return parsed
    save_arrays(path, offsets=parsed.offsets, elements=parsed.elements, fractions=parsed.fractions,
                energies=parsed.energies, names=names, texts=texts, problem_rows=rows,
                problem_texts=np.asarray([parsed.problems[r] for r in rows.tolist()], dtype=str))
    return parsed


def _threads(threads) -> int:
    """``threads`` for the core (:func:`~hullpack._core_loader.as_threads`), a bad one a ValueError."""
    return as_threads(threads, error=ValueError)


def parse_decomposition(text: str) -> dict[str, float]:
    """The products of a ``decomposition`` cell as ``{formula: atom fraction}``.

    >>> parse_decomposition("0.6 Fe2O3 + 0.4 Fe3O4")
    {'Fe2O3': 0.6, 'Fe3O4': 0.4}
    """
    out = {}
    for part in str(text).split(" + ") if text else ():
        weight, name = part.split(" ", 1)
        out[name] = float(weight)
    return out


def _query(call, n: int, bar_label: str, show, product_names) -> dict:
    """Run ``call(start, stop)`` over chunks of ``n`` queries (behind a progress bar above one chunk,
    ``show`` as :func:`~hullpack._progress.progress` takes it): the results of every query, each
    chunk's products read into its ``decomposition`` cells as it comes (``product_names``: their
    names by product id), so that no chunk's products are kept."""
    out: dict = {}
    with progress(total=n, desc=bar_label, unit="composition", show=False if n <= _CHUNK else show) as bar:
        for s in range(0, max(n, 1), _CHUNK):
            res = call(s, min(n, s + _CHUNK))
            for key in ("e_above_hull", "decomposition_energy", "stable", "status"):
                out.setdefault(key, np.empty(n, dtype=res[key].dtype))[s:s + _CHUNK] = res[key]
            cells = _decomposition(res, product_names)
            out.setdefault("decomposition", np.empty(n, dtype=object))[s:s + _CHUNK] = cells
            bar.update(len(res["stable"]))
    return out


def _decomposition(res: dict, product_names) -> np.ndarray:
    """The products of each query of ``res`` (the core's results), in its slots up to n_products,
    as ``"0.6 Fe2O3 + 0.4 Fe3O4"``."""
    count = res["n_products"].astype(np.int64)
    first = np.cumsum(count) - count
    used = np.repeat(res["product_offsets"][:-1], count) + (np.arange(count.sum()) - np.repeat(first, count))
    values, which = np.unique(np.round(res["product_weight"][used], 6), return_inverse=True)
    parts = (values.astype(str).astype(object) + " ")[which] + product_names(res["product_id"][used])
    return join_rows(np.append(first, count.sum()), parts, " + ")


class Reference:
    """A set of entries (compositions with energies in eV/atom) and the lower hull of every chemical
    space they span, built once in C++. Query it with :meth:`stability` (every entry against all the
    others) or :meth:`evaluate` (other compositions against it).

    ``compositions``/``energies``/``elements``/``column``: any form :func:`hullpack.stability.inputs.parse`
    reads. Bad rows (unknown elements, unparsable formulas, non-finite energies) are left out of the
    hulls, named by a warning (``errors="raise"``: a :class:`~hullpack.errors.CompositionError`;
    ``"ignore"``: silently) and reported in the tables' ``problem`` column. ``tol`` (eV/atom): how far
    below the hull of the other compositions a compound must lie to count as stable. A DataFrame with
    an id column (the first of :data:`~hullpack.columns.ID_COLUMNS`: :attr:`id_column`) gives each
    entry its id, which :meth:`evaluate` names in ``reference_id``.

    >>> ref = Reference(["Fe2O3", "Fe3O4", "FeO", "FeO2"], [-1.65, -1.64, -1.52, -0.9])
    >>> len(ref), ref.n_spaces
    (4, 1)
    >>> ref.stability()[["formula", "e_above_hull", "stable"]].round({"e_above_hull": 4}).values.tolist()  # not "stable"
    [['Fe2O3', 0.0, True], ['Fe3O4', 0.0, True], ['FeO', 0.0, True], ['FeO2', 0.475, False]]
    """

    def __init__(self, compositions, energies=None, *, elements=None, column: str | None = None,
                 tol: float | None = None, threads: int | None = None, errors: str = "warn"):
        parsed = parse(compositions, energies, elements=elements, column=column)
        parsed.report("reference", errors, done="used")
        self._init(parsed, DEFAULT_TOL if tol is None else tol, threads, ids=_table_ids(compositions))

    @classmethod
    def _from_parsed(cls, parsed: Parsed, tol: float, threads, *, check: bool = True) -> "Reference":
        """A reference of ``parsed``; ``check=False``: its energies were checked already (a reference
        joined with candidates checked against it)."""
        self = cls.__new__(cls)
        self._init(parsed, tol, threads, check=check)
        return self

    def _init(self, parsed: Parsed, tol: float, threads, *, check: bool = True,
              ids: tuple[str, np.ndarray] | None = None) -> None:
        self.parsed = parsed
        #: the column of the table the entries' ids came from (None: no ids), and the ids, one per input row
        self.id_column: str | None = None
        self._ids: np.ndarray | None = None
        if ids is not None:
            self.id_column, self._ids = ids
        #: hull-set entry i is row rows[i] of the input
        self.rows = np.flatnonzero(parsed.valid)
        try:
            self._hulls = _core.StabilityHulls(*parsed.core_arrays(self.rows), tol=tol, n_threads=_threads(threads))
        except ValueError as exc:
            raise HullInputError(str(exc)) from None
        self._names = parsed.names[self.rows]
        # why the entries' energies look like total energies (None: formation energies)
        self._total_signs = total_energy_signs(parsed)
        if check:
            self._check_references()

    @classmethod
    def oqmd(cls, splits=("train", "val", "test"), **kwargs) -> "Reference":
        """The OQMD formation energies shipped with hullpack (CC BY 4.0, see
        ``hullpack/data/oqmd/SOURCE.md``), with ElemNet's filter -20 < dH < 5 eV/atom: 341,614
        compounds over the three splits."""
        from ..elemnet.data import load_oqmd

        if isinstance(splits, str):
            splits = (splits,)
        if set(kwargs) <= {"tol", "threads", "errors"}:  # the parsed rows come from the disk cache
            parsed = _oqmd_parsed(tuple(splits))
            parsed.report("reference", kwargs.get("errors", "warn"), done="used")
            tol = kwargs.get("tol")
            return cls._from_parsed(parsed, DEFAULT_TOL if tol is None else tol, kwargs.get("threads"))
        df = pd.concat([load_oqmd(s) for s in splits], ignore_index=True)
        return cls(df, "target", **kwargs)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        """What the set holds, e.g. ``<Reference: 341,614 compounds in 131,381 chemical spaces>``.

        >>> Reference(["Fe2O3", "FeO", "NiO"], [-1.7, -1.3, -1.2])
        <Reference: 3 compounds in 2 chemical spaces>
        """
        bad = len(self.parsed) - len(self.rows)
        return (f"<Reference: {len(self):,} compound{'' if len(self) == 1 else 's'} in {self.n_spaces:,} chemical "
                f"space{'' if self.n_spaces == 1 else 's'}" + (f" ({bad:,} bad row{'' if bad == 1 else 's'} left out)" if bad else "") + ">")

    @property
    def tol(self) -> float:
        return float(self._hulls.tol)

    @property
    def n_spaces(self) -> int:
        """Distinct chemical spaces (element sets) of the entries."""
        return int(self._hulls.n_spaces)

    @property
    def n_hull_points(self) -> int:
        """Entries that span the hulls (the vertices, and points within 1e-10 eV/atom of a hull)."""
        return int(self._hulls.n_hull_points)

    def knows(self, element: str) -> bool:
        """Whether some entry contains ``element``.

        >>> Reference(["Fe2O3"], [-1.7]).knows("Fe"), Reference(["Fe2O3"], [-1.7]).knows("Ni")
        (True, False)
        """
        return element in ALL_ELEMENT_INDEX and bool(self._hulls.knows_element(ALL_ELEMENT_INDEX[element]))

    def _check_references(self) -> None:
        """Refuse energies that look like total energies (:func:`~hullpack.stability.inputs.total_energy_signs`)
        where some element has no elemental entry (its reference is then taken at 0 eV/atom); warn when
        some elements have elemental entries away from 0 eV/atom and others none (mixed conventions:
        entries at 0 are formation energies, as the others' references are)."""
        n_el = np.diff(self.parsed.offsets)[self.rows]
        off = self.parsed.offsets
        with_entry = set(self.parsed.elements[off[self.rows[n_el == 1]]].tolist())
        present = set(self.parsed.elements.tolist()) if self.parsed.valid.all() else {
            int(e) for r in self.rows for e in self.parsed.elements[off[r]:off[r + 1]]}
        missing = ", ".join(ALL_ELEMENTS[e] for e in sorted(present - with_entry))
        if not missing:
            return
        signs = self._total_signs
        if signs is not None:
            raise HullInputError(
                f"{signs}: these look like total energies, but no elemental entries give the references of "
                f"{missing}, which are then taken at 0 eV/atom (right for formation energies only); add each "
                "element's entry in the same convention, or give formation energies per atom (not per formula unit)")
        if (np.abs(lowest_of_elements(self.parsed)) > 0.1).any():
            warnings.warn(
                "elemental entries are given for " + ", ".join(ALL_ELEMENTS[e] for e in sorted(with_entry))
                + " but not for " + missing + ", whose references are taken at 0 eV/atom: right for formation "
                "energies, wrong for total energies", stacklevel=4)

    def _check_candidates(self, parsed: Parsed) -> None:
        """Refuse candidates whose energies are of another convention than this reference's: total
        energies (:func:`~hullpack.stability.inputs.total_energy_signs`) against formation energies,
        or formation energies (a median more than :data:`FORMATION_GAP` above their elements' entries)
        against total energies."""
        signs, own = total_energy_signs(parsed), self._total_signs
        if signs is not None and own is None:
            example = self._per_unit_example(parsed)  # said only where a compound's energy reads so
            raise HullInputError(f"candidates: {signs}: these look like total energies"
                                 + (f", or formation energies per formula unit{example}" if example else "")
                                 + ", but the reference's are formation energies (elements at 0 eV/atom); give their "
                                 "formation energies" + (" per atom" if example else ""))
        if own is not None and signs is None:
            above = above_elements(parsed, lowest_of_elements(self.parsed))
            median = float(np.nanmedian(above)) if np.isfinite(above).any() else np.nan
            if median > FORMATION_GAP:
                raise HullInputError(
                    f"candidates: median energy {median:.2f} eV/atom above their elements' entries in the reference: "
                    f"these look like formation energies, but the reference's are total energies ({own}); give their "
                    "total energies in the reference's convention, or a reference of formation energies")

    def _per_unit_example(self, parsed: Parsed) -> str:
        """:func:`~hullpack.stability.energies.per_unit_example` against this reference's energies."""
        at = self.lowest_at(parsed.names)
        ref = np.where(at >= 0, self.parsed.energies[self.rows[np.maximum(at, 0)]], np.nan)
        return per_unit_example(parsed, ref)

    # -- queries -------------------------------------------------------------------------------

    def stability(self, rows=None, *, threads: int | None = None, progress_bar: bool | None = None) -> pd.DataFrame:
        """Entries against the hulls of all entries (the set's own stability): one row per input row
        (or per position in ``rows``), bad rows included with NaN results and their ``problem``."""
        nt = _threads(threads)
        if rows is None:
            parsed, valid, entries = self.parsed, self.rows, np.arange(len(self.rows), dtype=np.int64)
        else:
            rows = np.asarray(rows, dtype=np.int64)
            parsed = self.parsed.take(rows)
            valid = np.flatnonzero(parsed.valid)
            entries = np.searchsorted(self.rows, rows[valid]).astype(np.int64)
        res = _query(lambda a, b: self._hulls.query_entries(entries[a:b], n_threads=nt), len(entries), "stability",
                     progress_bar, self._product_names)
        return _table(parsed, valid, res, self.tol)

    def evaluate(self, candidates, energies=None, *, join: bool = False, elements=None, column: str | None = None,
                 threads: int | None = None, errors: str = "warn", progress_bar: bool | None = None) -> pd.DataFrame:
        """Candidates against this reference: one row per candidate, in their order. ``join=False``
        (default): each candidate alone against the reference (candidates never see each other);
        ``join=True``: the candidates join the hulls of the reference and of each other. A candidate
        with an element no reference entry contains is a bad row (its ``problem`` names the element).
        ``candidates`` may also be an already :func:`~hullpack.stability.inputs.parse`-d set.
        Columns: :data:`RESULT_COLUMNS`, :data:`REFERENCE_COLUMNS`, and ``reference_id`` (the id of the
        reference entry compared with, the lowest at the composition) where this reference has ids
        (:attr:`id_column`).

        >>> ref = Reference(pd.DataFrame({"material_id": ["mp-1", "mp-2", "mp-3"],
        ...                               "formula": ["Fe2O3", "Fe2O3", "FeO"], "energy": [-1.65, -1.70, -1.30]}))
        >>> t = ref.evaluate(["Fe4O6", "FeO"], [-1.68, -1.35])
        >>> t[["formula", "reference_energy", "reference_id"]].values.tolist()
        [['Fe2O3', -1.7, 'mp-2'], ['FeO', -1.3, 'mp-3']]
        """
        parsed = candidates if isinstance(candidates, Parsed) else parse(candidates, energies, elements=elements,
                                                                          column=column, progress_bar=progress_bar)
        self._check_candidates(parsed)
        self._flag_unknown(parsed)
        parsed.report("candidate", errors)
        rows = np.flatnonzero(parsed.valid)
        nt = _threads(threads)
        if not join:
            res = _query(self._chunk_query(parsed.core_arrays(rows), nt), len(rows), "stability", progress_bar,
                         self._product_names)
            return self._with_reference(_table(parsed, rows, res, self.tol), parsed, rows, nt, alone=True)
        both = Reference._from_parsed(Parsed.join([self.parsed.take(self.rows), parsed.take(rows)]), self.tol, threads,
                                      check=False)
        first = len(self.rows)
        res = _query(lambda a, b: both._hulls.query_entries(np.arange(first + a, first + b, dtype=np.int64),
                                                            n_threads=nt), len(rows), "stability", progress_bar,
                     both._product_names)
        return self._with_reference(_table(parsed, rows, res, self.tol), parsed, rows, nt, alone=False)

    def competing_phases(self, compositions) -> list[str]:
        """The phases under each of ``compositions`` of the hull of this reference's entries at *other*
        compositions, as a ``decomposition`` cell (``"0.875 Fe3O4 + 0.125 Fe"``): the competing phases
        behind a ``decomposition_energy``, what a compound there decomposes into when it lies above
        them, whatever entry of its own composition the reference holds (which a table's
        ``decomposition`` names instead: ``"1.0 FeO"``). None for a composition this reference
        cannot take.

        >>> Reference(["Fe2O3", "Fe3O4", "FeO"], [-1.70, -1.62, -1.40]).competing_phases(["FeO"])
        ['0.875 Fe3O4 + 0.125 Fe']
        """
        parsed = parse(compositions, np.zeros(len(compositions)))  # the products do not depend on the energy
        self._flag_unknown(parsed)
        rows = np.flatnonzero(parsed.valid)
        res = _query(self._chunk_query(parsed.core_arrays(rows), 1), len(rows), "stability", False, self._product_names)
        out: list = [None] * len(parsed)
        for r, cell in zip(rows.tolist(), res["decomposition"]):
            out[r] = cell
        return out

    def _chunk_query(self, arrays: tuple, nt: int):
        """``call(a, b)`` for :func:`_query`: the queries ``a:b`` of compositions in the core's CSR
        ``arrays`` (:meth:`Parsed.core_arrays`), each alone against this reference."""
        def call(a, b):
            off = arrays[0][a:b + 1]
            return self._hulls.query(off - off[0], arrays[1][off[0]:off[-1]], arrays[2][off[0]:off[-1]],
                                     arrays[3][a:b], n_threads=nt)
        return call

    def lowest_at(self, names) -> np.ndarray:
        """For each reduced formula of ``names``, the hull-set entry (an index into :attr:`rows`) of
        lowest energy at that composition, -1 where no entry has it.

        >>> Reference(["FeO", "Fe2O3", "Fe2O2"], [-1.2, -1.7, -1.3]).lowest_at(["FeO", "NiO"]).tolist()
        [2, -1]
        """
        if getattr(self, "_lowest", None) is None:
            e = self.parsed.energies[self.rows]
            order = np.argsort(e, kind="stable")
            first = pd.Series(order, index=pd.Index(self._names[order])).groupby(level=0, sort=False).first()
            self._lowest = first
        return self._lowest.reindex(pd.Index(list(names), dtype=object)).fillna(-1).to_numpy().astype(np.int64)

    def _with_reference(self, table: pd.DataFrame, parsed: Parsed, rows: np.ndarray, nt: int,
                        alone: bool) -> pd.DataFrame:
        """``table`` (candidates' results) with :data:`REFERENCE_COLUMNS`: what this reference holds
        at each candidate's composition. ``alone`` (each candidate alone): a candidate element with
        no elemental entry to compete with, at 0 eV/atom (within ``tol``), is the hull's end and
        stable, as an element's lowest entry is in a set's own stability (joined, it is such an
        entry already)."""
        n = len(parsed)
        at = np.full(n, -1, dtype=np.int64)
        read = np.flatnonzero(parsed.n_elements > 0)  # a bad row's composition too, where it was read
        at[read] = self.lowest_at(parsed.names[read])
        found = np.flatnonzero(at >= 0)
        energy = np.full(n, np.nan)
        above = np.full(n, np.nan)
        if len(found):
            energy[found] = self.parsed.energies[self.rows[at[found]]]
            above[found] = self._hulls.query_entries(at[found], n_threads=nt)["e_above_hull"]
        # an element without an elemental entry: its end of the hull is the implicit 0 eV/atom, which
        # a candidate at 0 holds (stable, as an element's lowest entry is in a set's own stability)
        ends = rows[(parsed.n_elements[rows] == 1) & (at[rows] < 0)] if alone else rows[:0]
        at_end = ends[np.abs(table["decomposition_energy"].to_numpy()[ends]) <= self.tol]
        if len(at_end):
            table.iloc[at_end, table.columns.get_loc("stable")] = True
        table["in_reference"] = at >= 0
        table["reference_energy"] = energy
        table["reference_e_above_hull"] = above
        for why in reference_mismatch(parsed, energy):  # valid data, likely of another convention: said, not refused
            warnings.warn(why, stacklevel=4)
        if self._ids is not None:  # that entry's id
            ids = np.full(n, None, dtype=object)
            ids[found] = self._ids[self.rows[at[found]]]
            table[REFERENCE_ID] = ids
        return table

    def _flag_unknown(self, parsed: Parsed) -> None:
        known = np.array([bool(self._hulls.knows_element(e)) for e in range(N_ALL_ELEMENTS)])
        off, el = parsed.offsets, parsed.elements
        missing = ~known[el]
        if not missing.any():
            return
        rows = np.repeat(np.arange(len(parsed)), np.diff(off))
        for r in np.unique(rows[missing]):
            if int(r) in parsed.problems:
                continue
            names = sorted(ALL_ELEMENTS[e] for e in el[off[r]:off[r + 1]] if not known[e])
            parsed.problems[int(r)] = f"no reference entry contains {', '.join(names)}"
        parsed.problems = dict(sorted(parsed.problems.items()))

    def _product_names(self, ids: np.ndarray) -> np.ndarray:
        """Names of product ids: an entry index, or -1 - e for element e's implicit reference (named
        as an elemental entry would be: ``Fe``, ``O2``)."""
        return np.where(ids >= 0, self._names[np.maximum(ids, 0)], _ELEMENT_NAMES[np.maximum(-1 - ids, 0)])


def _table_ids(compositions) -> tuple[str, np.ndarray] | None:
    """The first of :data:`~hullpack.columns.ID_COLUMNS` a DataFrame of entries has and its values,
    as written (None where a cell is missing), or pymatgen entries' ids (:func:`_entry_ids`); None
    for no such column, or entries without ids."""
    if not isinstance(compositions, pd.DataFrame):
        ids = _entry_ids(compositions)
        return None if ids is None else ("entry_id", ids)
    column = first_present(compositions.columns, ID_COLUMNS)
    if column is None:
        return None
    ids = np.array(compositions[column].to_numpy(dtype=object), dtype=object)  # a copy: the caller's table stays
    ids[pd.isna(ids)] = None
    return column, ids


def on_reference_hull(table: pd.DataFrame) -> pd.Series:
    """Which rows of a table of candidates against a reference (:meth:`Reference.evaluate`) are not
    stable by their own energy at a composition the reference has on its hull (within
    :data:`ON_HULL`): their energy lies above the reference's there. All False for a table without
    the reference's columns."""
    if "in_reference" not in table.columns:
        return pd.Series(False, index=table.index)
    return (table["in_reference"].astype(bool) & (table["reference_e_above_hull"] < ON_HULL)
            & ~table["stable"].astype(bool))


def _entry_ids(compositions) -> np.ndarray | None:
    """The ids of a list of pymatgen entries or a ``PhaseDiagram``'s, as a file of saved entries gives
    them (:func:`hullpack.columns.read_table`): an entry's ``entry_id``, a ``PDEntry``'s ``name``
    where it was given one (not its reduced formula); None where none has one, or for no entries."""
    entries = getattr(compositions, "all_entries", compositions)  # a PhaseDiagram: its entries
    if not isinstance(entries, (list, tuple)) or not entries or not all(
            hasattr(e, "composition") and hasattr(e, "energy_per_atom") for e in entries):
        return None
    from ..json_tables import entry_id

    ids = np.empty(len(entries), dtype=object)
    ids[:] = [entry_id(e) for e in entries]
    return ids if any(i is not None for i in ids) else None


def known_stable(table: pd.DataFrame, given: bool = False) -> pd.Series:
    """Which rows of a table of candidates against a reference (:meth:`Reference.evaluate`) are
    known stable compounds rather than new unstable ones: on the reference's hull at their composition
    (:func:`on_reference_hull`) but not stable by their own energy, which lies above the reference's
    there. A model's energy (``given=False``) counts so within :data:`MODEL_ERROR` of the
    reference's (the model's error against DFT; further above is a large model error); energies
    ``given`` as the user's own count so only while still below the hull of the other compositions
    (``decomposition_energy`` below :data:`ON_HULL`): above it, the compound decomposes by them. All
    False for a table without the reference's columns.

    >>> ref = Reference(["Fe2O3", "Fe3O4", "FeO"], [-1.65, -1.64, -1.52])   # all three on the hull
    >>> t = ref.evaluate(["Fe2O3", "FeO", "FeO"], [-1.64, -1.43, -1.30])
    >>> known_stable(t).tolist(), known_stable(t, given=True).tolist()
    ([True, True, False], [True, False, False])
    """
    on = on_reference_hull(table)
    if not on.any():
        return on
    if given:
        return on & (table["decomposition_energy"] < ON_HULL)
    return on & (table["energy"] - table["reference_energy"] <= MODEL_ERROR)


def _table(parsed: Parsed, rows: np.ndarray, res: dict, tol: float) -> pd.DataFrame:
    n = len(parsed)
    e_above = np.full(n, np.nan)
    d_energy = np.full(n, np.nan)
    e_above[rows] = res["e_above_hull"]
    d_energy[rows] = res["decomposition_energy"]
    stable = pd.array(np.zeros(n, dtype=bool), dtype="boolean")
    stable[:] = pd.NA
    stable[rows] = res["stable"]
    decomposition = np.full(n, None, dtype=object)
    decomposition[rows] = res["decomposition"]
    # The products (res["decomposition"]) are those of the decomposition energy: the hull without
    # the row's composition. An unstable row whose decomposition energy lies more than tol below its
    # energy above the hull sits above an entry of its own composition that is more than tol below
    # that hull, a stable one (a polymorph, or an equal duplicate): that entry is what it decomposes into.
    gap = max(tol, _POLYMORPH_GAP)
    polymorph = rows[~res["stable"].astype(bool) & (res["decomposition_energy"] < res["e_above_hull"] - gap)]
    decomposition[polymorph] = "1.0 " + parsed.names[polymorph].astype(object)
    if (res["status"] & 2).any():
        log.warning("%d linear programs hit their iteration limit", int((res["status"] & 2).astype(bool).sum()))
    problem = np.full(n, None, dtype=object)
    for r, reason in parsed.problems.items():
        problem[r] = reason
    return pd.DataFrame({  # of a dict: every column a copy (energy too)
        "formula": parsed.names, "chemsys": parsed.chemsys(), "n_elements": np.diff(parsed.offsets),
        "energy": parsed.energies, "e_above_hull": e_above, "decomposition_energy": d_energy, "stable": stable,
        "decomposition": pd.Series(decomposition, dtype=object, index=parsed.index),
        "problem": pd.Series(problem, dtype=object, index=parsed.index),  # None for a good row
        "input": [parsed.describe(r) for r in range(n)],  # the composition as given (bad rows have no formula)
    }, index=parsed.index)


def stability(compositions, energies=None, *, reference=None, join: bool = False, elements=None,
              column: str | None = None, tol: float | None = None, threads: int | None = None,
              errors: str = "warn", progress_bar: bool | None = None) -> pd.DataFrame:
    """Stability of compositions: without ``reference``, of a set against itself (every compound
    against all the others); with ``reference`` (a :class:`Reference`, ``"oqmd"`` for the shipped
    OQMD set, or anything :class:`Reference` takes), of candidates against that reference (alone,
    or all together with ``join=True``). Returns one row per input row (see the package docstring).

    >>> df = stability(["Fe2O3", "FeO", "Fe3O4"], [-1.7, -1.3, -1.5])
    >>> df[["formula", "stable", "decomposition"]].values.tolist()
    [['Fe2O3', True, '0.933333 Fe3O4 + 0.066667 O2'], ['FeO', False, '0.833333 Fe2O3 + 0.166667 Fe'], ['Fe3O4', False, '0.952381 Fe2O3 + 0.047619 Fe']]
    """
    if reference is None:
        parsed = parse(compositions, energies, elements=elements, column=column, progress_bar=progress_bar)
        parsed.report("input", errors)
        table = Reference._from_parsed(parsed, DEFAULT_TOL if tol is None else tol, threads).stability(
            threads=threads, progress_bar=progress_bar)
        return with_input_columns(table, compositions, energies, column)
    if isinstance(reference, str):
        if reference != "oqmd":
            raise ValueError(f"reference={reference!r}: expected 'oqmd', a Reference, or compositions with energies "
                             "(read a file with pandas first)")
        reference = Reference.oqmd(tol=tol, threads=threads)
    elif not isinstance(reference, Reference):
        try:
            reference = Reference(reference, tol=tol, threads=threads, errors=errors)
        except (HullInputError, ValueError) as exc:  # "energies: none given" is the reference's, not the candidates'
            if type(exc) not in (HullInputError, ValueError):  # a CompositionError keeps its .bad
                raise
            raise type(exc)(f"reference: {exc}") from None
    elif tol is not None and tol != reference.tol:
        raise ValueError(f"tol={tol}: the reference was built with tol={reference.tol}; build it again to change it")
    table = reference.evaluate(compositions, energies, join=join, elements=elements, column=column, threads=threads,
                               errors=errors, progress_bar=progress_bar)
    return with_input_columns(table, compositions, energies, column)


#: input columns that hold what a result column does, under another name: Materials Project's
#: stable flag and products (``is_stable``, ``decomposes_to``); hull distances, decomposition
#: energies (:func:`~hullpack.columns.is_hull_distance`) and formation energies are found by name
_SAME_AS_RESULT = ("is_stable", "decomposes_to")


def _like_result(column, result_columns) -> bool:
    """Whether an input ``column`` is named like a result column or holds what one does (an export's
    ``energy_above_hull`` beside ``e_above_hull``, ``formation_energy_per_atom`` beside ``energy``)."""
    key = header_key(column)[0]
    return (column in result_columns or is_hull_distance(column) or key in _SAME_AS_RESULT
            or key in FORMATION_ENERGY_COLUMNS)


def with_input_columns(table: pd.DataFrame, compositions, energies, column) -> pd.DataFrame:
    """``table`` and, for a DataFrame of compositions, its other columns (ids, labels, properties),
    row by row, those that read like a result column (:func:`_like_result`: a database's own
    ``energy_above_hull``) with an ``input_`` prefix; for pymatgen entries with ids, their
    ``entry_id``."""
    if not isinstance(compositions, pd.DataFrame):
        ids = _entry_ids(compositions)
        return table if ids is None else table.assign(entry_id=pd.Series(ids, dtype=object, index=table.index))
    used = table_columns(compositions, energies, column)  # energies given as values: no energy column used
    extra = compositions.iloc[:, [i for i, c in enumerate(compositions.columns) if c not in used]]
    extra = extra.set_axis([f"input_{c}" if _like_result(c, table.columns) else c for c in extra.columns], axis=1)
    return pd.concat([table, extra.set_axis(table.index)], axis=1)
