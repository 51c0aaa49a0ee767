"""Whether energies per atom look like formation energies in eV/atom: the signs of another unit
(meV/atom, kJ/mol, energies per cell) and of total energies rather than formation energies, and each
element's lowest elemental entry, which total energies are measured against.
:func:`hullpack.stability.inputs.parse` refuses energies in another unit; ``hullpack stability`` and
``hullpack screen --dft`` say when they look like total energies.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..elemnet.data import TARGET_RANGE, other_unit
from ..elements import ALL_ELEMENTS

if TYPE_CHECKING:
    from .inputs import Parsed

__all__ = ["BELOW_FORMATION", "TOTAL_ENERGY_MEDIAN", "above_elements", "looks_total", "lowest_of_elements",
           "per_unit_example", "reference_mismatch", "total_energy_signs", "unit_signs"]

#: a median energy below this (eV/atom) is read as total energies: formation energies rarely reach it
TOTAL_ENERGY_MEDIAN = -4.0
#: below every formation energy known (eV/atom): OQMD's lowest, EuF2's, is -4.57
BELOW_FORMATION = -4.6
#: relative: an energy within this of a whole multiple of the reference's energy at its composition
#: (the formula's atoms times it) reads as an energy per formula unit
PER_UNIT_TOL = 0.03
#: eV/atom: reference energies closer to 0 give no ratio or sign worth reading
SIGNIFICANT = 0.1


def lowest_of_elements(parsed: Parsed) -> pd.Series:
    """Each element's lowest elemental entry (valid rows), by element id."""
    unary = parsed.valid & (parsed.n_elements == 1)
    return pd.Series(parsed.energies[unary]).groupby(parsed.elements[parsed.offsets[:-1][unary]]).min()


