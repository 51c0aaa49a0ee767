"""Every example in hullpack's docstrings runs and prints what it says."""
import doctest
import importlib
import pkgutil
import tempfile

import pytest

import hullpack

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(hullpack.__path__, prefix="hullpack.")
    if not m.name.endswith("__main__") and m.name != "hullpack._core"
)


@pytest.mark.parametrize("name", ["hullpack"] + MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    # the examples' tempfile.mkdtemp() folders go under pytest's own tmp_path, which pytest prunes
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
