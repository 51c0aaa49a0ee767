"""The package as a wheel delivers it: one version, every file shipped, a manylinux tag, and an
OpenMP core that runs with threads next to torch's, whichever of the two is imported first.

The wheel checks need a built wheel: ``.ci/wheel`` builds an sdist, the wheel from it, repairs the
wheel and runs this file with ``HULLPACK_WHEEL=path/to/hullpack-*.whl`` and
``HULLPACK_SDIST=path/to/hullpack-*.tar.gz``; elsewhere those checks are skipped.
"""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import hullpack

ROOT = Path(__file__).resolve().parents[1]
WHEEL = os.environ.get("HULLPACK_WHEEL")
needs_wheel = pytest.mark.skipif(not WHEEL, reason="set HULLPACK_WHEEL to a built wheel (.ci/wheel does)")
SDIST = os.environ.get("HULLPACK_SDIST")
needs_sdist = pytest.mark.skipif(not SDIST, reason="set HULLPACK_SDIST to a built sdist (.ci/wheel does)")
#: files no distribution carries: build trees, caches, compiled objects, environments
JUNK = re.compile(r"(^|/)(build|dist|__pycache__|\.pytest_cache|\.hypothesis|\.venv|venv|CMakeFiles|[^/]*\.egg-info)(/|$)"
                  r"|\.(pyc|pyo|o|obj|a)$|(^|/)\.git/")


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


def test_cmake_asks_for_the_pybind11_that_the_build_requires():
    # an isolated build found an older pybind11 of the user's environment (2.11.1) before the
    # build environment's: CMake must ask for the minimum that pyproject.toml's build requires
    requires = re.search(r'"pybind11>=([0-9.]+)"', (ROOT / "pyproject.toml").read_text())
    asked = re.search(r"^find_package\(pybind11 ([0-9.]+) CONFIG REQUIRED\)", (ROOT / "CMakeLists.txt").read_text(),
                      flags=re.M)
    assert requires and asked and asked.group(1) == requires.group(1)


def _configure(tmp_path, value):
    """CMake's configure step of the core with ``-DHULLPACK_CUDA=value`` (no compile)."""
    if shutil.which("cmake") is None or importlib.util.find_spec("pybind11") is None:
        pytest.skip("needs cmake and pybind11 (.ci/wheel installs them)")
    import pybind11

    return subprocess.run(["cmake", "-S", str(ROOT), "-B", str(tmp_path / "build"), f"-DHULLPACK_CUDA={value}",
                           f"-Dpybind11_DIR={pybind11.get_cmake_dir()}", f"-DPython_EXECUTABLE={sys.executable}"],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("value", ["OFF", "off", "0", "false"])
def test_cuda_off_is_read_in_any_spelling(tmp_path, value):
    # -C cmake.define.HULLPACK_CUDA=off built the CUDA kernels where nvcc was found: only "OFF" was off
    out = _configure(tmp_path, value)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert re.search(r"hullpack: OpenMP=\w+ CUDA=OFF", out.stdout), out.stdout[-2000:]
    assert "Looking for a CUDA compiler" not in out.stdout


@pytest.mark.slow
def test_an_unknown_cuda_choice_is_named(tmp_path):
    out = _configure(tmp_path, "maybe")
    assert out.returncode != 0
    message = " ".join(out.stderr.split())
    assert "HULLPACK_CUDA=maybe is not a choice: give AUTO" in message and "OFF (CPU kernels only)" in message, message


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


def _wheel_metadata():
    wheel = zipfile.ZipFile(WHEEL)
    name = next(n for n in wheel.namelist() if re.fullmatch(r"hullpack-[^/]+\.dist-info/METADATA", n))
    return Parser().parsestr(wheel.read(name).decode()), wheel.namelist()


@needs_wheel
def test_wheel_metadata():
    meta, names = _wheel_metadata()
    assert meta["Name"] == "hullpack" and meta["Version"] == hullpack.__version__
    assert meta["Requires-Python"] == ">=3.10"
    assert meta["License-Expression"] == "MIT AND CC-BY-4.0"
    licences = {n.split(".dist-info/licenses/", 1)[1] for n in names if ".dist-info/licenses/" in n}
    assert {"LICENSE", "python/hullpack/data/oqmd/SOURCE.md"} <= licences
    assert meta["Description-Content-Type"] == "text/markdown" and "## Install" in meta.get_payload()
    requires = meta.get_all("Requires-Dist")
    base = {re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0] for r in requires if "extra ==" not in r}
    assert base == {"numpy", "torch", "pandas", "tqdm"}
    assert all(re.search(r">=\d", r) for r in requires if "extra ==" not in r)  # each with a lower bound
    assert {"pyg", "materials", "plot", "parquet", "xai", "hep", "screening", "stability", "all"} <= set(
        meta.get_all("Provides-Extra"))
    entry_points = zipfile.ZipFile(WHEEL).read(next(n for n in names if n.endswith(".dist-info/entry_points.txt")))
    assert "hullpack = hullpack.cli:main" in entry_points.decode()


