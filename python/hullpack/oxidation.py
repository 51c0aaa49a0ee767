"""Charge balance by known oxidation states: a chemist's first check on a predicted compound.

A composition is **charge-balanced** when its atoms can take oxidation states that sum to zero,
with every anion more electronegative than every cation (the rule of SMACT's validity check,
Davies et al., Chem 1, 617, 2016), each atom of an element free to take any of its states (mixed
valence: Fe3O4 is Fe2+ Fe3+2 O4). The states are pymatgen's: an anion's negative common or ICSD
states (O: -2 only, so peroxides and superoxides are not balanced), a cation's positive states of
any of its lists (Mn: +1..+7).

The check is made where it means something: compositions whose most electronegative element is N,
O, S, Se, Te, F, Cl, Br or I (nitrides, oxides, chalcogenides, halides, and their salts:
phosphates, sulfates, ...). For the others (intermetallics, carbides, borides, silicides,
phosphides, hydrides, elements) it says None: metallic bonding makes formal charges meaningless.

What it finds on the shipped OQMD set (``python benchmarks/charge_balance.py``, docs/screening.md
"Charge balance"): 5% of the DFT-stable compounds it checks are not balanced (peroxides, suboxides
such as Cs7O, metal-rich nitrides such as Ti2N, polyhalides), against 31% of those more than 100
meV/atom above the hull; of the shipped model's robust predicted binaries that it flags, 8% are
DFT-stable, against 77% of the balanced ones. A flag to look at, not a verdict.

>>> charge_balanced(["Na", "Cl"], [1, 2]), charge_balanced(["Fe", "O"], [3, 4]), charge_balanced(["Fe", "Si"], [1, 1])
(False, True, None)
"""
from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from .elements import ALL_ELEMENT_INDEX, ALL_ELEMENTS, ELECTRONEGATIVITY

__all__ = ["ANION_ELEMENTS", "charge_balanced", "charge_balanced_rows"]

#: compositions whose most electronegative element is one of these are checked
ANION_ELEMENTS: tuple[str, ...] = ("N", "O", "S", "Se", "Te", "F", "Cl", "Br", "I")

#: the pymatgen release whose element data the states below are (other releases differ a little:
#: C's ICSD states gained -1)
STATES_FROM = "pymatgen 2026.10.24"
# pymatgen's states (tests/test_oxidation.py checks them against that release): negative states in
# common_oxidation_states or icsd_oxidation_states, as magnitudes ...
_NEGATIVE_TEXT = ("H:1 B:3 C:4,3,2,1 N:3,2,1 O:2 F:1 Si:4 P:3,2,1 S:2,1 Cl:1 Ge:4 As:3,2,1 Se:2,1 Br:1 Sn:4 "
                  "Sb:3,2,1 Te:2,1 I:1 Po:2 At:1")
# ... and positive states in oxidation_states, common_oxidation_states or icsd_oxidation_states
_POSITIVE_TEXT = (
    "H:1 Li:1 Be:2 B:1,2,3 C:1,2,3,4 N:1,2,3,4,5 O:1,2 Na:1 Mg:1,2 Al:1,3 Si:1,2,3,4 P:1,2,3,4,5 "
    "S:1,2,3,4,5,6 Cl:1,2,3,4,5,6,7 K:1 Ca:2 Sc:1,2,3 Ti:2,3,4 V:1,2,3,4,5 Cr:1,2,3,4,5,6 Mn:1,2,3,4,5,6,7 "
    "Fe:1,2,3,4,5,6 Co:1,2,3,4,5 Ni:1,2,3,4 Cu:1,2,3,4 Zn:1,2 Ga:1,2,3 Ge:1,2,3,4 As:2,3,5 Se:2,4,6 "
    "Br:1,3,4,5,7 Kr:2 Rb:1 Sr:2 Y:1,2,3 Zr:1,2,3,4 Nb:2,3,4,5 Mo:1,2,3,4,5,6 Tc:1,2,3,4,5,6,7 "
    "Ru:1,2,3,4,5,6,7,8 Rh:1,2,3,4,5,6 Pd:2,4 Ag:1,2,3 Cd:1,2 In:1,2,3 Sn:2,3,4 Sb:3,5 Te:2,4,5,6 I:1,3,5,7 "
    "Xe:2,4,6 Cs:1 Ba:2 La:2,3 Ce:2,3,4 Pr:2,3,4 Nd:2,3 Pm:3 Sm:2,3 Eu:2,3 Gd:1,2,3 Tb:1,3,4 Dy:2,3 Ho:3 "
    "Er:3 Tm:2,3 Yb:2,3 Lu:3 Hf:2,3,4 Ta:2,3,4,5 W:1,2,3,4,5,6 Re:1,2,3,4,5,6,7 Os:1,2,3,4,5,6,7,8 "
    "Ir:1,2,3,4,5,6 Pt:2,4,5,6 Au:1,2,3,5 Hg:1,2,4 Tl:1,3 Pb:2,4 Bi:1,2,3,5 Ac:3 Th:2,3,4 Pa:3,4,5 U:3,4,5,6 "
    "Np:3,4,5,6,7 Pu:3,4,5,6,7 Po:2,4,6 At:1,3,5 Fr:1 Ra:2 Am:2,3,4,5,6 Cm:3,4 Bk:3,4 Cf:2,3,4 Es:2,3 Fm:2,3 "
    "Md:2,3 No:2,3 Lr:3 Rf:4")


