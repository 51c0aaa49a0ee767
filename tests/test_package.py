"""The package as users first meet it: import, version, build info, command line."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import hullpack


def test_version_matches_metadata():
    from importlib.metadata import version

    assert hullpack.__version__ == version("hullpack")


class _FakeCore:
    def __init__(self, with_cuda, devices):
        self.with_cuda, self._devices, self.with_openmp = with_cuda, devices, True

    def cuda_device_count(self):
        return self._devices


@pytest.mark.parametrize("with_cuda, devices, expected", [(False, 0, False), (False, 2, False),
                                                          (True, 0, False), (True, 1, True)])
def test_cuda_available_needs_the_kernels_and_a_device(monkeypatch, with_cuda, devices, expected):
    monkeypatch.setattr(hullpack.device, "_core", _FakeCore(with_cuda, devices))
    assert hullpack.cuda_available() is expected
    info = hullpack.build_info()
    assert info["cuda_built"] is with_cuda and info["cuda_devices"] == devices
    assert info["cuda_available"] is expected


def test_cuda_available_is_false_with_no_visible_device():
    # the real core with every device hidden: False whether or not the kernels were built
    code = "import hullpack, json; print(json.dumps([hullpack.cuda_available(), hullpack.build_info()]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    available, info = json.loads(out.stdout)
    assert available is False and info["cuda_devices"] == 0


def test_cuda_available_on_this_machine():
    torch = pytest.importorskip("torch")
    info = hullpack.build_info()
    if not info["cuda_built"]:
        assert hullpack.cuda_available() is False  # a build without the CUDA kernels
    elif torch.cuda.is_available():
        assert hullpack.cuda_available() is True and info["cuda_devices"] == torch.cuda.device_count()
    else:
        assert hullpack.cuda_available() is False and info["cuda_devices"] == 0


# the console script of the environment running the tests (it need not be activated, nor on PATH)
SCRIPT = str(Path(sys.executable).with_name("hullpack.exe" if sys.platform == "win32" else "hullpack"))


@pytest.mark.parametrize("argv", [[SCRIPT], [sys.executable, "-m", "hullpack"]])
def test_version_flag(argv):
    out = subprocess.run(argv + ["--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"hullpack {hullpack.__version__}"


def test_info_json():
    out = subprocess.run([sys.executable, "-m", "hullpack", "info", "--json"], capture_output=True,
                         text=True, check=True)
    from hullpack.cli.info import report

    info = json.loads(out.stdout)
    assert info == report()
    assert {k: info[k] for k in hullpack.build_info()} == hullpack.build_info()  # the build, then the install


def test_info_text_names_every_field_and_leaves_none_blank():
    # a build without the CUDA kernels printed "cuda_compiler: " and "cuda_architectures: " with nothing
    # after them, which a bug report's reader cannot tell from a value lost in copying
    out = subprocess.run([sys.executable, "-m", "hullpack", "info"], capture_output=True, text=True, check=True)
    from hullpack.cli.info import report

    printed = dict(line.strip().split(": ", 1) for line in out.stdout.splitlines())
    info = report()
    assert printed.pop("relu_mlp").startswith(str(info.pop("relu_mlp")) + " (")  # glossed in text
    assert list(printed) == list(info)
    assert printed == {key: "none" if value == "" else str(value) for key, value in info.items()}
    assert info["cuda_built"] or printed["cuda_compiler"] == printed["cuda_architectures"] == "none"


def test_sources_that_hide_the_installed_package_are_named():
    # from the checkout's python/ folder `import hullpack` finds the sources, which hold no compiled
    # core where hullpack is installed as a wheel: the error says where hullpack came from and what to
    # do, where it said to install the package that was installed
    src = Path(__file__).resolve().parents[1] / "python"
    out = subprocess.run([sys.executable, "-c", "import hullpack"], cwd=src, capture_output=True, text=True)
    if out.returncode == 0:
        pytest.skip("an editable install maps the core into the sources")
    last = out.stderr.strip().splitlines()[-1]
    assert f"hullpack was imported from {src / 'hullpack'}." in last, last
    assert "it hides the installed hullpack: run from another directory" in last, last
    # and not Python's guess, which is wrong here
    assert "circular import" not in last and "no compiled core (_core*.so) for this Python" in last, last


def test_core_is_not_linked_against_torch():
    # The compiled core must stay importable and usable without torch's shared libraries.
    path = hullpack._core.__file__
    try:
        out = subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout
    except (FileNotFoundError, subprocess.CalledProcessError):
        pytest.skip("ldd not available")
    # the needed libraries' file names (left of "=>", without a load address such as
    # "(0x00007f79c10e7000)", which can contain "c10"; where ldd finds them depends on the environment)
    needed = [line.split("=>")[0].split()[0].rsplit("/", 1)[-1] for line in out.splitlines() if line.strip()]
    assert not [n for n in needed if n.startswith(("libtorch", "libc10"))], needed


# -- an install without the extras -------------------------------------------------------------------

_HEAVY = ("torch", "pandas", "matplotlib", "scipy", "pymatgen", "shap", "sklearn", "pyarrow", "torch_geometric")


@pytest.mark.parametrize("code", ["import hullpack", "from hullpack.cli import build_parser; build_parser()"])
def test_import_and_the_command_line_parser_load_no_heavy_module(code):
    # `import hullpack` and `hullpack --version` / `--help` load numpy and the core only: torch,
    # pandas and the optional dependencies load with the subpackage or the command that needs them
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {_HEAVY!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


# runs the command line with the given modules made unimportable, as in an install without their extra
_WITHOUT = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None  # `import name` raises ModuleNotFoundError
from hullpack.cli import main
raise SystemExit(main(sys.argv[2:]))
"""


