"""Chemists' names for what a screen finds: chemical systems as pymatgen names them (``Fe-O``: the
element symbols in alphabetical order), looked up in any order, and formulas as pymatgen's
``Composition.reduced_formula`` writes them (``Fe2O3``: elements by increasing Pauling
electronegativity, ties alphabetical; a ternary's two most electronegative elements grouped as a
polyanion, ``Ca(NO3)2``, when their electronegativities differ by less than 1.65; peroxides and
diatomic elements written ``Li2O2``, ``O2``). pymatgen is not needed: its electronegativities of
ElemNet's 86 elements are in :data:`ELECTRONEGATIVITY`.

>>> from hullpack.compositions import systems
>>> system_names(systems(2, "O Fe Li"))            # ElemNet's order inside the table: O before Fe
['Li-O', 'Fe-Li', 'Fe-O']
>>> system_name("O-Fe"), system_name("Ni, O, Fe")
('Fe-O', 'Fe-Ni-O')
>>> formula_of([6, 22], [3, 2]), formula_of([6, 22], [1, 1]), formula_of([1, 6], [1, 1])
('Fe2O3', 'FeO', 'Li2O2')
"""
from __future__ import annotations

import math

import numpy as np

from ..elements import ELEMENT_INDEX, ELEMNET_ELEMENTS
from ..errors import ScreeningError

__all__ = ["ELECTRONEGATIVITY", "parse_system", "system_name", "system_names", "alphabetical_order",
           "formula_of", "formulas"]

#: Pauling electronegativity of ElemNet's elements, in ElemNet's order (pymatgen's ``Element.X``)
ELECTRONEGATIVITY: tuple[float, ...] = (
    2.2, 0.98, 1.57, 2.04, 2.55, 3.04, 3.44, 3.98, 0.93, 1.31, 1.61, 1.9, 2.19, 2.58, 3.16, 0.82, 1.0,
    1.36, 1.54, 1.63, 1.66, 1.55, 1.83, 1.88, 1.91, 1.9, 1.65, 1.81, 2.01, 2.18, 2.55, 2.96, 3.0, 0.82,
    0.95, 1.22, 1.33, 1.6, 2.16, 1.9, 2.2, 2.28, 2.2, 1.93, 1.69, 1.78, 1.96, 2.05, 2.1, 2.66, 2.6, 0.79,
    0.89, 1.1, 1.12, 1.13, 1.14, 1.13, 1.17, 1.2, 1.2, 1.1, 1.22, 1.23, 1.24, 1.25, 1.1, 1.27, 1.3, 1.5,
    2.36, 1.9, 2.2, 2.2, 2.28, 2.54, 2.0, 1.62, 2.33, 2.02, 1.1, 1.3, 1.5, 1.38, 1.36, 1.28,
)
assert len(ELECTRONEGATIVITY) == len(ELEMNET_ELEMENTS)

#: pymatgen's formulas that are not written fully reduced (``Composition.special_formulas``)
SPECIAL_FORMULAS = {"LiO": "Li2O2", "NaO": "Na2O2", "KO": "K2O2", "HO": "H2O2", "CsO": "Cs2O2",
                    "RbO": "Rb2O2", "O": "O2", "N": "N2", "F": "F2", "Cl": "Cl2", "H": "H2"}
#: a ternary's two most electronegative elements form a polyanion below this difference (pymatgen's)
POLYANION_DX = 1.65

_SYMBOLS = np.array(ELEMNET_ELEMENTS, dtype=object)
_X = np.array(ELECTRONEGATIVITY, dtype=np.float64)


def _ranks(keys) -> np.ndarray:
    """Each element's position when all 86 are sorted by ``keys`` (index -> sort key)."""
    order = sorted(range(len(ELEMNET_ELEMENTS)), key=keys)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


_ALPHA_RANK = _ranks(lambda i: ELEMNET_ELEMENTS[i])
_X_RANK = _ranks(lambda i: (ELECTRONEGATIVITY[i], ELEMNET_ELEMENTS[i]))


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


def system_name(name: str) -> str:
    """The name of a system as the result tables write it (symbols in alphabetical order, as
    pymatgen's ``chemical_system``), from a name with its symbols in any order.

    >>> system_name("O-Fe"), system_name("O Li Fe")
    ('Fe-O', 'Fe-Li-O')
    """
    return system_names(parse_system(name)[None, :])[0]


