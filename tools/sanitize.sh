#!/usr/bin/env bash
# Builds hullpack's compiled core with AddressSanitizer and UndefinedBehaviorSanitizer and runs the
# core's tests against it: any out-of-bounds access, use after free or undefined behaviour (integer
# or float-to-integer overflow, misaligned or null access) stops the run with a report.
#
#   bash tools/sanitize.sh                 # the core's tests (packing, hull, compositions, stability, hostile)
#   bash tools/sanitize.sh -k balance      # extra arguments go to pytest
#
# Needs the environment the project's tests use (numpy, pytest, hypothesis; torch and pymatgen for
# the tests that use them), pybind11 in that environment (`pip install pybind11`: an isolated build
# does not leave it there), gcc/g++, cmake and ninja; run it from the project's venv. The build goes
# to build/sanitize (HULLPACK_SANITIZE_BUILD to change it), CPU only (CUDA code is not
# instrumented). The sanitized module is copied next to a temporary copy of python/hullpack and
# imported from there, so the installed package is left alone.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python}
BUILD=${HULLPACK_SANITIZE_BUILD:-$ROOT/build/sanitize}
if ! PYBIND11_DIR=$("$PY" -m pybind11 --cmakedir 2>/dev/null); then
  echo "tools/sanitize.sh: pybind11 is not installed in this environment: pip install pybind11" >&2
  exit 2
fi
SAN="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow -fno-omit-frame-pointer"

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHULLPACK_CUDA=OFF \
  -DCMAKE_CXX_FLAGS="$SAN" -DCMAKE_MODULE_LINKER_FLAGS="$SAN" \
  -Dpybind11_DIR="$PYBIND11_DIR" -DPython_EXECUTABLE="$(command -v "$PY")" >/dev/null
cmake --build "$BUILD"

PKG=$(mktemp -d)
trap 'rm -rf "$PKG"' EXIT
cp -r "$ROOT/python/hullpack" "$PKG/"
rm -f "$PKG"/hullpack/_core*.so "$PKG"/hullpack/_core*.pyd
cp "$BUILD"/_core*.so "$PKG/hullpack/"

# The interpreter is not instrumented: the ASan runtime must be loaded first, and libstdc++ with it
# so that its exceptions and allocations are the ones the module uses.
LIBASAN=$(g++ -print-file-name=libasan.so)
LIBSTDCXX=$(g++ -print-file-name=libstdc++.so)
export LD_PRELOAD="$LIBASAN $LIBSTDCXX"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_init_order=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export HULLPACK_SANITIZE=1 PYTHONPATH="$PKG${PYTHONPATH:+:$PYTHONPATH}"

cd "$ROOT"
# An editable install maps `hullpack` to the source tree through a finder on sys.meta_path, ahead
# of PYTHONPATH: drop such finders so that the sanitized copy is the one imported.
"$PY" - "$PKG" "$@" <<'EOF'
import sys

pkg, args = sys.argv[1], sys.argv[2:]
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__.lower()]
import hullpack._core  # noqa: E402

assert hullpack._core.__file__.startswith(pkg), f"not the sanitized build: {hullpack._core.__file__}"
print(f"sanitized core: {hullpack._core.__file__}", flush=True)
import pytest  # noqa: E402

# --capture=sys: a sanitizer report (written to file descriptor 2) reaches the terminal even when it
# ends the process in the middle of a test.
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "--capture=sys", "tests/test_packing.py", "tests/test_hull.py",
                      "tests/test_compositions.py", "tests/test_core_hostile.py", "tests/test_pack_shapes.py",
                      "tests/test_pack_scale.py", "tests/test_balance_quality.py", "tests/test_quaternary.py",
                      "tests/test_stability.py", "tests/test_stability_properties.py",
                      "tests/test_stability_pymatgen.py", "tests/test_relu_mlp.py", *args]))
EOF