def _run_without(modules, argv, cwd):
    return subprocess.run([sys.executable, "-c", _WITHOUT, ",".join(modules), *argv], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def test_stability_without_pyarrow_writes_csv_or_names_the_parquet_extra(tmp_path):
    # pandas' to_parquet raises a plain ImportError of its own ("Unable to find a usable engine;
    # tried using: 'pyarrow', 'fastparquet'"), which once ended the command with a traceback
    (tmp_path / "own.csv").write_text("formula,energy\nFe2O3,-1.70\nFeO,-1.40\n")
    out = _run_without(["pyarrow", "fastparquet"], ["stability", "own.csv", "--reference", "none", "--out", "st"],
                       tmp_path)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert out.stderr.strip() == ('hullpack stability: note: wrote CSV, not Parquet (pyarrow not installed): '
                                  'pip install "hullpack[parquet]"')
    assert (tmp_path / "st" / "stability.csv").is_file() and not (tmp_path / "st" / "stability.parquet").exists()
    out = _run_without(["pyarrow", "fastparquet"], ["stability", "own.csv", "--reference", "none", "--out", "pq",
                                                    "--format", "parquet"], tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert out.stderr.strip().splitlines()[-1] == ('hullpack stability: --format parquet needs pyarrow, which is not '
                                                   'installed: pip install "hullpack[parquet]" (or --format csv)')
    assert not (tmp_path / "pq").exists()


@pytest.mark.parametrize("argv, modules, extra", [
    (["explain", "--out", "x"], ["shap", "sklearn"], "xai"),
    (["bench-memory"], ["torch_geometric"], "hep"),
    (["screen", "--elements", "Fe O", "--plot", "Fe-O", "--out", "s"], ["matplotlib"], "plot"),
    (["stability", "own.csv", "--reference", "none", "--plot", "Fe-O", "--out", "s"], ["matplotlib"], "plot"),
    (["predict", "--file", "own.parquet"], ["pyarrow", "fastparquet"], "parquet"),
    (["batches", "own.parquet", "--batch-size", "2"], ["pyarrow", "fastparquet"], "parquet"),
])
def test_commands_without_their_extra_stop_with_one_line(tmp_path, argv, modules, extra):
    (tmp_path / "own.csv").write_text("formula,energy\nFe2O3,-1.70\nFeO,-1.40\n")
    (tmp_path / "own.parquet").write_bytes(b"PAR1")  # never read: the reader is what is missing
    out = _run_without(modules, argv, tmp_path)
    assert out.returncode == 2, out.stderr[-2000:]
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert lines[0].startswith(f"hullpack {argv[0]}: ") and f'pip install "hullpack[{extra}]"' in lines[0]


def test_importing_the_main_module_runs_nothing():
    # documentation tools and test collectors import every module of a package: hullpack.__main__
    # must not run the command line (it printed the help and exited) when imported
    out = subprocess.run([sys.executable, "-c", "import hullpack.__main__; print('imported')"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout == "imported\n", out.stdout[-500:] + out.stderr[-500:]


def test_license_metadata_covers_the_code_and_the_shipped_data():
    from importlib.metadata import metadata

    meta = metadata("hullpack")
    assert meta["License-Expression"] == "MIT AND CC-BY-4.0"  # the OQMD data are CC BY 4.0
    files = meta.get_all("License-File") or []
    assert "LICENSE" in files and "python/hullpack/data/oqmd/SOURCE.md" in files


# imports a module of the API with the given modules made unimportable, then runs `call`
_API_WITHOUT = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
try:
    exec(sys.argv[2])
except ImportError as exc:
    print(exc)
"""


@pytest.mark.parametrize("modules, call, message", [
    (["torch_geometric"], "import hullpack.hep", 'hullpack.hep needs torch_geometric: pip install "hullpack[hep]"'),
    (["sklearn"], "from hullpack.xai import fit_surrogate; fit_surrogate(lambda x: x.sum(1), [[1.0] + [0.0] * 85])",
     'the surrogate tree needs sklearn: pip install "hullpack[xai]"'),
    (["scipy"], "import pandas as pd; from hullpack.xai import property_alignment; "
                "property_alignment(pd.Series([1.0, 2.0], index=['Fe', 'O'], name='q'))",
     'the element-property alignment needs scipy: pip install "hullpack[xai]"'),
])
def test_api_without_its_extra_names_the_extra(modules, call, message):
    out = subprocess.run([sys.executable, "-c", _API_WITHOUT, ",".join(modules), call], capture_output=True,
                         text=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1:] == [message], out.stdout[-2000:] + out.stderr[-2000:]


@pytest.mark.parametrize("show, tty, quiet, disabled", [
    (None, True, False, False), (None, False, False, True), (None, True, True, True),
    (True, False, False, False), (True, True, True, False), (False, True, False, True),
])
def test_progress_bars_follow_the_show_argument_then_the_terminal(monkeypatch, show, tty, quiet, disabled):
    """A function's progress_bar / show_progress, as progress() takes it: None, a bar on a terminal
    unless HULLPACK_QUIET is set; True always; False never."""
    import sys

    from hullpack._progress import progress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty, raising=False)
    monkeypatch.delenv("HULLPACK_QUIET", raising=False)
    if quiet:
        monkeypatch.setenv("HULLPACK_QUIET", "1")
    with progress(total=3, show=show) as bar:
        assert bar.disable is disabled
