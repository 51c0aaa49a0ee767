"""ElemNet's 86 elements, in ElemNet's input order, then the other elements of Z 1-118: the one
source of truth for element indices, and for the element data (periodic-table groups, pymatgen's properties) the other modules use.

ElemNet leaves out He, Ne, Ar, Po, At, Rn, Fr and Ra (no OQMD compounds in its training set) and
the elements past Pu. What needs no model (stability against DFT energies, names) takes every
element H..Og: :data:`ALL_ELEMENTS` is ElemNet's 86 with their indices (0..85, the model's input
columns), then the 32 others by atomic number (86..117).

>>> ELEMNET_ELEMENTS[:4]
('H', 'Li', 'Be', 'B')
>>> element_index("Fe"), ALL_ELEMENT_INDEX["Fe"], ALL_ELEMENT_INDEX["He"], ALL_ELEMENTS[-1]
(22, 22, 86, 'Og')
"""
from __future__ import annotations

import functools
import re

ELEMNET_ELEMENTS: tuple[str, ...] = tuple(
    "H Li Be B C N O F Na Mg Al Si P S Cl K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr Rb Sr "
    "Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb "
    "Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Ac Th Pa U Np Pu".split()
)
N_ELEMENTS = len(ELEMNET_ELEMENTS)
assert N_ELEMENTS == 86

#: symbol -> column index in ElemNet's input
ELEMENT_INDEX: dict[str, int] = {symbol: i for i, symbol in enumerate(ELEMNET_ELEMENTS)}

#: every element H..Og by atomic number (Z: the position, from 1)
PERIODIC_TABLE: tuple[str, ...] = tuple(
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr Rb Sr Y Zr "
    "Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir "
    "Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl "
    "Mc Lv Ts Og".split()
)
assert len(PERIODIC_TABLE) == 118 and ELEMNET_ELEMENTS == tuple(s for s in PERIODIC_TABLE if s in ELEMENT_INDEX)

#: the elements of Z 1-118 ElemNet lacks, by atomic number
OTHER_ELEMENTS: tuple[str, ...] = tuple(s for s in PERIODIC_TABLE if s not in ELEMENT_INDEX)


def _lacks() -> str:
    """The elements ElemNet lacks, in a few words: those among its own by name, then all past its last."""
    last = ELEMNET_ELEMENTS[-1]
    among = [s for s in OTHER_ELEMENTS if PERIODIC_TABLE.index(s) < PERIODIC_TABLE.index(last)]
    return f"no {', '.join(among)}, nor any past {last}"


#: the elements ElemNet lacks, in the words of messages: "no He, Ne, Ar, Po, At, Rn, Fr, Ra, nor any past Pu"
ELEMNET_LACKS = _lacks()
#: every element H..Og: ElemNet's 86 (same indices), then :data:`OTHER_ELEMENTS` (86..117)
ALL_ELEMENTS: tuple[str, ...] = ELEMNET_ELEMENTS + OTHER_ELEMENTS
N_ALL_ELEMENTS = len(ALL_ELEMENTS)
assert N_ALL_ELEMENTS == 118
#: symbol -> element id in :data:`ALL_ELEMENTS` (ElemNet's column index for ElemNet's elements)
ALL_ELEMENT_INDEX: dict[str, int] = {symbol: i for i, symbol in enumerate(ALL_ELEMENTS)}

_NAN = float("nan")
#: Pauling electronegativity of every element in :data:`ALL_ELEMENTS` order (ElemNet's first), as
#: pymatgen's ``Element.X`` gives them: NaN for He, Ne, Ar and Rf..Og, which have none. Formulas
#: are written in this order, elements without one last (see :mod:`hullpack.naming`)
ELECTRONEGATIVITY: tuple[float, ...] = (
    2.2, 0.98, 1.57, 2.04, 2.55, 3.04, 3.44, 3.98, 0.93, 1.31, 1.61, 1.9, 2.19, 2.58, 3.16, 0.82, 1.0,
    1.36, 1.54, 1.63, 1.66, 1.55, 1.83, 1.88, 1.91, 1.9, 1.65, 1.81, 2.01, 2.18, 2.55, 2.96, 3.0, 0.82,
    0.95, 1.22, 1.33, 1.6, 2.16, 1.9, 2.2, 2.28, 2.2, 1.93, 1.69, 1.78, 1.96, 2.05, 2.1, 2.66, 2.6, 0.79,
    0.89, 1.1, 1.12, 1.13, 1.14, 1.13, 1.17, 1.2, 1.2, 1.1, 1.22, 1.23, 1.24, 1.25, 1.1, 1.27, 1.3, 1.5,
    2.36, 1.9, 2.2, 2.2, 2.28, 2.54, 2.0, 1.62, 2.33, 2.02, 1.1, 1.3, 1.5, 1.38, 1.36, 1.28,
    _NAN, _NAN, _NAN, 2.0, 2.2, 2.2, 0.7, 0.9, 1.3, 1.3, 1.3, 1.3, 1.3, 1.3, 1.3, 1.3, 1.3, *[_NAN] * 15,
)
assert len(ELECTRONEGATIVITY) == N_ALL_ELEMENTS


def element_index(symbol: str) -> int:
    """Column of ``symbol`` in ElemNet's input; ValueError for an element ElemNet does not know."""
    try:
        return ELEMENT_INDEX[symbol]
    except KeyError:
        raise ValueError(
            f"unknown element {symbol!r}: ElemNet's input covers {N_ELEMENTS} elements ({ELEMNET_LACKS})"
        ) from None