@needs_wheel
def test_wheel_carries_no_build_junk_or_tests():
    _, names = _wheel_metadata()
    assert [n for n in names if JUNK.search(n) or n.startswith(("tests/", "hullpack/tests/"))] == []
    assert {n.split("/")[0] for n in names} <= {"hullpack", "hullpack.libs", f"hullpack-{hullpack.__version__}.dist-info"}


@needs_sdist
def test_sdist_has_what_a_build_needs_and_must_ship():
    with tarfile.open(SDIST) as sdist:
        members = {m.name.split("/", 1)[1]: m for m in sdist.getmembers() if "/" in m.name}
    for needed in ("pyproject.toml", "CMakeLists.txt", "LICENSE", "README.md", "PKG-INFO",
                   "python/hullpack/_version.py", "python/hullpack/_core.pyi", "python/hullpack/py.typed",
                   "python/hullpack/data/oqmd/SOURCE.md", "python/hullpack/data/oqmd/train.csv.gz",
                   "python/hullpack/data/elemnet_default.pt", "constraints/cpu.txt", "csrc/build_config.hpp.in"):
        assert needed in members, needed
    assert any(n.startswith("csrc/include/hullpack/") for n in members) and any(
        re.fullmatch(r"csrc/[^/]+\.cpp", n) for n in members)
    assert [n for n in members if JUNK.search(n) or n.endswith((".so", ".whl"))] == []
    # the shipped model and data are the large files; nothing else above 1 MB
    large = sorted(n for n, m in members.items() if m.size > 1_000_000)
    assert large == ["python/hullpack/data/elemnet_default.pt", "python/hullpack/data/oqmd/train.csv.gz"], large


def _tracked_files():
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    except (FileNotFoundError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [name for name in out.stdout.split("\0") if name and (ROOT / name).is_file()]


@pytest.mark.skipif(importlib.util.find_spec("scikit_build_core") is None,
                    reason="needs scikit-build-core (.ci/wheel installs it)")
def test_sdist_of_a_worked_in_tree_holds_the_tracked_files_only(tmp_path):
    # a developer's tree after the README's wheel commands, a coverage run and a mutation run: none
    # of what they leave behind may ride along in the sdist (a repaired wheel once doubled its size)
    tracked = _tracked_files()
    src = tmp_path / "src"
    for name in tracked:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    junk = ["wheelhouse/hullpack-0.1.0-cp311-cp311-manylinux_2_34_x86_64.whl", "dist/hullpack-0.1.0.tar.gz",
            "build/cp311-cp311-linux_x86_64/CMakeCache.txt", ".coverage", ".coverage.host.123", "htmlcov/index.html",
            "mutants/python/hullpack/hull.py", "row.sqlite", ".hypothesis/examples/0/1",
            ".pytest_cache/v/cache/lastfailed", "python/hullpack/__pycache__/hull.cpython-311.pyc",
            "python/hullpack/_core.cpython-311-x86_64-linux-gnu.so", "local.whl"]
    for name in junk:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(b"junk")
    code = "import sys; from scikit_build_core.build import build_sdist; print(build_sdist(sys.argv[1]))"
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out")], cwd=src, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    with tarfile.open(tmp_path / "out" / out.stdout.split()[-1]) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if m.isfile()}
    members.discard("PKG-INFO")
    assert members == set(tracked), (sorted(members - set(tracked)), sorted(set(tracked) - members))


@pytest.mark.skipif(importlib.util.find_spec("scikit_build_core") is None,
                    reason="needs scikit-build-core (.ci/wheel installs it)")
def test_only_editable_installs_build_in_the_checkout():
    # `pip install .` from a checkout the user cannot write (another user's, a read-only mount)
    # stopped with "build directory build/cp311-cp311-linux_x86_64 must be a (creatable) directory"
    from scikit_build_core.settings.skbuild_read_settings import SettingsReader

    def build_dir(state):
        return SettingsReader.from_file(ROOT / "pyproject.toml", {}, state=state).settings.build_dir

    assert build_dir("wheel") == ""  # a temporary folder
    assert build_dir("editable") == "build/{wheel_tag}"  # kept for the next rebuild (CONTRIBUTING.md)


@pytest.mark.skipif(not WHEEL, reason="checks the installed wheel's command line (.ci/wheel)")
@pytest.mark.parametrize("argv, modules, extra", [
    (["explain", "--out", "x"], ("shap", "sklearn", "scipy"), "xai"),
    (["bench-memory"], ("torch_geometric",), "hep"),
])
def test_installed_command_without_its_extra_stops_with_one_line(tmp_path, argv, modules, extra):
    # .ci/wheel installs hullpack[screening]: the xai and hep extras are not there
    if not any(subprocess.run([sys.executable, "-c", f"import {m}"], capture_output=True).returncode for m in modules):
        pytest.skip(f"the {extra} extra is installed here")
    out = subprocess.run([sys.executable, "-m", "hullpack", *argv], capture_output=True, text=True, cwd=tmp_path,
                         timeout=300)
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert out.returncode == 2 and len(lines) == 1, out.stderr[-2000:]
    assert lines[0].startswith(f"hullpack {argv[0]}: ") and f'pip install "hullpack[{extra}]"' in lines[0]