def above_elements(parsed: Parsed, lowest: pd.Series) -> np.ndarray:
    """The valid rows' energies minus their elements' energies ``lowest`` (by element id, as
    :func:`lowest_of_elements` gives them) in proportion: formation energies, for total energies
    (NaN where an element has none)."""
    mu = np.full(len(ALL_ELEMENTS), np.nan)
    mu[lowest.index.to_numpy(dtype=np.int64)] = lowest.to_numpy()
    rows = np.flatnonzero(parsed.valid & np.isfinite(parsed.energies))
    off, counts = parsed.offsets, parsed.n_elements[rows]
    take = np.repeat(off[rows] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    mixed = np.zeros(len(rows))
    np.add.at(mixed, np.repeat(np.arange(len(rows)), counts), parsed.fractions[take] * mu[parsed.elements[take]])
    return parsed.energies[rows] - mixed


def unit_signs(parsed: Parsed) -> str | None:
    """Why ``parsed``'s energies look like formation energies in another unit than eV/atom (None if
    they do not): every elemental entry at 0 (within 0.1 eV/atom; or none), but a median (of the
    compounds, where there are any: elements at 0 are 0 in any unit) outside
    :data:`~hullpack.elemnet.data.TARGET_RANGE` (:func:`~hullpack.elemnet.data.other_unit`; meV/atom
    and kJ/mol are 1000 and 96 times larger), or, with elemental entries at 0, compounds' energies lower
    than formation energies per atom reach (:func:`looks_total`: per formula unit). Total energies (elements away from 0) are judged by
    their compounds' formation energies against the elemental entries, whose median lies there too
    unless the energies are per cell or per formula unit (VASP's, -76 eV for a cell of Fe4O6), or in
    another unit. :func:`~hullpack.stability.inputs.parse` refuses such energies.

    >>> from hullpack.stability.inputs import parse
    >>> unit_signs(parse(["Fe", "O2", "Fe2O3", "FeO"], [0, 0, -1.7, -1.4], require_energies=False))
    >>> unit_signs(parse(["Fe", "O2", "Fe2O3", "FeO"], [0, 0, -1700, -1400], require_energies=False))
    'median energy -1550 eV/atom: another unit (meV/atom, kJ/mol)? Formation energies lie within -20..5 eV/atom. Give formation energies in eV/atom'
    >>> unit_signs(parse(["Fe", "O2", "Fe2O3", "FeO"], [0, 0, -8.5, -2.8], require_energies=False))[:69]
    'median energy -5.65 eV/atom with the elemental entries at 0 eV/atom, '
    >>> unit_signs(parse(["Fe", "O2", "Fe4O6"], [-8.3, -9.86, -76.0], require_energies=False))[:50]
    'median formation energy -66.76 eV/atom against the'
    """
    usable = parsed.valid & np.isfinite(parsed.energies)
    if not usable.any():
        return None
    lowest = lowest_of_elements(parsed)
    if (np.abs(lowest) > 0.1).any():  # total energies: their compounds' formation energies against the elements
        formation = above_elements(parsed, lowest)[parsed.n_elements[usable] > 1]
        formation = formation[np.isfinite(formation)]
        median = float(np.median(formation)) if len(formation) else 0.0
        if TARGET_RANGE[0] < median < TARGET_RANGE[1]:
            return None
        return (f"median formation energy {median:.4g} eV/atom against the elemental entries: energies per cell or "
                "per formula unit, or in another unit, rather than eV/atom? Give energies per atom in eV/atom")
    compounds = usable & (parsed.n_elements > 1)  # elements at 0 read the same in any unit: not in the median
    median = float(np.median(parsed.energies[compounds if compounds.any() else usable]))
    why = other_unit(median, elemnet=False)
    if why is None and len(lowest) and looks_total(parsed.energies[compounds]):
        # elements at 0 eV/atom, so formation energies, but lower than any per atom: per formula unit
        low = int((parsed.energies[compounds] < BELOW_FORMATION).sum())
        return (f"median energy {median:.4g} eV/atom with the elemental entries at 0 eV/atom, and {low} of "
                f"{int(compounds.sum())} compounds below {BELOW_FORMATION} eV/atom, lower than any formation energy per "
                "atom (OQMD's lowest, EuF2's, is -4.57): energies per formula unit or per cell rather than per atom? "
                "Give formation energies in eV/atom")
    return None if why is None else f"median energy {median:.4g} eV/atom: {why} Give formation energies in eV/atom"


def total_energy_signs(parsed: Parsed) -> str | None:
    """Why ``parsed``'s energies look like total energies per atom rather than formation energies
    (None if they do not): an element's lowest entry more than 0.1 eV/atom below 0 (its formation
    energy is 0, a polymorph's above that), or their spread (:func:`looks_total`). The one
    rule of ``hullpack stability`` (where some element has no elemental entry to be its reference)
    and ``hullpack screen --dft``.

    >>> from hullpack.stability.inputs import parse
    >>> total_energy_signs(parse(["Na", "K", "NaCl", "KCl"], [-1.31, -1.10, -3.43, -3.42]))
    'elements below 0 eV/atom (K -1.100, Na -1.310)'
    >>> total_energy_signs(parse(["Na", "NaCl"], [0.0, -2.1])) is None
    True
    """
    e = parsed.energies[parsed.valid]
    lowest = lowest_of_elements(parsed)
    if len(lowest):
        off = lowest[lowest < -0.1]
        if len(off):
            listed = ", ".join(sorted(f"{ALL_ELEMENTS[k]} {v:.3f}" for k, v in off.items())[:5])
            return f"elements below 0 eV/atom ({listed})"
    if looks_total(e):  # the median of the energies given, as looks_total takes it
        return f"median energy {np.nanmedian(e):.2f} eV/atom"
    return None


def looks_total(energies: np.ndarray) -> bool:
    """Whether energies per atom look like total energies rather than formation energies: a median
    below :data:`TOTAL_ENERGY_MEDIAN` with at least 5% of them below :data:`BELOW_FORMATION`, lower
    than any formation energy known. Strongly bound compounds alone can have formation energies of
    such a median, none of them that low (rare-earth trifluorides: LaF3 -4.48, ErF3 -4.44).

    >>> looks_total(np.array([-6.9, -7.0, -6.2])), looks_total(np.array([-4.48, -4.44, -4.2, -4.37]))
    (True, False)
    """
    e = energies[np.isfinite(energies)]
    return bool(len(e) and np.median(e) < TOTAL_ENERGY_MEDIAN and np.mean(e < BELOW_FORMATION) >= 0.05)


def _atoms(parsed: Parsed) -> np.ndarray:
    """The atoms of each row's reduced formula (5 for Fe2O3; 0 where it has no integer amounts)."""
    from .inputs import rationalize  # inputs imports this module

    return rationalize(parsed.offsets, parsed.fractions, 1e-9)[0]


def per_unit_example(parsed: Parsed, reference_energies: np.ndarray) -> str:
    """How the first compound of ``parsed`` whose energy divided by its formula's atoms is about (within
    10%) the reference's energy per atom there (``reference_energies``, NaN where it has none)
    converts (`` (Fe2O3: -8.5 / 5 = -1.7 eV/atom)``), for a message refusing energies that look like
    total energies; "" where none is.

    >>> from hullpack.stability.inputs import parse
    >>> per_unit_example(parse(["Fe", "Fe2O3"], [0.0, -8.5], require_energies=False), np.array([0.0, -1.65]))
    ' (Fe2O3: -8.5 / 5 = -1.7 eV/atom)'
    """
    atoms = _atoms(parsed)
    ref = np.asarray(reference_energies, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_atom = parsed.energies / atoms
        fits = parsed.valid & (atoms >= 2) & (ref <= -SIGNIFICANT) & (np.abs(per_atom / ref - 1) <= 0.1)
    if not fits.any():
        return ""
    r = int(np.flatnonzero(fits)[0])
    return f" ({parsed.names[r]}: {parsed.energies[r]:.4g} / {atoms[r]} = {per_atom[r]:.4g} eV/atom)"


def reference_mismatch(parsed: Parsed, reference_energies: np.ndarray, listed: int = 5, *,
                       rows_named: str = "compositions the reference holds", source: str = "the reference"
                       ) -> list[str]:
    """Notes on energies of compositions that a reference holds (``reference_energies``: its lowest
    energy at each row's composition, NaN where it has none) which look like another convention than
    the reference's eV/atom: per formula unit (about the formula's atoms times the reference's energy,
    within :data:`PER_UNIT_TOL`, for at least half of the compositions more than :data:`SIGNIFICANT`
    from the reference's), or of the opposite sign (positive, about minus the reference's where it is
    negative, for at least half of those). Such energies are valid data, so they are noted, not
    refused; energies per atom of another convention are checked by :func:`unit_signs` and
    :func:`total_energy_signs`. ``rows_named`` and ``source`` name the compared rows and whose
    energies they are compared with (``hullpack train`` compares a table with the shipped model's).

    >>> from hullpack.stability.inputs import parse
    >>> reference_mismatch(parse(["NaCl", "LiF"], [-4.10, -3.0]), np.array([-2.05, -3.1]))[0].partition("): ")[2]
    "divide each energy per formula unit by its formula's atoms (NaCl: -4.1 / 2 = -2.05 eV/atom)"
    >>> reference_mismatch(parse(["Li2O", "Fe2O3"], [2.07, 1.7]), np.array([-2.0, -1.65]))[0].partition("?")[0]
    'formation energies of the opposite sign'
    """
    ref = np.asarray(reference_energies, dtype=np.float64)
    e = parsed.energies
    with np.errstate(invalid="ignore"):
        known = parsed.valid & np.isfinite(e) & np.isfinite(ref) & (np.abs(ref) >= SIGNIFICANT)
        atoms = _atoms(parsed)
        far = known & (np.abs(e - ref) > SIGNIFICANT)
        per_unit = far & (atoms >= 2) & (np.abs(e / np.where(known, ref, 1.0) / np.maximum(atoms, 1) - 1) <= PER_UNIT_TOL)
        negative = known & (ref < 0)
        flipped = negative & (e > 0) & (np.abs(e + ref) <= 0.25 * np.abs(ref))
    notes = []
    if per_unit.any() and 2 * per_unit.sum() >= far.sum():
        rows = np.flatnonzero(per_unit)
        shown = ", ".join(f"{parsed.names[r]} {e[r]:.4g}, {atoms[r]} x {ref[r]:.4g}" for r in rows[:listed])
        r = rows[0]
        notes.append(f"energies per formula unit rather than per atom? {len(rows)} of the {int(known.sum())} "
                     f"{rows_named} {'has' if len(rows) == 1 else 'have'} about their formula's "
                     f"atoms times {source}'s "
                     f"energy per atom ({shown}{', ...' if len(rows) > listed else ''}): divide each energy per "
                     f"formula unit by its formula's atoms ({parsed.names[r]}: {e[r]:.4g} / {atoms[r]} = "
                     f"{e[r] / atoms[r]:.4g} eV/atom)")
    if flipped.any() and 2 * flipped.sum() >= negative.sum():
        rows = np.flatnonzero(flipped)
        shown = ", ".join(f"{parsed.names[r]} {e[r]:.4g} where {source} has {ref[r]:.4g}" for r in rows[:listed])
        notes.append(f"formation energies of the opposite sign? {len(rows)} of the {int(negative.sum())} "
                     f"{rows_named} at a negative energy {'is' if len(rows) == 1 else 'are'} "
                     "given about as large but positive "
                     f"({shown}{', ...' if len(rows) > listed else ''}): a formation energy is negative for a "
                     "compound more stable than its elements; negate the energies if their table counts "
                     "energy released as positive")
    return notes
