"""Exceptions raised by hullpack.

All input problems are ``ValueError`` subclasses, so ``except ValueError`` catches them; their
messages say what was wrong, where (index, formula, file) and what to do.
"""


class HullpackError(Exception):
    """Base class of hullpack's own exceptions."""


class InvalidSizesError(HullpackError, ValueError):
    """Item sizes or costs for packing/sampling are empty, non-finite, negative or mis-shaped."""


class OversizeItemError(InvalidSizesError):
    """An item's cost exceeds the capacity of a batch."""


class CompositionError(HullpackError, ValueError):
    """Formulas or compositions that cannot be featurized (unknown element, bad syntax, empty)."""

    def __init__(self, message: str, bad: list[tuple[int, str, str]] | None = None):
        super().__init__(message)
        #: ``(index, text, reason)`` for every bad entry
        self.bad = list(bad or [])


class ModelFileError(HullpackError, ValueError):
    """A model file is missing, corrupt, truncated or does not match what was asked for."""


class ScreeningError(HullpackError, ValueError):
    """Invalid screening request (unknown elements, order, grid)."""


class DistributedConfigError(HullpackError, ValueError):
    """Inconsistent distributed settings (rank, world size)."""


class HullInputError(HullpackError, ValueError):
    """Fractions, energies or system offsets for a hull computation are mis-shaped, off the simplex
    or non-finite."""
