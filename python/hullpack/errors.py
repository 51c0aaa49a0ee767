"""Exceptions raised by hullpack.

All input problems are :class:`InvalidInputError`, a ``ValueError`` subclass, so ``except
ValueError`` catches them; their messages say what was wrong, where (argument, index, formula,
file) and what to do. The subclasses say which layer refused the input: a caller that only wants
to know the input was bad catches ``InvalidInputError`` (or ``ValueError``).

    HullpackError
    ├── InvalidInputError (ValueError)   an argument of a low-level function: grids, system tables,
    │   │                                element lists, layer kernels, integer and flag arguments
    │   ├── InvalidSizesError            item sizes or costs for packing and sampling
    │   │   └── OversizeItemError        an item larger than the capacity
    │   ├── HullInputError               fractions, energies, offsets of a hull computation
    │   ├── CompositionError             formulas or compositions that cannot be featurized
    │   ├── ModelFileError               a missing, corrupt or mismatched model file
    │   ├── ScreeningError               a screening request
    │   └── DistributedConfigError       rank and world-size settings
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


class HullpackError(Exception):
    """Base class of hullpack's own exceptions."""


class InvalidInputError(HullpackError, ValueError):
    """An argument is invalid: wrong type or dtype, not an integer where one is needed, out of
    range, mis-shaped. Raised by the low-level modules (:mod:`hullpack.compositions`, the core's
    wrappers) and the base of every more specific input error below."""


class InvalidSizesError(InvalidInputError):
    """Item sizes or costs for packing/sampling are empty, non-finite, negative or mis-shaped."""


class OversizeItemError(InvalidSizesError):
    """An item's cost exceeds the capacity of a batch."""

    #: positions of the oversize items (int64), set by the packers and samplers that raise it
    items: np.ndarray
    #: the capacity they exceed (a number, or one per dimension), set by the samplers that raise it
    max_cost: float | list[float]


class CompositionError(InvalidInputError):
    """Formulas or compositions that cannot be featurized (unknown element, bad syntax, empty)."""

    def __init__(self, message: str, bad: list[tuple[int, str, str]] | None = None):
        super().__init__(message)
        #: ``(index, text, reason)`` for every bad entry
        self.bad = list(bad or [])


class ModelFileError(InvalidInputError):
    """A model file is missing, corrupt, truncated or does not match what was asked for."""


class ScreeningError(InvalidInputError):
    """Invalid screening request (unknown elements, order, grid)."""


class DistributedConfigError(InvalidInputError):
    """Inconsistent distributed settings (rank, world size)."""


class HullInputError(InvalidInputError):
    """Fractions, energies or system offsets for a hull computation are mis-shaped, off the simplex
    or non-finite."""
