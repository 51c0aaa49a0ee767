"""The package as users first meet it: import, version, build info, command line."""
import subprocess
import sys

import pytest

import hullpack


def test_version_matches_metadata():
    from importlib.metadata import version

    assert hullpack.__version__ == version("hullpack")


def test_cuda_available_is_false_without_device_or_build():
    info = hullpack.build_info()
    assert isinstance(hullpack.cuda_available(), bool)
    # The flag can only be true when the kernels were built and a device answers.
    assert hullpack.cuda_available() == (info["cuda_built"] and info["cuda_devices"] > 0)


@pytest.mark.parametrize("argv", [["hullpack"], [sys.executable, "-m", "hullpack"]])
def test_version_flag(argv):
    out = subprocess.run(argv + ["--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"hullpack {hullpack.__version__}"


def test_info_json():
    import json

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
    # the needed libraries' names (left of "=>"; where ldd finds them depends on the environment)
    needed = [line.split("=>")[0].strip() for line in out.splitlines() if line.strip()]
    assert not [n for n in needed if "torch" in n or "c10" in n], needed
