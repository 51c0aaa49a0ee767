"""Chemists' names for what a screen finds: chemical systems as pymatgen names them (``Fe-O``: the
element symbols in alphabetical order), looked up in any order, and formulas as pymatgen's
``Composition.reduced_formula`` writes them (``Fe2O3``, ``Li2O2``, ``Ca(NO3)2``), by
:mod:`hullpack.naming` for the (system, grid point) pairs of a screen.

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
from ..naming import formulas as reduced_formulas, systems as systems_of

__all__ = ["parse_system", "system_name", "system_names", "alphabetical_order", "formula_of", "formulas"]

_ALPHA_RANK = np.argsort(np.argsort(np.array(ELEMNET_ELEMENTS)))  # each element's alphabetical position


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
    return systems_of(np.arange(len(t) + 1) * t.shape[1], t.reshape(-1)).tolist()


def formulas(table: np.ndarray, grid: np.ndarray, systems_idx, points_idx) -> np.ndarray:
    """pymatgen's reduced formulas of many (system, grid point) pairs at once: an object array of
    the formulas of ``grid[points_idx[i]]`` (integer amounts) over the elements
    ``table[systems_idx[i]]`` (ElemNet indices).

    >>> formulas(np.array([[6, 22]]), np.array([[3, 2], [50, 50], [1, 0]]), [0, 0, 0], [0, 1, 2]).tolist()
    ['Fe2O3', 'FeO', 'O2']
    >>> formulas(np.array([[5, 6, 16]]), np.array([[2, 6, 1], [1, 3, 1]]), [0, 0], [0, 1]).tolist()
    ['Ca(NO3)2', 'CaNO3']
    """
    s, p = np.asarray(systems_idx, dtype=np.int64), np.asarray(points_idx, dtype=np.int64)
    if len(s) == 0:
        return np.zeros(0, dtype=object)
    elements = np.asarray(table, dtype=np.int64)[s]
    amounts = np.asarray(grid, dtype=np.int64)[p]
    present = amounts > 0  # elements at amount 0 are not part of the composition
    offsets = np.concatenate([[0], np.cumsum(present.sum(axis=1))])
    return reduced_formulas(offsets, elements[present], amounts[present])


def formula_of(elements, numerators) -> str:
    """:func:`formulas` of one composition: element indices and integer amounts (any common
    factor is divided out).

    >>> formula_of([6, 22], [50, 50]), formula_of([1, 6, 23], [1, 2, 1]), formula_of([22], [4])
    ('FeO', 'LiCoO2', 'Fe')
    """
    nums = [int(n) for n in numerators]
    g = math.gcd(*nums) or 1
    return str(formulas(np.asarray([elements]), np.asarray([[n // g for n in nums]]), [0], [0])[0])
