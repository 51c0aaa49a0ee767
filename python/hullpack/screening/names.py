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

import re

import numpy as np
import pandas as pd

from ..elements import ELEMENT_INDEX
from ..errors import ScreeningError
from ..compositions import system_names
from ..naming import alphabetical_order
from ..naming import formulas as reduced_formulas
from ..oxidation import charge_balanced_rows

__all__ = ["ORDER_NAMES", "parse_system", "system_name", "system_names", "alphabetical_order", "formula_of",
           "formulas", "charge_balance"]

#: what a system of each order a screen enumerates is called
ORDER_NAMES = {2: "binary", 3: "ternary", 4: "quaternary"}

def parse_system(name: str) -> np.ndarray:
    """The element indices (ascending: ElemNet's order) of a system named by 2 to 4 distinct
    element symbols joined by ``-`` (``,`` and spaces also separate), in any order;
    :class:`~hullpack.errors.ScreeningError` says what is wrong with any other name.

    >>> parse_system("Fe-O").tolist(), parse_system("O-Ni-Fe").tolist()
    ([6, 22], [6, 22, 24])
    >>> parse_system("FeO")
    Traceback (most recent call last):
    ...
    hullpack.errors.ScreeningError: system 'FeO': expected 2 to 4 distinct element symbols of ElemNet's 86 joined by '-' (e.g. 'Fe-O'); unknown: FeO; did you mean 'Fe-O'?
    """
    # one '-' or ',' (blanks around it allowed) or a run of blanks between two symbols: "Fe-O-",
    # "-Fe-O" and "Fe--O" leave an empty symbol, which is refused rather than skipped
    symbols = re.split(r"\s*[-,]\s*|\s+", str(name).strip())
    unknown = [t for t in symbols if t and t not in ELEMENT_INDEX]
    empty = "" in symbols
    if unknown or empty or len(symbols) not in (2, 3, 4) or len(set(symbols)) != len(symbols):
        repeated = sorted({t for t in symbols if t and symbols.count(t) > 1})
        why = ("; unknown: " + ", ".join(unknown) if unknown else "; an element symbol is empty" if empty
               else "; repeated: " + ", ".join(repeated) if repeated else "")
        meant = _meant(symbols) if unknown else None
        raise ScreeningError(f"system {name!r}: expected 2 to 4 distinct element symbols of ElemNet's 86 "
                             f"joined by '-' (e.g. 'Fe-O'){why}{f'; did you mean {meant!r}?' if meant else ''}")
    return np.array(sorted(ELEMENT_INDEX[t] for t in symbols), dtype=np.int32)


def _meant(symbols: list[str]) -> str | None:
    """The system a name of unknown symbols most likely meant: its symbols capitalised (``fe-o``)
    or read out of a formula (``Fe2O3``, ``LiFePO4``), in the order given; None where that gives no
    system of 2 to 4 distinct elements of ElemNet's."""
    found: list[str] = []
    for t in symbols:
        found += ([t] if t in ELEMENT_INDEX else [t.capitalize()] if t.capitalize() in ELEMENT_INDEX
                  else re.findall(r"[A-Z][a-z]?", t))
    found = list(dict.fromkeys(found))
    ok = 2 <= len(found) <= 4 and all(t in ELEMENT_INDEX for t in found)
    return "-".join(found) if ok else None


def system_name(name: str) -> str:
    """The name of a system as the result tables write it (symbols in alphabetical order, as
    pymatgen's ``chemical_system``), from a name with its symbols in any order.

    >>> system_name("O-Fe"), system_name("O Li Fe")
    ('Fe-O', 'Fe-Li-O')
    """
    return system_names(parse_system(name)[None, :])[0]


def _pairs(table: np.ndarray, grid: np.ndarray, systems_idx, points_idx) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (system, grid point) pairs as CSR rows ``(offsets, elements, amounts)`` of the elements
    present (amount > 0), as :mod:`hullpack.naming` and :mod:`hullpack.oxidation` take them."""
    s, p = np.asarray(systems_idx, dtype=np.int64), np.asarray(points_idx, dtype=np.int64)
    elements = np.asarray(table, dtype=np.int64)[s]
    amounts = np.asarray(grid, dtype=np.int64)[p]
    present = amounts > 0  # elements at amount 0 are not part of the composition
    offsets = np.concatenate([[0], np.cumsum(present.sum(axis=1))])
    return offsets, elements[present], amounts[present]


def formulas(table: np.ndarray, grid: np.ndarray, systems_idx, points_idx) -> np.ndarray:
    """pymatgen's reduced formulas of many (system, grid point) pairs at once: an object array of
    the formulas of ``grid[points_idx[i]]`` (integer amounts) over the elements
    ``table[systems_idx[i]]`` (ElemNet indices).

    >>> formulas(np.array([[6, 22]]), np.array([[3, 2], [50, 50], [1, 0]]), [0, 0, 0], [0, 1, 2]).tolist()
    ['Fe2O3', 'FeO', 'O2']
    >>> formulas(np.array([[5, 6, 16]]), np.array([[2, 6, 1], [1, 3, 1]]), [0, 0], [0, 1]).tolist()
    ['Ca(NO3)2', 'CaNO3']
    """
    if len(systems_idx) == 0:
        return np.zeros(0, dtype=object)
    return reduced_formulas(*_pairs(table, grid, systems_idx, points_idx))


def charge_balance(table: np.ndarray, grid: np.ndarray, systems_idx, points_idx) -> pd.Series:
    """:func:`hullpack.oxidation.charge_balanced` of the pairs :func:`formulas` names, as a pandas
    nullable boolean Series (NA where the check does not apply).

    >>> charge_balance(np.array([[6, 22]]), np.array([[3, 2], [1, 4], [1, 0]]), [0, 0, 0], [0, 1, 2]).tolist()
    [True, False, <NA>]
    """
    return pd.Series(pd.array(charge_balanced_rows(*_pairs(table, grid, systems_idx, points_idx)), dtype="boolean"))


def formula_of(elements, numerators) -> str:
    """:func:`formulas` of one composition: element indices and integer amounts (any common
    factor is divided out).

    >>> formula_of([6, 22], [50, 50]), formula_of([1, 6, 23], [1, 2, 1]), formula_of([22], [4])
    ('FeO', 'LiCoO2', 'Fe')
    """
    return str(formulas(np.asarray([elements]), np.asarray([[int(n) for n in numerators]]), [0], [0])[0])
