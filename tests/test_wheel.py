"""The package as a wheel delivers it: one version, every file shipped, a manylinux tag, and an
OpenMP core that runs with threads next to torch's, whichever of the two is imported first.

The wheel checks need a built wheel: ``.ci/wheel`` builds and repairs one and runs this file with
``HULLPACK_WHEEL=path/to/hullpack-*.whl``; elsewhere they are skipped.
"""
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import hullpack

ROOT = Path(__file__).resolve().parents[1]
WHEEL = os.environ.get("HULLPACK_WHEEL")
needs_wheel = pytest.mark.skipif(not WHEEL, reason="set HULLPACK_WHEEL to a built wheel (.ci/wheel does)")


def test_version_has_one_home():
    source = (ROOT / "python" / "hullpack" / "_version.py").read_text()
    assert re.findall(r'^__version__ = "([^"]+)"$', source, flags=re.M) == [hullpack.__version__]
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^dynamic = \["version"\]', pyproject, flags=re.M)
    assert not re.search(r"^version\s*=", pyproject, flags=re.M)  # no second copy
    assert 'input = "python/hullpack/_version.py"' in pyproject


def test_cibuildwheel_builds_linux_and_macos_with_cpu_torch_tests():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["cibuildwheel"]
    assert config["linux"]["archs"] == ["x86_64", "aarch64"]
    assert set(config["macos"]["archs"]) == {"x86_64", "arm64"}
    assert "libomp" in config["macos"]["before-all"]
    assert "download.pytorch.org/whl/cpu" in config["linux"]["environment"]["PIP_EXTRA_INDEX_URL"]
    assert config["test-extras"] == ["test"] and "pytest" in config["test-command"]
    assert all(f"cp3{m}-*" in config["build"] for m in (10, 11, 12, 13))


_OPENMP_NEXT_TO_TORCH = r"""
import json, os, sys
if sys.argv[1] == "torch":
    import torch
    import hullpack.hull as hh
else:
    import hullpack.hull as hh
    import torch
import numpy as np

def threads():
    return len(os.listdir("/proc/self/task"))

torch.set_num_threads(2)
a = torch.randn(256, 256, dtype=torch.float64)
assert torch.allclose(a @ torch.eye(256, dtype=torch.float64), a)
before = threads()
x = np.linspace(0, 1, 51)
grid = np.stack([x, 1 - x], axis=1)
energies = np.random.default_rng(0).normal(size=(20000, 51)) * grid.prod(axis=1)
many = hh.hull_batch(grid, energies, threads=4)
after = threads()
one = hh.hull_batch(grid, energies, threads=1)
assert np.array_equal(many.e_above_hull, one.e_above_hull)
assert torch.allclose(a @ torch.eye(256, dtype=torch.float64), a)  # torch's OpenMP still works
runtimes = sorted({ln.split()[-1] for ln in open("/proc/self/maps") if "gomp" in ln or "libomp" in ln})
print(json.dumps({"before": before, "after": after, "runtimes": runtimes}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts threads in /proc")
@pytest.mark.parametrize("first", ["torch", "hullpack"])
def test_openmp_core_runs_with_threads_next_to_torch(first):
    if not hullpack.build_info()["openmp"]:
        pytest.skip("core built without OpenMP")
    out = subprocess.run([sys.executable, "-c", _OPENMP_NEXT_TO_TORCH, first], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "4"})
    assert out.returncode == 0, out.stderr[-2000:]
    facts = json.loads(out.stdout)
    assert facts["after"] >= facts["before"] + 2  # a 4-thread region on a pool torch left at 2
    assert 1 <= len(facts["runtimes"]) <= 2  # torch's, and hullpack's own copy in a repaired wheel


@needs_wheel
def test_wheel_ships_every_package_file():
    names = set(zipfile.ZipFile(WHEEL).namelist())
    package = ROOT / "python" / "hullpack"
    expected = {f"hullpack/{p.relative_to(package).as_posix()}" for p in package.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".so")}
    assert expected - names == set()  # py.typed and _core.pyi included, once they exist
    assert any(re.fullmatch(r"hullpack/_core\..*\.so", n) for n in names)
    assert not any(n.startswith(("tests/", "csrc/", "benchmarks/")) for n in names)


@needs_wheel
def test_wheel_is_manylinux():
    tags = [ln.split(": ", 1)[1] for ln in zipfile.ZipFile(WHEEL).read(
        next(n for n in zipfile.ZipFile(WHEEL).namelist() if n.endswith(".dist-info/WHEEL"))).decode().splitlines()
        if ln.startswith("Tag: ")]
    assert tags and all(re.fullmatch(r"cp3\d+-cp3\d+-manylinux_2_\d+_(x86_64|aarch64)", t) for t in tags), tags
    show = subprocess.run([sys.executable, "-m", "auditwheel", "show", WHEEL], capture_output=True, text=True)
    if show.returncode != 0 and "No module named auditwheel" in show.stderr:
        pytest.skip("auditwheel is not installed")
    assert show.returncode == 0, show.stderr
    assert re.search(r'consistent\s+with\s+the\s+following\s+platform\s+tag:\s+"manylinux_2_\d+_', show.stdout), show.stdout
