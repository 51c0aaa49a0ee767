"""ElemNet's 86 elements, in ElemNet's input order: the one source of truth for element indices.

ElemNet leaves out He, Ne, Ar, Po, At, Rn, Fr and Ra (no OQMD compounds in its training set).

>>> ELEMNET_ELEMENTS[:4]
('H', 'Li', 'Be', 'B')
>>> element_index("Fe")
22
"""
from __future__ import annotations

import functools

ELEMNET_ELEMENTS: tuple[str, ...] = tuple(
    "H Li Be B C N O F Na Mg Al Si P S Cl K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr Rb Sr "
    "Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb "
    "Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Ac Th Pa U Np Pu".split()
)
N_ELEMENTS = len(ELEMNET_ELEMENTS)
assert N_ELEMENTS == 86

#: symbol -> column index in ElemNet's input
ELEMENT_INDEX: dict[str, int] = {symbol: i for i, symbol in enumerate(ELEMNET_ELEMENTS)}


def element_index(symbol: str) -> int:
    """Column of ``symbol`` in ElemNet's input; ValueError for an element ElemNet does not know."""
    try:
        return ELEMENT_INDEX[symbol]
    except KeyError:
        raise ValueError(
            f"unknown element {symbol!r}: ElemNet's input covers {N_ELEMENTS} elements "
            "(no He, Ne, Ar, Po, At, Rn, Fr, Ra)"
        ) from None


@functools.lru_cache(maxsize=1)
def _groups() -> tuple[int, ...]:
    import warnings

    try:
        from pymatgen.core import Element
    except ImportError:
        raise ImportError("periodic-table groups need pymatgen: pip install 'hullpack[materials]'") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns about missing data for a few elements
        return tuple(int(Element(s).group) for s in ELEMNET_ELEMENTS)


def element_groups():
    """Periodic-table group (1-18) of each of ElemNet's elements, in ElemNet's order, as a numpy
    array (pymatgen's ``Element.group``: lanthanides and actinides count as group 3).

    >>> groups = element_groups()
    >>> int(groups[element_index("Fe")]), int(groups[element_index("O")]), int(groups[element_index("La")])
    (8, 16, 3)
    """
    import numpy as np

    return np.array(_groups(), dtype=np.int64)