def not_in_elemnet(symbols) -> str:
    """Why a composition with ``symbols`` (elements ElemNet lacks) cannot be ElemNet's input, in one
    line that says which elements ElemNet lacks (:data:`ELEMNET_LACKS`).

    >>> not_in_elemnet(["He"])
    "He is not one of ElemNet's 86 elements (no He, Ne, Ar, Po, At, Rn, Fr, Ra, nor any past Pu)"
    >>> not_in_elemnet(["Ar", "He"])
    "Ar, He are not among ElemNet's 86 elements (no He, Ne, Ar, Po, At, Rn, Fr, Ra, nor any past Pu)"
    """
    symbols = list(symbols)
    if len(symbols) == 1:
        return f"{symbols[0]} is not one of ElemNet's {N_ELEMENTS} elements ({ELEMNET_LACKS})"
    return f"{', '.join(symbols)} are not among ElemNet's {N_ELEMENTS} elements ({ELEMNET_LACKS})"


# a charge or oxidation state after a symbol, an amount or a bracket ("Fe2+", "O2-", "Fe3+2O3",
# "Fe+2", "Fe[2+]", "Fe[+2]", "Fe^2+"); not a hyphen between symbols ("Fe-O", "Li2O-Fe2O3") nor
# one before a letter ("Fe1-xO") or an exponent's sign ("1e-3")
_CHARGE = re.compile(r"(?<=[A-Za-z0-9)\]^\[(])(?<![0-9][eE])[+-](?:$|[\s\]),;]|\d+(?:\.\d+)?(?:$|[\s\]),;A-Z(\[]))")
_VACANCY = re.compile(r"Va(?![a-z])")  # CALPHAD's vacancy: a site without an atom, written like a symbol
#: why a formula with a charge cannot be read
CHARGE_MESSAGE = ("charges (oxidation states) are not read: write the neutral formula, such as 'Fe2O3' for "
                  "Fe3+ with O2-")
#: why a formula with CALPHAD's vacancy cannot be read
VACANCY_MESSAGE = ("Va is a vacancy (CALPHAD's symbol), not an element: remove it and write the atoms only "
                   "(Fe0.9Va0.1 is Fe)")


def not_an_element(text: str) -> str | None:
    """Why ``text`` (a formula that did not parse, or a symbol that is no element) holds something
    other than elements and amounts: a charge or oxidation state (``Fe2+``, ``O2-``, ``Fe[3+]``;
    pymatgen's ``Composition`` refuses them too), or CALPHAD's vacancy ``Va`` (a symbol ``VA``
    too, as pycalphad writes it). None for anything else.

    >>> not_an_element("Fe3+2O3") == CHARGE_MESSAGE, not_an_element("FeVa") == VACANCY_MESSAGE
    (True, True)
    >>> not_an_element("Fe-O"), not_an_element("Xx")
    (None, None)
    """
    text = str(text)
    if _CHARGE.search(text):
        return CHARGE_MESSAGE
    if _VACANCY.search(text) or text.strip() == "VA":
        return VACANCY_MESSAGE
    return None


@functools.lru_cache(maxsize=1)
def _groups() -> tuple[int, ...]:
    import warnings

    try:
        from pymatgen.core import Element
    except ImportError:
        raise ImportError('periodic-table groups need pymatgen: pip install "hullpack[materials]"') from None
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


def _display_position(z: int, group: int, period: int) -> tuple[int, int]:
    """(row, column) on a periodic-table plot: lanthanides and actinides in two rows below."""
    if 57 <= z <= 71:
        return 8, 3 + (z - 57)
    if 89 <= z <= 103:
        return 9, 3 + (z - 89)
    return period, group


@functools.lru_cache(maxsize=1)
def _table():
    import warnings

    import numpy as np
    import pandas as pd

    try:
        from pymatgen.core import Element
    except ImportError:
        raise ImportError('element properties need pymatgen: pip install "hullpack[materials]"') from None
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns about missing data for a few elements
        for symbol, group in zip(ELEMNET_ELEMENTS, _groups()):
            el = Element(symbol)
            z, period = int(el.Z), int(el.row)
            ie = el.ionization_energies
            radius = el.atomic_radius
            row, col = _display_position(z, group, period)
            rows.append({
                "element": symbol, "Z": z, "group": group, "period": period,
                "electronegativity": float(el.X) if el.X == el.X else np.nan,
                "ionization_energy": float(ie[0]) if ie and ie[0] is not None else np.nan,
                "atomic_radius": float(radius) if radius is not None else np.nan,
                "common_oxidation_states": tuple(int(s) for s in el.common_oxidation_states),
                "oxidation_states": tuple(int(s) for s in el.oxidation_states),
                "table_row": row, "table_col": col,
            })
    return pd.DataFrame(rows).set_index("element")


def element_table():
    """Per-element data of ElemNet's 86 elements from pymatgen, as a pandas DataFrame indexed by
    symbol in ElemNet order: Z, group (lanthanides and actinides: 3), period, Pauling
    electronegativity, first ionization energy (eV), atomic radius (Å; NaN for Kr and Xe), common
    and all oxidation states, and the element's cell on a periodic-table plot (``table_row``,
    ``table_col``). Built once per process; each call returns a copy of its own.

    >>> t = element_table()
    >>> int(t.at["O", "group"]), int(t.at["O", "period"]), float(t.at["O", "electronegativity"])
    (16, 2, 3.44)
    """
    return _table().copy()