def alphabetical_order(table: np.ndarray) -> np.ndarray:
    """``(n_systems, order)`` column indices that put each row of a system table (ElemNet indices)
    in alphabetical order of its symbols: ``table[s, alphabetical_order(table)[s]]``.

    >>> alphabetical_order(np.array([[6, 22], [22, 24]])).tolist()     # O-Fe -> Fe, O; Fe-Ni stays
    [[1, 0], [0, 1]]
    """
    t = np.asarray(table, dtype=np.int64)
    return np.argsort(_ALPHA_RANK[t], axis=1, kind="stable")


def system_names(table: np.ndarray) -> list[str]:
    """``"A-B"`` / ``"A-B-C"`` names of the rows of a system table, symbols in alphabetical order."""
    t = np.asarray(table, dtype=np.int64)
    if t.size == 0:
        return []
    symbols = _SYMBOLS[np.take_along_axis(t, alphabetical_order(t), axis=1)]
    return ["-".join(row) for row in symbols.tolist()]


def _amounts_text(amounts: np.ndarray) -> np.ndarray:
    """Subscripts as a formula writes them: ``""`` for 1 (and for 0, which is not written)."""
    a = np.asarray(amounts, dtype=np.int64)
    lookup = np.array(["", ""] + [str(i) for i in range(2, int(a.max(initial=1)) + 1)], dtype=object)
    return lookup[a]


def formulas(table: np.ndarray, grid: np.ndarray, systems_idx, points_idx) -> np.ndarray:
    """pymatgen's reduced formulas of many (system, grid point) pairs at once: an object array of
    the formulas of ``grid[points_idx[i]]`` (integer amounts) over the elements
    ``table[systems_idx[i]]`` (ElemNet indices).

    >>> formulas(np.array([[6, 22]]), np.array([[3, 2], [50, 50], [1, 0]]), [0, 0, 0], [0, 1, 2]).tolist()
    ['Fe2O3', 'FeO', 'O2']
    >>> formulas(np.array([[5, 6, 16]]), np.array([[2, 6, 1], [1, 3, 1]]), [0, 0], [0, 1]).tolist()
    ['Ca(NO3)2', 'CaNO3']
    """
    g = np.asarray(grid, dtype=np.int64)
    s, p = np.asarray(systems_idx, dtype=np.int64), np.asarray(points_idx, dtype=np.int64)
    if len(s) == 0:
        return np.zeros(0, dtype=object)
    reduced = g // np.maximum(np.gcd.reduce(g, axis=1), 1)[:, None]
    els = np.asarray(table, dtype=np.int64)[s]
    amt = reduced[p]
    order = np.argsort(_X_RANK[els], axis=1, kind="stable")            # electronegativity, then symbol
    els, amt = np.take_along_axis(els, order, axis=1), np.take_along_axis(amt, order, axis=1)
    present = amt > 0
    parts = np.where(present, _SYMBOLS[els] + _amounts_text(amt), "")
    out = parts.sum(axis=1) if parts.shape[1] > 1 else parts[:, 0].copy()
    if els.shape[1] == 3:
        # a polyanion: all three present, the last two close in electronegativity, sharing a factor
        share = np.gcd(amt[:, 1], amt[:, 2])
        poly = present.all(axis=1) & (_X[els[:, 2]] - _X[els[:, 1]] < POLYANION_DX) & (share != 1)
        if poly.any():
            e, a, k = els[poly], amt[poly], share[poly][:, None]
            inner = _SYMBOLS[e[:, 1:]] + _amounts_text(a[:, 1:] // k)
            out[poly] = (_SYMBOLS[e[:, 0]] + _amounts_text(a[:, :1])[:, 0] + "(" + inner[:, 0] + inner[:, 1]
                         + ")" + k[:, 0].astype(str).astype(object))
    # the special formulas are single elements or two elements one to one
    maybe = (present.sum(axis=1) == 1) | ((present.sum(axis=1) == 2) & (amt.max(axis=1) == 1))
    for i in np.flatnonzero(maybe):
        out[i] = SPECIAL_FORMULAS.get(out[i], out[i])
    return out.astype(object)


def formula_of(elements, numerators) -> str:
    """:func:`formulas` of one composition: element indices and integer amounts (any common
    factor is divided out).

    >>> formula_of([6, 22], [50, 50]), formula_of([1, 6, 23], [1, 2, 1]), formula_of([22], [4])
    ('FeO', 'LiCoO2', 'Fe')
    """
    nums = [int(n) for n in numerators]
    g = math.gcd(*nums) or 1
    return str(formulas(np.asarray([elements]), np.asarray([[n // g for n in nums]]), [0], [0])[0])
