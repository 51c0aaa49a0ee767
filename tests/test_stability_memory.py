"""Memory of the stability path on a big table: a set's own stability of 200,000 formulas peaks
below a bound per row (measured in a process of its own, as the peak resident memory above what
the input holds), and chunked queries give the same table as one query."""
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import hullpack.stability.hulls as hulls
from hullpack.stability import stability

ROWS = 200_000
# bytes per row: about 575 here (pandas 3), 1,130 before formulas were named once per composition,
# fractions snapped a block at a time and the queries' products read chunk by chunk
BOUND = 850

PEAK = f"""
import gc
import numpy as np
from hullpack.stability import stability

rng = np.random.default_rng(0)
symbols = np.array("H Li B C N O F Na Mg Al Si P S Cl K Ca Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge Se Sr Y Zr Nb Mo Ag Sn "
                   "Sb Te Ba La W".split(), dtype=object)
n = {ROWS}
systems = np.array([rng.choice(len(symbols), 4, replace=False) for _ in range(2000)])
pick, k, amounts = rng.integers(0, 2000, n), rng.integers(2, 5, n), rng.integers(1, 7, (n, 4))
text = np.full(n, "", dtype=object)
for j in range(4):  # "Fe2O3Ni": 2 to 4 elements of 2,000 systems
    part = symbols[systems[pick, j]] + np.where(amounts[:, j] == 1, "", amounts[:, j].astype(str)).astype(object)
    text = np.where(k > j, text + part, text)
formulas, energies = text.tolist(), rng.normal(-1.0, 0.7, n)
del text, part, amounts, pick, k
stability(formulas[:100], energies[:100])  # what the first call loads
gc.collect()


def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))


base = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak from here
table = stability(formulas, energies)
assert len(table) == n
print(status("VmHWM") - base)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak resident memory from /proc")
def test_stability_of_many_formulas_peaks_below_a_bound_per_row():
    if not os.access("/proc/self/clear_refs", os.W_OK):
        pytest.skip("cannot reset the peak resident memory (/proc/self/clear_refs)")
    env = dict(os.environ, OMP_NUM_THREADS="1", HULLPACK_QUIET="1")
    run = subprocess.run([sys.executable, "-c", PEAK], env=env, capture_output=True, text=True, check=True)
    peak = int(run.stdout.split()[-1])
    assert peak <= BOUND * ROWS, f"peak {peak / 2**20:.0f} MB: {peak / ROWS:.0f} bytes a row, above {BOUND}"


def test_queries_in_chunks_give_the_table_of_one_query(monkeypatch):
    rng = np.random.default_rng(1)
    formulas = [f"Fe{a}O{b}Ni{c}" for a, b, c in rng.integers(1, 6, (40, 3))] + ["Fe", "O2", "Ni", "FeO", "Xx"]
    energies = np.r_[rng.normal(-1.0, 0.5, 40), 0.0, 0.0, 0.0, -1.4, -1.0]
    whole = stability(formulas, energies, errors="ignore")
    monkeypatch.setattr(hulls, "_CHUNK", 7)
    for progress_bar in (False, None):
        chunked = stability(formulas, energies, errors="ignore", progress_bar=progress_bar)
        pd.testing.assert_frame_equal(whole, chunked)
        assert chunked["decomposition"].notna().sum() == 44
