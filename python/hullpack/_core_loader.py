"""Imports the compiled core with an error that says how to get it."""
try:
    from . import _core as core
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise ImportError(
        "hullpack's compiled core (hullpack._core) could not be imported. Install the package "
        "with pip (it builds the core), e.g. `pip install -c constraints/cpu.txt '.[test]'` from "
        f"a source checkout. Original error: {exc}"
    ) from exc
