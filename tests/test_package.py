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
    assert json.loads(out.stdout) == hullpack.build_info()


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
