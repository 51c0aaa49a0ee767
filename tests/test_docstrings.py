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


#: what the examples of a module (or of every module of a subpackage) need beyond a base install:
#: they skip, naming it, where it is missing (hullpack's own refusal then is tested in test_cli.py)
NEEDS = {
    "hullpack.elements": ("pymatgen",),
    "hullpack.samplers._sizes": ("torch_geometric",),
    "hullpack.cli.bench_memory": ("torch_geometric",),
    "hullpack.hep": ("torch_geometric",),
    "hullpack.xai": ("shap", "sklearn", "matplotlib", "pymatgen"),
}


@pytest.mark.parametrize("name", ["hullpack"] + MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    for package in next((v for k, v in NEEDS.items() if name == k or name.startswith(k + ".")), ()):
        pytest.importorskip(package)
    # the examples' tempfile.mkdtemp() folders go under pytest's own tmp_path, which pytest prunes
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