def _states(text: str, sign: int) -> tuple[tuple[int, ...], ...]:
    """Per element id of :data:`ALL_ELEMENTS`: its states of ``text`` ("Fe:2,3 ..."), signed."""
    table: dict[str, tuple[int, ...]] = {}
    for item in text.split():
        symbol, values = item.split(":")
        table[symbol] = tuple(sign * int(v) for v in values.split(","))
    return tuple(table.get(s, ()) for s in ALL_ELEMENTS)


_NEGATIVE = _states(_NEGATIVE_TEXT, -1)
_POSITIVE = _states(_POSITIVE_TEXT, 1)
_ANION_IDS = frozenset(ALL_ELEMENT_INDEX[s] for s in ANION_ELEMENTS)
# electronegativity for ordering; none (He, Ne, Ar, Rf..Og): below all, a cation
_X = tuple(-np.inf if x != x else x for x in ELECTRONEGATIVITY)
#: amounts above this (a reduced formula of more atoms of one element) are not checked: None
MAX_AMOUNT = 1000


@functools.lru_cache(maxsize=1 << 16)
def _totals(states: tuple[int, ...], n: int) -> tuple[int, int]:
    """The totals ``n`` atoms can reach, each in one of ``states``: ``(mask, low)``, bit k of
    ``mask`` set when ``low + k`` is reachable."""
    low = min(states)
    base = [q - low for q in states]
    mask = 1
    for _ in range(n):
        mask = functools.reduce(int.__or__, (mask << b for b in base))
    return mask, n * low


def _sum_masks(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    """The totals of two independent parts (see :func:`_totals`)."""
    (ma, la), (mb, lb) = (a, b) if a[0].bit_count() >= b[0].bit_count() else (b, a)
    out, k = 0, 0
    while mb:  # shift the larger set by each member of the smaller
        if mb & 1:
            out |= ma << k
        mb >>= 1
        k += 1
    return out, la + lb


@functools.lru_cache(maxsize=1 << 16)
def _balanced(pairs: tuple[tuple[int, int], ...]) -> bool | None:
    """:func:`charge_balanced` of ``(element id, amount)`` pairs sorted by electronegativity."""
    if len(pairs) < 2 or pairs[-1][0] not in _ANION_IDS or max(n for _, n in pairs) > MAX_AMOUNT:
        return None
    for split in range(1, len(pairs)):  # pairs[:split] cations, the rest anions
        if _X[pairs[split - 1][0]] == _X[pairs[split][0]]:
            continue  # every anion more electronegative than every cation: ties fall on one side
        states = [_POSITIVE[e] for e, _ in pairs[:split]] + [_NEGATIVE[e] for e, _ in pairs[split:]]
        if not all(states):
            continue
        total = functools.reduce(_sum_masks, (_totals(s, n) for s, (_, n) in zip(states, pairs)))
        mask, low = total
        if low <= 0 and (mask >> -low) & 1:
            return True
    return False


def _key(elements: Sequence[int], amounts: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """The pairs of :func:`_balanced`, of positive amounts, divided by their greatest common divisor."""
    pairs = [(int(e), int(n)) for e, n in zip(elements, amounts) if n > 0]
    g = int(np.gcd.reduce([n for _, n in pairs])) if pairs else 1
    return tuple(sorted(((e, n // g) for e, n in pairs), key=lambda p: (_X[p[0]], p[0])))


def charge_balanced(symbols: Sequence[str], amounts: Sequence[int]) -> bool | None:
    """Whether integer ``amounts`` of ``symbols`` are charge-balanced (see the module docstring):
    True or False for a nitride, oxide, chalcogenide or halide; None where the check does not
    apply (no such anion is the most electronegative element, a single element, or more than
    :data:`MAX_AMOUNT` atoms of an element in the reduced formula).

    >>> charge_balanced(["Li", "O"], [1, 4]), charge_balanced(["Li", "Fe", "P", "O"], [1, 1, 1, 4])
    (False, True)
    >>> charge_balanced(["Ba", "O"], [1, 2])          # a peroxide: O takes -2 only
    False
    """
    try:
        ids = [ALL_ELEMENT_INDEX[s] for s in symbols]
    except KeyError as e:
        raise ValueError(f"unknown element {e.args[0]!r}: give element symbols such as 'Fe'") from None
    if len(ids) != len(amounts) or any(int(n) != n or n < 0 for n in amounts):
        raise ValueError(f"amounts {list(amounts)}: expected one non-negative integer per symbol of {list(symbols)}")
    return _balanced(_key(ids, amounts))


def charge_balanced_rows(offsets, elements, amounts) -> np.ndarray:
    """:func:`charge_balanced` of many rows: element ids of :data:`ALL_ELEMENTS` and their positive
    integer ``amounts``, CSR by ``offsets`` (as :func:`hullpack.naming.formulas` takes them); an
    object array of True, False and None.

    >>> charge_balanced_rows(np.array([0, 2, 4]), np.array([8, 14, 22, 24]), np.array([1, 1, 1, 1])).tolist()
    [True, None]
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    el, amt = np.asarray(elements).tolist(), np.asarray(amounts).tolist()
    bounds = offsets.tolist()
    return np.array([_balanced(_key(el[a:b], amt[a:b])) for a, b in zip(bounds[:-1], bounds[1:])] or [], dtype=object)
